// Every public differentiable op in float32, once per device (cpu; each CUDA device where one is usable): tensors are
// made on the cpu and copied to the device under test, the forward output is compared with a float64 reference in plain
// JS, and the gradients of sum(out * w) (w fixed, seeded) with central differences of that reference.
//
// Tolerances (float32; |got - ref| <= atol + rtol * max(|ref|, floor), see helper.mjs assertClose):
//   elementwise binary / unary / where: rtol 1e-5, atol 1e-6 (forward and gradient); gradients of a broadcast operand
//     sum m terms: atol 1e-5 * sqrt(m) * the scale of one term;
//   comparisons, layout ops (permute, transpose, slice, narrow, concat, stack, broadcastTo, reshape, squeeze,
//     unsqueeze, flatten, clone, embedding, indexSelect) and max / argmax forwards: bit-exact; their gradients rtol
//     1e-5 (a broadcast / repeated-id gradient is a float32 sum);
//   sum / mean over n elements: rtol 1e-5, atol 1e-5 * sqrt(n) * rms(x) (divided by n for mean);
//   softmax / logSoftmax: rtol 1e-5, atol 1e-6 (logSoftmax: 1e-5 * the logits' std); gradients rtol 1e-5, atol 1e-6
//     (g - sum(g * y) cancels: the error is relative to the unit-scale upstream w, not to the small result);
//   matmul / linear with K-long dot products: rtol 1e-5, atol 1e-5 * sqrt(K) * rms(a) * rms(b) (same rule for the
//     gradients, with the length of their dot products);
//   crossEntropy: loss rtol 1e-5; d logits rtol 1e-5 with floor 1e-3 * max|ref|;
//   rmsNorm: rtol 1e-5 with floor 1e-3 * max|ref| (forward and gradients; d weight sums the rows);
//   rope: rtol 1e-5 with atol 1e-6 * (1 + largest position) * max|x| (float32 angles lose ~eps * position radians;
//     the gradient rotates w back: the same with 3 for max|w|).
import { test } from "node:test";
import {
  S, assert, DEVICES, deviceLine, deviceTest, leakCheck, rng, dev, vals, assertShape, assertClose, assertEqualArrays, checkOp,
  size, unravel, ravel, bcastShape, bcastIndex, binaryRef, reduceRef, softmaxRef, matmulRef, crossEntropyRef, rmsNormRef,
  ropeRef, sigm, geluRef, geluTanhRef, maxAbs,
} from "./helper.mjs";

console.log(deviceLine());

const rms = (a) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / Math.max(1, a.length));

// ---- elementwise binary with broadcasting --------------------------------------------------------------------------

const PAIRS = [
  [[2, 3, 4], [3, 1]],
  [[1, 4], [2, 3, 1]],
  [[5], [5]],
  [[], [2, 3]],
];
const BINARY = [
  ["add", S.add, (x, y) => x + y, "any"],
  ["sub", S.sub, (x, y) => x - y, "any"],
  ["mul", S.mul, (x, y) => x * y, "any"],
  ["div", S.div, (x, y) => x / y, "nonzeroB"],
  ["pow", S.pow, (x, y) => x ** y, "posBase"],
  ["maximum", S.maximum, (x, y) => Math.max(x, y), "grid"],
  ["minimum", S.minimum, (x, y) => Math.min(x, y), "grid"],
];
function binaryInputs(r, kind, sa, sb) {
  const na = size(sa);
  const nb = size(sb);
  if (kind === "posBase") return [r.uniform(na, 0.3, 2.5), r.uniform(nb, -1.5, 1.5)];
  if (kind === "nonzeroB") return [r.normal(na, 2), r.away(nb, 0.3, 2)];
  if (kind === "grid") return [r.grid(na, 0), r.grid(nb, 0.125)];
  return [r.normal(na, 2), r.normal(nb, 2)];
}
/** atol of a gradient that sums m broadcast terms of scale s. */
const sumTol = (m, s) => 1e-5 * Math.sqrt(m) * s + 1e-6;

