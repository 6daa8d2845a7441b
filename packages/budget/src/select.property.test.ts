// Property-based tests (fast-check) of the head-selection invariants of SEEKR §5.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Budget, resolveBudget } from "./budget.js";
import { type HeadSelection, headsByLayer, type SelectedHead, selectHeads } from "./select.js";

type Matrix = number[][];

const RUNS = { numRuns: 1000 };

/** Importance values: many zeros and small integers (ties), plus arbitrary positive doubles. */
const value = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 3, arbitrary: fc.double({ min: 1e-3, max: 1e3, noNaN: true }) },
);

const matrixOf = (layers: number, heads: number, v: fc.Arbitrary<number> = value): fc.Arbitrary<Matrix> =>
  fc.array(fc.array(v, { minLength: heads, maxLength: heads }), { minLength: layers, maxLength: layers });

/** Random shapes, including empty ones (0 layers, 0 heads). */
const matrix = (maxLayers = 8, maxHeads = 8): fc.Arbitrary<Matrix> =>
  fc.tuple(fc.integer({ min: 0, max: maxLayers }), fc.integer({ min: 0, max: maxHeads })).chain(([l, h]) => matrixOf(l, h));

/** A count (possibly larger than the model) or a fraction. */
const budget = (total: number): fc.Arbitrary<Budget> =>
  fc.oneof(fc.nat(total + 3), fc.double({ min: 0, max: 1, noNaN: true }).map((fraction) => ({ fraction })));

const shapeOf = (m: Matrix): { layers: number; heads: number } => ({ layers: m.length, heads: m[0]?.length ?? 0 });

/** A matrix with budgets for it. */
const problem = (maxLayers = 8, maxHeads = 8) =>
  matrix(maxLayers, maxHeads).chain((m) => {
    const { layers, heads } = shapeOf(m);
    return fc.record({ m: fc.constant(m), layerBudget: budget(layers), headBudget: budget(layers * heads) });
  });

/** Same, with count budgets only. */
const countedProblem = (maxLayers = 8, maxHeads = 8) =>
  matrix(maxLayers, maxHeads).chain((m) => {
    const { layers, heads } = shapeOf(m);
    return fc.record({ m: fc.constant(m), layerBudget: fc.nat(layers + 2), headBudget: fc.nat(layers * heads + 2) });
  });

const at = (m: Matrix, l: number, h: number): number => (m[l] as number[])[h] as number;
const rowSum = (row: readonly number[]): number => row.reduce((s, x) => s + x, 0);
const key = (h: { layer: number; head: number }): string => `${h.layer}:${h.head}`;

/** The tie rule: a ranks before b. */
const ranksBefore = (a: { importance: number; layer: number }, ai: number, b: { importance: number; layer: number }, bi: number) =>
  a.importance > b.importance || (a.importance === b.importance && (a.layer < b.layer || (a.layer === b.layer && ai < bi)));

const headsRankBefore = (a: SelectedHead, b: SelectedHead): boolean => ranksBefore(a, a.head, b, b.head);

function expectSortedByRule(heads: readonly SelectedHead[]): void {
  for (let i = 1; i < heads.length; i++) {
    expect(headsRankBefore(heads[i - 1] as SelectedHead, heads[i] as SelectedHead)).toBe(true);
  }
}

function expectConsistentWithMatrix(m: Matrix, s: HeadSelection): void {
  for (const h of s.heads) expect(h.importance).toBe(at(m, h.layer, h.head));
  expect(new Set(s.heads.map(key)).size).toBe(s.heads.length);
  expect(s.layerScores).toEqual(m.map(rowSum));
}

