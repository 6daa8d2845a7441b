// SARI for simplification (Xu et al. 2016), as the HF evaluate / EASSE "sari" metric: keep F1, delete precision, add F1, n = 1..4.

import { checkCorpus } from "./normalize.js";

/** Python's str.split() whitespace (str.isspace): differs from JavaScript's \s on \x1c-\x1f and U+FEFF. */
const PY_WHITESPACE = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * sacrebleu's "13a" tokeniser (mteval-v13a): drop `<skipped>`, join hyphenated line breaks, unescape
 * &quot; &amp; &lt; &gt;, pad the symbols {|}~ [\]^_` space !"#$%& ()*+ :;<=>?@ / with spaces, split off
 * periods and commas unless between digits, split a dash after a digit; then single spaces, no padding.
 */
export function tokenize13a(text: string): string {
  let line = text.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    line = line.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  line = ` ${line} `;
  line = line.replace(/([{-~[-`\x20-&(-+:-@/])/g, " $1 ");
  line = line.replace(/([^0-9])([.,])/g, "$1 $2 ");
  line = line.replace(/([.,])([^0-9])/g, " $1 $2");
  line = line.replace(/([0-9])(-)/g, "$1 $2 ");
  return line
    .split(PY_WHITESPACE)
    .filter((t) => t.length > 0)
    .join(" ");
}

export interface SariOptions {
  /** Lowercase before tokenising (default true, as HF/EASSE). */
  lowercase?: boolean;
  /** "13a" (default, as HF/EASSE) or "none" (text already tokenised, space separated). */
  tokenizer?: "13a" | "none";
}

/** The normalisation HF's sari applies to sources, predictions and references. */
export function sariNormalize(text: string, options: SariOptions = {}): string {
  const lower = (options.lowercase ?? true) ? text.toLowerCase() : text;
  return (options.tokenizer ?? "13a") === "13a" ? tokenize13a(lower) : lower;
}

type Counter = Map<string, number>;

function counter(grams: readonly string[], times = 1): Counter {
  const c: Counter = new Map();
  for (const g of grams) c.set(g, (c.get(g) ?? 0) + times);
  return c;
}

/** Python's Counter `a & b`: minimum counts, positive ones only, in a's order. */
function intersect(a: Counter, b: Counter): Counter {
  const out: Counter = new Map();
  for (const [k, v] of a) {
    const m = Math.min(v, b.get(k) ?? 0);
    if (m > 0) out.set(k, m);
  }
  return out;
}

/** Python's Counter `a - b`: differences, positive ones only, in a's order. */
function subtract(a: Counter, b: Counter): Counter {
  const out: Counter = new Map();
  for (const [k, v] of a) {
    const d = v - (b.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

function f1(p: number, r: number): number {
  return p > 0 || r > 0 ? (2 * p * r) / (p + r) : 0;
}

/** One n-gram order's keep F1, delete precision and add F1 (each in [0, 1]; 0/0 counts as 1). */
function sariNgram(s: readonly string[], c: readonly string[], rs: readonly (readonly string[])[]): [number, number, number] {
  const numref = rs.length;
  const r = counter(rs.flat());
  const sCount = counter(s);
  const cCount = counter(c);
  const sRep = counter(s, numref);
  const cRep = counter(c, numref);

  // KEEP: n-grams of the source the prediction kept, rewarded by how many references kept them.
  const keep = intersect(sRep, cRep);
  const keepGood = intersect(keep, r);
  const keepAll = intersect(sRep, r);
  let keep1 = 0;
  let keep2 = 0;
  for (const [g, v] of keepGood) {
    keep1 += v / (keep.get(g) as number);
    keep2 += v;
  }
  let keepAllSum = 0;
  for (const v of keepAll.values()) keepAllSum += v;
  const keepP = keep.size > 0 ? keep1 / keep.size : 1;
  const keepR = keepAll.size > 0 ? keep2 / keepAllSum : 1;

  // DELETE: n-grams of the source the prediction dropped that the references dropped too (precision only).
  const del = subtract(sRep, cRep);
  const delGood = subtract(del, r);
  let del1 = 0;
  for (const [g, v] of delGood) del1 += v / (del.get(g) as number);
  const delP = del.size > 0 ? del1 / del.size : 1;

  // ADD: n-grams new in the prediction that occur in some reference (sets, not counts).
  let addCount = 0;
  let addGood = 0;
  for (const g of cCount.keys()) {
    if (sCount.has(g)) continue;
    addCount++;
    if (r.has(g)) addGood++;
  }
  let addAll = 0;
  for (const g of r.keys()) if (!sCount.has(g)) addAll++;
  const addP = addCount > 0 ? addGood / addCount : 1;
  const addR = addAll > 0 ? addGood / addAll : 1;

  return [f1(keepP, keepR), delP, f1(addP, addR)];
}

/** n-grams (n = 1..4) of a space-split sentence, joined by single spaces. */
function ngrams(tokens: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(" "));
  return out;
}

export interface SariSentenceScore {
  /** SARI in [0, 100]: 100 · (mean keep F1 + mean delete precision + mean add F1) / 3. */
  sari: number;
  /** Keep F1 for n = 1..4. */
  keep: [number, number, number, number];
  /** Delete precision for n = 1..4. */
  delete: [number, number, number, number];
  /** Add F1 for n = 1..4. */
  add: [number, number, number, number];
}

/**
 * SARI of one prediction given its source and references (HF evaluate's SARIsent on normalised text).
 * After normalisation the texts are split on single spaces (an empty text is one empty token, as in Python).
 */
export function sariSentence(
  source: string,
  prediction: string,
  references: readonly string[],
  options: SariOptions = {},
): SariSentenceScore {
  if (references.length === 0) throw new Error("sari: expected at least one reference, got none");
  const s1 = sariNormalize(source, options).split(" ");
  const c1 = sariNormalize(prediction, options).split(" ");
  const r1 = references.map((r) => sariNormalize(r, options).split(" "));
  const keep = [0, 0, 0, 0] as [number, number, number, number];
  const del = [0, 0, 0, 0] as [number, number, number, number];
  const add = [0, 0, 0, 0] as [number, number, number, number];
  for (let n = 1; n <= 4; n++) {
    const [k, d, a] = sariNgram(
      ngrams(s1, n),
      ngrams(c1, n),
      r1.map((r) => ngrams(r, n)),
    );
    keep[n - 1] = k;
    del[n - 1] = d;
    add[n - 1] = a;
  }
  const mean = (xs: readonly number[]): number => (xs[0]! + xs[1]! + xs[2]! + xs[3]!) / 4;
  const final = (mean(keep) + mean(del) + mean(add)) / 3;
  return { sari: 100 * final, keep, delete: del, add };
}

/** Corpus SARI in [0, 100]: the mean of sentence scores (HF evaluate's `sari.compute`). */
export function sari(
  sources: readonly string[],
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: SariOptions = {},
): number {
  checkCorpus("sari", predictions, references);
  if (sources.length !== predictions.length) {
    throw new Error(`sari: ${sources.length} sources but ${predictions.length} predictions`);
  }
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) {
    const ref = references[i] as string | readonly string[];
    sum += sariSentence(sources[i] as string, predictions[i] as string, typeof ref === "string" ? [ref] : ref, options).sari;
  }
  return sum / predictions.length;
}