for (const [name, op, f, kind] of BINARY) {
  deviceTest(`${name}: broadcasting forward and gradients`, (device) => {
    PAIRS.forEach(([sa, sb], c) => {
      const r = rng(100 + c);
      const [A, B] = binaryInputs(r, kind, sa, sb);
      const out = bcastShape(sa, sb);
      const ma = size(out) / size(sa);
      const mb = size(out) / size(sb);
      checkOp({
        device, label: `${name} [${sa}] [${sb}]`, seed: c,
        inputs: [{ data: A, shape: sa }, { data: B, shape: sb }],
        fn: op, ref: ([a, b]) => binaryRef(f, a, sa, b, sb), outShape: out, grads: [0, 1],
        fwd: { rtol: 1e-5, atol: 1e-6 },
        bwd: [{ rtol: 1e-5, atol: sumTol(ma, 4) }, { rtol: 1e-5, atol: sumTol(mb, 4) }],
      });
    });
  });
}

deviceTest("number operands: add / sub / mul / div / pow with a number on either side", (device) => {
  const r = rng(7);
  const X = r.uniform(12, 0.3, 2);
  const cases = [
    ["x + 1.5", (x) => S.add(x, 1.5), (v) => v + 1.5],
    ["2 - x", (x) => S.sub(2, x), (v) => 2 - v],
    ["x * -0.75", (x) => S.mul(x, -0.75), (v) => v * -0.75],
    ["1 / x", (x) => S.div(1, x), (v) => 1 / v],
    ["2 ** x", (x) => S.pow(2, x), (v) => 2 ** v],
    ["x ** 1.5", (x) => S.pow(x, 1.5), (v) => v ** 1.5],
  ];
  cases.forEach(([label, fn, f], c) =>
    checkOp({
      device, label, seed: c, inputs: [{ data: X, shape: [3, 4] }], fn, ref: ([x]) => x.map(f), outShape: [3, 4], grads: [0],
      fwd: { rtol: 1e-5, atol: 1e-6 }, bwd: { rtol: 1e-5, atol: 1e-6 },
    }),
  );
});

deviceTest("comparisons eq / ne / lt / le / gt / ge: 0/1 float masks with broadcasting and exact ties", (device) => {
  const r = rng(11);
  const sa = [2, 3, 4];
  const sb = [3, 1];
  const A = r.grid(size(sa));
  const B = r.grid(size(sb));
  const a = dev(device, A, sa);
  const b = dev(device, B, sb);
  for (const [name, op, f] of [
    ["eq", S.eq, (x, y) => x === y], ["ne", S.ne, (x, y) => x !== y], ["lt", S.lt, (x, y) => x < y],
    ["le", S.le, (x, y) => x <= y], ["gt", S.gt, (x, y) => x > y], ["ge", S.ge, (x, y) => x >= y],
  ]) {
    const out = op(a, b);
    assert.equal(out.dtype, "float32");
    assertShape(out, [2, 3, 4], name);
    assertEqualArrays(name, vals(out), binaryRef((x, y) => (f(x, y) ? 1 : 0), A, sa, B, sb));
  }
});

// ---- unary ----------------------------------------------------------------------------------------------------------

const UNARY = [
  ["neg", S.neg, (x) => -x, "std2"],
  ["exp", S.exp, Math.exp, "std1"],
  ["log", S.log, Math.log, "pos"],
  ["sqrt", S.sqrt, Math.sqrt, "pos"],
  ["rsqrt", S.rsqrt, (x) => 1 / Math.sqrt(x), "pos"],
  ["tanh", S.tanh, Math.tanh, "std1"],
  ["sigmoid", S.sigmoid, sigm, "std2"],
  ["silu", S.silu, (x) => x * sigm(x), "std2"],
  ["gelu", S.gelu, geluRef, "std2"],
  ["geluTanh", S.geluTanh, geluTanhRef, "std2"],
  ["relu", S.relu, (x) => Math.max(x, 0), "away"],
  ["abs", S.abs, Math.abs, "away"],
  ["sin", S.sin, Math.sin, "std2"],
  ["cos", S.cos, Math.cos, "std2"],
  ["square", S.square, (x) => x * x, "std1"],
  ["reciprocal", S.reciprocal, (x) => 1 / x, "away"],
  ["powScalar 2.5", (x) => S.powScalar(x, 2.5), (x) => x ** 2.5, "pos"],
  ["powScalar -1.5", (x) => S.powScalar(x, -1.5), (x) => x ** -1.5, "pos"],
  ["powScalar 3 (negative base)", (x) => S.powScalar(x, 3), (x) => x ** 3, "std1"],
  ["addScalar", (x) => S.addScalar(x, 0.75), (x) => x + 0.75, "std1"],
  ["mulScalar", (x) => S.mulScalar(x, -1.25), (x) => x * -1.25, "std1"],
];
function unaryInput(r, kind, n) {
  if (kind === "pos") return r.uniform(n, 0.2, 3);
  if (kind === "away") return r.away(n, 0.2, 2.5);
  return r.normal(n, kind === "std2" ? 2 : 1);
}
deviceTest("unary ops: forward and gradients", (device) => {
  UNARY.forEach(([name, op, f, kind], c) => {
    const X = unaryInput(rng(200 + c), kind, 15);
    checkOp({
      device, label: name, seed: c, inputs: [{ data: X, shape: [3, 5] }], fn: op, ref: ([x]) => x.map(f), outShape: [3, 5], grads: [0],
      fwd: { rtol: 1e-5, atol: 1e-6 }, bwd: { rtol: 1e-5, atol: 1e-6 },
    });
  });
});

