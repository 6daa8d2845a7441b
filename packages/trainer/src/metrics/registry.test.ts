// Tests of the metric registry: corpus scores in points for each named metric.

import { describe, expect, it } from "vitest";
import { getMetric, METRIC_NAMES, scoreCorpus } from "./registry.js";

describe("scoreCorpus", () => {
  it("exact_match is case-sensitive, accuracy case-folds", () => {
    const items = [
      { prompt: "p", prediction: "EDCBA", references: "edcba" },
      { prompt: "p", prediction: " abc ", references: "abc" },
    ];
    expect(scoreCorpus("exact_match", items)).toBe(50);
    expect(scoreCorpus("accuracy", items)).toBe(100);
  });

  it("rougeL, edit_similarity, fuzz_ratio and sari report points", () => {
    expect(scoreCorpus("rougeL", [{ prompt: "", prediction: "police kill the gunman", references: "police killed the gunman" }])).toBeCloseTo(75, 12);
    expect(scoreCorpus("edit_similarity", [{ prompt: "", prediction: "flaw", references: ["lawn", "xxxx"] }])).toBe(50);
    expect(scoreCorpus("fuzz_ratio", [{ prompt: "", prediction: "this is a test", references: "this is a test!" }])).toBe(97);
    const s = "About 95 species are currently accepted .";
    expect(scoreCorpus("sari", [{ prompt: s, prediction: s, references: [s] }])).toBe(100);
  });

  it("rejects unknown metrics and empty corpora", () => {
    expect(() => getMetric("bleu")).toThrow(/unknown metric "bleu" \(expected one of exact_match, accuracy/);
    expect(() => scoreCorpus("accuracy", [])).toThrow(/no predictions/);
    expect(METRIC_NAMES).toContain("sari");
  });
});
