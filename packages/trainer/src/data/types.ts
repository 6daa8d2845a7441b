// Shared data types: an example, a task's three splits, a task stream.

import type { MetricName } from "../metrics/registry.js";

/** One prompt → answer pair (the TRACE format's element). */
export interface Example {
  prompt: string;
  answer: string;
}

export const SPLIT_NAMES = ["train", "eval", "test"] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** One task of a continual-learning stream, with its metric and its train / eval / test splits. */
export interface TaskData {
  name: string;
  /** How predictions on this task are scored (see METRICS). */
  metric: MetricName;
  train: Example[];
  eval: Example[];
  test: Example[];
  /** Where the data came from: "builtin", or the task's folder. */
  source: string;
}
