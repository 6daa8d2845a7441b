// The run folder: paths of every file the trainer writes (documented in src/run/README.md), atomic JSON writes.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

/** Paths inside a run folder. */
export class RunLayout {
  constructor(readonly root: string) {}
  get config(): string {
    return join(this.root, "config.json");
  }
  get log(): string {
    return join(this.root, "log.jsonl");
  }
  /** evals.jsonl: one line per evaluation (rows of R after each task, mid-task checks). */
  get evals(): string {
    return join(this.root, "evals.jsonl");
  }
  get scores(): string {
    return join(this.root, "scores.json");
  }
  get run(): string {
    return join(this.root, "run.json");
  }
  get importanceRoot(): string {
    return join(this.root, "importance");
  }
  /** importance/<method>/<k>-<task>.json, k 1-based. */
  importance(method: string, taskIndex: number, task: string): string {
    return join(this.root, "importance", method, `${taskIndex + 1}-${safeName(task)}.json`);
  }
  get checkpointsRoot(): string {
    return join(this.root, "checkpoints");
  }
  checkpointDir(method: string): string {
    return join(this.root, "checkpoints", method);
  }
  /** checkpoints/<method>/state.json */
  state(method: string): string {
    return join(this.checkpointDir(method), "state.json");
  }
  /** checkpoints/<method>/g<generation>/ */
  generation(method: string, generation: number): string {
    return join(this.checkpointDir(method), `g${generation}`);
  }
  /** checkpoints/baseline.json: the base model's scores (FWT's b_j). */
  get baseline(): string {
    return join(this.root, "checkpoints", "baseline.json");
  }
}

/** A task name as a file-name part (path separators and odd characters replaced). */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._+%-]/g, "_");
}

/** JSON with NaN written as null. */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), indent);
}

/** Writes a file atomically: temporary file in the same folder, fsync, rename. */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${toJson(value)}\n`);
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function readJsonIfExists<T>(path: string): T | null {
  return existsSync(path) ? readJson<T>(path) : null;
}
