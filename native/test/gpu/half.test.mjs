// GPU check of bfloat16 / float16 on CUDA against the CPU, through the raw `native` API: casts between every pair of
// dtypes (bit-exact), float32 kernels run on half buffers (the binding widens them exactly and rounds the results
// back once: bit-exact against the cpu for elementwise ops, float32 tolerance then one rounding for reductions), and
// the half-precision GEMM (tensor cores: cuBLAS when loaded, else Seekr's WMMA kernel) for bf16 / f16 operands with
// f32 / bf16 / f16 outputs, every transpose, batch broadcast, beta 0 / 1, against the cpu's float32 GEMM on the same
// values (accumulation order differs: a few units in the last place of the output dtype).
//
// Skips where no CUDA device is usable. SEEKR_OPS_TEST_SELF=1 runs the harness CPU-vs-CPU (checks the test itself).
// Run it twice on a GPU machine: as is (cuBLAS when the machine has it) and with SEEKR_CUBLAS=off (Seekr's kernel);
// the first diagnostic line says which GEMM ran.
import { test } from "node:test";
import assert from "node:assert/strict";
import { native } from "../../index.js";
import { randn, rng } from "./random.mjs";

const SELF = process.env.SEEKR_OPS_TEST_SELF === "1";
const gpu = native.backendInfo().cudaAvailable;
const DEV = SELF ? 0 : 1;
const opts = { skip: !gpu && !SELF };
const F32 = 0, I32 = 1, BF16 = 2, F16 = 3;
const NAMES = ["float32", "int32", "bfloat16", "float16"];


// Buffers on one device; half data goes up as float32 and is cast on that device (so both sides hold the same bits
// only if the casts agree — checked first, bit for bit).
class Pool {
  constructor(dev) { this.dev = dev; this.handles = []; }
  alloc(dtype, n) { const h = native.alloc(this.dev, 0, dtype, n); this.handles.push(h); return h; }
  of(data, dtype) {
    const f = this.alloc(F32, data.length);
    if (data.length) native.upload(f, data);
    if (dtype === F32) return f;
    const h = this.alloc(dtype, data.length);
    native.cast(h, f);
    return h;
  }
  // Values as float32 (half buffers are cast back on their device).
  get(h, n) {
    const f = this.alloc(F32, n);
    native.cast(f, h);
    return native.download(f);
  }
  bits(h) { return native.download(h); }
  dispose() { for (const h of this.handles) native.dispose(h); this.handles = []; }
}
function both(fn) {
  const out = {};
  for (const [key, dev] of [["cpu", 0], ["dev", DEV]]) {
    const p = new Pool(dev);
    try { out[key] = fn(p); } finally { p.dispose(); }
  }
  return out;
}
function sameBits(what, got, want) {
  assert.equal(got.length, want.length, `${what}: lengths`);
  const u = (a) => (a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a);
  const g = u(got), w = u(want);
  let bad = 0, first = -1;
  for (let i = 0; i < w.length; i++) {
    const nan = Number.isNaN(got[i]) && Number.isNaN(want[i]);
    if (g[i] !== w[i] && !nan) { bad++; if (first < 0) first = i; }
  }
  if (bad) assert.fail(`${what}: ${bad} of ${w.length} differ; first at ${first}: device ${got[first]} vs cpu ${want[first]}`);
}
// The spacing of dtype's values at x (its unit in the last place; subnormal spacing below the normal range).
function ulpOf(x, dtype) {
  const [bits, emin] = dtype === BF16 ? [7, -126] : dtype === F16 ? [10, -14] : [23, -126];
  const a = Math.abs(x);
  const e = a > 0 ? Math.max(Math.floor(Math.log2(a)), emin) : emin;
  return 2 ** (e - bits);
}
// |got - want| <= ulps * ulp(dtype) at max(|want|, scale) (scale: the output's magnitude, for sums that cancel).
function closeUlps(t, what, got, want, dtype, ulps, scale = 0) {
  let bad = 0, worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const lim = ulps * ulpOf(Math.max(Math.abs(want[i]), scale), dtype);
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= lim)) bad++;
    const r = lim > 0 ? e / lim : 0;
    if (r > worst) { worst = r; at = i; }
  }
  t?.diagnostic(`${what}: worst ${at >= 0 ? `${got[at]} vs ${want[at]} (${worst.toFixed(2)} of the bound)` : "exact"}`);
  if (bad) assert.fail(`${what}: ${bad} of ${want.length} elements off by more than ${ulps} ulp(${NAMES[dtype]}); worst at ${at}: device ${got[at]} vs cpu ${want[at]}`);
}

