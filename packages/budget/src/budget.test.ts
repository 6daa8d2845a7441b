// Tests for budget resolution: counts, fractions, clamping and error messages.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Budget, checkQueryBudget, resolveBudget } from "./budget.js";

describe("resolveBudget", () => {
  it("resolves the paper's 7B defaults and their fraction forms", () => {
    expect(resolveBudget(24, 32, "layerBudget")).toBe(24);
    expect(resolveBudget(128, 32 * 32, "headBudget")).toBe(128);
    expect(resolveBudget({ fraction: 0.75 }, 32, "layerBudget")).toBe(24);
    expect(resolveBudget({ fraction: 0.125 }, 1024, "headBudget")).toBe(128);
  });

  it("rounds fractions with Math.round and keeps at least one unit for a positive fraction", () => {
    expect(resolveBudget({ fraction: 0.5 }, 5)).toBe(3); // 2.5 rounds up
    expect(resolveBudget({ fraction: 0.01 }, 10)).toBe(1); // 0.1 would round to 0
    expect(resolveBudget({ fraction: 0 }, 10)).toBe(0);
    expect(resolveBudget({ fraction: 1 }, 10)).toBe(10);
    expect(resolveBudget({ fraction: 0.3 }, 0)).toBe(0);
  });

  it("clamps counts larger than the model", () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), (count, total) => {
        expect(resolveBudget(count, total)).toBe(Math.min(count, total));
      }),
      { numRuns: 500 },
    );
  });

  it("resolves any fraction to an integer in [0, total], monotone in the fraction", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(5000), (a, b, total) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const rLo = resolveBudget({ fraction: lo }, total);
        const rHi = resolveBudget({ fraction: hi }, total);
        for (const r of [rLo, rHi]) {
          expect(Number.isInteger(r)).toBe(true);
          expect(r).toBeGreaterThanOrEqual(0);
          expect(r).toBeLessThanOrEqual(total);
        }
        expect(rLo).toBeLessThanOrEqual(rHi);
        if (hi > 0 && total > 0) expect(rHi).toBeGreaterThanOrEqual(1);
        expect(Math.abs(rHi - hi * total)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });

  it("gives the exact message of the spec for a negative count", () => {
    expect(() => resolveBudget(-3, 10, "headBudget")).toThrow(
      new Error("headBudget: expected a non-negative integer count or {fraction} in [0,1], got -3"),
    );
  });

  it("throws for invalid budgets, naming the field and the value", () => {
    const cases: Array<[unknown, string]> = [
      [-1, "-1"],
      [1.5, "1.5"],
      [Number.NaN, "NaN"],
      [Number.POSITIVE_INFINITY, "Infinity"],
      [{ fraction: 1.5 }, "{fraction: 1.5}"],
      [{ fraction: -0.1 }, "{fraction: -0.1}"],
      [{ fraction: Number.NaN }, "{fraction: NaN}"],
      [{}, "{}"],
      ["3", '"3"'],
      [null, "null"],
      [undefined, "undefined"],
    ];
    for (const [bad, shown] of cases) {
      for (const field of ["layerBudget", "headBudget"]) {
        expect(() => resolveBudget(bad as Budget, 10, field)).toThrow(`${field}: expected`);
        expect(() => resolveBudget(bad as Budget, 10, field)).toThrow(`got ${shown}`);
      }
    }
  });

  it("throws for every generated invalid count", () => {
    const invalid = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      fc.double().filter((f) => !(f >= 0 && f <= 1)).map((fraction) => ({ fraction })),
    );
    fc.assert(
      fc.property(invalid, fc.nat(100), (bad, total) => {
        expect(() => resolveBudget(bad as Budget, total, "layerBudget")).toThrow(/^layerBudget: /);
      }),
      { numRuns: 500 },
    );
  });
});

describe("checkQueryBudget", () => {
  it("accepts non-negative integers and rejects everything else, naming queryBudget", () => {
    expect(checkQueryBudget(0)).toBe(0);
    expect(checkQueryBudget(100)).toBe(100);
    for (const bad of [-1, 2.5, Number.NaN, Number.POSITIVE_INFINITY, "5", { fraction: 0.5 }]) {
      expect(() => checkQueryBudget(bad)).toThrow(/^queryBudget: expected a non-negative integer/);
    }
  });
});
