// GPU check of every CUDA kernel of the tensor engine against the CPU kernels, through the raw `native` API with the
// same arguments on both devices: random inputs (seeded), several shapes (broadcasting, strided views, odd sizes, empty
// tensors), float32 compared within float32 tolerance (elementwise 1e-5 relative, reductions / GEMM ~1e-4), int32 and
// raw copies compared exactly. Plus: a leak check (memory() back to its baseline), an out-of-memory check (a JS Error
// naming the op, the process usable afterwards) and index validation on device buffers.
//
// Skips where no CUDA device is usable. SEEKR_OPS_TEST_SELF=1 runs the harness CPU-vs-CPU (the "device" side on the
// cpu too), which checks the test itself on machines without a GPU; the CUDA-only tests stay skipped then.
//
// A failure names the op, the case (shapes, flags), the output, how many elements are off, the worst element (flat
// index and coordinates, both values, absolute and relative error) and the first NaN / infinity mismatch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { native } from "../../index.js";
import { randn, rng } from "./random.mjs";

const SELF = process.env.SEEKR_OPS_TEST_SELF === "1";
const gpu = native.backendInfo().cudaAvailable;
const DEV = SELF ? 0 : 1; // device type of the side under test (0 = cpu, 1 = cuda:0)
const opts = { skip: !gpu && !SELF };
const cudaOnly = { skip: !gpu };
const F32 = 0, I32 = 1, BF16 = 2, F16 = 3;

// ---- data --------------------------------------------------------------------------------------------------------
const uniform = (r, n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
const ints = (r, n, lo, hi) => Int32Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo)));
// Values on a 0.5 grid: many exact ties (comparisons, max, where).
const grid = (r, n) => Float32Array.from({ length: n }, () => Math.round(4 * (r() - 0.5) * 2) / 2);
const sprinkle = (r, a, values, p) => { for (let i = 0; i < a.length; i++) if (r() < p) a[i] = values[Math.floor(r() * values.length)]; return a; };
const size = (shape) => shape.reduce((a, b) => a * b, 1);
const contiguous = (shape) => { const s = new Array(shape.length); let k = 1; for (let d = shape.length - 1; d >= 0; d--) { s[d] = k; k *= shape[d]; } return s; };
const fmt = (x) => JSON.stringify(x);

// ---- running one computation on both devices ----------------------------------------------------------------------
class Pool {
  constructor(dev) { this.dev = dev; this.handles = []; }
  track(h) { this.handles.push(h); return h; }
  alloc(dtype, n) { return this.track(native.alloc(this.dev, 0, dtype, n)); }
  up(data, dtype) {
    const dt = dtype ?? (data instanceof Int32Array ? I32 : data instanceof Uint16Array ? BF16 : F32);
    const h = this.alloc(dt, data.length);
    if (data.length) native.upload(h, data);
    return h;
  }
  f32(data) { return this.up(data instanceof Float32Array ? data : Float32Array.from(data), F32); }
  i32(data) { return this.up(data instanceof Int32Array ? data : Int32Array.from(data), I32); }
  zeros(n) { return this.f32(new Float32Array(n)); }
  get(h) { return native.download(h); }
  dispose() { for (const h of this.handles) native.dispose(h); this.handles = []; }
}
// Runs fn(pool, device) on the cpu and on the device under test; returns { cpu, dev } with fn's results.
function both(fn) {
  const out = {};
  for (const [key, dev] of [["cpu", 0], ["dev", DEV]]) {
    const p = new Pool(dev);
    try { out[key] = fn(p, dev); } finally { p.dispose(); }
  }
  return out;
}

// ---- comparisons ---------------------------------------------------------------------------------------------------
function coords(i, dims) {
  if (!dims || !dims.length) return "";
  const c = [];
  for (let d = dims.length - 1; d >= 0; d--) { c.unshift(dims[d] ? i % dims[d] : 0); i = dims[d] ? Math.floor(i / dims[d]) : 0; }
  return ` [${c.join(", ")}] of [${dims.join(", ")}]`;
}
const show = (v) => (Object.is(v, -0) ? "-0" : String(v));
// got (device) vs want (cpu): |got - want| <= atol + rtol * |want|; NaN must meet NaN, an infinity the same infinity.
function close(t, what, got, want, { rtol = 1e-5, atol = 1e-6, dims } = {}) {
  assert.equal(got.length, want.length, `${what}: ${got.length} elements on the device, ${want.length} on the cpu`);
  let bad = 0, worst = -1, at = -1, special = -1, identical = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Object.is(g, w)) identical++;
    if (Number.isNaN(w) || Number.isNaN(g) || !Number.isFinite(w) || !Number.isFinite(g)) {
      if (!(Number.isNaN(w) && Number.isNaN(g)) && g !== w) { bad++; if (special < 0) special = i; }
      continue;
    }
    const err = Math.abs(g - w), lim = atol + rtol * Math.abs(w);
    if (err > lim) bad++;
    const ratio = lim > 0 ? err / lim : err > 0 ? Infinity : 0;
    if (ratio > worst) { worst = ratio; at = i; }
  }
  const describe = (i) => {
    const e = Math.abs(got[i] - want[i]);
    return `index ${i}${coords(i, dims)}: device ${show(got[i])} vs cpu ${show(want[i])} (abs err ${e.toPrecision(3)}, rel ${(e / Math.max(Math.abs(want[i]), 1e-30)).toPrecision(3)})`;
  };
  if (t && identical < want.length && want.length)
    t.diagnostic(`${what}: ${identical}/${want.length} bit-identical${at >= 0 ? `; worst ${describe(at)}` : ""}`);
  if (bad)
    assert.fail(`${what}: ${bad} of ${want.length} elements off by more than atol ${atol} + rtol ${rtol} * |cpu|` +
      (at >= 0 ? `; worst at ${describe(at)}` : "") +
      (special >= 0 ? `; first NaN/inf mismatch at index ${special}${coords(special, dims)}: device ${show(got[special])} vs cpu ${show(want[special])}` : ""));
}
// Bit-for-bit equality (raw copies, casts, int32 results, random uniforms).
function same(what, got, want, dims) {
  assert.equal(got.length, want.length, `${what}: ${got.length} elements on the device, ${want.length} on the cpu`);
  const bits = (a) => a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
  const g = bits(got), w = bits(want);
  let bad = 0, first = -1;
  for (let i = 0; i < w.length; i++) if (g[i] !== w[i]) { bad++; if (first < 0) first = i; }
  if (bad) assert.fail(`${what}: ${bad} of ${w.length} elements differ; first at index ${first}${coords(first, dims)}: device ${show(got[first])} vs cpu ${show(want[first])}`);
}

