// The built-in task registry, the default task stream, and building a stream's splits.

import type { TaskData } from "../data/types.js";
import { addTask, cipherTask, countTask, decodeTask, kvTask, reverseTask, shiftTask, sortTask, upperTask } from "./builtin.js";
import { buildTaskSplits, type SplitSizes, type TaskDefinition } from "./task.js";

/** Every built-in task by name. */
export const BUILTIN_TASKS: Readonly<Record<string, TaskDefinition>> = Object.freeze({
  reverse: reverseTask,
  sort: sortTask,
  upper: upperTask,
  cipher: cipherTask,
  decode: decodeTask,
  shift: shiftTask,
  kv: kvTask,
  add: addTask,
  count: countTask,
});

/** Names of the built-in tasks, in registry order. */
export const BUILTIN_TASK_NAMES: readonly string[] = Object.freeze(Object.keys(BUILTIN_TASKS));

/**
 * The default stream, in training order: five transformations of the same input (3–10 lowercase letters),
 * told apart only by a short instruction prefix, with conflicting mappings — "decode" is exactly the inverse
 * of "cipher". The default base model learns each to 55–100 % exact match in six epochs, and sequential
 * fine-tuning overwrites the earlier ones (BWT around −80 for SeqFT). "kv" (in-context recall) is left out:
 * the tiny base model learns it to under 10 % in the default budget.
 */
export const DEFAULT_TASK_ORDER: readonly string[] = Object.freeze(["reverse", "cipher", "sort", "decode", "upper"]);

/** A built-in task by name; the error lists the available names. */
export function getBuiltinTask(name: string): TaskDefinition {
  const task = Object.hasOwn(BUILTIN_TASKS, name) ? BUILTIN_TASKS[name] : undefined;
  if (task === undefined) {
    throw new Error(`unknown built-in task ${JSON.stringify(name)} (available: ${BUILTIN_TASK_NAMES.join(", ")})`);
  }
  return task;
}

export interface BuiltinStreamOptions {
  /** Base seed; each task's splits derive their own seeds from it. */
  seed: number;
  /** Task names in training order (default {@link DEFAULT_TASK_ORDER}); definitions may be passed too. */
  tasks?: readonly (string | TaskDefinition)[];
  /** Split sizes (default train 1000, eval 100, test 200). */
  sizes?: Partial<SplitSizes>;
}

/** Builds the splits of every task of a built-in stream, in order. Task names must be distinct. */
export function buildBuiltinStream(options: BuiltinStreamOptions): TaskData[] {
  const defs = (options.tasks ?? DEFAULT_TASK_ORDER).map((t) => (typeof t === "string" ? getBuiltinTask(t) : t));
  if (defs.length === 0) throw new Error("tasks: expected at least one task, got none");
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.name)) throw new Error(`tasks: task ${JSON.stringify(d.name)} appears twice`);
    seen.add(d.name);
  }
  return defs.map((d) => buildTaskSplits(d, { seed: options.seed, sizes: options.sizes ?? {} }));
}
