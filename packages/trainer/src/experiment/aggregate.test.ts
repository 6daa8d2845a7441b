// Aggregation, the Markdown document and the sweep SVG on hand-written run folders (config.json, scores.json,
// run.json as the trainer writes them), with every expected number computed by hand.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Aggregate, aggregate, stat } from "./aggregate.js";
import { expandGrid, type Plan, type PlannedRun } from "./expand.js";
import { EXPERIMENT_FILES, runState } from "./folders.js";
import { parseGrid } from "./grid.js";
import { analysisSection, formatStat, renderResults, writeResults } from "./markdown.js";
import { sweepPlot } from "./svg.js";

const tmp = mkdtempSync(join(tmpdir(), "seekr-aggregate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const GRID = {
  id: "fx",
  title: "Fixture results",
  base: { model: { preset: "tiny", numHiddenLayers: 1 }, data: { samplesPerTask: 16 }, training: { epochs: 1 } },
  seeds: [1, 2, 3],
  orders: [["reverse", "sort"]],
  tables: [
    { id: "main", title: "Main table", methods: ["seqft", "replay-1%", "seekr-1%", "multitask"] },
    { id: "abl", title: "Ablation", methods: [{ name: "seekr", label: "seekr-random", budget: { strategy: "random" } }, "seekr-1%"] },
  ],
  sweeps: [{ id: "ratio", title: "Replay ratio", x: "replayRatio", values: [0.01, 0.1], methods: ["replay", "seekr"] }],
  cost: { reference: "replay-1%" },
};

interface Result {
  op: number;
  bwt: number | null;
  complete?: boolean;
  seconds?: number;
  peakMiB?: number;
}

/** Writes a run folder as the trainer would leave it: config.json (with extras), scores.json, run.json. */
function writeRun(plan: Plan, run: PlannedRun, results: Record<string, Result>): void {
  mkdirSync(run.dir, { recursive: true });
  writeFileSync(join(run.dir, "config.json"), JSON.stringify({ ...run.config, extras: plan.resolvedExtras }));
  const methods: Record<string, unknown> = {};
  const info: Record<string, unknown> = {};
  for (const [label, r] of Object.entries(results)) {
    const complete = r.complete ?? true;
    methods[label] = { kind: label.replace(/-.*/, ""), matrix: [[90, null], [r.op, r.op]], tasksLearned: complete ? 2 : 1, complete, op: r.op, bwt: r.bwt, forgetting: null, fwt: null, metrics: ["exact_match", "exact_match"] };
    info[label] = { status: complete ? "done" : "running", seconds: r.seconds ?? 1, ...(r.peakMiB !== undefined ? { peakBytes: r.peakMiB * 1024 * 1024 } : {}) };
  }
  writeFileSync(join(run.dir, "scores.json"), JSON.stringify({ format: "seekr.scores", version: 1, tasks: ["reverse", "sort"], metrics: ["exact_match", "exact_match"], seed: run.seed, methods }));
  writeFileSync(join(run.dir, "run.json"), JSON.stringify({ format: "seekr.run", version: 1, commit: "abc123", methods: info }));
}

let plan: Plan;
let agg: Aggregate;
const run = (name: string): PlannedRun => plan.runs.find((r) => r.name === name) as PlannedRun;

beforeAll(() => {
  plan = expandGrid(parseGrid(GRID), { runsRoot: join(tmp, "runs"), env: {} });
  const m = (op: number, bwt: number | null, seconds = 1, peakMiB = 100): Result => ({ op, bwt, seconds, peakMiB });
  writeRun(plan, run("main/1-s1"), { seqft: m(10, -50, 10, 100), "replay-1%": m(30, -20, 20, 100), "seekr-1%": m(50, -2, 24, 110), multitask: m(70, null, 30, 100) });
  writeRun(plan, run("main/1-s2"), { seqft: m(20, -40, 10, 100), "replay-1%": m(32, -18, 25, 100), "seekr-1%": m(54, -4, 30, 120), multitask: m(70, null, 30, 100) });
  // Seed 3: replay-1% did not finish (its numbers must not be used, and the folder gives no cost ratios).
  writeRun(plan, run("main/1-s3"), { seqft: m(40, -30), "replay-1%": { op: 99, bwt: 99, complete: false }, "seekr-1%": m(58, -6), multitask: m(70, null) });
  writeRun(plan, run("abl/1-s1"), { "seekr-random": m(45, -9) });
  // abl/1-s2 failed before writing anything but the status file.
  mkdirSync(run("abl/1-s2").dir, { recursive: true });
  writeFileSync(join(run("abl/1-s2").dir, EXPERIMENT_FILES.status), JSON.stringify({ status: "failed", code: 1, message: "boom" }));
  writeRun(plan, run("abl/1-s3"), { "seekr-random": m(47, -7) });
  for (const [s, ops] of [[1, [40, 60]], [2, [42, 61]], [3, [44, 62]]] as const) writeRun(plan, run(`ratio-0.1/1-s${s}`), { "replay-10%": m(ops[0], -5), "seekr-10%": m(ops[1], -1) });
  agg = aggregate(plan);
});

describe("stat", () => {
  it("mean, sample standard deviation (n − 1), n", () => {
    const s = stat([10, 20, 40]);
    expect(s.mean).toBeCloseTo(70 / 3, 12);
    expect(s.std).toBeCloseTo(Math.sqrt(700 / 3), 12); // Σ(x − mean)² = 1400/3, / (n − 1)
    expect(s.n).toBe(3);
    expect(stat([5])).toEqual({ mean: 5, std: null, n: 1, values: [5] });
    expect(stat([])).toEqual({ mean: null, std: null, n: 0, values: [] });
    expect(formatStat(stat([10, 20, 40]))).toBe("23.33 ± 15.28 (3)");
    expect(formatStat(stat([-50, -40, -30]))).toBe("-40.00 ± 10.00 (3)");
    expect(formatStat(stat([5]))).toBe("5.00 (1)");
    expect(formatStat(stat([]))).toBe("—");
  });
});

describe("aggregate", () => {
  it("tables: every method's OP and BWT over the runs that finished; unfinished and missing runs are left out", () => {
    const main = agg.tables.find((t) => t.spec.id === "main")!;
    const row = (l: string) => main.rows.find((r) => r.method.label === l)!;
    expect(row("seqft").op.mean).toBeCloseTo(70 / 3, 12);
    expect(row("seqft").bwt).toMatchObject({ mean: -40, n: 3 });
    expect(row("seqft").bwt.std).toBeCloseTo(10, 12);
    expect(row("replay-1%").op).toMatchObject({ mean: 31, n: 2 });
    expect(row("replay-1%").op.std).toBeCloseTo(Math.SQRT2, 12);
    expect(row("replay-1%").missing.map((c) => [c.cell.run, c.reason])).toEqual([["main/1-s3", "unfinished: 1/2 tasks learned"]]);
    expect(row("seekr-1%").op).toMatchObject({ mean: 54, std: 4, n: 3 });
    expect(row("multitask").bwt.n).toBe(0);
    expect(row("multitask").bwtUndefined).toBe(3);
    const abl = agg.tables.find((t) => t.spec.id === "abl")!;
    const random = abl.rows[0]!;
    expect(random.op).toMatchObject({ mean: 46, n: 2 });
    expect(random.missing.map((c) => [c.cell.run, c.reason])).toEqual([["abl/1-s2", "failed (exit 1): boom; log: experiment.log"]]);
    // Nothing run at all: every cell missing, "not run yet".
    const none = aggregate(expandGrid(parseGrid(GRID), { runsRoot: join(tmp, "empty"), env: {} }));
    expect(none.tables[0]!.rows[0]!.missing.map((c) => c.reason)).toEqual(["not run yet", "not run yet", "not run yet"]);
    expect(none.tables[0]!.rows[0]!.op).toMatchObject({ mean: null, n: 0 });
    // seekr-1% in the ablation is main's (same settings, order and seed): the same numbers.
    expect(abl.rows[1]!.op).toMatchObject({ mean: 54, std: 4, n: 3 });
    expect(abl.rows[1]!.reusedFrom).toEqual(["main"]);
  });

  it("sweeps: one point per value, reused points from the tables", () => {
    const s = agg.sweeps[0]!;
    expect(s.lines).toEqual(["replay", "seekr"]);
    expect(s.points.map((p) => p.x)).toEqual([0.01, 0.1]);
    expect(s.points.map((p) => p.rows.map((r) => [r.op.mean, r.op.n]))).toEqual([
      [
        [31, 2],
        [54, 3],
      ],
      [
        [42, 3],
        [61, 3],
      ],
    ]);
  });

  it("cost: ratios to the reference in the same folder, over the folders where it finished", () => {
    const c = agg.cost!;
    expect(c.runs.map((d) => d.slice(plan.root.length + 1))).toEqual(["main/1-s1", "main/1-s2"]);
    const row = (l: string) => c.rows.find((r) => r.label === l)!;
    expect(c.rows.map((r) => r.label)).toEqual(["replay-1%", "seqft", "seekr-1%", "multitask"]);
    expect(row("replay-1%").time).toMatchObject({ mean: 1, std: 0, n: 2 });
    expect(row("seekr-1%").time.mean).toBeCloseTo(1.2, 12); // 24/20 and 30/25
    expect(row("seekr-1%").time.std).toBeCloseTo(0, 12);
    expect(row("seqft").time.mean).toBeCloseTo(0.45, 12); // 10/20 and 10/25
    expect(row("seekr-1%").memory.mean).toBeCloseTo(1.15, 12); // 110/100 and 120/100
    expect(row("multitask").seconds).toMatchObject({ mean: 30, n: 2 });
    expect(row("seekr-1%").peakMiB.mean).toBeCloseTo(115, 12);
  });

  it("a result trained in another folder with the same settings is found there (e.g. after --only)", () => {
    const only = expandGrid(parseGrid(GRID), { runsRoot: join(tmp, "runs"), env: {}, only: ["abl"] });
    expect(only.runs.find((r) => r.name === "abl/1-s1")!.labels).toEqual(["seekr-random", "seekr-1%"]);
    const a = aggregate(only);
    const both = a.tables[0]!.rows[1]!;
    expect(both.op).toMatchObject({ mean: 54, std: 4, n: 3 });
    expect(both.cells.map((c) => c.from?.slice(plan.root.length + 1))).toEqual(["main/1-s1", "main/1-s2", "main/1-s3"]);
  });

  it("runState: complete folders are skipped, unfinished ones resumed, other settings started over", () => {
    expect(runState(run("main/1-s1")).state).toBe("done");
    expect(runState(run("main/1-s3")).state).toBe("resume");
    expect(runState(run("abl/1-s2"))).toMatchObject({ state: "fresh", reason: "new" });
    expect(runState(run("ratio-0.1/1-s1")).state).toBe("done");
    const other = expandGrid(parseGrid({ ...GRID, base: { ...GRID.base, training: { epochs: 2 } } }), { runsRoot: join(tmp, "runs"), env: {} });
    expect(runState(other.runs.find((r) => r.name === "main/1-s1")!)).toMatchObject({ state: "stale" });
    expect(aggregate(other).tables[0]!.rows[0]!.missing[0]!.reason).toBe("the folder holds results of other settings (--overwrite retrains it)");
    // A folder written before a setting existed (saved config without it) still matches: it is resolved again with the defaults.
    const r2 = run("ratio-0.1/1-s2");
    const saved = JSON.parse(readFileSync(join(r2.dir, "config.json"), "utf8"));
    delete saved.checkpoint;
    delete saved.eval;
    delete saved.extras.seekr;
    writeFileSync(join(r2.dir, "config.json"), JSON.stringify(saved));
    expect(runState(r2).state).toBe("done");
  });
});

/** Well-formed XML (tags nest and close; attributes quoted); returns the element names in order. */
function xmlElements(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|([<>])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml)) !== null) {
    if (m[0].startsWith("<!--")) continue;
    if (m[5] !== undefined) throw new Error(`stray ${m[5]} at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    const [, close, name, , self] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`mismatched </${name}> at ${m.index}`);
    } else {
      names.push(name as string);
      if (!self) stack.push(name as string);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join("> <")}>`);
  return names;
}