// ---- fused SwiGLU ---------------------------------------------------------------------------------------------------

deviceTest("swiglu(gate, up) = silu(gate) * up: forward and both gradients; equals mul(silu(gate), up)", (device) => {
  const swish = (x) => x * sigm(x);
  // 111 elements: whole 16-byte chunks and a tail on the device's vectorised path; 1 element: the tail alone.
  for (const [shape, seed] of [[[3, 37], 0], [[1], 1], [[2, 4, 8], 2]]) {
    const r = rng(300 + seed);
    const G = r.normal(size(shape), 2);
    const U = r.normal(size(shape), 1.5);
    checkOp({
      device, label: `swiglu [${shape}]`, seed, inputs: [{ data: G, shape }, { data: U, shape }], fn: S.swiglu,
      ref: ([g, u]) => g.map((x, i) => swish(x) * u[i]), outShape: shape, grads: [0, 1],
      fwd: { rtol: 1e-5, atol: 1e-6 }, bwd: { rtol: 1e-5, atol: 1e-6 },
    });
    // The fused kernels do the unfused ops' float32 operations in their order: the same bits, forward and backward.
    const g = dev(device, G, shape), u = dev(device, U, shape);
    assertEqualArrays(`swiglu [${shape}] vs mul(silu, up)`, vals(S.swiglu(g, u)), vals(S.mul(S.silu(g), u)));
  }
  const a = dev(device, [1, 2, 3, 4, 5, 6], [2, 3]);
  assert.throws(() => S.swiglu(a, dev(device, [1, 2, 3, 4, 5, 6], [3, 2])), /swiglu: 'gate' \[2, 3\] and 'up' \[3, 2\] must have the same shape/);
  assert.throws(() => S.swiglu(a, S.tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: "int32", device })), /swiglu: 'up' must be a float tensor/);
  if (S.deviceName(a.device) !== "cpu") {
    const c = S.tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] });
    assert.throws(() => S.swiglu(a, c), /swiglu: tensors are on different devices \(cuda:\d+ and cpu\)/);
  }
});

// ---- where / maskedFill ---------------------------------------------------------------------------------------------

deviceTest("where(cond, a, b) with broadcasting of all three; maskedFill", (device) => {
  const r = rng(31);
  const sc = [2, 1, 4];
  const sa = [3, 4];
  const sb = [2, 3, 1];
  const full = [2, 3, 4];
  const C = Float32Array.from(r.normal(size(sc)), (v) => (v > 0.2 ? 2.5 : 0)); // nonzero means true
  const A = r.normal(size(sa));
  const B = r.normal(size(sb));
  const ref = ([c, a, b]) =>
    Float64Array.from({ length: size(full) }, (_, i) => {
      const idx = unravel(i, full);
      return c[bcastIndex(idx, sc)] ? a[bcastIndex(idx, sa)] : b[bcastIndex(idx, sb)];
    });
  checkOp({
    device, label: "where", inputs: [{ data: C, shape: sc }, { data: A, shape: sa }, { data: B, shape: sb }],
    fn: S.where, ref, outShape: full, grads: [1, 2], exact: true, bwd: { rtol: 1e-5, atol: 1e-6 },
  });
  const M = Float32Array.from(r.normal(3), (v) => (v > 0 ? 1 : 0));
  const X = r.normal(size(full));
  checkOp({
    device, label: "maskedFill", inputs: [{ data: X, shape: full }, { data: M, shape: [3, 1] }],
    fn: (x, m) => S.maskedFill(x, m, -7), outShape: full, grads: [0], exact: true, bwd: { rtol: 1e-5 },
    ref: ([x, m]) => x.map((v, i) => (m[unravel(i, full)[1]] ? -7 : v)),
  });
});

