// Tests for the grouped-query attention helpers (query head <-> kv group).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kvGroupHeads, kvGroupOf } from "./gqa.js";

describe("kvGroupOf / kvGroupHeads", () => {
  it("maps Llama-3-8B-style heads (32 query, 8 kv) in blocks of 4", () => {
    expect([0, 1, 2, 3, 4, 31].map((h) => kvGroupOf(h, 32, 8))).toEqual([0, 0, 0, 0, 1, 7]);
    expect(kvGroupHeads(1, 32, 8)).toEqual([4, 5, 6, 7]);
    expect(kvGroupOf(5, 8, 8)).toBe(5); // multi-head attention: one group per head
    expect(kvGroupOf(5, 8, 1)).toBe(0); // multi-query attention: a single group
  });

  it("kvGroupHeads is the inverse of kvGroupOf", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 8 }), fc.nat(), (kvHeads, size, seed) => {
        const heads = kvHeads * size;
        const head = seed % heads;
        const group = kvGroupOf(head, heads, kvHeads);
        expect(kvGroupHeads(group, heads, kvHeads)).toContain(head);
        const all = Array.from({ length: kvHeads }, (_, g) => kvGroupHeads(g, heads, kvHeads)).flat();
        expect(all).toEqual(Array.from({ length: heads }, (_, h) => h));
      }),
      { numRuns: 300 },
    );
  });

  it("rejects kvHeads that do not divide heads, and out-of-range heads/groups", () => {
    expect(() => kvGroupOf(0, 32, 5)).toThrow("kvHeads: expected a positive integer that divides the number of query heads (32), got 5");
    expect(() => kvGroupOf(0, 32, 0)).toThrow(/^kvHeads:/);
    expect(() => kvGroupOf(0, 32, 64)).toThrow(/^kvHeads:/);
    expect(() => kvGroupOf(32, 32, 8)).toThrow("head: expected an integer in [0, 32), got 32");
    expect(() => kvGroupOf(-1, 32, 8)).toThrow(/^head:/);
    expect(() => kvGroupHeads(8, 32, 8)).toThrow(/^group:/);
    expect(() => kvGroupOf(0, 0, 1)).toThrow("head: expected an integer in [0, 0), got 0");
    expect(() => kvGroupOf(0, -4, 1)).toThrow(/^heads:/);
  });
});