// ---- binary ----------------------------------------------------------------------------------------------------------
const BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "gt", "le", "ge", "ne"];
function broadcastShape(a, b) {
  const n = Math.max(a.length, b.length), out = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`bad test case: ${fmt(a)} vs ${fmt(b)}`);
    out.push(x === 1 ? y : x);
  }
  return out;
}
function broadcastStrides(shape, out) {
  const own = contiguous(shape), k = out.length - shape.length;
  return out.map((_, d) => (d < k || shape[d - k] === 1 ? 0 : own[d - k]));
}
const sixteen = Array(16).fill(2);
const BINARY_CASES = [
  { a: [], b: [] }, { a: [1], b: [1] }, { a: [7], b: [7] }, { a: [7], b: [] }, { a: [], b: [7] },
  { a: [3, 5], b: [1, 5] }, { a: [4, 1, 6], b: [5, 1] }, { a: [2, 3, 4, 5], b: [5] }, { a: [2, 1, 4, 1], b: [1, 3, 1, 5] },
  { a: [0, 3], b: [1, 3] }, { a: [1025, 3], b: [1025, 1] }, { a: [66001], b: [66001] }, { a: [33, 1, 129], b: [1, 65, 1] },
  { a: sixteen, b: sixteen.map((d, i) => (i % 2 ? 1 : 2)) }, // 16 dims that cannot be merged
  { a: [5, 3], b: [5, 3], aStrides: [1, 5] }, // a transposed view
  { a: [4, 6], b: [4, 6], aStrides: [12, 2], aNumel: 48, bStrides: [1, 4] }, // every other column; b transposed
];
// Inputs of aN and bN elements for one op: zeros for div, signed bases and integer exponents for pow, a 0.5 grid with
// ties, NaN and infinities for the comparisons and maximum / minimum.
function binaryData(r, op, aN, bN) {
  const name = BINARY[op];
  if (name === "div") return [randn(r, aN), sprinkle(r, randn(r, bN), [0, -0], 0.05)];
  if (name === "pow") return [sprinkle(r, uniform(r, aN, 0.05, 3), [-2, -0.5, 0, 1], 0.1), sprinkle(r, uniform(r, bN, -3, 3), [0, 1, 2, 3, -1], 0.2)];
  if (["maximum", "minimum", "eq", "lt", "gt", "le", "ge", "ne"].includes(name))
    return [sprinkle(r, grid(r, aN), [NaN, Infinity, -Infinity], 0.03), sprinkle(r, grid(r, bN), [NaN, -0], 0.03)];
  return [randn(r, aN), randn(r, bN)];
}
for (let op = 0; op < BINARY.length; op++) {
  test(`binary ${BINARY[op]}: broadcasting, strided views, 16 dims, empty`, opts, (t) => {
    BINARY_CASES.forEach((c, ci) => {
      const out = broadcastShape(c.a, c.b);
      const as = c.aStrides ?? broadcastStrides(c.a, out), bs = c.bStrides ?? broadcastStrides(c.b, out);
      const [da, db] = binaryData(rng(1000 * op + ci + 1), op, c.aNumel ?? size(c.a), size(c.b));
      const res = both((p) => {
        const o = p.zeros(size(out));
        native.binary(op, p.f32(da), as, p.f32(db), bs, o, out);
        return p.get(o);
      });
      close(t, `${BINARY[op]} a${fmt(c.a)}${c.aStrides ? ` strides ${fmt(as)}` : ""} b${fmt(c.b)}${c.bStrides ? ` strides ${fmt(bs)}` : ""} -> ${fmt(out)}`,
        res.dev, res.cpu, { rtol: 1e-5, atol: 1e-6, dims: out });
    });
  });
}

// ---- unary and unaryGrad -----------------------------------------------------------------------------------------
const UNARY = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "silu", "gelu", "relu", "abs", "powScalar",
  "addScalar", "mulScalar", "sin", "cos", "square", "reciprocal", "geluTanh"];
function unaryInputs(r, name, n) {
  if (["log", "sqrt", "rsqrt"].includes(name)) return sprinkle(r, Float32Array.from(randn(r, n), (x) => Math.exp(x)), [0, -1, Infinity], 0.01);
  if (name === "exp") return sprinkle(r, randn(r, n, 3), [100, -200, Infinity, -Infinity], 0.01);
  if (name === "reciprocal") return sprinkle(r, randn(r, n), [0], 0.01);
  return sprinkle(r, randn(r, n, 3), [0, NaN], 0.01);
}
const UNARY_P = { powScalar: [2.5, 3, 0, -1.5], addScalar: [0.37], mulScalar: [-1.75] };
for (let op = 0; op < UNARY.length; op++) {
  const name = UNARY[op];
  test(`unary ${name} and its gradient`, opts, (t) => {
    for (const n of [0, 1, 257, 66001]) {
      for (const p of UNARY_P[name] ?? [0]) {
        const r = rng(op * 100 + n + 7);
        let x = unaryInputs(r, name, n);
        if (name === "powScalar" && !Number.isInteger(p)) x = Float32Array.from(x, Math.abs);
        const g = randn(r, n);
        const res = both((pl) => {
          const hx = pl.f32(x), o = pl.zeros(n), gx = pl.zeros(n);
          native.unary(op, hx, o, p);
          native.unaryGrad(op, hx, pl.f32(g), gx, p);
          return { y: pl.get(o), gx: pl.get(gx) };
        });
        close(t, `${name}(p=${p}) n=${n}`, res.dev.y, res.cpu.y, { rtol: 1e-5, atol: 1e-6 });
        close(t, `${name}'(p=${p}) n=${n} (unaryGrad)`, res.dev.gx, res.cpu.gx, { rtol: 1e-5, atol: 1e-6 });
      }
    }
  });
}

