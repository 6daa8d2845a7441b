// Expanding a grid into run folders: one folder per (table or sweep point, order, seed) holding the methods it trains,
// so that methods compared in a table share a process; identical methods of several tables are trained once.

import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, type ConfigIssue } from "../config/errors.js";
import { fieldSchema, setConfigValue } from "../config/overrides.js";
import { resolveConfig } from "../config/resolve.js";
import type { MethodConfig, RunConfig } from "../config/types.js";
import { formatValue } from "../format.js";
import { resolveExtras, type RunExtras, type RunExtrasInput } from "../run/extras.js";
import { hashOf, stableJson } from "../run/hash.js";
import { DEFAULT_TASK_ORDER } from "../tasks/registry.js";
import type { Grid, GridMethod, SweepSpec, TableSpec } from "./grid.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep merge of plain objects (lists and scalars of `over` replace those of `under`); returns a new object. */
export function deepMerge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(under);
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isRecord(v) && isRecord(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : structuredClone(v);
  }
  return out;
}

/** A method of a table or sweep point, resolved (label and every default filled in). */
export interface PlannedMethod {
  /** The label in its run folder. */
  label: string;
  /** The name shown in tables and plot legends (the label; for sweeps, the label given or the method name). */
  display: string;
  config: MethodConfig;
}

/** Where one (method, order, seed) result of a table or sweep point comes from. */
export interface PlannedCell {
  orderIndex: number;
  seed: number;
  label: string;
  /** The run folder that trains it (absolute) and its name relative to the grid folder. */
  dir: string;
  run: string;
  /** Trained in another table's folder (an identical method for the same order and seed). */
  reused: boolean;
  /** Identity of the result: settings, order, seed and method (see cellKey). */
  key: string;
}

export interface PlannedUnit {
  kind: "table" | "sweep";
  /** The table's or the sweep's id. */
  id: string;
  /** Folder name under the grid folder: the table id, or `<sweep id>-<x>`. */
  folder: string;
  /** Sweep points: the value of x and its position in `values`. */
  x?: unknown;
  xIndex?: number;
  methods: PlannedMethod[];
  orderIndices: number[];
  seeds: number[];
  cells: PlannedCell[];
}

/** One run folder = one `seekr run` child process. */
export interface PlannedRun {
  /** `<unit folder>/<order number>-s<seed>` (order numbers from 1). */
  name: string;
  dir: string;
  unit: string;
  orderIndex: number;
  seed: number;
  /** The methods trained in this folder, and the result key of each (see cellKey). */
  labels: string[];
  keys: Record<string, string>;
  /** The resolved configuration (output = dir). */
  config: RunConfig;
  /** The trainer settings outside the schema (as given; resolved by the child). */
  extras: Record<string, unknown>;
}

export interface Plan {
  grid: Grid;
  /** `<runs>/<grid id>`. */
  root: string;
  orders: string[][];
  seeds: number[];
  /** The base configuration resolved (with the default methods), for the document's setup section. */
  base: RunConfig;
  extras: Record<string, unknown>;
  /** Extras resolved (defaults filled in). */
  resolvedExtras: RunExtras;
  tables: TableSpec[];
  sweeps: SweepSpec[];
  units: PlannedUnit[];
  /** In execution order: seed by seed, then order, then table / sweep point. */
  runs: PlannedRun[];
}

export interface ExpandOptions {
  /** Root of the runs (the grid's folder is `<runsRoot>/<grid id>`). */
  runsRoot: string;
  /** Only the first N seeds / orders of the grid. */
  seeds?: number;
  orders?: number;
  /** Only these tables and sweeps (ids). */
  only?: readonly string[];
  /** Environment (SEEKR_CACHE_DIR decides whether the grid sets a shared base-model cache). */
  env?: Record<string, string | undefined>;
}

/** Re-labels a ConfigError's issue paths (e.g. `methods[1].x` → `tables[0].methods[1].x`). */
function remapIssues(e: unknown, map: (path: string) => string): ConfigIssue[] {
  if (!(e instanceof ConfigError)) throw e;
  return e.issues.map((i) => ({ path: map(i.path), message: i.message }));
}

const prefixed = (prefix: string) => (path: string): string => (path === "(root)" ? prefix : `${prefix}.${path}`);

/** The settings of a run that a result depends on, without the output folder, the methods, the seed and the order. */
export function settingsKey(config: Record<string, unknown>, extras: Record<string, unknown> | null): string {
  const data = isRecord(config.data) ? { ...config.data, tasks: undefined } : config.data;
  return hashOf({ config: { ...config, output: undefined, methods: undefined, seed: undefined, extras: undefined, data }, extras: extras ? { ...extras, cacheDir: undefined } : null });
}

