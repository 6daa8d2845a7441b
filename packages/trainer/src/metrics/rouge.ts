// ROUGE-L (sentence-level LCS F-measure) as in Google's rouge-score package (rougeL, default tokeniser, no stemming).

import { lcsLength } from "./lcs.js";
import { checkCorpus } from "./normalize.js";

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/**
 * rouge-score's default tokeniser: lowercase, replace every run of characters outside [a-z0-9] by a space,
 * split on whitespace, keep tokens matching ^[a-z0-9]+$. Note that this drops every non-ASCII letter
 * (`"Zürich"` → `["z", "rich"]`, Chinese text → no tokens), exactly as rouge-score does.
 */
export function rougeTokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .split(/\s+/)
    .filter((t) => /^[a-z0-9]+$/.test(t));
}

/**
 * ROUGE-L of a prediction against one reference (or the best of several, by F-measure, as rouge-score's
 * score_multi): precision = LCS / |prediction tokens|, recall = LCS / |reference tokens|,
 * F = 2PR / (P + R) (0 when P + R = 0). If either side has no tokens, all three are 0 — so two empty
 * (or all-punctuation) strings score 0, not 1, as in rouge-score.
 */
export function rougeL(prediction: string, references: string | readonly string[]): RougeScore {
  const refs = typeof references === "string" ? [references] : references;
  if (refs.length === 0) throw new Error("rougeL: expected at least one reference, got none");
  const pred = rougeTokenize(prediction);
  let best: RougeScore | undefined;
  for (const ref of refs) {
    const score = rougeLTokens(pred, rougeTokenize(ref));
    if (best === undefined || score.fmeasure > best.fmeasure) best = score;
  }
  return best as RougeScore;
}

/** ROUGE-L on already tokenised sequences. */
export function rougeLTokens(prediction: readonly string[], reference: readonly string[]): RougeScore {
  if (prediction.length === 0 || reference.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const lcs = lcsLength(prediction, reference);
  const precision = lcs / prediction.length;
  const recall = lcs / reference.length;
  const fmeasure = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, fmeasure };
}

/** Mean ROUGE-L F-measure over a corpus, in [0, 1] (a plain mean; HF evaluate reports a bootstrap median of means). */
export function rougeLCorpus(predictions: readonly string[], references: readonly (string | readonly string[])[]): number {
  checkCorpus("rougeL", predictions, references);
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) sum += rougeL(predictions[i] as string, references[i] as string).fmeasure;
  return sum / predictions.length;
}