// ---- where ------------------------------------------------------------------------------------------------------------
test("where: broadcasting condition and operands", opts, (t) => {
  const cases = [{ c: [], a: [], b: [] }, { c: [5, 1], a: [1, 7], b: [5, 7] }, { c: [3, 4, 5], a: [5], b: [] },
    { c: [0, 4], a: [1, 4], b: [4] }, { c: [70000], a: [70000], b: [1] }, { c: [2, 3, 4], a: [2, 3, 4], b: [2, 3, 4] }];
  cases.forEach((k, ki) => {
    const out = broadcastShape(broadcastShape(k.c, k.a), k.b);
    const r = rng(500 + ki);
    const cond = sprinkle(r, grid(r, size(k.c)), [NaN, -0], 0.05), a = randn(r, size(k.a)), b = randn(r, size(k.b));
    const res = both((p) => {
      const o = p.zeros(size(out));
      native.where(p.f32(cond), broadcastStrides(k.c, out), p.f32(a), broadcastStrides(k.a, out), p.f32(b), broadcastStrides(k.b, out), o, out);
      return p.get(o);
    });
    same(`where cond${fmt(k.c)} a${fmt(k.a)} b${fmt(k.b)} -> ${fmt(out)}`, res.dev, res.cpu, out);
  });
});

// ---- fill, cast ---------------------------------------------------------------------------------------------------------
test("fill: float32 and int32 values, empty and large buffers", opts, () => {
  for (const n of [0, 1, 70001]) {
    for (const v of [1.5, -0, NaN, Infinity, 1e39, -3.25]) {
      const res = both((p) => { const h = p.alloc(F32, n); native.fill(h, v); return p.get(h); });
      same(`fill float32 n=${n} value ${v}`, res.dev, res.cpu);
    }
    for (const v of [7, -3, 0, 2147483647, -2147483648]) {
      const res = both((p) => { const h = p.alloc(I32, n); native.fill(h, v); return p.get(h); });
      same(`fill int32 n=${n} value ${v}`, res.dev, res.cpu);
    }
    // Not an int32 value: an Error on either device (the check is on the host), nothing written.
    for (const v of [2.9, -2.9, 2147483648, NaN]) {
      both((p) => {
        const h = p.alloc(I32, n);
        assert.throws(() => native.fill(h, v), /int32 fill value must be an integer in the int32 range/, `fill int32 value ${v}`);
      });
    }
  }
});

test("cast: float32 <-> int32 (truncation, NaN -> 0, saturation), same-dtype copies", opts, () => {
  const specials = [NaN, Infinity, -Infinity, 1e30, -1e30, 2.9, -2.9, 0.5, -0.5, -0, 2147483520, 2147483648, -2147483648, -2147483904, 16777217];
  const r = rng(99);
  const f = Float32Array.from([...specials, ...randn(r, 1000, 1e6)]);
  const i = Int32Array.from([0, 1, -1, 16777217, 16777219, 2147483647, -2147483648, ...ints(r, 1000, -(2 ** 31), 2 ** 31 - 1)]);
  const res = both((p) => {
    const toI = p.alloc(I32, f.length), toF = p.alloc(F32, i.length), ff = p.alloc(F32, f.length), ii = p.alloc(I32, i.length);
    native.cast(toI, p.f32(f));
    native.cast(toF, p.i32(i));
    native.cast(ff, p.f32(f));
    native.cast(ii, p.i32(i));
    const bf = p.up(Uint16Array.from({ length: 33 }, (_, k) => k * 1999), BF16), bf2 = p.alloc(BF16, 33);
    native.cast(bf2, bf);
    const e1 = p.alloc(F32, 0), e2 = p.alloc(I32, 0);
    native.cast(e1, e2);
    return { toI: p.get(toI), toF: p.get(toF), ff: p.get(ff), ii: p.get(ii), bf: p.get(bf2) };
  });
  same("cast float32 -> int32", res.dev.toI, res.cpu.toI);
  same("cast int32 -> float32", res.dev.toF, res.cpu.toF);
  same("cast float32 -> float32", res.dev.ff, res.cpu.ff);
  same("cast int32 -> int32", res.dev.ii, res.cpu.ii);
  same("cast bfloat16 -> bfloat16", res.dev.bf, res.cpu.bf);
});

// ---- random ---------------------------------------------------------------------------------------------------------
test("randomUniform: bit-identical to the cpu generator", opts, () => {
  for (const [n, seed, offset, lo, hi] of [[0, 1, 0, 0, 1], [1, 0, 0, 0, 1], [1000, 42, 7, -2, 3], [100003, 2 ** 40 + 3, 123456789, 0, 1], [4097, -5, 2 ** 33, -0.1, 0.1]]) {
    const res = both((p) => { const h = p.alloc(F32, n); native.randomUniform(h, seed, offset, lo, hi); return p.get(h); });
    same(`randomUniform n=${n} seed=${seed} offset=${offset} [${lo}, ${hi})`, res.dev, res.cpu);
  }
});

test("randomNormal: the cpu's Box-Muller in double (1e-6)", opts, (t) => {
  for (const [n, seed, offset, mean, std] of [[0, 1, 0, 0, 1], [1, 0, 0, 0, 1], [1000, 42, 7, 0.5, 2], [100003, 2 ** 40 + 3, 123456789, 0, 0.02], [4097, -5, 2 ** 33, -1, 1]]) {
    const res = both((p) => { const h = p.alloc(F32, n); native.randomNormal(h, seed, offset, mean, std); return p.get(h); });
    close(t, `randomNormal n=${n} seed=${seed} offset=${offset} mean=${mean} std=${std}`, res.dev, res.cpu, { rtol: 1e-6, atol: 1e-6 * std });
  }
});

// ---- reductions -----------------------------------------------------------------------------------------------------
const REDUCE_CASES = [[1, 1, 1], [3, 0, 4], [0, 5, 3], [7, 13, 1], [1000, 3, 1], [2, 5000, 1], [3, 20000, 1], [1, 100003, 1],
  [4, 33, 17], [1, 70000, 8], [2, 3, 40000], [5, 1, 9], [1, 200, 300]];
test("reduceSum over [outer, mid, inner]", opts, (t) => {
  for (const [outer, mid, inner] of REDUCE_CASES) {
    for (const scale of [1, 0.5]) {
      const r = rng(outer * 7 + mid * 3 + inner);
      const x = randn(r, outer * mid * inner);
      const res = both((p) => { const o = p.zeros(outer * inner); native.reduceSum(p.f32(x), o, outer, mid, inner, scale); return p.get(o); });
      close(t, `sum outer=${outer} mid=${mid} inner=${inner} scale=${scale}`, res.dev, res.cpu, { rtol: 1e-5, atol: 1e-6, dims: [outer, inner] });
    }
  }
});

