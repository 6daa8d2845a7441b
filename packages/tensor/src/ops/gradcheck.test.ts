// Gradient checks of every differentiable op against float64 finite differences, with fast-check shapes and values.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Generator, Tensor, tensor, tidy, memory,
  add, sub, mul, div, pow, powScalar, neg, exp, log, sqrt, rsqrt, tanh, sigmoid, silu, gelu, geluTanh, relu, abs,
  square, sin, cos, reciprocal, maximum, minimum, where, swiglu,
  sum, mean, max, softmax, logSoftmax,
  reshape, permute, transpose, slice, narrow, concat, stack, broadcastTo, squeeze, unsqueeze, clone,
  matmul, linear, embedding, indexSelect, crossEntropy, rmsNorm, addRmsNorm, rope, attention, attentionEager,
} from "../index.js";
import { expectGradClose, gradCheck, type GradCheckOptions } from "../testing/gradcheck.js";

// ---- arbitraries and value makers --------------------------------------------------------------------------------

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const dimArb = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank = 0, maxRank = 4) => fc.array(dimArb, { minLength: minRank, maxLength: maxRank });

/** A shape and a broadcast-compatible partner (some dims set to 1, some leading dims dropped), in random order. */
const broadcastPairArb = fc
  .record({
    shape: shapeArb(0, 4),
    ones: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    drop: fc.integer({ min: 0, max: 4 }),
    swap: fc.boolean(),
  })
  .map(({ shape, ones, drop, swap }) => {
    const other = shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length));
    return (swap ? [other, shape] : [shape, other]) as [number[], number[]];
  });

