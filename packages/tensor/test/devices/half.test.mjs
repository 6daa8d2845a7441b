// bfloat16 and float16 on a representative subset, once per device and dtype: binary ops with broadcasting, unary ops,
// sum, softmax / logSoftmax, matmul, rmsNorm, rope, attention, attentionDistill, crossEntropy; and cast between all four dtypes. Inputs
// (and the upstream weight w of the gradient check) are representable in the dtype; the float64 reference of the
// output / gradient is rounded once to the dtype (float64 -> float32 -> half with the package's f32ToBf16Bits /
// f32ToF16Bits) and the engine's value must lie within `ulps` units in the last place of the dtype of it, judged at
// max(|ref_i|, floorRel * max|ref|): one ulp = eps * |x| with eps 2^-7 (bfloat16) or 2^-10 (float16).
//
// Why these bounds: kernels widen the half inputs exactly, compute in float32 and round once, so a forward is within
// one ulp of the rounded reference (the float32 result and the float64 one can sit on either side of a rounding
// boundary); a second ulp covers the float64 -> float32 -> half double rounding of the reference. Gradients that reuse
// a rounded saved output (softmax, exp-like unary ops, attention's out) or go through a second half op (a broadcast
// operand's product before its sum) get two ulps and a floor at the tensor's scale. Stated per case below.
import {
  S, assert, deviceTest, leakCheck, rng, dev, vals, roundAll, assertShape, assertEqualArrays, checkOp, size, bcastShape, binaryRef, reduceRef, softmaxRef, matmulRef, crossEntropyRef, rmsNormRef, ropeRef, attentionRef,
  distillRef, randomTeacher,
  sigm, geluRef,
} from "./helper.mjs";

const HALVES = ["bfloat16", "float16"];
const half = (dtype, arr) => Float32Array.from(roundAll(dtype, arr));

