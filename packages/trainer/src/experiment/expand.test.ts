// Expanding a grid: run folders per (table or sweep point, order, seed), shared results, selection flags, overrides.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/errors.js";
import { DEFAULT_TASK_ORDER } from "../tasks/registry.js";
import { applyGridOverrides, expandGrid, type Plan } from "./expand.js";
import { parseGrid } from "./grid.js";

const runsRoot = "/tmp/seekr-expand-test-runs";

const GRID = {
  id: "g",
  base: { model: { preset: "tiny" }, data: { samplesPerTask: 16 } },
  seeds: [1, 2, 3],
  tables: [
    { id: "main", methods: ["seqft", "replay-1%", "seekr-1%"] },
    { id: "abl", methods: [{ name: "seekr", label: "seekr-random", budget: { strategy: "random" } }, "seekr-1%"] },
  ],
  sweeps: [{ id: "heads", x: "budget.heads", values: ["12.5%", 4], methods: ["seekr-1%"] }],
  cost: { reference: "replay-1%" },
};

const plan = (grid: unknown = GRID, o: Partial<Parameters<typeof expandGrid>[1]> = {}): Plan => expandGrid(parseGrid(grid), { runsRoot, env: {}, ...o });

describe("expandGrid", () => {
  it("default orders: the built-in order and its reverse; base.data.tasks when given", () => {
    expect(plan().orders).toEqual([[...DEFAULT_TASK_ORDER], [...DEFAULT_TASK_ORDER].reverse()]);
    const p = plan({ ...GRID, base: { data: { tasks: ["sort", "kv", "upper"] } } });
    expect(p.orders).toEqual([
      ["sort", "kv", "upper"],
      ["upper", "kv", "sort"],
    ]);
    expect(p.runs.find((r) => r.name === "main/2-s1")?.config.data.tasks).toEqual(["upper", "kv", "sort"]);
  });

  it("one folder per (unit, order, seed) with the unit's methods; identical methods are trained once", () => {
    const p = plan();
    expect(p.root).toBe(join(runsRoot, "g"));
    // main: 2 orders × 3 seeds; abl: the same, seekr-1% reused from main; heads (first order): 12.5% = main's seekr-1% (reused), 4 heads new.
    expect(p.runs.map((r) => r.name).filter((n) => n.startsWith("main/")).sort()).toEqual(["main/1-s1", "main/1-s2", "main/1-s3", "main/2-s1", "main/2-s2", "main/2-s3"]);
    expect(p.runs.filter((r) => r.unit === "abl")).toHaveLength(6);
    expect(p.runs.filter((r) => r.unit === "heads-12.5pct")).toHaveLength(0);
    expect(p.runs.filter((r) => r.unit === "heads-4").map((r) => r.name)).toEqual(["heads-4/1-s1", "heads-4/1-s2", "heads-4/1-s3"]);
    expect(p.runs).toHaveLength(15);
    const main = p.runs.find((r) => r.name === "main/2-s3")!;
    expect(main.dir).toBe(join(runsRoot, "g", "main", "2-s3"));
    expect(main.labels).toEqual(["seqft", "replay-1%", "seekr-1%"]);
    expect(main.config.seed).toBe(3);
    expect(main.config.output).toBe(main.dir);
    expect(main.config.methods.map((m) => m.label)).toEqual(main.labels);
    expect(p.runs.find((r) => r.name === "abl/1-s1")!.labels).toEqual(["seekr-random"]);
    const abl = p.units.find((u) => u.folder === "abl")!;
    const both = abl.cells.filter((c) => c.label === "seekr-1%");
    expect(both).toHaveLength(6);
    expect(both.every((c) => c.reused && c.run.startsWith("main/"))).toBe(true);
    const heads = p.units.filter((u) => u.kind === "sweep");
    expect(heads.map((u) => [u.folder, u.x, u.orderIndices, u.seeds])).toEqual([
      ["heads-12.5pct", "12.5%", [0], [1, 2, 3]],
      ["heads-4", 4, [0], [1, 2, 3]],
    ]);
    // The swept value is coerced like a CLI override: "12.5%" → {fraction: 0.125}, the default (so reused).
    expect(heads[0]!.methods[0]!.config.budget.heads).toEqual({ fraction: 0.125 });
    expect(heads[0]!.cells.every((c) => c.reused)).toBe(true);
    expect(heads[1]!.methods[0]!.config.budget.heads).toBe(4);
    // Execution order: seed by seed, then order, then unit.
    expect(p.runs.slice(0, 4).map((r) => r.name)).toEqual(["main/1-s1", "abl/1-s1", "heads-4/1-s1", "main/2-s1"]);
    // A shared base-model cache under the runs root (unless SEEKR_CACHE_DIR is set).
    expect(main.extras.cacheDir).toBe(join(runsRoot, ".cache"));
    expect(plan(GRID, { env: { SEEKR_CACHE_DIR: "/x" } }).runs[0]!.extras.cacheDir).toBeUndefined();
  });

  it("--seeds, --orders and --only select; tables and sweeps limit their orders and seeds", () => {
    expect(plan(GRID, { seeds: 1 }).runs.map((r) => r.name).sort()).toEqual(["abl/1-s1", "abl/2-s1", "heads-4/1-s1", "main/1-s1", "main/2-s1"]);
    expect(plan(GRID, { seeds: 2, orders: 1 }).runs).toHaveLength(6);
    const only = plan(GRID, { only: ["abl"] });
    expect(only.tables.map((t) => t.id)).toEqual(["abl"]);
    expect(only.sweeps).toEqual([]);
    // Without main, abl trains its own seekr-1%.
    expect(only.runs.find((r) => r.name === "abl/1-s1")!.labels).toEqual(["seekr-random", "seekr-1%"]);
    expect(only.units.every((u) => u.cells.every((c) => !c.reused))).toBe(true);
    const limited = plan({ ...GRID, cost: undefined, tables: [{ id: "t", methods: ["seqft"], orders: "first", seeds: 2 }], sweeps: [{ ...GRID.sweeps[0], orders: "all" }] });
    expect(limited.runs.filter((r) => r.unit === "t").map((r) => r.name).sort()).toEqual(["t/1-s1", "t/1-s2"]);
    expect(limited.runs.filter((r) => r.unit === "heads-4")).toHaveLength(6);
    const err = (o: Partial<Parameters<typeof expandGrid>[1]>): string => {
      try {
        plan(GRID, o);
      } catch (e) {
        return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`).join("\n");
      }
      return "";
    };
    expect(err({ only: ["main", "nope"] })).toBe('--only: unknown table or sweep "nope" (the grid has: main, abl, heads)');
    expect(err({ seeds: 4 })).toBe("--seeds: the grid has 3 seeds, asked for 4");
    expect(err({ orders: 3 })).toBe("--orders: the grid has 2 orders, asked for 3");
  });

  it("--set overrides apply to the base configuration (and --extras.* to the extras)", () => {
    const g = applyGridOverrides(parseGrid(GRID), [
      { path: "training.epochs", value: "1" },
      { path: "model.numHiddenLayers", value: "1" },
      { path: "extras.eval.unseen", value: "none" },
    ], "/work");
    const p = expandGrid(g, { runsRoot, env: {} });
    expect(p.base.training.epochs).toBe(1);
    expect(p.runs[0]!.config.model.numHiddenLayers).toBe(1);
    expect(p.runs[0]!.config.data.samplesPerTask).toBe(16);
    expect(p.resolvedExtras.eval.unseen).toBe("none");
    expect(() => applyGridOverrides(parseGrid(GRID), [{ path: "training.nope", value: "1" }], "/work")).not.toThrow();
    expect(() => expandGrid(applyGridOverrides(parseGrid(GRID), [{ path: "training.nope", value: "1" }], "/work"), { runsRoot, env: {} })).toThrow(
      /base\.training\.nope: unknown field/,
    );
  });

  it("results are keyed by settings: another base configuration gives other keys, the same one the same", () => {
    const a = plan();
    const b = plan();
    const c = plan({ ...GRID, base: { ...GRID.base, training: { lr: 0.01 } } });
    const key = (p: Plan) => p.runs.find((r) => r.name === "main/1-s1")!.keys["seqft"];
    expect(key(a)).toBe(key(b));
    expect(key(a)).not.toBe(key(c));
    expect(a.runs.find((r) => r.name === "main/1-s1")!.keys["seqft"]).not.toBe(a.runs.find((r) => r.name === "main/1-s2")!.keys["seqft"]);
  });
});