/** A shape with a broadcastable variant of it (used as the small side). */
function reduceShape(shape: number[], ones: boolean[], drop: number): number[] {
  return shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length));
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function normal(seed: number, shape: readonly number[], std = 1, mean = 0): Tensor {
  return new Generator(seed).normal(shape, mean, std);
}
function uniform(seed: number, shape: readonly number[], lo: number, hi: number): Tensor {
  return new Generator(seed).uniform(shape, lo, hi);
}
function uniformData(seed: number, n: number, lo = 0, hi = 1): Float32Array {
  const t = new Generator(seed).uniform([n], lo, hi);
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}
/** Values with |x| in [lo, hi] and random signs: keeps relu / abs / 1/x away from their singular point. */
function awayFromZero(seed: number, shape: readonly number[], lo = 0.2, hi = 2): Tensor {
  const n = size(shape);
  const mag = uniformData(seed, n, lo, hi);
  const sgn = uniformData(seed + 1, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sgn[i]! < 0.5 ? -mag[i]! : mag[i]!;
  return tensor(out, { shape });
}
/** Values on the grid 0.2 * k + offset (k in -8..8): two grids with offsets 0 and 0.1 never come closer than 0.1. */
function gridValues(seed: number, shape: readonly number[], offset: number): Tensor {
  const n = size(shape);
  const u = uniformData(seed, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.2 * (Math.floor(u[i]! * 17) - 8) + offset;
  return tensor(out, { shape });
}
/** Pairwise distinct values (a random permutation of a grid with spacing 0.1), so max has no ties. */
function distinctValues(seed: number, shape: readonly number[]): Tensor {
  const n = size(shape);
  const u = uniformData(seed, n);
  const order = [...Array(n).keys()].sort((a, b) => u[a]! - u[b]!);
  const out = new Float32Array(n);
  order.forEach((k, rank) => (out[k] = 0.1 * rank - 0.05 * n));
  return tensor(out, { shape });
}
function randInts(seed: number, shape: readonly number[], lo: number, hi: number): Tensor {
  return new Generator(seed).randint(shape, lo, hi);
}

/** Multiplies every property's run count (GRADCHECK_RUNS=10 for a deep search; default 1 keeps the file fast). */
const RUNS = Math.max(1, Number(process.env.GRADCHECK_RUNS ?? 1));

/** Runs a property with fresh tensors per run (tidy) and checks that no tensor or buffer outlives the runs. */
function prop<T>(arb: fc.Arbitrary<T>, body: (v: T) => void, numRuns = 20): void {
  const before = memory();
  fc.assert(
    fc.property(arb, (v) => {
      tidy(() => {
        body(v);
      });
    }),
    { numRuns: numRuns * RUNS },
  );
  const after = memory();
  expect(after.buffers, "native buffers leaked by forward/backward").toBe(before.buffers);
  expect(after.tensors, "tensors leaked by forward/backward").toBe(before.tensors);
}

const check = (label: string, fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}) =>
  expectGradClose(fn, inputs, { ...opts, label });

// ---- the helper itself -------------------------------------------------------------------------------------------

describe("gradCheck helper", () => {
  it("passes a correct gradient and reports small errors", () => {
    tidy(() => {
      const x = normal(1, [3, 4]);
      const r = gradCheck((a) => mul(a, a), [x]);
      expect(r.ok).toBe(true);
      expect(r.checked).toBe(12);
      expect(r.maxAbsErr).toBeLessThan(1e-3);
      expect(r.worst).not.toBeNull();
    });
  });
  it("detects a wrong gradient and throws with the report", () => {
    tidy(() => {
      const x = normal(2, [5]);
      // detach-free trick: sqrt(x^2) would be |x|; instead use a value whose gradient autograd cannot see:
      // x * c where c is computed from x's data outside the graph.
      const wrong = (a: Tensor) => {
        const c = tensor(Array.from(a.dataSync()), { shape: a.shape }); // a constant copy: d/da misses a term
        return mul(a, c);
      };
      const r = gradCheck(wrong, [x]);
      expect(r.ok).toBe(false);
      expect(r.worst).not.toBeNull();
      expect(Math.abs(r.worst!.numeric - 2 * r.worst!.analytic)).toBeLessThan(0.05 + 0.05 * Math.abs(r.worst!.numeric));
      expect(() => expectGradClose(wrong, [x], { label: "wrong" })).toThrow(/wrong: gradCheck FAILED.*analytic .* vs numeric/);
    });
  });
  it("passes non-float inputs through and respects wrt", () => {
    tidy(() => {
      const table = normal(3, [4, 2]);
      const ids = tensor([0, 3, 3], { dtype: "int32" });
      const r = gradCheck((t, i) => embedding(t, i), [table, ids]);
      expect(r.checked).toBe(8);
      expect(r.ok).toBe(true);
      const a = normal(4, [3]);
      const b = normal(5, [3]);
      expect(gradCheck((x, y) => mul(x, y), [a, b], { wrt: [1] }).checked).toBe(3);
      expect(() => gradCheck((t, i) => embedding(t, i), [table, ids], { wrt: [1] })).toThrow(/int32/);
    });
  });
  it("frees everything it creates and leaves the inputs intact", () => {
    const x = normal(6, [2, 3]);
    const before = Array.from(x.dataSync());
    const m0 = memory();
    gradCheck((a) => softmax(exp(a)), [x]);
    const m1 = memory();
    expect(m1.tensors).toBe(m0.tensors);
    expect(m1.buffers).toBe(m0.buffers);
    expect(m1.bytes).toBe(m0.bytes);
    expect(Array.from(x.dataSync())).toEqual(before);
    expect(x.requiresGrad).toBe(false);
    expect(x.grad).toBeNull();
    x.dispose();
  });
});

// ---- elementwise -------------------------------------------------------------------------------------------------

type Maker = (seed: number, shape: readonly number[]) => Tensor;
const std1: Maker = (s, sh) => normal(s, sh);
const std2: Maker = (s, sh) => normal(s, sh, 2);
const positive: Maker = (s, sh) => uniform(s, sh, 0.5, 2);
const away: Maker = (s, sh) => awayFromZero(s, sh);
const awayWide: Maker = (s, sh) => awayFromZero(s, sh, 0.3, 2);

describe("unary ops", () => {
  const cases: Array<[string, (x: Tensor) => Tensor, Maker]> = [
    ["neg", neg, std1],
    ["exp", exp, std1],
    ["log", log, positive],
    ["sqrt", sqrt, positive],
    ["rsqrt", rsqrt, positive],
    ["tanh", tanh, std1],
    ["sigmoid", sigmoid, std2],
    ["silu", silu, std2],
    ["gelu", gelu, std2],
    ["geluTanh", geluTanh, std2],
    ["relu", relu, away],
    ["abs", abs, away],
    ["square", square, std1],
    ["sin", sin, std2],
    ["cos", cos, std2],
    ["reciprocal", reciprocal, awayWide],
  ];
  for (const [name, fn, make] of cases) {
    it(name, () => {
      prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
        check(`${name} ${JSON.stringify(shape)}`, fn, [make(seed, shape)]);
      });
    });
  }

  it("powScalar (positive base, any exponent)", () => {
    prop(fc.tuple(shapeArb(), seedArb, fc.constantFrom(0, 1, 2, 3, 0.5, 1.5, -0.5, -1, -2.5)), ([shape, seed, p]) => {
      check(`powScalar ${p} ${JSON.stringify(shape)}`, (x) => powScalar(x, p), [positive(seed, shape)]);
    });
  });
  it("powScalar (negative base, integer exponent)", () => {
    prop(fc.tuple(shapeArb(), seedArb, fc.constantFrom(2, 3, -1, -2)), ([shape, seed, p]) => {
      check(`powScalar ${p} ${JSON.stringify(shape)}`, (x) => powScalar(x, p), [awayFromZero(seed, shape, 0.4, 1.5)]);
    }, 10);
  });
  it("pow with a number exponent routes to powScalar; a number base is differentiated in the exponent", () => {
    prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
      check("pow(x, 2.5)", (x) => pow(x, 2.5), [positive(seed, shape)]);
      check("pow(2, x)", (x) => pow(2, x), [normal(seed, shape)]);
    }, 10);
  });
});

