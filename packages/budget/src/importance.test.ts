// Tests for importance matrix validation and layer scores.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { layerScoresOf, toImportanceMatrix } from "./importance.js";

describe("toImportanceMatrix", () => {
  it("accepts nested rows and row-major matrices alike", () => {
    const rows = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const a = toImportanceMatrix(rows);
    const b = toImportanceMatrix({ layers: 2, heads: 3, data: new Float64Array([1, 2, 3, 4, 5, 6]) });
    const c = toImportanceMatrix({ layers: 2, heads: 3, data: [1, 2, 3, 4, 5, 6] });
    for (const m of [a, b, c]) {
      expect(m.layers).toBe(2);
      expect(m.heads).toBe(3);
      expect([...m.data]).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it("copies the data (later mutation of the input does not leak in)", () => {
    const data = [1, 2];
    const m = toImportanceMatrix({ layers: 1, heads: 2, data });
    data[0] = 100;
    expect(m.data[0]).toBe(1);
  });

  it("accepts the empty model", () => {
    expect(toImportanceMatrix([])).toMatchObject({ layers: 0, heads: 0 });
    expect(toImportanceMatrix([[], []])).toMatchObject({ layers: 2, heads: 0 });
  });

  it("rejects NaN, infinite and negative entries, naming layer, head and value", () => {
    expect(() => toImportanceMatrix([[1, 2], [3, Number.NaN]])).toThrow(
      "importance: layer 1, head 1: expected a finite non-negative number, got NaN",
    );
    expect(() => toImportanceMatrix([[1, -0.5]])).toThrow("layer 0, head 1");
    expect(() => toImportanceMatrix([[1, -0.5]])).toThrow("got -0.5");
    expect(() => toImportanceMatrix({ layers: 2, heads: 2, data: [0, 0, Number.POSITIVE_INFINITY, 0] })).toThrow(
      "importance: layer 1, head 0: expected a finite non-negative number, got Infinity",
    );
  });

  it("rejects a generated bad entry wherever it is placed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        fc.constantFrom(Number.NaN, -1, -1e-300, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
        (layers, heads, at, bad) => {
          const rows = Array.from({ length: layers }, () => new Array<number>(heads).fill(1));
          const l = at % layers;
          const h = Math.floor(at / layers) % heads;
          (rows[l] as number[])[h] = bad;
          expect(() => toImportanceMatrix(rows)).toThrow(`importance: layer ${l}, head ${h}: `);
          expect(() => toImportanceMatrix({ layers, heads, data: rows.flat() })).toThrow(`layer ${l}, head ${h}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects ragged rows and mismatched data lengths", () => {
    expect(() => toImportanceMatrix([[1, 2], [3]])).toThrow(/layer 1: expected 2 heads .* got 1; the matrix must be rectangular/);
    expect(() => toImportanceMatrix({ layers: 2, heads: 2, data: [1, 2, 3] })).toThrow(
      "importance.data: expected layers * heads = 2 * 2 = 4 entries, got 3",
    );
    expect(() => toImportanceMatrix({ layers: -1, heads: 2, data: [] })).toThrow(/^importance.layers/);
    expect(() => toImportanceMatrix({ layers: 1, heads: 1.5, data: [] })).toThrow(/^importance.heads/);
    expect(() => toImportanceMatrix([[1], "x" as unknown as number[]])).toThrow(/^importance: layer 1: expected an array/);
  });

  it("normalises -0 to 0", () => {
    expect(Object.is(toImportanceMatrix([[-0]]).data[0], 0)).toBe(true);
  });
});

describe("layerScoresOf", () => {
  it("sums each layer's heads", () => {
    expect(layerScoresOf(toImportanceMatrix([[1, 2, 3], [0, 0, 0], [0.5, 0.25, 0]]))).toEqual([6, 0, 0.75]);
  });
});
