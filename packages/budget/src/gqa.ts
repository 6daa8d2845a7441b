// Grouped-query attention: mapping query heads to their key/value groups.

import { formatValue, isCount } from "./format.js";

/**
 * Checks that `kvHeads` is a positive integer dividing `heads` (query heads per layer) and returns the
 * group size heads / kvHeads (0 for a model without heads).
 */
export function checkKvHeads(heads: number, kvHeads: unknown, field = "kvHeads"): number {
  if (!isCount(heads)) {
    throw new Error(`heads: expected a non-negative integer, got ${formatValue(heads)}`);
  }
  if (!isCount(kvHeads) || kvHeads === 0 || heads % kvHeads !== 0) {
    throw new Error(
      `${field}: expected a positive integer that divides the number of query heads (${heads}), got ${formatValue(kvHeads)}`,
    );
  }
  return heads / kvHeads;
}

/**
 * The key/value head (group) used by query head `head` in a layer with `heads` query heads and
 * `kvHeads` key/value heads, in the standard layout (Llama, Mistral, Qwen, ...: `repeat_kv`) where
 * query heads [g * n, (g + 1) * n) share kv head g, with n = heads / kvHeads.
 */
export function kvGroupOf(head: number, heads: number, kvHeads: number): number {
  const size = checkKvHeads(heads, kvHeads);
  if (!isCount(head) || head >= heads) {
    throw new Error(`head: expected an integer in [0, ${heads}), got ${formatValue(head)}`);
  }
  return Math.floor(head / size);
}

/** The query heads of kv group `group`, ascending (the inverse of {@link kvGroupOf}). */
export function kvGroupHeads(group: number, heads: number, kvHeads: number): number[] {
  const size = checkKvHeads(heads, kvHeads);
  if (!isCount(group) || group >= kvHeads) {
    throw new Error(`group: expected an integer in [0, ${kvHeads}), got ${formatValue(group)}`);
  }
  return Array.from({ length: size }, (_, i) => group * size + i);
}
