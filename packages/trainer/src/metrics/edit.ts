// Edit similarity (1 − Levenshtein / max length, on characters) and fuzzywuzzy's ratio, as used for Py150 code completion.

import { lcsLength } from "./lcs.js";
import { checkCorpus } from "./normalize.js";

/** Unicode code points of a string (Python's notion of a "character"; surrogate pairs count once). */
function chars(s: string): string[] {
  return Array.from(s);
}

/** Levenshtein distance (insertions, deletions, substitutions, each cost 1) between code-point sequences. */
export function levenshtein(a: string, b: string): number {
  let x = chars(a);
  let y = chars(b);
  if (x.length < y.length) [x, y] = [y, x];
  const n = y.length;
  if (n === 0) return x.length;
  let prev = new Uint32Array(n + 1);
  let cur = new Uint32Array(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    const c = x[i - 1];
    for (let j = 1; j <= n; j++) {
      const sub = (prev[j - 1] as number) + (c === y[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n] as number;
}

/**
 * Edit similarity, in [0, 1]: `1 − levenshtein(a, b) / max(|a|, |b|)`, lengths and distance counted in
 * Unicode code points, no normalisation (whitespace and case matter). Two empty strings score 1.
 * It is 1 exactly when a === b, and symmetric. (CodeXGLUE/TRACE report Py150 "edit similarity" through
 * fuzzywuzzy's `fuzz.ratio`, a different, LCS-based quantity: see {@link fuzzRatio}.)
 */
export function editSimilarity(a: string, b: string): number {
  const len = Math.max(chars(a).length, chars(b).length);
  if (len === 0) return 1;
  return 1 - levenshtein(a, b) / len;
}

/** Round half to even, as Python 3's round(). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * fuzzywuzzy's `fuzz.ratio(a, b)` (with python-Levenshtein), in 0..100, integer: TRACE's Py150 score.
 * `round(100 · (|a| + |b| − indel) / (|a| + |b|))` where indel = |a| + |b| − 2·LCS(a, b) is the
 * insertion/deletion-only edit distance, i.e. `round(100 · 2·LCS / (|a| + |b|))`, rounded half to even.
 * fuzzywuzzy returns 0 when either string is empty (TRACE's script also skips such pairs, scoring 0).
 */
export function fuzzRatio(a: string, b: string): number {
  const x = chars(a);
  const y = chars(b);
  if (x.length === 0 || y.length === 0) return 0;
  const lensum = x.length + y.length;
  const indel = lensum - 2 * lcsLength(x, y);
  return roundHalfEven(100 * ((lensum - indel) / lensum));
}

/** Mean edit similarity over a corpus (best reference per item), in [0, 1]. */
export function editSimilarityCorpus(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
): number {
  checkCorpus("editSimilarity", predictions, references);
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) {
    const ref = references[i] as string | readonly string[];
    const refs = typeof ref === "string" ? [ref] : ref;
    if (refs.length === 0) throw new Error(`editSimilarity: item ${i} has no reference`);
    sum += Math.max(...refs.map((r) => editSimilarity(predictions[i] as string, r)));
  }
  return sum / predictions.length;
}