test("the CUDA GEMM in use", opts, (t) => {
  t.diagnostic(`cuda gemm: ${native.backendInfo().cudaGemm}`);
});

test("cast: every pair of float32 / int32 / bfloat16 / float16 is bit-exact against the cpu (specials included)", opts, () => {
  const r = rng(1);
  const vals = Float32Array.from([...randn(r, 300, 3), 0, -0, NaN, Infinity, -Infinity, 65504, 65520, 1e-8, 6e-8, 3.4e38, -3.4e38, 1 + 2 ** -8, 2 ** 31, -(2 ** 31) - 1e3, 123456.7]);
  for (const from of [F32, I32, BF16, F16])
    for (const to of [F32, I32, BF16, F16]) {
      const { cpu, dev } = both((p) => {
        const src = from === I32 ? (() => { const h = p.alloc(I32, vals.length); native.upload(h, Int32Array.from(vals, (v) => (Number.isFinite(v) ? Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(v))) : 0))); return h; })() : p.of(vals, from);
        const dst = p.alloc(to, vals.length);
        native.cast(dst, src);
        return p.bits(dst);
      });
      sameBits(`cast ${NAMES[from]} -> ${NAMES[to]}`, dev, cpu);
    }
});

test("float32 kernels on half buffers: elementwise bit-exact, reductions and fused nn ops within one ulp", opts, (t) => {
  const r = rng(2);
  for (const dt of [BF16, F16]) {
    const n = 4099, rows = 37, cols = 111;
    const a = randn(r, n), b = randn(r, n), x = randn(r, rows * cols, 2), w = randn(r, cols);
    const ids = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    const res = both((p) => {
      const ha = p.of(a, dt), hb = p.of(b, dt), out = p.alloc(dt, n);
      native.binary(2, ha, [1], hb, [1], out, [n]); // mul
      const mul = p.get(out, n);
      const mixed = p.alloc(F32, n);
      native.binary(0, ha, [1], p.of(b, F32), [1], mixed, [n]); // add(half, f32) -> f32
      const add = p.get(mixed, n);
      const un = p.alloc(dt, n);
      native.unary(7, ha, un, 0); // silu
      const silu = p.get(un, n);
      const hx = p.of(x, dt), sm = p.alloc(dt, rows * cols);
      native.softmax(hx, sm, rows, cols, false);
      const soft = p.get(sm, rows * cols);
      const y = p.alloc(dt, rows * cols), rstd = p.alloc(F32, rows);
      native.rmsNorm(hx, p.of(w, dt), y, rstd, rows, cols, 1e-5);
      const rms = p.get(y, rows * cols);
      const loss = p.alloc(F32, 1), lse = p.alloc(F32, rows), tg = p.alloc(I32, rows);
      native.upload(tg, ids);
      native.crossEntropy(hx, tg, loss, lse, rows, cols, -100);
      const ce = native.download(loss);
      const s = p.alloc(dt, cols);
      native.reduceSum(hx, s, 1, rows, cols, 1);
      const sum = p.get(s, cols);
      return { mul, add, silu, soft, rms, ce, sum };
    });
    const name = NAMES[dt];
    sameBits(`${name} mul`, res.dev.mul, res.cpu.mul);
    sameBits(`${name} add with float32`, res.dev.add, res.cpu.add);
    sameBits(`${name} silu`, res.dev.silu, res.cpu.silu);
    closeUlps(t, `${name} softmax`, res.dev.soft, res.cpu.soft, dt, 1);
    closeUlps(t, `${name} rmsNorm`, res.dev.rms, res.cpu.rms, dt, 1);
    closeUlps(t, `${name} crossEntropy (float32 loss)`, res.dev.ce, res.cpu.ce, F32, 128);
    closeUlps(t, `${name} sum over rows`, res.dev.sum, res.cpu.sum, dt, 1, 1);
  }
});