describe("importance strategy invariants", () => {
  it("selects exactly min(B_H, heads in the kept layers) heads from min(B_L, layers) layers", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const { layers, heads } = shapeOf(m);
        const s = selectHeads(m, { layerBudget, headBudget });
        const bL = resolveBudget(layerBudget, layers);
        const bH = resolveBudget(headBudget, layers * heads);
        expect(s.budget).toEqual({ layers: bL, heads: bH });
        expect(s.layers).toHaveLength(bL);
        expect(s.heads).toHaveLength(Math.min(bH, heads * s.layers.length));
      }),
      RUNS,
    );
  });

  it("every selected head lies in a selected layer; heads are distinct, ordered by the tie rule and carry their importance", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const s = selectHeads(m, { layerBudget, headBudget });
        const kept = new Set(s.layers);
        for (const h of s.heads) expect(kept.has(h.layer)).toBe(true);
        expectSortedByRule(s.heads);
        expectConsistentWithMatrix(m, s);
      }),
      RUNS,
    );
  });

  it("selected layers are exactly the top-B_L layers by summed importance (ties: lower layer)", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const s = selectHeads(m, { layerBudget, headBudget });
        const scores = m.map(rowSum);
        for (let i = 1; i < s.layers.length; i++) expect(s.layers[i]).toBeGreaterThan(s.layers[i - 1] as number);
        const kept = new Set(s.layers);
        for (const k of s.layers) {
          for (let l = 0; l < m.length; l++) {
            if (kept.has(l)) continue;
            const sk = scores[k] as number;
            const sl = scores[l] as number;
            expect(sk > sl || (sk === sl && k < l)).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it("selected heads are the top-B_H heads of the kept layers (ties: lower layer, then lower head)", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const s = selectHeads(m, { layerBudget, headBudget });
        const chosen = new Set(s.heads.map(key));
        for (const layer of s.layers) {
          (m[layer] as number[]).forEach((importance, head) => {
            const u = { layer, head, importance };
            if (chosen.has(key(u))) return;
            for (const h of s.heads) expect(headsRankBefore(h, u)).toBe(true);
          });
        }
      }),
      RUNS,
    );
  });

  it("raising a selected head's importance never removes it", () => {
    const raise = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.double({ min: 1e-9, max: 1e4, noNaN: true }));
    fc.assert(
      fc.property(problem(), fc.nat(), raise, ({ m, layerBudget, headBudget }, pick, delta) => {
        const s = selectHeads(m, { layerBudget, headBudget });
        fc.pre(s.heads.length > 0);
        const target = s.heads[pick % s.heads.length] as SelectedHead;
        const raised = m.map((row) => [...row]);
        (raised[target.layer] as number[])[target.head] = target.importance + delta;
        const t = selectHeads(raised, { layerBudget, headBudget });
        expect(t.heads.map(key)).toContain(key(target));
        expect(t.layers).toEqual(s.layers);
      }),
      RUNS,
    );
  });

  it("lowering an unselected head's importance never adds it", () => {
    fc.assert(
      fc.property(problem(), fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), ({ m, layerBudget, headBudget }, pick, factor) => {
        const s = selectHeads(m, { layerBudget, headBudget });
        const chosen = new Set(s.heads.map(key));
        const all = m.flatMap((row, layer) => row.map((importance, head) => ({ layer, head, importance })));
        const others = all.filter((h) => !chosen.has(key(h)));
        fc.pre(others.length > 0);
        const target = others[pick % others.length] as SelectedHead;
        const lowered = m.map((row) => [...row]);
        (lowered[target.layer] as number[])[target.head] = target.importance * factor;
        expect(selectHeads(lowered, { layerBudget, headBudget }).heads.map(key)).not.toContain(key(target));
      }),
      RUNS,
    );
  });

  it("scaling every importance by a power of two changes nothing but the importances", () => {
    fc.assert(
      fc.property(problem(), fc.integer({ min: -20, max: 20 }), ({ m, layerBudget, headBudget }, k) => {
        const c = 2 ** k;
        const s = selectHeads(m, { layerBudget, headBudget });
        const t = selectHeads(m.map((row) => row.map((x) => x * c)), { layerBudget, headBudget });
        expect(t.layers).toEqual(s.layers);
        expect(t.heads).toEqual(s.heads.map((h) => ({ ...h, importance: h.importance * c })));
        expect(t.layerScores).toEqual(s.layerScores.map((x) => x * c));
      }),
      RUNS,
    );
  });

  it("appending an all-zero last layer keeps every previous selection, in order, and only adds zero heads of the new layer", () => {
    // Exact statement (count budgets): the new layer scores 0 and has the highest index, so it ranks
    // last among layers and its heads rank last among heads. Hence it is kept only when B_L exceeds the
    // old number of layers; the old heads are a prefix of the new heads, and any extra heads are zero
    // heads of the new layer, filling the budget up to min(B_H, heads in the kept layers).
    fc.assert(
      fc.property(countedProblem(), ({ m, layerBudget, headBudget }) => {
        const { layers, heads } = shapeOf(m);
        fc.pre(layers > 0);
        const s = selectHeads(m, { layerBudget, headBudget });
        const t = selectHeads([...m, new Array<number>(heads).fill(0)], { layerBudget, headBudget });
        expect(t.layers).toEqual(layerBudget > layers ? [...s.layers, layers] : s.layers);
        expect(t.heads.slice(0, s.heads.length)).toEqual(s.heads);
        for (const h of t.heads.slice(s.heads.length)) expect(h).toMatchObject({ layer: layers, importance: 0 });
        expect(t.heads).toHaveLength(Math.min(headBudget, heads * t.layers.length));
      }),
      RUNS,
    );
  });

  it("appending an all-zero head column keeps the layers and the selected positive heads", () => {
    // Exact statement (count budgets): layer sums are unchanged (x + 0 = x), so the kept layers are the
    // same. Zero heads of the new column may displace other zero heads (a new zero head in a lower layer
    // wins the tie), but never a positive one: the positive selected heads are identical, in order.
    fc.assert(
      fc.property(countedProblem(), ({ m, layerBudget, headBudget }) => {
        const { heads } = shapeOf(m);
        const s = selectHeads(m, { layerBudget, headBudget });
        const t = selectHeads(m.map((row) => [...row, 0]), { layerBudget, headBudget });
        expect(t.layers).toEqual(s.layers);
        expect(t.layerScores).toEqual(s.layerScores);
        const positive = (x: HeadSelection) => x.heads.filter((h) => h.importance > 0);
        expect(positive(t)).toEqual(positive(s));
        expect(t.heads).toHaveLength(Math.min(headBudget, (heads + 1) * t.layers.length));
      }),
      RUNS,
    );
  });

  /** Distinct integer importances with distinct layer sums: no ties anywhere. */
  const distinctProblem = fc
    .tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }))
    .chain(([layers, heads]) =>
      fc.record({
        flat: fc.uniqueArray(fc.nat(1_000_000), { minLength: layers * heads, maxLength: layers * heads }),
        layers: fc.constant(layers),
        heads: fc.constant(heads),
        layerBudget: fc.nat(layers + 1),
        headBudget: fc.nat(layers * heads + 1),
        layerPerm: fc.shuffledSubarray([...Array(layers).keys()], { minLength: layers, maxLength: layers }),
        headPerms: fc.array(fc.shuffledSubarray([...Array(heads).keys()], { minLength: heads, maxLength: heads }), {
          minLength: layers,
          maxLength: layers,
        }),
      }),
    )
    .map((p) => ({
      ...p,
      m: Array.from({ length: p.layers }, (_, l) => p.flat.slice(l * p.heads, (l + 1) * p.heads)),
    }))
    .filter((p) => new Set(p.m.map(rowSum)).size === p.layers);

  it("permuting layers permutes the selection", () => {
    fc.assert(
      fc.property(distinctProblem, ({ m, layerBudget, headBudget, layerPerm }) => {
        // layer l moves to position layerPerm[l]
        const permuted: Matrix = [];
        m.forEach((row, l) => {
          permuted[layerPerm[l] as number] = row;
        });
        const s = selectHeads(m, { layerBudget, headBudget });
        const t = selectHeads(permuted, { layerBudget, headBudget });
        expect(t.layers).toEqual(s.layers.map((l) => layerPerm[l] as number).sort((a, b) => a - b));
        expect(t.heads).toEqual(s.heads.map((h) => ({ ...h, layer: layerPerm[h.layer] as number })));
      }),
      RUNS,
    );
  });

  it("permuting heads within layers permutes the selection", () => {
    fc.assert(
      fc.property(distinctProblem, ({ m, layerBudget, headBudget, headPerms }) => {
        // head h of layer l moves to position headPerms[l][h]
        const permuted = m.map((row, l) => {
          const out: number[] = [];
          row.forEach((x, h) => {
            out[(headPerms[l] as number[])[h] as number] = x;
          });
          return out;
        });
        const s = selectHeads(m, { layerBudget, headBudget });
        const t = selectHeads(permuted, { layerBudget, headBudget });
        expect(t.layers).toEqual(s.layers);
        expect(t.heads).toEqual(s.heads.map((h) => ({ ...h, head: (headPerms[h.layer] as number[])[h.head] as number })));
      }),
      RUNS,
    );
  });

  it("budgets larger than the model clamp: the same as the exact budgets, and as strategy all", () => {
    fc.assert(
      fc.property(matrix(), fc.nat(5), fc.nat(5), (m, extraL, extraH) => {
        const { layers, heads } = shapeOf(m);
        const big = selectHeads(m, { layerBudget: layers + extraL, headBudget: layers * heads + extraH });
        expect(big).toEqual(selectHeads(m, { layerBudget: layers, headBudget: layers * heads }));
        expect(big).toEqual(selectHeads(m, { layerBudget: { fraction: 1 }, headBudget: { fraction: 1 } }));
        const all = selectHeads(m, { strategy: "all" });
        expect(big.layers).toEqual(all.layers);
        expect(big.heads).toEqual(all.heads);
        expect(all.heads).toHaveLength(layers * heads);
      }),
      RUNS,
    );
  });

  it("a fraction budget selects the same as its resolved count", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const { layers, heads } = shapeOf(m);
        const counted = {
          layerBudget: resolveBudget(layerBudget, layers),
          headBudget: resolveBudget(headBudget, layers * heads),
        };
        expect(selectHeads(m, { layerBudget, headBudget })).toEqual(selectHeads(m, counted));
      }),
      RUNS,
    );
  });

  it("nested rows and the row-major matrix form select identically", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const { layers, heads } = shapeOf(m);
        const flat = { layers, heads, data: Float64Array.from(m.flat()) };
        expect(selectHeads(flat, { layerBudget, headBudget })).toEqual(selectHeads(m, { layerBudget, headBudget }));
      }),
      RUNS,
    );
  });

  it("headsByLayer partitions the selected heads", () => {
    fc.assert(
      fc.property(problem(), ({ m, layerBudget, headBudget }) => {
        const s = selectHeads(m, { layerBudget, headBudget });
        const grouped = headsByLayer(s);
        expect(grouped.flatMap((g) => g.heads.map((head) => key({ layer: g.layer, head }))).sort()).toEqual(
          s.heads.map(key).sort(),
        );
        for (let i = 1; i < grouped.length; i++) expect((grouped[i] as { layer: number }).layer).toBeGreaterThan((grouped[i - 1] as { layer: number }).layer);
        for (const g of grouped) {
          expect(g.heads.length).toBeGreaterThan(0);
          for (let i = 1; i < g.heads.length; i++) expect(g.heads[i]).toBeGreaterThan(g.heads[i - 1] as number);
        }
      }),
      RUNS,
    );
  });
});

