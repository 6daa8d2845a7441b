// Property tests of the importance statistics: normalisation, combination rules, ablations, JSON state.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ImportanceTracker, normalizeWithinLayer } from "./index.js";

const matrix = (L: number, H: number) =>
  fc.array(fc.array(fc.double({ min: 0, max: 10, noNaN: true }).map((x) => (x < 1e-12 ? 0 : x)), { minLength: H, maxLength: H }), { minLength: L, maxLength: L });
const dims = fc.record({ L: fc.integer({ min: 1, max: 5 }), H: fc.integer({ min: 1, max: 6 }) });

describe("normalizeWithinLayer", () => {
  it("each layer sums to one (or stays zero), values stay non-negative and keep their order", () => {
    fc.assert(
      fc.property(dims.chain(({ L, H }) => matrix(L, H)), (m) => {
        const n = normalizeWithinLayer(m);
        n.forEach((row, l) => {
          const s = row.reduce((a, b) => a + b, 0);
          const raw = m[l]!.reduce((a, b) => a + b, 0);
          if (raw > 0) expect(s).toBeCloseTo(1, 9);
          else expect(s).toBe(0);
          row.forEach((x, h) => {
            expect(x).toBeGreaterThanOrEqual(0);
            for (let g = 0; g < row.length; g++) if (m[l]![h]! > m[l]![g]!) expect(x).toBeGreaterThanOrEqual(row[g]!);
          });
        });
      }),
    );
  });
  it("is invariant to scaling a layer", () => {
    fc.assert(
      fc.property(dims.chain(({ L, H }) => matrix(L, H)), fc.double({ min: 0.01, max: 100, noNaN: true }), (m, c) => {
        const a = normalizeWithinLayer(m);
        const b = normalizeWithinLayer(m.map((r) => r.map((x) => x * c)));
        a.forEach((row, l) => row.forEach((x, h) => expect(b[l]![h]!).toBeCloseTo(x, 9)));
      }),
    );
  });
  it("rejects negative and non-finite values, naming the position", () => {
    expect(() => normalizeWithinLayer([[1, -1]])).toThrow(/layer 0, head 1/);
    expect(() => normalizeWithinLayer([[1, NaN]])).toThrow(/finite non-negative/);
    expect(() => normalizeWithinLayer([[1, 2], [3]])).toThrow(/layer 1 has 1 heads, expected 2/);
  });
});

describe("ImportanceTracker", () => {
  const tasks = dims.chain(({ L, H }) =>
    fc.record({ L: fc.constant(L), H: fc.constant(H), ts: fc.array(fc.tuple(matrix(L, H), matrix(L, H)), { minLength: 1, maxLength: 4 }) }),
  );

  it("sum-of-products equals Σ_k S̃^k ⊙ F^k and product-of-sums equals (Σ S̃)(Σ F), per the spec", () => {
    fc.assert(
      fc.property(tasks, ({ L, H, ts }) => {
        const tr = new ImportanceTracker(L, H);
        ts.forEach(([s, f], i) => tr.addTask(`t${i}`, s, f));
        const sop = tr.importance();
        const pos = tr.importance({ combine: "product-of-sums" });
        const sOnly = tr.importance({ measure: "sensitivity" });
        const fOnly = tr.importance({ measure: "forgettability" });
        for (let l = 0; l < L; l++)
          for (let h = 0; h < H; h++) {
            let a = 0, sS = 0, sF = 0;
            for (const [s, f] of ts) {
              const n = normalizeWithinLayer(s);
              a += n[l]![h]! * f[l]![h]!;
              sS += n[l]![h]!;
              sF += f[l]![h]!;
            }
            expect(sop[l]![h]!).toBeCloseTo(a, 9);
            expect(pos[l]![h]!).toBeCloseTo(sS * sF, 9);
            expect(sOnly[l]![h]!).toBeCloseTo(sS, 9);
            expect(fOnly[l]![h]!).toBeCloseTo(sF, 9);
            expect(sop[l]![h]!).toBeGreaterThanOrEqual(0);
          }
      }),
    );
  });

  it("with one task, both combination rules agree", () => {
    fc.assert(
      fc.property(dims.chain(({ L, H }) => fc.tuple(fc.constant(L), fc.constant(H), matrix(L, H), matrix(L, H))), ([L, H, s, f]) => {
        const tr = new ImportanceTracker(L, H);
        tr.addTask("a", s, f);
        const x = tr.importance(), y = tr.importance({ combine: "product-of-sums" });
        x.forEach((row, l) => row.forEach((v, h) => expect(y[l]![h]!).toBeCloseTo(v, 9)));
      }),
    );
  });

  it("zero forgettability gives zero importance", () => {
    const tr = new ImportanceTracker(2, 3);
    tr.addTask("a", [[1, 2, 3], [4, 5, 6]], [[0, 0, 0], [0, 0, 0]]);
    expect(tr.importance().flat().every((x) => x === 0)).toBe(true);
  });

  it("serialises to JSON and reloads to the same importance (resume between tasks)", () => {
    fc.assert(
      fc.property(tasks, ({ L, H, ts }) => {
        const tr = new ImportanceTracker(L, H);
        ts.forEach(([s, f], i) => tr.addTask(`t${i}`, s, f));
        const back = ImportanceTracker.fromJSON(JSON.parse(JSON.stringify(tr)));
        expect(back.importance()).toEqual(tr.importance());
        expect(back.tasks.map((t) => t.task)).toEqual(tr.tasks.map((t) => t.task));
      }),
    );
  });

  it("rejects bad input with clear errors", () => {
    const tr = new ImportanceTracker(1, 2);
    expect(() => tr.addTask("a", [[1, 2, 3]], [[1, 2]])).toThrow(/sensitivity: layer 0 has 3 heads, expected 2/);
    tr.addTask("a", [[1, 2]], [[1, 2]]);
    expect(() => tr.addTask("a", [[1, 2]], [[1, 2]])).toThrow(/already added/);
    expect(() => ImportanceTracker.fromJSON({ format: "seekr.importance", version: 2 })).toThrow(/unsupported version 2/);
    expect(() => ImportanceTracker.fromJSON({})).toThrow(/not a seekr.importance state/);
    expect(() => new ImportanceTracker(0, 2)).toThrow(/layers/);
    expect(() => tr.importance({ combine: "max" as never })).toThrow(/unknown combine/);
  });
});
