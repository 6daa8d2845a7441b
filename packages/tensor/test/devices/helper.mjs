// Shared harness of the per-device op suite (test/devices/*.test.mjs): the device list, registration of every test
// once per device, a seeded PRNG, float64 references (plain JS), finite-difference gradients of those references,
// tolerant comparisons, and the per-device leak check. Plain node:test + node:assert over the built dist/, so it runs
// on a GPU machine that has node, dist/ and the addon but no node_modules.
//
// Devices: "cpu" always; every entry of devices().cuda.devices when devices().cuda.available. Where no CUDA device
// is usable only the CPU copy registers. SEEKR_DEVICE_SUITE_SELF=1 adds a second copy on the cpu under the pseudo
// name "cpu:self" (to check the harness itself on a machine without a GPU, like SEEKR_OPS_TEST_SELF in native/test).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as S from "../../dist/index.js";
// Index arithmetic and scalar references, shared with src/ops/reference.test.ts.
import { size, stridesOf, unravel, ravel, bcastIndex, bcastShape, erf, sigm, geluRef, geluTanhRef } from "../../dist/testing/reference.js";
export { size, stridesOf, unravel, ravel, bcastIndex, bcastShape, erf, sigm, geluRef, geluTanhRef };

export { S, assert };

// ---- devices --------------------------------------------------------------------------------------------------------

const report = S.devices();
const SELF = process.env.SEEKR_DEVICE_SUITE_SELF === "1";

/** [{ label, device }]: label goes into test names, device is what tensors are moved to. */
export const DEVICES = [{ label: "cpu", device: "cpu" }];
if (report.cuda.available) for (const d of report.cuda.devices) DEVICES.push({ label: d.device, device: d.device });
if (SELF) DEVICES.push({ label: "cpu:self", device: "cpu" });

/** One line saying which devices run and, where CUDA does not, why (devices().cuda.reason). */
export function deviceLine() {
  const list = DEVICES.map((d) => d.label).join(", ");
  if (report.cuda.available) return `device suite: ${list} (${report.cuda.devices.map((d) => `${d.device} ${d.name}`).join("; ")})`;
  return `device suite: ${list}; CUDA copies not registered: ${report.cuda.reason || "CUDA not available"}`;
}

// ---- memory: per-test deltas and the per-file leak check ------------------------------------------------------------

const liveBytes = () => {
  const m = S.memory();
  const out = {};
  for (const [k, v] of Object.entries(m.devices)) out[k] = { bytes: v.bytes, buffers: v.buffers };
  return { devices: out, tensors: m.tensors };
};
const BASELINE = liveBytes(); // taken when the test file imports this module, before any tensor exists
const MARGINS = process.env.SEEKR_DEVICE_SUITE_MARGINS === "1";
const margins = []; // [error / tolerance, label] of every comparison, printed by leakCheck() when MARGINS is set
const deltas = []; // tests after which some device held more (or fewer) live bytes than before them

/**
 * Registers `fn(device, label)` once per device as `[label] name`. The body runs inside tidy(); tensors it keeps
 * (keep()) must be disposed by the body. Bytes that a test leaves behind on any device are recorded for the leak check.
 */
export function deviceTest(name, fn, opts = {}) {
  for (const d of DEVICES) {
    test(`[${d.label}] ${name}`, opts, () => {
      const before = liveBytes();
      try {
        S.tidy(() => {
          fn(d.device, d.label);
        });
      } finally {
        const after = liveBytes();
        const changed = [];
        for (const dev of new Set([...Object.keys(before.devices), ...Object.keys(after.devices)])) {
          const b = before.devices[dev]?.bytes ?? 0;
          const a = after.devices[dev]?.bytes ?? 0;
          if (a !== b) changed.push(`${dev} ${b} -> ${a} bytes`);
        }
        if (after.tensors !== before.tensors) changed.push(`tensors ${before.tensors} -> ${after.tensors}`);
        if (changed.length) deltas.push(`[${d.label}] ${name}: ${changed.join(", ")}`);
      }
    });
  }
}

