// Exact match and accuracy with a documented answer normalisation (trim, collapse whitespace, optional case-folding).

export interface NormalizeOptions {
  /** Compare case-insensitively (String.prototype.toLowerCase, locale-independent). Default false. */
  caseFold?: boolean;
}

/**
 * The normalisation used by {@link exactMatch}:
 * 1. trim leading and trailing whitespace (JavaScript's `\s`: ASCII and Unicode spaces, tabs, newlines);
 * 2. collapse every inner run of whitespace into one ASCII space;
 * 3. with `caseFold`, lowercase (`toLowerCase()`, no locale).
 * Nothing else: no punctuation stripping, no article removal, no Unicode normalisation.
 */
export function normalizeAnswer(text: string, options: NormalizeOptions = {}): string {
  const collapsed = text.trim().replace(/\s+/g, " ");
  return options.caseFold ? collapsed.toLowerCase() : collapsed;
}

/** 1 if the normalised prediction equals the normalised reference (any one of several references), else 0. */
export function exactMatch(prediction: string, references: string | readonly string[], options: NormalizeOptions = {}): 0 | 1 {
  const refs = typeof references === "string" ? [references] : references;
  if (refs.length === 0) throw new Error("exactMatch: expected at least one reference, got none");
  const p = normalizeAnswer(prediction, options);
  return refs.some((r) => normalizeAnswer(r, options) === p) ? 1 : 0;
}

/** Mean exact match over a corpus, in [0, 1]. Throws on empty input or mismatched lengths. */
export function accuracy(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: NormalizeOptions = {},
): number {
  checkCorpus("accuracy", predictions, references);
  let hits = 0;
  for (let i = 0; i < predictions.length; i++) hits += exactMatch(predictions[i] as string, references[i] as string, options);
  return hits / predictions.length;
}

/** Shared corpus checks: non-empty, equal lengths. */
export function checkCorpus(metric: string, predictions: readonly unknown[], references: readonly unknown[]): void {
  if (predictions.length !== references.length) {
    throw new Error(`${metric}: ${predictions.length} predictions but ${references.length} references`);
  }
  if (predictions.length === 0) throw new Error(`${metric}: no predictions to score`);
}