/** The identity of one method's result: settings, task order, seed and the method's resolved configuration. */
export function cellKey(settings: string, tasks: readonly string[] | undefined, seed: unknown, method: unknown): string {
  return hashOf({ settings, tasks: tasks ?? null, seed, method });
}

/** A value of x as text: numbers as they are, {fraction: f} as a percentage. */
export function formatX(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v;
  if (isRecord(v) && typeof v.fraction === "number" && Object.keys(v).length === 1) return `${Number((v.fraction * 100).toPrecision(6))}%`;
  return formatValue(v);
}

/** A value of x in a folder name. */
export function xSlug(v: unknown): string {
  return formatX(v).replace(/%/g, "pct").replace(/[^A-Za-z0-9._-]+/g, "_");
}

/** `<order number>-s<seed>` (order numbers from 1). */
export function runFolderName(orderIndex: number, seed: number): string {
  return `${orderIndex + 1}-s${seed}`;
}

/** The task orders of a grid: its own, else base.data.tasks (or the built-in default order) and its reverse. */
function gridOrders(grid: Grid): string[][] {
  if (grid.orders) return grid.orders;
  const data = isRecord(grid.base.data) ? grid.base.data : {};
  const tasks = Array.isArray(data.tasks) ? (data.tasks as string[]) : data.source === undefined || data.source === "builtin" ? [...DEFAULT_TASK_ORDER] : null;
  if (!tasks) throw new ConfigError([{ path: "orders", message: `required when base.data.source is ${formatValue(data.source)} and base.data.tasks is not given` }], "grid");
  const reversed = [...tasks].reverse();
  return stableJson(reversed) === stableJson(tasks) ? [tasks] : [tasks, reversed];
}

