// Fused neural-net ops: cross-entropy (log-softmax inside), RMSNorm, rotary embedding, causal attention;
// plus the eager attention composite used as their plain reference.
import { native } from "@seekr/native";
import { Tensor, empty, full, shapeStr, tensor } from "../tensor.js";
import { record } from "../autograd.js";
import { sameShape, shapeSize } from "../shape.js";
import { checkFloat, checkInt, checkSameDevice, checkTensor, checkFinite } from "./check.js";
import { broadcastTo, permute, reshape } from "./layout.js";
import { matmul } from "./matmul.js";
import { softmax } from "./reduce.js";
import { mulScalar, where } from "./elementwise.js";

export interface CrossEntropyOptions {
  /** Target value whose rows are skipped (PyTorch's default: -100). */
  ignoreIndex?: number;
}

/**
 * Mean cross-entropy of logits [..., V] against int32 targets [...], over rows whose target is not ignoreIndex.
 * Fused with log-softmax: the normalised log-probabilities are never materialised. NaN when every row is ignored.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  checkTensor(logits, "crossEntropy", "logits");
  checkTensor(targets, "crossEntropy", "targets");
  checkFloat(logits, "crossEntropy", "logits");
  checkInt(targets, "crossEntropy", "targets");
  checkSameDevice("crossEntropy", logits, targets);
  const ignore = opts.ignoreIndex ?? -100;
  if (!Number.isInteger(ignore)) throw new Error(`crossEntropy: ignoreIndex must be an integer, got ${ignore}`);
  if (logits.rank < 1 || !sameShape(logits.shape.slice(0, -1), targets.shape))
    throw new Error(`crossEntropy: logits ${shapeStr(logits.shape)} must be targets ${shapeStr(targets.shape)} plus a class axis`);
  const cols = logits.shape[logits.rank - 1]!;
  const rows = shapeSize(targets.shape);
  const loss = empty([], "float32", logits.device);
  const lse = empty([rows], "float32", logits.device);
  const count = native.crossEntropy(logits.handle, targets.handle, loss.handle, lse.handle, rows, cols, ignore);
  record(
    "crossEntropy",
    loss,
    [logits],
    (g, [sl, st, slse]) => {
      const gx = empty(sl!.shape, "float32", g.device);
      native.crossEntropyBackward(sl!.handle, st!.handle, slse!.handle, g.handle, gx.handle, rows, cols, ignore, count);
      return [gx];
    },
    { save: [logits, targets, lse] },
  );
  lse.dispose();
  return loss;
}

/** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight (fused forward and backward). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  checkTensor(x, "rmsNorm", "x");
  checkTensor(weight, "rmsNorm", "weight");
  checkFloat(x, "rmsNorm", "x");
  checkFloat(weight, "rmsNorm", "weight");
  checkSameDevice("rmsNorm", x, weight);
  checkFinite(eps, "rmsNorm", "eps");
  const cols = x.shape[x.rank - 1];
  if (x.rank < 1 || weight.rank !== 1 || weight.shape[0] !== cols)
    throw new Error(`rmsNorm: weight ${shapeStr(weight.shape)} must match the last axis of x ${shapeStr(x.shape)}`);
  const rows = cols === 0 ? 0 : x.size / cols!;
  const y = empty(x.shape, "float32", x.device);
  const rstd = empty([rows], "float32", x.device);
  native.rmsNorm(x.handle, weight.handle, y.handle, rstd.handle, rows, cols!, eps);
  record(
    "rmsNorm",
    y,
    [x, weight],
    (g, [sx, sw, sr]) => {
      const gx = empty(sx!.shape, "float32", g.device);
      const gw = empty(sw!.shape, "float32", g.device);
      native.rmsNormBackward(sx!.handle, sw!.handle, sr!.handle, g.handle, gx.handle, gw.handle, rows, cols!);
      return [gx, gw];
    },
    { save: [x, weight, rstd] },
  );
  rstd.dispose();
  return y;
}

export interface RopeOptions {
  /** Base of the rotary frequencies (LLaMA: 10000). */
  theta?: number;
  /** Position of every (batch, time) row, int32 [B, T] or [B*T]; default offset + t. */
  positions?: Tensor;
  /** First position when positions is not given (KV-cache decoding). */
  offset?: number;
}

/**
 * Rotary position embedding on x [B, T, H, D] with the Hugging Face rotate-half convention
 * (the first and second halves of each head form the rotated pairs).
 */