// ---- reductions -----------------------------------------------------------------------------------------------------

const RSHAPE = [2, 3, 4];
const AXES = [
  [undefined, [0, 1, 2], false],
  [1, [1], false],
  [[0, 2], [0, 2], true],
  [-1, [2], true],
];
for (const [name, op, isMean] of [["sum", S.sum, false], ["mean", S.mean, true]]) {
  deviceTest(`${name} over axes (all, one, several, negative; keepDims)`, (device) => {
    AXES.forEach(([axes, norm, keepDims], c) => {
      const X = rng(300 + c).normal(size(RSHAPE), 3);
      const n = norm.reduce((p, a) => p * RSHAPE[a], 1);
      const kept = RSHAPE.map((d, i) => (norm.includes(i) ? 1 : d));
      const outShape = keepDims ? kept : RSHAPE.filter((_, i) => !norm.includes(i));
      const tol = { rtol: 1e-5, atol: (1e-5 * Math.sqrt(n) * rms(X)) / (isMean ? n : 1) };
      checkOp({
        device, label: `${name} axes ${JSON.stringify(axes)} keepDims ${keepDims}`, seed: c,
        inputs: [{ data: X, shape: RSHAPE }], fn: (x) => op(x, axes, { keepDims }), outShape, grads: [0],
        ref: ([x]) => reduceRef(x, RSHAPE, norm, 0, (a, v) => a + v).map((v) => (isMean ? v / n : v)),
        fwd: tol, bwd: { rtol: 1e-5 },
      });
    });
  });
}

deviceTest("max along an axis / over everything (distinct values); maxWithIndices and argmax", (device) => {
  const X = rng(41).distinct(size(RSHAPE));
  for (const [axis, keepDims] of [[1, false], [-1, true], [0, false]]) {
    const a = axis < 0 ? axis + 3 : axis;
    const kept = RSHAPE.map((d, i) => (i === a ? 1 : d));
    const outShape = keepDims ? kept : RSHAPE.filter((_, i) => i !== a);
    checkOp({
      device, label: `max axis ${axis}`, inputs: [{ data: X, shape: RSHAPE }], fn: (x) => S.max(x, axis, { keepDims }), outShape,
      grads: [0], exact: true, bwd: { rtol: 1e-5 }, ref: ([x]) => reduceRef(x, RSHAPE, [a], -Infinity, Math.max),
    });
    // indices of the maxima
    const x = dev(device, X, RSHAPE);
    const { values, indices } = S.maxWithIndices(x, axis, { keepDims });
    assert.equal(indices.dtype, "int32");
    assertShape(indices, outShape, "maxWithIndices");
    const refI = new Float64Array(size(kept));
    const refV = new Float64Array(size(kept)).fill(-Infinity);
    for (let i = 0; i < X.length; i++) {
      const idx = unravel(i, RSHAPE);
      const pos = idx[a];
      idx[a] = 0;
      const o = ravel(idx, kept);
      if (X[i] > refV[o]) {
        refV[o] = X[i];
        refI[o] = pos;
      }
    }
    assertEqualArrays("maxWithIndices values", vals(values), refV);
    assertEqualArrays("maxWithIndices indices", vals(indices), refI);
    assertEqualArrays("argmax", vals(S.argmax(x, axis, { keepDims })), refI);
  }
  checkOp({
    device, label: "max over everything", inputs: [{ data: X, shape: RSHAPE }], fn: (x) => S.max(x), outShape: [], grads: [0],
    exact: true, bwd: { rtol: 1e-5 }, ref: ([x]) => [Math.max(...x)],
  });
});

for (const [name, op, isLog] of [["softmax", S.softmax, false], ["logSoftmax", S.logSoftmax, true]]) {
  deviceTest(`${name} along the last and a middle axis`, (device) => {
    const shape = [2, 3, 5];
    for (const [axis, std] of [[-1, 2], [1, 4]]) {
      const X = rng(50 + axis).normal(size(shape), std);
      checkOp({
        device, label: `${name} axis ${axis}`, seed: axis + 3, inputs: [{ data: X, shape }], fn: (x) => op(x, axis), outShape: shape,
        grads: [0], ref: ([x]) => softmaxRef(x, shape, axis < 0 ? axis + 3 : axis, isLog),
        fwd: { rtol: 1e-5, atol: isLog ? 1e-5 * std : 1e-6 }, bwd: { rtol: 1e-5, atol: 1e-6 },
      });
    }
  });
}

