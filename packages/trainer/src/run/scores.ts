// scores.json: every method's score matrix R[i][j] (null where not evaluated) and OP / BWT / forgetting / FWT from it.

import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { backwardTransfer, forgetting, forwardTransfer, overallPerformance } from "../metrics/cl.js";

export interface MethodScores {
  /** Method name (seqft, replay, ...). */
  kind: string;
  /** R[i][j]: score on task j after learning task i (0..100); null where not evaluated. */
  matrix: (number | null)[][];
  /** Tasks learned so far (T when the method finished). */
  tasksLearned: number;
  complete: boolean;
  /** OP = mean of the last learned row over the tasks learned so far (the whole row when complete). */
  op: number | null;
  /** BWT = (1/(k−1)) Σ_{j<k−1} (R[k−1][j] − R[j][j]) over the k tasks learned; null for k < 2 and multitask. */
  bwt: number | null;
  forgetting: number | null;
  /** FWT = (1/(k−1)) Σ_{j≥1} (R[j−1][j] − b_j) with the base model's scores b; null without them. */
  fwt: number | null;
  /** Metric of each task. */
  metrics: string[];
}

export interface ScoresFile {
  format: "seekr.scores";
  version: 1;
  tasks: string[];
  metrics: string[];
  seed: number;
  commit?: string;
  /** Base model's score per task (b_j for FWT), when evaluated. */
  baseline?: (number | null)[];
  methods: Record<string, MethodScores>;
}

const orNull = (f: () => number): number | null => {
  try {
    const v = f();
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
};

/** NaN → null, for JSON. */
export function matrixToJson(r: readonly (readonly number[])[]): (number | null)[][] {
  return r.map((row) => row.map((v) => (Number.isFinite(v) ? v : null)));
}

/** null → NaN. */
export function matrixFromJson(r: readonly (readonly (number | null)[])[]): number[][] {
  return r.map((row) => row.map((v) => (v === null ? Number.NaN : v)));
}

/**
 * Scores of one method from its matrix. For a continual method that has learned k tasks, the metrics use
 * the leading k × k block (all of R when complete). For multitask (one training run on the union), only the
 * last row exists: OP from it, BWT / forgetting / FWT null.
 */
export function methodScores(kind: string, r: readonly (readonly number[])[], tasksLearned: number, metrics: string[], baseline?: readonly number[]): MethodScores {
  const T = r.length;
  const complete = tasksLearned === T;
  const base = { kind, matrix: matrixToJson(r), tasksLearned, complete, metrics };
  if (kind === "multitask") {
    return { ...base, op: complete ? orNull(() => overallPerformance(r)) : null, bwt: null, forgetting: null, fwt: null };
  }
  if (tasksLearned === 0) return { ...base, op: null, bwt: null, forgetting: null, fwt: null };
  const k = tasksLearned;
  const block = r.slice(0, k).map((row) => row.slice(0, k));
  return {
    ...base,
    op: orNull(() => overallPerformance(block)),
    bwt: k < 2 ? null : orNull(() => backwardTransfer(block)),
    forgetting: k < 2 ? null : orNull(() => forgetting(block)),
    fwt: k < 2 || baseline === undefined ? null : orNull(() => forwardTransfer(block, baseline.slice(0, k))),
  };
}

let commitCache: string | null | undefined;
/** The git commit of the trainer's checkout, if any. */
export function gitCommit(): string | null {
  if (commitCache !== undefined) return commitCache;
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    commitCache = execFileSync("git", ["rev-parse", "HEAD"], { cwd: here, stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).toString().trim() || null;
  } catch {
    commitCache = null;
  }
  return commitCache;
}
