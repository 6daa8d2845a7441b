// GPU benchmark of the CUDA attention kernels (forward + backward) at T = 512, 1024, 2048 and the distillation
// loss, printed as JSON lines; the PyTorch anchor runs in attention-gpu-torch.py on the same card in the same command.
import { native } from "../index.js";

function time(fn, reps = 10) {
  fn();
  native.synchronize(1, 0);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  native.synchronize(1, 0);
  return (performance.now() - t0) / reps;
}
const B = 4, H = 16, D = 64;
for (const T of [512, 1024, 2048]) {
  const n = B * T * H * D;
  const a = () => { const h = native.alloc(1, 0, 0, n); native.upload(h, new Float32Array(n).map(() => Math.random() - 0.5)); return h; };
  const q = a(), k = a(), v = a(), g = a();
  const out = native.alloc(1, 0, 0, n), lse = native.alloc(1, 0, 0, B * H * T);
  const dq = native.alloc(1, 0, 0, n), dk = native.alloc(1, 0, 0, n), dv = native.alloc(1, 0, 0, n);
  const fwd = () => native.attention(q, k, v, out, lse, B, T, T, H, H, D, true, 0.125, null, null, null, null, 0);
  const bwd = () => native.attentionBackward(q, k, v, out, lse, g, dq, dk, dv, B, T, T, H, H, D, true, 0.125, null, null, true, 0);
  const fwdTc = () => native.attention(q, k, v, out, lse, B, T, T, H, H, D, true, 0.125, null, null, null, null, 2);
  const f = time(fwd), b = time(bwd), ftc = time(fwdTc);
  const flopsF = 4 * B * H * T * T * D / 2, flopsB = 2.5 * flopsF;
  console.log(JSON.stringify({ impl: "seekr-cuda-f32", B, H, D, T, fwd_ms: f, bwd_ms: b, fwd_tflops: flopsF / f / 1e9, bwd_tflops: flopsB / b / 1e9 }));
  console.log(JSON.stringify({ impl: "seekr-cuda-tc-on-f32-storage", B, H, D, T, fwd_ms: ftc, fwd_tflops: flopsF / ftc / 1e9, of_dense_bf16_peak_989: flopsF / ftc / 1e9 / 989 }));
  // bf16 storage: the tensor-core kernels read and write the half buffers directly (forward and backward).
  const h16 = (src) => { const h = native.alloc(1, 0, 2, n); native.cast(h, src); return h; };
  const qb = h16(q), kb = h16(k), vb = h16(v), gb = h16(g), ob = native.alloc(1, 0, 2, n);
  const dqb = native.alloc(1, 0, 2, n), dkb = native.alloc(1, 0, 2, n), dvb = native.alloc(1, 0, 2, n);
  const fwdB = () => native.attention(qb, kb, vb, ob, lse, B, T, T, H, H, D, true, 0.125, null, null, null, null, 0);
  const bwdB = () => native.attentionBackward(qb, kb, vb, ob, lse, gb, dqb, dkb, dvb, B, T, T, H, H, D, true, 0.125, null, null, true, 0);
  const fb = time(fwdB);
  const bb = time(bwdB);
  console.log(JSON.stringify({ impl: "seekr-cuda-bf16-tc", B, H, D, T, fwd_ms: fb, bwd_ms: bb, fwd_tflops: flopsF / fb / 1e9, bwd_tflops: flopsB / bb / 1e9, fwd_of_peak_989: flopsF / fb / 1e9 / 989, bwd_of_peak_989: flopsB / bb / 1e9 / 989 }));
  for (const h of [qb, kb, vb, gb, ob, dqb, dkb, dvb]) native.dispose(h);
  // distillation on 1/8 of the heads, 100 rows
  const heads = native.alloc(1, 0, 1, H / 8); native.upload(heads, Int32Array.from({ length: H / 8 }, (_, i) => i));
  const R = 100;
  const rows = native.alloc(1, 0, 1, B * R); native.upload(rows, Int32Array.from({ length: B * R }, () => Math.floor(Math.random() * T)));
  const teacher = native.alloc(1, 0, 0, B * (H / 8) * R * T); native.upload(teacher, new Float32Array(B * (H / 8) * R * T).fill(1 / T));
  const gy = native.alloc(1, 0, 0, 1); native.upload(gy, new Float32Array([1]));
  const dd = () => { native.attentionDistill(q, k, null, heads, rows, teacher, B, T, T, H, H, D, true, 0.125, 0); native.attentionDistillBackward(q, k, null, heads, rows, teacher, gy, 1, dq, dk, B, T, T, H, H, D, true, 0.125, 0); };
  console.log(JSON.stringify({ impl: "seekr-cuda-f32", what: "distill fwd+bwd (1/8 heads, 100 rows)", T, ms: time(dd) }));
  for (const h of [q, k, v, g, out, lse, dq, dk, dv, heads, rows, teacher, gy]) native.dispose(h);
}
