// Hand-written SVG charts for report.html: heat maps, grouped bar charts and line charts (no dependencies, no network).

/** Escapes text for HTML/SVG element content and attribute values. */
export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** Formats a number for SVG coordinates (short, no exponent). */
function n(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/\.?0+$/, "");
}

/** Formats a value for display: `—` for missing, fixed decimals otherwise, `-0.0` shown as `0.0`. */
export function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const s = v.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** Signed format for transfer metrics: `+0.4`, `-11.5`. */
export function fmtSigned(v: number | null | undefined, digits = 1): string {
  const s = fmt(v, digits);
  return s === "—" || s.startsWith("-") || Number(s) === 0 ? s : `+${s}`;
}

// ---- colour scales ------------------------------------------------------------------------------------------------

type Rgb = [number, number, number];

const VIRIDIS: Rgb[] = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37],
];
const HEAT: Rgb[] = [
  [255, 255, 229], [255, 247, 188], [254, 227, 145], [254, 196, 79], [254, 153, 41],
  [236, 112, 20], [204, 76, 2], [153, 52, 4], [102, 37, 6],
];

export type Palette = "viridis" | "heat";

function interpolate(stops: Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i] as Rgb;
  const b = stops[i + 1] as Rgb;
  return [0, 1, 2].map((k) => Math.round((a[k] as number) + ((b[k] as number) - (a[k] as number)) * f)) as Rgb;
}

/** The colour of t ∈ [0, 1] in a palette, as `rgb(r,g,b)`, and a readable text colour for it. */
export function colorAt(palette: Palette, t: number): { fill: string; text: string } {
  const [r, g, b] = interpolate(palette === "viridis" ? VIRIDIS : HEAT, t);
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return { fill: `rgb(${r},${g},${b})`, text: luminance > 140 ? "#111" : "#fff" };
}

/** Categorical colours (Tableau 10), one per method or run. */
export const SERIES_COLORS = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
];
export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length] as string;
}

// ---- axes ---------------------------------------------------------------------------------------------------------

/** "Nice" tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return ticks;
}

function tickLabel(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

function truncate(label: string, max: number): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

let gradientSeq = 0;

/** Restarts the ids of gradient definitions (so that one page's output is deterministic). */
export function resetSvgIds(): void {
  gradientSeq = 0;
}

// ---- heat map -----------------------------------------------------------------------------------------------------

export interface HeatmapOptions {
  title?: string;
  rowLabels: string[];
  colLabels: string[];
  /** Axis captions. */
  rowAxis?: string;
  colAxis?: string;
  palette?: Palette;
  /** Colour range; defaults to the data's min/max. */
  min?: number;
  max?: number;
  /** Print each value in its cell (default true when cells are large enough). */
  showValues?: boolean;
  digits?: number;
  /** Cells drawn with a thick outline (row, col). */
  outlined?: ReadonlyArray<readonly [number, number]>;
  /** Rows whose label is marked (▶ and bold). */
  markedRows?: readonly number[];
  cell?: number;
  /** Extra class on the <svg> element. */
  className?: string;
  /** Tooltip text for a cell. */
  tooltip?: (i: number, j: number, v: number | null) => string;
  /** Labels at the ends of the colour bar (default: the colour range). */
  legendLabels?: { min: string; max: string };
}