describe("binary ops with broadcasting", () => {
  const cases: Array<[string, (a: Tensor, b: Tensor) => Tensor, Maker, Maker]> = [
    ["add", add, std1, std1],
    ["sub", sub, std1, std1],
    ["mul", mul, std1, std1],
    ["div", div, std1, awayWide],
    ["pow", pow, positive, std1],
    ["maximum", maximum, (s, sh) => gridValues(s, sh, 0), (s, sh) => gridValues(s, sh, 0.1)],
    ["minimum", minimum, (s, sh) => gridValues(s, sh, 0.1), (s, sh) => gridValues(s, sh, 0)],
  ];
  for (const [name, fn, ma, mb] of cases) {
    it(name, () => {
      prop(fc.tuple(broadcastPairArb, seedArb), ([[sa, sb], seed]) => {
        check(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, fn, [ma(seed, sa), mb(seed + 7, sb)]);
      }, 20);
    });
  }
  it("number operands on either side", () => {
    prop(fc.tuple(shapeArb(), seedArb, fc.double({ min: -3, max: 3, noNaN: true })), ([shape, seed, c]) => {
      const x = normal(seed, shape);
      check("add(x, c)", (t) => add(t, c), [x]);
      check("sub(c, x)", (t) => sub(c, t), [x]);
      check("mul(c, x)", (t) => mul(c, t), [x]);
      check("div(x, 4)", (t) => div(t, 4), [x]);
      check("div(c, x)", (t) => div(c, t), [awayFromZero(seed, shape, 0.4, 2)]);
      check("maximum(x, c)", (t) => maximum(t, 0.05), [gridValues(seed, shape, 0)]);
      check("minimum(c, x)", (t) => minimum(0.05, t), [gridValues(seed, shape, 0)]);
    }, 10);
  });
  it("the same tensor on both sides (x*x, x-x, x/x)", () => {
    prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
      const x = awayFromZero(seed, shape);
      check("x*x", (t) => mul(t, t), [x]);
      check("x+x", (t) => add(t, t), [x]);
      check("x/x^2", (t) => div(t, mul(t, t)), [x]);
    }, 10);
  });
});

describe("fused swiglu", () => {
  it("swiglu(gate, up): gradients of both operands", () => {
    prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
      check(`swiglu ${JSON.stringify(shape)}`, swiglu, [std2(seed, shape), std1(seed + 7, shape)]);
    });
  });
  it("one operand without a gradient; the same tensor as gate and up (x * silu(x))", () => {
    prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
      const c = std1(seed + 3, shape);
      check("swiglu(x, c)", (t) => swiglu(t, c), [std2(seed, shape)]);
      check("swiglu(c, x)", (t) => swiglu(c, t), [std1(seed, shape)]);
      check("swiglu(x, x)", (t) => swiglu(t, t), [std2(seed, shape)]);
    }, 10);
  });
});