for (const dt of HALVES) {
  deviceTest(`${dt}: binary ops with broadcasting (add, sub, mul, div, maximum)`, (device) => {
    const sa = [2, 3, 4];
    const sb = [3, 1];
    const ops = [
      ["add", S.add, (x, y) => x + y],
      ["sub", S.sub, (x, y) => x - y],
      ["mul", S.mul, (x, y) => x * y],
      ["div", S.div, (x, y) => x / y],
      ["maximum", S.maximum, (x, y) => Math.max(x, y)],
    ];
    ops.forEach(([name, op, f], c) => {
      const r = rng(400 + c);
      const A = half(dt, name === "maximum" ? r.grid(24, 0) : r.normal(24, 2));
      const B = half(dt, name === "maximum" ? r.grid(3, 0.125) : name === "div" ? r.away(3, 0.5, 2) : r.normal(3, 2));
      checkOp({
        device, label: `${dt} ${name}`, seed: c, inputs: [{ data: A, shape: sa, dtype: dt }, { data: B, shape: sb, dtype: dt }],
        fn: op, ref: ([a, b]) => binaryRef(f, a, sa, b, sb), outShape: bcastShape(sa, sb), grads: [0, 1],
        // forward: one rounding (+ the reference's double rounding); d b sums 8 products rounded to the dtype first.
        fwd: { ulps: 2 }, bwd: [{ ulps: 2 }, { ulps: 2, floorRel: 0.25 }],
      });
    });
  });

  deviceTest(`${dt}: unary ops (exp, silu, tanh, sigmoid, gelu, rsqrt, sin)`, (device) => {
    const ops = [
      ["exp", S.exp, Math.exp, "std1"],
      ["silu", S.silu, (x) => x * sigm(x), "std2"],
      ["tanh", S.tanh, Math.tanh, "std1"],
      ["sigmoid", S.sigmoid, sigm, "std2"],
      ["gelu", S.gelu, geluRef, "std2"],
      ["rsqrt", S.rsqrt, (x) => 1 / Math.sqrt(x), "pos"],
      ["sin", S.sin, Math.sin, "std2"],
    ];
    ops.forEach(([name, op, f, kind], c) => {
      const r = rng(500 + c);
      const X = half(dt, kind === "pos" ? r.uniform(15, 0.2, 3) : r.normal(15, kind === "std2" ? 2 : 1));
      checkOp({
        device, label: `${dt} ${name}`, seed: c, inputs: [{ data: X, shape: [3, 5], dtype: dt }], fn: op, ref: ([x]) => x.map(f),
        outShape: [3, 5], grads: [0],
        // sin / silu / gelu pass through zero away from x = 0: judged at 1/8 of the tensor's scale.
        fwd: { ulps: 2, floorRel: 1 / 8 }, bwd: { ulps: 2, floorRel: 1 / 8 },
      });
    });
  });

  deviceTest(`${dt}: swiglu (fused silu(gate) * up) forward and both gradients`, (device) => {
    const r = rng(550);
    const shape = [3, 37]; // 111 elements: 16-byte chunks of 8 and a tail of 7 on the CUDA vector path
    const G = half(dt, r.normal(111, 2));
    const U = half(dt, r.normal(111, 1.5));
    checkOp({
      device, label: `${dt} swiglu`, inputs: [{ data: G, shape, dtype: dt }, { data: U, shape, dtype: dt }], fn: S.swiglu,
      ref: ([g, u]) => g.map((x, i) => x * sigm(x) * u[i]), outShape: shape, grads: [0, 1],
      // float32 in registers, one rounding per output; silu passes through zero: judged at 1/8 of the tensor's scale.
      fwd: { ulps: 2, floorRel: 1 / 8 }, bwd: [{ ulps: 2, floorRel: 1 / 8 }, { ulps: 2, floorRel: 1 / 8 }],
    });
  });

  deviceTest(`${dt}: sum (all, an axis with keepDims) and mean`, (device) => {
    const shape = [2, 3, 8];
    const X = half(dt, rng(600).normal(48, 2));
    for (const [label, fn, axes, keepDims, isMean] of [
      ["sum all", (x) => S.sum(x), [0, 1, 2], false, false],
      ["sum axis -1 keepDims", (x) => S.sum(x, -1, { keepDims: true }), [2], true, false],
      ["mean axes [0, 2]", (x) => S.mean(x, [0, 2]), [0, 2], false, true],
    ]) {
      const n = axes.reduce((p, a) => p * shape[a], 1);
      const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      checkOp({
        device, label: `${dt} ${label}`, inputs: [{ data: X, shape, dtype: dt }], fn,
        outShape: keepDims ? kept : shape.filter((_, i) => !axes.includes(i)), grads: [0],
        ref: ([x]) => reduceRef(x, shape, axes, 0, (a, v) => a + v).map((v) => (isMean ? v / n : v)),
        // one rounding of a float32 sum; a sum can cancel to a small value: floor 1/8 of the scale.
        fwd: { ulps: 2, floorRel: 1 / 8 }, bwd: { ulps: 1 },
      });
    }
  });

  deviceTest(`${dt}: softmax and logSoftmax`, (device) => {
    const shape = [2, 3, 6];
    const X = half(dt, rng(700).normal(36, 2));
    for (const [name, op, isLog] of [["softmax", S.softmax, false], ["logSoftmax", S.logSoftmax, true]])
      checkOp({
        device, label: `${dt} ${name}`, inputs: [{ data: X, shape, dtype: dt }], fn: (x) => op(x, -1), outShape: shape, grads: [0],
        ref: ([x]) => softmaxRef(x, shape, 2, isLog),
        // backward reuses the rounded output y: g - sum(g y) cancels at the scale of w: floor 1/2 of the gradient's.
        fwd: { ulps: 2, floorRel: 1 / 64 }, bwd: { ulps: 2, floorRel: 1 / 2 },
      });
  });

  deviceTest(`${dt}: matmul (transposes, broadcast batch) accumulating in float32`, (device) => {
    const M = 3;
    const K = 8;
    const N = 4;
    const cases = [[[], [], false, false], [[], [], true, true], [[2, 1], [3], false, true], [[2], [], true, false]];
    cases.forEach(([ba, bb, ta, tb], c) => {
      const r = rng(800 + c);
      const aShape = [...ba, ...(ta ? [K, M] : [M, K])];
      const bShape = [...bb, ...(tb ? [N, K] : [K, N])];
      const A = half(dt, r.normal(size(aShape)));
      const B = half(dt, r.normal(size(bShape)));
      checkOp({
        device, label: `${dt} matmul [${aShape}]${ta ? "^T" : ""} @ [${bShape}]${tb ? "^T" : ""}`, seed: c,
        inputs: [{ data: A, shape: aShape, dtype: dt }, { data: B, shape: bShape, dtype: dt }],
        fn: (a, b) => S.matmul(a, b, { transA: ta, transB: tb }), ref: ([a, b]) => matmulRef(a, aShape, b, bShape, ta, tb).out,
        outShape: matmulRef(A, aShape, B, bShape, ta, tb).shape, grads: [0, 1],
        // dot products cancel: floor 1/8 of the output's scale; the gradient of a broadcast operand is a sum of
        // per-batch products each rounded to the dtype first: floor 1/4.
        fwd: { ulps: 2, floorRel: 1 / 8 }, bwd: { ulps: 2, floorRel: 1 / 4 },
      });
    });
  });

  deviceTest(`${dt}: rmsNorm`, (device) => {
    const D = 16;
    const r = rng(900);
    const X = half(dt, r.normal(6 * D, 1.5));
    const W = half(dt, r.normal(D));
    checkOp({
      device, label: `${dt} rmsNorm`, inputs: [{ data: X, shape: [2, 3, D], dtype: dt }, { data: W, shape: [D], dtype: dt }],
      fn: (x, w) => S.rmsNorm(x, w, 1e-5), ref: ([x, w]) => rmsNormRef(x, w, D, 1e-5), outShape: [2, 3, D], grads: [0, 1],
      fwd: { ulps: 2 }, bwd: { ulps: 2, floorRel: 1 / 8 },
    });
  });

  // The autocast pre-norm block: a float32 residual stream plus a ${dt} branch, normalised straight to ${dt}. Column
  // counts pick the CUDA kernels: 16 and 768 the register-row ones (16-bit y and residual), 20 the scalar AnyF one.
  deviceTest(`${dt}: addRmsNorm, float32 stream + ${dt} branch -> ${dt}; rmsNorm float32 -> ${dt}`, (device) => {
    for (const D of [16, 20, 768]) {
      const rows = 5;
      const r = rng(950 + D);
      const X = r.normal(rows * D, 1.5);
      const R = half(dt, r.normal(rows * D));
      const W = r.normal(D);
      const inputs = [{ data: X, shape: [rows, D] }, { data: R, shape: [rows, D], dtype: dt }, { data: W, shape: [D] }];
      const sumRef = ([x, rr]) => Float64Array.from(roundAll("float32", x.map((v, i) => v + rr[i])));
      checkOp({
        device, label: `${dt} addRmsNorm out D=${D}`, inputs, outShape: [rows, D], grads: [0, 1, 2],
        fn: (x, rr, w) => S.addRmsNorm(x, rr, w, 1e-5, { dtype: dt }).out,
        ref: ([x, rr, w]) => rmsNormRef(x.map((v, i) => v + rr[i]), w, D, 1e-5),
        fwd: { ulps: 2 }, // The gradients flow back through a ${dt} output: float32 ones within 1e-4 of their scale.
        bwd: [{ rtol: 1e-4, floorRel: 1 / 64 }, { ulps: 2, floorRel: 1 / 64 }, { rtol: 1e-4, floorRel: 1 / 64 }],
      });
      checkOp({ device, label: `${dt} addRmsNorm sum D=${D}`, inputs, outShape: [rows, D], exact: true, fn: (x, rr, w) => S.addRmsNorm(x, rr, w).sum, ref: sumRef });
      checkOp({
        device, label: `${dt} rmsNorm float32 -> ${dt} D=${D}`, inputs: [inputs[0], inputs[2]], outShape: [rows, D], grads: [0, 1],
        fn: (x, w) => S.rmsNorm(x, w, 1e-5, { dtype: dt }), ref: ([x, w]) => rmsNormRef(x, w, D, 1e-5),
        fwd: { ulps: 2 }, bwd: { rtol: 1e-4, floorRel: 1 / 64 },
      });
    }
  });

  deviceTest(`${dt}: rope (offset 3)`, (device) => {
    const dims = [1, 4, 2, 8];
    const X = half(dt, rng(1000).normal(size(dims)));
    const pos = Int32Array.from([3, 4, 5, 6]);
    checkOp({
      device, label: `${dt} rope`, inputs: [{ data: X, shape: dims, dtype: dt }], fn: (x) => S.rope(x, { offset: 3 }),
      ref: ([x]) => ropeRef(x, dims, pos, 10000), outShape: dims, grads: [0],
      // x1 cos - x2 sin cancels: floor 1/16 of the scale.
      fwd: { ulps: 2, floorRel: 1 / 16 }, bwd: { ulps: 2, floorRel: 1 / 16 },
    });
  });

  deviceTest(`${dt}: attention (causal, grouped-query)`, (device) => {
    const dims = { B: 1, Tq: 5, Tk: 5, H: 4, Hkv: 2, D: 8 };
    const r = rng(1100);
    const Q = half(dt, r.normal(5 * 4 * 8));
    const K = half(dt, r.normal(5 * 2 * 8));
    const V = half(dt, r.normal(5 * 2 * 8));
    checkOp({
      device, label: `${dt} attention`,
      inputs: [{ data: Q, shape: [1, 5, 4, 8], dtype: dt }, { data: K, shape: [1, 5, 2, 8], dtype: dt }, { data: V, shape: [1, 5, 2, 8], dtype: dt }],
      fn: (q, k, v) => S.attention(q, k, v), ref: ([q, k, v]) => attentionRef(q, k, v, dims).out, outShape: [1, 5, 4, 8], grads: [0, 1, 2],
      // backward reuses the rounded output (di = w . out, as flash attention does with its half O): the error of
      // d q, d k is relative to their scale, so they are judged at max|ref| (two ulps of the tensor's scale).
      fwd: { ulps: 2, floorRel: 1 / 16 }, bwd: [{ ulps: 2, floorRel: 1 }, { ulps: 2, floorRel: 1 }, { ulps: 2, floorRel: 1 / 16 }],
    });
  });

  deviceTest(`${dt}: attentionDistill (head dim 16: the tensor-core kernels on CUDA; GQA, key mask, offset, duplicates)`, (device) => {
    const dims = { B: 2, Tq: 6, Tk: 7, H: 4, Hkv: 2, D: 16 };
    const { B, Tq, Tk, H, Hkv, D } = dims;
    const r = rng(1150);
    const Q = half(dt, r.normal(B * Tq * H * D));
    const K = half(dt, r.normal(B * Tk * Hkv * D));
    const heads = [3, 0, 3];
    const rows = [5, 2, 5, 0, 3, 1];
    const R = 3;
    const teacher = randomTeacher(r, B * heads.length * R, Tk);
    teacher[2] = 0;
    const mask = [1, 1, 1, 1, 0, 1, 1, /* b1 */ 0, 1, 1, 1, 1, 1, 1];
    const teacherT = dev(device, teacher, [B, heads.length, R, Tk]);
    const rowsT = dev(device, Int32Array.from(rows), [B, R]);
    const maskT = dev(device, Float32Array.from(mask), [B, Tk]);
    checkOp({
      device, label: `${dt} attentionDistill`,
      inputs: [{ data: Q, shape: [B, Tq, H, D], dtype: dt }, { data: K, shape: [B, Tk, Hkv, D], dtype: dt }],
      fn: (q, k) => S.attentionDistill(q, k, { heads, rows: rowsT, teacher: teacherT, keyMask: maskT }),
      ref: ([q, k]) => [distillRef(q, k, dims, { heads, rows, R, teacher, mask })],
      // The loss is float32 from exact products of the half inputs: attention.test.mjs's float32 bound. The
      // gradients: the tensor-core kernels round (p * mass - pt) to the operand dtype before both products, an
      // error relative to the tensor's scale: two ulps of max|ref|.
      outShape: [], grads: [0, 1], outDtype: "float32", fwd: { rtol: 1e-5, atol: 1e-6 }, bwd: { ulps: 2, floorRel: 1 },
    });
  });

  deviceTest(`${dt}: crossEntropy (float32 loss) with ignored rows`, (device) => {
    const V = 9;
    const L = half(dt, rng(1200).normal(6 * V, 2));
    const tg = Int32Array.from([3, -100, 8, 0, 0, 5]);
    checkOp({
      device, label: `${dt} crossEntropy`, inputs: [{ data: L, shape: [6, V], dtype: dt }, { data: tg, shape: [6] }],
      fn: (l, t) => S.crossEntropy(l, t), ref: ([l]) => [crossEntropyRef(l, tg, V, -100)], outShape: [], grads: [0],
      outDtype: "float32", fwd: { rtol: 1e-5 }, bwd: { ulps: 2, floorRel: 1 / 16 },
    });
  });
}

