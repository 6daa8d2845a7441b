// Aggregating a grid's run folders: OP and BWT per method as mean ± sample std over orders × seeds, sweep points,
// and the cost (time, peak memory) of each method relative to a reference trained in the same process.

import { relative } from "node:path";
import type { Plan, PlannedCell, PlannedMethod, PlannedRun, PlannedUnit } from "./expand.js";
import type { SweepSpec, TableSpec } from "./grid.js";
import { EXPERIMENT_FILES, type FolderInfo, folderMethodKeys, indexResults, isComplete, readFolder } from "./folders.js";

/** Mean, sample standard deviation (n − 1) and count of the values that exist. */
export interface Stat {
  mean: number | null;
  /** Sample standard deviation; null for n < 2. */
  std: number | null;
  n: number;
  values: number[];
}

export function stat(values: readonly number[]): Stat {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { mean: null, std: null, n, values: v };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, std, n, values: v };
}

/** One (method, order, seed) result, or why it is missing. */
export interface CellResult {
  cell: PlannedCell;
  ok: boolean;
  op: number | null;
  bwt: number | null;
  /** The folder the numbers come from (absolute). */
  from: string | null;
  /** Why the result is missing (for the footnote). */
  reason?: string;
}

export interface MethodRow {
  method: PlannedMethod;
  cells: CellResult[];
  op: Stat;
  bwt: Stat;
  /** Cells whose metric is undefined by definition (multitask's BWT) though the run is complete. */
  bwtUndefined: number;
  /** Results expected (orders × seeds). */
  expected: number;
  missing: CellResult[];
  /** Trained in another table's folders (the units they come from). */
  reusedFrom: string[];
}

export interface TableResult {
  spec: TableSpec;
  unit: PlannedUnit;
  rows: MethodRow[];
}

export interface SweepPoint {
  x: unknown;
  unit: PlannedUnit;
  rows: MethodRow[];
}

export interface SweepResult {
  spec: SweepSpec;
  /** Line names (one per method of the sweep). */
  lines: string[];
  points: SweepPoint[];
}

export interface CostRow {
  label: string;
  /** Time and peak memory relative to the reference (ratios, one per run folder holding both). */
  time: Stat;
  memory: Stat;
  /** Absolute seconds and peak MiB of the method. */
  seconds: Stat;
  peakMiB: Stat;
}

export interface CostResult {
  reference: string;
  rows: CostRow[];
  /** Run folders that held the reference, complete. */
  runs: string[];
}

export interface RunSummary {
  run: PlannedRun;
  folder: FolderInfo;
  /** Planned methods complete in the folder. */
  complete: number;
  /** Sum of run.json's method seconds (all sessions). */
  seconds: number;
}

export interface Aggregate {
  tables: TableResult[];
  sweeps: SweepResult[];
  cost: CostResult | null;
  runs: RunSummary[];
  /** Σ seconds of every method of every planned run folder (run.json). */
  trainingSeconds: number;
}

/** Why a cell has no result, from its folder (failed child, unfinished, other settings, not run). */
function missingReason(f: FolderInfo, cell: PlannedCell): string {
  if (f.status?.status === "failed") return `failed${f.status.code !== undefined && f.status.code !== null ? ` (exit ${f.status.code})` : ""}${f.status.message ? `: ${f.status.message}` : ""}; log: ${EXPERIMENT_FILES.log}`;
  if (!f.exists || !f.config) return "not run yet";
  const keys = folderMethodKeys(f);
  if (keys.get(cell.label) !== cell.key) return "the folder holds results of other settings (--overwrite retrains it)";
  const m = f.scores?.methods?.[cell.label];
  if (m && m.complete !== true) {
    const T = f.scores?.tasks?.length;
    return `unfinished: ${m.tasksLearned ?? 0}${T ? `/${T}` : ""} tasks learned${f.status?.status === "interrupted" ? " (interrupted; run the command again to resume)" : ""}`;
  }
  if (f.status?.status === "interrupted") return "interrupted before this method finished (run the command again to resume)";
  if (f.status?.status === "running") return "running, or stopped without a status (run the command again to resume)";
  return "no result in scores.json";
}

function numberOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Reads every result the plan needs from the run folders (the planned folder first, then any folder with the same result key). */
export function aggregate(plan: Plan): Aggregate {
  const folders = new Map<string, FolderInfo>();
  const folder = (dir: string): FolderInfo => {
    let f = folders.get(dir);
    if (!f) {
      f = readFolder(dir);
      folders.set(dir, f);
    }
    return f;
  };
  let index: ReturnType<typeof indexResults> | null = null;
  const lookup = (cell: PlannedCell): CellResult => {
    const f = folder(cell.dir);
    let source: { folder: FolderInfo; label: string } | null = null;
    if (folderMethodKeys(f).get(cell.label) === cell.key && isComplete(f, cell.label)) source = { folder: f, label: cell.label };
    else {
      index ??= indexResults(plan.root);
      source = index.get(cell.key)?.[0] ?? null;
    }
    if (!source) return { cell, ok: false, op: null, bwt: null, from: null, reason: missingReason(f, cell) };
    const s = source.folder.scores?.methods?.[source.label];
    return { cell, ok: true, op: numberOrNull(s?.op), bwt: numberOrNull(s?.bwt), from: source.folder.dir };
  };
  const rowsOf = (unit: PlannedUnit): MethodRow[] =>
    unit.methods.map((method) => {
      const cells = unit.cells.filter((c) => c.label === method.label).map(lookup);
      const ok = cells.filter((c) => c.ok);
      return {
        method,
        cells,
        op: stat(ok.map((c) => c.op).filter((v): v is number => v !== null)),
        bwt: stat(ok.map((c) => c.bwt).filter((v): v is number => v !== null)),
        bwtUndefined: ok.filter((c) => c.bwt === null).length,
        expected: cells.length,
        missing: cells.filter((c) => !c.ok),
        reusedFrom: [...new Set(cells.filter((c) => c.cell.reused).map((c) => c.cell.run.split("/")[0] as string))],
      };
    });

  const tables: TableResult[] = plan.tables.map((spec) => {
    const unit = plan.units.find((u) => u.kind === "table" && u.id === spec.id) as PlannedUnit;
    return { spec, unit, rows: rowsOf(unit) };
  });
  const sweeps: SweepResult[] = plan.sweeps.map((spec) => {
    const units = plan.units.filter((u) => u.kind === "sweep" && u.id === spec.id);
    return {
      spec,
      lines: units[0]?.methods.map((m) => m.display) ?? [],
      points: units.map((unit) => ({ x: unit.x, unit, rows: rowsOf(unit) })),
    };
  });

  const runs: RunSummary[] = plan.runs.map((run) => {
    const f = folder(run.dir);
    const seconds = Object.values(f.run?.methods ?? {}).reduce((a, m) => a + (typeof m.seconds === "number" ? m.seconds : 0), 0);
    return { run, folder: f, complete: run.labels.filter((l) => folderMethodKeys(f).get(l) === run.keys[l] && isComplete(f, l)).length, seconds };
  });

  return { tables, sweeps, cost: plan.grid.cost ? cost(plan, plan.grid.cost.reference, folder) : null, runs, trainingSeconds: runs.reduce((a, r) => a + r.seconds, 0) };
}

const MiB = 1024 * 1024;

/** Time and peak memory of every method in the tables' run folders, relative to the reference in the same folder. */
function cost(plan: Plan, reference: string, folder: (dir: string) => FolderInfo): CostResult {
  const tableFolders = new Set(plan.units.filter((u) => u.kind === "table").map((u) => u.folder));
  const order: string[] = [];
  for (const u of plan.units) if (u.kind === "table") for (const m of u.methods) if (!order.includes(m.label)) order.push(m.label);
  const ratios = new Map<string, { time: number[]; memory: number[]; seconds: number[]; peak: number[] }>();
  const used: string[] = [];
  for (const run of plan.runs) {
    if (!tableFolders.has(run.unit) || !run.labels.includes(reference)) continue;
    const f = folder(run.dir);
    const done = (l: string): boolean => folderMethodKeys(f).get(l) === run.keys[l] && isComplete(f, l) && f.run?.methods?.[l]?.status === "done";
    if (!done(reference)) continue;
    const ref = f.run?.methods?.[reference];
    const refSeconds = numberOrNull(ref?.seconds);
    const refPeak = numberOrNull(ref?.peakBytes);
    used.push(run.dir);
    for (const label of run.labels) {
      if (!done(label)) continue;
      const m = f.run?.methods?.[label];
      const seconds = numberOrNull(m?.seconds);
      const peak = numberOrNull(m?.peakBytes);
      const r = ratios.get(label) ?? { time: [], memory: [], seconds: [], peak: [] };
      if (seconds !== null) r.seconds.push(seconds);
      if (peak !== null) r.peak.push(peak / MiB);
      if (seconds !== null && refSeconds !== null && refSeconds > 0) r.time.push(seconds / refSeconds);
      if (peak !== null && refPeak !== null && refPeak > 0) r.memory.push(peak / refPeak);
      ratios.set(label, r);
    }
  }
  const labels = [reference, ...order.filter((l) => l !== reference && ratios.has(l))];
  return {
    reference,
    runs: used,
    rows: labels.map((label) => {
      const r = ratios.get(label) ?? { time: [], memory: [], seconds: [], peak: [] };
      return { label, time: stat(r.time), memory: stat(r.memory), seconds: stat(r.seconds), peakMiB: stat(r.peak) };
    }),
  };
}

/** A path relative to `from` with forward slashes (for Markdown links and footnotes). */
export function relPath(path: string, from: string): string {
  const r = relative(from, path).split("\\").join("/");
  return r === "" ? "." : r;
}