// rmsNorm with a fused residual add and mixed dtypes (the autocast block: float32 stream x and sum, 16-bit branch and
// output), and the backward of a 16-bit gy into float32 x / gx / gw (accumulate too). Column counts pick the kernels:
// 768 and 16 the register-row / fused ones, 111 the scalar AnyF one (unaligned rows), 1040 the block kernel. The sum
// is a float32 add (bit-exact); y within a unit of a 16-bit output (another float32 order of the sum of squares), 64
// float32 ulps for rstd and a float32 y (the float32 test's rtol 1e-5); the backward's gx within 256 float32 ulps of
// max(|gx|, 1/2) (the float32 test's rtol 1e-4, atol 1e-5), gw within `rows` ulps of its sqrt(rows) scale.
test("rmsNorm with a fused residual add, float32 stream with 16-bit branch / output / gradient", opts, (t) => {
  const r = rng(11);
  for (const dt of [BF16, F16]) {
    const name = NAMES[dt];
    for (const [rows, cols] of [[100, 768], [6, 16], [37, 111], [9, 1040]]) {
      const n = rows * cols;
      const x = randn(r, n, 2), res = randn(r, n), w = randn(r, cols), gy = randn(r, n), base = randn(r, n);
      // [x dtype, residual dtype, y dtype]: the autocast block, its float32-output variant, all float32, all 16-bit.
      for (const [xt, rt, yt] of [[F32, dt, dt], [F32, dt, F32], [F32, F32, F32], [dt, dt, dt], [F32, null, dt]]) {
        const st = xt;
        const out = both((p) => {
          const hx = p.of(x, xt), hw = p.of(w, xt), y = p.alloc(yt, n), rstd = p.alloc(F32, rows);
          const hr = rt === null ? null : p.of(res, rt), sum = rt === null ? null : p.alloc(st, n);
          native.rmsNorm(hx, hw, y, rstd, rows, cols, 1e-5, hr, sum);
          return { y: p.get(y, n), rstd: native.download(rstd), sum: sum ? p.get(sum, n) : null };
        });
        const what = `${name} rmsNorm x ${NAMES[xt]} + residual ${rt === null ? "none" : NAMES[rt]} -> ${NAMES[yt]} rows=${rows} cols=${cols}`;
        if (out.cpu.sum) sameBits(`${what} sum`, out.dev.sum, out.cpu.sum);
        closeUlps(t, `${what} rstd`, out.dev.rstd, out.cpu.rstd, F32, 64);
        closeUlps(t, `${what} y`, out.dev.y, out.cpu.y, yt, yt === F32 ? 64 : 1);
      }
      const rstd = Float32Array.from({ length: rows }, () => 0.5 + r());
      const back = both((p) => {
        const hx = p.of(x, F32), hw = p.of(w, F32), hgy = p.of(gy, dt), hr = p.of(rstd, F32);
        const gx = p.alloc(F32, n), gw = p.alloc(F32, cols), gxa = p.of(base, F32), gw2 = p.alloc(F32, cols);
        native.rmsNormBackward(hx, hw, hr, hgy, gx, gw, rows, cols);
        native.rmsNormBackward(hx, hw, hr, hgy, gxa, gw2, rows, cols, true);
        // gxCopy: the final gx rounded to the 16-bit dtype in the same pass (the fused residual add's branch gradient)
        const gxc = p.of(base, F32), copy = p.alloc(dt, n);
        native.rmsNormBackward(hx, hw, hr, hgy, gxc, p.alloc(F32, cols), rows, cols, true, copy);
        const rounded = p.alloc(dt, n);
        native.cast(rounded, gxc);
        return { gx: p.get(gx, n), gw: p.get(gw, cols), gxa: p.get(gxa, n), gxc: p.get(gxc, n), copy: p.get(copy, n), rounded: p.get(rounded, n) };
      });
      sameBits(`${name} rmsNormBackward gxCopy rows=${rows} cols=${cols}: gx unchanged by the copy`, back.dev.gxc, back.dev.gxa);
      sameBits(`${name} rmsNormBackward gxCopy rows=${rows} cols=${cols}: the copy is gx rounded`, back.dev.copy, back.dev.rounded);
      const what = `${name} rmsNormBackward float32 x, ${name} gy rows=${rows} cols=${cols}`;
      closeUlps(t, `${what} gx`, back.dev.gx, back.cpu.gx, F32, 256, 0.5);
      closeUlps(t, `${what} accumulate gx`, back.dev.gxa, back.cpu.gxa, F32, 256, 0.5);
      closeUlps(t, `${what} gw`, back.dev.gw, back.cpu.gw, F32, rows, Math.sqrt(rows));
    }
  }
});

