// report.html from run folders: heat maps, OP/BWT table and bars, loss curves (downsampled), importance with the
// selected heads, partial runs, bad log lines, escaping, comparison of several runs, errors.

import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatSummary } from "../cli/table.js";
import { writeFixtureRun } from "./fixture.js";
import { buildReport, learnedTasks, loadRun, MAX_CURVE_POINTS, readLossCurves, RunFolderError, summarize, writeReport } from "./index.js";
import { esc, fmt, fmtSigned, niceTicks } from "./svg.js";

const tmp = mkdtempSync(join(tmpdir(), "seekr-report-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const count = (html: string, re: RegExp): number => html.match(new RegExp(re.source, "g"))?.length ?? 0;

describe("one run", () => {
  const dir = join(tmp, "run");
  const scores = writeFixtureRun(dir, { steps: 200, epochs: 2 });
  const html = buildReport([dir], { generatedAt: new Date(0) });

  it("is one self-contained page: no external scripts, styles, images or fonts", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).not.toMatch(/@import|url\(http/);
  });

  it("has a score-matrix heat map per method with every evaluated value printed, missing cells grey", () => {
    expect(count(html, /<svg class="chart heatmap score-matrix"/)).toBe(3);
    for (const m of Object.values(scores.methods)) {
      for (const row of m.matrix) for (const v of row) if (v !== null) expect(html).toContain(`>${fmt(v, 1)}</text>`);
    }
    // 3 methods × (25 cells − 5 diagonal − 4 superdiagonal ... ) : the cells above the superdiagonal are not evaluated.
    expect(count(html, /class="cell missing"/)).toBe(3 * 6);
  });

  it("has OP, BWT and forgetting per method as a table and as bars", () => {
    for (const [name, m] of Object.entries(scores.methods)) {
      expect(html).toContain(`>${esc(name)}</td><td`);
      expect(html).toContain(`>${fmt(m.op, 2)}</td>`);
      expect(html).toContain(`>${fmtSigned(m.bwt, 2)}</td>`);
      expect(html).toContain(`>${fmt(m.forgetting, 2)}</td>`);
    }
    expect(count(html, /<svg class="chart bars"/)).toBe(1);
    expect(count(html, /<rect class="bar"/)).toBe(9);
    // The best OP is bold (SEEKR in the fixture).
    expect(html).toContain(`<td class="best">${fmt(scores.methods["seekr-1%"]?.op, 2)}</td>`);
  });

  it("draws the loss curves of every method, downsampled, with task boundaries", () => {
    expect(count(html, /<svg class="chart lines"/)).toBe(4);
    const paths = [...html.matchAll(/<path class="series[^"]*" data-series="\d+" d="([^"]+)"/g)].map((m) => m[1] as string);
    expect(paths.length).toBeGreaterThan(4);
    for (const d of paths) expect(d.split("L").length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(count(html, /class="marker"/)).toBe(3 * 4);
  });

  it("draws the head importance per task with the selected heads outlined and layers marked", () => {
    expect(count(html, /<svg class="chart heatmap importance"/)).toBe(5);
    const run = loadRun(dir);
    const selected = (run.importance["seekr-1%"] ?? []).reduce((a, t) => a + (t.selected?.heads?.length ?? 0), 0);
    expect(selected).toBeGreaterThan(0);
    // Outlines in the importance maps and in their sensitivity / forgettability breakdowns.
    expect(count(html, /<rect class="selected"/)).toBe(3 * selected);
    expect(html).toContain('class="tick marked"');
  });

  it("is deterministic for the same run folder and time", () => {
    expect(buildReport([dir], { generatedAt: new Date(0) })).toBe(html);
  });

  it("writeReport writes <run>/report.html by default", () => {
    const path = writeReport([dir]);
    expect(path).toBe(join(dir, "report.html"));
  });
});

describe("partial and damaged run folders", () => {
  it("an interrupted run: metrics on the tasks learned so far, marked partial", () => {
    const dir = join(tmp, "partial");
    writeFixtureRun(dir, { learned: 2 });
    const run = loadRun(dir);
    const m = run.scores?.methods.seqft;
    expect(m && learnedTasks(m.matrix)).toBe(2);
    const s = summarize("seqft", m as NonNullable<typeof m>);
    expect(s.learned).toBe(2);
    expect(s.op).toBeCloseTo((((m?.matrix[1]?.[0] as number) + (m?.matrix[1]?.[1] as number)) / 2), 10);
    const html = buildReport([dir]);
    expect(html).toContain('class="partial"');
    expect(html).toContain("2 / 5");
  });

  it("skips unreadable log lines (a run killed mid-write) and says so", () => {
    const dir = join(tmp, "badlog");
    writeFixtureRun(dir, { steps: 5, epochs: 1 });
    appendFileSync(join(dir, "log.jsonl"), '{"t": 1, "method": "seqft", "lo');
    const warnings: string[] = [];
    const curves = readLossCurves(join(dir, "log.jsonl"), warnings);
    expect(curves.map((c) => c.method)).toEqual(["seqft", "replay-1%", "seekr-1%"]);
    expect(curves[0]?.steps).toBe(25);
    expect(warnings[0]).toMatch(/1 line not readable \(first at line 76\)/);
    expect(buildReport([dir])).toContain("1 line not readable");
  });

  it("a folder with only a log (no scores yet) still renders, with a note", () => {
    const dir = join(tmp, "logonly");
    mkdirSync(dir);
    writeFileSync(join(dir, "log.jsonl"), `${JSON.stringify({ method: "seqft", task: "a", taskIndex: 0, loss: 1 })}\n`);
    const html = buildReport([dir]);
    expect(html).toContain("scores.json is missing");
    expect(count(html, /<svg class="chart lines"/)).toBe(2);
  });

  it("escapes task and method names", () => {
    const dir = join(tmp, "escape");
    writeFixtureRun(dir, { tasks: ["<script>alert(1)</script>", "a&b"], methods: ["seqft"] });
    const html = buildReport([dir]);
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain("&lt;script&gt;alert(1)");
    expect(html).toContain("a&amp;b");
  });

  it("not a run folder: RunFolderError", () => {
    expect(() => buildReport([join(tmp, "nope")])).toThrow(RunFolderError);
    mkdirSync(join(tmp, "emptydir"));
    expect(() => buildReport([join(tmp, "emptydir")])).toThrow(/has none of config.json, log.jsonl, scores.json/);
    expect(() => buildReport([])).toThrow(/at least one run folder/);
  });
});

describe("several runs", () => {
  it("a comparison table and OP/BWT bars across runs, then each run", () => {
    const a = join(tmp, "seeds", "1", "run");
    const b = join(tmp, "seeds", "2", "run");
    writeFixtureRun(a, { seed: 1 });
    writeFixtureRun(b, { seed: 2, methods: ["seqft", "seekr-1%"] });
    const html = buildReport([a, b]);
    expect(html).toContain("Comparison of 2 runs");
    // Same folder names: parents disambiguate.
    expect(html).toContain(">1/run</td>");
    expect(html).toContain(">2/run</td>");
    expect(count(html, /<svg class="chart heatmap score-matrix"/)).toBe(5);
    // The comparison's two bar charts plus one per run.
    expect(count(html, /<svg class="chart bars"/)).toBe(4);
  });
});

describe("terminal summary and chart helpers", () => {
  it("formatSummary prints each matrix and OP/BWT/forgetting per method", () => {
    const dir = join(tmp, "summary");
    const scores = writeFixtureRun(dir);
    const text = formatSummary(scores, 200);
    expect(text).toMatch(/^seqft\s+replay-1%\s+seekr-1%$/m);
    expect(text).toContain("Tasks: T1 reverse, T2 cipher, T3 kv, T4 sort, T5 upper");
    expect(text).toMatch(new RegExp(`^seekr-1%\\s+${fmt(scores.methods["seekr-1%"]?.op, 2)}\\s+${fmtSigned(scores.methods["seekr-1%"]?.bwt, 2)}\\s`, "m"));
    // Narrow terminals stack the matrices.
    expect(formatSummary(scores, 60)).toMatch(/^seqft$/m);
  });

  it("niceTicks covers the range with round steps", () => {
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(-64, 81, 5)).toEqual([-50, 0, 50]);
    expect(niceTicks(-64, 81, 8)).toEqual([-60, -40, -20, 0, 20, 40, 60, 80]);
    expect(niceTicks(0.1, 0.5, 4)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
  });
});