test("reduceMax (+ indices: first max, NaN wins) and maxBackward", opts, (t) => {
  const cases = [...REDUCE_CASES.filter(([, m]) => m > 0), [6, 40, 1], [3, 31, 1], [2, 1000, 1]];
  cases.forEach(([outer, mid, inner], ci) => {
    const r = rng(300 + ci);
    const x = grid(r, outer * mid * inner);
    if (ci % 3 === 0) sprinkle(r, x, [NaN], 0.002);
    if (ci % 4 === 1) sprinkle(r, x, [-Infinity, Infinity, -0], 0.01);
    if (ci === 2 && x.length) x.fill(-Infinity);
    const res = both((p) => {
      const v = p.zeros(outer * inner), i = p.alloc(I32, outer * inner);
      native.reduceMax(p.f32(x), v, i, outer, mid, inner);
      return { v: p.get(v), i: p.get(i) };
    });
    const what = `max outer=${outer} mid=${mid} inner=${inner}`;
    close(t, `${what} values`, res.dev.v, res.cpu.v, { rtol: 0, atol: 0, dims: [outer, inner] });
    same(`${what} indices`, res.dev.i, res.cpu.i, [outer, inner]);
    const gy = randn(r, outer * inner);
    const back = both((p) => {
      const gx = p.f32(randn(rng(1), outer * mid * inner)); // garbage: maxBackward overwrites every element
      native.maxBackward(p.f32(gy), p.i32(res.cpu.i), gx, outer, mid, inner);
      return p.get(gx);
    });
    same(`maxBackward outer=${outer} mid=${mid} inner=${inner}`, back.dev, back.cpu, [outer, mid, inner]);
  });
});

const SOFTMAX_CASES = [[1, 1], [5, 7], [64, 1000], [33, 1024], [9, 1025], [3, 5000], [2, 3], [0, 5], [1, 70000], [700, 33]];
test("softmax / logSoftmax and their backward", opts, (t) => {
  SOFTMAX_CASES.forEach(([rows, cols], ci) => {
    for (const log of [false, true]) {
      const r = rng(700 + ci);
      const x = randn(r, rows * cols, 3);
      if (ci === 6) { x.fill(-Infinity); x[4] = 0.5; } // [2, 3]: a fully masked row (NaN on both) and a one-hot row
      if (ci === 2) sprinkle(r, x, [-Infinity], 0.1);
      const gy = randn(r, rows * cols);
      const res = both((p) => {
        const y = p.zeros(rows * cols), gx = p.zeros(rows * cols);
        native.softmax(p.f32(x), y, rows, cols, log);
        native.softmaxBackward(y, p.f32(gy), gx, rows, cols, log);
        return { y: p.get(y), gx: p.get(gx) };
      });
      const what = `${log ? "logSoftmax" : "softmax"} rows=${rows} cols=${cols}`;
      close(t, what, res.dev.y, res.cpu.y, { rtol: 1e-4, atol: 1e-6, dims: [rows, cols] });
      close(t, `${what} backward`, res.dev.gx, res.cpu.gx, { rtol: 1e-4, atol: 1e-5, dims: [rows, cols] });
    }
  });
});

test("sumSquares: double result, deterministic", opts, (t) => {
  for (const n of [0, 1, 1000, 1025, (1 << 20) + 3]) {
    const r = rng(n + 5);
    const x = randn(r, n, 2);
    const res = both((p) => { const h = p.f32(x); return [native.sumSquares(h), native.sumSquares(h)]; });
    assert.equal(res.dev[0], res.dev[1], `sumSquares n=${n}: two runs on the device differ (${res.dev[0]} vs ${res.dev[1]})`);
    close(t, `sumSquares n=${n}`, [res.dev[0]], [res.cpu[0]], { rtol: 1e-9, atol: 0 });
  }
});

// ---- data movement ----------------------------------------------------------------------------------------------------
test("stridedCopy: permutes, slices with offsets, expands, negative strides, 4- and 2-byte dtypes", opts, () => {
  // [srcNumel, srcOffset, srcStrides, dstNumel, dstOffset, dstStrides, shape]
  const cases = [
    [1, 0, [], 1, 0, [], []],
    [12, 0, [1, 3], 12, 0, [4, 1], [3, 4]], // transpose
    [2 * 3 * 4 * 5, 0, [1, 2, 6, 24], 120, 0, contiguous([2, 3, 4, 5]), [2, 3, 4, 5]], // reversed axes
    [100, 13, [10, 2], 40, 5, [7, 1], [4, 5]], // slices at offsets into larger buffers
    [5, 0, [0, 1], 35, 0, [5, 1], [7, 5]], // expand
    [30, 29, [-6, -1], 30, 0, [6, 1], [5, 6]], // reversed (negative strides)
    [0, 0, [1, 3], 0, 0, [2, 1], [0, 2]], // empty
    [70000 * 3, 1, [3], 70000, 0, [1], [70000]],
    [2 ** 17, 0, contiguous(Array(17).fill(2)), 2 ** 17, 0, contiguous(Array(17).fill(2)).reverse(), Array(17).fill(2)], // 17 axes reversed
  ];
  for (const dtype of [F32, I32, BF16, F16]) {
    cases.forEach(([sn, so, ss, dn, d0, ds, shape], ci) => {
      const r = rng(40 + ci);
      const src = dtype === F32 ? randn(r, sn) : dtype === I32 ? ints(r, sn, -1e9, 1e9) : Uint16Array.from({ length: sn }, () => Math.floor(r() * 65536));
      const dst0 = dtype === F32 ? randn(r, dn) : dtype === I32 ? ints(r, dn, -1e9, 1e9) : Uint16Array.from({ length: dn }, () => Math.floor(r() * 65536));
      if (shape.length === 17) {
        // A permutation of 17 axes of size 2 cannot be merged: more than the 16 dims the CUDA kernels take.
        if (DEV === 1) {
          const p = new Pool(1);
          try {
            assert.throws(() => native.stridedCopy(p.up(src, dtype), so, ss, p.up(dst0, dtype), d0, ds, shape),
              (e) => e instanceof Error && /seekr\.stridedCopy: .*at most 16 dimensions/.test(e.message), "17 unmergeable dims must be a clear error");
          } finally { p.dispose(); }
        }
        return;
      }
      const res = both((p) => { const d = p.up(dst0, dtype); native.stridedCopy(p.up(src, dtype), so, ss, d, d0, ds, shape); return p.get(d); });
      same(`stridedCopy dtype ${dtype} shape ${fmt(shape)} src(offset ${so}, strides ${fmt(ss)}) dst(offset ${d0}, strides ${fmt(ds)})`, res.dev, res.cpu);
    });
  }
});