export function rope(x: Tensor, opts: RopeOptions = {}): Tensor {
  checkTensor(x, "rope", "x");
  checkFloat(x, "rope", "x");
  if (x.rank !== 4) throw new Error(`rope: x must be [batch, time, heads, headDim], got ${shapeStr(x.shape)}`);
  const [B, T, H, D] = x.shape as [number, number, number, number];
  if (D % 2 !== 0) throw new Error(`rope: head dim must be even, got ${D} in ${shapeStr(x.shape)}`);
  const theta = opts.theta ?? 10000;
  checkFinite(theta, "rope", "theta");
  let pos: Tensor;
  let ownPos = false;
  if (opts.positions) {
    checkTensor(opts.positions, "rope", "positions");
    checkInt(opts.positions, "rope", "positions");
    checkSameDevice("rope", x, opts.positions);
    if (opts.positions.size !== B * T)
      throw new Error(`rope: positions ${shapeStr(opts.positions.shape)} must hold one position per (batch, time) row: ${B}x${T}`);
    pos = opts.positions;
  } else {
    const offset = opts.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new Error(`rope: offset must be a non-negative integer, got ${offset}`);
    const p = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) p[b * T + t] = offset + t;
    pos = tensor(p, { dtype: "int32", device: x.device });
    ownPos = true;
  }
  const out = empty(x.shape, "float32", x.device);
  native.rope(x.handle, pos.handle, out.handle, B * T, H, D, theta, 1);
  record(
    "rope",
    out,
    [x],
    (g, [sp]) => {
      const gx = empty(g.shape, "float32", g.device);
      native.rope(g.handle, sp!.handle, gx.handle, B * T, H, D, theta, -1);
      return [gx];
    },
    { save: [pos] },
  );
  if (ownPos) pos.dispose();
  return out;
}

export interface AttentionOptions {
  /** Mask future keys (default true). */
  causal?: boolean;
  /** Score scale (default 1/sqrt(headDim)). */
  scale?: number;
}

function checkAttention(op: string, q: Tensor, k: Tensor, v: Tensor): [number, number, number, number, number] {
  for (const [t, n] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
    checkTensor(t, op, n);
    checkFloat(t, op, n);
    if (t.rank !== 4) throw new Error(`${op}: '${n}' must be [batch, time, heads, headDim], got ${shapeStr(t.shape)}`);
  }
  checkSameDevice(op, q, k, v);
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[2]!;
  if (!sameShape(k.shape, [B, T, Hkv, D]) || !sameShape(v.shape, k.shape))
    throw new Error(`${op}: k ${shapeStr(k.shape)} and v ${shapeStr(v.shape)} must be [${B}, ${T}, kvHeads, ${D}] for q ${shapeStr(q.shape)}`);
  if (Hkv === 0 || H % Hkv !== 0) throw new Error(`${op}: query heads (${H}) must be a multiple of kv heads (${Hkv})`);
  return [B, T, H, Hkv, D];
}

/**
 * Fused multi-head / grouped-query attention: q [B, T, H, D], k and v [B, T, Hkv, D] -> [B, T, H, D].
 * Never materialises the T x T maps; keeps the log-sum-exp per row for backward.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const [B, T, H, Hkv, D] = checkAttention("attention", q, k, v);
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  checkFinite(scale, "attention", "scale");
  const out = empty(q.shape, "float32", q.device);
  const lse = empty([B, H, T], "float32", q.device);
  native.attention(q.handle, k.handle, v.handle, out.handle, lse.handle, B, T, H, Hkv, D, causal, scale);
  record(
    "attention",
    out,
    [q, k, v],
    (g, [sq, sk, sv, so, sl]) => {
      const dq = empty(q.shape, "float32", g.device);
      const dk = empty(k.shape, "float32", g.device);
      const dv = empty(v.shape, "float32", g.device);
      native.attentionBackward(sq!.handle, sk!.handle, sv!.handle, so!.handle, sl!.handle, g.handle, dq.handle, dk.handle, dv.handle, B, T, H, Hkv, D, causal, scale);
      return [dq, dk, dv];
    },
    { save: [q, k, v, out, lse] },
  );
  lse.dispose();
  return out;
}

/**
 * The plain reference: eager attention from composite ops (explicit T x T scores, mask, softmax).
 * Same arguments and result as attention(); gradients come from the primitives.
 */
export function attentionEager(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const [B, T, H, Hkv, D] = checkAttention("attentionEager", q, k, v);
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const group = H / Hkv;
  const qh = permute(q, [0, 2, 1, 3]); // [B,H,T,D]
  const expandKv = (x: Tensor) => {
    const xh = permute(x, [0, 2, 1, 3]); // [B,Hkv,T,D]
    if (group === 1) return xh;
    const e = broadcastTo(reshape(xh, [B, Hkv, 1, T, D]), [B, Hkv, group, T, D]);
    return reshape(e, [B, H, T, D]);
  };
  const kh = expandKv(k);
  const vh = expandKv(v);
  let scores = mulScalar(matmul(qh, kh, { transB: true }), scale); // [B,H,T,T]
  if (causal) {
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = 1;
    const mask = tensor(m, { shape: [T, T], device: q.device });
    scores = where(mask, -Infinity, scores);
  }
  const p = softmax(scores, -1);
  const o = matmul(p, vh); // [B,H,T,D]
  return permute(o, [0, 2, 1, 3]);
}

/** A float32 tensor of `value` with x's shape (helper for masks). */
export function fullLike(x: Tensor, value: number): Tensor {
  return full(x.shape, value, { device: x.device });
}
