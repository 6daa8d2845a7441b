// The sweep plot of the results document: OP (mean ± std) against x, one line per method, as a self-contained SVG
// file (inline styles, no scripts, no external references) that Markdown viewers show as an image.

import { esc, niceTicks, seriesColor } from "../report/svg.js";
import { formatX } from "./expand.js";

export interface PlotPoint {
  mean: number | null;
  std: number | null;
  n: number;
}

export interface PlotSeries {
  name: string;
  /** One entry per x value (null or mean null: no result at that x). */
  points: ReadonlyArray<PlotPoint | null>;
}

export interface SweepPlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** The x values (numbers, {fraction} budgets, or anything else: then evenly spaced categories). */
  xValues: readonly unknown[];
  width?: number;
  height?: number;
}

const isFraction = (v: unknown): v is { fraction: number } =>
  typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { fraction?: unknown }).fraction === "number" && Object.keys(v).length === 1;

/** How x values map to the axis: numbers (linear or log), percentages of {fraction} budgets, or categories. */
export function xScaleOf(values: readonly unknown[]): { kind: "linear" | "log" | "category"; xs: number[]; percent: boolean } {
  const allNumbers = values.every((v) => typeof v === "number" && Number.isFinite(v));
  const allFractions = values.every(isFraction);
  if (!allNumbers && !allFractions) return { kind: "category", xs: values.map((_, i) => i), percent: false };
  const xs = values.map((v) => (typeof v === "number" ? v : (v as { fraction: number }).fraction * 100));
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const log = lo > 0 && hi / lo >= 10;
  return { kind: log ? "log" : "linear", xs, percent: allFractions };
}

/** Short numbers for coordinates. */
function c(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1).replace(/\.0$/, "");
}

