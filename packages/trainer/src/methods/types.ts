// The method interface: small objects with hooks around the shared training loop (add your own with registerMethod).

import type { LlamaModel, Tokenizer } from "@seekr/model";
import type { JsonValue, ReplayMemory } from "@seekr/replay";
import type { Tensor } from "@seekr/tensor";
import type { MethodConfig, MixMode, RunConfig } from "../config/types.js";
import type { Example, TaskData } from "../data/types.js";
import type { RunExtras } from "../run/extras.js";
import type { ExampleEncoder, TrainBatch } from "../train/batch.js";

/** What a method sees for its whole run. */
export interface MethodEnv {
  /** The model being trained (starts as a copy of the base model). */
  model: LlamaModel;
  tokenizer: Tokenizer;
  encoder: ExampleEncoder;
  padId: number;
  /** The tasks in training order (for multitask: one task, the union). */
  tasks: readonly TaskData[];
  run: RunConfig;
  method: MethodConfig;
  extras: RunExtras;
}

/** A task boundary (before / after learning `task`). */
export interface TaskContext extends MethodEnv {
  task: TaskData;
  taskIndex: number;
}

/** One training step. */
export interface StepContext extends TaskContext {
  epoch: number;
  /** Step within the epoch (0-based). */
  step: number;
}

/** A batch's loss and its named parts (logged as `parts`; tensors are read after backward). */
export interface LossResult {
  loss: Tensor;
  parts: Record<string, Tensor | number>;
}

/** What a method keeps across a checkpoint: JSON, named tensors (float32 / int32), and its replay memory. */
export interface MethodState {
  json: JsonValue;
  tensors: Map<string, Tensor>;
  memory: ReplayMemory<Example> | null;
}

/** A head-importance record written to importance/<method>/<k>-<task>.json. */
export interface ImportanceRecord {
  task: string;
  taskIndex: number;
  /** Accumulated importance I[l][h] after this task (the measure in force). */
  importance: number[][];
  selected: { layers: number[]; heads: [number, number][] };
  /** This task's raw sensitivity S^k and forgettability F^k. */
  sensitivity: number[][];
  forgettability: number[][];
  strategy: string;
  measure: string;
  combine: string;
  budget: { layers: number; heads: number; queryRows: number };
}

/** What afterTask may hand back to the loop. */
export interface TaskReport {
  importance?: ImportanceRecord;
}

/**
 * A continual-learning method. The loop owns the model, the optimizer, batching, evaluation and
 * checkpoints; a method decides the loss of each batch and what to remember between tasks.
 */
export interface Method {
  /** The method's kind (config `name`), e.g. "seekr". */
  readonly kind: string;
  /** The run label (folder name). */
  readonly label: string;
  /** The replay memory the loop draws replay batches from; null for methods without replay. */
  readonly memory: ReplayMemory<Example> | null;
  /** How replay batches join the new task's batches. */
  readonly mixMode: MixMode;
  /** Before learning a task (fresh start of the task only; not called again when a run resumes mid-task). */
  beforeTask?(ctx: TaskContext): void;
  /** The loss of one batch (called inside `tidy`, gradients enabled). */
  batchLoss(batch: TrainBatch, ctx: StepContext): LossResult;
  /** After learning a task (θ_k final, evaluation done): build memories, importance, penalties. */
  afterTask?(ctx: TaskContext): TaskReport | void;
  /** State to checkpoint; must restore the method exactly (bit-identical resumption). */
  saveState?(): MethodState;
  loadState?(state: MethodState): void;
  dispose?(): void;
}

/** Creates a method for one run of the stream. */
export type MethodFactory = (env: MethodEnv) => Method;
