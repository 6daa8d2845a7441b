// Query-row budget B_T (SEEKR §5 step 3): which attention rows of a replay sample to distill.

import { checkQueryBudget } from "./budget.js";
import { formatValue, isCount } from "./format.js";
import { type Rng, sampleDistinct, toRng } from "./rng.js";

/** The rows to sample from: a sequence length (rows 0..length-1) or an explicit set of valid positions. */
export type QueryRowSource = number | { readonly positions: readonly number[] };

function candidatesOf(source: QueryRowSource): { count: number; at: (i: number) => number } {
  if (typeof source === "number") {
    if (!isCount(source)) throw new Error(`length: expected a non-negative integer, got ${formatValue(source)}`);
    return { count: source, at: (i) => i };
  }
  if (typeof source !== "object" || source === null || !Array.isArray(source.positions)) {
    throw new Error(`source: expected a length or {positions: number[]}, got ${formatValue(source)}`);
  }
  const sorted = [...source.positions];
  sorted.forEach((p, i) => {
    if (!isCount(p)) {
      throw new Error(`positions[${i}]: expected a non-negative integer, got ${formatValue(p)}`);
    }
  });
  sorted.sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new Error(`positions: duplicate position ${String(sorted[i])}`);
  }
  return { count: sorted.length, at: (i) => sorted[i] ?? 0 };
}

/**
 * Chooses the query rows Tq of one replay sample, sorted ascending.
 * - `queryBudget` 0: every row (every position);
 * - n = number of candidate rows >= B_T: B_T distinct rows, uniformly without replacement;
 * - n < B_T: B_T rows drawn uniformly with replacement (duplicates present), as the spec asks for
 *   sequences shorter than the budget;
 * - n = 0: an empty array.
 *
 * `source` is a sequence length (rows 0..length-1) or `{ positions }`, e.g. the non-padding positions of
 * prompt + answer (non-negative integers, no duplicates, any order). `rng` is a generator or an integer
 * seed; the same seed gives the same rows on every platform.
 */
export function selectQueryRows(source: QueryRowSource, queryBudget: number, rng: Rng | number): number[] {
  const { count, at } = candidatesOf(source);
  const budget = checkQueryBudget(queryBudget);
  const random = toRng(rng);
  if (budget === 0) return Array.from({ length: count }, (_, i) => at(i));
  if (count === 0) return [];
  if (count >= budget) return sampleDistinct(count, budget, random).map(at);
  const rows: number[] = [];
  for (let i = 0; i < budget; i++) rows.push(at(random.int(count)));
  return rows.sort((a, b) => a - b);
}
