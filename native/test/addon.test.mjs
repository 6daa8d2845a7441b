// Addon smoke tests with node's own runner: it loads, reports its backends, and CUDA fails with clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { native } from "../index.js";

test("the addon exposes the kernel table", () => {
  for (const fn of ["alloc", "dispose", "upload", "download", "matmul", "attention", "adamw", "backendInfo"]) {
    assert.equal(typeof native[fn], "function", fn);
  }
});

test("backendInfo says what was built and why CUDA is or is not usable", () => {
  const info = native.backendInfo();
  assert.ok(info.threads >= 1);
  assert.equal(typeof info.blas, "string");
  assert.equal(typeof info.cudaCompiled, "boolean");
  assert.equal(typeof info.cudaReason, "string");
  assert.ok(info.cudaReason.length > 0);
  if (!info.cudaAvailable) assert.equal(info.cudaDevices.length, 0);
});

test("a CPU buffer round-trips through upload/download and is freed by dispose", () => {
  const before = native.memory()[0].bytes;
  const h = native.alloc(0, 0, 0, 4);
  native.upload(h, new Float32Array([1, 2, 3, 4]));
  assert.deepEqual([...native.download(h)], [1, 2, 3, 4]);
  native.dispose(h);
  assert.equal(native.memory()[0].bytes, before);
  assert.throws(() => native.download(h), /seekr\.download: .*disposed/);
});

test("selecting CUDA without a usable GPU is a JS Error, never a crash", { skip: native.backendInfo().cudaAvailable }, () => {
  assert.throws(() => native.alloc(1, 0, 0, 16), (e) => e instanceof Error && /CUDA/.test(e.message));
  assert.throws(() => native.alloc(1, 99, 0, 16), (e) => e instanceof Error && /seekr\.alloc/.test(e.message));
});

test("CUDA buffers round-trip when a GPU is present", { skip: !native.backendInfo().cudaAvailable }, () => {
  const h = native.alloc(1, 0, 0, 3);
  native.upload(h, new Float32Array([1.5, -2, 3]));
  const c = native.alloc(0, 0, 0, 3);
  native.copy(c, h);
  assert.deepEqual([...native.download(c)], [1.5, -2, 3]);
  native.dispose(h);
  native.dispose(c);
});

// rmsNormBackward's accumulate flag (argument 8): gx += the input gradient instead of gx = ..., in float32 on the CPU
// (a 16-bit gx is widened, added to, and rounded back once); gw is overwritten either way. A non-boolean is an error.
test("rmsNormBackward accumulate adds the input gradient into gx (float32 and bfloat16 gx)", () => {
  const rows = 3, cols = 5, n = rows * cols;
  const vals = (k, s) => Float32Array.from({ length: k }, (_, i) => Math.sin(1.7 * i + s) * (1 + (i % 3)));
  const f32 = (a) => { const h = native.alloc(0, 0, 0, a.length); native.upload(h, a); return h; };
  const handles = [];
  const keep = (h) => (handles.push(h), h);
  try {
    const x = keep(f32(vals(n, 1))), w = keep(f32(vals(cols, 2))), gy = keep(f32(vals(n, 3)));
    const rstd = keep(f32(Float32Array.from({ length: rows }, (_, r) => 0.5 + r / 4)));
    const base = vals(n, 4);
    const gx0 = keep(f32(new Float32Array(n))), gw0 = keep(f32(new Float32Array(cols)));
    native.rmsNormBackward(x, w, rstd, gy, gx0, gw0, rows, cols);
    const g = native.download(gx0), gw = native.download(gw0);
    const gxa = keep(f32(base)), gwa = keep(f32(new Float32Array(cols).fill(7)));
    native.rmsNormBackward(x, w, rstd, gy, gxa, gwa, rows, cols, true);
    assert.deepEqual([...native.download(gxa)], [...base].map((b, i) => Math.fround(b + g[i])));
    assert.deepEqual([...native.download(gwa)], [...gw]);
    const gxf = keep(f32(base));
    native.rmsNormBackward(x, w, rstd, gy, gxf, gwa, rows, cols, false);
    assert.deepEqual([...native.download(gxf)], [...g]);
    // bfloat16 gx: widened exactly, the float32 sum rounded to nearest even once.
    const bf = (v) => { const u = new Uint32Array(Float32Array.of(v).buffer)[0]; return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; };
    const widen = (b) => new Float32Array(Uint32Array.of(b << 16).buffer)[0];
    const hb = keep(native.alloc(0, 0, 2, n));
    native.upload(hb, Uint16Array.from(base, bf));
    native.rmsNormBackward(x, w, rstd, gy, hb, gwa, rows, cols, true);
    assert.deepEqual([...native.download(hb)], [...base].map((b, i) => bf(Math.fround(widen(bf(b)) + g[i]))));
    assert.throws(() => native.rmsNormBackward(x, w, rstd, gy, gxa, gwa, rows, cols, 1),
      /seekr\.rmsNormBackward: argument 'accumulate' must be a boolean/);
  } finally {
    for (const h of handles) native.dispose(h);
  }
});

