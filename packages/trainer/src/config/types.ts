// The resolved run configuration: every field present, defaults and derived values filled in.

import type { MetricName } from "../metrics/registry.js";

export type Device = "auto" | "cpu" | "cuda" | `cuda:${number}`;
export type DataSource = "builtin" | "trace" | "jsonl";
export type ModelPreset = "tiny" | "small";
export type MethodName = "seqft" | "replay" | "derpp" | "lwf" | "ewc" | "seekr" | "multitask";
/** A count, or a fraction of the total (layers for B_L, all heads for B_H), as in @seekr/budget. */
export type BudgetValue = number | { fraction: number };
export type HeadStrategy = "importance" | "random" | "all";
export type ImportanceMeasure = "both" | "sensitivity" | "forgettability";
export type ImportanceCombine = "sum-of-products" | "product-of-sums";
export type MixMode = "interleave" | "concatenate" | "every-batch";

export interface DataConfig {
  source: DataSource;
  /** Root folder of task folders (trace / jsonl); required for those sources. */
  path?: string;
  /** Task names in training order (default: the built-in default stream, or the folder's tasks). */
  tasks?: string[];
  /** Built-in: examples per split (a number = train size). Loaded data: at most this many per split (a number caps train). */
  samplesPerTask?: number | { train?: number; eval?: number; test?: number };
  /** Metric per task name (trace / jsonl only). */
  metrics?: Record<string, MetricName>;
}

export interface ModelShape {
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
}

export interface PretrainConfig {
  /** Pre-training steps before the task stream; 0 = none. */
  steps: number;
  /** "builtin" (the trainer's built-in corpus) or a path to a corpus file. */
  corpus: string;
  batchSize: number;
  lr: number;
}

export interface ModelConfig extends ModelShape {
  preset: ModelPreset;
  /** "byte" (256 byte ids + special tokens; vocab size follows) or a path to a Hugging Face tokenizer.json. */
  tokenizer: string;
  /** Start from this checkpoint instead of a fresh initialisation. */
  checkpoint?: string;
  pretrain: PretrainConfig;
}

export interface TrainingConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  betas: [number, number];
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables. */
  gradClip: number;
  /** Longest prompt + answer in tokens; longer examples are truncated by the trainer. */
  maxLength: number;
  /** Evaluate every this many steps within a task; 0 = only after each task. */
  evalEvery: number;
  /**
   * Training precision: "float32", or mixed precision with matrix products in "bfloat16" / "float16" (float32 master
   * weights and optimizer state; float16 adds dynamic loss scaling). Evaluation and pre-training stay float32.
   */
  precision: "float32" | "bfloat16" | "float16";
}

export interface BudgetConfig {
  /** B_L. */
  layers: BudgetValue;
  /** B_H (query heads). */
  heads: BudgetValue;
  /** B_T: query rows per replay sample; 0 = all rows. */
  queryRows: number;
  strategy: HeadStrategy;
}

export interface MethodConfig {
  name: MethodName;
  /** Unique run label (folder name); default the name, plus the replay percentage for replay-based methods. */
  label: string;
  /** Fraction of each finished task's training samples kept for replay, in (0, 1]. */
  replayRatio: number;
  /** Weight of the replay LM loss; (1 − λ1) weighs logit distillation. */
  lambda1: number;
  /** Weight of the SEEKR attention-distillation loss. */
  lambda2: number;
  budget: BudgetConfig;
  importance: { measure: ImportanceMeasure; combine: ImportanceCombine };
  interleave: MixMode;
  lwf: { temperature: number; alpha: number };
  ewc: { lambda: number; samples: number };
}

export interface EvalConfig {
  maxNewTokens: number;
  batchSize: number;
  decoding: "greedy";
}

export interface RunConfig {
  seed: number;
  device: Device;
  /** Run folder. */
  output: string;
  data: DataConfig;
  model: ModelConfig;
  training: TrainingConfig;
  methods: MethodConfig[];
  eval: EvalConfig;
  checkpoint: { everySteps: number };
}