describe("where", () => {
  const tripleArb = fc
    .record({
      shape: shapeArb(0, 4),
      masks: fc.array(fc.tuple(fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 4 })), {
        minLength: 3,
        maxLength: 3,
      }),
      seed: seedArb,
    })
    .map(({ shape, masks, seed }) => ({ shapes: masks.map(([o, d]) => reduceShape(shape, o, d)), full: shape, seed }));
  it("gradients flow to a where cond is set and to b elsewhere (broadcast cond, a, b)", () => {
    prop(tripleArb, ({ shapes, seed }) => {
      const [sc, sa, sb] = shapes as [number[], number[], number[]];
      // At least one of the three must carry the full shape for broadcasting to reach it; the result broadcasts all.
      const cond = tensor(Float32Array.from(uniformData(seed, size(sc)), (u) => (u < 0.5 ? 1 : 0)), { shape: sc });
      check(`where ${JSON.stringify(shapes)}`, (c, a, b) => where(c, a, b), [cond, normal(seed + 1, sa), normal(seed + 2, sb)], {
        wrt: [1, 2],
      });
    }, 20);
  });
  it("number branches", () => {
    prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
      const cond = tensor(Float32Array.from(uniformData(seed, size(shape)), (u) => (u < 0.5 ? 1 : 0)), { shape });
      check("where(c, x, 0)", (c, x) => where(c, x, 0), [cond, normal(seed, shape)], { wrt: [1] });
      check("where(c, -1, x)", (c, x) => where(c, -1, x), [cond, normal(seed, shape)], { wrt: [1] });
    }, 10);
  });
});

// ---- reductions --------------------------------------------------------------------------------------------------

describe("reductions", () => {
  const axesArb = fc
    .tuple(shapeArb(0, 4), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(), fc.constantFrom("list", "all", "negative", "single"), seedArb)
    .map(([shape, pick, keepDims, mode, seed]) => {
      let axes: number | number[] | undefined = shape.map((_, i) => i).filter((i) => pick[i]);
      if (mode === "all") axes = undefined;
      else if (mode === "negative") axes = axes.map((a) => a - shape.length);
      else if (mode === "single") axes = shape.length ? (seed % shape.length) - (seed % 2 ? shape.length : 0) : undefined;
      return { shape, axes, keepDims, seed };
    });
  for (const [name, fn] of [["sum", sum], ["mean", mean]] as const) {
    it(`${name} over random axes, keepDims both`, () => {
      prop(axesArb, ({ shape, axes, keepDims, seed }) => {
        check(`${name} ${JSON.stringify(shape)} axes=${JSON.stringify(axes)} keepDims=${keepDims}`, (x) => fn(x, axes, { keepDims }), [
          normal(seed, shape),
        ]);
      }, 25);
    });
  }
  it("max along an axis (no ties), keepDims both, and over everything", () => {
    const arb = fc.tuple(shapeArb(1, 4), fc.nat(), fc.boolean(), fc.boolean(), seedArb);
    prop(arb, ([shape, ax, keepDims, all, seed]) => {
      const axis = all ? undefined : (ax % shape.length) - (ax % 2 ? shape.length : 0);
      check(`max ${JSON.stringify(shape)} axis=${axis} keepDims=${keepDims}`, (x) => max(x, axis, { keepDims }), [distinctValues(seed, shape)]);
    }, 25);
  });
  for (const [name, fn] of [["softmax", softmax], ["logSoftmax", logSoftmax]] as const) {
    it(`${name} along a random axis`, () => {
      prop(fc.tuple(shapeArb(1, 4), fc.nat(), seedArb), ([shape, ax, seed]) => {
        const axis = (ax % shape.length) - (ax % 2 ? shape.length : 0);
        check(`${name} ${JSON.stringify(shape)} axis=${axis}`, (x) => fn(x, axis), [normal(seed, shape, 2)]);
      }, 25);
    });
  }
});

// ---- layout ------------------------------------------------------------------------------------------------------

const permArb = (minRank: number, maxRank: number) =>
  shapeArb(minRank, maxRank).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }),
      seedArb,
    ),
  );