describe("random and all strategies", () => {
  it("random: min(B_H, all heads) distinct heads, deterministic per seed, layers = layers of the heads", () => {
    fc.assert(
      fc.property(problem(), fc.integer(), ({ m, headBudget }, seed) => {
        const { layers, heads } = shapeOf(m);
        const s = selectHeads(m, { strategy: "random", headBudget, seed });
        expect(s.heads).toHaveLength(resolveBudget(headBudget, layers * heads));
        expectConsistentWithMatrix(m, s);
        expectSortedByRule(s.heads);
        expect(s.layers).toEqual([...new Set(s.heads.map((h) => h.layer))].sort((a, b) => a - b));
        expect(selectHeads(m, { strategy: "random", headBudget, seed })).toEqual(s);
      }),
      RUNS,
    );
  });

  it("random does not depend on the importance values, only on the shape and the seed", () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 })).chain(([l, h]) => fc.tuple(matrixOf(l, h), matrixOf(l, h))),
        fc.nat(40),
        fc.integer(),
        ([a, b], headBudget, seed) => {
          const sa = selectHeads(a, { strategy: "random", headBudget, seed });
          const sb = selectHeads(b, { strategy: "random", headBudget, seed });
          expect(sa.heads.map(key).sort()).toEqual(sb.heads.map(key).sort());
        },
      ),
      RUNS,
    );
  });

  it("all: every head exactly once, every layer", () => {
    fc.assert(
      fc.property(matrix(), (m) => {
        const { layers, heads } = shapeOf(m);
        const s = selectHeads(m, { strategy: "all" });
        expect(s.layers).toEqual([...Array(layers).keys()]);
        expect(s.heads).toHaveLength(layers * heads);
        expectConsistentWithMatrix(m, s);
        expectSortedByRule(s.heads);
      }),
      RUNS,
    );
  });
});

