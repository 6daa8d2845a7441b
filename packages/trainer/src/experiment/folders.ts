// Reading run folders for `seekr experiment`: their settings, scores and run.json, whether a planned run is done,
// can be resumed or holds other settings, and which folder holds a given (settings, order, seed, method) result.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { resolveConfig } from "../config/resolve.js";
import { resolveExtras, type RunExtrasInput } from "../run/extras.js";
import { cellKey, type PlannedRun, settingsKey } from "./expand.js";

/** Files `seekr experiment` writes into a run folder (the trainer's own files are listed in src/run/README.md). */
export const EXPERIMENT_FILES = {
  /** The configuration the child `seekr run` was started with. */
  config: "experiment-config.json",
  /** The child's output (appended across sessions). */
  log: "experiment.log",
  /** { status: "running" | "done" | "failed" | "interrupted", code, message, startedAt, finishedAt, seconds }. */
  status: "experiment-status.json",
} as const;

export interface StatusFile {
  status: "running" | "done" | "failed" | "interrupted";
  code?: number | null;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  seconds?: number;
}

/** The parts of scores.json this module reads. */
export interface FolderScores {
  tasks?: string[];
  methods?: Record<string, { complete?: boolean; tasksLearned?: number; matrix?: unknown[]; op?: number | null; bwt?: number | null; fwt?: number | null; forgetting?: number | null }>;
}

/** The parts of run.json this module reads. */
export interface FolderRunInfo {
  commit?: string | null;
  startedAt?: string;
  updatedAt?: string;
  methods?: Record<string, { status?: string; seconds?: number; peakBytes?: number }>;
}

export interface FolderInfo {
  dir: string;
  exists: boolean;
  /** config.json without its extras, and the extras. */
  config: Record<string, unknown> | null;
  extras: Record<string, unknown> | null;
  scores: FolderScores | null;
  run: FolderRunInfo | null;
  status: StatusFile | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON file's content, or null when it is missing or unreadable (a folder being written). */
export function readJsonSafe<T>(file: string): T | null {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as T) : null;
  } catch {
    return null;
  }
}

export function readFolder(dir: string): FolderInfo {
  const raw = readJsonSafe<Record<string, unknown>>(join(dir, "config.json"));
  let config: Record<string, unknown> | null = null;
  let extras: Record<string, unknown> | null = null;
  if (isRecord(raw)) {
    const { extras: ex, ...rest } = raw;
    config = rest;
    extras = isRecord(ex) ? ex : null;
  }
  return {
    dir,
    exists: existsSync(dir),
    config,
    extras,
    scores: readJsonSafe<FolderScores>(join(dir, "scores.json")),
    run: readJsonSafe<FolderRunInfo>(join(dir, "run.json")),
    status: readJsonSafe<StatusFile>(join(dir, EXPERIMENT_FILES.status)),
  };
}

const keyCache = new WeakMap<FolderInfo, Map<string, string>>();

/**
 * The result key (see cellKey) of every method in a folder's config.json, by label. The saved configuration is
 * resolved again with the current defaults first, so a setting added to the schema later (with a default) does
 * not make finished folders look different; a saved configuration that no longer resolves is keyed as it is.
 */
export function folderMethodKeys(f: FolderInfo): Map<string, string> {
  const cached = keyCache.get(f);
  if (cached) return cached;
  const out = new Map<string, string>();
  keyCache.set(f, out);
  if (!f.config || !Array.isArray(f.config.methods)) return out;
  let config: Record<string, unknown> = f.config;
  let extras: Record<string, unknown> | null = f.extras;
  try {
    config = resolveConfig(f.config) as unknown as Record<string, unknown>;
  } catch {
    // keep the saved configuration as it is
  }
  try {
    extras = resolveExtras((f.extras ?? {}) as RunExtrasInput) as unknown as Record<string, unknown>;
  } catch {
    // keep the saved extras as they are
  }
  const settings = settingsKey(config, extras);
  const data = isRecord(config.data) ? config.data : {};
  const tasks = Array.isArray(data.tasks) ? (data.tasks as string[]) : undefined;
  for (const m of config.methods as unknown[]) {
    if (isRecord(m) && typeof m.label === "string") out.set(m.label, cellKey(settings, tasks, config.seed, m));
  }
  return out;
}

/** Whether the method's scores in the folder are final. */
export function isComplete(f: FolderInfo, label: string): boolean {
  return f.scores?.methods?.[label]?.complete === true;
}

export type RunState =
  | { state: "done"; folder: FolderInfo }
  | { state: "resume"; folder: FolderInfo }
  | { state: "stale"; folder: FolderInfo }
  | { state: "fresh"; folder: FolderInfo; reason: "new" | "no-run" };

/**
 * What to do with a planned run: `done` when the folder holds every planned method, complete, with the planned
 * settings (it may hold more methods); `resume` when it holds them unfinished (run.json present); `stale` when
 * it was run with other settings (left alone unless --overwrite: it may hold hours of results); `fresh` when the
 * folder is new or has no run.json.
 */
export function runState(run: PlannedRun): RunState {
  const folder = readFolder(run.dir);
  if (!folder.config) return { state: "fresh", folder, reason: "new" };
  const saved = folderMethodKeys(folder);
  if (!run.labels.every((l) => saved.get(l) === run.keys[l])) return { state: "stale", folder };
  if (run.labels.every((l) => isComplete(folder, l))) return { state: "done", folder };
  if (!folder.run) return { state: "fresh", folder, reason: "no-run" };
  return { state: "resume", folder };
}

/** Every run folder under the grid's folder (`<root>/<unit>/<run>/config.json`). */
export function listRunFolders(root: string): string[] {
  const out: string[] = [];
  const dirs = (p: string): string[] => {
    try {
      return readdirSync(p)
        .filter((n) => !n.startsWith("."))
        .map((n) => join(p, n))
        .filter((q) => statSync(q).isDirectory());
    } catch {
      return [];
    }
  };
  for (const unit of dirs(root)) for (const run of dirs(unit)) if (existsSync(join(run, "config.json"))) out.push(run);
  return out.sort();
}

/** Result key → the folders (and labels) holding that result complete, from every run folder under `root`. */
export function indexResults(root: string): Map<string, { folder: FolderInfo; label: string }[]> {
  const index = new Map<string, { folder: FolderInfo; label: string }[]>();
  for (const dir of listRunFolders(root)) {
    const f = readFolder(dir);
    for (const [label, key] of folderMethodKeys(f)) {
      if (!isComplete(f, label)) continue;
      const list = index.get(key) ?? [];
      list.push({ folder: f, label });
      index.set(key, list);
    }
  }
  return index;
}
