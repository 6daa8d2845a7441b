// Builds report.html: one self-contained page (inline CSS, SVG and a few lines of JS) for one run or a comparison of runs.

import { backwardTransfer, forgetting, overallPerformance } from "../metrics/index.js";
import { type LossCurve, type MethodScores, type RunData, type TaskImportance, loadRun } from "./load.js";
import { barChart, esc, fmt, fmtSigned, heatmap, type LineSeries, lineChart, resetSvgIds, seriesColor } from "./svg.js";

/** OP/BWT/forgetting/FWT of a method; computed from the matrix when scores.json does not carry them. */
export interface MethodSummary {
  method: string;
  op: number | null;
  bwt: number | null;
  forgetting: number | null;
  fwt: number | null;
  /** Tasks learned so far (T when the run finished this method). */
  learned: number;
  tasks: number;
}

/** Number of leading rows i whose cells R[i][0..i] are all present: how many tasks the method has learned. */
export function learnedTasks(matrix: ReadonlyArray<ReadonlyArray<number | null>>): number {
  let k = 0;
  for (let i = 0; i < matrix.length; i++) {
    const row = matrix[i] ?? [];
    let full = true;
    for (let j = 0; j <= i; j++) if (typeof row[j] !== "number") full = false;
    if (!full) break;
    k = i + 1;
  }
  return k;
}

export function summarize(method: string, s: MethodScores): MethodSummary {
  const t = s.matrix.length;
  const k = s.tasksLearned ?? (s.complete ? t : learnedTasks(s.matrix));
  const block = s.matrix.slice(0, k).map((r) => r.slice(0, k).map((v) => (typeof v === "number" ? v : Number.NaN)));
  const safe = (f: () => number): number | null => {
    try {
      const v = f();
      return Number.isFinite(v) ? v : null;
    } catch {
      return null;
    }
  };
  const complete = s.complete ?? (k === t && k > 0);
  return {
    method,
    op: s.op ?? (k > 0 ? safe(() => overallPerformance(block)) : null),
    bwt: s.bwt ?? (k > 1 ? safe(() => backwardTransfer(block)) : null),
    forgetting: s.forgetting ?? (k > 1 ? safe(() => forgetting(block)) : null),
    fwt: s.fwt ?? null,
    learned: complete ? t : k,
    tasks: t,
  };
}

const CSS = `
:root{--fg:#1d232b;--muted:#5d6875;--line:#d8dde3;--bg:#fff;--panel:#f6f8fa;--accent:#4e79a7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:20px 28px 12px;border-bottom:1px solid var(--line);background:var(--panel)}
header h1{margin:0 0 4px;font-size:22px}
header .meta{color:var(--muted);font-size:13px}
main{padding:8px 28px 40px;max-width:1400px}
h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
p.note{color:var(--muted);margin:4px 0 10px;max-width:900px}
.grid{display:flex;flex-wrap:wrap;gap:18px 26px;align-items:flex-start}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 10px}
table.metrics{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
table.metrics th,table.metrics td{border-bottom:1px solid var(--line);padding:4px 12px;text-align:right}
table.metrics th:first-child,table.metrics td:first-child,table.metrics td.text{text-align:left}
table.metrics thead th{background:var(--panel);font-weight:600}
table.metrics td.best{font-weight:700}
table.metrics td.partial{font-style:italic;color:var(--muted)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.warn{background:#fff8e1;border:1px solid #f0d58c;border-radius:6px;padding:6px 10px;margin:10px 0;color:#6b5200}
.warn ul{margin:2px 0;padding-left:20px}
details{margin:8px 0}
summary{cursor:pointer;color:var(--accent)}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;max-height:480px;font-size:12px}
nav{font-size:13px;margin-top:6px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}
svg.chart{display:block;overflow:visible}
svg .chart-title{font-weight:600;font-size:13px;fill:var(--fg)}
svg .tick,svg .legend,svg .bar-value,svg .marker-label,svg .bar-missing{font-size:11px;fill:var(--muted)}
svg .tick.marked{font-weight:700;fill:var(--fg)}
svg .axis-caption{font-size:11px;fill:var(--fg)}
svg .cell{stroke:#fff;stroke-width:1}
svg .cell.missing{fill:#eef0f3}
svg .cell-value{font-size:11px;font-variant-numeric:tabular-nums;pointer-events:none}
svg .selected{fill:none;stroke:#1d4ed8;stroke-width:3}
svg .grid{stroke:#eceff2}
svg .zero{stroke:#888}
svg .frame{fill:none;stroke:var(--line)}
svg .marker{stroke:#aab2bb;stroke-dasharray:3 3}
svg .series{fill:none;stroke-width:1.8;stroke-linejoin:round}
svg .series.dashed,svg line.dashed{stroke-dasharray:5 3;stroke-width:1.3}
svg .series.off{display:none}
svg .legend-item{cursor:pointer}
svg .legend-item.off{opacity:.35}
`;

