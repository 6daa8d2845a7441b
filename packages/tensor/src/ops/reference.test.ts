// Forward checks of ops against plain float64 JavaScript references, with fast-check shapes and values; GEMM backends.
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Generator, Tensor, tensor, tidy, dispose, memory, valueAndGrad, setGemmBackend, devices,
  add, sub, mul, div, pow, powScalar, addScalar, mulScalar, neg, exp, log, sqrt, rsqrt, tanh, sigmoid, silu, gelu, geluTanh,
  relu, abs, square, sin, cos, reciprocal, maximum, minimum, eq, ne, lt, le, gt, ge, where, maskedFill, swiglu,
  sum, mean, max, argmax, maxWithIndices, softmax, logSoftmax,
  reshape, permute, transpose, slice, narrow, concat, stack, broadcastTo, squeeze, unsqueeze, flatten,
  matmul, linear, embedding, indexSelect, crossEntropy, rmsNorm, rope, attention, attentionEager,
} from "../index.js";
import { bcastIndex, bcastShape, erf, geluRef, geluTanhRef, ravel, sigm, size, stridesOf, unravel } from "../testing/reference.js";

// ---- index arithmetic and comparison helpers ---------------------------------------------------------------------

type F64 = Float64Array;
const f64 = (t: Tensor): F64 => Float64Array.from(t.toFloatArray());

/**
 * Asserts |actual - expected| <= atol + rtol * scale (scale defaults to |expected|); NaN must match NaN and infinities
 * must match exactly. Throws with the worst element.
 */
