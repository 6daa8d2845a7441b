// Test helpers (not exported from the package): fixture paths, closeness checks, tiny configs.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { loadSafetensors, type Tensor } from "@seekr/tensor";
import { type LlamaConfig, llamaConfig } from "./config.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "fixtures");

let golden: Map<string, Tensor> | null = null;
/** The tensors of test/fixtures/golden.safetensors (loaded once per test file; kept). */
export function goldenTensors(): Map<string, Tensor> {
  golden ??= loadSafetensors(join(FIXTURES, "golden.safetensors")).tensors;
  return golden;
}
export function g(name: string): Tensor {
  const t = goldenTensors().get(name);
  if (!t) throw new Error(`golden.safetensors has no '${name}'`);
  return t;
}

/** max |a - b| and the count of elements outside atol + rtol * |b| (b the reference). */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { maxAbs: number; bad: number; firstBad: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0, bad = 0, firstBad = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= atol + rtol * Math.abs(b[i]!))) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
  }
  return { maxAbs, bad, firstBad };
}

export function tiny(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return llamaConfig({
    vocabSize: 32, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
    rmsNormEps: 1e-5, bosTokenId: 1, eosTokenId: 2, padTokenId: 0, ...over,
  });
}
