// Tests for replay sample selection: exact counts, rounding rule, determinism, reservoir uniformity, errors.

import { createRng } from "@seekr/budget";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_REPLAY_RATIO, ReservoirSampler, replayCount, selectReplay } from "./select.js";

const methods = ["random", "reservoir"] as const;

function expectValidIndices(indices: number[], n: number, k: number): void {
  expect(indices).toHaveLength(k);
  const bad = indices.findIndex(
    (x, i) => !Number.isInteger(x) || x < 0 || x >= n || (i > 0 && x <= (indices[i - 1] as number)), // sorted, distinct
  );
  expect(bad, `indices[${bad}] = ${indices[bad]} breaks 0 <= i < ${n}, strictly increasing`).toBe(-1);
}

describe("replayCount", () => {
  it("defaults to 1% with halves rounded up and at least one sample", () => {
    expect(DEFAULT_REPLAY_RATIO).toBe(0.01);
    expect(replayCount(1000)).toBe(10);
    expect(replayCount(250)).toBe(3); // 2.5 -> 3
    expect(replayCount(249)).toBe(2); // 2.49 -> 2
    expect(replayCount(10)).toBe(1); // 0.1 -> at least 1
    expect(replayCount(1)).toBe(1);
    expect(replayCount(0)).toBe(0); // empty task
    expect(replayCount(10, { ratio: 1 })).toBe(10);
    expect(replayCount(7, { ratio: 0.5 })).toBe(4); // 3.5 -> 4
    expect(replayCount(7, { count: 0 })).toBe(0);
    expect(replayCount(7, { count: 7 })).toBe(7);
  });

  it("follows the documented rule for every ratio and size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, raw) => {
        const ratio = raw === 0 ? Number.MIN_VALUE : raw;
        const expected = n === 0 ? 0 : Math.min(n, Math.max(1, Math.round(ratio * n)));
        expect(replayCount(n, { ratio })).toBe(expected);
      }),
    );
  });

  it("rejects bad ratios, counts and sizes, naming the field and the value", () => {
    expect(() => replayCount(10, { ratio: 0 })).toThrow("ratio: expected a number in (0, 1], got 0");
    expect(() => replayCount(10, { ratio: 1.5 })).toThrow("ratio: expected a number in (0, 1], got 1.5");
    expect(() => replayCount(10, { ratio: Number.NaN })).toThrow("ratio: expected a number in (0, 1], got NaN");
    expect(() => replayCount(10, { ratio: -0.1 })).toThrow(/ratio: .* got -0\.1/);
    expect(() => replayCount(10, { count: 11 })).toThrow("count: expected an integer in [0, numSamples = 10], got 11");
    expect(() => replayCount(10, { count: 2.5 })).toThrow("count: expected an integer in [0, numSamples = 10], got 2.5");
    expect(() => replayCount(10, { count: -1 })).toThrow(/count: .* got -1/);
    expect(() => replayCount(10, { count: 1, ratio: 0.1 })).toThrow(/ratio\/count: give one of them/);
    expect(() => replayCount(-1)).toThrow("numSamples: expected a non-negative integer, got -1");
    expect(() => replayCount(1.5)).toThrow("numSamples: expected a non-negative integer, got 1.5");
  });
});