describe("the document", () => {
  const out = () => join(tmp, "docs", "RESULTS.md");
  const meta = {
    command: "seekr experiment --grid fx.yaml --jobs 2",
    commit: "0123456789abcdef",
    dirty: false,
    machine: { cpu: "Test CPU", cores: 2, memoryBytes: 8 * 1024 ** 3, node: "v22.0.0", platform: "linux x64" },
    wallSeconds: 3723,
    date: new Date("2026-01-02T03:04:05Z"),
    jobs: 2,
    aggregateOnly: false,
  };

  it("header, tables with mean ± std (n), — with a footnote naming the folder, sweep plot and table, cost", () => {
    const doc = renderResults(plan, agg, meta, { out: out(), cwd: tmp });
    const md = doc.markdown;
    expect(md).toMatch(/^# Fixture results\n/);
    expect(md).toContain("| command | `seekr experiment --grid fx.yaml --jobs 2` |");
    expect(md).toContain("| commit | `0123456789abcdef` |");
    expect(md).toContain("| runs trained at | `abc123` |");
    expect(md).toContain("| machine | Test CPU, 2 cores, 8.0 GiB memory, Node v22.0.0, linux x64 |");
    expect(md).toContain("| date | 2026-01-02 03:04 UTC |");
    expect(md).toContain("1h02m for this invocation (2 jobs)");
    expect(md).toMatch(/\| model \| `tiny` preset: 1 layer × 4 heads/);
    expect(md).toContain("| order 1 | reverse → sort |");
    expect(md).toContain("| seqft | 23.33 ± 15.28 (3) | -40.00 ± 10.00 (3) | 3/3 |");
    expect(md).toMatch(/\| replay-1% \| 31\.00 ± 1\.41 \(2\)\[\^(n\d+)\] \| -19\.00 ± 1\.41 \(2\)\[\^\1\] \| 2\/3 \|/);
    const note = /\| replay-1% \| 31\.00 ± 1\.41 \(2\)\[\^(n\d+)\]/.exec(md)![1]!;
    expect(md).toContain(`[^${note}]: replay-1%: 1 of 3 runs missing. \`runs/fx/main/1-s3\`: unfinished: 1/2 tasks learned.`);
    expect(md).toContain("| seekr-1% | 54.00 ± 4.00 (3) | -4.00 ± 2.00 (3) | 3/3 |");
    expect(md).toContain("| multitask | 70.00 ± 0.00 (3) | n/a | 3/3 |");
    // The unfinished run never shows its numbers (op 99 in scores.json).
    expect(md).not.toContain("99.00");
    // Per run: the missing cell is — with the same footnote.
    expect(md).toContain(`| order 1, seed 3 | 40.00 / -30.00 | —[^${note}] | 58.00 / -6.00 | 70.00 / n/a |`);
    expect(md).toMatch(/\| seekr-random \| 46\.00 ± 1\.41 \(2\)\[\^n\d+\] \| -8\.00 ± 1\.41 \(2\)\[\^n\d+\] \| 2\/3 \|/);
    expect(md).toMatch(/\[\^n\d+\]: seekr-random: 1 of 3 runs missing\. `runs\/fx\/abl\/1-s2`: failed \(exit 1\): boom; log: experiment\.log\./);
    expect(md).toContain("seekr-1% comes from `main`");
    // Sweep: the plot, linked relative to the document, and its table.
    expect(md).toContain("![Replay ratio](results/fx/ratio.svg)");
    expect(md).toContain("| replayRatio | replay OP | replay BWT | seekr OP | seekr BWT |");
    expect(md).toMatch(/\| 0\.01 \| 31\.00 ± 1\.41 \(2\)\[\^n\d+\] \| -19\.00 ± 1\.41 \(2\)\[\^n\d+\] \| 54\.00 ± 4\.00 \(3\) \| -4\.00 ± 2\.00 \(3\) \|/);
    expect(md).toContain("| 0.1 | 42.00 ± 2.00 (3) | -5.00 ± 0.00 (3) | 61.00 ± 1.00 (3) | -1.00 ± 0.00 (3) |");
    // Cost.
    expect(md).toContain("| replay-1% (reference) | 1.00 ± 0.00 (2) | 1.00 ± 0.00 (2) | 22.5 ± 3.5 (2) | 100.0 ± 0.0 (2) |");
    expect(md).toContain("| seekr-1% | 1.20 ± 0.00 (2) | 1.15 ± 0.07 (2) | 27.0 ± 4.2 (2) | 115.0 ± 7.1 (2) |");
    expect(md).toContain("| seqft | 0.45 ± 0.07 (2) |");
    // Every footnote referenced is defined.
    const refs = new Set([...md.matchAll(/\[\^(n\d+)\](?!:)/g)].map((m) => m[1]));
    const defs = new Set([...md.matchAll(/^\[\^(n\d+)\]:/gm)].map((m) => m[1]));
    expect([...refs].sort()).toEqual([...defs].sort());
    expect(md).toContain("<!-- analysis -->");
    expect(doc.svgs.map((s) => s.file)).toEqual([join(tmp, "docs", "results", "fx", "ratio.svg")]);
  });

  it("the SVG is well-formed, self-contained, with one path per method", () => {
    const doc = renderResults(plan, agg, meta, { out: out(), cwd: tmp });
    const svg = doc.svgs[0]!.content;
    const names = xmlElements(svg);
    expect(names[0]).toBe("svg");
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(names.filter((n) => n === "path")).toHaveLength(2);
    expect(svg).not.toMatch(/<script|href=|url\(/);
    expect(svg).toContain(">replay</text>");
    expect(svg).toContain("seekr, 0.1: 61.00 ± 1.00 (n = 3)");
    // A method with no result at all draws no path; the plot stays well-formed.
    const empty = sweepPlot([{ name: "a", points: [null, { mean: null, std: null, n: 0 }] }, { name: "b <&>", points: [{ mean: 5, std: 1, n: 2 }, { mean: 7, std: null, n: 1 }] }], {
      title: "t",
      xLabel: "x",
      yLabel: "OP",
      xValues: [{ fraction: 0.125 }, { fraction: 0.5 }],
    });
    expect(xmlElements(empty).filter((n) => n === "path")).toHaveLength(1);
    expect(empty).toContain("b &lt;&amp;&gt;");
    expect(empty).toContain(">12.5%</text>");
  });

  it("rewriting keeps the analysis section", () => {
    const file = out();
    writeResults(renderResults(plan, agg, meta, { out: file, cwd: tmp }), file);
    const first = readFileSync(file, "utf8");
    const mine = "<!-- analysis -->\nSEEKR 1% beats Replay 1% here | by a lot.\n\nSecond paragraph.\n<!-- /analysis -->";
    writeFileSync(file, first.replace(analysisSection(first), mine));
    const again = renderResults(plan, agg, { ...meta, wallSeconds: 5 }, { out: file, cwd: tmp, previous: readFileSync(file, "utf8") });
    writeResults(again, file);
    const second = readFileSync(file, "utf8");
    expect(second).toContain(mine);
    expect(second).toContain("5s for this invocation");
    expect(readFileSync(join(tmp, "docs", "results", "fx", "ratio.svg"), "utf8")).toMatch(/^<svg /);
    expect(analysisSection("no markers")).toContain("<!-- analysis -->");
  });
});
