// Budgets: counts or fractions, validated and resolved to integer counts.

import { formatValue, isCount } from "./format.js";

/** A budget: an integer count, or a fraction of the available units (layers, heads, ...). */
export type Budget = number | { readonly fraction: number };

/**
 * Resolves a budget against `total` available units:
 * - a count n (integer >= 0) gives min(n, total) (budgets larger than the model clamp);
 * - `{ fraction: f }` with f in [0, 1] gives Math.round(f * total) (halves round up), but at least 1
 *   when f > 0 and total > 0.
 *
 * Anything else (negative, NaN, Infinity, non-integer count, fraction outside [0, 1]) throws an
 * Error naming `field` and the value, e.g.
 * `headBudget: expected a non-negative integer count or {fraction} in [0,1], got -3`.
 */
export function resolveBudget(budget: Budget, total: number, field = "budget"): number {
  if (!isCount(total)) throw new Error(`${field}: total must be a non-negative integer, got ${formatValue(total)}`);
  if (typeof budget === "number") {
    if (isCount(budget)) return Math.min(budget, total) + 0;
  } else if (typeof budget === "object" && budget !== null && !Array.isArray(budget)) {
    const f: unknown = (budget as { fraction?: unknown }).fraction;
    if (typeof f === "number" && f >= 0 && f <= 1) {
      if (f === 0 || total === 0) return 0;
      return Math.min(total, Math.max(1, Math.round(f * total)));
    }
  }
  throw new Error(`${field}: expected a non-negative integer count or {fraction} in [0,1], got ${formatValue(budget)}`);
}

/** Validates a query budget B_T: an integer >= 0 (0 means all rows). */
export function checkQueryBudget(queryBudget: unknown, field = "queryBudget"): number {
  if (!isCount(queryBudget)) {
    throw new Error(`${field}: expected a non-negative integer (0 = all rows), got ${formatValue(queryBudget)}`);
  }
  return queryBudget + 0;
}
