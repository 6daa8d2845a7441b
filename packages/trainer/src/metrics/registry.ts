// Task metrics by name: one corpus score in points (0..100) per task, as stored in the score matrix R.

import { editSimilarity, fuzzRatio } from "./edit.js";
import { checkCorpus, exactMatch } from "./normalize.js";
import { rougeL } from "./rouge.js";
import { sariSentence } from "./sari.js";

/** Names a task may give as its metric. */
export const METRIC_NAMES = ["exact_match", "accuracy", "rougeL", "edit_similarity", "fuzz_ratio", "sari"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** One evaluated example: the prompt (SARI's source), the model's prediction, the reference answer(s). */
export interface ScoredItem {
  prompt: string;
  prediction: string;
  references: string | readonly string[];
}

export interface MetricInfo {
  name: MetricName;
  description: string;
  /** Score of one item in points, 0..100. A corpus score is the mean over items. */
  item(item: ScoredItem): number;
}

const refsOf = (item: ScoredItem): readonly string[] => (typeof item.references === "string" ? [item.references] : item.references);

const best = (item: ScoredItem, f: (prediction: string, reference: string) => number): number => {
  const refs = refsOf(item);
  if (refs.length === 0) throw new Error("metric: expected at least one reference, got none");
  return Math.max(...refs.map((r) => f(item.prediction, r)));
};

export const METRICS: Readonly<Record<MetricName, MetricInfo>> = {
  exact_match: {
    name: "exact_match",
    description: "100 if prediction equals a reference after trimming and collapsing whitespace (case-sensitive), else 0",
    item: (it) => 100 * exactMatch(it.prediction, refsOf(it)),
  },
  accuracy: {
    name: "accuracy",
    description: "exact match after trimming, collapsing whitespace and case-folding (classification labels)",
    item: (it) => 100 * exactMatch(it.prediction, refsOf(it), { caseFold: true }),
  },
  rougeL: {
    name: "rougeL",
    description: "ROUGE-L F-measure × 100 (rouge-score tokenisation, no stemming; best reference)",
    item: (it) => 100 * rougeL(it.prediction, refsOf(it)).fmeasure,
  },
  edit_similarity: {
    name: "edit_similarity",
    description: "(1 − Levenshtein / max length) × 100 on characters (best reference)",
    item: (it) => best(it, (p, r) => 100 * editSimilarity(p, r)),
  },
  fuzz_ratio: {
    name: "fuzz_ratio",
    description: "fuzzywuzzy fuzz.ratio (round(200·LCS/(|a|+|b|)); 0 if either is empty), TRACE's Py150 score",
    item: (it) => best(it, fuzzRatio),
  },
  sari: {
    name: "sari",
    description: "SARI (0..100) with the prompt as source (HF evaluate / EASSE: 13a tokens, lowercase)",
    item: (it) => sariSentence(it.prompt, it.prediction, refsOf(it)).sari,
  },
};

/** Checks a metric name, with an error listing the valid ones. */
export function getMetric(name: string): MetricInfo {
  if (!(METRIC_NAMES as readonly string[]).includes(name)) {
    throw new Error(`metric: unknown metric ${JSON.stringify(name)} (expected one of ${METRIC_NAMES.join(", ")})`);
  }
  return METRICS[name as MetricName];
}

/** Corpus score in points (0..100): the mean of the per-item scores. */
export function scoreCorpus(metric: MetricName | string, items: readonly ScoredItem[]): number {
  const m = getMetric(metric);
  checkCorpus(m.name, items, items);
  let sum = 0;
  for (const it of items) sum += m.item(it);
  return sum / items.length;
}