describe("GQA (kvHeads, groupBy)", () => {
  const gqaProblem = fc
    .tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }))
    .chain(([layers, kvHeads, size]) =>
      fc.record({
        m: matrixOf(layers, kvHeads * size),
        kvHeads: fc.constant(kvHeads),
        size: fc.constant(size),
        layerBudget: budget(layers),
        headBudget: budget(layers * kvHeads * size),
      }),
    );

  it('groupBy "kv" keeps whole groups: the top groups of the kept layers by summed importance', () => {
    fc.assert(
      fc.property(gqaProblem, ({ m, kvHeads, size, layerBudget, headBudget }) => {
        const s = selectHeads(m, { layerBudget, headBudget, kvHeads, groupBy: "kv" });
        const groups = s.kvGroups ?? [];
        const G = s.budget.kvGroups ?? -1;
        const bH = resolveBudget(headBudget, m.length * kvHeads * size);
        expect(G).toBe(bH === 0 ? 0 : Math.min(m.length * kvHeads, Math.max(1, Math.round(bH / size))));
        expect(groups).toHaveLength(Math.min(G, kvHeads * s.layers.length));
        expect(s.heads).toHaveLength(groups.length * size);
        const kept = new Set(s.layers);
        const chosen = new Set(groups.map((g) => `${g.layer}:${g.group}`));
        for (const g of groups) {
          expect(kept.has(g.layer)).toBe(true);
          expect(g.heads).toEqual(Array.from({ length: size }, (_, i) => g.group * size + i));
          expect(g.importance).toBe(g.heads.reduce((acc, h) => acc + at(m, g.layer, h), 0));
        }
        for (let i = 1; i < groups.length; i++) {
          const a = groups[i - 1] as (typeof groups)[number];
          const b = groups[i] as (typeof groups)[number];
          expect(ranksBefore(a, a.group, b, b.group)).toBe(true);
        }
        for (const layer of s.layers) {
          for (let group = 0; group < kvHeads; group++) {
            if (chosen.has(`${layer}:${group}`)) continue;
            let importance = 0;
            for (let i = 0; i < size; i++) importance += at(m, layer, group * size + i);
            for (const g of groups) expect(ranksBefore(g, g.group, { layer, importance }, group)).toBe(true);
          }
        }
        for (const h of s.heads) {
          expect(chosen.has(`${h.layer}:${h.kvGroup}`)).toBe(true);
          expect(h.kvGroup).toBe(Math.floor(h.head / size));
        }
        expectSortedByRule(s.heads);
        expectConsistentWithMatrix(m, s);
      }),
      RUNS,
    );
  });

  it('groupBy "kv": raising a head of a selected group never drops the group', () => {
    fc.assert(
      fc.property(gqaProblem, fc.nat(), fc.integer({ min: 1, max: 100 }), ({ m, kvHeads, layerBudget, headBudget }, pick, delta) => {
        const s = selectHeads(m, { layerBudget, headBudget, kvHeads, groupBy: "kv" });
        fc.pre(s.heads.length > 0);
        const target = s.heads[pick % s.heads.length] as SelectedHead;
        const raised = m.map((row) => [...row]);
        (raised[target.layer] as number[])[target.head] = target.importance + delta;
        const t = selectHeads(raised, { layerBudget, headBudget, kvHeads, groupBy: "kv" });
        expect((t.kvGroups ?? []).map((g) => `${g.layer}:${g.group}`)).toContain(`${target.layer}:${target.kvGroup}`);
      }),
      RUNS,
    );
  });

  it('with kvHeads and groupBy "query" the heads are those without kvHeads, annotated with their group', () => {
    fc.assert(
      fc.property(gqaProblem, ({ m, kvHeads, size, layerBudget, headBudget }) => {
        const plain = selectHeads(m, { layerBudget, headBudget });
        const annotated = selectHeads(m, { layerBudget, headBudget, kvHeads });
        expect(annotated.heads).toEqual(plain.heads.map((h) => ({ ...h, kvGroup: Math.floor(h.head / size) })));
      }),
      RUNS,
    );
  });

  it('random with groupBy "kv" samples whole groups', () => {
    fc.assert(
      fc.property(gqaProblem, fc.integer(), ({ m, kvHeads, size, headBudget }, seed) => {
        const s = selectHeads(m, { strategy: "random", headBudget, seed, kvHeads, groupBy: "kv" });
        expect(s.heads).toHaveLength((s.kvGroups ?? []).length * size);
        expect((s.kvGroups ?? []).length).toBe(s.budget.kvGroups);
        expect(selectHeads(m, { strategy: "random", headBudget, seed, kvHeads, groupBy: "kv" })).toEqual(s);
      }),
      RUNS,
    );
  });
});