// ---- cast -----------------------------------------------------------------------------------------------------------

const SPECIALS = [0, -0, 1, -1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 65504, 65519, 65520, 70000, 1e-8, 6e-8, 3e-5, 2 ** -24,
  2 ** -25, 3.4e38, -3.4e38, 1.17549435e-38, Infinity, -Infinity, NaN, 2.7, -2.7, 0.1, -123.456];

deviceTest("cast: float32 -> bfloat16 / float16 -> float32, bfloat16 <-> float16, float <-> int32 (bit-exact)", (device) => {
  const data = Float32Array.from([...SPECIALS, ...rng(1300).normal(20, 100)]);
  const x = dev(device, data, [data.length]);
  for (const dt of HALVES) {
    const h = S.cast(x, dt);
    assert.equal(h.dtype, dt);
    assert.equal(S.deviceName(h.device), S.deviceName(x.device));
    const enc = dt === "bfloat16" ? S.f32ToBf16Bits : S.f32ToF16Bits;
    assertEqualArrays(`float32 -> ${dt} bits`, Array.from(h.dataSync()).map((b, i) => (Number.isNaN(data[i]) ? "nan" : b)),
      Array.from(data, (v) => (Number.isNaN(v) ? "nan" : enc(v))));
    const back = S.cast(h, "float32");
    assertEqualArrays(`${dt} -> float32`, vals(back), roundAll(dt, data));
    const other = dt === "bfloat16" ? "float16" : "bfloat16";
    assertEqualArrays(`${dt} -> ${other}`, vals(S.cast(h, other)), roundAll(other, roundAll(dt, data)));
    const toInt = S.cast(h, "int32");
    assert.equal(toInt.dtype, "int32");
    assertEqualArrays(`${dt} -> int32`, vals(toInt), Array.from(roundAll(dt, data), truncSat));
  }
  assertEqualArrays("float32 -> int32 (truncate, NaN -> 0, saturate)", vals(S.cast(x, "int32")), Array.from(data, truncSat));
  const ints = Int32Array.from([0, 1, -7, 255, 257, 65535, 16777217, -2147483648, 2147483647]);
  const it = dev(device, ints, [ints.length]);
  for (const dt of ["float32", ...HALVES]) assertEqualArrays(`int32 -> ${dt}`, vals(S.cast(it, dt)), roundAll(dt, roundAll("float32", ints)));
  assertShape(S.cast(x, "float32"), [data.length], "cast to the own dtype");
});

