// @seekr/importance: which attention heads matter for SEEKR (task sensitivity × forgettability), and collectors.
export { ImportanceTracker, normalizeWithinLayer, checkMatrix } from "./stats.js";
export type { Matrix, Combine, Measure, TaskImportance, ImportanceState, ImportanceOptions } from "./stats.js";
export { collectSensitivity, captureAttention, forgettability } from "./collect.js";
export type { Batch, Progress, SensitivityOptions, AttentionSnapshot, CaptureOptions, ForgettabilityOptions } from "./collect.js";