function tick(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/** OP against x: a path per method through the means, error bars of ± one sample std, a marker per point, a legend. */
export function sweepPlot(series: readonly PlotSeries[], o: SweepPlotOptions): string {
  const width = o.width ?? 640;
  const plotH = o.height ?? 260;
  const left = 58;
  const right = 18;
  const top = 40;
  const xw = width - left - right;
  const scale = xScaleOf(o.xValues);
  const pos = scale.kind === "log" ? scale.xs.map((x) => Math.log10(x)) : scale.xs;
  const x0 = Math.min(...pos);
  const x1 = Math.max(...pos);
  const pad = scale.kind === "category" || x1 === x0 ? 0.5 : (x1 - x0) * 0.04;
  const X = (p: number): number => left + ((p - (x0 - pad)) / (x1 + pad - (x0 - pad))) * xw;

  const ys: number[] = [];
  for (const s of series) {
    for (const p of s.points) {
      if (!p || p.mean === null || !Number.isFinite(p.mean)) continue;
      ys.push(p.mean - (p.std ?? 0), p.mean + (p.std ?? 0));
    }
  }
  let lo = ys.length ? Math.min(...ys) : 0;
  let hi = ys.length ? Math.max(...ys) : 100;
  if (hi - lo < 1) {
    lo -= 0.5;
    hi += 0.5;
  }
  const span = hi - lo;
  // Scores live in [0, 100]: the padding does not cross those bounds when the data stays inside them.
  lo = lo >= 0 ? Math.max(0, lo - span * 0.06) : lo - span * 0.06;
  hi = hi <= 100 ? Math.min(100, hi + span * 0.06) : hi + span * 0.06;
  const ticks = niceTicks(lo, hi, 5);
  lo = Math.min(lo, ticks[0] ?? lo);
  hi = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  const Y = (v: number): number => top + ((hi - v) / (hi - lo)) * plotH;

  // Legend entries flow left to right, wrapping.
  const legend: Array<[number, number]> = [];
  let lx = left;
  let row = 0;
  for (const s of series) {
    const w = 30 + s.name.length * 6.6 + 16;
    if (lx > left && lx + w > width - right) {
      lx = left;
      row++;
    }
    legend.push([lx, row]);
    lx += w;
  }
  const legendTop = top + plotH + 52;
  const height = legendTop + (series.length ? row + 1 : 0) * 18 + 6;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${c(width)}" height="${c(height)}" viewBox="0 0 ${c(width)} ${c(height)}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" aria-label="${esc(o.title)}">`,
  );
  out.push(`<title>${esc(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${c(width)}" height="${c(height)}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="22" font-size="14" font-weight="bold" fill="#222">${esc(o.title)}</text>`);
  for (const t of ticks) {
    out.push(`<line x1="${left}" x2="${c(width - right)}" y1="${c(Y(t))}" y2="${c(Y(t))}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${left - 6}" y="${c(Y(t) + 4)}" text-anchor="end" fill="#444">${esc(tick(t))}</text>`);
  }
  o.xValues.forEach((v, i) => {
    const x = X(pos[i] as number);
    out.push(`<line x1="${c(x)}" x2="${c(x)}" y1="${c(top + plotH)}" y2="${c(top + plotH + 4)}" stroke="#888"/>`);
    out.push(`<text x="${c(x)}" y="${c(top + plotH + 17)}" text-anchor="middle" fill="#444">${esc(formatX(v))}</text>`);
  });
  out.push(`<rect x="${left}" y="${top}" width="${c(xw)}" height="${c(plotH)}" fill="none" stroke="#999"/>`);
  const yMid = top + plotH / 2;
  out.push(`<text x="14" y="${c(yMid)}" text-anchor="middle" transform="rotate(-90 14 ${c(yMid)})" fill="#222">${esc(o.yLabel)}</text>`);
  const xCaption = `${o.xLabel}${scale.kind === "log" ? " (log scale)" : ""}`;
  out.push(`<text x="${c(left + xw / 2)}" y="${c(top + plotH + 36)}" text-anchor="middle" fill="#222">${esc(xCaption)}</text>`);
  if (!ys.length) out.push(`<text x="${c(left + xw / 2)}" y="${c(yMid)}" text-anchor="middle" fill="#888">no results yet</text>`);

  // Points of different methods at the same x are moved apart a little, so that their error bars stay readable.
  const dodge = (si: number): number => (series.length > 1 ? (si - (series.length - 1) / 2) * Math.min(6, 24 / series.length) : 0);
  series.forEach((s, si) => {
    const color = seriesColor(si);
    const segs: string[] = [];
    let pen = "M";
    const marks: string[] = [];
    s.points.forEach((p, i) => {
      if (!p || p.mean === null || !Number.isFinite(p.mean)) {
        pen = "M";
        return;
      }
      const x = X(pos[i] as number) + dodge(si);
      const y = Y(p.mean);
      segs.push(`${pen}${c(x)},${c(y)}`);
      pen = "L";
      if (p.std !== null && p.std > 0) {
        const ya = Y(p.mean - p.std);
        const yb = Y(p.mean + p.std);
        marks.push(`<line x1="${c(x)}" x2="${c(x)}" y1="${c(ya)}" y2="${c(yb)}" stroke="${color}" stroke-width="1.2"/>`);
        marks.push(`<line x1="${c(x - 4)}" x2="${c(x + 4)}" y1="${c(ya)}" y2="${c(ya)}" stroke="${color}" stroke-width="1.2"/>`);
        marks.push(`<line x1="${c(x - 4)}" x2="${c(x + 4)}" y1="${c(yb)}" y2="${c(yb)}" stroke="${color}" stroke-width="1.2"/>`);
      }
      const label = `${s.name}, ${formatX(o.xValues[i])}: ${p.mean.toFixed(2)}${p.std !== null ? ` ± ${p.std.toFixed(2)}` : ""} (n = ${p.n})`;
      marks.push(`<circle cx="${c(x)}" cy="${c(y)}" r="3.5" fill="${color}"><title>${esc(label)}</title></circle>`);
    });
    out.push(`<g>`);
    if (segs.length) out.push(`<path d="${segs.join("")}" fill="none" stroke="${color}" stroke-width="2"><title>${esc(s.name)}</title></path>`);
    out.push(...marks, `</g>`);
  });
  series.forEach((s, si) => {
    const [x, r] = legend[si] as [number, number];
    const y = legendTop + r * 18;
    out.push(`<line x1="${c(x)}" x2="${c(x + 20)}" y1="${c(y - 4)}" y2="${c(y - 4)}" stroke="${seriesColor(si)}" stroke-width="3"/>`);
    out.push(`<text x="${c(x + 26)}" y="${c(y)}" fill="#222">${esc(s.name)}</text>`);
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
