// GPU check of the CUDA attention kernels against the CPU reference kernels (same arguments), on random shapes:
// forward, log-sum-exp, taps, backward, sensitivity, distillation. Skips where no CUDA device is usable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { native } from "../../index.js";
import { randn, rng } from "./random.mjs";

const gpu = native.backendInfo().cudaAvailable;


function buf(dev, data) {
  const f = data instanceof Int32Array;
  const h = native.alloc(dev, 0, f ? 1 : 0, data.length);
  if (data.length) native.upload(h, data);
  return h;
}
function zeros(dev, n) {
  return buf(dev, new Float32Array(n));
}
function close(a, b, tol, what) {
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      assert.equal(x, y, `${what}[${i}]: ${x} vs ${y}`);
      continue;
    }
    const e = Math.abs(x - y) / (1 + Math.abs(y));
    if (e > worst) { worst = e; at = i; }
  }
  assert.ok(worst <= tol, `${what}: max rel error ${worst} at ${at} (${a[at]} vs ${b[at]})`);
  return worst;
}

const cases = [];
{
  const r = rng(7);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  for (let i = 0; i < 24; i++) {
    const Hkv = pick([1, 2, 4]);
    const H = Hkv * pick([1, 2, 4]);
    const causal = r() < 0.75;
    const Tq = pick([1, 3, 17, 64, 65, 130]);
    const Tk = causal ? Tq + pick([0, 0, 3, 40]) : pick([1, 5, 70, 129]);
    cases.push({ B: pick([1, 2, 3]), Tq, Tk, H, Hkv, D: pick([8, 16, 32, 64, 80, 128]), causal, masked: r() < 0.5, seed: i + 1 });
  }
}

for (const c of cases) {
  test(`CUDA attention matches the CPU reference: ${JSON.stringify(c)}`, { skip: !gpu }, () => {
    const { B, Tq, Tk, H, Hkv, D, causal } = c;
    const r = rng(c.seed);
    const scale = 1 / Math.sqrt(D);
    const q = randn(r, B * Tq * H * D), k = randn(r, B * Tk * Hkv * D), v = randn(r, B * Tk * Hkv * D), g = randn(r, B * Tq * H * D);
    const mask = c.masked ? Float32Array.from({ length: B * Tk }, (_, i) => (i % Tk < 2 && i % 3 === 0) || r() < 0.2 ? 0 : 1) : null;
    const nth = Math.min(2, H), R = 5;
    const tapHeads = Int32Array.from({ length: nth }, (_, i) => (i * 3) % H);
    const tapRows = Int32Array.from({ length: B * R }, () => Math.floor(r() * Tq));
    const teacher = new Float32Array(B * nth * R * Tk).map(() => r());
    for (let row = 0; row < B * nth * R; row++) {
      let s = 0;
      for (let j = 0; j < Tk; j++) s += teacher[row * Tk + j];
      for (let j = 0; j < Tk; j++) teacher[row * Tk + j] /= s;
    }
    const results = {};
    for (const dev of [0, 1]) {
      const hq = buf(dev, q), hk = buf(dev, k), hv = buf(dev, v), hg = buf(dev, g);
      const hm = mask ? buf(dev, mask) : null;
      const out = zeros(dev, q.length), lse = zeros(dev, B * H * Tq);
      const th = buf(dev, tapHeads), tr = buf(dev, tapRows), taps = zeros(dev, B * nth * R * Tk);
      native.attention(hq, hk, hv, out, lse, B, Tq, Tk, H, Hkv, D, causal, scale, hm, th, tr, taps, dev === 0 ? 1 : 0);
      const dq = zeros(dev, q.length), dk = zeros(dev, k.length), dv = zeros(dev, v.length);
      const sensAll = zeros(dev, B * H), sensVis = zeros(dev, B * H);
      native.attentionBackward(hq, hk, hv, out, lse, hg, dq, dk, dv, B, Tq, Tk, H, Hkv, D, causal, scale, hm, sensAll, true, dev === 0 ? 1 : 0);
      native.attentionBackward(hq, hk, hv, out, lse, hg, dq, dk, dv, B, Tq, Tk, H, Hkv, D, causal, scale, hm, sensVis, false, dev === 0 ? 1 : 0);
      const ht = buf(dev, teacher);
      const kl = native.attentionDistill(hq, hk, hm, th, tr, ht, B, Tq, Tk, H, Hkv, D, causal, scale, dev === 0 ? 1 : 0);
      const gy = buf(dev, new Float32Array([1.5]));
      const ddq = zeros(dev, q.length), ddk = zeros(dev, k.length);
      native.attentionDistillBackward(hq, hk, hm, th, tr, ht, gy, 0.25, ddq, ddk, B, Tq, Tk, H, Hkv, D, causal, scale, dev === 0 ? 1 : 0);
      results[dev] = {
        out: native.download(out), lse: native.download(lse), taps: native.download(taps), dq: native.download(dq),
        dk: native.download(dk), dv: native.download(dv), sensAll: native.download(sensAll), sensVis: native.download(sensVis),
        kl, ddq: native.download(ddq), ddk: native.download(ddk),
      };
      for (const h of [hq, hk, hv, hg, out, lse, th, tr, taps, dq, dk, dv, sensAll, sensVis, ht, gy, ddq, ddk, hm]) if (h) native.dispose(h);
    }
    const [ref, cu] = [results[0], results[1]];
    for (const key of ["out", "lse", "taps", "dq", "dk", "dv", "ddq", "ddk"]) close(cu[key], ref[key], 2e-4, key);
    close(cu.sensAll, ref.sensAll, 1e-3, "sensitivity(all)");
    close(cu.sensVis, ref.sensVis, 1e-3, "sensitivity(visible)");
    close([cu.kl], [ref.kl], 1e-4, "distill KL");
  });
}

