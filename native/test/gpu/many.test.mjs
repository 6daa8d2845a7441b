// GPU check of the one-launch multi-tensor kernels (adamwMany, scaleMany, sumSquaresMany: a table of tensors, each
// block finding its tensor) against the CPU, and of the ops that read int32 ids from a host copy (gatherRows /
// scatterAddRows with idsHost) — everything on the device's compute stream, read back only at the end.
// AdamW and scale are bit-for-bit with the CPU (same float operations); sumSquaresMany equals the device's own
// one-tensor sumSquares bit for bit (the same partial sums) and the CPU's double sum within 1e-12 relative.
//
// Skips where no CUDA device is usable; SEEKR_OPS_TEST_SELF=1 runs the harness CPU-vs-CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { native } from "../../index.js";
import { randn, rng } from "./random.mjs";

const SELF = process.env.SEEKR_OPS_TEST_SELF === "1";
const gpu = native.backendInfo().cudaAvailable;
const DEV = SELF ? 0 : 1;
const opts = { skip: !gpu && !SELF };
const F32 = 0, I32 = 1;

function on(dev, fn) {
  const hs = [];
  const up = (data) => {
    const h = native.alloc(dev, 0, data instanceof Int32Array ? I32 : F32, data.length);
    hs.push(h);
    if (data.length) native.upload(h, data);
    return h;
  };
  try { return fn(up); } finally { for (const h of hs) native.dispose(h); }
}
const both = (fn) => ({ cpu: on(0, fn), dev: on(DEV, fn) });
function same(what, got, want) {
  assert.equal(got.length, want.length, `${what}: ${got.length} elements on the device, ${want.length} on the cpu`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < w.length; i++)
    if (g[i] !== w[i]) assert.fail(`${what}: element ${i} differs: device ${got[i]} vs cpu ${want[i]}`);
}

// Sizes around the 4096-element chunks of a block and the float4 tail, an empty one, a big one.
const SIZES = [1, 3, 0, 4095, 4096, 4097, 768, 100003, 16, 12289];

test("adamwMany: every tensor as adamw gives it, bit for bit; the same buffer twice is updated twice", opts, () => {
  const r = rng(5);
  const data = SIZES.map((n) => ({ p: randn(r, n), g: randn(r, n), m: randn(r, n, 0.1), v: Float32Array.from(randn(r, n, 0.1), (x) => x * x) }));
  for (const [lr, b1, b2, eps, wd, step] of [[1e-3, 0.9, 0.999, 1e-8, 0.01, 1], [3e-4, 0.8, 0.95, 1e-6, 0.1, 17]]) {
    const res = both((up) => {
      const hs = data.map((d) => ({ p: up(d.p), g: up(d.g), m: up(d.m), v: up(d.v) }));
      native.adamwMany(hs.map((h) => h.p), hs.map((h) => h.g), hs.map((h) => h.m), hs.map((h) => h.v), lr, b1, b2, eps, wd, step);
      return hs.map((h) => ({ p: native.download(h.p), m: native.download(h.m), v: native.download(h.v) }));
    });
    // The CPU reference: one adamw per tensor.
    const ref = on(0, (up) => data.map((d) => {
      const h = { p: up(d.p), g: up(d.g), m: up(d.m), v: up(d.v) };
      native.adamw(h.p, h.g, h.m, h.v, lr, b1, b2, eps, wd, step);
      return { p: native.download(h.p), m: native.download(h.m), v: native.download(h.v) };
    }));
    SIZES.forEach((n, i) => {
      for (const k of ["p", "m", "v"]) {
        same(`adamwMany n=${n} step=${step} ${k} (device vs cpu adamwMany)`, res.dev[i][k], res.cpu[i][k]);
        same(`adamwMany n=${n} step=${step} ${k} (cpu adamwMany vs adamw)`, res.cpu[i][k], ref[i][k]);
      }
    });
  }
  // One parameter listed twice: two updates in order (the one-launch path must not race on it).
  const d = data[7];
  const twice = both((up) => {
    const h = { p: up(d.p), g: up(d.g), m: up(d.m), v: up(d.v) };
    native.adamwMany([h.p, h.p], [h.g, h.g], [h.m, h.m], [h.v, h.v], 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
    return native.download(h.p);
  });
  same("adamwMany with a parameter twice", twice.dev, twice.cpu);
});

test("scaleMany: bit for bit with the cpu, duplicates scaled twice", opts, () => {
  const r = rng(6);
  const xs = SIZES.map((n) => randn(r, n));
  const res = both((up) => {
    const hs = xs.map(up);
    native.scaleMany(hs, -0.37);
    native.scaleMany([hs[5], hs[5]], 3);
    return hs.map((h) => native.download(h));
  });
  SIZES.forEach((n, i) => same(`scaleMany n=${n}`, res.dev[i], res.cpu[i]));
});

test("sumSquaresMany: the device's sumSquares of each tensor, bit for bit, and the cpu's within 1e-12", opts, () => {
  const r = rng(7);
  const xs = [...SIZES, 1 << 22].map((n) => randn(r, n));
  const res = on(DEV, (up) => {
    const hs = xs.map(up);
    return { many: native.sumSquaresMany(hs), one: hs.map((h) => native.sumSquares(h)) };
  });
  const cpu = on(0, (up) => native.sumSquaresMany(xs.map(up)));
  xs.forEach((x, i) => {
    assert.equal(res.many[i], res.one[i], `sumSquaresMany n=${x.length}: ${res.many[i]} vs sumSquares ${res.one[i]}`);
    assert.ok(Math.abs(res.many[i] - cpu[i]) <= 1e-12 * Math.abs(cpu[i]), `sumSquaresMany n=${x.length}: device ${res.many[i]} vs cpu ${cpu[i]}`);
  });
  assert.deepEqual(on(DEV, () => native.sumSquaresMany([])), []);
});

test("gatherRows / scatterAddRows with a host copy of the ids: same results as the cpu; a wrong copy is an Error", opts, () => {
  const r = rng(8);
  const rows = 50, cols = 24, n = 300;
  const table = randn(r, rows * cols), src = randn(r, n * cols);
  const ids = Int32Array.from({ length: n }, () => Math.floor(r() * rows));
  const res = both((up) => {
    const t = up(table), i = up(ids), out = up(new Float32Array(n * cols)), g = up(new Float32Array(rows * cols));
    native.gatherRows(t, i, out, cols, ids);
    native.scatterAddRows(up(src), i, g, cols, ids);
    return { out: native.download(out), g: native.download(g) };
  });
  same("gatherRows with idsHost", res.dev.out, res.cpu.out);
  // scatter-add sums rows in an order that may differ on the device (atomics): compare within float32 rounding.
  for (let k = 0; k < res.cpu.g.length; k++)
    assert.ok(Math.abs(res.dev.g[k] - res.cpu.g[k]) <= 1e-5 * (1 + Math.abs(res.cpu.g[k])), `scatterAddRows with idsHost: element ${k}: ${res.dev.g[k]} vs ${res.cpu.g[k]}`);
  on(DEV, (up) => {
    const t = up(table), i = up(ids), out = up(new Float32Array(n * cols));
    assert.throws(() => native.gatherRows(t, i, out, cols, ids.subarray(1)), /gather.*'idsHost' holds 299 values for 300 ids/);
  });
});