describe("layout ops", () => {
  it("reshape (flat, reversed dims, -1, extra unit dims)", () => {
    prop(fc.tuple(shapeArb(), fc.constantFrom("flat", "reverse", "minus1", "ones"), seedArb), ([shape, mode, seed]) => {
      let target: number[];
      if (mode === "flat") target = [size(shape)];
      else if (mode === "reverse") target = [...shape].reverse();
      else if (mode === "minus1") target = shape.length ? shape.map((d, i) => (i === seed % shape.length ? -1 : d)) : [-1];
      else target = [1, ...shape, 1];
      check(`reshape ${JSON.stringify(shape)} -> ${JSON.stringify(target)}`, (x) => mul(reshape(x, target), 1.5), [normal(seed, shape)]);
    });
  });
  it("permute (random permutations)", () => {
    prop(permArb(1, 4), ([shape, perm, seed]) => {
      check(`permute ${JSON.stringify(shape)} ${JSON.stringify(perm)}`, (x) => permute(x, perm), [normal(seed, shape)]);
    }, 25);
  });
  it("transpose (random axis pairs, default last two)", () => {
    prop(fc.tuple(shapeArb(1, 4), fc.nat(), fc.nat(), seedArb), ([shape, i, j, seed]) => {
      const a = i % shape.length;
      const b = -1 - (j % shape.length);
      check(`transpose ${JSON.stringify(shape)} ${a} ${b}`, (x) => transpose(x, a, b), [normal(seed, shape)]);
      if (shape.length >= 2) check("transpose default", (x) => transpose(x), [normal(seed, shape)]);
    });
  });
  it("slice (random ranges, negative bounds, fewer starts than axes)", () => {
    const arb = shapeArb(1, 4).chain((shape) =>
      fc.tuple(
        fc.constant(shape),
        fc.tuple(...shape.map((n) => fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 1, max: n }), fc.boolean()))),
        fc.integer({ min: 0, max: shape.length }),
        seedArb,
      ),
    );
    prop(arb, ([shape, ranges, nStarts, seed]) => {
      const starts: number[] = [];
      const ends: number[] = [];
      ranges.forEach(([s, len], i) => {
        const n = shape[i]!;
        const e = Math.min(n, s + len);
        const negative = ranges[i]![2];
        starts.push(negative ? s - n : s);
        ends.push(negative && e < n ? e - n : e);
      });
      const useEnds = nStarts === shape.length;
      const st = starts.slice(0, nStarts);
      check(`slice ${JSON.stringify(shape)} ${JSON.stringify(st)}:${useEnds ? JSON.stringify(ends) : "-"}`, (x) => slice(x, st, useEnds ? ends : undefined), [
        normal(seed, shape),
      ]);
    }, 25);
  });
  it("narrow", () => {
    const arb = shapeArb(1, 4).chain((shape) =>
      fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
        fc.integer({ min: 0, max: shape[axis]! - 1 }).chain((start) =>
          fc.tuple(fc.constant(shape), fc.constant(axis), fc.constant(start), fc.integer({ min: 1, max: shape[axis]! - start }), seedArb),
        ),
      ),
    );
    prop(arb, ([shape, axis, start, length, seed]) => {
      check(`narrow ${JSON.stringify(shape)} axis ${axis} ${start}+${length}`, (x) => narrow(x, axis, start, length), [normal(seed, shape)]);
    });
  });
  it("concat (random axis, 2-3 parts of different lengths)", () => {
    const arb = fc.tuple(shapeArb(1, 4), fc.nat(), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 3 }), fc.boolean(), seedArb);
    prop(arb, ([shape, ax, lens, negAxis, seed]) => {
      const a = ax % shape.length;
      const shapes = lens.map((l) => shape.map((d, i) => (i === a ? l : d)));
      const axis = negAxis ? a - shape.length : a;
      check(`concat ${JSON.stringify(shapes)} axis ${axis}`, (...xs) => concat(xs, axis), shapes.map((s, i) => normal(seed + i, s)));
    }, 25);
  });
  it("stack", () => {
    prop(fc.tuple(shapeArb(0, 3), fc.nat(), fc.integer({ min: 2, max: 3 }), seedArb), ([shape, ax, n, seed]) => {
      const axis = ax % (shape.length + 1);
      const xs = [...Array(n).keys()].map((i) => normal(seed + i, shape));
      check(`stack ${n}x${JSON.stringify(shape)} axis ${axis}`, (...ts) => stack(ts, axis), xs);
    });
  });
  it("broadcastTo", () => {
    const arb = fc.tuple(shapeArb(0, 4), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 4 }), seedArb);
    prop(arb, ([shape, ones, drop, seed]) => {
      const small = reduceShape(shape, ones, drop);
      check(`broadcastTo ${JSON.stringify(small)} -> ${JSON.stringify(shape)}`, (x) => broadcastTo(x, shape), [normal(seed, small)]);
    }, 25);
  });
  it("squeeze / unsqueeze", () => {
    const arb = fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }), fc.nat(), seedArb);
    prop(arb, ([shape, k, seed]) => {
      const x = normal(seed, shape);
      check(`squeeze() ${JSON.stringify(shape)}`, (t) => mul(squeeze(t), 2), [x]);
      const ones = shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      if (ones.length) {
        const axis = ones[k % ones.length]!;
        check(`squeeze(${axis}) ${JSON.stringify(shape)}`, (t) => mul(squeeze(t, axis), 2), [x]);
      }
      const ua = (k % (2 * shape.length + 2)) - (shape.length + 1);
      check(`unsqueeze(${ua}) ${JSON.stringify(shape)}`, (t) => mul(unsqueeze(t, ua), 2), [x]);
    });
  });
  it("clone", () => {
    prop(fc.tuple(shapeArb(), seedArb), ([shape, seed]) => {
      check(`clone ${JSON.stringify(shape)}`, (x) => mul(clone(x), x), [normal(seed, shape)]);
    }, 10);
  });
});

