// Events emitted through runExperiment's onEvent (progress bars, live logs); see src/run/README.md.

/** Where a method run stands: the next step to run (phase "train"), or training of `taskIndex` finished. */
export interface Position {
  taskIndex: number;
  epoch: number;
  /** Step within the epoch (0-based) that runs next. */
  step: number;
  /** "train": at (epoch, step) of task taskIndex; "trained": its training is done, evaluation and afterTask are not. */
  phase: "train" | "trained";
}

interface MethodFields {
  /** Method label. */
  method: string;
}

export type RunEvent =
  | { type: "pretrain"; phase: "start" | "step" | "end"; step: number; steps: number; loss: number | null; lr: number | null; cached: boolean; key: string }
  | { type: "baseline"; scores: Record<string, number> }
  | (MethodFields & { type: "method-start"; kind: string; methodIndex: number; methods: number; tasks: string[]; epochs: number; resumed: boolean })
  | (MethodFields & { type: "task-start"; task: string; taskIndex: number; tasks: number; epochs: number; steps: number; totalSteps: number; resumed: boolean })
  | (MethodFields & {
      type: "step";
      task: string;
      taskIndex: number;
      tasks: number;
      epoch: number;
      epochs: number;
      /** Step within the epoch, 1-based. */
      step: number;
      /** Steps per epoch. */
      steps: number;
      /** Steps done in this task over all epochs, and their total (for an ETA). */
      taskStep: number;
      totalSteps: number;
      loss: number;
      parts: Record<string, number>;
      lr: number;
      /** Seconds since the method started (resumed runs include earlier sessions). */
      elapsed: number;
    })
  | (MethodFields & {
      type: "eval";
      /** The task just learned (its row of R), or the current task for a mid-task evaluation. */
      task: string;
      taskIndex: number;
      /** "task": the row R[taskIndex][·] of the score matrix; "step": a mid-task check on the eval split. */
      phase: "task" | "step";
      scores: Record<string, number>;
      row: (number | null)[] | null;
    })
  | (MethodFields & { type: "task-end"; task: string; taskIndex: number; tasks: number; seconds: number })
  | (MethodFields & { type: "checkpoint"; path: string; position: Position; reason: "task" | "steps" | "abort" | "done" })
  | (MethodFields & { type: "method-end"; matrix: (number | null)[][]; op: number | null; bwt: number | null; forgetting: number | null; fwt: number | null; seconds: number; skipped: boolean })
  | { type: "done"; interrupted: boolean; output: string; seconds: number };

export type RunEventType = RunEvent["type"];
