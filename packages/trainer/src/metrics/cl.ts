// Continual-learning metrics from the score matrix R (R[i][j]: score on task j after learning task i): OP, BWT, forgetting, FWT.

import { formatValue } from "../format.js";

/** R[i][j] = score on task j after learning task i (T × T); NaN where not evaluated. */
export type ScoreMatrix = readonly (readonly number[])[];

/**
 * Checks that R is a non-empty square matrix of numbers; NaN marks "not evaluated", ±Infinity is rejected.
 * Returns T. Throws an Error naming the metric and the offending row or cell.
 */
export function checkScoreMatrix(r: unknown, metric = "scoreMatrix"): number {
  if (!Array.isArray(r)) throw new Error(`${metric}: expected a T × T score matrix (array of rows), got ${formatValue(r)}`);
  const t = r.length;
  if (t === 0) throw new Error(`${metric}: expected at least one task, got an empty score matrix`);
  for (let i = 0; i < t; i++) {
    const row: unknown = r[i];
    if (!Array.isArray(row)) throw new Error(`${metric}: R[${i}] must be an array of ${t} numbers, got ${formatValue(row)}`);
    if (row.length !== t) {
      throw new Error(`${metric}: score matrix must be square (T = ${t} rows), but R[${i}] has ${row.length} entries`);
    }
    for (let j = 0; j < t; j++) {
      const v: unknown = row[j];
      if (typeof v !== "number" || v === Infinity || v === -Infinity) {
        throw new Error(`${metric}: R[${i}][${j}] must be a finite number or NaN (not evaluated), got ${formatValue(v)}`);
      }
    }
  }
  return t;
}

function cell(r: ScoreMatrix, i: number, j: number, metric: string, why: string): number {
  const v = (r[i] as readonly number[])[j] as number;
  if (Number.isNaN(v)) throw new Error(`${metric}: R[${i}][${j}] is NaN (not evaluated), but ${why}`);
  return v;
}

function needTwo(t: number, metric: string): void {
  if (t < 2) throw new Error(`${metric}: needs at least 2 tasks (denominator T − 1), got T = ${t}`);
}

/** Overall performance OP = (1/T) Σ_j R[T−1][j]: mean score on all tasks after the last one. */
export function overallPerformance(r: ScoreMatrix): number {
  const t = checkScoreMatrix(r, "OP");
  let sum = 0;
  for (let j = 0; j < t; j++) sum += cell(r, t - 1, j, "OP", "OP needs every task's score after the last task");
  return sum / t;
}

/** Backward transfer BWT = (1/(T−1)) Σ_{j<T−1} (R[T−1][j] − R[j][j]) (SEEKR §7; negative = forgetting). */
export function backwardTransfer(r: ScoreMatrix): number {
  const t = checkScoreMatrix(r, "BWT");
  needTwo(t, "BWT");
  let sum = 0;
  for (let j = 0; j < t - 1; j++) {
    sum += cell(r, t - 1, j, "BWT", "BWT needs the final row") - cell(r, j, j, "BWT", "BWT needs the diagonal");
  }
  return sum / (t - 1);
}

/**
 * Average forgetting (Chaudhry et al. 2018): (1/(T−1)) Σ_{j<T−1} (max_{i<T−1} R[i][j] − R[T−1][j]).
 * The max runs over the rows evaluated before the last task, skipping NaN (not evaluated) cells;
 * R[j][j] must be present, so the max is never empty. Always ≥ −BWT.
 */
export function forgetting(r: ScoreMatrix): number {
  const t = checkScoreMatrix(r, "forgetting");
  needTwo(t, "forgetting");
  let sum = 0;
  for (let j = 0; j < t - 1; j++) {
    let best = cell(r, j, j, "forgetting", "forgetting needs the diagonal");
    for (let i = 0; i < t - 1; i++) {
      const v = (r[i] as readonly number[])[j] as number;
      if (!Number.isNaN(v) && v > best) best = v;
    }
    sum += best - cell(r, t - 1, j, "forgetting", "forgetting needs the final row");
  }
  return sum / (t - 1);
}

/**
 * Forward transfer FWT = (1/(T−1)) Σ_{j≥1} (R[j−1][j] − b[j]), where b[j] is task j's score at
 * initialisation (or trained from scratch); needs the superdiagonal R[j−1][j]. b[0] is not used but
 * must be given (one baseline per task).
 */
export function forwardTransfer(r: ScoreMatrix, baseline: readonly number[]): number {
  const t = checkScoreMatrix(r, "FWT");
  needTwo(t, "FWT");
  if (!Array.isArray(baseline) || baseline.length !== t) {
    throw new Error(`FWT: baseline must have one score per task (${t}), got ${formatValue(baseline)}`);
  }
  let sum = 0;
  for (let j = 1; j < t; j++) {
    const b = baseline[j];
    if (typeof b !== "number" || !Number.isFinite(b)) throw new Error(`FWT: baseline[${j}] must be a finite number, got ${formatValue(b)}`);
    sum += cell(r, j - 1, j, "FWT", `FWT needs task ${j} evaluated after task ${j - 1}`) - b;
  }
  return sum / (t - 1);
}

export interface ContinualMetrics {
  /** Number of tasks. */
  tasks: number;
  op: number;
  /** null when T < 2. */
  bwt: number | null;
  /** null when T < 2. */
  forgetting: number | null;
  /** null when T < 2 or no baseline was given. */
  fwt: number | null;
}

/** All of OP, BWT, forgetting and (with a baseline) FWT; those undefined for T = 1 are null. */
export function continualMetrics(r: ScoreMatrix, baseline?: readonly number[]): ContinualMetrics {
  const t = checkScoreMatrix(r, "continualMetrics");
  return {
    tasks: t,
    op: overallPerformance(r),
    bwt: t < 2 ? null : backwardTransfer(r),
    forgetting: t < 2 ? null : forgetting(r),
    fwt: t < 2 || baseline === undefined ? null : forwardTransfer(r, baseline),
  };
}

/** The leading k × k block of R: the matrix as it stood after learning task k − 1 (for metrics mid-run). */
export function leadingBlock(r: ScoreMatrix, k: number): number[][] {
  const t = checkScoreMatrix(r, "leadingBlock");
  if (!Number.isInteger(k) || k < 1 || k > t) throw new Error(`leadingBlock: k must be an integer in [1, ${t}], got ${formatValue(k)}`);
  return r.slice(0, k).map((row) => row.slice(0, k));
}

/** A T × T matrix of NaN, to be filled in as tasks are learned and evaluated. */
export function emptyScoreMatrix(t: number): number[][] {
  if (!Number.isInteger(t) || t < 1) throw new Error(`emptyScoreMatrix: T must be a positive integer, got ${formatValue(t)}`);
  return Array.from({ length: t }, () => new Array<number>(t).fill(Number.NaN));
}