// ---- matmul and linear -------------------------------------------------------------------------------------------

const mnkArb = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }));
const mmShape = (rows: number, cols: number, trans: boolean) => (trans ? [cols, rows] : [rows, cols]);

describe("matmul", () => {
  it("2-D, all four transpose combinations", () => {
    prop(fc.tuple(mnkArb, fc.boolean(), fc.boolean(), seedArb), ([[M, N, K], transA, transB, seed]) => {
      const a = normal(seed, mmShape(M, K, transA));
      const b = normal(seed + 1, mmShape(K, N, transB));
      check(`matmul ${M}x${K}x${N} tA=${transA} tB=${transB}`, (x, y) => matmul(x, y, { transA, transB }), [a, b]);
    }, 25);
  });
  it("1-D operands (vector-matrix, matrix-vector, dot, vector with a batch)", () => {
    prop(fc.tuple(mnkArb, fc.integer({ min: 1, max: 3 }), fc.boolean(), seedArb), ([[M, N, K], B, transB, seed]) => {
      const v = normal(seed, [K]);
      check("vec @ mat", (x, y) => matmul(x, y, { transB }), [v, normal(seed + 1, mmShape(K, N, transB))]);
      check("mat @ vec", (x, y) => matmul(x, y), [normal(seed + 2, [M, K]), v]);
      check("vec @ vec", (x, y) => matmul(x, y), [v, normal(seed + 3, [K])]);
      check("vec @ batch", (x, y) => matmul(x, y), [v, normal(seed + 4, [B, K, N])]);
      check("batch @ vec", (x, y) => matmul(x, y), [normal(seed + 5, [B, M, K]), v]);
    }, 15);
  });
  it("batched with broadcast batch dims and transposes", () => {
    const arb = fc.tuple(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 }),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.boolean(),
      mnkArb,
      fc.boolean(),
      fc.boolean(),
      seedArb,
    );
    prop(arb, ([batch, ones, drop, swap, [M, N, K], transA, transB, seed]) => {
      const other = reduceShape(batch, ones, drop);
      const [ba, bb] = swap ? [other, batch] : [batch, other];
      const a = normal(seed, [...ba, ...mmShape(M, K, transA)]);
      const b = normal(seed + 1, [...bb, ...mmShape(K, N, transB)]);
      check(`matmul ${JSON.stringify(a.shape)} ${JSON.stringify(b.shape)} tA=${transA} tB=${transB}`, (x, y) => matmul(x, y, { transA, transB }), [a, b]);
    }, 25);
  });
  it("folded 2-D weight: a [B,T,K] @ w [N,K]^T and a [B,T,K] @ w [K,N]", () => {
    prop(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), mnkArb, seedArb), ([B, T, [, N, K], seed]) => {
      const a = normal(seed, [B, T, K]);
      check(`fold transB ${B},${T},${K} x ${N},${K}`, (x, w) => matmul(x, w, { transB: true }), [a, normal(seed + 1, [N, K])]);
      check(`fold ${B},${T},${K} x ${K},${N}`, (x, w) => matmul(x, w), [a, normal(seed + 2, [K, N])]);
      check(`fold 4-D transB`, (x, w) => matmul(x, w, { transB: true }), [normal(seed + 3, [2, B, T, K]), normal(seed + 4, [N, K])]);
    }, 15);
  });
  it("linear with and without bias", () => {
    prop(fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), mnkArb, fc.boolean(), seedArb), ([lead, [, N, K], bias, seed]) => {
      const x = normal(seed, [...lead, K]);
      const w = normal(seed + 1, [N, K]);
      if (bias) check("linear+bias", (a, b, c) => linear(a, b, c), [x, w, normal(seed + 2, [N])]);
      else check("linear", (a, b) => linear(a, b), [x, w]);
    }, 15);
  });
});

