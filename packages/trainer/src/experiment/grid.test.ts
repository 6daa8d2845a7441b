// The grid file: defaults, shorthands, and errors that name the field (schema and expanded run configurations).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config/errors.js";
import { expandGrid } from "./expand.js";
import { defaultGridFile, loadGrid, parseGrid } from "./grid.js";

const tmp = mkdtempSync(join(tmpdir(), "seekr-grid-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The messages of the ConfigError thrown by fn, as "path: message" lines. */
function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error("expected a ConfigError");
}

const expand = (g: unknown) => expandGrid(parseGrid(g), { runsRoot: join(tmp, "runs"), env: {} });

describe("grid schema", () => {
  it("fills in defaults and expands method shorthands", () => {
    const g = parseGrid({ tables: [{ id: "t", methods: ["seqft", "replay-10%", { name: "seekr", label: "s" }] }] });
    expect(g.seeds).toEqual([1, 2, 3]);
    expect(g.orders).toBeNull();
    expect(g.base).toEqual({});
    expect(g.id).toBe("grid");
    expect(g.tables[0]).toMatchObject({ id: "t", title: "t", orders: "all" });
    expect(g.tables[0]!.methods).toEqual([{ name: "seqft" }, { name: "replay", replayRatio: 0.1 }, { name: "seekr", label: "s" }]);
    expect(g.cost).toBeNull();
  });

  it("errors name the field: types, unknown fields (with a suggestion), ids, seeds, enums", () => {
    const got = issues(() =>
      parseGrid({
        seeds: [1, 1.5],
        tables: [{ id: "a b", methods: [], orders: "some" }],
        sweeps: [{ id: "s", x: "budget.heads", values: "1,2", methods: ["seekr"], seed: 2 }],
        cost: { reference: 3 },
        tabels: [],
      }),
    );
    expect(got).toEqual(
      expect.arrayContaining([
        "seeds[1]: expected an integer, got 1.5",
        expect.stringMatching(/^tables\[0\]\.id: expected an id of letters, digits and \. _ - .*, got "a b"$/),
        "tables[0].methods: expected at least one method, got []",
        'tables[0].orders: expected one of "all", "first", got "some"',
        'sweeps[0].values: expected a list of values, got "1,2"',
        'sweeps[0].seed: unknown field (did you mean "seeds"?)',
        "cost.reference: expected a method label, got 3",
        'tabels: unknown field (did you mean "tables"?)',
      ]),
    );
  });

  it("duplicate ids and seeds, and an empty grid, are errors", () => {
    expect(issues(() => parseGrid({ seeds: [2, 2], tables: [{ id: "x", methods: ["seqft"] }], sweeps: [{ id: "x", x: "replayRatio", values: [0.1], methods: ["replay"] }] }))).toEqual([
      'sweeps[0].id: duplicate id "x" (also tables[0].id)',
      "seeds[1]: seed 2 is listed twice (also seeds[0])",
    ]);
    expect(issues(() => parseGrid({}))).toEqual(["tables: the grid has no tables and no sweeps: nothing to run"]);
  });

  it("bad run settings are reported at their place in the grid", () => {
    expect(issues(() => expand({ base: { training: { lr: -1 } }, tables: [{ id: "t", methods: ["seqft"] }] }))).toEqual(["base.training.lr: expected a positive number, got -1"]);
    expect(issues(() => expand({ tables: [{ id: "t", methods: ["seqft", { name: "replay", replayRatio: 2 }, { name: "sgd" }] }] }))).toEqual([
      "tables[0].methods[1].replayRatio: expected a number in (0, 1], got 2",
      'tables[0].methods[2].name: expected one of "seqft", "replay", "derpp", "lwf", "ewc", "seekr", "multitask", got "sgd"',
    ]);
    expect(issues(() => expand({ tables: [{ id: "t", methods: ["seekr", "seekr"] }] }))).toEqual([
      'tables[0].methods[1].label: duplicate label "seekr-1%" (also methods[0]); give the methods distinct labels',
    ]);
    expect(issues(() => expand({ orders: [["reverse", "nope"]], tables: [{ id: "t", methods: ["seqft"] }] }))[0]).toMatch(/^orders\[0\]\[1\]: unknown built-in task "nope"/);
    expect(issues(() => expand({ sweeps: [{ id: "s", x: "budget.hedas", values: [1], methods: ["seekr"] }] }))[0]).toMatch(/^sweeps\[0\]\.x: expected a method field .*got "budget\.hedas"$/);
    expect(issues(() => expand({ sweeps: [{ id: "s", x: "replayRatio", values: [0.1, 3], methods: ["replay"] }] }))).toEqual([
      "sweeps[0].values[1] (sweeps[0].methods[0].replayRatio): expected a number in (0, 1], got 3",
    ]);
    expect(issues(() => expand({ tables: [{ id: "t", methods: ["seqft"] }], cost: { reference: "replay-1%" } }))).toEqual([
      'cost.reference: no table has a method labelled "replay-1%" (labels: seqft)',
    ]);
    expect(issues(() => expand({ extras: { eval: { unseen: "some" } }, tables: [{ id: "t", methods: ["seqft"] }] }))).toEqual([
      'extras.eval.unseen: expected one of "next", "all", "none", got "some"',
    ]);
  });

  it("files: YAML errors name the line, relative paths are taken from the file's folder", () => {
    const bad = join(tmp, "bad.yaml");
    writeFileSync(bad, "tables:\n  - id: t\n    methods: [seqft\n");
    expect(issues(() => loadGrid(bad))[0]).toMatch(/bad\.yaml:\d+:\d+: malformed YAML/);
    const good = join(tmp, "sub", "my grid.yaml");
    mkdirSync(join(tmp, "sub"), { recursive: true });
    writeFileSync(good, "base:\n  data: { source: jsonl, path: data }\ntables:\n  - { id: t, methods: [seqft] }\n");
    const g = loadGrid(good);
    expect(g.id).toBe("my-grid");
    expect(g.base).toEqual({ data: { source: "jsonl", path: join(tmp, "sub", "data") } });
    expect(g.file).toBe(good);
  });

  it("the shipped grid is valid", () => {
    const g = loadGrid(defaultGridFile());
    expect(g.id).toBe("paper-small");
    expect(g.tables.map((t) => t.id)).toEqual(["table1", "table4"]);
    const plan = expandGrid(g, { runsRoot: join(tmp, "runs"), env: {} });
    expect(plan.orders).toHaveLength(2);
    expect(plan.orders[1]).toEqual([...plan.orders[0]!].reverse());
    expect(plan.runs.length).toBeGreaterThan(0);
  });
});
