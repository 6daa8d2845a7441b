// Device time per call of the fused nn kernels at the 125M LLaMA step's shapes (batch 8 x 1024 tokens, d_model 768,
// vocab 32000, 12 heads of 64), from the op profiler (CUDA events around each call). Run on a GPU machine:
//   node native/bench/nn-gpu.mjs
import { native } from "../index.js";

const F32 = 0, I32 = 1, BF16 = 2;
if (!native.backendInfo().cudaAvailable) { console.log("no CUDA device"); process.exit(0); }
const hs = [];
const alloc = (dt, n) => { const h = native.alloc(1, 0, dt, n); hs.push(h); return h; };
const normal = (dt, n, std = 1, seed = 1) => {
  const f = alloc(F32, n);
  native.randomNormal(f, seed, 0, 0, std);
  if (dt === F32) return f;
  const h = alloc(dt, n);
  native.cast(h, f);
  return h;
};
function time(label, fn, reps = 20) {
  for (let i = 0; i < 3; i++) fn();
  native.synchronize(1, 0);
  native.profileStart();
  for (let i = 0; i < reps; i++) fn();
  const rows = native.profileStop();
  const ms = rows.reduce((a, r) => a + r.deviceMs, 0), calls = rows.reduce((a, r) => a + r.deviceCalls, 0);
  console.log(`${label}: ${((1000 * ms) / calls).toFixed(1)} us per call (${calls} calls)`);
}
const R = 8192, D = 768, V = 32000;
{
  const x = normal(F32, R * D), w = normal(F32, D), y = alloc(F32, R * D), rs = alloc(F32, R);
  const gy = normal(F32, R * D, 1, 2), gx = alloc(F32, R * D), gw = alloc(F32, D);
  time("rmsNorm f32 [8192, 768]", () => native.rmsNorm(x, w, y, rs, R, D, 1e-5));
  time("rmsNormBackward f32 [8192, 768]", () => native.rmsNormBackward(x, w, rs, gy, gx, gw, R, D));
  time("rmsNormBackward f32 [8192, 768] accumulate", () => native.rmsNormBackward(x, w, rs, gy, gx, gw, R, D, true));
  const xb = normal(BF16, R * D), wb = normal(BF16, D), yb = alloc(BF16, R * D), gyb = normal(BF16, R * D, 1, 3);
  const gxb = alloc(BF16, R * D), gwb = alloc(BF16, D);
  time("rmsNorm bf16 [8192, 768]", () => native.rmsNorm(xb, wb, yb, rs, R, D, 1e-5));
  time("rmsNormBackward bf16 [8192, 768]", () => native.rmsNormBackward(xb, wb, rs, gyb, gxb, gwb, R, D));
  // The autocast pre-norm block: float32 stream x + bf16 branch -> float32 sum and bf16 norm output, fused, against
  // what it replaces (the float32 + bf16 add, a float32 norm, a cast to bf16); and the backward of a bf16 gy into the
  // float32 stream's gradient (accumulate).
  const br = normal(BF16, R * D, 1, 4), sum = alloc(F32, R * D);
  time("addRmsNorm f32 + bf16 -> f32 sum, bf16 out [8192, 768] (fused)", () => native.rmsNorm(x, w, yb, rs, R, D, 1e-5, br, sum));
  time("  unfused: add f32 + bf16 [8192, 768]", () => native.binary(0, x, [1], br, [1], sum, [R * D]));
  time("  unfused: rmsNorm f32 [8192, 768]", () => native.rmsNorm(sum, w, y, rs, R, D, 1e-5));
  time("  unfused: cast f32 -> bf16 [8192, 768]", () => native.cast(yb, y));
  time("rmsNorm f32 -> bf16 [8192, 768]", () => native.rmsNorm(x, w, yb, rs, R, D, 1e-5));
  time("rmsNormBackward f32 x, bf16 gy [8192, 768] accumulate", () => native.rmsNormBackward(x, w, rs, gyb, gx, gw, R, D, true));
}
{
  const n = 8 * 1024 * 12 * 64;
  for (const dt of [BF16, F32]) {
    const x = normal(dt, n), o = alloc(dt, n);
    time(`rope ${dt === BF16 ? "bf16" : "f32"} [8, 1024, 12, 64] table`, () => native.rope(x, null, o, 8 * 1024, 12, 64, 10000, 1, 1024, 0));
  }
}
{
  const x = normal(BF16, R * V, 2), t = alloc(I32, R);
  const tg = Int32Array.from({ length: R }, (_, i) => (i * 7919) % V);
  native.upload(t, tg);
  const loss = alloc(F32, 1), lse = alloc(F32, R), gy = alloc(F32, 1), gx = alloc(BF16, R * V);
  native.upload(gy, Float32Array.of(1));
  time("crossEntropy bf16 [8192, 32000]", () => native.crossEntropy(x, t, loss, lse, R, V, -100, tg), 10);
  time("crossEntropyBackward bf16 [8192, 32000]", () => native.crossEntropyBackward(x, t, lse, gy, gx, R, V, -100, R, tg), 10);
}
for (const h of hs) native.dispose(h);