// Legend items toggle their series; the page marks itself ready (the browser test waits for it).
const SCRIPT = `
(function(){
  document.querySelectorAll("svg.lines").forEach(function(svg){
    svg.querySelectorAll(".legend-item").forEach(function(item){
      function toggle(){
        var id=item.getAttribute("data-series");
        var off=!item.classList.contains("off");
        item.classList.toggle("off",off);
        svg.querySelectorAll('path.series[data-series="'+id+'"]').forEach(function(p){p.classList.toggle("off",off);});
      }
      item.addEventListener("click",toggle);
      item.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();toggle();}});
    });
  });
  document.body.setAttribute("data-charts",String(document.querySelectorAll("svg.chart").length));
  document.body.setAttribute("data-ready","1");
})();
`;

function warnings(list: string[]): string {
  if (!list.length) return "";
  return `<div class="warn"><strong>Notes on this run folder</strong><ul>${list.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></div>`;
}

/** Taken from the resolved config when present (the config schema is the config module's; read defensively). */
function configFacts(config: Record<string, unknown> | null, scoresSeed: number | undefined): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  const get = (path: string): unknown => path.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), config);
  const show = (v: unknown): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === "object") {
      if (Array.isArray(v)) {
        return v
          .map((x) => {
            if (typeof x !== "object" || x === null) return String(x);
            const r = x as Record<string, unknown>;
            return typeof r.label === "string" ? r.label : typeof r.name === "string" ? r.name : JSON.stringify(x);
          })
          .join(", ");
      }
      return undefined;
    }
    return String(v);
  };
  const seed = get("seed") ?? scoresSeed;
  if (seed !== undefined) facts.push(["seed", String(seed)]);
  for (const key of ["device", "model.preset", "methods", "data.source", "data.tasks", "training.epochs", "training.batchSize", "training.lr"]) {
    const v = show(get(key));
    if (v !== undefined && v.length < 200) facts.push([key, v]);
  }
  return facts;
}