test("gatherRows (float32 and int32 tables) and scatterAddRows", opts, (t) => {
  for (const [rows, cols, n] of [[1, 1, 1], [10, 7, 25], [1000, 64, 4096], [5, 3, 0], [50000, 1, 100]]) {
    const r = rng(rows + cols + n);
    const ids = ints(r, n, 0, rows);
    const table = randn(r, rows * cols), itable = ints(r, rows * cols, -1e6, 1e6), src = randn(r, n * cols), base = randn(r, rows * cols);
    const res = both((p) => {
      const hid = p.i32(ids), o = p.zeros(n * cols), oi = p.alloc(I32, n * cols), acc = p.f32(base);
      native.gatherRows(p.f32(table), hid, o, cols);
      native.gatherRows(p.i32(itable), hid, oi, cols);
      native.scatterAddRows(p.f32(src), hid, acc, cols);
      return { o: p.get(o), oi: p.get(oi), acc: p.get(acc) };
    });
    const what = `rows=${rows} cols=${cols} ids=${n}`;
    same(`gatherRows float32 ${what}`, res.dev.o, res.cpu.o, [n, cols]);
    same(`gatherRows int32 ${what}`, res.dev.oi, res.cpu.oi, [n, cols]);
    close(t, `scatterAddRows ${what}`, res.dev.acc, res.cpu.acc, { rtol: 1e-5, atol: 1e-5, dims: [rows, cols] });
  }
});

test("gather / scatterAdd / maxBackward / crossEntropy validate device indices on a host copy", cudaOnly, () => {
  const p = new Pool(1);
  try {
    const table = p.zeros(8), ids = p.i32([1, 4]), out = p.zeros(4);
    assert.throws(() => native.gatherRows(table, ids, out, 2), /seekr\.gatherRows: index 4 at position 1 is out of range \[0, 4\)/);
    assert.throws(() => native.scatterAddRows(out, ids, table, 2), /seekr\.scatterAddRows: index 4 at position 1 is out of range \[0, 4\)/);
    assert.throws(() => native.maxBackward(p.zeros(2), p.i32([0, 3]), p.zeros(6), 1, 3, 2), /seekr\.maxBackward: index 3 out of range \[0, 3\)/);
    assert.throws(() => native.crossEntropy(p.zeros(6), p.i32([0, 9]), p.zeros(1), p.zeros(2), 2, 3, -100),
      /seekr\.crossEntropy: target 9 at row 1 is out of range \[0, 3\)/);
    const host = new Pool(0);
    try {
      assert.throws(() => native.binary(0, p.zeros(2), [1], host.zeros(2), [1], p.zeros(2), [2]), /seekr\.binary: tensors are on different devices/);
    } finally { host.dispose(); }
  } finally { p.dispose(); }
});

// ---- GEMM -----------------------------------------------------------------------------------------------------------------
// [batch, M, N, K, transA, transB, broadcastA, broadcastB, alpha, beta]
const GEMM_CASES = [
  [1, 1, 1, 1, false, false, false, false, 1, 0], [1, 64, 64, 64, false, false, false, false, 1, 0],
  [1, 65, 63, 17, false, false, false, false, 1, 0], [3, 33, 47, 129, true, false, false, false, 1, 0],
  [3, 33, 47, 129, false, true, false, false, 1, 0], [2, 70, 130, 31, true, true, false, false, 1, 0],
  [4, 128, 96, 257, false, false, true, false, 1, 0], [5, 17, 9, 40, false, true, false, true, 1, 0],
  [2, 31, 29, 50, false, false, false, false, 2, 1], [2, 31, 29, 50, true, false, false, false, -0.5, 0.25],
  [2, 5, 7, 0, false, false, false, false, 1, 0.5], [2, 5, 7, 0, false, false, false, false, 1, 0],
  [1, 1000, 3, 500, false, false, false, false, 1, 0], [1, 3, 1000, 500, false, true, false, false, 1, 0],
  [1, 1, 300, 1000, false, false, false, false, 1, 0], [70000, 1, 2, 3, false, false, false, false, 1, 0],
  [1, 4194400, 1, 2, false, false, false, false, 1, 0], [0, 4, 4, 4, false, false, false, false, 1, 0],
  [1, 256, 384, 512, false, true, false, false, 1, 0],
];
test("matmul: batched, strided / broadcast batches, transposes, alpha / beta, K = 0, large grids", opts, (t) => {
  GEMM_CASES.forEach(([batch, M, N, K, ta, tb, bA, bB, alpha, beta], ci) => {
    const r = rng(900 + ci);
    const nA = (bA ? 1 : Math.max(batch, 1)) * M * K, nB = (bB ? 1 : Math.max(batch, 1)) * K * N;
    const A = randn(r, nA), B = randn(r, nB);
    const C0 = beta === 0 ? new Float32Array(batch * M * N).fill(NaN) : randn(r, batch * M * N); // beta 0 must ignore C
    const res = both((p) => {
      const c = p.f32(C0);
      native.matmul(p.f32(A), p.f32(B), c, batch, M, N, K, ta, tb, bA ? 0 : M * K, bB ? 0 : K * N, alpha, beta, 0);
      return p.get(c);
    });
    let ss = 0;
    for (const v of res.cpu) ss += Number.isFinite(v) ? v * v : 0;
    const rms = Math.sqrt(ss / Math.max(1, res.cpu.length));
    close(t, `matmul batch=${batch} M=${M} N=${N} K=${K} transA=${ta} transB=${tb} strideA=${bA ? 0 : M * K} strideB=${bB ? 0 : K * N} alpha=${alpha} beta=${beta}`,
      res.dev, res.cpu, { rtol: 1e-4, atol: 1e-4 * Math.max(rms, 1e-3), dims: [batch, M, N] });
  });
});