/**
 * Registers the leak check of this file, one test per device: the live bytes and buffers of every device are back to
 * where they were when the file started. Call it last in each test file.
 */
export function leakCheck() {
  if (MARGINS)
    test("margins: the 12 comparisons closest to their tolerance (SEEKR_DEVICE_SUITE_MARGINS=1)", () => {
      margins.sort((a, b) => b[0] - a[0]);
      for (const [r, l] of margins.slice(0, 12)) console.log(`${r.toFixed(3)}  ${l}`);
    });
  const names = new Set(DEVICES.map((d) => d.device));
  for (const dev of names) {
    test(`[${dev}] memory: live bytes back to the file's baseline (leak check)`, () => {
      const now = liveBytes();
      const b = BASELINE.devices[dev] ?? { bytes: 0, buffers: 0 };
      const a = now.devices[dev] ?? { bytes: 0, buffers: 0 };
      const where = deltas.length ? `; tests that changed live memory: ${deltas.join("; ")}` : "";
      assert.equal(a.bytes, b.bytes, `${dev}: ${a.bytes - b.bytes} bytes still live after the file's tests${where}`);
      assert.equal(a.buffers, b.buffers, `${dev}: ${a.buffers - b.buffers} buffers still live${where}`);
      assert.equal(now.tensors, BASELINE.tensors, `${now.tensors - BASELINE.tensors} tensors not disposed${where}`);
    });
  }
}

// ---- seeded data ----------------------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** Normal(0, std) values rounded to float32 (Box-Muller). */
    normal: (n, std = 1, mean = 0) =>
      Float32Array.from({ length: n }, () => mean + std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())),
    uniform: (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next()),
    ints: (n, lo, hi) => Int32Array.from({ length: n }, () => lo + Math.floor(next() * (hi - lo))),
    /** |x| in [lo, hi] with random signs: away from the kinks of relu / abs and the pole of 1/x. */
    away: (n, lo = 0.2, hi = 2) => Float32Array.from({ length: n }, () => (next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * next())),
    /** Values on the grid 0.25 k + offset, k in -8..8: two grids with offsets 0 and 0.125 never tie. */
    grid: (n, offset = 0) => Float32Array.from({ length: n }, () => 0.25 * (Math.floor(next() * 17) - 8) + offset),
    /** Pairwise distinct values 0.1 apart (a random permutation), so max has no ties. */
    distinct: (n) => {
      const u = Array.from({ length: n }, () => next());
      const order = [...u.keys()].sort((a, b) => u[a] - u[b]);
      const out = new Float32Array(n);
      order.forEach((k, rank) => (out[k] = 0.1 * rank - 0.05 * n));
      return out;
    },
  };
}

// ---- dtypes ---------------------------------------------------------------------------------------------------------

/** Rounds one value to the dtype, once (float64 -> float32 -> half: the float32 step is exact for half-sized values). */
export function roundTo(dtype, v) {
  if (dtype === "bfloat16") return S.bf16BitsToF32(S.f32ToBf16Bits(v));
  if (dtype === "float16") return S.f16BitsToF32(S.f32ToF16Bits(v));
  return Math.fround(v);
}
export const roundAll = (dtype, arr) => Float64Array.from(arr, (v) => roundTo(dtype, v));
/** Unit in the last place relative to |x| (the spacing of numbers in [1, 2)). */
export const EPS = { float32: 2 ** -23, bfloat16: 2 ** -7, float16: 2 ** -10 };

// ---- tensors on the device under test ---------------------------------------------------------------------------------

