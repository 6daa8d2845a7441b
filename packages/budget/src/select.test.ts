// Example-based tests of head selection on a hand-worked importance matrix.

import { describe, expect, it } from "vitest";
import { headsByLayer, resolveBudgets, selectHeads } from "./select.js";

// Layer sums: L0 = 12, L1 = 20, L2 = 0, L3 = 20 (L1 and L3 tie).
const I = [
  [1, 9, 0, 2],
  [5, 5, 5, 5],
  [0, 0, 0, 0],
  [15, 1, 1, 3],
];

const pairs = (s: { heads: readonly { layer: number; head: number }[] }): Array<[number, number]> =>
  s.heads.map((h) => [h.layer, h.head]);

describe("selectHeads — importance (hierarchical)", () => {
  it("keeps the top layers first, so a strong head of a weak layer is left out", () => {
    const s = selectHeads(I, { layerBudget: 2, headBudget: 3 });
    expect(s.layers).toEqual([1, 3]);
    expect(s.heads).toEqual([
      { layer: 3, head: 0, importance: 15 },
      { layer: 1, head: 0, importance: 5 },
      { layer: 1, head: 1, importance: 5 },
    ]);
    expect(s.layerScores).toEqual([12, 20, 0, 20]);
    expect(s.budget).toEqual({ layers: 2, heads: 3 });
    expect(s.strategy).toBe("importance");
    expect(s.groupBy).toBe("query");
  });

  it("breaks a layer tie in favour of the lower layer", () => {
    const s = selectHeads(I, { layerBudget: 1, headBudget: 3 });
    expect(s.layers).toEqual([1]);
    expect(pairs(s)).toEqual([[1, 0], [1, 1], [1, 2]]);
  });

  it("admits the strong head once its layer is kept", () => {
    const s = selectHeads(I, { layerBudget: 3, headBudget: 3 });
    expect(s.layers).toEqual([0, 1, 3]);
    expect(pairs(s)).toEqual([[3, 0], [0, 1], [1, 0]]);
  });

  it("clamps budgets larger than the model and orders every head with the tie rule", () => {
    const s = selectHeads(I, { layerBudget: 99, headBudget: 1000 });
    expect(s.budget).toEqual({ layers: 4, heads: 16 });
    expect(s.layers).toEqual([0, 1, 2, 3]);
    expect(pairs(s)).toEqual([
      [3, 0], [0, 1], [1, 0], [1, 1], [1, 2], [1, 3], [3, 3], [0, 3],
      [0, 0], [3, 1], [3, 2], [0, 2], [2, 0], [2, 1], [2, 2], [2, 3],
    ]);
  });

  it("resolves fractions: half the layers and 20% of the 16 heads", () => {
    const s = selectHeads(I, { layerBudget: { fraction: 0.5 }, headBudget: { fraction: 0.2 } });
    expect(s.budget).toEqual({ layers: 2, heads: 3 });
    expect(s).toEqual(selectHeads(I, { layerBudget: 2, headBudget: 3 }));
  });

  it("keeps layers but no heads with a zero head budget", () => {
    const s = selectHeads(I, { layerBudget: 2, headBudget: 0 });
    expect(s.layers).toEqual([1, 3]);
    expect(s.heads).toEqual([]);
  });

  it("accepts the row-major matrix form with the same result", () => {
    const m = { layers: 4, heads: 4, data: new Float64Array(I.flat()) };
    expect(selectHeads(m, { layerBudget: 2, headBudget: 3 })).toEqual(selectHeads(I, { layerBudget: 2, headBudget: 3 }));
  });

  it("handles an empty model", () => {
    const s = selectHeads([], { layerBudget: 3, headBudget: 3 });
    expect(s).toMatchObject({ layers: [], heads: [], layerScores: [], budget: { layers: 0, heads: 0 } });
  });
});

describe("selectHeads — GQA", () => {
  it("annotates each head with its kv group when kvHeads is given", () => {
    const s = selectHeads(I, { layerBudget: 2, headBudget: 3, kvHeads: 2 });
    expect(s.heads.map((h) => h.kvGroup)).toEqual([0, 0, 0]);
    expect(pairs(s)).toEqual([[3, 0], [1, 0], [1, 1]]);
  });

  it('groupBy "kv" selects whole groups ranked by summed importance', () => {
    // groups of 2: L1 -> g0 = 10, g1 = 10; L3 -> g0 = 16, g1 = 4
    const s = selectHeads(I, { layerBudget: 2, headBudget: 4, kvHeads: 2, groupBy: "kv" });
    expect(s.budget).toEqual({ layers: 2, heads: 4, kvGroups: 2 });
    expect(s.kvGroups).toEqual([
      { layer: 3, group: 0, importance: 16, heads: [0, 1] },
      { layer: 1, group: 0, importance: 10, heads: [0, 1] },
    ]);
    expect(s.heads).toEqual([
      { layer: 3, head: 0, importance: 15, kvGroup: 0 },
      { layer: 1, head: 0, importance: 5, kvGroup: 0 },
      { layer: 1, head: 1, importance: 5, kvGroup: 0 },
      { layer: 3, head: 1, importance: 1, kvGroup: 0 },
    ]);
  });

  it("converts a head budget to round(B_H / group size) groups, at least one", () => {
    const opts = { layerBudget: 4, kvHeads: 2, groupBy: "kv" } as const;
    expect(resolveBudgets(I, { ...opts, headBudget: 1 }).kvGroups).toBe(1);
    expect(resolveBudgets(I, { ...opts, headBudget: 3 }).kvGroups).toBe(2);
    expect(resolveBudgets(I, { ...opts, headBudget: 5 }).kvGroups).toBe(3);
    expect(resolveBudgets(I, { ...opts, headBudget: 0 }).kvGroups).toBe(0);
    expect(resolveBudgets(I, { ...opts, headBudget: 999 }).kvGroups).toBe(8);
    expect(selectHeads(I, { ...opts, headBudget: 3 }).heads).toHaveLength(4);
  });
});