// ---- layout ---------------------------------------------------------------------------------------------------------

/** out[i] = x[src(i)] (a gather); the float64 reference of every data-movement op. */
const gatherRef = (n, src) => ([x]) => Float64Array.from({ length: n }, (_, i) => x[src(i)]);

deviceTest("permute / transpose / reshape / flatten / squeeze / unsqueeze / clone", (device) => {
  const shape = [2, 3, 4];
  const X = rng(61).normal(24);
  const perm = [2, 0, 1];
  const pShape = perm.map((a) => shape[a]);
  const permSrc = (i) => {
    const oi = unravel(i, pShape);
    const ii = new Array(3);
    perm.forEach((a, k) => (ii[a] = oi[k]));
    return ravel(ii, shape);
  };
  const tShape = [4, 3, 2];
  const transSrc = (i) => {
    const [a, b, c] = unravel(i, tShape);
    return ravel([c, b, a], shape);
  };
  const id = (i) => i;
  const cases = [
    ["permute [2,0,1]", (x) => S.permute(x, perm), pShape, permSrc],
    ["permute [-1,-3,-2]", (x) => S.permute(x, [-1, -3, -2]), pShape, permSrc],
    ["transpose 0 -1", (x) => S.transpose(x, 0, -1), tShape, transSrc],
    ["reshape [4, -1]", (x) => S.reshape(x, [4, -1]), [4, 6], id],
    ["flatten", (x) => S.flatten(x), [24], id],
    ["unsqueeze 1", (x) => S.unsqueeze(x, 1), [2, 1, 3, 4], id],
    ["squeeze(unsqueeze -1)", (x) => S.squeeze(S.unsqueeze(x, -1)), shape, id],
    ["clone", (x) => S.clone(x), shape, id],
    ["permute then clone (strided copy)", (x) => S.clone(S.permute(x, perm)), pShape, permSrc],
  ];
  cases.forEach(([label, fn, outShape, src], c) =>
    checkOp({
      device, label, seed: c, inputs: [{ data: X, shape }], fn, outShape, grads: [0], exact: true, bwd: { rtol: 1e-5 },
      ref: gatherRef(size(outShape), src),
    }),
  );
});

deviceTest("slice (negative bounds) and narrow", (device) => {
  const shape = [3, 4, 5];
  const X = rng(62).normal(60);
  const lo = [1, 0, 2];
  const hi = [3, 4, 4];
  const oShape = hi.map((e, i) => e - lo[i]);
  checkOp({
    device, label: "slice", inputs: [{ data: X, shape }], fn: (x) => S.slice(x, [1, 0, -3], [3, 4, -1]), outShape: oShape,
    grads: [0], exact: true, bwd: { rtol: 1e-5 },
    ref: gatherRef(size(oShape), (i) => ravel(unravel(i, oShape).map((v, d) => v + lo[d]), shape)),
  });
  checkOp({
    device, label: "slice (starts only)", inputs: [{ data: X, shape }], fn: (x) => S.slice(x, [2]), outShape: [1, 4, 5],
    grads: [0], exact: true, bwd: { rtol: 1e-5 }, ref: gatherRef(20, (i) => 40 + i),
  });
  const nShape = [3, 2, 5];
  checkOp({
    device, label: "narrow axis 1", inputs: [{ data: X, shape }], fn: (x) => S.narrow(x, 1, 1, 2), outShape: nShape,
    grads: [0], exact: true, bwd: { rtol: 1e-5 },
    ref: gatherRef(30, (i) => {
      const [a, b, c] = unravel(i, nShape);
      return ravel([a, b + 1, c], shape);
    }),
  });
});

