// Tests of OP, BWT, forgetting and FWT over the score matrix: hand-computed cases, errors, properties.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backwardTransfer,
  continualMetrics,
  emptyScoreMatrix,
  forgetting,
  forwardTransfer,
  leadingBlock,
  overallPerformance,
} from "./cl.js";

const N = Number.NaN;

describe("hand-computed 3-task run", () => {
  // Rows: after learning task i; columns: task j. Upper triangle not evaluated.
  const r = [
    [80, N, N],
    [60, 70, N],
    [50, 65, 90],
  ];

  it("OP is the mean of the last row", () => {
    expect(overallPerformance(r)).toBeCloseTo((50 + 65 + 90) / 3, 12);
  });

  it("BWT averages final − diagonal over the first T−1 tasks", () => {
    // ((50 − 80) + (65 − 70)) / 2 = −17.5
    expect(backwardTransfer(r)).toBe(-17.5);
  });

  it("forgetting averages (best before the end − final)", () => {
    // j=0: max(80, 60) − 50 = 30; j=1: max(NaN skipped, 70) − 65 = 5; mean 17.5
    expect(forgetting(r)).toBe(17.5);
  });

  it("FWT needs the superdiagonal and a baseline", () => {
    expect(() => forwardTransfer(r, [0, 0, 0])).toThrow(/R\[0\]\[1\] is NaN.*task 1 evaluated after task 0/);
    const full = [
      [80, 20, 5],
      [60, 70, 10],
      [50, 65, 90],
    ];
    // ((20 − 15) + (10 − 12)) / 2 = 1.5
    expect(forwardTransfer(full, [0, 15, 12])).toBe(1.5);
    // j=1 now includes R[0][1] = 20 in the max, still 70 − 65.
    expect(forgetting(full)).toBe(17.5);
    expect(() => forwardTransfer(full, [0, 15])).toThrow(/one score per task \(3\)/);
    expect(() => forwardTransfer(full, [0, N, 1])).toThrow(/baseline\[1\] must be a finite number, got NaN/);
  });

  it("continualMetrics bundles them, leadingBlock gives the state mid-run", () => {
    expect(continualMetrics(r)).toEqual({ tasks: 3, op: (50 + 65 + 90) / 3, bwt: -17.5, forgetting: 17.5, fwt: null });
    const after1 = leadingBlock(r, 2);
    expect(after1).toEqual([
      [80, N],
      [60, 70],
    ]);
    expect(continualMetrics(after1)).toMatchObject({ tasks: 2, op: 65, bwt: -20, forgetting: 20 });
    expect(continualMetrics([[42]])).toEqual({ tasks: 1, op: 42, bwt: null, forgetting: null, fwt: null });
  });
});

describe("forgetting vs BWT", () => {
  it("differ when a task peaked after it was learned", () => {
    // Task 0: 50 when learned, 80 after task 1, 60 at the end. BWT = 60 − 50 = +10 (per j, T−1 = 2 → /2),
    // forgetting = (80 − 60)/2 for task 0; task 1: (70 − 70) → 0.
    const r = [
      [50, N, N],
      [80, 70, N],
      [60, 70, 90],
    ];
    expect(backwardTransfer(r)).toBe((10 + 0) / 2);
    expect(forgetting(r)).toBe((20 + 0) / 2);
  });
});

describe("errors", () => {
  it("rejects non-square, ragged, empty and non-numeric matrices", () => {
    expect(() => backwardTransfer([])).toThrow(/BWT: expected at least one task/);
    expect(() => backwardTransfer([[1, 2]])).toThrow(/must be square \(T = 1 rows\), but R\[0\] has 2 entries/);
    expect(() =>
      overallPerformance([
        [1, 2],
        [3, 4, 5],
      ]),
    ).toThrow(/OP: .*R\[1\] has 3 entries/);
    expect(() => overallPerformance([[Infinity]])).toThrow(/R\[0\]\[0\] must be a finite number or NaN.*got Infinity/);
    expect(() => overallPerformance([["1" as unknown as number]])).toThrow(/got "1"/);
    expect(() => overallPerformance({} as unknown as number[][])).toThrow(/expected a T × T score matrix/);
    expect(() => overallPerformance([null as unknown as number[]])).toThrow(/R\[0\] must be an array/);
  });

  it("needs two tasks for BWT, forgetting and FWT", () => {
    expect(() => backwardTransfer([[1]])).toThrow(/BWT: needs at least 2 tasks \(denominator T − 1\), got T = 1/);
    expect(() => forgetting([[1]])).toThrow(/forgetting: needs at least 2 tasks/);
    expect(() => forwardTransfer([[1]], [0])).toThrow(/FWT: needs at least 2 tasks/);
  });

  it("names the missing cell", () => {
    expect(() =>
      overallPerformance([
        [1, N],
        [N, 2],
      ]),
    ).toThrow(/R\[1\]\[0\] is NaN/);
    expect(() =>
      backwardTransfer([
        [N, N],
        [1, 2],
      ]),
    ).toThrow(/R\[0\]\[0\] is NaN .*diagonal/);
    expect(() => emptyScoreMatrix(0)).toThrow(/positive integer/);
    expect(() => leadingBlock([[1]], 2)).toThrow(/k must be an integer in \[1, 1\], got 2/);
  });

  it("emptyScoreMatrix is all NaN", () => {
    const m = emptyScoreMatrix(3);
    expect(m).toHaveLength(3);
    expect(m.flat().every(Number.isNaN)).toBe(true);
  });
});

