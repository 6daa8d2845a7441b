// Reads a run folder (config.json, log.jsonl, scores.json, importance/) into what the report draws, downsampling the log.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** scores.json: the score matrix and metrics of each method (R[i][j] = score on task j after learning task i). */
export interface MethodScores {
  /** Method name (seqft, replay, ...); the key of `methods` is the label. */
  kind?: string;
  matrix: Array<Array<number | null>>;
  /** Tasks learned so far (T when the method finished); derived from the matrix when absent. */
  tasksLearned?: number;
  complete?: boolean;
  op?: number | null;
  bwt?: number | null;
  forgetting?: number | null;
  fwt?: number | null;
}
export interface ScoresFile {
  tasks: string[];
  methods: Record<string, MethodScores>;
  seed?: number;
  /** Metric per task (exact_match, rougeL, ...). */
  metrics?: string[];
  /** The base model's score per task before any training (FWT's baseline). */
  baseline?: Array<number | null>;
}

/** importance/<method>/<k>-<task>.json */
export interface ImportanceFile {
  task?: string;
  /** 0-based position of the task in the stream. */
  taskIndex?: number;
  importance: number[][];
  selected?: { layers?: number[]; heads?: Array<[number, number]> };
  sensitivity?: number[][];
  forgettability?: number[][];
  strategy?: string;
  measure?: string;
  budget?: { layers?: number; heads?: number; queryRows?: number };
}
export interface TaskImportance extends ImportanceFile {
  /** The k of `<k>-<task>.json` (the trainer numbers tasks from 1). */
  k: number;
  task: string;
  /** 0-based position of the task in the stream. */
  taskIndex: number;
  file: string;
}

/** One line of log.jsonl. */
export interface LogEntry {
  t?: number;
  method: string;
  task?: string;
  taskIndex?: number;
  epoch?: number;
  step?: number;
  loss: number;
  parts?: Record<string, number>;
  lr?: number;
}

/** A method's loss curve, downsampled: x = step count within the method (1-based), y = mean loss over a bucket. */
export interface LossCurve {
  method: string;
  steps: number;
  loss: Array<[number, number]>;
  parts: Record<string, Array<[number, number]>>;
  /** First step of each task (x) with its name. */
  taskStarts: Array<{ x: number; task: string }>;
}

export interface RunData {
  dir: string;
  name: string;
  config: Record<string, unknown> | null;
  scores: ScoresFile | null;
  curves: LossCurve[];
  importance: Record<string, TaskImportance[]>;
  /** Problems found while reading (shown on the page, never fatal). */
  warnings: string[];
}

/** Thrown when a path is not a run folder at all. */
export class RunFolderError extends Error {
  override name = "RunFolderError";
}

/** Most points kept per loss curve. */
export const MAX_CURVE_POINTS = 400;

function readJson(file: string, warnings: string[]): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    warnings.push(`${basename(file)}: ${e instanceof SyntaxError ? `not valid JSON (${e.message})` : (e as Error).message}`);
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function isMatrix(v: unknown): v is number[][] {
  return Array.isArray(v) && v.every((r) => Array.isArray(r) && r.every((x) => typeof x === "number" || x === null));
}

