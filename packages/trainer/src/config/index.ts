// Run configuration: schema, defaults, loading from JSON / YAML, dotted-path overrides, printing.

export { describeConfig } from "./describe.js";
export { ConfigError, type ConfigIssue, formatPath, type PathSegment, parsePath, suggestName } from "./errors.js";
export { type LoadConfigOptions, loadConfig, readConfigFile } from "./load.js";
export { applyOverrides, coerceValue, fieldSchema, parseOverride, setConfigValue } from "./overrides.js";
export { defaultLabel, defaultLambda2, MODEL_PRESETS, MODEL_SHAPE_FIELDS, REPLAY_METHODS } from "./presets.js";
export { defaultConfig, resolveConfig } from "./resolve.js";
export { DEFAULT_METHODS, METHOD_NAMES, type ParsedConfig, runConfigSchema } from "./schema.js";
export type {
  BudgetConfig,
  BudgetValue,
  DataConfig,
  DataSource,
  Device,
  EvalConfig,
  HeadStrategy,
  ImportanceCombine,
  ImportanceMeasure,
  MethodConfig,
  MethodName,
  MixMode,
  ModelConfig,
  ModelPreset,
  ModelShape,
  PretrainConfig,
  RunConfig,
  TrainingConfig,
} from "./types.js";
