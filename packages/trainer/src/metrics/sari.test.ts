// Tests of SARI (HF evaluate / EASSE): 13a tokenisation, the metric card's examples computed by hand, properties.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sari, sariSentence, tokenize13a } from "./sari.js";

describe("tokenize13a", () => {
  it("splits off final periods and symbols", () => {
    expect(tokenize13a("About 95 species are currently accepted.")).toBe("About 95 species are currently accepted .");
    expect(tokenize13a("Hi (there)!")).toBe("Hi ( there ) !");
  });

  it("keeps periods/commas between digits, splits a dash after a digit", () => {
    // " 3.14, 1,000 and x-ray 5-6 ": ", " → " , " (comma before a non-digit); "5-" → "5 - "; "x-ray" stays.
    expect(tokenize13a("3.14, 1,000 and x-ray 5-6")).toBe("3.14 , 1,000 and x-ray 5 - 6");
  });

  it("unescapes entities and collapses whitespace", () => {
    expect(tokenize13a("&quot;Hi&quot;  he\nsaid")).toBe('" Hi " he said');
    expect(tokenize13a("  ")).toBe("");
  });
});

describe("sariSentence", () => {
  it("reproduces the HF sari card's perfect match (100)", () => {
    const s = "About 95 species are currently accepted .";
    expect(sari([s], [s], [[s]])).toBe(100);
  });

  it("reproduces the HF sari card's partial match, 26.953601953601954 = 100·883/3276, by hand", () => {
    // After lowercasing and 13a: S = about 95 species are currently accepted .
    // C = about 95 you now get in .   R1 = about 95 species are currently known .
    // R2 = about 95 species are now accepted .   R3 = 95 species are now accepted .   (numref 3)
    // Source/prediction n-gram counts are multiplied by 3 and compared with reference counts.
    // n=1: keep = {about:3, 95:3, .:3}, good = {about:2, 95:3, .:3} → P = (2/3+1+1)/3 = 8/9;
    //      recall = 8 / Σ(S×3 ∧ R) = 8/17 → F = 8/13.
    //      delete = {species, are, currently, accepted}×3; minus refs: currently 2, accepted 1 → P = (2/3+1/3)/4 = 1/4.
    //      add = {you, now, get, in}, good = {now}; all = R∖S = {known, now} → P 1/4, R 1/2 → F 1/3.
    // n=2: keep = {about 95}, good 2 of 3 → P 2/3; recall 2/11 → F 2/7. delete: 5 bigrams, good
    //      "are currently" 2/3, "currently accepted" 3/3, "accepted ." 1/3 → P = 2/5. add: none good → 0.
    // n=3: keep empty → P = 1 but recall 0 → F 0. delete: 5 trigrams, good 1/3+0+2/3+1+1 = 3 → 3/5. add 0.
    // n=4: keep F 0. delete: 4 four-grams, good 1/3+2/3+1+1 = 3 → 3/4. add 0.
    // keep = (8/13+2/7)/4 = 41/182, delete = (1/4+2/5+3/5+3/4)/4 = 1/2, add = (1/3)/4 = 1/12.
    // SARI = (41/182 + 1/2 + 1/12)/3 = 883/3276.
    const r = sariSentence("About 95 species are currently accepted.", "About 95 you now get in.", [
      "About 95 species are currently known.",
      "About 95 species are now accepted.",
      "95 species are now accepted.",
    ]);
    expect(r.keep[0]).toBeCloseTo(8 / 13, 14);
    expect(r.keep[1]).toBeCloseTo(2 / 7, 14);
    expect(r.keep.slice(2)).toEqual([0, 0]);
    expect(r.delete[0]).toBeCloseTo(1 / 4, 14);
    expect(r.delete[1]).toBeCloseTo(2 / 5, 14);
    expect(r.delete[2]).toBeCloseTo(3 / 5, 14);
    expect(r.delete[3]).toBeCloseTo(3 / 4, 14);
    expect(r.add[0]).toBeCloseTo(1 / 3, 14);
    expect(r.add.slice(1)).toEqual([0, 0, 0]);
    expect(r.sari).toBeCloseTo((100 * 883) / 3276, 10);
    expect(r.sari).toBeCloseTo(26.953601953601954, 10);
  });

  it("hand-computed: copying the source when the reference deletes a word", () => {
    // S = C = "a b c", R = "a b". numref 1. n=1: keep {a,b,c}, good {a,b} → P 2/3, R = 2/2 → F 0.8;
    // delete empty → P 1; add: none added, R∖S empty → P = R = 1 → F 1.
    // n=2: keep {a b, b c}, good {a b} → P 1/2, R 1/1 → F 2/3; delete 1; add 1.
    // n=3: keep {a b c}, good none → P 0; all = S ∧ R = {} → R = 1 (0/0) → F 0; delete 1; add 1.
    // n=4: no 4-grams: keep P = R = 1 → F 1; delete 1; add 1.
    // keep = (0.8 + 2/3 + 0 + 1)/4 = 37/60; SARI = 100·(37/60 + 1 + 1)/3 = 100·157/180.
    expect(sariSentence("a b c", "a b c", ["a b"]).sari).toBeCloseTo((100 * 157) / 180, 10);
  });

  it("validates its inputs", () => {
    expect(() => sariSentence("a", "a", [])).toThrow(/at least one reference/);
    expect(() => sari(["a"], ["a", "b"], ["a", "b"])).toThrow(/1 sources but 2 predictions/);
    expect(() => sari([], [], [])).toThrow(/no predictions/);
  });

  it("lies in [0, 100] for any inputs", () => {
    const sentence = fc.array(fc.constantFrom("a", "b", "c", "d", ".", "the", "Cat", "1,5"), { maxLength: 8 }).map((w) => w.join(" "));
    fc.assert(
      fc.property(sentence, sentence, fc.array(sentence, { minLength: 1, maxLength: 3 }), (s, c, rs) => {
        const v = sariSentence(s, c, rs).sari;
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(100);
      }),
      { numRuns: 400 },
    );
  });
});
