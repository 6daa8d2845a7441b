// Tests of Levenshtein distance, edit similarity and fuzzywuzzy's ratio.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { editSimilarity, editSimilarityCorpus, fuzzRatio, levenshtein } from "./edit.js";

/** Independent reference: the textbook recursion with memoisation, on code points. */
function levenshteinRef(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const memo = new Map<string, number>();
  const d = (i: number, j: number): number => {
    if (i === 0) return j;
    if (j === 0) return i;
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const v = Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (x[i - 1] === y[j - 1] ? 0 : 1));
    memo.set(key, v);
    return v;
  };
  return d(x.length, y.length);
}

describe("levenshtein", () => {
  it("classic examples", () => {
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(levenshtein("flaw", "lawn")).toBe(2);
    expect(levenshtein("", "abc")).toBe(3);
    expect(levenshtein("abc", "abc")).toBe(0);
  });

  it("counts code points, not UTF-16 units", () => {
    expect(levenshtein("😀a", "a")).toBe(1);
  });

  it("agrees with the textbook recursion", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("a", "b", "c", "😀"), maxLength: 8 }), fc.string({ unit: fc.constantFrom("a", "b", "c", "😀"), maxLength: 8 }), (a, b) => {
        expect(levenshtein(a, b)).toBe(levenshteinRef(a, b));
      }),
      { numRuns: 300 },
    );
  });
});

describe("editSimilarity = 1 − lev / max length", () => {
  it("hand-computed examples", () => {
    expect(editSimilarity("kitten", "sitting")).toBeCloseTo(1 - 3 / 7, 15); // max length 7
    expect(editSimilarity("flaw", "lawn")).toBe(0.5);
    expect(editSimilarity("", "")).toBe(1);
    expect(editSimilarity("", "abc")).toBe(0);
    expect(editSimilarity("😀a", "a")).toBe(0.5); // lengths 2 and 1 in code points
    expect(editSimilarity("x = 1", "x=1")).toBeCloseTo(1 - 2 / 5, 15); // whitespace counts
  });

  it("corpus score is the mean of the best reference per item", () => {
    expect(editSimilarityCorpus(["abcd", "xy"], [["abce", "zzzz"], "xy"])).toBeCloseTo((0.75 + 1) / 2, 15);
    expect(() => editSimilarityCorpus(["a"], [[]])).toThrow(/no reference/);
  });

  it("lies in [0, 1], is symmetric and is 1 exactly for equal strings", () => {
    const s = fc.string({ unit: fc.constantFrom("a", "b", " ", "é", "😀"), maxLength: 10 });
    fc.assert(
      fc.property(s, s, (a, b) => {
        const v = editSimilarity(a, b);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(editSimilarity(b, a)).toBe(v);
        expect(v === 1).toBe(a === b);
        expect(editSimilarity(a, a)).toBe(1);
      }),
      { numRuns: 500 },
    );
  });
});

describe("fuzzRatio (fuzzywuzzy fuzz.ratio)", () => {
  it("reproduces fuzzywuzzy's README examples", () => {
    // lengths 14 and 15, LCS 14: round(100·28/29) = round(96.55) = 97
    expect(fuzzRatio("this is a test", "this is a test!")).toBe(97);
    // lengths 22 and 22; LCS = "uzzy uzzy" (9) + " was a bear" (11) = 20: round(100·40/44) = round(90.9) = 91
    expect(fuzzRatio("fuzzy wuzzy was a bear", "wuzzy fuzzy was a bear")).toBe(91);
  });

  it("rounds halves to even like Python's round()", () => {
    // LCS 5 of 8 + 8: 100·10/16 = 62.5 → 62; LCS 7: 100·14/16 = 87.5 → 88
    expect(fuzzRatio("abcdefgh", "abcdexyz")).toBe(62);
    expect(fuzzRatio("abcdefgh", "abcdefgx")).toBe(88);
  });

  it("is 0 when either string is empty, 100 when equal", () => {
    expect(fuzzRatio("", "")).toBe(0);
    expect(fuzzRatio("a", "")).toBe(0);
    expect(fuzzRatio("same", "same")).toBe(100);
  });
});
