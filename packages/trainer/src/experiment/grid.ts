// The grid file of `seekr experiment`: base configuration, seeds, task orders, tables, sweeps and the cost reference,
// validated with zod; every error names its field (`tables[1].methods[2].replayRatio`).

import { existsSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { ConfigError, type ConfigIssue, issuesFromZod } from "../config/errors.js";
import { knownKeysAt } from "../config/introspect.js";
import { readConfigFile } from "../config/load.js";
import { formatValue } from "../format.js";

/** A method entry as written in the grid: a method configuration (as in the run schema) or a shorthand ("replay-10%"). */
export type GridMethod = Record<string, unknown>;

export interface TableSpec {
  id: string;
  title: string;
  description?: string;
  methods: GridMethod[];
  /** Every order of the grid, or only the first. */
  orders: "all" | "first";
  /** The first N seeds of the grid (default: all). */
  seeds?: number;
}

export interface SweepSpec {
  id: string;
  title: string;
  description?: string;
  /** A dotted method field (`budget.heads`, `replayRatio`). */
  x: string;
  /** Axis caption (default: x). */
  xLabel?: string;
  values: unknown[];
  methods: GridMethod[];
  orders: "all" | "first";
  seeds?: number;
}

export interface Grid {
  /** Folder name of the grid's runs (`<runs>/<id>/...`); default the file name without extension. */
  id: string;
  title: string;
  description?: string;
  /** The grid file (absolute), or null for a grid given as an object. */
  file: string | null;
  /** Partial run configuration merged under every run (paths absolute). */
  base: Record<string, unknown>;
  /** Trainer settings outside the config schema (RunExtras), passed to every run. */
  extras: Record<string, unknown>;
  seeds: number[];
  /** Task orders; null = the default (base.data.tasks or the built-in default order, and its reverse). */
  orders: string[][] | null;
  tables: TableSpec[];
  sweeps: SweepSpec[];
  cost: { reference: string } | null;
}

const quoted = (values: readonly string[]): string => values.map((v) => JSON.stringify(v)).join(", ");
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const ID = "expected an id of letters, digits and . _ - (starting with a letter or digit)";
const id = z.string({ error: ID }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: ID });
const text = (what = "a non-empty string") => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });
const count = z.number({ error: "expected a positive integer" }).int({ error: "expected a positive integer" }).min(1, { error: "expected a positive integer" });
const METHOD = 'expected a method configuration ({name: ..., ...}) or a method name such as "seqft" or "replay-10%"';
const method = z.union([z.string({ error: METHOD }).min(1, { error: METHOD }), z.record(z.string(), z.unknown(), { error: METHOD })], { error: METHOD });
const methods = z.array(method, { error: "expected a list of method configurations" }).min(1, { error: "expected at least one method" });
const ordersChoice = (values: readonly ["all", "first"] | readonly ["first", "all"]) =>
  z.enum(values as ["all", "first"], { error: `expected one of ${quoted(values)}` });

const tableSchema = z.strictObject({
  id,
  title: text("a title").optional(),
  description: z.string({ error: "expected a text" }).optional(),
  methods,
  orders: ordersChoice(["all", "first"]).default("all"),
  seeds: count.optional(),
});

const sweepSchema = z.strictObject({
  id,
  title: text("a title").optional(),
  description: z.string({ error: "expected a text" }).optional(),
  x: text('a dotted method field such as "budget.heads"'),
  xLabel: text("an axis caption").optional(),
  values: z.array(z.unknown(), { error: "expected a list of values" }).min(1, { error: "expected at least one value" }),
  methods,
  orders: ordersChoice(["first", "all"]).default("first"),
  seeds: count.optional(),
});

/** The grid file's schema. */
export const gridSchema = z.strictObject({
  id: id.optional(),
  title: text("a title").optional(),
  description: z.string({ error: "expected a text" }).optional(),
  base: z.record(z.string(), z.unknown(), { error: "expected a (partial) run configuration" }).default({}),
  extras: z.record(z.string(), z.unknown(), { error: "expected a mapping of trainer settings (see src/run/README.md, Extras)" }).default({}),
  seeds: z
    .array(z.number({ error: "expected an integer" }).int({ error: "expected an integer" }), { error: "expected a list of integer seeds" })
    .min(1, { error: "expected at least one seed" })
    .default([1, 2, 3]),
  orders: z
    .array(z.array(text("a task name"), { error: "expected a list of task names" }).min(1, { error: "expected at least one task name" }), {
      error: "expected a list of task orders (each a list of task names)",
    })
    .min(1, { error: "expected at least one order" })
    .optional(),
  tables: z.array(tableSchema, { error: "expected a list of tables" }).default([]),
  sweeps: z.array(sweepSchema, { error: "expected a list of sweeps" }).default([]),
  cost: z.strictObject({ reference: text("a method label") }).optional(),
});