/** A tensor made on the cpu from `data` and copied to `device` (the cpu copy is freed). */
export function dev(device, data, shape, dtype) {
  const dt = dtype ?? (data instanceof Int32Array ? "int32" : "float32");
  const src = data instanceof Float64Array || Array.isArray(data) ? Float32Array.from(data) : data;
  const c = S.tensor(src, { shape, dtype: dt });
  const t = c.to(device);
  c.dispose();
  return t;
}
/** The values of a tensor (any device, any dtype) as float64. */
export const vals = (t) => Float64Array.from(t.toFloatArray());
export function assertShape(t, shape, label) {
  assert.deepEqual([...t.shape], [...shape], `${label}: shape [${t.shape}] vs expected [${shape}]`);
}

// ---- comparisons ----------------------------------------------------------------------------------------------------

export const maxAbs = (a) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/**
 * |got_i - ref_i| <= atol + rtol * max(|ref_i|, floor) for every element, where floor = floorRel * max|ref| (the
 * tensor's scale: elements produced by cancellation are judged against it) unless `floor` is given. NaN must meet
 * NaN and an infinity the same infinity. Throws naming the worst element.
 */
export function assertClose(label, got, ref, { rtol = 1e-5, atol = 0, floorRel = 0, floor } = {}) {
  assert.equal(got.length, ref.length, `${label}: ${got.length} values vs ${ref.length} expected`);
  const fl = floor ?? floorRel * maxAbs(ref);
  let worst = -1;
  let worstRatio = 1;
  let bad = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = got[i];
    const e = ref[i];
    let ratio;
    if (Number.isNaN(e)) ratio = Number.isNaN(a) ? 0 : Infinity;
    else if (!Number.isFinite(e)) ratio = a === e ? 0 : Infinity;
    else {
      const tol = atol + rtol * Math.max(Math.abs(e), fl);
      ratio = Number.isNaN(a) ? Infinity : Math.abs(a - e) / (tol || Number.MIN_VALUE);
    }
    if (ratio > 1) bad++;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (MARGINS) margins.push([worstRatioSeen(got, ref, atol, rtol, fl), label]);
  if (worst >= 0)
    assert.fail(
      `${label}: ${bad}/${ref.length} elements out of tolerance; worst element ${worst}: got ${got[worst]}, expected ${ref[worst]} ` +
        `(|err| ${Math.abs(got[worst] - ref[worst]).toExponential(3)} = ${worstRatio.toFixed(1)}x the tolerance ` +
        `atol ${atol} + rtol ${rtol} * max(|ref|, ${fl.toExponential(2)}))`,
    );
}

function worstRatioSeen(got, ref, atol, rtol, fl) {
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(ref[i])) continue;
    const tol = atol + rtol * Math.max(Math.abs(ref[i]), fl);
    m = Math.max(m, Math.abs(got[i] - ref[i]) / (tol || Number.MIN_VALUE));
  }
  return m;
}

/** Records how close a hand-made check came to its tolerance (printed with SEEKR_DEVICE_SUITE_MARGINS=1). */
export function noteMargin(label, err, tol) {
  if (MARGINS) margins.push([err / tol, label]);
}

/** Exact equality of two numeric arrays (NaN equals NaN), naming the first difference. */
export function assertEqualArrays(label, got, ref) {
  assert.equal(got.length, ref.length, `${label}: ${got.length} values vs ${ref.length} expected`);
  for (let i = 0; i < ref.length; i++) {
    const a = got[i];
    const e = ref[i];
    if (!(Object.is(a, e) || a === e || (Number.isNaN(a) && Number.isNaN(e))))
      assert.fail(`${label}: element ${i}: got ${a}, expected ${e}`);
  }
}

// ---- float64 references (formulas from src/ops/reference.test.ts where they exist) ----------------------------------

/** Elementwise binary op with broadcasting. */
export function binaryRef(f, A, sa, B, sb) {
  const shape = bcastShape(sa, sb);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = f(A[bcastIndex(idx, sa)], B[bcastIndex(idx, sb)]);
  }
  return out;
}