/** The grid's units and run folders (validating every run configuration they expand to). */
export function expandGrid(grid: Grid, options: ExpandOptions): Plan {
  const source = grid.file ? `grid file ${grid.file}` : "grid";
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError(issues, source);
  };
  const root = resolve(options.runsRoot, grid.id);

  // Selection: --only, --seeds, --orders.
  let tables = grid.tables;
  let sweeps = grid.sweeps;
  if (options.only !== undefined) {
    const known = [...grid.tables.map((t) => t.id), ...grid.sweeps.map((s) => s.id)];
    const unknown = options.only.filter((id) => !known.includes(id));
    if (unknown.length) fail([{ path: "--only", message: `unknown table or sweep ${unknown.map((u) => JSON.stringify(u)).join(", ")} (the grid has: ${known.join(", ")})` }]);
    tables = tables.filter((t) => options.only!.includes(t.id));
    sweeps = sweeps.filter((s) => options.only!.includes(s.id));
  }
  const allOrders = gridOrders(grid);
  const limit = (n: number | undefined, list: readonly unknown[], flag: string): number => {
    if (n === undefined) return list.length;
    if (!Number.isInteger(n) || n < 1) fail([{ path: flag, message: `expected a positive integer, got ${formatValue(n)}` }]);
    if (n > list.length) fail([{ path: flag, message: `the grid has ${list.length} ${flag === "--seeds" ? "seeds" : "orders"}, asked for ${n}` }]);
    return n;
  };
  const seeds = grid.seeds.slice(0, limit(options.seeds, grid.seeds, "--seeds"));
  const orders = allOrders.slice(0, limit(options.orders, allOrders, "--orders"));

  // Base configuration and orders.
  let base: RunConfig;
  try {
    base = resolveConfig(grid.base, source);
  } catch (e) {
    return fail(remapIssues(e, prefixed("base")));
  }
  const issues: ConfigIssue[] = [];
  allOrders.forEach((order, o) => {
    try {
      resolveConfig(deepMerge(grid.base, { data: { tasks: order } }), source);
    } catch (e) {
      issues.push(...remapIssues(e, (p) => (grid.orders ? p.replace(/^data\.tasks(?=\[|$)/, `orders[${o}]`) : prefixed("base")(p))));
    }
  });
  if (issues.length) fail(issues);

  // Extras: the grid's, with a shared base-model cache under the runs folder unless one is configured.
  const extras: Record<string, unknown> = structuredClone(grid.extras);
  if (typeof extras.cacheDir === "string" && !isAbsolute(extras.cacheDir)) extras.cacheDir = resolve(grid.file ? join(grid.file, "..") : process.cwd(), extras.cacheDir);
  const env = options.env ?? process.env;
  if (extras.cacheDir === undefined && !env.SEEKR_CACHE_DIR) extras.cacheDir = join(resolve(options.runsRoot), ".cache");
  let resolvedExtras: RunExtras;
  try {
    resolvedExtras = resolveExtras(extras as RunExtrasInput);
  } catch (e) {
    const m = /^extras\.([^:]+): (.*)$/s.exec((e as Error).message);
    return fail([{ path: m ? `extras.${m[1]}` : "extras", message: m ? (m[2] as string) : (e as Error).message }]);
  }

  // Resolve every unit's methods.
  interface UnitDraft {
    kind: "table" | "sweep";
    id: string;
    folder: string;
    x?: unknown;
    xIndex?: number;
    raw: GridMethod[];
    methods: PlannedMethod[];
    orderIndices: number[];
    seeds: number[];
  }
  const drafts: UnitDraft[] = [];
  const resolveMethods = (raw: GridMethod[], where: (path: string) => string): MethodConfig[] | null => {
    try {
      return resolveConfig({ ...grid.base, methods: raw }, source).methods;
    } catch (e) {
      issues.push(...remapIssues(e, where));
      return null;
    }
  };
  const pick = (spec: TableSpec | SweepSpec) => ({
    orderIndices: spec.orders === "first" ? [0] : orders.map((_, i) => i),
    seeds: seeds.slice(0, spec.seeds ?? seeds.length),
  });
  const tableIndex = (t: TableSpec): number => grid.tables.indexOf(t);
  const sweepIndex = (s: SweepSpec): number => grid.sweeps.indexOf(s);
  for (const t of tables) {
    const ti = tableIndex(t);
    const resolved = resolveMethods(t.methods, (p) => p.replace(/^methods(?=\[)/, `tables[${ti}].methods`));
    if (!resolved) continue;
    drafts.push({ kind: "table", id: t.id, folder: t.id, raw: t.methods, methods: resolved.map((m) => ({ label: m.label, display: m.label, config: m })), ...pick(t) });
  }
  const ALL_METHOD_FIELDS = "name, label, replayRatio, lambda1, lambda2, budget.layers, budget.heads, budget.queryRows, budget.strategy, importance.measure, importance.combine, interleave, lwf.temperature, lwf.alpha, ewc.lambda, ewc.samples";
  for (const s of sweeps) {
    const si = sweepIndex(s);
    if (fieldSchema(`methods[0].${s.x}`) === undefined || s.x === "name" || s.x === "label") {
      issues.push({ path: `sweeps[${si}].x`, message: `expected a method field (one of ${ALL_METHOD_FIELDS.replace(/^name, label, /, "")}), got ${formatValue(s.x)}` });
      continue;
    }
    const slugs = new Map<string, number>();
    s.values.forEach((v, vi) => {
      const slug = xSlug(v);
      const first = slugs.get(slug);
      if (first !== undefined) issues.push({ path: `sweeps[${si}].values[${vi}]`, message: `${formatValue(v)} repeats sweeps[${si}].values[${first}]` });
      else slugs.set(slug, vi);
    });
    // Line names: the label given, else the method name (numbered when several methods share it).
    const names = s.methods.map((m) => (typeof m.label === "string" ? m.label : String(m.name ?? "?")));
    const display = names.map((n, i) => (names.filter((x) => x === n).length > 1 && typeof s.methods[i]?.label !== "string" ? `${n} (${i + 1})` : n));
    s.values.forEach((v, vi) => {
      let raw: GridMethod[];
      try {
        raw = s.methods.map((m) => (setConfigValue({ methods: [m] }, `methods[0].${s.x}`, v).methods as GridMethod[])[0] as GridMethod);
      } catch (e) {
        issues.push(...remapIssues(e, () => `sweeps[${si}].values[${vi}]`));
        return;
      }
      const xPath = new RegExp(`^methods\\[(\\d+)\\]\\.${s.x.replace(/[.[\]]/g, "\\$&")}(?=$|[.[])`);
      const resolved = resolveMethods(raw, (p) => (xPath.test(p) ? `sweeps[${si}].values[${vi}] (${p.replace(/^methods/, `sweeps[${si}].methods`)})` : p.replace(/^methods(?=\[)/, `sweeps[${si}].methods`)));
      if (!resolved) return;
      drafts.push({
        kind: "sweep",
        id: s.id,
        folder: `${s.id}-${xSlug(v)}`,
        x: v,
        xIndex: vi,
        raw,
        methods: resolved.map((m, i) => ({ label: m.label, display: display[i] as string, config: m })),
        ...pick(s),
      });
    });
  }
  if (grid.cost) {
    const labelsOf = (raw: GridMethod[]): string[] => {
      try {
        return resolveConfig({ ...grid.base, methods: raw }, source).methods.map((m) => m.label);
      } catch {
        return []; // reported above for the selected tables
      }
    };
    const labels = new Set(grid.tables.flatMap((t) => labelsOf(t.methods)));
    if (!labels.has(grid.cost.reference)) issues.push({ path: "cost.reference", message: `no table has a method labelled ${JSON.stringify(grid.cost.reference)} (labels: ${[...labels].join(", ")})` });
  }
  if (issues.length) fail(issues);

  // Folders: assign each (order, seed, method) to the first unit that has it.
  const settings = settingsKey(base as unknown as Record<string, unknown>, resolvedExtras as unknown as Record<string, unknown>);
  const owner = new Map<string, { dir: string; run: string }>();
  const runs = new Map<string, PlannedRun>();
  const units: PlannedUnit[] = [];
  const unitOrder: string[] = [];
  for (const d of drafts) {
    unitOrder.push(d.folder);
    const cells: PlannedCell[] = [];
    for (const o of d.orderIndices) {
      const order = orders[o] as string[];
      for (const seed of d.seeds) {
        const name = `${d.folder}/${runFolderName(o, seed)}`;
        const dir = join(root, d.folder, runFolderName(o, seed));
        for (const m of d.methods) {
          const key = cellKey(settings, order, seed, m.config);
          const prior = owner.get(key);
          if (prior) {
            cells.push({ orderIndex: o, seed, label: m.label, dir: prior.dir, run: prior.run, reused: true, key });
            continue;
          }
          owner.set(key, { dir, run: name });
          cells.push({ orderIndex: o, seed, label: m.label, dir, run: name, reused: false, key });
          let run = runs.get(name);
          if (!run) {
            const config = resolveConfig(deepMerge({ ...grid.base, methods: undefined }, { seed, data: { tasks: order }, output: dir }) as Record<string, unknown>, source);
            run = { name, dir, unit: d.folder, orderIndex: o, seed, labels: [], keys: {}, config: { ...config, methods: [] }, extras };
            runs.set(name, run);
          }
          run.labels.push(m.label);
          run.keys[m.label] = key;
          run.config.methods.push(structuredClone(m.config));
        }
      }
    }
    units.push({
      kind: d.kind,
      id: d.id,
      folder: d.folder,
      ...(d.x !== undefined ? { x: d.x, xIndex: d.xIndex as number } : {}),
      methods: d.methods,
      orderIndices: d.orderIndices,
      seeds: d.seeds,
      cells,
    });
  }
  const runList = [...runs.values()].sort(
    (a, b) => seeds.indexOf(a.seed) - seeds.indexOf(b.seed) || a.orderIndex - b.orderIndex || unitOrder.indexOf(a.unit) - unitOrder.indexOf(b.unit),
  );
  return { grid, root, orders, seeds, base, extras, resolvedExtras, tables, sweeps, units, runs: runList };
}

/**
 * Applies `--set field=value` (and `--<field.path>=value`) overrides to the grid's base configuration, and
 * `--extras.<path>=value` to its extras. Relative paths in the values are taken from `cwd`.
 */
export function applyGridOverrides(grid: Grid, overrides: readonly { path: string; value: string }[], cwd: string): Grid {
  let base = grid.base;
  const extras = structuredClone(grid.extras);
  for (const o of overrides) {
    if (o.path === "extras" || o.path.startsWith("extras.")) {
      const path = o.path.split(".").slice(1);
      if (!path.length) throw new ConfigError([{ path: "--extras", message: "expects a field, e.g. --extras.eval.unseen=all" }]);
      let node = extras;
      for (const seg of path.slice(0, -1)) {
        if (!isRecord(node[seg])) node[seg] = {};
        node = node[seg] as Record<string, unknown>;
      }
      const v = o.value.trim();
      node[path[path.length - 1] as string] =
        v === "true" ? true : v === "false" ? false : v === "null" ? null : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : o.value;
      continue;
    }
    try {
      base = setConfigValue(base, o.path, o.value);
    } catch (e) {
      throw new ConfigError(remapIssues(e, (p) => `--set ${p}`));
    }
  }
  // Relative paths given on the command line are relative to the working folder.
  for (const [path, special] of [
    [["data", "path"], undefined],
    [["model", "checkpoint"], undefined],
    [["model", "tokenizer"], "byte"],
    [["model", "pretrain", "corpus"], "builtin"],
  ] as const) {
    let node: unknown = base;
    for (const seg of path.slice(0, -1)) node = isRecord(node) ? node[seg] : undefined;
    if (!isRecord(node)) continue;
    const key = path[path.length - 1] as string;
    const v = node[key];
    if (typeof v === "string" && v !== "" && v !== special && !isAbsolute(v)) node[key] = resolve(cwd, v);
  }
  return { ...grid, base, extras };
}
