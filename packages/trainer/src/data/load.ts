// Loaders for user task streams: TRACE folders (train/eval/test.json) and JSON-lines folders, validated up front.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { METRIC_NAMES, type MetricName } from "../metrics/registry.js";
import { DataError, type DataIssue } from "./issues.js";
import { parseJsonArrayFile, parseJsonLinesFile } from "./records.js";
import { type Example, SPLIT_NAMES, type SplitName, type TaskData } from "./types.js";

/** "trace": `<root>/<task>/{train,eval,test}.json` (JSON arrays); "jsonl": the same with `.jsonl` files. */
export type DataFormat = "trace" | "jsonl";

/** TRACE's order 1 (SEEKR spec §9). */
export const TRACE_ORDER_1: readonly string[] = Object.freeze([
  "C-STANCE",
  "FOMC",
  "MeetingBank",
  "Py150",
  "ScienceQA",
  "NumGLUE-cm",
  "NumGLUE-ds",
  "20Minuten",
]);

/** The metric TRACE scores each of its tasks with (SEEKR spec §9). */
export const TRACE_METRICS: Readonly<Record<string, MetricName>> = Object.freeze({
  "C-STANCE": "accuracy",
  FOMC: "accuracy",
  MeetingBank: "rougeL",
  Py150: "edit_similarity",
  ScienceQA: "accuracy",
  "NumGLUE-cm": "accuracy",
  "NumGLUE-ds": "accuracy",
  "20Minuten": "sari",
});

/** Caps on the number of examples kept per split: a number caps train only. */
export type SampleCap = number | Partial<Record<SplitName, number>>;

export interface LoadStreamOptions {
  /** File layout; default "trace". */
  format?: DataFormat;
  /** Task folder names in training order. Default: TRACE order 1 if the root holds exactly those eight, else every task folder alphabetically. */
  tasks?: readonly string[];
  /** Metric per task name; default TRACE_METRICS for TRACE's names, else `defaultMetric`. */
  metrics?: Readonly<Record<string, string>>;
  /** Metric for tasks with none given or known; default "accuracy". */
  defaultMetric?: MetricName;
  /** Keep at most this many examples (the first ones in file order) per split. */
  samplesPerTask?: SampleCap;
}

const extensionOf = (format: DataFormat): string => (format === "jsonl" ? ".jsonl" : ".json");

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Task folders under root: sub-folders holding at least one split file of the format. */
export function discoverTasks(root: string, format: DataFormat = "trace"): string[] {
  const ext = extensionOf(format);
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .filter((name) => SPLIT_NAMES.some((s) => statOrUndefined(join(root, name, `${s}${ext}`))?.isFile()))
    .sort();
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function defaultOrder(found: readonly string[]): string[] {
  const isTrace = found.length === TRACE_ORDER_1.length && TRACE_ORDER_1.every((t) => found.includes(t));
  return isTrace ? [...TRACE_ORDER_1] : [...found];
}

function capOf(cap: SampleCap | undefined, split: SplitName): number | undefined {
  if (cap === undefined) return undefined;
  return typeof cap === "number" ? (split === "train" ? cap : undefined) : cap[split];
}

function checkCap(cap: SampleCap | undefined, issues: DataIssue[]): void {
  if (cap === undefined) return;
  const values: [string, unknown][] = typeof cap === "number" ? [["samplesPerTask", cap]] : Object.entries(cap).map(([k, v]) => [`samplesPerTask.${k}`, v]);
  for (const [name, v] of values) {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) issues.push({ file: name, message: `expected a positive integer, got ${JSON.stringify(v)}` });
  }
}

/** Reads one split file; issues for missing/unreadable files and bad content. */
function loadSplit(file: string, format: DataFormat, issues: DataIssue[]): Example[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    issues.push({ file, message: code === "ENOENT" ? "missing split file" : `cannot read (${code ?? (e as Error).message})` });
    return [];
  }
  return format === "jsonl" ? parseJsonLinesFile(text, file, issues) : parseJsonArrayFile(text, file, issues);
}

/**
 * Loads every task of a stream from `root` and validates all of it before returning: missing folders
 * or files, malformed JSON (with line and column), non-object records, missing or non-string fields,
 * empty answers and empty splits are all collected and thrown as one {@link DataError}.
 */
export function loadTaskStream(root: string, options: LoadStreamOptions = {}): TaskData[] {
  const format = options.format ?? "trace";
  const ext = extensionOf(format);
  if (!isDirectory(root)) throw new DataError([{ file: root, message: "data folder not found (or not a folder)" }]);
  const found = discoverTasks(root, format);
  const issues: DataIssue[] = [];
  checkCap(options.samplesPerTask, issues);

  let order: string[];
  if (options.tasks !== undefined) {
    order = [...options.tasks];
    if (order.length === 0) issues.push({ file: root, message: "the task list is empty" });
    const seen = new Set<string>();
    for (const t of order) {
      if (seen.has(t)) issues.push({ file: root, message: `task ${JSON.stringify(t)} is listed twice` });
      seen.add(t);
    }
  } else {
    order = defaultOrder(found);
    if (order.length === 0) issues.push({ file: root, message: `no task folders with ${SPLIT_NAMES.map((s) => s + ext).join(" / ")} files found` });
  }

  const metricOf = (task: string): MetricName | undefined => {
    const given = options.metrics !== undefined && Object.hasOwn(options.metrics, task) ? options.metrics[task] : undefined;
    if (given !== undefined) {
      if (!(METRIC_NAMES as readonly string[]).includes(given)) {
        issues.push({ file: join(root, task), message: `unknown metric ${JSON.stringify(given)} (expected one of ${METRIC_NAMES.join(", ")})` });
        return undefined;
      }
      return given as MetricName;
    }
    return (Object.hasOwn(TRACE_METRICS, task) ? TRACE_METRICS[task] : undefined) ?? options.defaultMetric ?? "accuracy";
  };
  for (const name of Object.keys(options.metrics ?? {})) {
    if (!order.includes(name)) issues.push({ file: root, message: `a metric is given for task ${JSON.stringify(name)}, which is not in the stream` });
  }

  const stream: TaskData[] = [];
  for (const task of new Set(order)) {
    const dir = join(root, task);
    if (!isDirectory(dir)) {
      issues.push({ file: dir, message: `task folder not found (found: ${found.length ? found.join(", ") : "none"})` });
      continue;
    }
    const metric = metricOf(task);
    const splits = {} as Record<SplitName, Example[]>;
    for (const split of SPLIT_NAMES) {
      const examples = loadSplit(join(dir, `${split}${ext}`), format, issues);
      const cap = capOf(options.samplesPerTask, split);
      splits[split] = cap !== undefined ? examples.slice(0, cap) : examples;
    }
    if (metric !== undefined) stream.push({ name: task, metric, ...splits, source: dir });
  }
  if (issues.length > 0) throw new DataError(issues, `data in ${root}`);
  return stream;
}
