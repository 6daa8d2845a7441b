// Tests of the answer normalisation, exact match and accuracy.

import { describe, expect, it } from "vitest";
import { accuracy, exactMatch, normalizeAnswer } from "./normalize.js";

describe("normalizeAnswer", () => {
  it("trims and collapses every whitespace run to one space", () => {
    expect(normalizeAnswer("  a \t b\n\n c  ")).toBe("a b c");
    expect(normalizeAnswer("\u00a0x\u2003y\u00a0")).toBe("x y");
  });

  it("keeps case unless caseFold is set", () => {
    expect(normalizeAnswer(" Paris ")).toBe("Paris");
    expect(normalizeAnswer(" Paris ", { caseFold: true })).toBe("paris");
  });

  it("does not touch punctuation", () => {
    expect(normalizeAnswer("a.  b,")).toBe("a. b,");
  });
});

describe("exactMatch", () => {
  it("compares normalised strings, case-sensitively by default", () => {
    expect(exactMatch(" edcba\n", "edcba")).toBe(1);
    expect(exactMatch("EDCBA", "edcba")).toBe(0);
    expect(exactMatch("EDCBA", "edcba", { caseFold: true })).toBe(1);
    expect(exactMatch("ed cba", "edcba")).toBe(0);
  });

  it("matches any of several references", () => {
    expect(exactMatch("B", ["A", "B"])).toBe(1);
    expect(exactMatch("C", ["A", "B"])).toBe(0);
    expect(() => exactMatch("C", [])).toThrow(/at least one reference/);
  });
});

describe("accuracy", () => {
  it("is the mean exact match", () => {
    expect(accuracy(["a", "b", "c"], ["a", "x", " c "])).toBeCloseTo(2 / 3, 15);
    expect(accuracy(["A"], ["a"], { caseFold: true })).toBe(1);
  });

  it("rejects empty and mismatched corpora", () => {
    expect(() => accuracy([], [])).toThrow(/no predictions/);
    expect(() => accuracy(["a"], ["a", "b"])).toThrow(/1 predictions but 2 references/);
  });
});
