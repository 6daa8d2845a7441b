// Fused attention in float32 once per device: causal and not, multi-head and grouped-query, a key mask (float32 and
// int32), a KV-cache offset (Tq < Tk), fully masked rows; attentionTapped's probability taps and (dL/dP)^2
// sensitivities; attentionDistill's KL loss and its gradients into q and k. References: float64 loops (helper.mjs
// attentionRef and distillRef, the distillation KL) and central differences of them for the gradients.
//
// Tolerances (float32): output rtol 1e-5 with atol 1e-6 * max|v| (a convex combination of v rows); d q, d k, d v
// rtol 1e-5 with atol 2e-6 * sqrt(max(Tq * group, Tk)) * std(q) * std(k) (sums over the keys and the GQA group; d q
// of a row with one visible key is an exact cancellation p (dp - sum p dp) = 0 whose float32 error is relative to
// |dp| ~ sqrt(D), not to the result); taps rtol 1e-5, atol 1e-6 (probabilities); sensitivities rtol 1e-5 with floor
// 1e-3 * max; the distillation loss rtol 1e-5, atol 1e-6, its gradients rtol 1e-5 with floor 0.1 * max|ref| (the
// student's probabilities carry ~D * eps relative error from exp of float32 scores, and (p_student * mass - p_teacher)
// cancels: the error is relative to the probabilities, not to the small differences).
import {
  S, assert, deviceTest, leakCheck, rng, dev, vals, assertShape, assertClose, assertEqualArrays, checkOp, engineGrads,
  attentionRef, distillRef, maxAbs, randomTeacher,
} from "./helper.mjs";

function attnCase(device, label, { B, Tq, Tk = Tq, H, Hkv, D, causal = true, scale, mask, maskInt = false, seed = 1, std = 1 }) {
  const r = rng(seed);
  const Q = r.normal(B * Tq * H * D, std);
  const K = r.normal(B * Tk * Hkv * D, std);
  const V = r.normal(B * Tk * Hkv * D);
  const dims = { B, Tq, Tk, H, Hkv, D };
  const opts = { causal, ...(scale === undefined ? {} : { scale }) };
  const maskT = mask ? dev(device, maskInt ? Int32Array.from(mask) : Float32Array.from(mask), [B, Tk]) : undefined;
  checkOp({
    device, label, seed,
    inputs: [{ data: Q, shape: [B, Tq, H, D] }, { data: K, shape: [B, Tk, Hkv, D] }, { data: V, shape: [B, Tk, Hkv, D] }],
    fn: (q, k, v) => S.attention(q, k, v, { ...opts, ...(maskT ? { keyMask: maskT } : {}) }),
    ref: ([q, k, v]) => attentionRef(q, k, v, dims, { causal, scale, mask }).out,
    outShape: [B, Tq, H, D], grads: [0, 1, 2],
    fwd: { rtol: 1e-5, atol: 1e-6 * maxAbs(V) },
    bwd: { rtol: 1e-5, atol: 2e-6 * Math.sqrt(Math.max((Tq * H) / Hkv, Tk)) * Math.max(1, std * std) },
  });
}

deviceTest("attention: causal multi-head (B 2, T 5, H 2, D 8)", (device) => {
  attnCase(device, "causal MHA", { B: 2, Tq: 5, H: 2, Hkv: 2, D: 8, seed: 1 });
});
deviceTest("attention: grouped-query (H 4, Hkv 2), not causal, scale 0.3, larger scores", (device) => {
  attnCase(device, "GQA non-causal", { B: 2, Tq: 6, H: 4, Hkv: 2, D: 8, causal: false, scale: 0.3, std: 1.5, seed: 2 });
});
deviceTest("attention: causal GQA with a key mask (float32 and int32 masks)", (device) => {
  const mask = [1, 1, 0, 1, 1, 0, /* b1 */ 1, 0, 1, 1, 0, 1];
  attnCase(device, "causal GQA float mask", { B: 2, Tq: 6, H: 4, Hkv: 2, D: 8, mask, seed: 3 });
  attnCase(device, "non-causal MQA int32 mask", { B: 2, Tq: 6, H: 2, Hkv: 1, D: 4, causal: false, mask, maskInt: true, seed: 4 });
});
deviceTest("attention: KV-cache offset (Tq 3 < Tk 6, causal, H 4, Hkv 1)", (device) => {
  attnCase(device, "Tq < Tk", { B: 1, Tq: 3, Tk: 6, H: 4, Hkv: 1, D: 8, seed: 5 });
});
deviceTest("attention: a row that sees no key (causal, key 0 masked) gives zeros and zero gradients", (device) => {
  const mask = [1, 1, 1, 1, /* b1 */ 0, 1, 1, 1];
  attnCase(device, "fully masked row", { B: 2, Tq: 4, H: 2, Hkv: 1, D: 4, mask, seed: 6 });
});

