// One entry point for a run's task stream: the built-in generated tasks, or TRACE / JSON-lines folders.

import { buildBuiltinStream } from "../tasks/registry.js";
import type { SplitSizes } from "../tasks/task.js";
import { loadTaskStream, type SampleCap } from "./load.js";
import type { TaskData } from "./types.js";

/** The `data` section of a run configuration (structurally; see RunConfig["data"]). */
export interface StreamSource {
  source: "builtin" | "trace" | "jsonl";
  /** Root folder for "trace" and "jsonl". */
  path?: string | undefined;
  /** Task names in training order. */
  tasks?: readonly string[] | undefined;
  /** Built-in: examples generated per split (a number sets train). Loaded: the most kept per split (a number caps train). */
  samplesPerTask?: SampleCap | undefined;
  /** Metric per task name (loaded data only). */
  metrics?: Readonly<Record<string, string>> | undefined;
}

/** Builds or loads the whole stream, validated, before any training starts. */
export function loadStream(data: StreamSource, seed: number): TaskData[] {
  if (data.source === "builtin") {
    const cap = data.samplesPerTask;
    const sizes: Partial<SplitSizes> = cap === undefined ? {} : typeof cap === "number" ? { train: cap } : cap;
    return buildBuiltinStream({ seed, sizes, ...(data.tasks !== undefined ? { tasks: data.tasks } : {}) });
  }
  if (data.path === undefined) throw new Error(`data.path: required when data.source is ${JSON.stringify(data.source)}`);
  return loadTaskStream(data.path, {
    format: data.source,
    ...(data.tasks !== undefined ? { tasks: data.tasks } : {}),
    ...(data.metrics !== undefined ? { metrics: data.metrics } : {}),
    ...(data.samplesPerTask !== undefined ? { samplesPerTask: data.samplesPerTask } : {}),
  });
}