function metricsTable(rows: MethodSummary[], colors: string[], withRun?: string[]): string {
  const best = (key: "op" | "bwt" | "forgetting" | "fwt", higher: boolean): number | null => {
    const vals = rows.filter((r) => r.learned === r.tasks).map((r) => r[key]).filter((v): v is number => v !== null);
    // Nothing stands out when every method has the same value.
    if (vals.length < 2 || vals.every((v) => v === vals[0])) return null;
    return higher ? Math.max(...vals) : Math.min(...vals);
  };
  const bOp = best("op", true);
  const bBwt = best("bwt", true);
  const bF = best("forgetting", false);
  const head = `<thead><tr>${withRun ? "<th>run</th>" : ""}<th>method</th><th title="Overall performance: mean score on all tasks after the last">OP</th><th title="Backward transfer: mean change of each task's score from just after learning it to the end (negative = forgetting)">BWT</th><th title="Mean drop from each task's best score to its final score">forgetting</th><th title="Forward transfer (where a baseline is given)">FWT</th><th>tasks learned</th></tr></thead>`;
  const body = rows
    .map((r, i) => {
      const partial = r.learned < r.tasks;
      const cls = (v: number | null, b: number | null): string =>
        partial ? ` class="partial" title="after ${r.learned} of ${r.tasks} tasks (run not finished)"` : v !== null && b !== null && v === b ? ' class="best"' : "";
      return `<tr>${withRun ? `<td class="text">${esc(withRun[i])}</td>` : ""}<td class="text"><span class="swatch" style="background:${colors[i] ?? seriesColor(i)}"></span>${esc(r.method)}</td><td${cls(r.op, bOp)}>${fmt(r.op, 2)}</td><td${cls(r.bwt, bBwt)}>${fmtSigned(r.bwt, 2)}</td><td${cls(r.forgetting, bF)}>${fmt(r.forgetting, 2)}</td><td>${fmtSigned(r.fwt, 2)}</td><td>${r.learned} / ${r.tasks}</td></tr>`;
    })
    .join("");
  const note = rows.some((r) => r.learned < r.tasks)
    ? `<p class="note">Values in italics are computed on the tasks learned so far (the run did not finish); the best finished values are in bold.</p>`
    : "";
  return `<table class="metrics">${head}<tbody>${body}</tbody></table>${note}`;
}

function scoreSection(run: RunData, summaries: MethodSummary[], color: (method: string) => string): string {
  const s = run.scores;
  if (!s || !Object.keys(s.methods).length) return `<p class="note">No scores yet (scores.json is missing or empty).</p>`;
  const out: string[] = [];
  out.push(`<h3>OP, BWT and forgetting per method</h3>`);
  out.push(
    `<p class="note">OP = mean score on all tasks after the last task; BWT = mean change of each earlier task's score from just after learning it to the end (negative = forgetting); forgetting = mean drop from each task's best score to its final one. Scores are in points (0–100).</p>`,
  );
  out.push(metricsTable(summaries, summaries.map((m) => color(m.method))));
  const groups = summaries.map((m) => ({ label: m.method, values: [m.op, m.bwt, m.forgetting] }));
  out.push(`<div class="card" style="display:inline-block">${barChart(groups, { title: "OP / BWT / forgetting", series: ["OP", "BWT", "forgetting"], colors: ["#4e79a7", "#e15759", "#f28e2b"], yLabel: "points" })}</div>`);
  out.push(`<h3>Score matrices</h3>`);
  out.push(`<p class="note">Row i: after learning task i; column j: score on task j. Grey cells were not evaluated (tasks not yet seen).</p>`);
  out.push(`<div class="grid">`);
  for (const [method, m] of Object.entries(s.methods)) {
    const t = Math.max(m.matrix.length, s.tasks.length);
    const labels = Array.from({ length: t }, (_, j) => s.tasks[j] ?? `task ${j}`);
    const sum = summaries.find((x) => x.method === method);
    const title = `${method} — OP ${fmt(sum?.op, 1)}, BWT ${fmtSigned(sum?.bwt, 1)}`;
    out.push(
      `<div class="card">${heatmap(m.matrix, {
        title,
        rowLabels: labels.map((l, i) => `after ${i + 1}. ${l}`),
        colLabels: labels,
        rowAxis: "after learning",
        colAxis: "score on task",
        min: 0,
        max: 100,
        className: "score-matrix",
        tooltip: (i, j, v) => `${method}: score on ${labels[j]} after learning ${labels[i]}: ${v === null ? "not evaluated" : fmt(v, 2)}`,
      })}</div>`,
    );
  }
  out.push(`</div>`);
  if (s.baseline?.some((v) => v !== null)) {
    const items = s.baseline.map((v, j) => `${esc(s.tasks[j] ?? `task ${j}`)} ${fmt(v, 1)}`).join(" · ");
    out.push(`<p class="note">Base model before any task (the FWT baseline): ${items}</p>`);
  }
  if (s.metrics?.length) {
    const items = s.tasks.map((t, j) => `${esc(t)}: ${esc(s.metrics?.[j] ?? "?")}`).join(" · ");
    out.push(`<p class="note">Metric per task — ${items}</p>`);
  }
  return out.join("");
}