deviceTest("concat (three parts, middle and negative axis) and stack", (device) => {
  const r = rng(63);
  const lens = [1, 3, 2];
  const parts = lens.map((l) => ({ data: r.normal(2 * l * 4), shape: [2, l, 4] }));
  const oShape = [2, 6, 4];
  const starts = [0, 1, 4];
  const concatRef = (xs) =>
    Float64Array.from({ length: 48 }, (_, i) => {
      const [a, b, c] = unravel(i, oShape);
      let k = 0;
      while (b >= starts[k] + lens[k]) k++;
      return xs[k][ravel([a, b - starts[k], c], [2, lens[k], 4])];
    });
  for (const axis of [1, -2])
    checkOp({
      device, label: `concat axis ${axis}`, inputs: parts, fn: (...xs) => S.concat(xs, axis), outShape: oShape, grads: [0, 1, 2],
      exact: true, bwd: { rtol: 1e-5 }, ref: concatRef,
    });
  const same = [0, 1, 2].map(() => ({ data: r.normal(6), shape: [2, 3] }));
  for (const axis of [0, 1, 2]) {
    const sShape = [2, 3];
    sShape.splice(axis, 0, 3);
    checkOp({
      device, label: `stack axis ${axis}`, inputs: same, fn: (...xs) => S.stack(xs, axis), outShape: sShape, grads: [0, 1, 2],
      exact: true, bwd: { rtol: 1e-5 },
      ref: (xs) =>
        Float64Array.from({ length: 18 }, (_, i) => {
          const idx = unravel(i, sShape);
          const k = idx.splice(axis, 1)[0];
          return xs[k][ravel(idx, [2, 3])];
        }),
    });
  }
});

deviceTest("broadcastTo / expand (gradient sums the broadcast axes)", (device) => {
  const X = rng(64).normal(6);
  for (const [small, target] of [[[3, 1, 2], [2, 3, 4, 2]], [[1, 6], [3, 6]]]) {
    const n = size(target) / size(small);
    for (const [label, op] of [["broadcastTo", S.broadcastTo], ["expand", S.expand]])
      checkOp({
        device, label: `${label} [${small}] -> [${target}]`, inputs: [{ data: X, shape: small }], fn: (x) => op(x, target),
        outShape: target, grads: [0], exact: true, bwd: { rtol: 1e-5, atol: sumTol(n, 3) },
        ref: gatherRef(size(target), (i) => bcastIndex(unravel(i, target), small)),
      });
  }
});

deviceTest("embedding and indexSelect with repeated ids (scatter-add backward)", (device) => {
  const r = rng(65);
  const V = 5;
  const D = 3;
  const table = r.normal(V * D);
  const ids = Int32Array.from([4, 0, 4, 2, 4, 1]);
  const ref = ([t]) => Float64Array.from({ length: ids.length * D }, (_, i) => t[ids[Math.floor(i / D)] * D + (i % D)]);
  checkOp({
    device, label: "embedding ids [2, 3]", inputs: [{ data: table, shape: [V, D] }, { data: ids, shape: [2, 3] }],
    fn: S.embedding, outShape: [2, 3, D], grads: [0], exact: true, bwd: { rtol: 1e-5, atol: sumTol(3, 3) }, ref,
  });
  const X = r.normal(V * 2 * 3);
  const sel = Int32Array.from([3, 3, 0, 4]);
  checkOp({
    device, label: "indexSelect", inputs: [{ data: X, shape: [V, 2, 3] }, { data: sel, shape: [4] }],
    fn: S.indexSelect, outShape: [4, 2, 3], grads: [0], exact: true, bwd: { rtol: 1e-5, atol: sumTol(2, 3) },
    ref: ([x]) => Float64Array.from({ length: 24 }, (_, i) => x[sel[Math.floor(i / 6)] * 6 + (i % 6)]),
  });
});

// ---- matmul / linear ------------------------------------------------------------------------------------------------

/** Tolerance of K-long float32 dot products of operands with the given rms. */
const dotTol = (K, ra, rb) => ({ rtol: 1e-5, atol: 1e-5 * Math.sqrt(K) * ra * rb + 1e-7 });

