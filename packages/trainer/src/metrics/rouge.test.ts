// Tests of ROUGE-L against rouge-score's behaviour: tokenisation, published and hand-computed examples, properties.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lcsLength } from "./lcs.js";
import { rougeL, rougeLCorpus, rougeTokenize } from "./rouge.js";

describe("rougeTokenize (rouge-score default tokeniser)", () => {
  it("lowercases and splits on anything outside [a-z0-9]", () => {
    expect(rougeTokenize("Hello, World! It's 2024.")).toEqual(["hello", "world", "it", "s", "2024"]);
    expect(rougeTokenize("snake_case-name")).toEqual(["snake", "case", "name"]);
  });

  it("drops non-ASCII letters as rouge-score does", () => {
    expect(rougeTokenize("Zürich")).toEqual(["z", "rich"]);
    expect(rougeTokenize("你好")).toEqual([]);
    expect(rougeTokenize("  ")).toEqual([]);
  });
});

describe("lcsLength", () => {
  it("computes small cases", () => {
    expect(lcsLength([..."ABCBDAB"], [..."BDCABA"])).toBe(4); // CLRS: "BCBA"
    expect(lcsLength([], [1, 2])).toBe(0);
  });
});

describe("rougeL", () => {
  it("reproduces the HF evaluate rouge card's first example (all 1.0)", () => {
    // predictions = ["hello there", "general kenobi"], references identical → rougeL 1.0
    expect(rougeLCorpus(["hello there", "general kenobi"], ["hello there", "general kenobi"])).toBe(1);
  });

  it("matches Lin (2004)'s ROUGE-L examples", () => {
    // Reference S1 "police killed the gunman". S2 "police kill the gunman": LCS "police the gunman" = 3,
    // P = R = 3/4, F = 3/4. S3 "the gunman kill police": LCS "the gunman" = 2 → 2/4.
    expect(rougeL("police kill the gunman", "police killed the gunman").fmeasure).toBeCloseTo(0.75, 15);
    expect(rougeL("the gunman kill police", "police killed the gunman").fmeasure).toBeCloseTo(0.5, 15);
  });

  it("hand-computed: unequal lengths", () => {
    // pred "hello goodbye" (2 tokens) vs ref "goodbye" (1): LCS 1, P = 1/2, R = 1, F = 2·(1/2)·1/(3/2) = 2/3.
    // (The HF rouge card prints 0.5 for this pair's rouge1; that is not the F-measure rouge-score returns,
    // so it is not used here.)
    const s = rougeL("hello goodbye", "goodbye");
    expect(s.precision).toBe(0.5);
    expect(s.recall).toBe(1);
    expect(s.fmeasure).toBeCloseTo(2 / 3, 15);
    expect(rougeL("ankh morpork", "general kenobi").fmeasure).toBe(0);
  });

  it("hand-computed: case and punctuation are ignored", () => {
    // "The cat sat on the mat." vs "the cat is on the mat": tokens 6 and 6, LCS "the cat on the mat" = 5 → 5/6.
    expect(rougeL("The cat sat on the mat.", "the cat is on the mat").fmeasure).toBeCloseTo(5 / 6, 15);
  });

  it("takes the best reference by F-measure (score_multi)", () => {
    // "hello there" vs "hello": P 1/2, R 1, F 2/3; vs "there": same; vs "general kenobi": 0.
    expect(rougeL("hello there", ["hello", "there"]).fmeasure).toBeCloseTo(2 / 3, 15);
    // Corpus: mean of 2/3 and 1 (second item matches its first reference exactly) = 5/6.
    expect(rougeLCorpus(["hello there", "general kenobi"], [["hello", "there"], ["general kenobi", "general yoda"]])).toBeCloseTo(5 / 6, 15);
  });

  it("scores 0 when either side has no tokens (as rouge-score)", () => {
    expect(rougeL("", "").fmeasure).toBe(0);
    expect(rougeL("...", "a").fmeasure).toBe(0);
    expect(() => rougeL("a", [])).toThrow(/at least one reference/);
  });
});

describe("rougeL properties", () => {
  const word = fc.constantFrom("a", "b", "the", "cat", "Mat", "x1", "42", "ok!", "--", "é");
  const text = fc.array(word, { maxLength: 12 }).map((ws) => ws.join(" "));

  it("identical strings with at least one token score 1", () => {
    fc.assert(
      fc.property(text, (t) => {
        fc.pre(rougeTokenize(t).length > 0);
        const s = rougeL(t, t);
        expect(s.fmeasure).toBe(1);
        expect(s.precision).toBe(1);
        expect(s.recall).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it("F is symmetric, P and R swap, all lie in [0, 1]", () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const ab = rougeL(a, b);
        const ba = rougeL(b, a);
        expect(ab.fmeasure).toBe(ba.fmeasure);
        expect(ab.precision).toBe(ba.recall);
        for (const v of [ab.precision, ab.recall, ab.fmeasure]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("LCS is symmetric and bounded by the shorter sequence", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(3), { maxLength: 15 }), fc.array(fc.nat(3), { maxLength: 15 }), (a, b) => {
        const l = lcsLength(a, b);
        expect(lcsLength(b, a)).toBe(l);
        expect(l).toBeLessThanOrEqual(Math.min(a.length, b.length));
        expect(lcsLength(a, a)).toBe(a.length);
      }),
      { numRuns: 500 },
    );
  });
});