function lossSection(curves: LossCurve[], color: (method: string) => string): string {
  if (!curves.length) return `<p class="note">No training log (log.jsonl) in this run folder.</p>`;
  const out: string[] = [];
  out.push(`<p class="note">Training loss per step (x: optimizer steps of the method, from the start of its first task; averaged into at most 400 points). Click a legend entry to hide or show a line.</p>`);
  out.push(
    `<div class="card" style="display:inline-block">${lineChart(
      curves.map((c) => ({ name: c.method, points: c.loss, color: color(c.method) })),
      { title: "Total loss, all methods", xLabel: "step", yLabel: "loss", width: 760 },
    )}</div>`,
  );
  out.push(`<h3>Loss parts per method</h3><div class="grid">`);
  const partColors = ["#59a14f", "#b07aa1", "#9c755f", "#edc948", "#76b7b2", "#ff9da7"];
  curves.forEach((c) => {
    // A part equal to the total throughout (SeqFT's task loss) would only hide the total line.
    const same = (a: Array<[number, number]>, b: Array<[number, number]>): boolean =>
      a.length === b.length && a.every(([x, y], i) => x === (b[i] as [number, number])[0] && Math.abs(y - (b[i] as [number, number])[1]) <= 1e-9 * Math.max(1, Math.abs(y)));
    const partNames = Object.keys(c.parts).filter((k) => k !== "total" && !same(c.parts[k] as Array<[number, number]>, c.loss));
    const series: LineSeries[] = [{ name: `${c.method} (total)`, points: c.loss, color: color(c.method) }];
    partNames.forEach((k, pi) => series.push({ name: k, points: c.parts[k] as Array<[number, number]>, color: partColors[pi % partColors.length] as string, dashed: true }));
    out.push(
      `<div class="card">${lineChart(series, {
        title: `${c.method} — ${c.steps} steps`,
        xLabel: "step",
        yLabel: "loss",
        width: 480,
        height: 180,
        markers: c.taskStarts.slice(1).map((m) => ({ x: m.x, label: m.task })),
      })}</div>`,
    );
  });
  out.push(`</div>`);
  return out.join("");
}

/** Colour range of a relative map: [min/max, 1] (min 0 for non-negative maps). */
function range0(m: number[][]): { min: number; max: number } {
  const v = m.flat().filter((x) => Number.isFinite(x));
  const max = Math.max(...v.map(Math.abs), 0);
  return { min: max > 0 ? Math.min(0, ...v) / max : 0, max: 1 };
}

/** The colour bar's labels: the raw maximum and minimum. */
function legendOf(m: number[][]): { min: string; max: string } {
  const v = m.flat().filter((x) => Number.isFinite(x));
  const short = (x: number): string => (x === 0 ? "0" : Math.abs(x) >= 0.01 && Math.abs(x) < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(1));
  return v.length ? { min: short(Math.min(0, ...v)), max: short(Math.max(...v)) } : { min: "0", max: "0" };
}