/** A heat map of a matrix: rows top to bottom, columns left to right, missing cells hatched grey, a colour legend. */
export function heatmap(matrix: ReadonlyArray<ReadonlyArray<number | null>>, o: HeatmapOptions): string {
  const rows = matrix.length;
  const cols = Math.max(o.colLabels.length, ...matrix.map((r) => r.length), 0);
  const values = matrix.flat().filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const lo = o.min ?? (values.length ? Math.min(...values) : 0);
  const hi = o.max ?? (values.length ? Math.max(...values) : 1);
  const span = hi - lo || 1;
  const cell = o.cell ?? Math.max(10, Math.min(52, Math.floor(360 / Math.max(rows, cols, 1))));
  const showValues = o.showValues ?? cell >= 30;
  const digits = o.digits ?? 1;
  const palette = o.palette ?? "viridis";
  const maxRowLabel = Math.max(0, ...o.rowLabels.map((l) => truncate(l, 16).length));
  const left = 14 + (o.rowAxis ? 16 : 0) + Math.min(16, maxRowLabel) * 6.6 + (o.markedRows?.length ? 10 : 0);
  const maxColLabel = Math.max(0, ...o.colLabels.map((l) => truncate(l, 14).length));
  const rotate = cell < maxColLabel * 6.6 + 4;
  const top = (o.title ? 24 : 6) + (o.colAxis ? 16 : 0) + (rotate ? Math.min(14, maxColLabel) * 5.2 + 10 : 18);
  const legendW = 46;
  const width = Math.max(left + cols * cell + 14 + legendW, o.title ? o.title.length * 7.2 + 8 : 0);
  const height = top + rows * cell + 12;
  const parts: string[] = [];
  parts.push(
    `<svg class="chart heatmap${o.className ? ` ${esc(o.className)}` : ""}" xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" role="img"${o.title ? ` aria-label="${esc(o.title)}"` : ""}>`,
  );
  if (o.title) parts.push(`<text class="chart-title" x="4" y="16">${esc(o.title)}</text>`);
  if (o.colAxis) parts.push(`<text class="axis-caption" x="${n(left + (cols * cell) / 2)}" y="${o.title ? 38 : 18}" text-anchor="middle">${esc(o.colAxis)}</text>`);
  if (o.rowAxis) {
    const cy = top + (rows * cell) / 2;
    parts.push(`<text class="axis-caption" x="12" y="${n(cy)}" text-anchor="middle" transform="rotate(-90 12 ${n(cy)})">${esc(o.rowAxis)}</text>`);
  }
  for (let j = 0; j < cols; j++) {
    const label = esc(truncate(o.colLabels[j] ?? String(j), 14));
    const x = left + j * cell + cell / 2;
    if (rotate) parts.push(`<text class="tick" x="${n(x)}" y="${n(top - 4)}" transform="rotate(-50 ${n(x)} ${n(top - 4)})">${label}</text>`);
    else parts.push(`<text class="tick" x="${n(x)}" y="${n(top - 5)}" text-anchor="middle">${label}</text>`);
  }
  const marked = new Set(o.markedRows ?? []);
  for (let i = 0; i < rows; i++) {
    const y = top + i * cell + cell / 2 + 4;
    const label = truncate(o.rowLabels[i] ?? String(i), 16);
    const m = marked.has(i);
    parts.push(`<text class="tick${m ? " marked" : ""}" x="${n(left - 5)}" y="${n(y)}" text-anchor="end">${m ? "▶ " : ""}${esc(label)}</text>`);
  }
  parts.push(`<g class="cells">`);
  for (let i = 0; i < rows; i++) {
    const row = matrix[i] ?? [];
    for (let j = 0; j < cols; j++) {
      const v = row[j];
      const x = left + j * cell;
      const y = top + i * cell;
      const ok = typeof v === "number" && Number.isFinite(v);
      const tip = o.tooltip ? o.tooltip(i, j, ok ? (v as number) : null) : `${o.rowLabels[i] ?? i} / ${o.colLabels[j] ?? j}: ${ok ? fmt(v as number, digits) : "not evaluated"}`;
      if (!ok) {
        parts.push(`<rect class="cell missing" x="${n(x)}" y="${n(y)}" width="${n(cell)}" height="${n(cell)}"><title>${esc(tip)}</title></rect>`);
        continue;
      }
      const c = colorAt(palette, ((v as number) - lo) / span);
      parts.push(`<rect class="cell" x="${n(x)}" y="${n(y)}" width="${n(cell)}" height="${n(cell)}" fill="${c.fill}"><title>${esc(tip)}</title></rect>`);
      if (showValues) {
        parts.push(`<text class="cell-value" x="${n(x + cell / 2)}" y="${n(y + cell / 2 + 4)}" text-anchor="middle" fill="${c.text}">${esc(fmt(v as number, digits))}</text>`);
      }
    }
  }
  parts.push(`</g>`);
  if (o.outlined?.length) {
    parts.push(`<g class="outlines">`);
    for (const [i, j] of o.outlined) {
      if (i < 0 || i >= rows || j < 0 || j >= cols) continue;
      parts.push(`<rect class="selected" x="${n(left + j * cell + 1)}" y="${n(top + i * cell + 1)}" width="${n(cell - 2)}" height="${n(cell - 2)}"/>`);
    }
    parts.push(`</g>`);
  }
  // Colour legend: a vertical gradient bar with min/max.
  const lx = left + cols * cell + 14;
  const lh = Math.max(40, rows * cell);
  const gid = `legend-${palette}-${++gradientSeq}`;
  const stops = Array.from({ length: 11 }, (_, k) => `<stop offset="${k * 10}%" stop-color="${colorAt(palette, 1 - k / 10).fill}"/>`).join("");
  parts.push(`<defs><linearGradient id="${gid}" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`);
  parts.push(`<rect class="legend-bar" x="${n(lx)}" y="${n(top)}" width="10" height="${n(lh)}" fill="url(#${gid})"/>`);
  parts.push(`<text class="tick" x="${n(lx + 13)}" y="${n(top + 9)}">${esc(o.legendLabels?.max ?? tickLabel(hi))}</text>`);
  parts.push(`<text class="tick" x="${n(lx + 13)}" y="${n(top + lh)}">${esc(o.legendLabels?.min ?? tickLabel(lo))}</text>`);
  parts.push(`</svg>`);
  return parts.join("");
}