for (const c of cases.filter((c) => [16, 32, 64, 128].includes(c.D))) {
  test(`CUDA tensor-core attention (bf16 operands, f32 accumulation) matches the CPU reference within bf16 tolerance: ${JSON.stringify(c)}`, { skip: !gpu }, () => {
    const { B, Tq, Tk, H, Hkv, D, causal } = c;
    const r = rng(c.seed + 1000);
    const scale = 1 / Math.sqrt(D);
    const q = randn(r, B * Tq * H * D), k = randn(r, B * Tk * Hkv * D), v = randn(r, B * Tk * Hkv * D);
    const mask = c.masked ? Float32Array.from({ length: B * Tk }, () => (r() < 0.2 ? 0 : 1)) : null;
    const res = {};
    for (const [dev, variant] of [[0, 1], [1, 2]]) {
      const hq = buf(dev, q), hk = buf(dev, k), hv = buf(dev, v), hm = mask ? buf(dev, mask) : null;
      const out = zeros(dev, q.length), lse = zeros(dev, B * H * Tq);
      native.attention(hq, hk, hv, out, lse, B, Tq, Tk, H, Hkv, D, causal, scale, hm, null, null, null, variant);
      res[dev] = { out: native.download(out), lse: native.download(lse) };
      for (const h of [hq, hk, hv, hm, out, lse]) if (h) native.dispose(h);
    }
    close(res[1].out, res[0].out, 4e-2, "out (bf16)");
    close(res[1].lse, res[0].lse, 4e-2, "lse (bf16)");
  });
}