/** float -> int32: truncate toward zero, NaN -> 0, saturate at the int32 range. */
function truncSat(v) {
  if (Number.isNaN(v)) return 0;
  if (v >= 2147483647) return 2147483647;
  if (v <= -2147483648) return -2147483648;
  return Math.trunc(v) + 0; // no -0
}

deviceTest("cast is differentiable between float dtypes: the gradient comes back in the source dtype", (device) => {
  const r = rng(1400);
  for (const [from, to] of [["float32", "bfloat16"], ["float32", "float16"], ["bfloat16", "float32"], ["float16", "float32"], ["bfloat16", "float16"]]) {
    const X = half(from === "float32" ? "float32" : from, r.normal(12, 3));
    const W = roundAll(to, r.normal(12));
    const x = dev(device, X, [3, 4], from);
    const w = dev(device, W, [3, 4], to);
    const { grads } = S.valueAndGrad((t) => S.sum(S.mul(S.cast(t, to), w)))(x);
    assert.equal(grads[0].dtype, from, `${from} -> ${to}: gradient dtype`);
    assertEqualArrays(`${from} -> ${to}: forward`, vals(S.cast(x, to)), roundAll(to, X));
    // d/dx sum(cast(x) * w) = w, cast back to x's dtype once.
    assertEqualArrays(`${from} -> ${to}: gradient`, vals(grads[0]), roundAll(from, W));
    S.dispose(grads);
  }
});

leakCheck();
