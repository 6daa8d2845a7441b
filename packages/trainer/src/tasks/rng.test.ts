// Tests of the seeded PRNG and seed derivation.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng, deriveSeed, hashString, shuffled } from "./rng.js";

const take = (seed: number, n: number): number[] => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.int(1000));
};

describe("createRng", () => {
  it("is deterministic and seed-sensitive", () => {
    expect(take(1, 20)).toEqual(take(1, 20));
    expect(take(1, 20)).not.toEqual(take(2, 20));
    expect(take(-5, 20)).not.toEqual(take(5, 20));
    expect(take(2 ** 40, 20)).not.toEqual(take(0, 20));
  });

  it("int, range and next stay in bounds and cover the range", () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = rng.int(7);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(7);
      seen.add(v);
      const r = rng.range(10, 12);
      expect(r === 10 || r === 11 || r === 12).toBe(true);
      const f = rng.next();
      expect(f >= 0 && f < 1).toBe(true);
    }
    expect(seen.size).toBe(7);
  });

  it("is roughly uniform", () => {
    const rng = createRng(11);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20000; i++) counts[rng.int(10)]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200); // > 4.7 sigma
  });

  it("rejects bad seeds and bounds", () => {
    expect(() => createRng(1.5)).toThrow(/seed: expected a safe integer, got 1.5/);
    expect(() => createRng(0).int(0)).toThrow(/got 0/);
    expect(() => createRng(0).pick([])).toThrow(/empty/);
  });
});

describe("deriveSeed and hashString", () => {
  it("distinct labels give distinct seeds; same inputs the same", () => {
    const seeds = new Set<number>();
    for (const task of ["reverse", "sort", "cipher", "kv"]) for (const split of ["train", "eval", "test"]) seeds.add(deriveSeed(42, task, split));
    expect(seeds.size).toBe(12);
    expect(deriveSeed(42, "a", "b")).toBe(deriveSeed(42, "a", "b"));
    expect(deriveSeed(42, "a", "b")).not.toBe(deriveSeed(43, "a", "b"));
    expect(deriveSeed(42, "ab")).not.toBe(deriveSeed(42, "a", "b"));
  });

  it("hashString is FNV-1a (reference values)", () => {
    expect(hashString("")).toBe(0x811c9dc5);
    expect(hashString("a")).toBe(0xe40c292c);
    expect(hashString("foobar")).toBe(0xbf9cf968);
  });

  it("shuffled is a permutation", () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 30 }), fc.integer(), (xs, seed) => {
        const s = shuffled(xs, createRng(seed));
        expect([...s].sort((a, b) => a - b)).toEqual([...xs].sort((a, b) => a - b));
      }),
      { numRuns: 200 },
    );
  });
});