describe("selectReplay", () => {
  it("returns exactly the requested count of sorted, distinct, in-range indices (both methods)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.oneof(fc.record({ ratio: fc.double({ min: 0.001, max: 1, noNaN: true }) }), fc.record({ count: fc.nat(3000) })),
        fc.integer(),
        fc.constantFrom(...methods),
        (n, amount, seed, method) => {
          const options = "count" in amount ? { count: Math.min(amount.count, n) } : amount;
          const k = replayCount(n, options);
          const indices = selectReplay(n, { ...options, seed, method });
          expectValidIndices(indices, n, k);
          if ("count" in options) expect(k).toBe(options.count);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("is deterministic under the seed and differs between seeds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 5000 }), fc.maxSafeInteger(), fc.maxSafeInteger(), fc.constantFrom(...methods), (n, a, b, method) => {
        const first = selectReplay(n, { count: 20, seed: a, method });
        expect(selectReplay(n, { count: 20, seed: a, method })).toEqual(first);
        // two independent 20-of-200+ draws coincide with probability < 1e-26
        if (a !== b) expect(selectReplay(n, { count: 20, seed: b, method })).not.toEqual(first);
      }),
      { numRuns: 100 },
    );
  });

  it("pins the samples of a fixed seed (same on every platform)", () => {
    expect(selectReplay(100, { count: 5, seed: 42 })).toEqual(selectReplay(100, { count: 5, seed: 42, method: "random" }));
    expect(selectReplay(1000, { seed: 7 })).toEqual([257, 508, 582, 653, 753, 757, 823, 894, 953, 987]);
    expect(selectReplay(1000, { seed: 7, method: "reservoir" })).toEqual([85, 260, 336, 363, 645, 715, 774, 893, 919, 934]);
  });

  it("keeps everything for ratio 1 and nothing for count 0 or an empty task", () => {
    for (const method of methods) {
      expect(selectReplay(5, { ratio: 1, seed: 1, method })).toEqual([0, 1, 2, 3, 4]);
      expect(selectReplay(5, { count: 0, seed: 1, method })).toEqual([]);
      expect(selectReplay(0, { ratio: 0.5, seed: 1, method })).toEqual([]);
      expect(selectReplay(3, { seed: 1, method })).toHaveLength(1); // 1% of 3 rounds to 0 -> at least 1
    }
  });

  it("draws every index with about the same probability (random method)", () => {
    const n = 20;
    const trials = 20_000;
    const hits = new Array<number>(n).fill(0);
    for (let t = 0; t < trials; t++) for (const i of selectReplay(n, { count: 5, seed: t })) hits[i] = (hits[i] as number) + 1;
    const expected = (trials * 5) / n; // 5000, sd ≈ 61
    for (const h of hits) expect(Math.abs(h - expected)).toBeLessThan(0.06 * expected);
  });

  it("rejects bad seeds and methods, naming the field and the value", () => {
    expect(() => selectReplay(10, { seed: 1.5 })).toThrow("seed: expected a safe integer, got 1.5");
    expect(() => selectReplay(10, { seed: Number.NaN })).toThrow("seed: expected a safe integer, got NaN");
    expect(() => selectReplay(10, { seed: "1" as unknown as number })).toThrow('seed: expected a safe integer, got "1"');
    expect(() => selectReplay(10, {} as { seed: number })).toThrow("seed: expected a safe integer, got undefined");
    expect(() => selectReplay(10, { seed: 1, method: "stride" as "random" })).toThrow('method: expected "random" or "reservoir", got "stride"');
    expect(() => selectReplay(10, { seed: 1, ratio: 2 })).toThrow("ratio: expected a number in (0, 1], got 2");
  });
});

describe("ReservoirSampler", () => {
  it("holds min(seen, capacity) items in stream order, each an offered item", () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(200), fc.integer(), (capacity, n, seed) => {
        const r = new ReservoirSampler<string>(capacity, seed);
        for (let i = 0; i < n; i++) r.offer(`item${i}`);
        expect(r.seen).toBe(n);
        expect(r.size).toBe(Math.min(n, capacity));
        const positions = r.positions();
        expectValidIndices(positions, Math.max(n, 1), Math.min(n, capacity));
        expect(r.samples()).toEqual(positions.map((p) => `item${p}`));
      }),
    );
  });

  it("keeps the first `capacity` items while the stream is short, and reports which offers entered", () => {
    const r = new ReservoirSampler<number>(3, 9);
    expect([r.offer(10), r.offer(11), r.offer(12)]).toEqual([true, true, true]);
    expect(r.samples()).toEqual([10, 11, 12]);
    let entered = 0;
    for (let i = 13; i < 1000; i++) if (r.offer(i)) entered++;
    expect(entered).toBeGreaterThan(0);
    expect(r.size).toBe(3);
  });

  it("includes every stream position with probability capacity/n (uniform-ish, fixed seeds)", () => {
    const n = 30;
    const capacity = 6;
    const trials = 20_000;
    const hits = new Array<number>(n).fill(0);
    for (let t = 0; t < trials; t++) {
      const r = new ReservoirSampler<number>(capacity, 1_000_003 * t + 17);
      for (let i = 0; i < n; i++) r.offer(i);
      for (const i of r.samples()) hits[i] = (hits[i] as number) + 1;
    }
    const expected = (trials * capacity) / n; // 4000, sd ≈ 57
    let chi2 = 0;
    for (const h of hits) {
      expect(Math.abs(h - expected)).toBeLessThan(0.07 * expected);
      chi2 += (h - expected) ** 2 / expected;
    }
    // 29 degrees of freedom: P(chi2 > 70) < 1e-4 (loose: the draws are not fully independent of the seeds)
    expect(chi2).toBeLessThan(70);
  });

  it("is deterministic under the seed and accepts a generator", () => {
    const run = (seed: number): number[] => {
      const r = new ReservoirSampler<number>(10, seed);
      for (let i = 0; i < 500; i++) r.offer(i);
      return r.samples();
    };
    expect(run(3)).toEqual(run(3));
    const withRng = new ReservoirSampler<number>(10, createRng(3));
    for (let i = 0; i < 500; i++) withRng.offer(i);
    expect(withRng.samples()).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
    expect(selectReplay(500, { count: 10, seed: 3, method: "reservoir" })).toEqual(run(3));
  });

  it("rejects bad capacities and seeds", () => {
    expect(() => new ReservoirSampler(-1, 0)).toThrow("capacity: expected a non-negative integer, got -1");
    expect(() => new ReservoirSampler(2, 0.5)).toThrow("seed: expected a safe integer, got 0.5");
    expect(() => new ReservoirSampler(2, null as unknown as number)).toThrow("seed: expected a safe integer, got null");
  });
});