describe("properties", () => {
  const score = fc.integer({ min: 0, max: 100 });
  /** A full T × T matrix of integer scores (exact arithmetic), T in [2, 6]. */
  const matrix = fc.integer({ min: 2, max: 6 }).chain((t) => fc.array(fc.array(score, { minLength: t, maxLength: t }), { minLength: t, maxLength: t }));

  it("a constant matrix has BWT 0, forgetting 0, OP c, FWT 0 against a constant baseline", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), score, (t, c) => {
        const r = Array.from({ length: t }, () => new Array<number>(t).fill(c));
        expect(backwardTransfer(r)).toBe(0);
        expect(forgetting(r)).toBe(0);
        expect(overallPerformance(r)).toBe(c);
        expect(forwardTransfer(r, new Array<number>(t).fill(c))).toBe(0);
      }),
    );
  });

  it("shifting every score by c shifts OP by c and leaves BWT, forgetting, FWT unchanged", () => {
    fc.assert(
      fc.property(matrix, fc.integer({ min: -50, max: 50 }), (r, c) => {
        const shifted = r.map((row) => row.map((v) => v + c));
        const b = r.map((_, j) => j);
        expect(overallPerformance(shifted)).toBeCloseTo(overallPerformance(r) + c, 9);
        expect(backwardTransfer(shifted)).toBeCloseTo(backwardTransfer(r), 9);
        expect(forgetting(shifted)).toBeCloseTo(forgetting(r), 9);
        expect(forwardTransfer(shifted, b.map((v) => v + c))).toBeCloseTo(forwardTransfer(r, b), 9);
      }),
    );
  });

  it("forgetting is at least −BWT", () => {
    fc.assert(
      fc.property(matrix, (r) => {
        expect(forgetting(r)).toBeGreaterThanOrEqual(-backwardTransfer(r) - 1e-9);
      }),
    );
  });

  it("BWT depends only on the multiset of (diagonal, final) pairs; OP on the multiset of final scores", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(score, score), { minLength: 1, maxLength: 5 }),
        score,
        fc.integer({ min: 0, max: 1000 }),
        (pairs, last, seed) => {
          const build = (ps: [number, number][]): number[][] => {
            const t = ps.length + 1;
            const r = emptyScoreMatrix(t);
            ps.forEach(([diag, fin], j) => {
              (r[j] as number[])[j] = diag;
              (r[t - 1] as number[])[j] = fin;
            });
            (r[t - 1] as number[])[t - 1] = last;
            return r;
          };
          // a seeded rotation + reversal is a permutation of the pairs
          const k = seed % pairs.length;
          const permuted = [...pairs.slice(k), ...pairs.slice(0, k)].reverse();
          expect(backwardTransfer(build(permuted))).toBeCloseTo(backwardTransfer(build(pairs)), 9);
          expect(overallPerformance(build(permuted))).toBeCloseTo(overallPerformance(build(pairs)), 9);
          // With nothing evaluated off the diagonal before the end, forgetting = −BWT exactly.
          expect(forgetting(build(pairs))).toBeCloseTo(-backwardTransfer(build(pairs)), 9);
        },
      ),
    );
  });

  it("scaling by s > 0 scales every metric by s", () => {
    fc.assert(
      fc.property(matrix, fc.integer({ min: 1, max: 5 }), (r, s) => {
        const scaled = r.map((row) => row.map((v) => v * s));
        const m = continualMetrics(r, r.map(() => 10));
        const ms = continualMetrics(scaled, r.map(() => 10 * s));
        expect(ms.op).toBeCloseTo(m.op * s, 9);
        expect(ms.bwt as number).toBeCloseTo((m.bwt as number) * s, 9);
        expect(ms.forgetting as number).toBeCloseTo((m.forgetting as number) * s, 9);
        expect(ms.fwt as number).toBeCloseTo((m.fwt as number) * s, 9);
      }),
    );
  });
});