describe("selectHeads — ablations", () => {
  it('"random" picks B_H distinct heads among all layers, reproducibly per seed', () => {
    const a = selectHeads(I, { strategy: "random", headBudget: 5, seed: 11 });
    expect(a.heads).toHaveLength(5);
    expect(new Set(a.heads.map((h) => `${h.layer}:${h.head}`)).size).toBe(5);
    expect(a.layers).toEqual([...new Set(a.heads.map((h) => h.layer))].sort((x, y) => x - y));
    expect(selectHeads(I, { strategy: "random", headBudget: 5, seed: 11 })).toEqual(a);
    expect(a.budget).toEqual({ layers: 4, heads: 5 });
    const seeds = Array.from({ length: 20 }, (_, seed) =>
      JSON.stringify(pairs(selectHeads(I, { strategy: "random", headBudget: 5, seed }))),
    );
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });

  it('"random" ignores the layer budget (but still validates it)', () => {
    const a = selectHeads(I, { strategy: "random", headBudget: 16, layerBudget: 1 });
    expect(a.heads).toHaveLength(16);
    expect(() => selectHeads(I, { strategy: "random", headBudget: 3, layerBudget: -1 })).toThrow(/^layerBudget:/);
  });

  it('"all" returns every head, no budget needed', () => {
    const s = selectHeads(I, { strategy: "all" });
    expect(s.layers).toEqual([0, 1, 2, 3]);
    expect(s.heads).toHaveLength(16);
    expect(s.budget).toEqual({ layers: 4, heads: 16 });
    expect(s.heads).toEqual(selectHeads(I, { layerBudget: 4, headBudget: 16 }).heads);
  });
});

describe("headsByLayer", () => {
  it("groups selected heads by layer, both ascending, omitting layers without heads", () => {
    const s = selectHeads(I, { layerBudget: 3, headBudget: 4 });
    // heads: (3,0) 15, (0,1) 9, (1,0) 5, (1,1) 5
    expect(headsByLayer(s)).toEqual([
      { layer: 0, heads: [1] },
      { layer: 1, heads: [0, 1] },
      { layer: 3, heads: [0] },
    ]);
    expect(headsByLayer(selectHeads(I, { layerBudget: 2, headBudget: 1 }))).toEqual([{ layer: 3, heads: [0] }]);
  });
});

describe("selectHeads — errors", () => {
  it("names the offending field", () => {
    expect(() => selectHeads(I, { layerBudget: 2, headBudget: -3 })).toThrow(
      "headBudget: expected a non-negative integer count or {fraction} in [0,1], got -3",
    );
    expect(() => selectHeads(I, { layerBudget: { fraction: 2 }, headBudget: 3 })).toThrow(
      "layerBudget: expected a non-negative integer count or {fraction} in [0,1], got {fraction: 2}",
    );
    expect(() => selectHeads(I, { headBudget: 3 })).toThrow(/^layerBudget: required for strategy "importance"/);
    expect(() => selectHeads(I, { layerBudget: 3 })).toThrow(/^headBudget: required/);
    expect(() => selectHeads(I, { strategy: "random", layerBudget: 3 })).toThrow(/^headBudget: required for strategy "random"/);
    expect(() => selectHeads(I, { strategy: "best" as never, layerBudget: 1, headBudget: 1 })).toThrow(
      'strategy: expected "importance", "random" or "all", got "best"',
    );
    expect(() => selectHeads(I, { layerBudget: 1, headBudget: 1, groupBy: "kv" })).toThrow('groupBy: "kv" requires kvHeads');
    expect(() => selectHeads(I, { layerBudget: 1, headBudget: 1, groupBy: "layer" as never })).toThrow(/^groupBy:/);
    expect(() => selectHeads(I, { layerBudget: 1, headBudget: 1, kvHeads: 3 })).toThrow(
      "kvHeads: expected a positive integer that divides the number of query heads (4), got 3",
    );
    expect(() => selectHeads(I, { strategy: "random", headBudget: 1, seed: 0.5 })).toThrow("seed: expected a safe integer, got 0.5");
    expect(() => selectHeads([[1, Number.NaN]], { layerBudget: 1, headBudget: 1 })).toThrow(
      "importance: layer 0, head 1: expected a finite non-negative number, got NaN",
    );
    expect(() => selectHeads(I, null as never)).toThrow(/^options:/);
  });
});