function checkScores(raw: unknown, warnings: string[]): ScoresFile | null {
  if (!isRecord(raw)) {
    warnings.push("scores.json: expected an object {tasks, methods}");
    return null;
  }
  const tasks = Array.isArray(raw.tasks) ? raw.tasks.map(String) : [];
  const methods: Record<string, MethodScores> = {};
  if (isRecord(raw.methods)) {
    for (const [name, m] of Object.entries(raw.methods)) {
      if (!isRecord(m) || !isMatrix(m.matrix)) {
        warnings.push(`scores.json: methods.${name}.matrix is not a matrix of numbers; method skipped`);
        continue;
      }
      const ms: MethodScores = {
        matrix: m.matrix.map((r) => r.map((x) => num(x))),
        op: num(m.op),
        bwt: num(m.bwt),
        forgetting: num(m.forgetting),
        fwt: num(m.fwt),
      };
      if (typeof m.kind === "string") ms.kind = m.kind;
      if (typeof m.tasksLearned === "number") ms.tasksLearned = m.tasksLearned;
      if (typeof m.complete === "boolean") ms.complete = m.complete;
      methods[name] = ms;
    }
  } else warnings.push("scores.json: `methods` is missing");
  const out: ScoresFile = { tasks, methods };
  if (typeof raw.seed === "number") out.seed = raw.seed;
  if (Array.isArray(raw.metrics)) out.metrics = raw.metrics.map(String);
  if (Array.isArray(raw.baseline)) out.baseline = raw.baseline.map((x) => num(x));
  return out;
}

/** Averages consecutive entries into at most `max` points. */
function downsample(values: Array<[number, number]>, max: number): Array<[number, number]> {
  if (values.length <= max) return values;
  const size = values.length / max;
  const out: Array<[number, number]> = [];
  for (let b = 0; b < max; b++) {
    const from = Math.floor(b * size);
    const to = Math.floor((b + 1) * size);
    let sx = 0;
    let sy = 0;
    let count = 0;
    for (let i = from; i < to; i++) {
      const p = values[i] as [number, number];
      sx += p[0];
      sy += p[1];
      count++;
    }
    if (count) out.push([sx / count, sy / count]);
  }
  return out;
}

/** Reads log.jsonl into per-method loss curves (bad lines are counted and skipped: a run killed mid-write leaves one). */
export function readLossCurves(file: string, warnings: string[] = [], maxPoints = MAX_CURVE_POINTS): LossCurve[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    warnings.push(`log.jsonl: ${(e as Error).message}`);
    return [];
  }
  interface Acc {
    steps: number;
    loss: Array<[number, number]>;
    parts: Map<string, Array<[number, number]>>;
    taskStarts: Array<{ x: number; task: string }>;
    lastTask: string | undefined;
  }
  const byMethod = new Map<string, Acc>();
  let bad = 0;
  let firstBad = 0;
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = (lines[li] as string).trim();
    if (!line) continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      if (!bad) firstBad = li + 1;
      bad++;
      continue;
    }
    if (!isRecord(e) || typeof e.method !== "string") {
      if (!bad) firstBad = li + 1;
      bad++;
      continue;
    }
    let acc = byMethod.get(e.method);
    if (!acc) {
      acc = { steps: 0, loss: [], parts: new Map(), taskStarts: [], lastTask: undefined };
      byMethod.set(e.method, acc);
    }
    acc.steps++;
    const x = acc.steps;
    const task = typeof e.task === "string" ? e.task : typeof e.taskIndex === "number" ? `task ${e.taskIndex}` : undefined;
    if (task !== undefined && task !== acc.lastTask) {
      acc.taskStarts.push({ x, task });
      acc.lastTask = task;
    }
    const loss = num(e.loss);
    if (loss !== null) acc.loss.push([x, loss]);
    if (isRecord(e.parts)) {
      for (const [k, v] of Object.entries(e.parts)) {
        const y = num(v);
        if (y === null) continue;
        let arr = acc.parts.get(k);
        if (!arr) acc.parts.set(k, (arr = []));
        arr.push([x, y]);
      }
    }
  }
  if (bad) warnings.push(`log.jsonl: ${bad} line${bad === 1 ? "" : "s"} not readable (first at line ${firstBad}); skipped`);
  return [...byMethod.entries()].map(([method, a]) => {
    const parts: Record<string, Array<[number, number]>> = {};
    for (const [k, arr] of a.parts) {
      // A part that is zero throughout (e.g. `replay` for SeqFT) says nothing: leave it out.
      if (arr.some(([, y]) => y !== 0)) parts[k] = downsample(arr, maxPoints);
    }
    return { method, steps: a.steps, loss: downsample(a.loss, maxPoints), parts, taskStarts: a.taskStarts };
  });
}