// ---- lookups and losses ------------------------------------------------------------------------------------------

describe("embedding / indexSelect", () => {
  it("embedding with repeated ids", () => {
    const arb = fc.tuple(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }), seedArb);
    prop(arb, ([V, D, idShape, seed]) => {
      const n = size(idShape);
      const ids = Int32Array.from(randInts(seed, [n], 0, V).dataSync() as Int32Array);
      ids[n - 1] = ids[0]!; // a repeat whenever there is more than one id
      if (n > 2) ids[1] = ids[0]!;
      const idT = tensor(ids, { shape: idShape });
      check(`embedding V=${V} D=${D} ids=${Array.from(ids)}`, (t, i) => embedding(t, i), [normal(seed, [V, D]), idT]);
    }, 20);
  });
  it("indexSelect on rows of rank 1..3 tensors", () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), fc.integer({ min: 1, max: 6 }), seedArb);
    prop(arb, ([R, rest, nIds, seed]) => {
      const ids = randInts(seed, [nIds], 0, R);
      check(`indexSelect [${R},${rest}] ids=${Array.from(ids.dataSync())}`, (x, i) => indexSelect(x, i), [normal(seed, [R, ...rest]), ids]);
    }, 20);
  });
});

describe("crossEntropy", () => {
  const arb = fc.tuple(
    fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 2 }),
    fc.integer({ min: 2, max: 6 }),
    fc.constantFrom<number | undefined>(undefined, -100, -1, 0),
    fc.double({ min: 0, max: 0.6, noNaN: true }),
    seedArb,
  );
  it("with some ignored rows (default -100 and custom ignoreIndex)", () => {
    prop(arb, ([rowShape, V, ignoreIndex, pIgnore, seed]) => {
      const n = size(rowShape);
      const tg = Int32Array.from(randInts(seed, [n], 0, V).dataSync() as Int32Array);
      const u = uniformData(seed + 3, n);
      const ign = ignoreIndex ?? -100;
      for (let i = 0; i < n; i++) if (u[i]! < pIgnore) tg[i] = ign;
      if (ign !== 0) tg[0] = 1 % V; // keep at least one counted row
      else if (tg.every((t) => t === 0)) tg[0] = 1;
      const targets = tensor(tg, { shape: rowShape });
      const opts = ignoreIndex === undefined ? undefined : { ignoreIndex };
      check(`crossEntropy ${JSON.stringify(rowShape)}x${V} targets=${Array.from(tg)} ignore=${ignoreIndex}`, (l, t) => crossEntropy(l, t, opts), [
        normal(seed, [...rowShape, V], 2),
        targets,
      ], { atol: 5e-4 });
    }, 25);
  });
});

describe("rmsNorm", () => {
  it("gradients of x and weight", () => {
    const arb = fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom<number | undefined>(undefined, 1e-5, 0.1), seedArb);
    prop(arb, ([lead, D, eps, seed]) => {
      const x = awayFromZero(seed, [...lead, D], 0.2, 2);
      const w = normal(seed + 1, [D]);
      check(`rmsNorm ${JSON.stringify([...lead, D])} eps=${eps}`, (a, b) => rmsNorm(a, b, eps), [x, w]);
    }, 25);
  });
});