deviceTest("attentionEager (the composite reference op): causal GQA with a key mask", (device) => {
  const dims = { B: 2, Tq: 5, Tk: 5, H: 4, Hkv: 2, D: 8 };
  const r = rng(7);
  const Q = r.normal(2 * 5 * 4 * 8);
  const K = r.normal(2 * 5 * 2 * 8);
  const V = r.normal(2 * 5 * 2 * 8);
  const mask = [1, 1, 0, 1, 1, /* b1 */ 1, 1, 1, 0, 1];
  const maskT = dev(device, Float32Array.from(mask), [2, 5]);
  checkOp({
    device, label: "attentionEager",
    inputs: [{ data: Q, shape: [2, 5, 4, 8] }, { data: K, shape: [2, 5, 2, 8] }, { data: V, shape: [2, 5, 2, 8] }],
    fn: (q, k, v) => S.attentionEager(q, k, v, { keyMask: maskT }), ref: ([q, k, v]) => attentionRef(q, k, v, dims, { mask }).out,
    outShape: [2, 5, 4, 8], grads: [0, 1, 2], fwd: { rtol: 1e-5, atol: 1e-6 * maxAbs(V) },
    bwd: { rtol: 1e-5, atol: 2e-6 * Math.sqrt(10) },
  });
});

// ---- attentionTapped ------------------------------------------------------------------------------------------------

/** Sum over (query, key) of (dL/dP)^2 per (batch, head), dL/dP[t, j] = w_t . v_j; "visible" keeps causal unmasked keys. */
function sensitivityRef(W, V, { B, Tq, Tk, H, Hkv, D }, causal, mask, mode) {
  const out = new Float64Array(B * H);
  const group = H / Hkv;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      let s = 0;
      for (let t = 0; t < Tq; t++)
        for (let j = 0; j < Tk; j++) {
          const on = !(causal && j > t + (Tk - Tq)) && !(mask && mask[b * Tk + j] === 0);
          if (mode === "visible" && !on) continue;
          let dp = 0;
          for (let c = 0; c < D; c++) dp += W[((b * Tq + t) * H + h) * D + c] * V[((b * Tk + j) * Hkv + Math.floor(h / group)) * D + c];
          s += dp * dp;
        }
      out[b * H + h] = s;
    }
  return out;
}

deviceTest("attentionTapped: probability taps (repeated heads and rows) and sensitivities all / visible", (device) => {
  const dims = { B: 2, Tq: 5, Tk: 5, H: 4, Hkv: 2, D: 8 };
  const { B, Tq, Tk, H, Hkv, D } = dims;
  const r = rng(21);
  const Q = r.normal(B * Tq * H * D);
  const K = r.normal(B * Tk * Hkv * D);
  const V = r.normal(B * Tk * Hkv * D);
  const W = r.normal(B * Tq * H * D);
  const mask = [1, 1, 1, 0, 1, /* b1 */ 1, 0, 1, 1, 1];
  const heads = [3, 0, 3];
  const rows = [4, 1, 2, 2];
  const R = 2;
  const q = dev(device, Q, [B, Tq, H, D]);
  const k = dev(device, K, [B, Tk, Hkv, D]);
  const v = dev(device, V, [B, Tk, Hkv, D]);
  const w = dev(device, W, [B, Tq, H, D]);
  const rowsT = dev(device, Int32Array.from(rows), [B, R]);
  const maskT = dev(device, Float32Array.from(mask), [B, Tk]);
  for (const mode of ["all", "visible"]) {
    const { out: refOut, P } = attentionRef(Q, K, V, dims, { causal: true, mask });
    let res;
    const { grads } = S.valueAndGrad((a, b, c) => {
      res = S.attentionTapped(a, b, c, { keyMask: maskT, taps: { heads, rows: rowsT }, sensitivity: mode });
      return S.sum(S.mul(res.out, w));
    })(q, k, v);
    assertClose(`tapped out (${mode})`, vals(res.out), refOut, { rtol: 1e-5, atol: 1e-6 * maxAbs(V) });
    assertShape(res.taps, [B, heads.length, R, Tk], "taps");
    assert.equal(res.taps.dtype, "float32");
    const refTaps = new Float64Array(B * heads.length * R * Tk);
    for (let b = 0; b < B; b++)
      heads.forEach((h, hi) => {
        for (let rr = 0; rr < R; rr++)
          for (let j = 0; j < Tk; j++) refTaps[((b * heads.length + hi) * R + rr) * Tk + j] = P[((b * H + h) * Tq + rows[b * R + rr]) * Tk + j];
      });
    assertClose(`taps (${mode})`, vals(res.taps), refTaps, { rtol: 1e-5, atol: 1e-6 });
    assertShape(res.sensitivity, [B, H], "sensitivity");
    assertClose(`sensitivity ${mode}`, vals(res.sensitivity), sensitivityRef(W, V, dims, true, mask, mode), { rtol: 1e-5, floorRel: 1e-3 });
    const counts = new Float64Array(B);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < Tq; t++)
        for (let j = 0; j < Tk; j++) if (mode === "all" || (j <= t && mask[b * Tk + j] !== 0)) counts[b]++;
    assertEqualArrays(`sensitivityCount ${mode}`, vals(res.sensitivityCount), counts);
    // the tapped call's gradients are attention's
    const { grads: plain } = engineGrads((a, b, c) => S.attention(a, b, c, { keyMask: maskT }), [q, k, v], w, [0, 1, 2]);
    grads.forEach((g, i) => assertClose(`tapped d input ${i} (${mode})`, vals(g), vals(plain[i]), { rtol: 1e-6, floorRel: 1e-4 }));
    S.dispose([grads, plain, res]);
  }
});