// ---- fused nn kernels -------------------------------------------------------------------------------------------------------
test("crossEntropy (+ kept-row count, ignore index) and its backward", opts, (t) => {
  // [6, 1029]: rows of a block each (cols > 1024) that start off 16-byte alignment (the chunked loops' heads and tails).
  const cases = [[1, 1, 0], [5, 7, 0.3], [37, 1000, 0.1], [3, 32000, 0.34], [4, 9, 1], [0, 5, 0], [300, 2000, 0], [6, 1029, 0.2]];
  cases.forEach(([rows, cols, pIgnore], ci) => {
    const r = rng(1200 + ci);
    const x = randn(r, rows * cols, 2);
    const tg = Int32Array.from({ length: rows }, () => (r() < pIgnore ? -100 : Math.floor(r() * cols)));
    const res = both((p) => {
      const hx = p.f32(x), ht = p.i32(tg), loss = p.zeros(1), lse = p.zeros(rows), gx = p.zeros(rows * cols);
      const count = native.crossEntropy(hx, ht, loss, lse, rows, cols, -100);
      native.crossEntropyBackward(hx, ht, lse, p.f32([1.3]), gx, rows, cols, -100, count);
      return { count, loss: p.get(loss), lse: p.get(lse), gx: p.get(gx) };
    });
    const what = `crossEntropy rows=${rows} cols=${cols} ignored=${tg.filter((v) => v === -100).length}`;
    assert.equal(res.dev.count, res.cpu.count, `${what}: kept-row count ${res.dev.count} on the device, ${res.cpu.count} on the cpu`);
    close(t, `${what} loss`, res.dev.loss, res.cpu.loss, { rtol: 1e-5, atol: 1e-6 });
    close(t, `${what} lse`, res.dev.lse, res.cpu.lse, { rtol: 1e-5, atol: 1e-6, dims: [rows] });
    close(t, `${what} backward`, res.dev.gx, res.cpu.gx, { rtol: 1e-5, atol: 1e-7, dims: [rows, cols] });
  });
});

// The device sums e^(x - max) per thread against a running maximum (float32 exponentials): special values must still
// give the cpu's results: NaN for a row whose maximum is -inf, that holds NaN or +inf; -inf entries otherwise add 0.
test("crossEntropy with -inf / +inf / NaN logits", opts, (t) => {
  for (const cols of [7, 40, 2000]) {
    const rows = 6, r = rng(1250 + cols);
    const x = randn(r, rows * cols, 2);
    for (let c = 0; c < cols; c++) x[c] = -Infinity; // row 0: all -inf
    for (let c = 0; c < cols; c += 2) x[cols + c] = -Infinity; // row 1: every other -inf
    x[2 * cols + (cols >> 1)] = Infinity; // row 2: one +inf
    x[3 * cols + cols - 1] = NaN; // row 3: one NaN
    for (let c = 0; c < cols - 1; c++) x[4 * cols + c] = -Infinity; // row 4: one finite value, last
    const tg = Int32Array.from({ length: rows }, (_, i) => (i === 5 ? -100 : 1));
    const res = both((p) => {
      const hx = p.f32(x), ht = p.i32(tg), loss = p.zeros(1), lse = p.zeros(rows);
      native.crossEntropy(hx, ht, loss, lse, rows, cols, -100);
      return { loss: p.get(loss), lse: p.get(lse) };
    });
    close(t, `crossEntropy specials cols=${cols} lse`, res.dev.lse, res.cpu.lse, { rtol: 1e-5, atol: 1e-6, dims: [rows] });
    close(t, `crossEntropy specials cols=${cols} loss`, res.dev.loss, res.cpu.loss);
  }
});

// The weight gradient gw[c] = sum_r gy[r, c] x[r, c] rstd[r] is summed in a fixed order on both sides but not the same
// one: the cpu adds 64-row blocks then the blocks in order (float32 chains of 64 and ceil(rows / 64) terms); the
// device's fast kernel (16-byte aligned, cols % 4 == 0, cols <= 1024) adds a warp's rows per lane, 8 warps, then the
// blocks in double. Recursive float32 summation of n terms errs by at most (n - 1) 2^-24 sum|terms| (the terms
// themselves are the same products on both sides), so the two differ by at most (n_cpu + n_dev) 2^-24 sum_r |term|
// per column, with n_cpu = 64 + ceil(rows / 64) and n_dev = ceil(rows / 2048) + 10 (a lane's chain over at most
// ceil(rows / 256) / 8 rows, 8 warps, the double rest); the old kernels (other shapes) still match the cpu bit for bit.
function closeGw(what, got, want, x, gy, rstd, rows, cols) {
  const n = 64 + Math.ceil(rows / 64) + Math.ceil(rows / 2048) + 10;
  let bad = 0, first = -1;
  for (let c = 0; c < cols; c++) {
    let mag = 0;
    for (let r = 0; r < rows; r++) mag += Math.abs(gy[r * cols + c] * x[r * cols + c] * rstd[r]);
    if (!(Math.abs(got[c] - want[c]) <= n * 2 ** -24 * mag)) { bad++; if (first < 0) first = c; }
  }
  if (bad) assert.fail(`${what}: ${bad} of ${cols} columns off by more than ${n} * 2^-24 * sum|gy x rstd|; first at ${first}: device ${got[first]} vs cpu ${want[first]}`);
}

