// Tests for query-row sampling (query budget B_T).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { selectQueryRows } from "./query.js";
import { createRng } from "./rng.js";

const isSorted = (xs: readonly number[]): boolean => xs.every((x, i) => i === 0 || (xs[i - 1] ?? x) <= x);

describe("selectQueryRows", () => {
  it("returns every row when the budget is 0", () => {
    expect(selectQueryRows(5, 0, 1)).toEqual([0, 1, 2, 3, 4]);
    expect(selectQueryRows({ positions: [9, 3, 4] }, 0, 1)).toEqual([3, 4, 9]);
    expect(selectQueryRows(0, 0, 1)).toEqual([]);
  });

  it("returns an empty array for an empty sequence", () => {
    expect(selectQueryRows(0, 100, 1)).toEqual([]);
    expect(selectQueryRows({ positions: [] }, 3, 1)).toEqual([]);
  });

  it("returns all rows (a permutation, sorted) when the budget equals the length", () => {
    expect(selectQueryRows(7, 7, 3)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("samples with replacement only when the sequence is shorter than the budget", () => {
    const rows = selectQueryRows(3, 100, 5);
    expect(rows).toHaveLength(100);
    expect(new Set(rows)).toEqual(new Set([0, 1, 2]));
    expect(isSorted(rows)).toBe(true);
  });

  it("satisfies the B_T invariants for lengths and budgets of every size", () => {
    fc.assert(
      fc.property(fc.nat(300), fc.nat(300), fc.integer(), (length, budget, seed) => {
        const rows = selectQueryRows(length, budget, seed);
        const expectedSize = budget === 0 || length === 0 ? length : budget;
        expect(rows).toHaveLength(expectedSize);
        expect(isSorted(rows)).toBe(true);
        expect(rows.every((r) => Number.isInteger(r) && r >= 0 && r < length)).toBe(true);
        if (length >= budget) expect(new Set(rows).size).toBe(rows.length);
        // determinism: the same seed (or a generator with the same seed) gives the same rows
        expect(selectQueryRows(length, budget, seed)).toEqual(rows);
        expect(selectQueryRows(length, budget, createRng(seed))).toEqual(rows);
      }),
      { numRuns: 1000 },
    );
  });

  it("restricted to candidate positions, returns only those positions", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(1000), { maxLength: 80 }), fc.nat(120), fc.integer(), (positions, budget, seed) => {
        const rows = selectQueryRows({ positions }, budget, seed);
        const allowed = new Set(positions);
        const n = positions.length;
        expect(rows).toHaveLength(budget === 0 || n === 0 ? n : budget);
        expect(isSorted(rows)).toBe(true);
        expect(rows.every((r) => allowed.has(r))).toBe(true);
        if (n >= budget) expect(new Set(rows).size).toBe(rows.length);
        expect(selectQueryRows({ positions: [...positions].reverse() }, budget, seed)).toEqual(rows);
      }),
      { numRuns: 500 },
    );
  });

  it("samples every row about equally often", () => {
    const rng = createRng(2024);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 5000; i++) for (const r of selectQueryRows(10, 3, rng)) counts[r] = (counts[r] ?? 0) + 1;
    for (const c of counts) expect(Math.abs(c - 1500)).toBeLessThan(150);
  });

  it("different seeds give different rows (for a large enough choice)", () => {
    expect(selectQueryRows(1000, 100, 1)).not.toEqual(selectQueryRows(1000, 100, 2));
  });

  it("rejects invalid budgets, lengths, positions and seeds, naming the field", () => {
    expect(() => selectQueryRows(10, -3, 0)).toThrow("queryBudget: expected a non-negative integer (0 = all rows), got -3");
    expect(() => selectQueryRows(10, 1.5, 0)).toThrow(/^queryBudget:/);
    expect(() => selectQueryRows(10, Number.NaN, 0)).toThrow(/^queryBudget:.*NaN/);
    expect(() => selectQueryRows(-1, 3, 0)).toThrow("length: expected a non-negative integer, got -1");
    expect(() => selectQueryRows(2.5, 3, 0)).toThrow(/^length:/);
    expect(() => selectQueryRows({ positions: [1, -2] }, 1, 0)).toThrow("positions[1]: expected a non-negative integer, got -2");
    expect(() => selectQueryRows({ positions: [1, 4, 1] }, 1, 0)).toThrow("positions: duplicate position 1");
    expect(() => selectQueryRows(10, 3, 0.5)).toThrow(/^seed:/);
  });
});