// The fast paths of the fused nn kernels on half buffers, at a training step's shapes (16-byte chunks): cross-entropy
// over 32000 classes (rows 16-byte aligned) and 1029 (not), with its backward (float32 exponentials on the device:
// ~2 float32 ulp from the cpu's, so at most one rounding apart in the half gradient); the RMSNorm backward's fused
// kernel (cols 768) with and without accumulate (its weight gradient summed in another order than the cpu's: within a
// unit of the half output); rope from the cached table (dim 64: bit-exact formula, one unit allowed).
test("fused nn fast paths on half buffers: crossEntropy (+ backward), rmsNormBackward (+ accumulate), rope table", opts, (t) => {
  const r = rng(7);
  for (const dt of [BF16, F16]) {
    const name = NAMES[dt];
    for (const [rows, cols] of [[4, 32000], [5, 1029]]) {
      const x = randn(r, rows * cols, 2);
      const tg = Int32Array.from({ length: rows }, (_, i) => (i === 1 ? -100 : (i * 7919) % cols));
      const res = both((p) => {
        const hx = p.of(x, dt), ht = p.alloc(I32, rows);
        native.upload(ht, tg);
        const loss = p.alloc(F32, 1), lse = p.alloc(F32, rows), gx = p.alloc(dt, rows * cols);
        const count = native.crossEntropy(hx, ht, loss, lse, rows, cols, -100);
        native.crossEntropyBackward(hx, ht, lse, p.of(Float32Array.of(1.5), F32), gx, rows, cols, -100, count);
        return { loss: native.download(loss), lse: native.download(lse), gx: p.get(gx, rows * cols) };
      });
      const what = `${name} crossEntropy rows=${rows} cols=${cols}`;
      closeUlps(t, `${what} lse`, res.dev.lse, res.cpu.lse, F32, 8);
      closeUlps(t, `${what} loss`, res.dev.loss, res.cpu.loss, F32, 8);
      closeUlps(t, `${what} backward`, res.dev.gx, res.cpu.gx, dt, 1);
    }
    {
      const rows = 100, cols = 768, n = rows * cols;
      const x = randn(r, n), w = randn(r, cols), gy = randn(r, n), base = randn(r, n);
      const rstd = Float32Array.from({ length: rows }, () => 0.5 + r());
      const res = both((p) => {
        const hx = p.of(x, dt), hw = p.of(w, dt), hgy = p.of(gy, dt), hr = p.of(rstd, F32);
        const gx = p.alloc(dt, n), gw = p.alloc(dt, cols);
        native.rmsNormBackward(hx, hw, hr, hgy, gx, gw, rows, cols);
        const gxa = p.of(base, dt), gw2 = p.alloc(dt, cols);
        native.rmsNormBackward(hx, hw, hr, hgy, gxa, gw2, rows, cols, true);
        return { gx: p.get(gx, n), gw: p.get(gw, cols), gxa: p.get(gxa, n), gw2: p.get(gw2, cols) };
      });
      const what = `${name} rmsNormBackward rows=${rows} cols=${cols}`;
      closeUlps(t, `${what} gx`, res.dev.gx, res.cpu.gx, dt, 1, 0.05);
      closeUlps(t, `${what} gw`, res.dev.gw, res.cpu.gw, dt, 1, 1);
      closeUlps(t, `${what} accumulate gx`, res.dev.gxa, res.cpu.gxa, dt, 1, 0.05);
      closeUlps(t, `${what} accumulate gw`, res.dev.gw2, res.dev.gw, dt, 0);
    }
    {
      const B = 2, T = 32, H = 3, D = 64, n = B * T * H * D;
      const x = randn(r, n);
      for (const sign of [1, -1]) {
        const res = both((p) => {
          const o = p.alloc(dt, n);
          native.rope(p.of(x, dt), null, o, B * T, H, D, 10000, sign, T, 2);
          return p.get(o, n);
        });
        closeUlps(t, `${name} rope table sign=${sign}`, res.dev, res.cpu, dt, 1);
      }
    }
  }
});