deviceTest("matmul: all transpose combinations, broadcast batch axes, 1-D operands", (device) => {
  const r = rng(71);
  const M = 3;
  const K = 5;
  const N = 4;
  const cases = [];
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    cases.push([[], [], ta, tb]);
    cases.push([[2, 1], [3], ta, tb]);
  }
  cases.forEach(([ba, bb, ta, tb], c) => {
    const aShape = [...ba, ...(ta ? [K, M] : [M, K])];
    const bShape = [...bb, ...(tb ? [N, K] : [K, N])];
    const A = r.normal(size(aShape));
    const B = r.normal(size(bShape));
    const { shape } = matmulRef(A, aShape, B, bShape, ta, tb);
    const tol = dotTol(K, 1, 1);
    // d a sums over N (and broadcast batch copies), d b over M: the same rule with their lengths.
    const batchB = size(bcastShape(ba, bb)) / Math.max(1, size(bb));
    checkOp({
      device, label: `matmul [${aShape}]${ta ? "^T" : ""} @ [${bShape}]${tb ? "^T" : ""}`, seed: c,
      inputs: [{ data: A, shape: aShape }, { data: B, shape: bShape }],
      fn: (a, b) => S.matmul(a, b, { transA: ta, transB: tb }), outShape: shape, grads: [0, 1],
      ref: ([a, b]) => matmulRef(a, aShape, b, bShape, ta, tb).out,
      fwd: tol, bwd: [dotTol(N, 1, 1), dotTol(M * batchB, 1, 1)],
    });
  });
  const v = r.normal(K);
  const m = r.normal(K * N);
  const a3 = r.normal(2 * M * K);
  const oneD = [
    ["vector @ matrix", [{ data: v, shape: [K] }, { data: m, shape: [K, N] }], [N], ([x, y]) => matmulRef(x, [1, K], y, [K, N], false, false).out],
    ["batched matrix @ vector", [{ data: a3, shape: [2, M, K] }, { data: v, shape: [K] }], [2, M], ([x, y]) => matmulRef(x, [2, M, K], y, [K, 1], false, false).out],
    ["vector @ vector", [{ data: v, shape: [K] }, { data: v, shape: [K] }], [], ([x, y]) => matmulRef(x, [1, K], y, [K, 1], false, false).out],
  ];
  oneD.forEach(([label, inputs, outShape, ref], c) =>
    checkOp({ device, label, seed: 20 + c, inputs, fn: (a, b) => S.matmul(a, b), outShape, grads: [0, 1], ref, fwd: dotTol(K, 1, 1), bwd: dotTol(2 * N, 1, 1) }),
  );
});

deviceTest("linear: x [2,3,K] W^T [N,K] + bias", (device) => {
  const r = rng(72);
  const K = 6;
  const N = 5;
  const X = r.normal(2 * 3 * K);
  const W = r.normal(N * K, 0.5);
  const Bv = r.normal(N);
  const lin = (x, w, b) => {
    const y = matmulRef(x, [6, K], w, [N, K], false, true).out;
    return b ? y.map((v, i) => v + b[i % N]) : y;
  };
  checkOp({
    device, label: "linear without bias", inputs: [{ data: X, shape: [2, 3, K] }, { data: W, shape: [N, K] }],
    fn: (x, w) => S.linear(x, w), outShape: [2, 3, N], grads: [0, 1], ref: ([x, w]) => lin(x, w),
    fwd: dotTol(K, 1, 0.5), bwd: [dotTol(N, 1, 0.5), dotTol(6, 1, 1)],
  });
  checkOp({
    device, label: "linear with bias", seed: 2,
    inputs: [{ data: X, shape: [2, 3, K] }, { data: W, shape: [N, K] }, { data: Bv, shape: [N] }],
    fn: (x, w, b) => S.linear(x, w, b), outShape: [2, 3, N], grads: [0, 1, 2], ref: ([x, w, b]) => lin(x, w, b),
    fwd: dotTol(K + 1, 1, 1), bwd: [dotTol(N, 1, 0.5), dotTol(6, 1, 1), dotTol(6, 1, 1)],
  });
});

// ---- crossEntropy / rmsNorm / rope ----------------------------------------------------------------------------------

deviceTest("crossEntropy: default ignoreIndex -100, a custom ignoreIndex, every row ignored", (device) => {
  const r = rng(81);
  const V = 7;
  const rows = [2, 4];
  const L = r.normal(8 * V, 2);
  const tg = Int32Array.from([3, -100, 0, 6, 6, -100, 2, 1]);
  const tg2 = Int32Array.from([3, 2, 0, 2, 6, 5, 2, 1]);
  for (const [label, targets, opts, ignore] of [
    ["ignoreIndex -100 (default)", tg, {}, -100],
    ["ignoreIndex 2", tg2, { ignoreIndex: 2 }, 2],
  ]) {
    checkOp({
      device, label: `crossEntropy ${label}`, inputs: [{ data: L, shape: [...rows, V] }, { data: targets, shape: rows }],
      fn: (l, t) => S.crossEntropy(l, t, opts), outShape: [], grads: [0], ref: ([l]) => [crossEntropyRef(l, targets, V, ignore)],
      fwd: { rtol: 1e-5, atol: 1e-6 }, bwd: { rtol: 1e-5, floorRel: 1e-3 },
    });
  }
  const all = dev(device, Int32Array.from({ length: 8 }, () => -100), rows);
  assert.ok(Number.isNaN(S.crossEntropy(dev(device, L, [...rows, V]), all).item()), "every row ignored gives NaN");
});