/** Reduces X over `axes` with fold(acc, value); values in the kept-dims layout. */
export function reduceRef(X, shape, axes, init, fold) {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(kept)).fill(init);
  for (let i = 0; i < X.length; i++) {
    const o = ravel(unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v)), kept);
    out[o] = fold(out[o], X[i]);
  }
  return out;
}

/** softmax / logSoftmax along `axis` (stable). */
export function softmaxRef(X, shape, axis, log) {
  const n = shape[axis];
  const st = stridesOf(shape)[axis];
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) {
    if (unravel(i, shape)[axis] !== 0) continue;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, X[i + j * st]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(X[i + j * st] - m);
    for (let j = 0; j < n; j++) {
      const lp = X[i + j * st] - m - Math.log(s);
      out[i + j * st] = log ? lp : Math.exp(lp);
    }
  }
  return out;
}

/** Naive matmul with batch broadcasting and transposes. */
export function matmulRef(A, aShape, B, bShape, ta, tb) {
  const aB = aShape.slice(0, -2);
  const bB = bShape.slice(0, -2);
  const batch = bcastShape(aB, bB);
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const [M, K] = ta ? [ac, ar] : [ar, ac];
  const N = tb ? br : bc;
  const out = new Float64Array(size(batch) * M * N);
  for (let bi = 0; bi < size(batch); bi++) {
    const bidx = unravel(bi, batch);
    const ao = bcastIndex(bidx, aB) * ar * ac;
    const bo = bcastIndex(bidx, bB) * br * bc;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[ao + (ta ? k * ac + i : i * ac + k)] * B[bo + (tb ? j * bc + k : k * bc + j)];
        out[(bi * M + i) * N + j] = s;
      }
  }
  return { out, shape: [...batch, M, N] };
}

/** Mean cross-entropy over rows whose target is not `ignore` (NaN when none is kept). */
export function crossEntropyRef(L, tg, V, ignore) {
  let total = 0;
  let count = 0;
  for (let r = 0; r < tg.length; r++) {
    if (tg[r] === ignore) continue;
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, L[r * V + c]);
    let s = 0;
    for (let c = 0; c < V; c++) s += Math.exp(L[r * V + c] - m);
    total += m + Math.log(s) - L[r * V + tg[r]];
    count++;
  }
  return count === 0 ? NaN : total / count;
}

/** x * rsqrt(mean(x^2) + eps) * w over the last axis of length D. */
export function rmsNormRef(X, W, D, eps) {
  const out = new Float64Array(X.length);
  for (let r = 0; r < X.length / D; r++) {
    let ss = 0;
    for (let c = 0; c < D; c++) ss += X[r * D + c] ** 2;
    const rs = 1 / Math.sqrt(ss / D + eps);
    for (let c = 0; c < D; c++) out[r * D + c] = X[r * D + c] * rs * W[c];
  }
  return out;
}

/** Hugging Face rotate_half RoPE: inv_freq[i] = 1 / theta^(2i/D), emb = cat(freqs, freqs); pos[b * T + t]. */
export function ropeRef(X, [B, T, H, D], pos, theta) {
  const out = new Float64Array(X.length);
  const half = D / 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const p = pos[b * T + t];
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D;
        for (let i = 0; i < half; i++) {
          const ang = p * (1 / theta ** ((2 * i) / D));
          const c = Math.cos(ang);
          const s = Math.sin(ang);
          const x1 = X[o + i];
          const x2 = X[o + i + half];
          out[o + i] = x1 * c - x2 * s;
          out[o + i + half] = x2 * c + x1 * s;
        }
      }
    }
  return out;
}

/**
 * Attention probabilities and output. q [B,Tq,H,D], k/v [B,Tk,Hkv,D]; kv head of query head h is floor(h / (H/Hkv));
 * causal: query t sees keys j <= t + (Tk - Tq); mask [B*Tk] (0 = padding). A row that sees no key gives zeros.
 * Returns { out [B,Tq,H,D], P [B,H,Tq,Tk] }.
 */
