// Test helpers: a tiny, quickly learnable task stream (TRACE folders) and a tiny run configuration.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveConfig } from "../config/resolve.js";
import type { RunConfig } from "../config/types.js";
import { createRng, deriveSeed, shuffled } from "../tasks/rng.js";

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

export interface LookupTask {
  name: string;
  /** Instruction prefix of every prompt. */
  instruction: string;
  /** Which input letter the answer depends on (0 or 1). */
  position: 0 | 1;
  /** Seed of the letter → letter mapping. */
  keySeed: number;
}

/**
 * Lookup tasks: "<instruction> xy=" → key[x] (or key[y]), one letter, scored by accuracy. 676 distinct
 * prompts per task, 26 answers; a tiny model learns one in a few dozen steps, and tasks with the same input
 * space and different keys interfere, so sequential fine-tuning forgets measurably.
 */
export const LOOKUP_TASKS: readonly LookupTask[] = [
  { name: "alpha", instruction: "A:", position: 0, keySeed: 11 },
  { name: "beta", instruction: "B:", position: 0, keySeed: 22 },
  { name: "gamma", instruction: "C:", position: 1, keySeed: 33 },
];

/** Writes `<root>/<task>/{train,eval,test}.json` for the lookup tasks; disjoint prompts per split. */
export function writeLookupStream(root: string, opts: { tasks?: readonly LookupTask[]; train?: number; eval?: number; test?: number; seed?: number } = {}): string[] {
  const tasks = opts.tasks ?? LOOKUP_TASKS;
  const sizes = { train: opts.train ?? 300, eval: opts.eval ?? 20, test: opts.test ?? 60 };
  const seed = opts.seed ?? 7;
  for (const t of tasks) {
    const key = shuffled([...LETTERS], createRng(t.keySeed));
    const inputs = shuffled(
      [...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b)),
      createRng(deriveSeed(seed, t.name)),
    );
    const examples = inputs.map((xy) => ({ prompt: `${t.instruction} ${xy}=`, answer: key[LETTERS.indexOf(xy[t.position]!)]! }));
    let at = 0;
    const take = (n: number): { prompt: string; answer: string }[] => {
      const out = examples.slice(at, at + n);
      at += n;
      return out;
    };
    const dir = join(root, t.name);
    mkdirSync(dir, { recursive: true });
    const test = take(sizes.test);
    const evalSplit = take(sizes.eval);
    const train = take(sizes.train);
    writeFileSync(join(dir, "train.json"), JSON.stringify(train));
    writeFileSync(join(dir, "eval.json"), JSON.stringify(evalSplit));
    writeFileSync(join(dir, "test.json"), JSON.stringify(test));
  }
  return tasks.map((t) => t.name);
}

/**
 * A tiny run: the "tiny" preset, a short pre-training, the lookup stream in `dataDir`, short evaluation, on the CPU
 * (the tests compare bits; a GPU machine would pick CUDA for "auto"). `overrides` are merged into the raw
 * configuration before it is resolved.
 */
export function tinyRunConfig(output: string, dataDir: string, tasks: readonly string[], overrides: Record<string, unknown> = {}): RunConfig {
  const raw: Record<string, unknown> = {
    seed: 3,
    device: "cpu",
    output,
    data: { source: "trace", path: dataDir, tasks: [...tasks] },
    model: { preset: "tiny", numHiddenLayers: 2, pretrain: { steps: 40, batchSize: 16, lr: 3e-3 } },
    training: { epochs: 2, batchSize: 16, lr: 3e-3, maxLength: 32 },
    eval: { maxNewTokens: 3, batchSize: 64 },
    methods: [{ name: "seqft" }],
    ...overrides,
  };
  return resolveConfig(raw, "test configuration");
}
