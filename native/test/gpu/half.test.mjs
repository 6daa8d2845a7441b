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