// ---- grouped bars -------------------------------------------------------------------------------------------------

export interface BarGroup {
  label: string;
  values: Array<number | null>;
}

export interface BarChartOptions {
  title?: string;
  /** Names of the bars within each group (legend). */
  series: string[];
  yLabel?: string;
  digits?: number;
  width?: number;
  height?: number;
  /** Colours per series; defaults to the categorical palette. */
  colors?: string[];
}

/** A grouped bar chart with a zero line (negative values go below it) and the value printed on each bar. */
export function barChart(groups: BarGroup[], o: BarChartOptions): string {
  const digits = o.digits ?? 1;
  const values = groups.flatMap((g) => g.values).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  let lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (lo === hi) hi = lo + 1;
  const pad = (hi - lo) * 0.08;
  if (lo < 0) lo -= pad;
  if (hi > 0) hi += pad;
  const ticks = niceTicks(lo, hi, 5);
  lo = Math.min(lo, ticks[0] ?? lo);
  hi = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  const ns = Math.max(1, o.series.length);
  const barW = Math.max(10, Math.min(34, Math.floor(340 / Math.max(1, groups.length * ns))));
  const groupW = ns * barW + 22;
  const left = 52;
  const top = o.title ? 30 : 12;
  const plotH = o.height ?? 200;
  const legendH = o.series.length > 1 ? 22 : 0;
  const width = Math.max(o.width ?? 0, left + groups.length * groupW + 16, 240);
  const height = top + plotH + 42 + legendH;
  const y = (v: number): number => top + ((hi - v) / (hi - lo)) * plotH;
  const parts: string[] = [];
  parts.push(`<svg class="chart bars" xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" role="img"${o.title ? ` aria-label="${esc(o.title)}"` : ""}>`);
  if (o.title) parts.push(`<text class="chart-title" x="${left}" y="18">${esc(o.title)}</text>`);
  for (const t of ticks) {
    parts.push(`<line class="grid" x1="${left}" x2="${n(width - 8)}" y1="${n(y(t))}" y2="${n(y(t))}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${n(y(t) + 4)}" text-anchor="end">${esc(tickLabel(t))}</text>`);
  }
  if (o.yLabel) parts.push(`<text class="axis-caption" x="12" y="${n(top + plotH / 2)}" text-anchor="middle" transform="rotate(-90 12 ${n(top + plotH / 2)})">${esc(o.yLabel)}</text>`);
  groups.forEach((g, gi) => {
    const gx = left + 12 + gi * groupW;
    g.values.forEach((v, si) => {
      const x = gx + si * barW;
      const color = o.colors?.[si] ?? seriesColor(si);
      if (typeof v !== "number" || !Number.isFinite(v)) {
        parts.push(`<text class="bar-missing" x="${n(x + barW / 2)}" y="${n(y(0) - 4)}" text-anchor="middle">—</text>`);
        return;
      }
      const y0 = y(Math.max(0, v));
      const h = Math.max(1, Math.abs(y(v) - y(0)));
      parts.push(`<rect class="bar" x="${n(x + 1)}" y="${n(y0)}" width="${n(barW - 2)}" height="${n(h)}" fill="${color}"><title>${esc(`${g.label} · ${o.series[si] ?? ""}: ${fmt(v, digits)}`)}</title></rect>`);
      const ty = v >= 0 ? y0 - 3 : y0 + h + 10;
      if (fmt(v, digits).length * 6.3 <= barW + 2) parts.push(`<text class="bar-value" x="${n(x + barW / 2)}" y="${n(ty)}" text-anchor="middle">${esc(fmt(v, digits))}</text>`);
    });
    parts.push(`<text class="tick" x="${n(gx + (ns * barW) / 2)}" y="${n(top + plotH + 16)}" text-anchor="middle">${esc(truncate(g.label, Math.max(6, Math.floor(groupW / 6.5))))}</text>`);
  });
  parts.push(`<line class="zero" x1="${left}" x2="${n(width - 8)}" y1="${n(y(0))}" y2="${n(y(0))}"/>`);
  if (o.series.length > 1) {
    let lx = left;
    const ly = top + plotH + 34;
    o.series.forEach((s, si) => {
      parts.push(`<rect x="${n(lx)}" y="${n(ly - 9)}" width="10" height="10" fill="${o.colors?.[si] ?? seriesColor(si)}"/><text class="legend" x="${n(lx + 14)}" y="${n(ly)}">${esc(s)}</text>`);
      lx += 24 + s.length * 7;
    });
  }
  parts.push(`</svg>`);
  return parts.join("");
}