describe("addRmsNorm", () => {
  it("gradients of x, residual and weight through both outputs (sum and out)", () => {
    const arb = fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom<number | undefined>(undefined, 1e-5, 0.1), seedArb);
    prop(arb, ([lead, D, eps, seed]) => {
      const x = awayFromZero(seed, [...lead, D], 0.2, 2);
      const r = normal(seed + 2, [...lead, D], 0.5);
      const w = normal(seed + 1, [D]);
      check(`addRmsNorm ${JSON.stringify([...lead, D])} eps=${eps}`, (a, b, c) => {
        const { sum: s, out } = addRmsNorm(a, b, c, eps);
        return add(out, mul(s, 0.5));
      }, [x, r, w]);
    }, 25);
  });
});

describe("rope", () => {
  const shapeArb4 = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }).map((h) => 2 * h));
  it("with an offset", () => {
    prop(fc.tuple(shapeArb4, fc.integer({ min: 0, max: 20 }), fc.constantFrom(10000, 500), seedArb), ([[B, T, H, D], offset, theta, seed]) => {
      check(`rope [${B},${T},${H},${D}] offset ${offset}`, (x) => rope(x, { offset, theta }), [normal(seed, [B, T, H, D])]);
    }, 20);
  });
  it("with a positions tensor", () => {
    prop(fc.tuple(shapeArb4, fc.boolean(), seedArb), ([[B, T, H, D], flat, seed]) => {
      const positions = randInts(seed + 5, flat ? [B * T] : [B, T], 0, 50);
      check(`rope [${B},${T},${H},${D}] positions`, (x, p) => rope(x, { positions: p }), [normal(seed, [B, T, H, D]), positions]);
    }, 20);
  });
});

// ---- attention ---------------------------------------------------------------------------------------------------

const attnArb = (maxB: number, maxT: number, maxD: number) =>
  fc.record({
    B: fc.integer({ min: 1, max: maxB }),
    T: fc.integer({ min: 1, max: maxT }),
    Hkv: fc.integer({ min: 1, max: 2 }),
    ratio: fc.constantFrom(1, 2, 4),
    D: fc.integer({ min: 1, max: maxD / 2 }).map((d) => 2 * d),
    causal: fc.boolean(),
    seed: seedArb,
  });

describe("attention", () => {
  it("fused attention: q, k, v gradients (causal and not, GQA 1/2/4)", () => {
    prop(attnArb(2, 6, 8), ({ B, T, Hkv, ratio, D, causal, seed }) => {
      const H = Hkv * ratio;
      const q = normal(seed, [B, T, H, D]);
      const k = normal(seed + 1, [B, T, Hkv, D]);
      const v = normal(seed + 2, [B, T, Hkv, D]);
      check(`attention B${B} T${T} H${H} Hkv${Hkv} D${D} causal=${causal}`, (a, b, c) => attention(a, b, c, { causal }), [q, k, v]);
    }, 20);
  });
  it("fused attention with a custom scale", () => {
    prop(attnArb(1, 4, 4), ({ B, T, Hkv, ratio, D, causal, seed }) => {
      const H = Hkv * ratio;
      check("attention scale 0.7", (a, b, c) => attention(a, b, c, { causal, scale: 0.7 }), [
        normal(seed, [B, T, H, D]),
        normal(seed + 1, [B, T, Hkv, D]),
        normal(seed + 2, [B, T, Hkv, D]),
      ]);
    }, 10);
  });
  it("attentionEager: q, k, v gradients", () => {
    prop(attnArb(2, 5, 6), ({ B, T, Hkv, ratio, D, causal, seed }) => {
      const H = Hkv * ratio;
      check(`attentionEager B${B} T${T} H${H} Hkv${Hkv} D${D} causal=${causal}`, (a, b, c) => attentionEager(a, b, c, { causal }), [
        normal(seed, [B, T, H, D]),
        normal(seed + 1, [B, T, Hkv, D]),
        normal(seed + 2, [B, T, Hkv, D]),
      ]);
    }, 12);
  });
});