describe("validation", () => {
  const invalidBudget = fc.oneof(
    fc.integer({ max: -1 }),
    fc.double({ noInteger: true }),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    fc.double().filter((f) => !(f >= 0 && f <= 1)).map((fraction) => ({ fraction })),
  );

  it("invalid layer or head budgets throw Errors naming the field", () => {
    fc.assert(
      fc.property(problem(), invalidBudget, fc.boolean(), ({ m, layerBudget, headBudget }, bad, which) => {
        if (which) {
          expect(() => selectHeads(m, { layerBudget: bad as Budget, headBudget })).toThrow(/^layerBudget: expected a non-negative integer count or \{fraction\} in \[0,1\], got /);
        } else {
          expect(() => selectHeads(m, { layerBudget, headBudget: bad as Budget })).toThrow(/^headBudget: expected a non-negative integer count or \{fraction\} in \[0,1\], got /);
        }
      }),
      RUNS,
    );
  });

  it("an invalid importance throws an Error naming its layer, head and value", () => {
    fc.assert(
      fc.property(
        problem().filter(({ m }) => shapeOf(m).layers * shapeOf(m).heads > 0),
        fc.nat(),
        fc.oneof(fc.constant(Number.NaN), fc.double({ max: -Number.MIN_VALUE, noNaN: true }), fc.constant(Number.POSITIVE_INFINITY)),
        ({ m, layerBudget, headBudget }, pick, bad) => {
          const { layers, heads } = shapeOf(m);
          const l = pick % layers;
          const h = Math.floor(pick / layers) % heads;
          const broken = m.map((row) => [...row]);
          (broken[l] as number[])[h] = bad;
          expect(() => selectHeads(broken, { layerBudget, headBudget })).toThrow(
            `importance: layer ${l}, head ${h}: expected a finite non-negative number, got ${String(bad)}`,
          );
        },
      ),
      RUNS,
    );
  });
});