/** Reads importance/<method>/<k>-<task>.json for every method, sorted by k. */
export function readImportance(dir: string, warnings: string[] = []): Record<string, TaskImportance[]> {
  const root = join(dir, "importance");
  const out: Record<string, TaskImportance[]> = {};
  if (!existsSync(root)) return out;
  for (const method of readdirSync(root).sort()) {
    const mdir = join(root, method);
    if (!statSync(mdir).isDirectory()) continue;
    const list: TaskImportance[] = [];
    for (const file of readdirSync(mdir)) {
      const m = /^(\d+)-(.+)\.json$/.exec(file);
      if (!m) continue;
      const raw = readJson(join(mdir, file), warnings);
      if (raw === undefined) continue;
      if (!isRecord(raw) || !isMatrix(raw.importance)) {
        warnings.push(`importance/${method}/${file}: expected {importance: number[][] (layers × heads), selected}`);
        continue;
      }
      const k = Number(m[1]);
      const item: TaskImportance = {
        k,
        task: typeof raw.task === "string" ? raw.task : (m[2] as string),
        taskIndex: typeof raw.taskIndex === "number" ? raw.taskIndex : k - 1,
        file: `importance/${method}/${file}`,
        importance: raw.importance,
      };
      if (typeof raw.strategy === "string") item.strategy = raw.strategy;
      if (typeof raw.measure === "string") item.measure = raw.measure;
      if (isRecord(raw.budget)) {
        item.budget = {};
        for (const key of ["layers", "heads", "queryRows"] as const) if (typeof raw.budget[key] === "number") item.budget[key] = raw.budget[key] as number;
      }
      if (isRecord(raw.selected)) {
        const s = raw.selected;
        item.selected = {
          layers: Array.isArray(s.layers) ? s.layers.filter((x): x is number => typeof x === "number") : [],
          heads: Array.isArray(s.heads)
            ? s.heads.filter((h): h is [number, number] => Array.isArray(h) && h.length === 2 && h.every((x) => typeof x === "number"))
            : [],
        };
      }
      if (isMatrix(raw.sensitivity)) item.sensitivity = raw.sensitivity;
      if (isMatrix(raw.forgettability)) item.forgettability = raw.forgettability;
      list.push(item);
    }
    if (list.length) out[method] = list.sort((a, b) => a.taskIndex - b.taskIndex || a.k - b.k);
  }
  return out;
}

/** Loads one run folder. Throws RunFolderError when the folder does not exist or holds none of the run files. */
export function loadRun(dir: string): RunData {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new RunFolderError(`run folder not found: ${dir}`);
  if (!statSync(abs).isDirectory()) throw new RunFolderError(`not a run folder (it is a file): ${dir}`);
  const has = (f: string): boolean => existsSync(join(abs, f));
  if (!has("scores.json") && !has("log.jsonl") && !has("config.json")) {
    throw new RunFolderError(`not a run folder: ${dir} has none of config.json, log.jsonl, scores.json`);
  }
  const warnings: string[] = [];
  const configRaw = has("config.json") ? readJson(join(abs, "config.json"), warnings) : undefined;
  const scoresRaw = has("scores.json") ? readJson(join(abs, "scores.json"), warnings) : undefined;
  if (!has("scores.json")) warnings.push("scores.json is missing (the run has not finished a task yet, or was interrupted)");
  return {
    dir: abs,
    name: basename(abs),
    config: isRecord(configRaw) ? configRaw : null,
    scores: scoresRaw === undefined ? null : checkScores(scoresRaw, warnings),
    curves: has("log.jsonl") ? readLossCurves(join(abs, "log.jsonl"), warnings) : [],
    importance: readImportance(abs, warnings),
    warnings,
  };
}
