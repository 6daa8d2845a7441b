// Public API of @seekr/replay: replay memory for continual learning of language models (SEEKR §3, §6).

export {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBFloat16,
  float32ToFloat16,
  fromBFloat16Bits,
  fromFloat16Bits,
  toBFloat16Bits,
  toFloat16Bits,
} from "./half.js";
export { checkJson, type JsonValue } from "./json.js";
export { FORMAT_VERSION, HEADER_BYTES, MAGIC } from "./layout.js";
export {
  type MemorySize,
  ReplayMemory,
  type ReplayMemoryOptions,
  type ReplayEntry,
  type ReplaySample,
  type TaskInfo,
  type TaskMemory,
  type TaskMemoryInit,
} from "./memory.js";
export { loadMemory, MEMORY_FILE_NAME, memoryFilePath, type SaveResult, saveMemory } from "./persist.js";
export { deriveSeed } from "./random.js";
export {
  type BatchSlot,
  type EpochPlan,
  type InterleaveOptions,
  interleave,
  MIX_MODES,
  type MixMode,
  type PlannedBatch,
  ReplayScheduler,
  type ReplaySchedulerOptions,
  replayBatchesBefore,
  type SampleRef,
  type Source,
} from "./schedule.js";
export {
  DEFAULT_REPLAY_RATIO,
  type ReplayMethod,
  ReservoirSampler,
  replayCount,
  type SelectReplayOptions,
  selectReplay,
} from "./select.js";
export {
  type AttentionSignal,
  type AttentionSignalInit,
  attentionRows,
  attentionSignal,
  checkAttentionSignal,
  checkLogitSignal,
  type DroppedMass,
  denseTeacherProbs,
  type FullLogits,
  fullLogits,
  type LogitSignal,
  type RowDType,
  type TeacherProbs,
  type TopKLogits,
  teacherProbs,
  topKLogits,
} from "./signals.js";