function importanceSection(importance: Record<string, TaskImportance[]>): string {
  const methods = Object.keys(importance);
  if (!methods.length) return "";
  const out: string[] = [];
  out.push(`<h2 id="importance">Head importance</h2>`);
  out.push(
    `<p class="note">Importance of each attention head (rows: layers, columns: heads) measured after learning each task; the heads selected for distillation are outlined in blue and the selected layers marked ▶. Colours and the printed values are relative to each map's largest value (1.00); hover a cell for the raw value, the colour bar gives the range.</p>`,
  );
  for (const method of methods) {
    const list = importance[method] as TaskImportance[];
    out.push(`<h3>${esc(method)}</h3><div class="grid">`);
    for (const imp of list) {
      const layers = imp.importance.length;
      const heads = Math.max(0, ...imp.importance.map((r) => r.length));
      const cell = Math.max(9, Math.min(34, Math.floor(240 / Math.max(heads, layers, 1))));
      const relative = (m: number[][]): Array<Array<number | null>> => {
        const max = Math.max(...m.flat().filter((v) => Number.isFinite(v)).map(Math.abs), 0);
        return m.map((r) => r.map((v) => (Number.isFinite(v) ? (max > 0 ? v / max : 0) : null)));
      };
      const raw = (m: number[][] | undefined, l: number, h: number): string => {
        const v = m?.[l]?.[h];
        return typeof v === "number" && Number.isFinite(v) ? v.toPrecision(3) : "—";
      };
      const common = {
        rowLabels: Array.from({ length: layers }, (_, l) => `L${l}`),
        colLabels: Array.from({ length: heads }, (_, h) => `H${h}`),
        rowAxis: "layer",
        colAxis: "head",
        palette: "heat" as const,
        cell,
        digits: 2,
        showValues: cell >= 34,
        outlined: imp.selected?.heads ?? [],
        markedRows: imp.selected?.layers ?? [],
      };
      const nSel = imp.selected?.heads?.length ?? 0;
      let extra = "";
      if (imp.sensitivity || imp.forgettability) {
        const parts: string[] = [];
        const sens = imp.sensitivity;
        const forg = imp.forgettability;
        if (sens) parts.push(heatmap(relative(sens), { ...common, ...range0(sens), legendLabels: legendOf(sens), title: "task sensitivity", className: "importance-part", tooltip: (l, h) => `sensitivity, layer ${l}, head ${h}: ${raw(sens, l, h)}` }));
        if (forg) parts.push(heatmap(relative(forg), { ...common, ...range0(forg), legendLabels: legendOf(forg), title: "forgettability", className: "importance-part", tooltip: (l, h) => `forgettability, layer ${l}, head ${h}: ${raw(forg, l, h)}` }));
        extra = `<details><summary>sensitivity and forgettability</summary><div class="grid">${parts.join("")}</div></details>`;
      }
      out.push(
        `<div class="card">${heatmap(relative(imp.importance), {
          ...common,
          ...range0(imp.importance),
          legendLabels: legendOf(imp.importance),
          title: `${imp.taskIndex + 1}. ${imp.task} — ${nSel} head${nSel === 1 ? "" : "s"} selected${imp.strategy && imp.strategy !== "importance" ? ` (${imp.strategy})` : ""}`,
          className: "importance",
          tooltip: (l, h) => `${imp.task}: layer ${l}, head ${h}: importance ${raw(imp.importance, l, h)}${(imp.selected?.heads ?? []).some(([a, b]) => a === l && b === h) ? " (selected)" : ""}`,
        })}${extra}</div>`,
      );
    }
    out.push(`</div>`);
  }
  return out.join("");
}

function runSection(run: RunData, heading: boolean): string {
  const summaries = run.scores ? Object.entries(run.scores.methods).map(([m, s]) => summarize(m, s)) : [];
  const facts = configFacts(run.config, run.scores?.seed);
  const order = [...new Set([...summaries.map((m) => m.method), ...run.curves.map((c) => c.method)])];
  const color = (method: string): string => seriesColor(Math.max(0, order.indexOf(method)));
  const out: string[] = [];
  if (heading) out.push(`<h2 id="run-${esc(run.name)}">Run ${esc(run.name)}</h2><p class="note">${esc(run.dir)}</p>`);
  out.push(warnings(run.warnings));
  if (facts.length) out.push(`<p class="note">${facts.map(([k, v]) => `<strong>${esc(k)}</strong> ${esc(v)}`).join(" · ")}</p>`);
  out.push(heading ? `<h3>Scores</h3>` : `<h2 id="scores">Scores</h2>`);
  out.push(scoreSection(run, summaries, color));
  out.push(heading ? `<h3>Loss curves</h3>` : `<h2 id="loss">Loss curves</h2>`);
  out.push(lossSection(run.curves, color));
  out.push(importanceSection(run.importance));
  if (run.config) out.push(`<details><summary>Resolved configuration (config.json)</summary><pre>${esc(JSON.stringify(run.config, null, 2))}</pre></details>`);
  return out.join("");
}