// Values for the fused / vectorised elementwise checks: normal data with specials sprinkled in (NaN, infinities, -0,
// magnitudes where sigmoid saturates or exp overflows).
function withSpecials(r, n, scale) {
  const a = randn(r, n, scale);
  const sp = [NaN, Infinity, -Infinity, -0, 0, 100, -100, 90, -90, 1e-30, 65504];
  for (let i = 0; i < n; i++) if (r() < 0.02) a[i] = sp[Math.floor(r() * sp.length)];
  return a;
}
// sameBits, except that any two NaNs match: NaN payloads and signs differ between the host's float operations and the
// GPU's (canonical NaN) before they are rounded to a 16-bit dtype.
function sameBitsAnyNaN(what, got, want, dtype) {
  if (dtype === F32) return sameBits(what, got, want);
  const nan = (b) => (dtype === BF16 ? (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0 : (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0);
  assert.equal(got.length, want.length, `${what}: lengths`);
  let bad = 0, first = -1;
  for (let i = 0; i < want.length; i++)
    if (got[i] !== want[i] && !(nan(got[i]) && nan(want[i]))) { bad++; if (first < 0) first = i; }
  if (bad) assert.fail(`${what}: ${bad} of ${want.length} differ; first at ${first}: device bits ${got[first]} vs cpu ${want[first]}`);
}
// |got - want| <= ulps * ulp(dtype) at max(|want_i|, scale_i) per element (equal values, infinities included, and any
// two NaNs match): for float32 outputs of kernels that call exp, whose float32 results on the GPU (exp in double,
// rounded) and the cpu (glibc's expf) differ in the last bit for about 1 input in 10^4; half outputs then round alike
// or one unit apart. scale_i covers cancellation (1 + x (1 - s) in silu').
function closeEach(what, got, want, dtype, ulps, scale = null) {
  assert.equal(got.length, want.length, `${what}: lengths`);
  let bad = 0, first = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    const lim = ulps * ulpOf(Math.max(Math.abs(w), scale ? scale[i] : 0), dtype);
    if (!(Math.abs(g - w) <= lim)) { bad++; if (first < 0) first = i; }
  }
  if (bad) assert.fail(`${what}: ${bad} of ${want.length} off by more than ${ulps} ulps; first at ${first}: device ${got[first]} vs cpu ${want[first]}`);
}
// Sizes: empty, a tail alone (< 8), whole chunks only, chunks and a tail, and a size spread over many blocks.
const VSIZES = [0, 1, 7, 8, 9, 4099, 8 * 5000 + 5];

test("swiglu / swigluBackward against the cpu for every dtype, mixed dtypes, vector body and tail (exp's last bit aside)", opts, () => {
  const r = rng(5);
  // [gate, up, out] dtypes; the backward's gy / ggate / gup take out / gate / up's dtypes.
  const combos = [[F32, F32, F32], [BF16, BF16, BF16], [F16, F16, F16], [BF16, F32, F32], [F32, F16, F32], [BF16, BF16, F32]];
  for (const n of VSIZES)
    for (const [gt, ut, ot] of combos) {
      const g = withSpecials(r, n, 3), u = withSpecials(r, n, 1.5), gy = withSpecials(r, n, 1);
      const res = both((p) => {
        const hg = p.of(g, gt), hu = p.of(u, ut), out = p.alloc(ot, n);
        native.swiglu(hg, hu, out);
        const dg = p.alloc(gt, n), du = p.alloc(ut, n);
        const hy = p.of(gy, ot);
        native.swigluBackward(hg, hu, hy, dg, du);
        return { out: p.get(out, n), dg: p.get(dg, n), du: p.get(du, n), g: p.get(hg, n), u: p.get(hu, n), gy: p.get(hy, n) };
      });
      const what = `n=${n} gate ${NAMES[gt]} up ${NAMES[ut]} out ${NAMES[ot]}`;
      const { g: G, u: U, gy: Y } = res.cpu;
      // silu'(x) gy up = gy up s (1 + x (1 - s)) cancels near x = -1.28: judged at |gy up| (1 + |x|)
      const scale = Float64Array.from(G, (x, i) => Math.abs(Y[i] * U[i]) * (1 + Math.abs(x)));
      const ulps = (dt) => (dt === F32 ? 4 : 1);
      closeEach(`swiglu ${what}`, res.dev.out, res.cpu.out, ot, ulps(ot));
      closeEach(`swigluBackward ggate ${what}`, res.dev.dg, res.cpu.dg, gt, ulps(gt), scale);
      closeEach(`swigluBackward gup ${what}`, res.dev.du, res.cpu.du, ut, ulps(ut));
    }
  // In float32 the fused op is the unfused pair, bit for bit (the same operations in the same order), on the device
  // too. (In a 16-bit dtype the pair rounds silu(gate) and gy * up in between; the fused op rounds once.)
  {
    const dt = F32, n = 4099;
    const g = withSpecials(r, n, 3), u = withSpecials(r, n, 1.5), gy = withSpecials(r, n, 1);
    const p = new Pool(DEV);
    try {
      const hg = p.of(g, dt), hu = p.of(u, dt), hy = p.of(gy, dt);
      const fused = p.alloc(dt, n), s = p.alloc(dt, n), unf = p.alloc(dt, n);
      native.swiglu(hg, hu, fused);
      native.unary(7, hg, s, 0); // silu
      native.binary(2, s, [1], hu, [1], unf, [n]); // mul
      sameBits("float32 swiglu vs mul(silu)", p.bits(fused), p.bits(unf));
      const dg = p.alloc(dt, n), du = p.alloc(dt, n), t = p.alloc(dt, n), dg2 = p.alloc(dt, n), du2 = p.alloc(dt, n);
      native.swigluBackward(hg, hu, hy, dg, du);
      native.binary(2, hy, [1], hu, [1], t, [n]); // gy * up
      native.unaryGrad(7, hg, t, dg2, 0); // silu'(gate) * (gy * up)
      native.binary(2, hy, [1], s, [1], du2, [n]); // gy * silu(gate)
      sameBits("float32 swigluBackward ggate vs the unfused pair", p.bits(dg), p.bits(dg2));
      sameBits("float32 swigluBackward gup vs the unfused pair", p.bits(du), p.bits(du2));
    } finally { p.dispose(); }
  }
});

test("swiglu / swigluBackward reject mismatched sizes, int32 buffers and aliased outputs, naming the op", opts, () => {
  const p = new Pool(DEV);
  try {
    const a = p.of(new Float32Array(8), F32), b = p.of(new Float32Array(8), F32), c = p.alloc(F32, 8), d = p.alloc(F32, 8);
    assert.throws(() => native.swiglu(a, p.alloc(F32, 7), c), /seekr\.swiglu: .*'up'/);
    assert.throws(() => native.swiglu(a, b, p.alloc(I32, 8)), /seekr\.swiglu: .*'out'/);
    assert.throws(() => native.swigluBackward(a, b, c, d, d), /seekr\.swigluBackward: 'ggate' must not be the same buffer as 'gup'/);
    assert.throws(() => native.swigluBackward(a, b, c, a, d), /seekr\.swigluBackward: 'ggate' must not be the same buffer as 'gate'/);
  } finally { p.dispose(); }
});

test("binary with a float32 and a 16-bit operand (the vectorised mixed path): bit-exact against the cpu", opts, () => {
  const r = rng(6);
  // [a, b, out]: float32 with bfloat16 / float16 in either order, out float32 or the 16-bit dtype; and bf16 with f16.
  const combos = [];
  for (const h of [BF16, F16])
    for (const o of [F32, h]) combos.push([F32, h, o], [h, F32, o]);
  combos.push([BF16, F16, F32]);
  const OPS = [[0, "add"], [1, "sub"], [2, "mul"], [3, "div"], [5, "maximum"], [9, "gt"]];
  for (const n of VSIZES)
    for (const [at, bt, ot] of combos) {
      const a = withSpecials(r, n, 2), b = withSpecials(r, n, 2);
      const res = both((p) => {
        const ha = p.of(a, at), hb = p.of(b, bt);
        const outs = {};
        for (const [op, name] of OPS) {
          const out = p.alloc(ot, n);
          native.binary(op, ha, [1], hb, [1], out, [n]);
          outs[name] = p.bits(out);
        }
        // broadcasting stays on the strided / scalar paths: [n] with [1], and a [2, n] with [n] row
        const s = p.of(b.subarray(0, Math.min(1, n)), bt), o1 = p.alloc(ot, n);
        if (n) native.binary(0, ha, [1], s, [0], o1, [n]);
        outs.scalar = p.bits(o1);
        const a2 = p.of(Float32Array.from([...a, ...a]), at), o2 = p.alloc(ot, 2 * n);
        native.binary(2, a2, [n, 1], hb, [0, 1], o2, [2, n]);
        outs.rows = p.bits(o2);
        return outs;
      });
      for (const k of Object.keys(res.cpu))
        sameBitsAnyNaN(`binary ${k} n=${n} ${NAMES[at]} with ${NAMES[bt]} -> ${NAMES[ot]}`, res.dev[k], res.cpu[k], ot);
    }
});

test("half GEMM: bf16 / f16 operands, f32 / bf16 / f16 outputs, transposes, batch broadcast, beta 0 and 1", opts, (t) => {
  const r = rng(3);
  const cases = [
    { batch: 1, M: 1, N: 1, K: 1 }, { batch: 1, M: 17, N: 33, K: 65 }, { batch: 3, M: 64, N: 128, K: 256 },
    { batch: 2, M: 130, N: 7, K: 1000, bcastB: true }, { batch: 1, M: 1024, N: 768, K: 768 }, { batch: 1, M: 5, N: 3, K: 0 },
  ];
  for (const ab of [BF16, F16])
    for (const out of [F32, BF16, F16])
      for (const c of cases)
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]])
          for (const beta of [0, 1]) {
            const aN = c.batch * c.M * c.K, bN = (c.bcastB ? 1 : c.batch) * c.K * c.N, cN = c.batch * c.M * c.N;
            const A = randn(r, aN), B = randn(r, bN), C0 = randn(r, cN);
            const res = both((p) => {
              const ha = p.of(A, ab), hb = p.of(B, ab), hc = p.of(C0, out);
              native.matmul(ha, hb, hc, c.batch, c.M, c.N, c.K, ta, tb, c.M * c.K, c.bcastB ? 0 : c.K * c.N, 1, beta, 0);
              return p.get(hc, cN);
            });
            // f32 accumulation of K products in another order: ~K * 2^-24 relative to the sum of |terms| (~sqrt(K)),
            // then one rounding to the output dtype.
            const scale = Math.sqrt(Math.max(c.K, 1)) + (beta ? 3 : 0);
            closeUlps(null, `matmul ${NAMES[ab]} -> ${NAMES[out]} ${JSON.stringify(c)} transA ${ta} transB ${tb} beta ${beta}`,
              res.dev, res.cpu, out === F32 ? BF16 : out, out === F32 ? 0.02 : 1.01, scale);
          }
  t.diagnostic(`checked ${2 * 3 * cases.length * 4 * 2} GEMM cases on ${native.backendInfo().cudaGemm}`);
});