// Distillation on the tensor-core kernels: bf16 / f16 q and k (cast on their device from the same float32 data, so
// both sides hold the same values), the loss into a device float (the path the tensor package takes), gradients in the
// operand dtype; against the CPU reference (variant 1) on the same half buffers, which the binding widens exactly.
// Heads with a duplicate, R = 21 rows per batch entry (not a multiple of 16; duplicates likely). The loss: the float32
// test's 1e-4 (the scores are exact products of the rounded inputs, summed in float32). The gradients: the scaled
// dS rows are rounded to the operand type before both products, and dq / dk to their dtype: within 1e-2 of the
// largest gradient (dev/emulate/attention_main.cpp states the bound). Run twice on the GPU: bit-identical.
const BF16 = 2, F16 = 3;
function halfBuf(dev, data, dtype) {
  const f = buf(dev, data);
  const h = native.alloc(dev, 0, dtype, data.length);
  if (data.length) native.cast(h, f);
  native.dispose(f);
  return h;
}
function asF32(dev, h, n) {
  const f = native.alloc(dev, 0, 0, n);
  if (n) native.cast(f, h);
  const out = native.download(f);
  native.dispose(f);
  return out;
}
// max |a - b| / max |b| (1 when b is all zeros) within tol.
function closeScaled(a, b, tol, what) {
  let m = 0;
  for (const y of b) m = Math.max(m, Math.abs(y));
  if (!(m > 0)) m = 1;
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / m;
    if (!(e <= worst)) { worst = Number.isNaN(e) ? Infinity : e; at = i; }
  }
  assert.ok(worst <= tol, `${what}: max error ${worst} of the largest |value| ${m} at ${at} (${a[at]} vs ${b[at]})`);
}
for (const c of cases.filter((c) => [16, 32, 64, 128].includes(c.D))) {
  for (const [name, dtype] of [["bfloat16", BF16], ["float16", F16]]) {
    test(`CUDA tensor-core distillation (${name} q, k) matches the CPU reference within ${name} tolerance: ${JSON.stringify(c)}`, { skip: !gpu }, () => {
      const { B, Tq, Tk, H, Hkv, D, causal } = c;
      const r = rng(c.seed + 2000);
      const scale = 1 / Math.sqrt(D);
      const q = randn(r, B * Tq * H * D), k = randn(r, B * Tk * Hkv * D);
      const mask = c.masked ? Float32Array.from({ length: B * Tk }, () => (r() < 0.2 ? 0 : 1)) : null;
      const R = 21;
      const heads = Int32Array.from([(H - 1) % H, 0, (H - 1) % H]);
      const rows = Int32Array.from({ length: B * R }, () => Math.floor(r() * Tq));
      const teacher = new Float32Array(B * heads.length * R * Tk).map(() => (r() < 0.2 ? 0 : r()));
      for (let row = 0; row < B * heads.length * R; row++) {
        let s = 0;
        for (let j = 0; j < Tk; j++) s += teacher[row * Tk + j];
        for (let j = 0; j < Tk; j++) if (s > 0) teacher[row * Tk + j] /= s;
      }
      // A subnormal teacher probability (a float32 softmax's underflow): fast math must not turn its log into -inf.
      teacher[Math.min(teacher.length - 1, 5)] = 1e-40;
      const res = {};
      for (const dev of [0, 1]) {
        const hq = halfBuf(dev, q, dtype), hk = halfBuf(dev, k, dtype), hm = mask ? buf(dev, mask) : null;
        const th = buf(dev, heads), tr = buf(dev, rows), ht = buf(dev, teacher), gy = buf(dev, new Float32Array([1.5]));
        const variant = dev === 0 ? 1 : 0;
        const runs = [];
        for (let rep = 0; rep < (dev === 1 ? 2 : 1); rep++) {
          const loss = zeros(dev, 1);
          native.attentionDistill(hq, hk, hm, th, tr, ht, B, Tq, Tk, H, Hkv, D, causal, scale, variant, loss, 0.5);
          const dq = native.alloc(dev, 0, dtype, q.length), dk = native.alloc(dev, 0, dtype, k.length);
          native.attentionDistillBackward(hq, hk, hm, th, tr, ht, gy, 0.25, dq, dk, B, Tq, Tk, H, Hkv, D, causal, scale, variant);
          runs.push({ loss: native.download(loss), dq: asF32(dev, dq, q.length), dk: asF32(dev, dk, k.length) });
          for (const h of [loss, dq, dk]) native.dispose(h);
        }
        res[dev] = runs;
        for (const h of [hq, hk, hm, th, tr, ht, gy]) if (h) native.dispose(h);
      }
      const [ref, cu] = [res[0][0], res[1][0]];
      close(cu.loss, ref.loss, 1e-4, `distill loss (${name})`);
      closeScaled(cu.dq, ref.dq, 1e-2, `distill dq (${name})`);
      closeScaled(cu.dk, ref.dk, 1e-2, `distill dk (${name})`);
      for (const key of ["loss", "dq", "dk"])
        assert.deepEqual(new Uint32Array(res[1][1][key].buffer), new Uint32Array(cu[key].buffer), `distill ${key} (${name}): two runs differ`);
    });
  }
}

