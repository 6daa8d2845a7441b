// Generated tasks: the definition interface, distinct-example generation and disjoint train / eval / test splits.

import { formatValue } from "../format.js";
import type { Example, SplitName, TaskData } from "../data/types.js";
import type { MetricName } from "../metrics/registry.js";
import { createRng, deriveSeed, type Rng } from "./rng.js";

/** A generated prompt → answer task. */
export interface TaskDefinition {
  /** Registry name, e.g. "reverse". */
  name: string;
  /** One line on what the task asks. */
  description: string;
  /** The short instruction prefix every prompt starts with, e.g. "reverse: ". */
  instruction: string;
  /** How predictions are scored (exact match for the built-in tasks). */
  metric: MetricName;
  /** Upper bounds (bytes, UTF-8) on any prompt and answer this task generates. */
  maxPromptBytes: number;
  maxAnswerBytes: number;
  /** Draws one example (not necessarily distinct from earlier draws). */
  sample(rng: Rng): Example;
}

/** Sizes of the three splits. */
export type SplitSizes = Record<SplitName, number>;

/** Default split sizes of a built-in task. */
export const DEFAULT_SPLIT_SIZES: Readonly<SplitSizes> = { train: 1000, eval: 100, test: 200 };

function checkCount(n: unknown, what: string): asserts n is number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new Error(`${what}: expected a non-negative integer, got ${formatValue(n)}`);
}

/**
 * Draws examples from `rng` until `n` distinct prompts not in `exclude` are collected (added to `exclude`).
 * Throws if the task's example space looks too small (too many repeats in a row).
 */
function drawDistinct(task: TaskDefinition, rng: Rng, n: number, exclude: Set<string>, what: string): Example[] {
  const out: Example[] = [];
  const maxAttempts = 1000 + 50 * n;
  let attempts = 0;
  while (out.length < n) {
    if (++attempts > maxAttempts) {
      throw new Error(`task ${JSON.stringify(task.name)}: could only draw ${out.length} distinct examples for ${what} (asked ${n}); its example space is too small`);
    }
    const ex = task.sample(rng);
    if (exclude.has(ex.prompt)) continue;
    exclude.add(ex.prompt);
    out.push(ex);
  }
  return out;
}

/** `n` examples with distinct prompts, a pure function of (task, seed, n); a prefix of the list for n + 1. */
export function generateExamples(task: TaskDefinition, seed: number, n: number): Example[] {
  checkCount(n, "n");
  return drawDistinct(task, createRng(seed), n, new Set(), "generate");
}

/**
 * The three splits of a generated task. Each split has its own seed derived from (seed, task name,
 * split name); test is drawn first, then eval excluding test prompts, then train excluding both, so
 * the splits never share a prompt and the test and eval sets do not depend on the train size.
 */
export function buildTaskSplits(task: TaskDefinition, options: { seed: number; sizes?: Partial<SplitSizes> }): TaskData {
  const sizes = { ...DEFAULT_SPLIT_SIZES, ...options.sizes };
  for (const split of ["train", "eval", "test"] as const) checkCount(sizes[split], `sizes.${split}`);
  const seen = new Set<string>();
  const draw = (split: SplitName): Example[] =>
    drawDistinct(task, createRng(deriveSeed(options.seed, task.name, split)), sizes[split], seen, `split ${split}`);
  const test = draw("test");
  const evalSplit = draw("eval");
  const train = draw("train");
  return { name: task.name, metric: task.metric, train, eval: evalSplit, test, source: "builtin" };
}