export function attentionRef(Q, K, V, { B, Tq, Tk, H, Hkv, D }, { causal = true, scale = 1 / Math.sqrt(D), mask = null } = {}) {
  const out = new Float64Array(B * Tq * H * D);
  const P = new Float64Array(B * H * Tq * Tk);
  const group = H / Hkv;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const qo = ((b * Tq + i) * H + h) * D;
        const s = new Float64Array(Tk).fill(-Infinity);
        let m = -Infinity;
        for (let j = 0; j < Tk; j++) {
          if ((causal && j > i + (Tk - Tq)) || (mask && mask[b * Tk + j] === 0)) continue;
          const ko = ((b * Tk + j) * Hkv + hk) * D;
          let d = 0;
          for (let c = 0; c < D; c++) d += Q[qo + c] * K[ko + c];
          s[j] = d * scale;
          m = Math.max(m, s[j]);
        }
        if (m === -Infinity) continue; // no visible key: probabilities and output stay 0
        let z = 0;
        for (let j = 0; j < Tk; j++) z += s[j] === -Infinity ? 0 : Math.exp(s[j] - m);
        const prow = ((b * H + h) * Tq + i) * Tk;
        for (let j = 0; j < Tk; j++) P[prow + j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - m) / z;
        for (let c = 0; c < D; c++) {
          let acc = 0;
          for (let j = 0; j < Tk; j++) acc += P[prow + j] * V[((b * Tk + j) * Hkv + hk) * D + c];
          out[qo + c] = acc;
        }
      }
    }
  return { out, P };
}

/**
 * sum over (b, selected head, row) of KL(teacher || student) on the keys the student sees (teacher mass elsewhere is
 * ignored; teacher zeros contribute nothing), divided by the reduction's denominator.
 */
/** Teacher rows for attentionDistill: `rows` softmaxes of Normal(0, 1.5) logits over Tk keys, drawn from r in order. */
export function randomTeacher(r, rows, Tk) {
  const teacher = new Float32Array(rows * Tk);
  for (let i = 0; i < rows; i++) {
    const e = Array.from(r.normal(Tk, 1.5), Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((x, j) => (teacher[i * Tk + j] = x / z));
  }
  return teacher;
}

export function distillRef(Q, K, dims, { heads, rows, R, teacher, causal = true, mask, scale, reduction = "mean" }) {
  const { B, Tq, Tk, H, Hkv, D } = dims;
  const { P } = attentionRef(Q, K, new Float64Array(B * Tk * Hkv * D), dims, { causal, mask, scale });
  let total = 0;
  for (let b = 0; b < B; b++)
    heads.forEach((h, hi) => {
      for (let rr = 0; rr < R; rr++) {
        const t = rows[b * R + rr];
        for (let j = 0; j < Tk; j++) {
          const pt = teacher[((b * heads.length + hi) * R + rr) * Tk + j];
          const ps = P[((b * H + h) * Tq + t) * Tk + j];
          const visible = !(causal && j > t + (Tk - Tq)) && !(mask && mask[b * Tk + j] === 0);
          if (pt > 0 && visible) total += pt * (Math.log(pt) - Math.log(ps));
        }
      }
    });
  const denom = reduction === "mean" ? B * heads.length * R : reduction === "batchmean" ? B : 1;
  return total / denom;
}

// ---- gradients of the references ------------------------------------------------------------------------------------

/**
 * d/dx_k of sum(ref(xs) * w) for each k in `which`, by central differences of the float64 reference (step
 * 1e-5 * max(1, |x|)): truncation ~1e-10 and rounding ~1e-11 * sum|ref * w| relative, far below the float32
 * tolerances. Inputs must keep 1e-3 away from kinks (relu, abs, max ties, maximum/minimum ties).
 */
export function fdGrads(ref, xs, w, which = xs.map((_, i) => i)) {
  const loss = (ins) => {
    const o = ref(ins);
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * w[i];
    return s;
  };
  return which.map((k) => {
    const ins = xs.map((a) => Float64Array.from(a));
    const x = ins[k];
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i];
      const h = 1e-5 * Math.max(1, Math.abs(x0));
      x[i] = x0 + h;
      const lp = loss(ins);
      x[i] = x0 - h;
      const lm = loss(ins);
      x[i] = x0;
      g[i] = (lp - lm) / (2 * h);
    }
    return g;
  });
}