/** Unique display names for runs (folder names; parent folders added where two runs share a name). */
function runNames(runs: RunData[]): void {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  for (const r of runs) {
    if ((counts.get(r.name) ?? 0) > 1) r.name = r.dir.split(/[\\/]/).slice(-2).join("/");
  }
  const seen = new Map<string, number>();
  for (const r of runs) {
    const k = seen.get(r.name) ?? 0;
    seen.set(r.name, k + 1);
    if (k) r.name = `${r.name} (${k + 1})`;
  }
}

function comparisonSection(runs: RunData[]): string {
  const rows: MethodSummary[] = [];
  const names: string[] = [];
  for (const r of runs) {
    for (const [m, s] of Object.entries(r.scores?.methods ?? {})) {
      rows.push(summarize(m, s));
      names.push(r.name);
    }
  }
  const out: string[] = [`<h2 id="comparison">Comparison of ${runs.length} runs</h2>`];
  if (!rows.length) return `${out.join("")}<p class="note">None of the runs has scores yet.</p>`;
  out.push(metricsTable(rows, names.map((nm) => seriesColor(runs.findIndex((r) => r.name === nm))), names));
  const methods = [...new Set(rows.map((r) => r.method))];
  const pick = (key: "op" | "bwt"): Array<{ label: string; values: Array<number | null> }> =>
    methods.map((m) => ({ label: m, values: runs.map((r) => rows.find((x, i) => x.method === m && names[i] === r.name)?.[key] ?? null) }));
  out.push(`<div class="grid">`);
  out.push(`<div class="card">${barChart(pick("op"), { title: "OP by method and run", series: runs.map((r) => r.name), yLabel: "points" })}</div>`);
  out.push(`<div class="card">${barChart(pick("bwt"), { title: "BWT by method and run", series: runs.map((r) => r.name), yLabel: "points" })}</div>`);
  out.push(`</div>`);
  return out.join("");
}

/** Renders report.html for already loaded runs. */
export function renderReport(runs: RunData[], options: { generatedAt?: Date } = {}): string {
  if (!runs.length) throw new Error("buildReport: expected at least one run folder");
  resetSvgIds();
  runNames(runs);
  const single = runs.length === 1;
  const first = runs[0] as RunData;
  const title = single ? `SEEKR run report — ${first.name}` : `SEEKR comparison — ${runs.length} runs`;
  const when = (options.generatedAt ?? new Date()).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  const body: string[] = [];
  if (single) {
    body.push(runSection(first, false));
  } else {
    body.push(comparisonSection(runs));
    for (const r of runs) body.push(runSection(r, true));
  }
  const nav = single
    ? `<a href="#scores">Scores</a><a href="#loss">Loss curves</a>${Object.keys(first.importance).length ? `<a href="#importance">Head importance</a>` : ""}`
    : `<a href="#comparison">Comparison</a>${runs.map((r) => `<a href="#run-${esc(r.name)}">${esc(r.name)}</a>`).join("")}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="seekr report">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><div class="meta">${single ? esc(first.dir) : runs.map((r) => esc(r.dir)).join("<br>")}<br>generated ${esc(when)} by <code>seekr report</code></div><nav>${nav}</nav></header>
<main>
${body.join("\n")}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** Builds the self-contained report.html for one run folder, or a comparison of several. */
export function buildReport(runDirs: string[], options: { generatedAt?: Date } = {}): string {
  return renderReport(runDirs.map((d) => loadRun(d)), options);
}