test("CUDA attention errors are JS Errors naming the op", { skip: !gpu }, () => {
  const q = native.alloc(1, 0, 0, 4);
  assert.throws(() => native.attention(q, q, q, q, q, 1, 1, 1, 1, 1, 4, true, 1, null, null, null, null, 0), /seekr\.attention: 'lse' has 4 elements, expected 1/);
  assert.throws(() => native.attention(q, q, q, q, native.alloc(1, 0, 0, 1), 1, 1, 1, 1, 1, 4, true, 1, null, null, null, null, 1), /reference variant runs on the cpu only/);
  native.dispose(q);
});

test("CUDA attentionDistill / attention taps validate heads and rows from their host copies when given (no download)", { skip: !gpu }, () => {
  const B = 2, Tq = 8, Tk = 8, H = 4, Hkv = 2, D = 16, R = 3, scale = 0.25;
  const r = rng(91);
  const q = randn(r, B * Tq * H * D), k = randn(r, B * Tk * Hkv * D), v = randn(r, B * Tk * Hkv * D);
  const heads = Int32Array.from([1, 3]), rows = Int32Array.from([7, 2, 0, 5, 5, 1]);
  const teacher = new Float32Array(B * heads.length * R * Tk).fill(1 / Tk);
  const hq = buf(1, q), hk = buf(1, k), hv = buf(1, v), th = buf(1, heads), tr = buf(1, rows), ht = buf(1, teacher);
  const loss = zeros(1, 1), gy = buf(1, new Float32Array([1]));
  const dq = zeros(1, q.length), dk = zeros(1, k.length);
  const out = zeros(1, q.length), lse = zeros(1, B * H * Tq), taps = zeros(1, B * heads.length * R * Tk);
  try {
    native.attentionDistill(hq, hk, null, th, tr, ht, B, Tq, Tk, H, Hkv, D, true, scale, 0, loss, 1);
    const downloaded = native.download(loss)[0];
    native.attentionDistill(hq, hk, null, th, tr, ht, B, Tq, Tk, H, Hkv, D, true, scale, 0, loss, 1, heads, rows);
    assert.equal(native.download(loss)[0], downloaded, "the same loss with host copies");
    // The device buffers are valid; a host copy out of range is rejected, so the copy is what was checked.
    const badRows = Int32Array.from(rows);
    badRows[4] = Tq;
    assert.throws(() => native.attentionDistill(hq, hk, null, th, tr, ht, B, Tq, Tk, H, Hkv, D, true, scale, 0, loss, 1, heads, badRows),
      /attentionDistill: 'rows' entry 8 at position 4 is out of range \[0, 8\)/);
    assert.throws(() => native.attentionDistillBackward(hq, hk, null, th, tr, ht, gy, 1, dq, dk, B, Tq, Tk, H, Hkv, D, true, scale, 0,
      Int32Array.from([1, 4]), rows), /attentionDistillBackward: 'heads' entry 4 at position 1 is out of range \[0, 4\)/);
    native.attentionDistillBackward(hq, hk, null, th, tr, ht, gy, 1, dq, dk, B, Tq, Tk, H, Hkv, D, true, scale, 0, heads, rows);
    assert.throws(() => native.attention(hq, hk, hv, out, lse, B, Tq, Tk, H, Hkv, D, true, scale, null, th, tr, taps, 0, heads, badRows),
      /attention: 'tapRows' entry 8 at position 4 is out of range \[0, 8\)/);
    native.attention(hq, hk, hv, out, lse, B, Tq, Tk, H, Hkv, D, true, scale, null, th, tr, taps, 0, heads, rows);
  } finally {
    for (const h of [hq, hk, hv, th, tr, ht, loss, gy, dq, dk, out, lse, taps]) native.dispose(h);
  }
});
