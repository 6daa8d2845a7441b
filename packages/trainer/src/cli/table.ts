// Plain-text tables for the terminal: the score matrices side by side and OP / BWT / forgetting per method.

import { type MethodSummary, type ScoresFile, summarize } from "../report/index.js";

/** Renders rows as aligned columns (first column left-aligned, the rest right-aligned). */
export function textTable(rows: string[][], options: { header?: boolean; align?: Array<"l" | "r"> } = {}): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => {
        const pad = (widths[i] ?? 0) - [...c].length;
        const left = (options.align?.[i] ?? (i === 0 ? "l" : "r")) === "l";
        return left ? c + " ".repeat(pad) : " ".repeat(pad) + c;
      })
      .join("  ")
      .trimEnd(),
  );
  if (options.header && lines.length) {
    const width = Math.max(...lines.map((l) => [...l].length));
    lines.splice(1, 0, "-".repeat(width));
  }
  return lines;
}

function cell(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  const s = v.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function signed(v: number | null | undefined, digits = 2): string {
  const s = cell(v, digits);
  return s === "-" || s.startsWith("-") || Number(s) === 0 ? s : `+${s}`;
}

/** One method's matrix as lines: a title line, then `after Ti` rows × `Tj` columns. */
function matrixBlock(method: string, matrix: ReadonlyArray<ReadonlyArray<number | null>>, t: number): string[] {
  const head = ["", ...Array.from({ length: t }, (_, j) => `T${j + 1}`)];
  const rows = [head, ...Array.from({ length: matrix.length }, (_, i) => [`after T${i + 1}`, ...Array.from({ length: t }, (_, j) => cell(matrix[i]?.[j]))])];
  return [method, ...textTable(rows, { header: true })];
}

/** Places blocks of lines side by side while they fit in `width` columns, wrapping to new rows of blocks. */
export function sideBySide(blocks: string[][], width: number, gap = 4): string[] {
  const out: string[] = [];
  let row: string[][] = [];
  let used = 0;
  const flush = (): void => {
    if (!row.length) return;
    const widths = row.map((b) => Math.max(...b.map((l) => [...l].length)));
    const height = Math.max(...row.map((b) => b.length));
    for (let i = 0; i < height; i++) {
      out.push(row.map((b, k) => (b[i] ?? "").padEnd(k === row.length - 1 ? 0 : (widths[k] as number) + gap)).join("").trimEnd());
    }
    out.push("");
    row = [];
    used = 0;
  };
  for (const b of blocks) {
    const w = Math.max(...b.map((l) => [...l].length));
    if (row.length && used + gap + w > width) flush();
    used += (row.length ? gap : 0) + w;
    row.push(b);
  }
  flush();
  return out;
}

/** The end-of-run summary: every method's score matrix (side by side when they fit), a task legend, and OP/BWT/forgetting. */
export function formatSummary(scores: ScoresFile, width = 120): string {
  const names = Object.keys(scores.methods);
  if (!names.length) return "No scores were recorded.\n";
  const t = Math.max(scores.tasks.length, ...names.map((m) => scores.methods[m]?.matrix.length ?? 0));
  const lines: string[] = [];
  lines.push("Score matrices: row 'after Ti' = after learning task i, column Tj = score on task j (points, 0-100)");
  lines.push(`Tasks: ${Array.from({ length: t }, (_, j) => `T${j + 1} ${scores.tasks[j] ?? "?"}`).join(", ")}`);
  lines.push("");
  lines.push(...sideBySide(names.map((m) => matrixBlock(m, scores.methods[m]?.matrix ?? [], t)), width));
  const summaries: MethodSummary[] = names.map((m) => summarize(m, scores.methods[m] as NonNullable<ScoresFile["methods"][string]>));
  const anyFwt = summaries.some((s) => s.fwt !== null);
  const rows = [["method", "OP", "BWT", "forgetting", ...(anyFwt ? ["FWT"] : []), "tasks"]];
  for (const s of summaries) {
    rows.push([s.method, cell(s.op, 2), signed(s.bwt), cell(s.forgetting, 2), ...(anyFwt ? [signed(s.fwt)] : []), `${s.learned}/${s.tasks}`]);
  }
  lines.push(...textTable(rows, { header: true }));
  return `${lines.join("\n")}\n`;
}