test("rmsNorm and its backward (deterministic weight gradient; accumulate into gx)", opts, (t) => {
  // [130, 100], [64, 768], [4100, 520]: the device's fused backward (1, 8 and 17 rows per block); the others the
  // generic kernels (cols % 4 != 0, cols > 1024, empty).
  const cases = [[1, 1, 1e-5], [3, 7, 1e-6], [64, 768, 1e-5], [130, 100, 1e-5], [5, 5000, 1e-6], [0, 8, 1e-5], [1000, 33, 1e-5], [4100, 520, 1e-5]];
  cases.forEach(([rows, cols, eps], ci) => {
    const r = rng(1300 + ci);
    const x = randn(r, rows * cols), w = randn(r, cols), gy = randn(r, rows * cols);
    const fwd = both((p) => {
      const y = p.zeros(rows * cols), rs = p.zeros(rows);
      native.rmsNorm(p.f32(x), p.f32(w), y, rs, rows, cols, eps);
      return { y: p.get(y), rstd: p.get(rs) };
    });
    const what = `rmsNorm rows=${rows} cols=${cols} eps=${eps}`;
    close(t, `${what} y`, fwd.dev.y, fwd.cpu.y, { rtol: 1e-4, atol: 1e-6, dims: [rows, cols] });
    close(t, `${what} rstd`, fwd.dev.rstd, fwd.cpu.rstd, { rtol: 1e-5, atol: 0, dims: [rows] });
    // Backward from the same rstd on both sides (the cpu's), so gw's summation order is compared alone.
    const base = randn(rng(4), rows * cols);
    const back = both((p) => {
      const gx = p.zeros(rows * cols), gw = p.f32(randn(rng(3), cols)); // garbage: overwritten
      native.rmsNormBackward(p.f32(x), p.f32(w), p.f32(fwd.cpu.rstd), p.f32(gy), gx, gw, rows, cols);
      const gw2 = p.zeros(cols);
      native.rmsNormBackward(p.f32(x), p.f32(w), p.f32(fwd.cpu.rstd), p.f32(gy), p.zeros(rows * cols), gw2, rows, cols, false);
      const gxa = p.f32(base), gw3 = p.f32(randn(rng(5), cols));
      native.rmsNormBackward(p.f32(x), p.f32(w), p.f32(fwd.cpu.rstd), p.f32(gy), gxa, gw3, rows, cols, true);
      return { gx: p.get(gx), gw: p.get(gw), gw2: p.get(gw2), gxa: p.get(gxa), gw3: p.get(gw3) };
    });
    close(t, `${what} backward gx`, back.dev.gx, back.cpu.gx, { rtol: 1e-4, atol: 1e-5, dims: [rows, cols] });
    closeGw(`${what} backward gw`, back.dev.gw, back.cpu.gw, x, gy, fwd.cpu.rstd, rows, cols);
    same(`${what} backward gw run twice on the device`, back.dev.gw2, back.dev.gw, [cols]);
    close(t, `${what} backward accumulate gx`, back.dev.gxa, back.cpu.gxa, { rtol: 1e-4, atol: 1e-5, dims: [rows, cols] });
    same(`${what} backward accumulate gw (the same as without)`, back.dev.gw3, back.dev.gw, [cols]);
  });
});

test("rope and its inverse (sign -1)", opts, (t) => {
  const cases = [[1, 1, 2, 10000], [7, 3, 8, 10000], [50, 4, 64, 10000], [33, 2, 128, 500000], [0, 2, 4, 10000], [300, 1, 6, 10000]];
  cases.forEach(([rows, heads, dim, theta], ci) => {
    const r = rng(1400 + ci);
    const x = randn(r, rows * heads * dim), pos = ints(r, rows, 0, ci === 3 ? 100000 : 4096);
    for (const sign of [1, -1]) {
      const res = both((p) => {
        const o = p.zeros(rows * heads * dim);
        native.rope(p.f32(x), p.i32(pos), o, rows, heads, dim, theta, sign);
        return p.get(o);
      });
      close(t, `rope rows=${rows} heads=${heads} dim=${dim} theta=${theta} sign=${sign}`, res.dev, res.cpu, { rtol: 1e-5, atol: 1e-6, dims: [rows, heads, dim] });
    }
  });
});

// Without positions (row r at offset + r % period): the device's cached cos / sin table, read in 16-byte chunks when
// half % 4 == 0 (dim 64, 8), else one pair per thread (dim 6, 12); also in place (out = x).
test("rope without positions (cached table; 16-byte chunks), in place too", opts, (t) => {
  const cases = [[16, 3, 64, 8, 3], [12, 2, 8, 4, 0], [9, 2, 6, 3, 5], [10, 1, 12, 5, 1], [2048, 2, 64, 1024, 0]];
  cases.forEach(([rows, heads, dim, period, offset], ci) => {
    const r = rng(1450 + ci);
    const x = randn(r, rows * heads * dim);
    for (const sign of [1, -1]) {
      const res = both((p) => {
        const o = p.zeros(rows * heads * dim);
        native.rope(p.f32(x), null, o, rows, heads, dim, 10000, sign, period, offset);
        const io = p.f32(x);
        native.rope(io, null, io, rows, heads, dim, 10000, sign, period, offset);
        return { out: p.get(o), inPlace: p.get(io) };
      });
      const what = `rope rows=${rows} heads=${heads} dim=${dim} period=${period} offset=${offset} sign=${sign}`;
      close(t, what, res.dev.out, res.cpu.out, { rtol: 1e-5, atol: 1e-6, dims: [rows, heads, dim] });
      same(`${what} in place`, res.dev.inPlace, res.dev.out, [rows, heads, dim]);
    }
  });
});

// ---- optimizers -----------------------------------------------------------------------------------------------------------
test("adamw, sgd, scaleInPlace, axpyInPlace", opts, (t) => {
  for (const n of [0, 1, 1000, 100003]) {
    const r = rng(n + 17);
    const p0 = randn(r, n), g = randn(r, n), m0 = randn(r, n, 0.1), v0 = Float32Array.from(randn(r, n, 0.1), (x) => x * x);
    for (const [lr, b1, b2, eps, wd, step] of [[1e-3, 0.9, 0.999, 1e-8, 0.01, 1], [3e-4, 0.8, 0.95, 1e-6, 0, 10], [0.1, 0.9, 0.999, 1e-8, 0.1, 1000]]) {
      const res = both((p) => {
        const hp = p.f32(p0), hm = p.f32(m0), hv = p.f32(v0), hg = p.f32(g);
        native.adamw(hp, hg, hm, hv, lr, b1, b2, eps, wd, step);
        native.adamw(hp, hg, hm, hv, lr, b1, b2, eps, wd, step + 1);
        return { p: p.get(hp), m: p.get(hm), v: p.get(hv) };
      });
      const what = `adamw n=${n} lr=${lr} betas=${b1},${b2} eps=${eps} wd=${wd} step=${step}`;
      for (const k of ["p", "m", "v"]) close(t, `${what} ${k}`, res.dev[k], res.cpu[k], { rtol: 1e-5, atol: 1e-7 });
    }
    for (const [lr, mom, damp, wd, nesterov, first] of [[0.1, 0, 0, 0, false, false], [0.01, 0.9, 0.1, 1e-4, false, true], [0.01, 0.9, 0, 0.01, true, false]]) {
      const res = both((p) => {
        const hp = p.f32(p0), hb = p.f32(m0);
        native.sgd(hp, p.f32(g), hb, lr, mom, damp, wd, nesterov, first);
        return { p: p.get(hp), b: p.get(hb) };
      });
      const what = `sgd n=${n} lr=${lr} momentum=${mom} dampening=${damp} wd=${wd} nesterov=${nesterov} first=${first}`;
      close(t, `${what} param`, res.dev.p, res.cpu.p, { rtol: 1e-5, atol: 1e-7 });
      close(t, `${what} buffer`, res.dev.b, res.cpu.b, { rtol: 1e-5, atol: 1e-7 });
    }
    const res = both((p) => {
      const a = p.f32(p0), b = p.f32(m0);
      native.scaleInPlace(a, -0.37);
      native.axpyInPlace(b, p.f32(g), 1.7);
      return { a: p.get(a), b: p.get(b) };
    });
    close(t, `scaleInPlace n=${n}`, res.dev.a, res.cpu.a, { rtol: 1e-6, atol: 0 });
    close(t, `axpyInPlace n=${n}`, res.dev.b, res.cpu.b, { rtol: 1e-5, atol: 1e-7 });
  }
});