// ---- attentionDistill -----------------------------------------------------------------------------------------------

deviceTest("attentionDistill: KL(teacher || student) on selected heads and rows, gradients into q and k", (device) => {
  const dims = { B: 2, Tq: 6, Tk: 6, H: 4, Hkv: 2, D: 8 };
  const { B, Tq, Tk, H, Hkv, D } = dims;
  const r = rng(31);
  const Q = r.normal(B * Tq * H * D);
  const K = r.normal(B * Tk * Hkv * D);
  const heads = [1, 3];
  const rows = [5, 2, 0, 3, 5, 1];
  const R = 3;
  // Teacher rows: softmax of random logits over all keys (some mass on future / masked keys, which is ignored).
  const teacher = randomTeacher(r, B * heads.length * R, Tk);
  teacher[3] = 0; // a teacher zero contributes nothing
  const mask = [1, 1, 1, 1, 0, 1, /* b1 */ 0, 1, 1, 1, 1, 1];
  const teacherT = dev(device, teacher, [B, heads.length, R, Tk]);
  const rowsT = dev(device, Int32Array.from(rows), [B, R]);
  // The same rows with their host copy remembered: on a GPU the op validates that copy instead of downloading.
  const rowsHostT = S.rememberHostCopy(dev(device, Int32Array.from(rows), [B, R]), Int32Array.from(rows));
  const maskT = dev(device, Float32Array.from(mask), [B, Tk]);
  const cases = [
    ["default (causal, mean)", {}],
    ["rows with a host copy", { hostRows: true }],
    ["key mask, reduction sum", { mask, reduction: "sum" }],
    ["not causal, scale 0.5, batchmean", { causal: false, scale: 0.5, reduction: "batchmean" }],
  ];
  cases.forEach(([label, o], c) =>
    checkOp({
      device, label: `attentionDistill ${label}`, seed: c,
      inputs: [{ data: Q, shape: [B, Tq, H, D] }, { data: K, shape: [B, Tk, Hkv, D] }],
      fn: (q, k) =>
        S.attentionDistill(q, k, {
          heads, rows: o.hostRows ? rowsHostT : rowsT, teacher: teacherT, ...(o.mask ? { keyMask: maskT } : {}),
          ...(o.causal === undefined ? {} : { causal: o.causal }), ...(o.scale === undefined ? {} : { scale: o.scale }),
          ...(o.reduction ? { reduction: o.reduction } : {}),
        }),
      ref: ([q, k]) => [distillRef(q, k, dims, { heads, rows, R, teacher, ...o })],
      outShape: [], grads: [0, 1], fwd: { rtol: 1e-5, atol: 1e-6 }, bwd: { rtol: 1e-5, floorRel: 0.1 },
    }),
  );
});

leakCheck();