/**
 * The engine's gradients of sum(fn(...inputs) * w) with respect to the float tensors at `which` (the other inputs
 * are passed through). Returns { value, grads } (tensors on the device, freed by the enclosing tidy).
 */
export function engineGrads(fn, inputs, wT, which) {
  const vg = S.valueAndGrad((...fl) => {
    const all = inputs.slice();
    which.forEach((k, i) => (all[k] = fl[i]));
    const out = fn(...all);
    return S.sum(S.mul(out, wT));
  });
  return vg(...which.map((k) => inputs[k]));
}

/**
 * The standard check of one op on one device: inputs [{ data, shape, dtype? }] are made on the cpu and copied to the
 * device; the forward output is compared with ref(float64 inputs) and the gradients of sum(out * w) (w fixed,
 * seeded) with fdGrads of the reference. Half dtypes: inputs must be representable; the references are rounded
 * once to the output's / input's dtype and compared within `ulps` units in the last place of that dtype, judged at
 * max(|ref_i|, floorRel * max|ref|).
 *
 * spec: { device, label, inputs, fn, ref, outShape, grads: indices, fwd: tolerance, bwd: tolerance or [per input],
 *         seed, outDtype, exact: forward must be bit-exact }
 */
export function checkOp(spec) {
  const { device, label, inputs, fn, ref, grads = [], seed = 1 } = spec;
  const ts = inputs.map((x) => dev(device, x.data, x.shape, x.dtype));
  const X = inputs.map((x) => Float64Array.from(x.data));
  const out = fn(...ts);
  const outDtype = spec.outDtype ?? out.dtype;
  const refOut = ref(X);
  if (spec.outShape) assertShape(out, spec.outShape, `${label} forward`);
  assert.equal(S.deviceName(out.device), S.deviceName(ts[0].device), `${label}: output device`);
  if (spec.exact) assertEqualArrays(`${label} forward`, vals(out), roundAll(outDtype, refOut));
  else compareDtype(`${label} forward`, vals(out), refOut, outDtype, spec.fwd);
  if (!grads.length) return;
  const r = rng(seed * 7919 + 17);
  const w = roundAll(outDtype === "float32" ? "float32" : outDtype, r.normal(out.size));
  const wT = dev(device, w, [...out.shape], outDtype === "float32" ? "float32" : outDtype);
  const { grads: g } = engineGrads(fn, ts, wT, grads);
  const refG = fdGrads(ref, X, w, grads);
  grads.forEach((k, i) => {
    assertShape(g[i], inputs[k].shape, `${label} d input ${k}`);
    const dt = inputs[k].dtype ?? "float32";
    assert.equal(g[i].dtype, dt, `${label} d input ${k}: gradient dtype`);
    const tol = Array.isArray(spec.bwd) ? spec.bwd[i] : spec.bwd;
    compareDtype(`${label} d input ${k}`, vals(g[i]), refG[i], dt, tol);
  });
  S.dispose(g);
}

/** float32: assertClose with { rtol, atol, floorRel }; half: within `ulps` (default 2) ulps after rounding the ref once. */
export function compareDtype(label, got, ref, dtype, tol = {}) {
  if (dtype === "float32") return assertClose(label, got, ref, { rtol: 1e-5, ...tol });
  const ulps = tol.ulps ?? 2;
  assertClose(`${label} (${dtype})`, got, roundAll(dtype, ref), { rtol: ulps * EPS[dtype], floorRel: tol.floorRel ?? 0, atol: tol.atol ?? 0 });
}
