// `npm run bench -w @seekr/model`: tokens/s of batched greedy decoding on a small LLaMA, with and without the KV cache.
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { memory, setThreads } from "@seekr/tensor";
import { LlamaModel, generate, llamaConfig } from "../src/index.js";

const { values: args } = parseArgs({
  options: {
    batch: { type: "string", default: "4" },
    prompt: { type: "string", default: "64" },
    tokens: { type: "string", default: "64" },
    hidden: { type: "string", default: "256" },
    layers: { type: "string", default: "4" },
    vocab: { type: "string", default: "259" },
    threads: { type: "string" },
    repeats: { type: "string", default: "2" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(`seekr model decode benchmark (CPU)
  --batch N (4)  --prompt N prompt tokens of the longest row (64; rows are left-padded to 100%, 75%, 50%, ...)
  --tokens N new tokens per row (64)   --hidden N (256)  --layers N (4)  --vocab N (259)
  --threads N kernel threads (default: all cores)  --repeats N best of N runs (2)  --json`);
  process.exit(0);
}
const int = (s: string | undefined, name: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive integer, got ${s}`);
    process.exit(2);
  }
  return n;
};
const B = int(args.batch, "batch");
const P = int(args.prompt, "prompt");
const N = int(args.tokens, "tokens");
const hidden = int(args.hidden, "hidden");
const layers = int(args.layers, "layers");
const vocab = int(args.vocab, "vocab");
const repeats = int(args.repeats, "repeats");
const threads = args.threads ? int(args.threads, "threads") : cpus().length;
setThreads(threads);

const heads = Math.max(1, Math.round(hidden / 64));
const config = llamaConfig({
  vocabSize: vocab, hiddenSize: hidden, intermediateSize: Math.round((hidden * 8) / 3 / 16) * 16, numHiddenLayers: layers,
  numAttentionHeads: heads, numKeyValueHeads: Math.max(1, heads / 2), rmsNormEps: 1e-5, bosTokenId: 0, eosTokenId: null, padTokenId: null,
});
const model = LlamaModel.init(config, { seed: 0 });
const prompts = Array.from({ length: B }, (_, b) => {
  const len = Math.max(1, Math.round(P * (1 - (b % 4) * 0.25)));
  return Array.from({ length: len }, (_, t) => (b * 31 + t * 7) % vocab);
});

interface Row { mode: string; seconds: number; tokensPerSecond: number; steps: number }
const rows: Row[] = [];
for (const useCache of [true, false]) {
  let best = Infinity;
  let steps = 0;
  let tokens: number[][] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const out = generate(model, prompts, { maxNewTokens: N, eosTokenId: [], useCache });
    best = Math.min(best, (performance.now() - t0) / 1000);
    steps = out.steps;
    tokens = out.tokens;
  }
  const generated = tokens.reduce((n, t) => n + t.length, 0);
  rows.push({ mode: useCache ? "kv-cache" : "recompute", seconds: best, tokensPerSecond: generated / best, steps });
}
const same = (() => {
  const a = generate(model, prompts, { maxNewTokens: Math.min(N, 16), eosTokenId: [] }).tokens;
  const b = generate(model, prompts, { maxNewTokens: Math.min(N, 16), eosTokenId: [], useCache: false }).tokens;
  return JSON.stringify(a) === JSON.stringify(b);
})();
const result = {
  config: { batch: B, promptTokens: P, newTokens: N, hidden, layers, heads, kvHeads: config.numKeyValueHeads, vocab, parameters: model.numParameters, threads },
  rows,
  speedup: rows[0]!.tokensPerSecond / rows[1]!.tokensPerSecond,
  sameTokens: same,
  liveBytesAfter: memory().bytes,
};
if (args.json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`greedy decoding, batch ${B}, prompts up to ${P} tokens (left-padded), ${N} new tokens, ${model.numParameters} parameters, ${threads} threads`);
  for (const r of rows) console.log(`  ${r.mode.padEnd(10)} ${r.tokensPerSecond.toFixed(1).padStart(9)} tokens/s  (${r.seconds.toFixed(3)} s, ${r.steps} forward passes)`);
  console.log(`  KV cache speedup ${result.speedup.toFixed(2)}x; cache and recomputation agree on the first ${Math.min(N, 16)} tokens: ${same}`);
}
model.dispose();
