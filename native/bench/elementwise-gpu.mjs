// GPU benchmark of the fused SwiGLU (forward + backward against the four unfused kernels) at the 125M LLaMA's MLP size
// and of the mixed-dtype residual add (float32 + bfloat16 -> float32, the vectorised path, against float32 + float32),
// printed as JSON lines with the bytes each call moves and the bandwidth that implies. Usage: node bench/elementwise-gpu.mjs
// (SEEKR_BENCH_CPU=1 runs it on the cpu, to check the script on a machine without a GPU).
import { native } from "../index.js";

const F32 = 0, BF16 = 2;
const DEV = process.env.SEEKR_BENCH_CPU === "1" ? 0 : 1;
function time(fn, reps = DEV ? 50 : 1) {
  fn();
  native.synchronize(DEV, 0);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  native.synchronize(DEV, 0);
  return ((performance.now() - t0) / reps) * 1000; // microseconds
}
const handles = [];
function buf(dtype, n) {
  const f = native.alloc(DEV, 0, F32, n);
  native.randomNormal(f, 7 + handles.length, 0, 0, 1);
  handles.push(f);
  if (dtype === F32) return f;
  const h = native.alloc(DEV, 0, dtype, n);
  native.cast(h, f);
  handles.push(h);
  return h;
}
const line = (o) => console.log(JSON.stringify(o));
const gbps = (bytes, us) => +(bytes / us / 1e3).toFixed(1);

// SwiGLU: gate, up bf16 [8192, 2048]
{
  const n = 8192 * 2048, b = 2 * n;
  const g = buf(BF16, n), u = buf(BF16, n), gy = buf(BF16, n);
  const out = buf(BF16, n), s = buf(BF16, n), t = buf(BF16, n), dg = buf(BF16, n), du = buf(BF16, n);
  const fused = time(() => native.swiglu(g, u, out));
  const fusedB = time(() => native.swigluBackward(g, u, gy, dg, du));
  const unf = time(() => { native.unary(7, g, s, 0); native.binary(2, s, [1], u, [1], out, [n]); });
  const unfB = time(() => {
    native.binary(2, gy, [1], u, [1], t, [n]); // d silu-out = gy * up
    native.binary(2, gy, [1], s, [1], du, [n]); // d up = gy * silu(gate)
    native.unaryGrad(7, g, t, dg, 0); // d gate
  });
  line({ op: "swiglu bf16 [8192,2048]", fused_fwd_us: +fused.toFixed(1), fused_fwd_GBps: gbps(3 * b, fused), unfused_fwd_us: +unf.toFixed(1) });
  line({ op: "swigluBackward bf16 [8192,2048]", fused_bwd_us: +fusedB.toFixed(1), fused_bwd_GBps: gbps(5 * b, fusedB), unfused_bwd_us: +unfB.toFixed(1) });
}
// Residual add: x f32 + y bf16 -> f32 [8192, 768]
{
  const n = 8192 * 768;
  const x = buf(F32, n), y = buf(BF16, n), y32 = buf(F32, n), out = buf(F32, n);
  const mixed = time(() => native.binary(0, x, [1], y, [1], out, [n]));
  const mixedSwap = time(() => native.binary(0, y, [1], x, [1], out, [n]));
  const same = time(() => native.binary(0, x, [1], y32, [1], out, [n]));
  line({ op: "add f32 + bf16 -> f32 [8192,768]", us: +mixed.toFixed(1), GBps: gbps(10 * n, mixed), bf16_first_us: +mixedSwap.toFixed(1), f32_plus_f32_us: +same.toFixed(1) });
}
for (const h of handles) native.dispose(h);
