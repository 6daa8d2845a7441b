// Running experiments: runExperiment, the run-folder layout, scores, checkpoints, events, extra settings.

export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointState,
  loadCheckpointModel,
  readMethodCheckpoint,
} from "./checkpoint.js";
export { resolveRunDevice } from "./device.js";
export type { Position, RunEvent, RunEventType } from "./events.js";
export { configHash, type MethodResult, type RunInfo, type RunOptions, type RunResult, runExperiment } from "./experiment.js";
export { DEFAULT_EXTRAS, type RunExtras, type RunExtrasInput, resolveExtras } from "./extras.js";
export { hashOf, stableJson } from "./hash.js";
export { RunLayout, readJson, safeName, toJson, writeJsonAtomic } from "./layout.js";
export { gitCommit, matrixFromJson, matrixToJson, type MethodScores, methodScores, type ScoresFile } from "./scores.js";