deviceTest("rmsNorm: x [2,3,16] * rsqrt(mean(x^2) + eps) * w (eps 1e-5 and the default 1e-6)", (device) => {
  const r = rng(82);
  const D = 16;
  const X = r.normal(6 * D, 1.5);
  const W = r.normal(D);
  for (const eps of [1e-5, undefined])
    checkOp({
      device, label: `rmsNorm eps ${eps}`, inputs: [{ data: X, shape: [2, 3, D] }, { data: W, shape: [D] }],
      fn: (x, w) => (eps === undefined ? S.rmsNorm(x, w) : S.rmsNorm(x, w, eps)), outShape: [2, 3, D], grads: [0, 1],
      ref: ([x, w]) => rmsNormRef(x, w, D, eps ?? 1e-6), fwd: { rtol: 1e-5, floorRel: 1e-3 }, bwd: { rtol: 1e-5, floorRel: 1e-3 },
    });
});

// Column counts pick the CUDA kernels: 16 and 768 register-row, 18 scalar (cols % 4 != 0), 1040 the block kernel.
deviceTest("addRmsNorm: sum = x + residual, out = rmsNorm(sum) (forward and gradients of both outputs)", (device) => {
  for (const D of [16, 18, 768, 1040]) {
    const rows = 4;
    const r = rng(83 + D);
    const X = r.normal(rows * D, 1.5);
    const R = r.normal(rows * D);
    const W = r.normal(D);
    const inputs = [{ data: X, shape: [rows, D] }, { data: R, shape: [rows, D] }, { data: W, shape: [D] }];
    checkOp({
      device, label: `addRmsNorm D=${D}`, inputs, outShape: [rows, D], grads: [0, 1, 2],
      // out + sum / 2: both outputs feed the gradient.
      fn: (x, rr, w) => { const { sum, out } = S.addRmsNorm(x, rr, w, 1e-5); return S.add(out, S.mul(sum, 0.5)); },
      ref: ([x, rr, w]) => {
        const s = x.map((v, i) => v + rr[i]);
        const o = rmsNormRef(s, w, D, 1e-5);
        return o.map((v, i) => v + 0.5 * s[i]);
      },
      // out + sum / 2 cancels where out and sum / 2 have opposite signs: the floor is 1/10 of the output's scale.
      fwd: { rtol: 1e-5, floorRel: 0.1 }, bwd: { rtol: 1e-4, floorRel: 1e-2 },
    });
  }
});

deviceTest("rope: default positions, an offset with a custom theta, explicit positions [B, T]", (device) => {
  const r = rng(83);
  const dims = [2, 5, 3, 8];
  const X = r.normal(size(dims));
  const seq = (off) => Int32Array.from({ length: 10 }, (_, i) => off + (i % 5));
  const explicit = Int32Array.from([9, 0, 3, 3, 12, 1, 7, 2, 0, 5]);
  for (const [label, opts, pos] of [
    ["default", {}, seq(0)],
    ["offset 37 theta 500", { offset: 37, theta: 500 }, seq(37)],
    ["positions [B, T]", "positions", explicit],
  ]) {
    const maxPos = Math.max(...pos);
    checkOp({
      device, label: `rope ${label}`, inputs: [{ data: X, shape: dims }, { data: pos, shape: [2, 5] }],
      fn: (x, p) => S.rope(x, opts === "positions" ? { positions: p } : opts), outShape: dims, grads: [0],
      ref: ([x, p]) => ropeRef(x, dims, p, opts.theta ?? 10000),
      fwd: { rtol: 1e-5, atol: 1e-6 * (1 + maxPos) * maxAbs(X) }, bwd: { rtol: 1e-5, atol: 1e-6 * (1 + maxPos) * 3 },
    });
  }
});

test("harness: the device list has the cpu first and no duplicates", () => {
  assert.equal(DEVICES[0].device, "cpu");
  assert.equal(new Set(DEVICES.map((d) => d.label)).size, DEVICES.length);
});

leakCheck();
