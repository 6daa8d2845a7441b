// Built-in task stream: generated, seeded byte-level prompt → answer tasks and their registry.

export {
  addTask,
  cipherKey,
  cipherTask,
  countTask,
  createCipherTask,
  createDecodeTask,
  decodeTask,
  DEFAULT_CIPHER_KEY_SEED,
  kvTask,
  reverseTask,
  shiftTask,
  sortTask,
  upperTask,
} from "./builtin.js";
export {
  BUILTIN_TASK_NAMES,
  BUILTIN_TASKS,
  type BuiltinStreamOptions,
  buildBuiltinStream,
  DEFAULT_TASK_ORDER,
  getBuiltinTask,
} from "./registry.js";
export { createRng, deriveSeed, hashString, type Rng, shuffled } from "./rng.js";
export { buildTaskSplits, DEFAULT_SPLIT_SIZES, generateExamples, type SplitSizes, type TaskDefinition } from "./task.js";