function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: { rtol?: number; atol?: number; scale?: ArrayLike<number> } = {},
  label = "",
): void {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-6;
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} vs expected ${expected.length}`);
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let ratio: number;
    if (Number.isNaN(e)) ratio = Number.isNaN(a) ? 0 : Infinity;
    else if (!Number.isFinite(e)) ratio = a === e ? 0 : Infinity;
    else {
      const tol = atol + rtol * (opts.scale ? opts.scale[i]! : Math.abs(e));
      ratio = Number.isNaN(a) ? Infinity : Math.abs(a - e) / tol;
    }
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worst >= 0)
    throw new Error(
      `${label}: element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (${(worstRatio).toFixed(1)}x the tolerance rtol ${rtol}, atol ${atol})`,
    );
}
function expectShape(t: Tensor, shape: readonly number[], label = ""): void {
  expect([...t.shape], label).toEqual([...shape]);
}

// ---- arbitraries and values --------------------------------------------------------------------------------------

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const shapeArb = (minRank = 0, maxRank = 4, maxDim = 4) =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
const reduceShape = (shape: number[], ones: boolean[], drop: number) =>
  shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length));
const broadcastPairArb = fc
  .record({
    shape: shapeArb(0, 4),
    ones: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    drop: fc.integer({ min: 0, max: 4 }),
    swap: fc.boolean(),
  })
  .map(({ shape, ones, drop, swap }) => {
    const other = reduceShape(shape, ones, drop);
    return (swap ? [other, shape] : [shape, other]) as [number[], number[]];
  });

const normal = (seed: number, shape: readonly number[], std = 1, mean = 0) => new Generator(seed).normal(shape, mean, std);
const uniform = (seed: number, shape: readonly number[], lo: number, hi: number) => new Generator(seed).uniform(shape, lo, hi);
/** Values on a coarse grid (many exact ties, for comparisons and argmax). */
function gridValues(seed: number, shape: readonly number[]): Tensor {
  const u = new Generator(seed).uniform([size(shape)]);
  const d = Float32Array.from(u.dataSync() as Float32Array, (x) => Math.floor(x * 5) * 0.5 - 1);
  u.dispose();
  return tensor(d, { shape });
}
function randInts(seed: number, shape: readonly number[], lo: number, hi: number): Tensor {
  return new Generator(seed).randint(shape, lo, hi);
}

/** Multiplies every property's run count (REFERENCE_RUNS=10 for a deep search; default 1 keeps the file fast). */
const RUNS = Math.max(1, Number(process.env.REFERENCE_RUNS ?? 1));

/** Runs a property with fresh tensors per run (tidy) and checks that no tensor or buffer outlives the runs. */
function prop<T>(arb: fc.Arbitrary<T>, body: (v: T) => void, numRuns = 20): void {
  const before = memory();
  fc.assert(fc.property(arb, (v) => void tidy(() => void body(v))), { numRuns: numRuns * RUNS });
  expect(memory().buffers).toBe(before.buffers);
  expect(memory().tensors).toBe(before.tensors);
}

// ---- elementwise -------------------------------------------------------------------------------------------------

describe("elementwise ops vs JS", () => {
  it("erf reference sanity", () => {
    expectClose([erf(0), erf(0.5), erf(1), erf(2), erf(-3)], [0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, -0.9999779095030014], { rtol: 1e-12, atol: 1e-13 });
  });

  const binCases: Array<[string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number, "any" | "posBase" | "nonzeroB"]> = [
    ["add", add, (x, y) => x + y, "any"],
    ["sub", sub, (x, y) => x - y, "any"],
    ["mul", mul, (x, y) => x * y, "any"],
    ["div", div, (x, y) => x / y, "nonzeroB"],
    ["pow", pow, (x, y) => x ** y, "posBase"],
    ["maximum", maximum, (x, y) => Math.max(x, y), "any"],
    ["minimum", minimum, (x, y) => Math.min(x, y), "any"],
  ];
  for (const [name, op, ref, kind] of binCases) {
    it(`${name} with broadcasting`, () => {
      prop(fc.tuple(broadcastPairArb, seedArb), ([[sa, sb], seed]) => {
        const a = kind === "posBase" ? uniform(seed, sa, 0.1, 3) : normal(seed, sa, 2);
        const b = kind === "nonzeroB" ? addScalar(abs(normal(seed + 1, sb)), 0.1) : normal(seed + 1, sb, kind === "posBase" ? 1.5 : 2);
        const out = op(a, b);
        const shape = bcastShape(sa, sb);
        expectShape(out, shape, name);
        const A = f64(a);
        const B = f64(b);
        const exp = new Float64Array(size(shape));
        for (let i = 0; i < exp.length; i++) {
          const idx = unravel(i, shape);
          exp[i] = ref(A[bcastIndex(idx, sa)]!, B[bcastIndex(idx, sb)]!);
        }
        expectClose(f64(out), exp, { rtol: 1e-5, atol: 1e-6 }, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
      }, 25);
    });
  }

  it("comparisons eq/ne/lt/le/gt/ge give 0/1 masks with broadcasting (with exact ties)", () => {
    const ops: Array<[string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => boolean]> = [
      ["eq", eq, (x, y) => x === y], ["ne", ne, (x, y) => x !== y], ["lt", lt, (x, y) => x < y],
      ["le", le, (x, y) => x <= y], ["gt", gt, (x, y) => x > y], ["ge", ge, (x, y) => x >= y],
    ];
    prop(fc.tuple(broadcastPairArb, seedArb), ([[sa, sb], seed]) => {
      const a = gridValues(seed, sa);
      const b = gridValues(seed + 1, sb);
      const A = f64(a);
      const B = f64(b);
      const shape = bcastShape(sa, sb);
      for (const [name, op, ref] of ops) {
        const out = op(a, b);
        expectShape(out, shape, name);
        const exp = Array.from({ length: size(shape) }, (_, i) => {
          const idx = unravel(i, shape);
          return ref(A[bcastIndex(idx, sa)]!, B[bcastIndex(idx, sb)]!) ? 1 : 0;
        });
        expect(Array.from(out.dataSync()), name).toEqual(exp);
      }
    }, 20);
  });

  it("number operands broadcast as scalars", () => {
    tidy(() => {
      const x = tensor([[1, -2], [3, 0.5]]);
      expect(add(x, 1).toArray()).toEqual([[2, -1], [4, 1.5]]);
      expect(sub(1, x).toArray()).toEqual([[0, 3], [-2, 0.5]]);
      expect(mul(-2, x).toArray()).toEqual([[-2, 4], [-6, -1]]);
      expect(div(x, 2).toArray()).toEqual([[0.5, -1], [1.5, 0.25]]);
      expect(div(1, x).toArray()).toEqual([[1, -0.5], [1 / 3, 2].map(Math.fround)]);
      expect(maximum(x, 0).toArray()).toEqual([[1, 0], [3, 0.5]]);
      expect(minimum(0, x).toArray()).toEqual([[0, -2], [0, 0]]);
      expectClose(f64(pow(2, x)), [2, 0.25, 8, Math.SQRT2], { rtol: 1e-6 });
      expect(() => add(1 as never, 2 as never)).toThrow(/at least one argument must be a tensor/);
    });
  });

  it("NaN propagates through maximum / minimum", () => {
    tidy(() => {
      const a = tensor([1, NaN, 3, NaN]);
      const b = tensor([NaN, 2, 1, NaN]);
      for (const r of [maximum(a, b), minimum(a, b), maximum(b, a)]) expect(Array.from(r.dataSync()).map(Number.isNaN)).toEqual([true, true, false, true]);
      expect(maximum(a, b).dataSync()[2]).toBe(3);
      expect(minimum(a, b).dataSync()[2]).toBe(1);
    });
  });

  it("incompatible broadcast shapes throw naming the op and shapes", () => {
    tidy(() => {
      expect(() => add(tensor([[1, 2, 3]]), tensor([[1, 2]]))).toThrow(/add: shapes \[1, 3\] and \[1, 2\] cannot be broadcast/);
      expect(() => mul(tensor([1, 2], { dtype: "int32" }), tensor([1, 2]))).toThrow(/mul: 'a' must be a float tensor \(float32, bfloat16 or float16\), got int32/);
    });
  });

  it("swiglu: silu(gate) * up vs float64 JS, and bit for bit the unfused mul(silu(gate), up), forward and gradients", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 0, maxLength: 3 }), fc.integer({ min: 0, max: 1e6 }), (shape, seed) => {
        tidy(() => {
          const g = new Generator(seed).normal(shape, 0, 3);
          const u = new Generator(seed + 1).normal(shape, 0, 1.5);
          const w = new Generator(seed + 2).normal(shape);
          const out = swiglu(g, u);
          expect(out.shape).toEqual(shape);
          expect(out.dtype).toBe("float32");
          const G = g.dataSync() as Float32Array, U = u.dataSync() as Float32Array;
          expectClose(f64(out), Array.from(G, (x, i) => x * sigm(x) * U[i]!), { rtol: 1e-5, atol: 1e-6 }, "swiglu");
          expect(Array.from(out.dataSync() as Float32Array)).toEqual(Array.from(mul(silu(g), u).dataSync() as Float32Array));
          const fused = valueAndGrad((a, b) => sum(mul(swiglu(a, b), w)))(g, u).grads;
          const unfused = valueAndGrad((a, b) => sum(mul(mul(silu(a), b), w)))(g, u).grads;
          for (let k = 0; k < 2; k++)
            expect(Array.from(fused[k]!.dataSync() as Float32Array)).toEqual(Array.from(unfused[k]!.dataSync() as Float32Array));
        });
      }),
      { numRuns: 30 },
    );
  });

  it("swiglu checks its arguments and names the op, the argument and the shapes", () => {
    tidy(() => {
      const a = tensor([[1, 2, 3], [4, 5, 6]]);
      expect(() => swiglu(a, tensor([[1, 2], [3, 4], [5, 6]]))).toThrow(/swiglu: 'gate' \[2, 3\] and 'up' \[3, 2\] must have the same shape/);
      expect(() => swiglu(a, tensor([1, 2, 3]))).toThrow(/swiglu: 'gate' \[2, 3\] and 'up' \[3\] must have the same shape/);
      expect(() => swiglu(tensor([1, 2], { dtype: "int32" }), tensor([1, 2]))).toThrow(/swiglu: 'gate' must be a float tensor \(float32, bfloat16 or float16\), got int32 \[2\]/);
      expect(() => swiglu(tensor([1, 2]), tensor([1, 2], { dtype: "int32" }))).toThrow(/swiglu: 'up' must be a float tensor/);
      expect(() => swiglu(a, 2 as never)).toThrow(/swiglu: 'up' must be a Tensor, got number/);
      const d = tensor([1, 2]);
      d.dispose();
      expect(() => swiglu(d, tensor([1, 2]))).toThrow(/swiglu: 'gate' \[2\] was disposed/);
      // empty tensors: an empty result, and an empty gradient
      const e = tensor(new Float32Array(0), { shape: [0, 4] });
      expect(swiglu(e, e).shape).toEqual([0, 4]);
    });
  });

  const unCases: Array<[string, (x: Tensor) => Tensor, (x: number) => number, "any" | "pos" | "nonzero"]> = [
    ["neg", neg, (x) => -x, "any"],
    ["exp", exp, Math.exp, "any"],
    ["log", log, Math.log, "pos"],
    ["sqrt", sqrt, Math.sqrt, "pos"],
    ["rsqrt", rsqrt, (x) => 1 / Math.sqrt(x), "pos"],
    ["tanh", tanh, Math.tanh, "any"],
    ["sigmoid", sigmoid, sigm, "any"],
    ["silu", silu, (x) => x * sigm(x), "any"],
    ["gelu", gelu, geluRef, "any"],
    ["geluTanh", geluTanh, geluTanhRef, "any"],
    ["relu", relu, (x) => Math.max(x, 0), "any"],
    ["abs", abs, Math.abs, "any"],
    ["square", square, (x) => x * x, "any"],
    ["sin", sin, Math.sin, "any"],
    ["cos", cos, Math.cos, "any"],
    ["reciprocal", reciprocal, (x) => 1 / x, "nonzero"],
    ["powScalar 2.5", (x) => powScalar(x, 2.5), (x) => x ** 2.5, "pos"],
    ["powScalar -1.5", (x) => powScalar(x, -1.5), (x) => x ** -1.5, "pos"],
    ["powScalar 3 (negative base)", (x) => powScalar(x, 3), (x) => x ** 3, "any"],
    ["powScalar 0", (x) => powScalar(x, 0), () => 1, "any"],
    ["addScalar", (x) => addScalar(x, 0.75), (x) => x + 0.75, "any"],
    ["mulScalar", (x) => mulScalar(x, -1.25), (x) => x * -1.25, "any"],
  ];
  for (const [name, op, ref, kind] of unCases) {
    it(`${name}`, () => {
      prop(fc.tuple(shapeArb(), seedArb, fc.constantFrom(0.5, 2, 4)), ([shape, seed, std]) => {
        let x = normal(seed, shape, std);
        if (kind === "pos") x = uniform(seed, shape, 0.01, 2 * std);
        if (kind === "nonzero") x = add(x, mul(sub(ge(x, 0), 0.5), 0.2)); // |x| >= 0.1
        const out = op(x);
        expectShape(out, shape);
        const X = f64(x);
        // atol covers functions that pass through zero at non-zero x (sin, cos, tanh near 0 are relative already).
        expectClose(f64(out), Array.from(X, ref), { rtol: 1e-5, atol: 1e-6 }, `${name} ${JSON.stringify(shape)}`);
      }, 15);
    });
  }
  it("unary ops at the edges: log(0), sqrt(-1), exp(large), sigmoid(+-100), relu(-0)", () => {
    tidy(() => {
      expect(log(tensor([0])).item()).toBe(-Infinity);
      expect(Number.isNaN(sqrt(tensor([-1])).item())).toBe(true);
      expect(exp(tensor([100])).item()).toBe(Infinity);
      expectClose(f64(sigmoid(tensor([-100, 100, 0]))), [0, 1, 0.5], { atol: 1e-30 });
      expectClose(f64(silu(tensor([-100, 100]))), [0, 100], { atol: 1e-30 });
      expect(relu(tensor([-0, -1e-30, 1e-30])).toArray()).toEqual([0, 0, Math.fround(1e-30)]);
      expect(abs(tensor([-0, -3])).toArray()).toEqual([0, 3]);
    });
  });

  it("where with broadcasting of cond, a and b; maskedFill", () => {
    const arb = fc.tuple(shapeArb(0, 4), fc.array(fc.tuple(fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 4 })), { minLength: 3, maxLength: 3 }), seedArb);
    prop(arb, ([shape, variants, seed]) => {
      const [sc, sa, sb] = variants.map(([o, d]) => reduceShape(shape, o, d)) as [number[], number[], number[]];
      const cond = ge(normal(seed, sc), 0.3); // mask of 0/1 (also tests that a nonzero mask means true)
      const condScaled = mul(cond, 2.5);
      const a = normal(seed + 1, sa);
      const b = normal(seed + 2, sb);
      const out = where(condScaled, a, b);
      const full = bcastShape(bcastShape(sc, sa), sb);
      expectShape(out, full);
      const C = f64(cond);
      const A = f64(a);
      const B = f64(b);
      const exp = Array.from({ length: size(full) }, (_, i) => {
        const idx = unravel(i, full);
        return C[bcastIndex(idx, sc)] ? A[bcastIndex(idx, sa)]! : B[bcastIndex(idx, sb)]!;
      });
      expect(Array.from(out.dataSync())).toEqual(exp.map(Math.fround));
      const filled = maskedFill(broadcastTo(b, full), broadcastTo(cond, bcastShape(sc, full)), -7);
      expect(Array.from(filled.dataSync())).toEqual(
        Array.from({ length: size(full) }, (_, i) => (C[bcastIndex(unravel(i, full), sc)] ? -7 : Math.fround(B[bcastIndex(unravel(i, full), sb)]!))),
      );
    }, 20);
  });
});

// ---- reductions --------------------------------------------------------------------------------------------------

/** Reduces x over `axes` with fold(acc, value, positionAlongReducedAxes); returns values in the kept-dims layout. */
function reduceRef(X: F64, shape: number[], axes: number[], init: number, fold: (acc: number, v: number) => number): { out: F64; abs: F64 } {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(kept)).fill(init);
  const absSum = new Float64Array(size(kept));
  for (let i = 0; i < X.length; i++) {
    const idx = unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v));
    const o = ravel(idx, kept);
    out[o] = fold(out[o]!, X[i]!);
    absSum[o]! += Math.abs(X[i]!);
  }
  return { out, abs: absSum };
}

describe("reductions vs JS", () => {
  const axesArb = fc
    .tuple(shapeArb(0, 4, 5), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(), fc.boolean(), fc.boolean(), seedArb)
    .map(([shape, pick, keepDims, all, negative, seed]) => {
      const list = shape.map((_, i) => i).filter((i) => pick[i]);
      return { shape, axes: all ? undefined : negative ? list.map((a) => a - shape.length) : list, norm: all ? shape.map((_, i) => i) : list, keepDims, seed };
    });
  for (const [name, op, isMean] of [["sum", sum, false], ["mean", mean, true]] as const) {
    it(`${name} over random axes, keepDims both`, () => {
      prop(axesArb, ({ shape, axes, norm, keepDims, seed }) => {
        const x = normal(seed, shape, 3);
        const out = op(x, axes, { keepDims });
        const keptShape = shape.map((d, i) => (norm.includes(i) ? 1 : d));
        expectShape(out, keepDims ? keptShape : shape.filter((_, i) => !norm.includes(i)), `${name} shape`);
        const { out: ref, abs } = reduceRef(f64(x), shape, norm, 0, (a, v) => a + v);
        const n = norm.reduce((p, a) => p * shape[a]!, 1);
        const exp = isMean ? ref.map((v) => v / n) : ref;
        const scale = isMean ? abs.map((v) => v / n) : abs;
        expectClose(f64(out), exp, { rtol: 1e-5, atol: 1e-6, scale }, `${name} ${JSON.stringify(shape)} axes ${JSON.stringify(axes)}`);
      }, 25);
    });
  }
  it("max / argmax / maxWithIndices along an axis: the first maximum wins ties", () => {
    prop(fc.tuple(shapeArb(1, 4, 5), fc.nat(), fc.boolean(), seedArb), ([shape, ax, keepDims, seed]) => {
      const a = ax % shape.length;
      const axis = ax % 2 ? a - shape.length : a;
      const x = gridValues(seed, shape); // many ties
      const X = f64(x);
      const { values, indices } = maxWithIndices(x, axis, { keepDims });
      const kept = shape.map((d, i) => (i === a ? 1 : d));
      const outShape = keepDims ? kept : shape.filter((_, i) => i !== a);
      expectShape(values, outShape);
      expectShape(indices, outShape);
      expect(indices.dtype).toBe("int32");
      const refV = new Float64Array(size(kept)).fill(-Infinity);
      const refI = new Int32Array(size(kept)).fill(-1);
      for (let i = 0; i < X.length; i++) {
        const idx = unravel(i, shape);
        const pos = idx[a]!;
        idx[a] = 0;
        const o = ravel(idx, kept);
        if (X[i]! > refV[o]!) {
          refV[o] = X[i]!;
          refI[o] = pos;
        }
      }
      expect(Array.from(values.dataSync())).toEqual(Array.from(refV));
      expect(Array.from(indices.dataSync())).toEqual(Array.from(refI));
      expect(Array.from(max(x, axis, { keepDims }).dataSync())).toEqual(Array.from(refV));
      expect(Array.from(argmax(x, axis, { keepDims }).dataSync())).toEqual(Array.from(refI));
    }, 25);
  });
  it("max / argmax over everything", () => {
    prop(fc.tuple(shapeArb(0, 4, 5), fc.boolean(), seedArb), ([shape, keepDims, seed]) => {
      const x = gridValues(seed, shape);
      const X = Array.from(f64(x));
      const m = Math.max(...X);
      const v = max(x, undefined, { keepDims });
      expectShape(v, keepDims ? shape.map(() => 1) : []);
      expect(v.item()).toBe(m);
      expect(argmax(x).item()).toBe(X.indexOf(m));
    }, 15);
  });
  it("max of an empty tensor throws; mean of an empty axis is NaN; sum of it is 0", () => {
    tidy(() => {
      expect(() => max(tensor(new Float32Array(0), { shape: [0, 2] }), 0)).toThrow(/empty/);
      expect(Array.from(sum(tensor(new Float32Array(0), { shape: [0, 2] }), 0).dataSync())).toEqual([0, 0]);
      expect(Array.from(mean(tensor(new Float32Array(0), { shape: [0, 2] }), 0).dataSync()).every(Number.isNaN)).toBe(true);
      expect(() => sum(tensor([1, 2]), [0, 0])).toThrow(/repeated axis/);
      expect(() => sum(tensor([1, 2]), 1)).toThrow(/out of range/);
    });
  });
  for (const [name, op, isLog] of [["softmax", softmax, false], ["logSoftmax", logSoftmax, true]] as const) {
    it(`${name} along a random axis matches a stable JS reference; probabilities sum to 1`, () => {
      prop(fc.tuple(shapeArb(1, 4, 5), fc.nat(), fc.constantFrom(1, 10, 100), seedArb), ([shape, ax, std, seed]) => {
        const a = ax % shape.length;
        const axis = ax % 2 ? a - shape.length : a;
        const x = normal(seed, shape, std);
        const out = op(x, axis);
        expectShape(out, shape);
        const X = f64(x);
        const n = shape[a]!;
        const st = stridesOf(shape)[a]!;
        const ref = new Float64Array(X.length);
        const probSums: number[] = [];
        const Y = f64(out);
        for (let i = 0; i < X.length; i++) {
          if (unravel(i, shape)[a] !== 0) continue;
          let m = -Infinity;
          for (let j = 0; j < n; j++) m = Math.max(m, X[i + j * st]!);
          let s = 0;
          for (let j = 0; j < n; j++) s += Math.exp(X[i + j * st]! - m);
          let ps = 0;
          for (let j = 0; j < n; j++) {
            const lp = X[i + j * st]! - m - Math.log(s);
            ref[i + j * st] = isLog ? lp : Math.exp(lp);
            ps += isLog ? Math.exp(Y[i + j * st]!) : Y[i + j * st]!;
          }
          probSums.push(ps);
        }
        // logSoftmax values grow with the logits' scale: tolerance relative to the row's spread.
        expectClose(Y, ref, { rtol: 1e-5, atol: isLog ? 1e-5 * std : 1e-6 }, `${name} ${JSON.stringify(shape)} axis ${axis}`);
        expectClose(probSums, probSums.map(() => 1), { rtol: 0, atol: 1e-5 }, `${name} row sums`);
      }, 25);
    });
  }
  it("softmax / logSoftmax stay finite for huge logits", () => {
    tidy(() => {
      const x = tensor([[1000, 0, -1000], [88, 89, 90], [-1e30, -1e30, -1e30]]);
      const p = softmax(x);
      expect(Array.from(p.dataSync()).every(Number.isFinite)).toBe(true);
      expectClose(f64(p), [1, Math.exp(-1000), 0, ...[-2, -1, 0].map((d) => Math.exp(d) / (Math.exp(-2) + Math.exp(-1) + 1)), 1 / 3, 1 / 3, 1 / 3], { rtol: 1e-5, atol: 1e-7 });
      const lp = logSoftmax(x);
      expectClose(f64(lp).slice(0, 3), [0, -1000, -2000], { rtol: 1e-6 });
    });
  });
});

// ---- layout ------------------------------------------------------------------------------------------------------

describe("layout ops vs index arithmetic", () => {
  it("permute and transpose", () => {
    const arb = shapeArb(1, 5).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }), fc.boolean(), seedArb),
    );
    prop(arb, ([shape, perm, negative, seed]) => {
      const x = normal(seed, shape);
      const X = f64(x);
      const p = negative ? perm.map((a) => a - shape.length) : perm;
      const out = permute(x, p);
      const oshape = perm.map((a) => shape[a]!);
      expectShape(out, oshape);
      const exp = Array.from({ length: X.length }, (_, i) => {
        const oi = unravel(i, oshape);
        const ii = new Array<number>(shape.length);
        perm.forEach((a, k) => (ii[a] = oi[k]!));
        return X[ravel(ii, shape)]!;
      });
      expect(Array.from(f64(out))).toEqual(exp);
      // permute by the inverse restores x
      const inv = perm.map((_, i) => perm.indexOf(i));
      expect(Array.from(permute(out, inv).dataSync())).toEqual(Array.from(x.dataSync()));
      if (shape.length >= 2) {
        const t = transpose(x, 0, -1);
        const tp = [...shape.keys()];
        [tp[0], tp[shape.length - 1]] = [tp[shape.length - 1]!, tp[0]!];
        expect(Array.from(t.dataSync())).toEqual(Array.from(permute(x, tp).dataSync()));
      }
    }, 25);
  });
  it("slice and narrow", () => {
    const arb = shapeArb(1, 4, 5).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.tuple(...shape.map((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.integer({ min: 0, max: n }), fc.boolean()))), seedArb),
    );
    prop(arb, ([shape, ranges, seed]) => {
      const x = normal(seed, shape);
      const X = f64(x);
      const lo = ranges.map(([s, e]) => Math.min(s, e));
      const hi = ranges.map(([s, e]) => Math.max(s, e));
      const starts = lo.map((s, i) => (ranges[i]![2] && s < shape[i]! ? s - shape[i]! : s));
      const ends = hi.map((e, i) => (ranges[i]![2] && e < shape[i]! ? e - shape[i]! : e));
      const out = slice(x, starts, ends);
      const oshape = hi.map((e, i) => e - lo[i]!);
      expectShape(out, oshape);
      const exp = Array.from({ length: size(oshape) }, (_, i) => X[ravel(unravel(i, oshape).map((v, d) => v + lo[d]!), shape)]!);
      expect(Array.from(f64(out))).toEqual(exp);
      const a = seed % shape.length;
      const nar = narrow(x, a, lo[a]!, hi[a]! - lo[a]!);
      const nshape = shape.map((d, i) => (i === a ? hi[a]! - lo[a]! : d));
      expectShape(nar, nshape);
      expect(Array.from(f64(nar))).toEqual(
        Array.from({ length: size(nshape) }, (_, i) => X[ravel(unravel(i, nshape).map((v, d) => (d === a ? v + lo[a]! : v)), shape)]!),
      );
    }, 25);
  });
  it("slice rejects out-of-range bounds", () => {
    tidy(() => {
      const x = tensor([[1, 2, 3]]);
      expect(() => slice(x, [0, 2], [1, 1])).toThrow(/out of bounds/);
      expect(() => slice(x, [0, 0], [1, 4])).toThrow(/out of bounds/);
      expect(() => slice(x, [0, 0, 0])).toThrow(/starts for a tensor of rank 2/);
    });
  });
  it("concat and stack", () => {
    const arb = fc.tuple(shapeArb(1, 4), fc.nat(), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }), seedArb);
    prop(arb, ([shape, ax, lens, seed]) => {
      const a = ax % shape.length;
      const parts = lens.map((l, i) => normal(seed + i, shape.map((d, j) => (j === a ? l : d))));
      const out = concat(parts, ax % 2 ? a - shape.length : a);
      const total = lens.reduce((p, l) => p + l, 0);
      const oshape = shape.map((d, j) => (j === a ? total : d));
      expectShape(out, oshape);
      const P = parts.map(f64);
      const starts = lens.map((_, i) => lens.slice(0, i).reduce((p, l) => p + l, 0));
      const exp = Array.from({ length: size(oshape) }, (_, i) => {
        const idx = unravel(i, oshape);
        let k = 0;
        while (idx[a]! >= starts[k]! + lens[k]!) k++;
        idx[a] = idx[a]! - starts[k]!;
        return P[k]![ravel(idx, parts[k]!.shape)]!;
      });
      expect(Array.from(f64(out))).toEqual(exp);
      // stack = concat of unsqueezed
      const same = lens.map((_, i) => normal(seed + 10 + i, shape));
      const sAxis = ax % (shape.length + 1);
      const st = stack(same, sAxis);
      expectShape(st, [...shape.slice(0, sAxis), same.length, ...shape.slice(sAxis)]);
      const S = same.map(f64);
      expect(Array.from(f64(st))).toEqual(
        Array.from({ length: st.size }, (_, i) => {
          const idx = unravel(i, st.shape);
          const k = idx.splice(sAxis, 1)[0]!;
          return S[k]![ravel(idx, shape)]!;
        }),
      );
    }, 25);
  });
  it("concat checks dtypes and shapes", () => {
    tidy(() => {
      expect(() => concat([tensor([[1, 2]]), tensor([[1, 2, 3]])], 0)).toThrow(/does not match/);
      expect(() => concat([tensor([1]), tensor([1], { dtype: "int32" })])).toThrow(/dtype/);
      expect(() => concat([])).toThrow(/at least one/);
      expect(Array.from(concat([tensor([1, 2], { dtype: "int32" }), tensor([3], { dtype: "int32" })]).dataSync())).toEqual([1, 2, 3]);
    });
  });
  it("broadcastTo, reshape, flatten, squeeze, unsqueeze", () => {
    const arb = fc.tuple(shapeArb(0, 4), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 4 }), seedArb);
    prop(arb, ([shape, ones, drop, seed]) => {
      const smallShape = reduceShape(shape, ones, drop);
      const small = normal(seed, smallShape);
      const S = f64(small);
      const b = broadcastTo(small, shape);
      expectShape(b, shape);
      expect(Array.from(f64(b))).toEqual(Array.from({ length: size(shape) }, (_, i) => S[bcastIndex(unravel(i, shape), smallShape)]!));
      const flat = flatten(b);
      expectShape(flat, [size(shape)]);
      expect(Array.from(flat.dataSync())).toEqual(Array.from(b.dataSync()));
      const r = reshape(b, [-1]);
      expectShape(r, [size(shape)]);
      const sq = squeeze(small);
      expectShape(sq, smallShape.filter((d) => d !== 1));
      expect(Array.from(sq.dataSync())).toEqual(Array.from(small.dataSync()));
      const u = unsqueeze(small, -1);
      expectShape(u, [...smallShape, 1]);
      const u0 = unsqueeze(small, 0);
      expectShape(u0, [1, ...smallShape]);
    }, 25);
  });
  it("data movement preserves int32 and 16-bit dtypes bit for bit", () => {
    tidy(() => {
      const i = tensor([[1, -2, 3], [4, 5, -6]], { dtype: "int32" });
      const bits = new Uint16Array([0x3f80, 0xc000, 0x4049, 0x7f80, 0x0001, 0x8000]);
      for (const [x, raw] of [
        [i, Array.from(i.dataSync())],
        [tensor(bits, { dtype: "bfloat16", shape: [2, 3] }), Array.from(bits)],
        [tensor(bits, { dtype: "float16", shape: [2, 3] }), Array.from(bits)],
      ] as const) {
        const label = x.dtype;
        const p = permute(x, [1, 0]);
        expect(p.dtype, label).toBe(x.dtype);
        expect(Array.from(p.dataSync()), label).toEqual([0, 3, 1, 4, 2, 5].map((k) => raw[k]));
        expect(Array.from(slice(x, [1, 1]).dataSync()), label).toEqual([raw[4], raw[5]]);
        const c = concat([x, slice(x, [0, 2])], 1);
        expect(c.dtype, label).toBe(x.dtype);
        expect(Array.from(c.dataSync()), label).toEqual([raw[0], raw[1], raw[2], raw[2], raw[3], raw[4], raw[5], raw[5]]);
        expect(Array.from(broadcastTo(slice(x, [1]), [3, 3]).dataSync()), label).toEqual([3, 4, 5, 3, 4, 5, 3, 4, 5].map((k) => raw[k]));
        expect(Array.from(reshape(x, [3, 2]).dataSync()), label).toEqual(raw);
      }
    });
  });
  it("shape errors name the op", () => {
    tidy(() => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      expect(() => reshape(x, [4])).toThrow(/reshape: cannot reshape \[2, 3\]/);
      expect(() => reshape(x, [-1, -1])).toThrow(/more than one -1/);
      expect(() => broadcastTo(x, [3, 3])).toThrow(/broadcastTo/);
      expect(() => squeeze(x, 0)).toThrow(/squeeze: axis 0 of \[2, 3\] has size 2/);
      expect(() => permute(x, [0, 0])).toThrow(/not a permutation/);
      expect(() => permute(x, [0])).toThrow(/length 1/);
    });
  });
});

// ---- lookups -----------------------------------------------------------------------------------------------------

describe("embedding / indexSelect", () => {
  it("gather rows by ids (any id shape, repeats)", () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), shapeArb(0, 3), seedArb);
    prop(arb, ([V, D, idShape, seed]) => {
      const table = normal(seed, [V, D]);
      const ids = randInts(seed + 1, idShape, 0, V);
      const out = embedding(table, ids);
      expectShape(out, [...idShape, D]);
      const T = Array.from(table.dataSync());
      const I = Array.from(ids.dataSync());
      expect(Array.from(out.dataSync())).toEqual(I.flatMap((id) => T.slice(id * D, id * D + D)));
    }, 20);
  });
  it("indexSelect keeps trailing axes", () => {
    const arb = fc.tuple(fc.integer({ min: 1, max: 5 }), shapeArb(0, 3, 3), fc.integer({ min: 0, max: 6 }), seedArb);
    prop(arb, ([R, rest, n, seed]) => {
      const x = normal(seed, [R, ...rest]);
      const ids = randInts(seed + 1, [n], 0, R);
      const out = indexSelect(x, ids);
      expectShape(out, [n, ...rest]);
      const X = Array.from(x.dataSync());
      const row = size(rest);
      expect(Array.from(out.dataSync())).toEqual(Array.from(ids.dataSync()).flatMap((id) => X.slice(id * row, id * row + row)));
    }, 20);
  });
  it("out-of-range ids and wrong dtypes throw", () => {
    tidy(() => {
      const t = tensor([[1, 2], [3, 4]]);
      expect(() => embedding(t, tensor([2], { dtype: "int32" }))).toThrow(/out of range/);
      expect(() => embedding(t, tensor([-1], { dtype: "int32" }))).toThrow(/out of range/);
      expect(() => embedding(t, tensor([0]))).toThrow(/ids' must be int32/);
      expect(() => embedding(tensor([1, 2]), tensor([0], { dtype: "int32" }))).toThrow(/2-D/);
    });
  });
});

// ---- matmul ------------------------------------------------------------------------------------------------------

/** Naive float64 matmul with batch broadcasting and transposes; also returns sum_k |a||b| per output (error scale). */
function matmulRef(A: F64, aShape: number[], B: F64, bShape: number[], ta: boolean, tb: boolean) {
  const aB = aShape.slice(0, -2);
  const bB = bShape.slice(0, -2);
  const batch = bcastShape(aB, bB);
  const [ar, ac] = aShape.slice(-2) as [number, number];
  const [br, bc] = bShape.slice(-2) as [number, number];
  const [M, K] = ta ? [ac, ar] : [ar, ac];
  const N = tb ? br : bc;
  const outShape = [...batch, M, N];
  const out = new Float64Array(size(outShape));
  const scale = new Float64Array(out.length);
  const nb = size(batch);
  for (let bi = 0; bi < nb; bi++) {
    const bidx = unravel(bi, batch);
    const ao = bcastIndex(bidx, aB) * ar * ac;
    const bo = bcastIndex(bidx, bB) * br * bc;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        let sa = 0;
        for (let k = 0; k < K; k++) {
          const x = A[ao + (ta ? k * ac + i : i * ac + k)]!;
          const y = B[bo + (tb ? j * bc + k : k * bc + j)]!;
          s += x * y;
          sa += Math.abs(x * y);
        }
        out[(bi * M + i) * N + j] = s;
        scale[(bi * M + i) * N + j] = sa;
      }
  }
  return { out, scale, shape: outShape };
}

describe("matmul vs a naive JS triple loop", () => {
  const mnk = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }));
  it("all transpose combinations with broadcast batch dims", () => {
    const arb = fc.tuple(shapeArb(0, 3, 3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), mnk, fc.boolean(), fc.boolean(), seedArb);
    prop(arb, ([batch, ones, drop, swap, [M, N, K], ta, tb, seed]) => {
      const other = reduceShape(batch, ones, drop);
      const [ba, bb] = swap ? [other, batch] : [batch, other];
      const aShape = [...ba, ...(ta ? [K, M] : [M, K])];
      const bShape = [...bb, ...(tb ? [N, K] : [K, N])];
      const a = normal(seed, aShape);
      const b = normal(seed + 1, bShape);
      const out = matmul(a, b, { transA: ta, transB: tb });
      const ref = matmulRef(f64(a), aShape, f64(b), bShape, ta, tb);
      expectShape(out, ref.shape);
      expectClose(f64(out), ref.out, { rtol: 1e-5, atol: 1e-6, scale: ref.scale }, `matmul ${JSON.stringify(aShape)}${ta ? "^T" : ""} @ ${JSON.stringify(bShape)}${tb ? "^T" : ""}`);
    }, 25);
  });
  it("1-D operands follow NumPy semantics", () => {
    prop(fc.tuple(mnk, fc.integer({ min: 1, max: 3 }), seedArb), ([[M, N, K], B, seed]) => {
      const v = normal(seed, [K]);
      const m = normal(seed + 1, [K, N]);
      const a = normal(seed + 2, [B, M, K]);
      const V = f64(v);
      const cases: Array<[Tensor, number[], ReturnType<typeof matmulRef>]> = [
        [matmul(v, m), [N], matmulRef(V, [1, K], f64(m), [K, N], false, false)],
        [matmul(a, v), [B, M], matmulRef(f64(a), [B, M, K], V, [K, 1], false, false)],
        [matmul(v, v), [], matmulRef(V, [1, K], V, [K, 1], false, false)],
        [matmul(v, broadcastTo(m, [B, K, N])), [B, N], matmulRef(V, [1, K], f64(broadcastTo(m, [B, K, N])), [B, K, N], false, false)],
        [matmul(v, transpose(m), { transB: true }), [N], matmulRef(V, [1, K], f64(m), [K, N], false, false)],
      ];
      for (const [out, shape, ref] of cases) {
        expectShape(out, shape);
        expectClose(f64(out), ref.out, { rtol: 1e-5, atol: 1e-6, scale: ref.scale }, `1-D ${JSON.stringify(shape)}`);
      }
    }, 15);
  });
  it("linear = x W^T + b; the folded [B,T,K] @ [N,K]^T path", () => {
    prop(fc.tuple(shapeArb(0, 3, 3), mnk, seedArb), ([lead, [, N, K], seed]) => {
      const x = normal(seed, [...lead, K]);
      const w = normal(seed + 1, [N, K]);
      const bias = normal(seed + 2, [N]);
      const ref = matmulRef(f64(x), [size(lead), K], f64(w), [N, K], false, true);
      const y = linear(x, w);
      const yb = linear(x, w, bias);
      expectShape(y, [...lead, N]);
      expectClose(f64(y), ref.out, { rtol: 1e-5, atol: 1e-6, scale: ref.scale }, "linear");
      const Bv = f64(bias);
      expectClose(f64(yb), ref.out.map((v, i) => v + Bv[i % N]!), { rtol: 1e-5, atol: 1e-6, scale: ref.scale.map((s, i) => s + Math.abs(Bv[i % N]!)) }, "linear+bias");
    }, 15);
  });
  it("mismatched inner dimensions and bad ranks throw", () => {
    tidy(() => {
      expect(() => matmul(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow(/inner dimensions differ/);
      expect(() => matmul(tensor(1), tensor([1]))).toThrow(/rank >= 1/);
      expect(() => matmul(tensor([1, 2]), tensor([[1], [2]]), { transA: true })).toThrow(/transA/);
      expect(() => linear(tensor([[1, 2]]), tensor([[1, 2, 3]]))).toThrow(/features/);
    });
  });
});

describe("GEMM backends agree", () => {
  afterEach(() => setGemmBackend("auto"));
  const backends = (): Array<"own" | "blas" | "reference" | "auto"> => {
    const list: Array<"own" | "blas" | "reference" | "auto"> = ["own", "reference", "auto"];
    try {
      setGemmBackend("blas");
      list.push("blas");
    } catch (e) {
      expect((e as Error).message).toMatch(/without OpenBLAS/);
    }
    setGemmBackend("auto");
    return list;
  };
  const sizes = [1, 7, 17, 65, 130];
  const dimArb = fc.oneof(fc.constantFrom(...sizes), fc.integer({ min: 1, max: 140 }));

  function runAll(aShape: number[], bShape: number[], ta: boolean, tb: boolean, seed: number) {
    const a = normal(seed, aShape);
    const b = normal(seed + 1, bShape);
    const ref = matmulRef(f64(a), aShape, f64(b), bShape, ta, tb);
    for (const be of backends()) {
      setGemmBackend(be);
      const out = matmul(a, b, { transA: ta, transB: tb });
      expectShape(out, ref.shape);
      expectClose(f64(out), ref.out, { rtol: 1e-5, atol: 1e-6, scale: ref.scale }, `${be}: ${JSON.stringify(aShape)}${ta ? "^T" : ""} @ ${JSON.stringify(bShape)}${tb ? "^T" : ""}`);
    }
    setGemmBackend("auto");
  }

  it("every backend is available or refuses with a clear error; unknown names throw", () => {
    const list = backends();
    expect(list).toContain("own");
    if (/openblas/i.test(devices().cpu.gemm)) expect(list).toContain("blas");
    expect(() => setGemmBackend("fast" as never)).toThrow(/unknown backend/);
  });
  it("the paper sizes 1, 7, 17, 65, 130 on the diagonal and mixed, all transposes", () => {
    let seed = 1;
    for (const M of sizes)
      for (const [N, K] of [[M, M], [sizes[(sizes.indexOf(M) + 1) % 5]!, sizes[(sizes.indexOf(M) + 3) % 5]!]] as const)
        for (const ta of [false, true])
          for (const tb of [false, true])
            tidy(() => runAll(ta ? [K, M] : [M, K], tb ? [N, K] : [K, N], ta, tb, seed++));
  });
  it("random sizes (odd M, N, K), transposes, batches", () => {
    const arb = fc.tuple(dimArb, dimArb, dimArb, fc.boolean(), fc.boolean(), fc.constantFrom<number[][]>([[], []], [[2], [2]], [[2], [1]], [[1], [3]], [[3], []], [[2, 1], [3]]), seedArb);
    prop(arb, ([M, N, K, ta, tb, [ba, bb], seed]) => {
      runAll([...ba!, ...(ta ? [K, M] : [M, K])], [...bb!, ...(tb ? [N, K] : [K, N])], ta, tb, seed);
    }, 20);
  });
  it("K = 0 gives zeros; M = 0 or N = 0 give empty results, on every backend", () => {
    tidy(() => {
      for (const be of backends()) {
        setGemmBackend(be);
        for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const a = new Generator(1).normal(ta ? [0, 5] : [5, 0]);
          const b = new Generator(2).normal(tb ? [3, 0] : [0, 3]);
          const out = matmul(a, b, { transA: ta, transB: tb });
          expectShape(out, [5, 3], be);
          expect(Array.from(out.dataSync()), `${be} K=0`).toEqual(new Array(15).fill(0));
        }
        // A batched K = 0 product, and a fold-path one (3-D @ 2-D).
        expect(Array.from(matmul(normal(3, [2, 4, 0]), normal(4, [2, 0, 3])).dataSync())).toEqual(new Array(24).fill(0));
        expect(Array.from(matmul(normal(3, [2, 4, 0]), normal(4, [0, 3])).dataSync())).toEqual(new Array(24).fill(0));
        expectShape(matmul(normal(5, [0, 4]), normal(6, [4, 3])), [0, 3]);
        expectShape(matmul(normal(5, [2, 4]), normal(6, [4, 0])), [2, 0]);
      }
      setGemmBackend("auto");
    });
  });
  it("K = 0 gradients are zeros", () => {
    tidy(() => {
      for (const be of backends()) {
        setGemmBackend(be);
        const { grads } = valueAndGrad((a, b) => sum(matmul(a, b)))(normal(1, [3, 0]), normal(2, [0, 2]));
        expectShape(grads[0]!, [3, 0]);
        expectShape(grads[1]!, [0, 2]);
        dispose(grads);
      }
      setGemmBackend("auto");
    });
  });
});

// ---- losses and normalisation ------------------------------------------------------------------------------------

describe("crossEntropy vs JS log-sum-exp", () => {
  it("mean over counted rows, default and custom ignoreIndex", () => {
    const arb = fc.tuple(shapeArb(1, 2, 5), fc.integer({ min: 1, max: 8 }), fc.constantFrom<number | undefined>(undefined, -1, 2), fc.double({ min: 0, max: 0.7, noNaN: true }), fc.constantFrom(1, 5, 30), seedArb);
    prop(arb, ([rowShape, V, ignoreIndex, pIgnore, std, seed]) => {
      const n = size(rowShape);
      const logits = normal(seed, [...rowShape, V], std);
      const tg = Int32Array.from(randInts(seed + 1, [n], 0, V).dataSync() as Int32Array);
      const ign = ignoreIndex ?? -100;
      const u = new Generator(seed + 2).uniform([n]).dataSync();
      for (let i = 0; i < n; i++) if (u[i]! < pIgnore) tg[i] = ign;
      const loss = crossEntropy(logits, tensor(tg, { shape: rowShape }), ignoreIndex === undefined ? {} : { ignoreIndex });
      expectShape(loss, []);
      const L = f64(logits);
      let total = 0;
      let count = 0;
      for (let r = 0; r < n; r++) {
        if (tg[r] === ign) continue;
        let m = -Infinity;
        for (let c = 0; c < V; c++) m = Math.max(m, L[r * V + c]!);
        let s = 0;
        for (let c = 0; c < V; c++) s += Math.exp(L[r * V + c]! - m);
        total += m + Math.log(s) - L[r * V + tg[r]!]!;
        count++;
      }
      const expected = count === 0 ? NaN : total / count;
      expectClose([loss.item()], [expected], { rtol: 1e-5, atol: 1e-5 * std }, `crossEntropy ${JSON.stringify(rowShape)}x${V} targets ${Array.from(tg)}`);
    }, 30);
  });
  it("all rows ignored gives NaN; bad targets throw", () => {
    tidy(() => {
      const l = tensor([[1, 2, 3], [0, 0, 0]]);
      expect(Number.isNaN(crossEntropy(l, tensor([-100, -100], { dtype: "int32" })).item())).toBe(true);
      expect(() => crossEntropy(l, tensor([3, 0], { dtype: "int32" }))).toThrow(/out of range/);
      expect(() => crossEntropy(l, tensor([0, 1]))).toThrow(/int32/);
      expect(() => crossEntropy(l, tensor([0, 1, 2], { dtype: "int32" }))).toThrow(/class axis/);
    });
  });
});

describe("rmsNorm vs JS", () => {
  it("x * rsqrt(mean(x^2) + eps) * weight over the last axis", () => {
    const arb = fc.tuple(shapeArb(0, 3, 4), fc.integer({ min: 1, max: 64 }), fc.constantFrom<number | undefined>(undefined, 1e-5, 0.5), fc.constantFrom(0.01, 1, 100), seedArb);
    prop(arb, ([lead, D, eps, std, seed]) => {
      const x = normal(seed, [...lead, D], std);
      const w = normal(seed + 1, [D]);
      const out = rmsNorm(x, w, eps);
      expectShape(out, [...lead, D]);
      const X = f64(x);
      const W = f64(w);
      const e = eps ?? 1e-6;
      const ref = new Float64Array(X.length);
      for (let r = 0; r < X.length / D; r++) {
        let ss = 0;
        for (let c = 0; c < D; c++) ss += X[r * D + c]! ** 2;
        const rs = 1 / Math.sqrt(ss / D + e);
        for (let c = 0; c < D; c++) ref[r * D + c] = X[r * D + c]! * rs * W[c]!;
      }
      expectClose(f64(out), ref, { rtol: 1e-4, atol: 1e-6 }, `rmsNorm ${JSON.stringify([...lead, D])} eps=${e} std=${std}`);
    }, 25);
  });
  it("weight shape is checked", () => {
    tidy(() => expect(() => rmsNorm(tensor([[1, 2, 3]]), tensor([1, 2]))).toThrow(/rmsNorm: weight \[2\] must match/));
  });
});

/** Hugging Face rotate_half RoPE in float64: inv_freq[i] = 1 / theta^(2i/D), emb = cat(freqs, freqs). */
function ropeRef(X: F64, [B, T, H, D]: number[], pos: ArrayLike<number>, theta: number): F64 {
  const out = new Float64Array(X.length);
  const half = D! / 2;
  for (let b = 0; b < B!; b++)
    for (let t = 0; t < T!; t++) {
      const p = pos[b * T! + t]!;
      for (let h = 0; h < H!; h++) {
        const o = ((b * T! + t) * H! + h) * D!;
        for (let i = 0; i < half; i++) {
          const ang = p * (1 / theta ** ((2 * i) / D!));
          const c = Math.cos(ang);
          const s = Math.sin(ang);
          const x1 = X[o + i]!;
          const x2 = X[o + i + half]!;
          out[o + i] = x1 * c - x2 * s; // x * cos + rotate_half(x) * sin, rotate_half = cat(-x2, x1)
          out[o + i + half] = x2 * c + x1 * s;
        }
      }
    }
  return out;
}

describe("rope vs a JS rotate_half implementation", () => {
  const dimsArb = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 8 }).map((h) => 2 * h));
  it("default positions with an offset, and custom theta", () => {
    prop(fc.tuple(dimsArb, fc.integer({ min: 0, max: 100 }), fc.constantFrom<number | undefined>(undefined, 10000, 500000, 100), seedArb), ([[B, T, H, D], offset, theta, seed]) => {
      const x = normal(seed, [B, T, H, D]);
      const out = rope(x, theta === undefined ? { offset } : { offset, theta });
      const pos = Array.from({ length: B * T }, (_, i) => offset + (i % T));
      // Angles up to ~100 rad lose ~1e-5 in float32; the tolerance is absolute on unit-scale data.
      expectClose(f64(out), ropeRef(f64(x), [B, T, H, D], pos, theta ?? 10000), { rtol: 1e-4, atol: 5e-5 }, `rope [${B},${T},${H},${D}] offset ${offset} theta ${theta}`);
    }, 20);
  });
  it("explicit positions ([B, T] and [B*T]); offset 0 equals positions 0..T-1", () => {
    prop(fc.tuple(dimsArb, fc.boolean(), seedArb), ([[B, T, H, D], flat, seed]) => {
      const x = normal(seed, [B, T, H, D]);
      const pos = randInts(seed + 3, flat ? [B * T] : [B, T], 0, 64);
      const out = rope(x, { positions: pos });
      expectClose(f64(out), ropeRef(f64(x), [B, T, H, D], pos.dataSync(), 10000), { rtol: 1e-4, atol: 5e-5 }, "rope positions");
      const seq = tensor(Int32Array.from({ length: B * T }, (_, i) => i % T), { shape: [B, T] });
      expect(Array.from(rope(x, { positions: seq }).dataSync())).toEqual(Array.from(rope(x).dataSync()));
    }, 20);
  });
  it("position 0 is the identity; the rotation preserves each pair's norm", () => {
    tidy(() => {
      const x = normal(9, [1, 1, 2, 8]);
      expect(Array.from(rope(x).dataSync())).toEqual(Array.from(x.dataSync()));
      const y = rope(x, { offset: 37 });
      const X = f64(x);
      const Y = f64(y);
      for (let h = 0; h < 2; h++)
        for (let i = 0; i < 4; i++) {
          const o = h * 8;
          expect(Math.hypot(Y[o + i]!, Y[o + i + 4]!)).toBeCloseTo(Math.hypot(X[o + i]!, X[o + i + 4]!), 5);
        }
      expect(() => rope(normal(1, [1, 1, 1, 3]))).toThrow(/even/);
      expect(() => rope(normal(1, [1, 2, 1, 4]), { positions: tensor([0], { dtype: "int32" }) })).toThrow(/positions/);
    });
  });
});

// ---- attention ---------------------------------------------------------------------------------------------------

function attentionRef(Q: F64, K: F64, V: F64, [B, T, H, Hkv, D]: number[], causal: boolean, scale: number): F64 {
  const out = new Float64Array(Q.length);
  const group = H! / Hkv!;
  for (let b = 0; b < B!; b++)
    for (let h = 0; h < H!; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < T!; i++) {
        const qo = ((b * T! + i) * H! + h) * D!;
        const last = causal ? i : T! - 1;
        const s: number[] = [];
        for (let j = 0; j <= last; j++) {
          const ko = ((b * T! + j) * Hkv! + hk) * D!;
          let d = 0;
          for (let c = 0; c < D!; c++) d += Q[qo + c]! * K[ko + c]!;
          s.push(d * scale);
        }
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((p, v) => p + v, 0);
        for (let c = 0; c < D!; c++) {
          let acc = 0;
          for (let j = 0; j <= last; j++) acc += (e[j]! / z) * V[((b * T! + j) * Hkv! + hk) * D! + c]!;
          out[qo + c] = acc;
        }
      }
    }
  return out;
}

describe("attention", () => {
  const arb = fc.record({
    B: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: 12 }),
    Hkv: fc.integer({ min: 1, max: 3 }),
    ratio: fc.constantFrom(1, 2, 4),
    D: fc.integer({ min: 1, max: 16 }).map((d) => 2 * d),
    causal: fc.boolean(),
    std: fc.constantFrom(0.5, 1, 3),
    scale: fc.constantFrom<number | undefined>(undefined, 0.3),
    seed: seedArb,
  });
  it("fused attention matches a JS reference and attentionEager (forward)", () => {
    prop(arb, ({ B, T, Hkv, ratio, D, causal, std, scale, seed }) => {
      const H = Hkv * ratio;
      const q = normal(seed, [B, T, H, D], std);
      const k = normal(seed + 1, [B, T, Hkv, D], std);
      const v = normal(seed + 2, [B, T, Hkv, D]);
      const opts = scale === undefined ? { causal } : { causal, scale };
      const fused = attention(q, k, v, opts);
      const eager = attentionEager(q, k, v, opts);
      expectShape(fused, [B, T, H, D]);
      expectShape(eager, [B, T, H, D]);
      const ref = attentionRef(f64(q), f64(k), f64(v), [B, T, H, Hkv, D], causal, scale ?? 1 / Math.sqrt(D));
      const label = `B${B} T${T} H${H} Hkv${Hkv} D${D} causal=${causal} std=${std}`;
      expectClose(f64(fused), ref, { rtol: 1e-4, atol: 1e-5 }, `fused ${label}`);
      expectClose(f64(eager), ref, { rtol: 1e-4, atol: 1e-5 }, `eager ${label}`);
    }, 25);
  });
  it("fused attention gradients match attentionEager's (q, k, v)", () => {
    prop(arb, ({ B, T, Hkv, ratio, D, causal, std, scale, seed }) => {
      const H = Hkv * ratio;
      const q = normal(seed, [B, T, H, D], std);
      const k = normal(seed + 1, [B, T, Hkv, D], std);
      const v = normal(seed + 2, [B, T, Hkv, D]);
      const w = normal(seed + 3, [B, T, H, D]);
      const opts = scale === undefined ? { causal } : { causal, scale };
      const f = valueAndGrad((a, b, c) => sum(mul(attention(a, b, c, opts), w)));
      const e = valueAndGrad((a, b, c) => sum(mul(attentionEager(a, b, c, opts), w)));
      const rf = f(q, k, v);
      const re = e(q, k, v);
      const label = `B${B} T${T} H${H} Hkv${Hkv} D${D} causal=${causal} std=${std}`;
      expectClose([rf.value.item()], [re.value.item()], { rtol: 1e-4, atol: 1e-4 }, `loss ${label}`);
      ["dq", "dk", "dv"].forEach((name, i) => {
        const gf = rf.grads[i]!;
        const ge = re.grads[i]!;
        expectShape(gf, ge.shape);
        const G = f64(ge);
        const mag = G.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        // Gradients are sums over T keys and the GQA group: compare relative to the tensor's largest entry.
        expectClose(f64(gf), G, { rtol: 1e-4, atol: 2e-5 * Math.max(1, mag) }, `${name} ${label}`);
      });
      // valueAndGrad's gradients escape tidy (reported separately in tensor.test.ts): free them here.
      dispose([rf.grads, re.grads]);
    }, 25);
  });
  it("causal row 0 attends only to key 0; non-causal differs", () => {
    tidy(() => {
      const q = normal(1, [1, 3, 1, 4]);
      const k = normal(2, [1, 3, 1, 4]);
      const v = normal(3, [1, 3, 1, 4]);
      const o = attention(q, k, v);
      expect(Array.from(o.dataSync().slice(0, 4))).toEqual(Array.from(v.dataSync().slice(0, 4)).map((x) => expect.closeTo(x, 6)));
      const nc = attention(q, k, v, { causal: false });
      expect(Array.from(nc.dataSync().slice(0, 4))).not.toEqual(Array.from(o.dataSync().slice(0, 4)));
      // the last row is the same with or without the mask
      expectClose(f64(nc).slice(8), f64(o).slice(8), { rtol: 1e-6 });
    });
  });
  it("argument checks", () => {
    tidy(() => {
      const q = normal(1, [1, 2, 3, 4]);
      const kv = normal(2, [1, 2, 2, 4]);
      expect(() => attention(q, kv, kv)).toThrow(/multiple of kv heads/);
      expect(() => attention(q, normal(3, [1, 2, 3, 2]), normal(3, [1, 2, 3, 2]))).toThrow(/must be \[1, keys, kvHeads, 4\]/);
      expect(() => attention(normal(4, [2, 3, 4]), kv, kv)).toThrow(/\[batch, time, heads, headDim\]/);
    });
  });
});

// ---- larger shapes: the threaded, blocked and tiled kernel paths ---------------------------------------------------

describe("larger shapes (threaded / blocked kernel paths)", () => {
  afterEach(() => setGemmBackend("auto"));

  it("unary and broadcasting binary ops over ~77k elements", () => {
    tidy(() => {
      const x = normal(1, [300, 257], 2);
      const X = f64(x);
      expectClose(f64(exp(x)), Array.from(X, Math.exp), { rtol: 1e-5 }, "exp");
      expectClose(f64(gelu(x)), Array.from(X, geluRef), { rtol: 1e-5, atol: 1e-6 }, "gelu");
      expectClose(f64(silu(x)), Array.from(X, (v) => v * sigm(v)), { rtol: 1e-5, atol: 1e-6 }, "silu");
      const row = normal(2, [257]);
      const col = normal(3, [300, 1]);
      const R = f64(row);
      const C = f64(col);
      expectClose(f64(add(x, row)), Array.from(X, (v, i) => v + R[i % 257]!), { rtol: 1e-5, atol: 1e-6 }, "add row");
      expectClose(f64(mul(col, x)), Array.from(X, (v, i) => v * C[Math.floor(i / 257)]!), { rtol: 1e-5, atol: 1e-6 }, "mul col");
      expectClose(f64(sub(col, row)), Array.from({ length: X.length }, (_, i) => C[Math.floor(i / 257)]! - R[i % 257]!), { rtol: 1e-5, atol: 1e-6 }, "outer sub");
    });
  });
  it("sum / mean / max / softmax over long axes", () => {
    tidy(() => {
      const x = normal(4, [37, 4099]);
      const X = f64(x);
      for (const axis of [0, 1]) {
        const shape = [37, 4099];
        const { out, abs } = reduceRef(X, shape, [axis], 0, (a, v) => a + v);
        expectClose(f64(sum(x, axis)), out, { rtol: 1e-5, atol: 1e-6, scale: abs }, `sum axis ${axis}`);
        expectClose(f64(mean(x, axis)), out.map((v) => v / shape[axis]!), { rtol: 1e-5, atol: 1e-6, scale: abs.map((v) => v / shape[axis]!) }, `mean axis ${axis}`);
        const { out: mx } = reduceRef(X, shape, [axis], -Infinity, Math.max);
        expect(Array.from(max(x, axis).dataSync())).toEqual(Array.from(mx));
      }
      const all = sum(x);
      expectClose([all.item()], [X.reduce((a, b) => a + b, 0)], { rtol: 0, atol: 1e-5 * X.reduce((a, b) => a + Math.abs(b), 0) }, "sum all");
      const p = softmax(x, 1);
      const P = f64(p);
      for (let r = 0; r < 37; r += 9) {
        const rowX = X.subarray(r * 4099, (r + 1) * 4099);
        const m = Math.max(...rowX);
        const z = rowX.reduce((a, v) => a + Math.exp(v - m), 0);
        expectClose(P.subarray(r * 4099, (r + 1) * 4099), Array.from(rowX, (v) => Math.exp(v - m) / z), { rtol: 1e-4, atol: 1e-9 }, `softmax row ${r}`);
      }
    });
  });
  it("GEMM backends across the KC (256), MC (96) and NC (2048) block edges", () => {
    const cases: Array<[number, number, number]> = [[5, 7, 255], [5, 7, 256], [17, 9, 257], [97, 33, 600], [3, 2049, 5], [100, 2050, 3]];
    let seed = 100;
    for (const [M, N, K] of cases)
      for (const [ta, tb] of [[false, false], [true, true]] as const)
        tidy(() => {
          const aShape = ta ? [K, M] : [M, K];
          const bShape = tb ? [N, K] : [K, N];
          const a = normal(seed++, aShape);
          const b = normal(seed++, bShape);
          const ref = matmulRef(f64(a), aShape, f64(b), bShape, ta, tb);
          for (const be of ["own", "reference", "auto", "blas"] as const) {
            try {
              setGemmBackend(be);
            } catch {
              continue; // built without OpenBLAS
            }
            expectClose(f64(matmul(a, b, { transA: ta, transB: tb })), ref.out, { rtol: 1e-5, atol: 1e-6, scale: ref.scale }, `${be} ${M}x${N}x${K} tA=${ta} tB=${tb}`);
          }
          setGemmBackend("auto");
        });
  });
  it("fused attention across query blocks (T = 63, 64, 65, 130): forward vs JS, gradients vs eager", () => {
    for (const [T, causal, H, Hkv] of [[63, true, 2, 1], [64, false, 2, 2], [65, true, 4, 2], [130, true, 2, 1], [130, false, 1, 1]] as const)
      tidy(() => {
        const B = 1;
        const D = 16;
        const q = normal(T, [B, T, H, D]);
        const k = normal(T + 1, [B, T, Hkv, D]);
        const v = normal(T + 2, [B, T, Hkv, D]);
        const w = normal(T + 3, [B, T, H, D]);
        const label = `T${T} H${H} Hkv${Hkv} causal=${causal}`;
        expectClose(f64(attention(q, k, v, { causal })), attentionRef(f64(q), f64(k), f64(v), [B, T, H, Hkv, D], causal, 1 / Math.sqrt(D)), { rtol: 1e-4, atol: 1e-5 }, label);
        const rf = valueAndGrad((a, b, c) => sum(mul(attention(a, b, c, { causal }), w)))(q, k, v);
        const re = valueAndGrad((a, b, c) => sum(mul(attentionEager(a, b, c, { causal }), w)))(q, k, v);
        ["dq", "dk", "dv"].forEach((name, i) => {
          const G = f64(re.grads[i]!);
          const mag = G.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          expectClose(f64(rf.grads[i]!), G, { rtol: 1e-4, atol: 2e-5 * Math.max(1, mag) }, `${name} ${label}`);
        });
        dispose([rf.grads, re.grads]);
      });
  });
  it("rmsNorm gradients (rows > 64 partial blocks) match the composite x * rsqrt(mean(x^2) + eps) * w", () => {
    tidy(() => {
      const x = normal(7, [3, 67, 300]);
      const wt = normal(8, [300]);
      const g = normal(9, [3, 67, 300]);
      const eps = 1e-5;
      const fused = valueAndGrad((a, b) => sum(mul(rmsNorm(a, b, eps), g)))(x, wt);
      const comp = valueAndGrad((a, b) => sum(mul(mul(mul(a, rsqrt(add(mean(square(a), -1, { keepDims: true }), eps))), b), g)))(x, wt);
      expectClose([fused.value.item()], [comp.value.item()], { rtol: 1e-4, atol: 1e-3 }, "value");
      for (const i of [0, 1]) {
        const G = f64(comp.grads[i]!);
        const mag = G.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expectClose(f64(fused.grads[i]!), G, { rtol: 1e-4, atol: 1e-5 * mag }, i ? "d weight" : "d x");
      }
      dispose([fused.grads, comp.grads]);
    });
  });
  it("crossEntropy gradients (large vocabulary, ignored rows) match a logSoftmax composite", () => {
    tidy(() => {
      const R = 150;
      const V = 1000;
      const logits = normal(10, [R, V], 3);
      const tg = Int32Array.from(randInts(11, [R], 0, V).dataSync() as Int32Array);
      for (let r = 0; r < R; r += 7) tg[r] = -100;
      const count = tg.filter((t) => t !== -100).length;
      const onehot = new Float32Array(R * V);
      tg.forEach((t, r) => t !== -100 && (onehot[r * V + t] = 1));
      const oh = tensor(onehot, { shape: [R, V] });
      const targets = tensor(tg, { shape: [R] });
      const fused = valueAndGrad((l) => mul(crossEntropy(l, targets), 1.7))(logits);
      const comp = valueAndGrad((l) => mul(sum(mul(logSoftmax(l, -1), oh)), -1.7 / count))(logits);
      expectClose([fused.value.item()], [comp.value.item()], { rtol: 1e-5 }, "loss");
      expectClose(f64(fused.grads[0]!), f64(comp.grads[0]!), { rtol: 1e-4, atol: 1e-8 }, "d logits");
      dispose([fused.grads, comp.grads]);
    });
  });
  it("embedding backward scatter-adds repeated ids (many rows, wide table)", () => {
    tidy(() => {
      const V = 50;
      const D = 40;
      const n = 600;
      const ids = randInts(12, [n], 0, V);
      const g = normal(13, [n, D]);
      const { grads } = valueAndGrad((t) => sum(mul(embedding(t, ids), g)))(normal(14, [V, D]));
      const I = ids.dataSync();
      const Gd = f64(g);
      const ref = new Float64Array(V * D);
      const scale = new Float64Array(V * D);
      for (let i = 0; i < n; i++)
        for (let c = 0; c < D; c++) {
          ref[I[i]! * D + c]! += Gd[i * D + c]!;
          scale[I[i]! * D + c]! += Math.abs(Gd[i * D + c]!);
        }
      expectClose(f64(grads[0]!), ref, { rtol: 1e-5, atol: 1e-6, scale }, "d table");
      dispose(grads);
    });
  });
});