// ---- line chart ---------------------------------------------------------------------------------------------------

export interface LineSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
  /** Drawn thinner and dashed (secondary series such as loss parts). */
  dashed?: boolean;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Vertical markers (e.g. task boundaries) at x with a label. */
  markers?: ReadonlyArray<{ x: number; label: string }>;
  /** "auto" switches to a log scale when positive values span more than ~1.5 decades. */
  yScale?: "linear" | "log" | "auto";
}

/** A line chart with axes, grid, optional vertical markers and a clickable legend (toggles a series). */
export function lineChart(series: LineSeries[], o: LineChartOptions = {}): string {
  const width = o.width ?? 640;
  const plotH = o.height ?? 240;
  const left = 58;
  const right = 14;
  const top = o.title ? 30 : 12;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const x0 = xs.length ? Math.min(...xs) : 0;
  const x1 = xs.length ? Math.max(...xs) : 1;
  const minY = ys.length ? Math.min(...ys) : 0;
  const maxY = ys.length ? Math.max(...ys) : 1;
  const log = o.yScale === "log" || (o.yScale !== "linear" && minY > 0 && maxY / minY > 30);
  let lo: number;
  let hi: number;
  let ticks: number[];
  if (log) {
    lo = Math.floor(Math.log10(minY));
    hi = Math.ceil(Math.log10(maxY));
    if (hi === lo) hi = lo + 1;
    ticks = [];
    for (let e = lo; e <= hi; e++) ticks.push(e);
  } else {
    lo = Math.min(0, minY);
    hi = maxY > lo ? maxY * 1.05 : lo + 1;
    ticks = niceTicks(lo, hi, 5);
    hi = Math.max(hi, ticks[ticks.length - 1] ?? hi);
  }
  const xs0 = x1 > x0 ? x0 : x0 - 1;
  const xw = width - left - right;
  const X = (x: number): number => left + ((x - xs0) / ((x1 > x0 ? x1 : x0 + 1) - xs0)) * xw;
  const Y = (v: number): number => {
    const t = log ? Math.log10(Math.max(v, 10 ** lo)) : v;
    return top + ((hi - t) / (hi - lo)) * plotH;
  };
  // Legend entries flow left to right, wrapping to new rows.
  const legendPos: Array<[number, number]> = [];
  {
    let lx = left;
    let row = 0;
    for (const s of series) {
      const w = 28 + Math.min(22, s.name.length) * 6.4 + 14;
      if (lx > left && lx + w > width - right) {
        lx = left;
        row++;
      }
      legendPos.push([lx, row]);
      lx += w;
    }
  }
  const legendRows = series.length ? (legendPos[legendPos.length - 1] as [number, number])[1] + 1 : 0;
  const legendTop = top + plotH + (o.xLabel ? 48 : 34);
  const height = legendTop + legendRows * 18;
  const parts: string[] = [];
  parts.push(`<svg class="chart lines" xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" role="img"${o.title ? ` aria-label="${esc(o.title)}"` : ""}>`);
  if (o.title) parts.push(`<text class="chart-title" x="${left}" y="18">${esc(o.title)}</text>`);
  for (const t of ticks) {
    const yy = top + ((hi - t) / (hi - lo)) * plotH;
    parts.push(`<line class="grid" x1="${left}" x2="${n(width - right)}" y1="${n(yy)}" y2="${n(yy)}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${n(yy + 4)}" text-anchor="end">${esc(log ? tickLabel(10 ** t) : tickLabel(t))}</text>`);
  }
  for (const t of niceTicks(xs0, x1 > x0 ? x1 : x0 + 1, 6)) {
    parts.push(`<text class="tick" x="${n(X(t))}" y="${n(top + plotH + 15)}" text-anchor="middle">${esc(tickLabel(t))}</text>`);
  }
  parts.push(`<rect class="frame" x="${left}" y="${top}" width="${n(xw)}" height="${n(plotH)}"/>`);
  for (const m of o.markers ?? []) {
    const mx = X(m.x);
    parts.push(`<line class="marker" x1="${n(mx)}" x2="${n(mx)}" y1="${top}" y2="${n(top + plotH)}"/>`);
    parts.push(`<text class="marker-label" x="${n(mx + 3)}" y="${n(top + 10)}">${esc(truncate(m.label, 14))}</text>`);
  }
  if (o.yLabel) parts.push(`<text class="axis-caption" x="12" y="${n(top + plotH / 2)}" text-anchor="middle" transform="rotate(-90 12 ${n(top + plotH / 2)})">${esc(o.yLabel)}${log ? " (log)" : ""}</text>`);
  if (o.xLabel) parts.push(`<text class="axis-caption" x="${n(left + xw / 2)}" y="${n(top + plotH + 30)}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  series.forEach((s, si) => {
    const color = s.color ?? seriesColor(si);
    const segs: string[] = [];
    let pen = "M";
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = "M";
        continue;
      }
      segs.push(`${pen}${n(X(x))},${n(Y(y))}`);
      pen = "L";
    }
    const d = segs.join("");
    if (d) parts.push(`<path class="series${s.dashed ? " dashed" : ""}" data-series="${si}" d="${d}" stroke="${color}"><title>${esc(s.name)}</title></path>`);
  });
  series.forEach((s, si) => {
    const [lx, row] = legendPos[si] as [number, number];
    const ly = legendTop + row * 18;
    parts.push(`<g class="legend-item" data-series="${si}" tabindex="0" role="button"><line x1="${n(lx)}" x2="${n(lx + 16)}" y1="${n(ly - 4)}" y2="${n(ly - 4)}" stroke="${s.color ?? seriesColor(si)}" class="${s.dashed ? "dashed" : ""}" stroke-width="3"/><text class="legend" x="${n(lx + 20)}" y="${n(ly)}">${esc(truncate(s.name, 22))}</text></g>`);
  });
  parts.push(`</svg>`);
  return parts.join("");
}