// rmsNorm's fused residual add (arguments 7 and 8): sum = x + residual, then the norm of sum; a sum buffer that is also
// another operand is an error (the kernels read and write in one pass).
test("rmsNorm with residual and sum writes x + residual and normalises it; aliases are errors", () => {
  const rows = 3, cols = 4;
  const f32 = (vals) => { const h = native.alloc(0, 0, 0, vals.length); native.upload(h, Float32Array.from(vals)); return h; };
  const X = [1, -2, 3, 0.5, 2, 2, -1, 0, 0.25, 4, -3, 1];
  const R = [0.5, 1, -1, 2, -2, 0, 1, 1, 1, -1, 0.5, 0];
  const W = [1, 0.5, 2, -1];
  const x = f32(X), r = f32(R), w = f32(W);
  const y = native.alloc(0, 0, 0, rows * cols), s = native.alloc(0, 0, 0, rows * cols), rstd = native.alloc(0, 0, 0, rows);
  native.rmsNorm(x, w, y, rstd, rows, cols, 1e-6, r, s);
  const sum = [...native.download(s)], out = [...native.download(y)];
  for (let i = 0; i < rows; i++) {
    const row = X.slice(i * cols, (i + 1) * cols).map((v, c) => Math.fround(v + R[i * cols + c]));
    const ms = row.reduce((a, v) => a + v * v, 0) / cols;
    for (let c = 0; c < cols; c++) {
      assert.equal(sum[i * cols + c], row[c]);
      assert.ok(Math.abs(out[i * cols + c] - row[c] / Math.sqrt(ms + 1e-6) * W[c]) < 1e-5, `row ${i} col ${c}`);
    }
  }
  assert.throws(() => native.rmsNorm(x, w, y, rstd, rows, cols, 1e-6, r, x), /seekr\.rmsNorm: 'sum' must be a buffer of its own, not also 'x'/);
  assert.throws(() => native.rmsNorm(x, w, y, rstd, rows, cols, 1e-6, r, y), /not also 'y'/);
  assert.throws(() => native.rmsNorm(x, w, y, rstd, rows, cols, 1e-6, r), /'residual' and 'sum' are given together/);
  for (const h of [x, r, w, y, s, rstd]) native.dispose(h);
});

// rmsNormBackward's gxCopy (argument 9): gx's final values rounded to the copy's dtype, gx itself unchanged.
test("rmsNormBackward gxCopy receives the final gx rounded once; a 16-bit gx or an aliased copy is an error", () => {
  const rows = 2, cols = 3, n = rows * cols;
  const f32 = (vals) => { const h = native.alloc(0, 0, 0, vals.length); native.upload(h, Float32Array.from(vals)); return h; };
  const x = f32([1, -2, 3, 0.5, 2, -1]), w = f32([1, 0.5, -2]), rstd = f32([0.7, 0.9]), gy = f32([0.1, 0.2, -0.3, 1, -1, 0.5]);
  const gx = f32([1e-3, 2, 3, 4, 5, 6]), gx2 = f32([1e-3, 2, 3, 4, 5, 6]), gw = native.alloc(0, 0, 0, cols);
  const copy = native.alloc(0, 0, 2, n); // bfloat16
  native.rmsNormBackward(x, w, rstd, gy, gx, gw, rows, cols, true);
  native.rmsNormBackward(x, w, rstd, gy, gx2, gw, rows, cols, true, copy);
  const want = [...native.download(gx)];
  assert.deepEqual([...native.download(gx2)], want);
  const bits = new Uint32Array(Float32Array.from(want).buffer);
  // bfloat16 rounding to nearest even of each float32 value
  const rounded = [...bits].map((b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
  assert.deepEqual([...native.download(copy)], rounded);
  const half = native.alloc(0, 0, 2, n);
  assert.throws(() => native.rmsNormBackward(x, w, rstd, gy, half, gw, rows, cols, false, copy), /seekr\.rmsNormBackward: 'gx \(with gxCopy\)' has dtype bfloat16, expected float32/);
  assert.throws(() => native.rmsNormBackward(x, w, rstd, gy, gx, gw, rows, cols, false, gy), /'gxCopy' must be a buffer of its own, not also 'gy'/);
  for (const h of [x, w, rstd, gy, gx, gx2, gw, copy, half]) native.dispose(h);
});
