// Metrics: per-task scores (exact match, ROUGE-L, edit similarity, SARI) and continual-learning metrics over the score matrix.

export {
  backwardTransfer,
  type ContinualMetrics,
  checkScoreMatrix,
  continualMetrics,
  emptyScoreMatrix,
  forgetting,
  forwardTransfer,
  leadingBlock,
  overallPerformance,
  type ScoreMatrix,
} from "./cl.js";
export { editSimilarity, editSimilarityCorpus, fuzzRatio, levenshtein } from "./edit.js";
export { lcsLength } from "./lcs.js";
export { accuracy, exactMatch, type NormalizeOptions, normalizeAnswer } from "./normalize.js";
export { getMetric, METRIC_NAMES, METRICS, type MetricInfo, type MetricName, type ScoredItem, scoreCorpus } from "./registry.js";
export { type RougeScore, rougeL, rougeLCorpus, rougeLTokens, rougeTokenize } from "./rouge.js";
export { type SariOptions, type SariSentenceScore, sari, sariNormalize, sariSentence, tokenize13a } from "./sari.js";