// ---- memory ---------------------------------------------------------------------------------------------------------------
function deviceMemory(name) {
  const e = native.memory().find((m) => m.device === name);
  return e ? { bytes: e.bytes, buffers: e.buffers } : { bytes: 0, buffers: 0 };
}
// One small call of every op on cuda:0, all buffers disposed.
function everyOpOnce() {
  const p = new Pool(1);
  try {
    const r = rng(5);
    const x = p.f32(randn(r, 24)), y = p.f32(randn(r, 24)), o = p.zeros(24), i = p.alloc(I32, 24);
    native.binary(0, x, [6, 1], y, [0, 1], o, [4, 6]);
    native.unary(1, x, o, 0);
    native.unaryGrad(8, x, y, o, 0);
    native.where(x, [1], y, [1], o, [1], p.zeros(24), [24]);
    native.fill(o, 2);
    native.cast(i, x);
    native.cast(o, i);
    native.randomUniform(o, 1, 0, 0, 1);
    native.randomNormal(o, 1, 0, 0, 1);
    native.reduceSum(x, p.zeros(4), 4, 6, 1, 1);
    native.reduceSum(p.f32(randn(r, 3 * 70000)), p.zeros(3), 3, 70000, 1, 1); // chunked path: scratch buffers
    native.reduceSum(p.f32(randn(r, 70000 * 2)), p.zeros(2), 1, 70000, 2, 1);
    const mi = p.alloc(I32, 4);
    native.reduceMax(x, p.zeros(4), mi, 4, 6, 1);
    native.maxBackward(p.zeros(4), mi, o, 4, 6, 1);
    native.softmax(x, o, 4, 6, true);
    native.softmaxBackward(o, y, p.zeros(24), 4, 6, true);
    native.sumSquares(x);
    native.stridedCopy(x, 0, [1, 4], o, 0, [6, 1], [4, 6]);
    const ids = p.i32([0, 3, 3]);
    native.gatherRows(x, ids, p.zeros(18), 6);
    native.scatterAddRows(p.zeros(18), ids, o, 6);
    native.matmul(x, y, p.zeros(16), 1, 4, 4, 6, false, true, 0, 0, 1, 0, 0);
    const lse = p.zeros(4), t = p.i32([0, 5, -100, 2]);
    const count = native.crossEntropy(x, t, p.zeros(1), lse, 4, 6, -100);
    native.crossEntropyBackward(x, t, lse, p.f32([1]), p.zeros(24), 4, 6, -100, count);
    const rs = p.zeros(4), w = p.f32(randn(r, 6));
    native.rmsNorm(x, w, p.zeros(24), rs, 4, 6, 1e-5);
    native.rmsNormBackward(x, w, rs, y, p.zeros(24), p.zeros(6), 4, 6);
    native.rope(x, p.i32([0, 1, 2, 3]), p.zeros(24), 4, 1, 6, 10000, 1);
    native.adamw(p.f32(randn(r, 24)), y, p.zeros(24), p.zeros(24), 1e-3, 0.9, 0.999, 1e-8, 0.01, 1);
    native.sgd(p.f32(randn(r, 24)), y, p.zeros(24), 0.1, 0.9, 0, 0, false, true);
    native.scaleInPlace(o, 0.5);
    native.axpyInPlace(o, y, 2);
    native.synchronize(1, 0);
  } finally {
    p.dispose();
  }
}

test("no device memory leaks: memory() returns to its baseline after every op, cache reuse and release", cudaOnly, () => {
  native.synchronize(1, 0);
  const cpu0 = deviceMemory("cpu"), dev0 = deviceMemory("cuda:0");
  for (let k = 0; k < 3; k++) everyOpOnce();
  native.releaseCache(); // returns cached device blocks to the driver; the next ops allocate afresh
  everyOpOnce();
  const cpu1 = deviceMemory("cpu"), dev1 = deviceMemory("cuda:0");
  assert.deepEqual(dev1, dev0, `cuda:0 live memory ${fmt(dev1)} after the ops, ${fmt(dev0)} before`);
  assert.deepEqual(cpu1, cpu0, `cpu live memory ${fmt(cpu1)} after the ops, ${fmt(cpu0)} before`);
});

test("out of device memory is a JS Error naming the op; the process stays usable", cudaOnly, () => {
  const before = deviceMemory("cuda:0");
  assert.throws(() => native.alloc(1, 0, F32, 2 ** 40),
    (e) => e instanceof Error && /^seekr\.alloc: out of memory on cuda:0 allocating 4398046511104 bytes/.test(e.message),
    "allocating 2^40 floats on cuda:0 must throw seekr.alloc: out of memory on cuda:0 ...");
  assert.deepEqual(deviceMemory("cuda:0"), before, "a failed allocation must not change memory()");
  const p = new Pool(1);
  try {
    const a = p.f32([1, 2, 3]), b = p.f32([10, 20, 30]), o = p.zeros(3);
    native.binary(0, a, [1], b, [1], o, [3]);
    assert.deepEqual([...p.get(o)], [11, 22, 33], "a kernel after the failed allocation");
    everyOpOnce();
  } finally {
    p.dispose();
  }
  assert.deepEqual(deviceMemory("cuda:0"), before);
});