/** Path fields of a run configuration, resolved against the grid file's folder (the special values are not paths). */
const PATH_FIELDS: readonly [readonly string[], string | undefined][] = [
  [["data", "path"], undefined],
  [["model", "checkpoint"], undefined],
  [["model", "tokenizer"], "byte"],
  [["model", "pretrain", "corpus"], "builtin"],
];

/** Makes the relative paths of a (partial) run configuration absolute against `dir`; returns a copy. */
export function absolutePaths(config: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out = structuredClone(config);
  for (const [path, special] of PATH_FIELDS) {
    let node: unknown = out;
    for (const seg of path.slice(0, -1)) node = isRecord(node) ? node[seg] : undefined;
    if (!isRecord(node)) continue;
    const key = path[path.length - 1] as string;
    const v = node[key];
    if (typeof v === "string" && v !== "" && v !== special && !isAbsolute(v)) node[key] = resolve(dir, v);
  }
  return out;
}

/** `"replay-10%"` → {name: "replay", replayRatio: 0.1}; `"seqft"` → {name: "seqft"}; objects are copied. */
export function methodEntry(m: unknown): GridMethod {
  if (typeof m !== "string") return structuredClone(m as GridMethod);
  const pct = /^([a-z+]+)-(\d+(?:\.\d+)?)%$/i.exec(m.trim());
  if (pct) return { name: (pct[1] as string).toLowerCase(), replayRatio: Number(pct[2]) / 100 };
  return { name: m.trim() };
}

/**
 * Validates a grid (as read from YAML / JSON) and fills in defaults. Shape errors only: the run configurations
 * it expands to are checked by {@link expandGrid}. Throws one ConfigError listing every bad field.
 */
export function parseGrid(input: unknown, file: string | null = null): Grid {
  const source = file ? `grid file ${file}` : "grid";
  if (!isRecord(input)) throw new ConfigError([{ path: "(root)", message: `expected a mapping of settings, got ${formatValue(input)}` }], source);
  const parsed = gridSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(issuesFromZod(parsed.error.issues, input, (path) => knownKeysAt(gridSchema, path)), source);
  const g = parsed.data;
  const issues: ConfigIssue[] = [];
  const ids = new Map<string, string>();
  const claim = (value: string, where: string): void => {
    const first = ids.get(value);
    if (first !== undefined) issues.push({ path: where, message: `duplicate id ${JSON.stringify(value)} (also ${first})` });
    else ids.set(value, where);
  };
  g.tables.forEach((t, i) => claim(t.id, `tables[${i}].id`));
  g.sweeps.forEach((s, i) => claim(s.id, `sweeps[${i}].id`));
  const seen = new Map<number, number>();
  g.seeds.forEach((s, i) => {
    if (seen.has(s)) issues.push({ path: `seeds[${i}]`, message: `seed ${s} is listed twice (also seeds[${seen.get(s)}])` });
    else seen.set(s, i);
  });
  if (g.tables.length === 0 && g.sweeps.length === 0) issues.push({ path: "tables", message: "the grid has no tables and no sweeps: nothing to run" });
  if (issues.length) throw new ConfigError(issues, source);
  const dir = file ? dirname(file) : process.cwd();
  const fileId = file ? basename(file, extname(file)).replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "") : "";
  return {
    id: g.id ?? (fileId || "grid"),
    title: g.title ?? `Results: ${g.id ?? (fileId || "grid")}`,
    ...(g.description !== undefined ? { description: g.description } : {}),
    file,
    base: absolutePaths(g.base, dir),
    extras: structuredClone(g.extras),
    seeds: [...g.seeds],
    orders: g.orders ? g.orders.map((o) => [...o]) : null,
    tables: g.tables.map((t) => ({
      id: t.id,
      title: t.title ?? t.id,
      ...(t.description !== undefined ? { description: t.description } : {}),
      methods: t.methods.map(methodEntry),
      orders: t.orders,
      ...(t.seeds !== undefined ? { seeds: t.seeds } : {}),
    })),
    sweeps: g.sweeps.map((s) => ({
      id: s.id,
      title: s.title ?? s.id,
      ...(s.description !== undefined ? { description: s.description } : {}),
      x: s.x,
      ...(s.xLabel !== undefined ? { xLabel: s.xLabel } : {}),
      values: structuredClone(s.values),
      methods: s.methods.map(methodEntry),
      orders: s.orders,
      ...(s.seeds !== undefined ? { seeds: s.seeds } : {}),
    })),
    cost: g.cost ? { reference: g.cost.reference } : null,
  };
}

/** Reads and validates a grid file (.yaml, .yml or .json); errors name the file and the field. */
export function loadGrid(file: string): Grid {
  const abs = resolve(file);
  return parseGrid(readConfigFile(abs), abs);
}

/** The grid shipped with the package: experiments/paper-small.yaml. */
export function defaultGridFile(): string {
  const file = fileURLToPath(new URL("../../experiments/paper-small.yaml", import.meta.url));
  if (!existsSync(file)) throw new Error(`the default grid file is missing: ${file}`);
  return file;
}
