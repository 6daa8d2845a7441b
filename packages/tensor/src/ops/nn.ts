// Fused neural-net ops: cross-entropy (log-softmax inside), RMSNorm, rotary embedding, causal attention;
// plus the eager attention composite used as their plain reference.
import { native } from "@seekr/native";
import { Tensor, empty, full, shapeStr, tensor } from "../tensor.js";
import { record } from "../autograd.js";
import { hostCopy } from "../host.js";
import { sameShape, shapeSize } from "../shape.js";
import { type FloatDType, isFloatDType, promoteTypes } from "../dtype.js";
import { checkFloat, checkInt, checkSameDevice, checkTensor, checkFinite } from "./check.js";
import { broadcastTo, permute, reshape } from "./layout.js";
import { matmul } from "./matmul.js";
import { softmax } from "./reduce.js";
import { mulScalar, ne, where } from "./elementwise.js";

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
  // Targets on a GPU are validated and counted on the host: from their host copy when one was remembered
  // (rememberHostCopy), else from a download, which waits for the GPU.
  const count = native.crossEntropy(logits.handle, targets.handle, loss.handle, lse.handle, rows, cols, ignore, hostInts(targets));
  record(
    "crossEntropy",
    loss,
    [logits],
    (g, [sl, st, slse]) => {
      const gx = empty(sl!.shape, sl!.dtype, g.device);
      native.crossEntropyBackward(sl!.handle, st!.handle, slse!.handle, g.handle, gx.handle, rows, cols, ignore, count, hostInts(st!));
      return [gx];
    },
    { save: [logits, targets, lse] },
  );
  lse.dispose();
  return loss;
}

export interface RmsNormOptions {
  /**
   * dtype of the result (default: the promoted dtype of x and weight). The norm is computed in float32 and rounded
   * once to it: `rmsNorm(x, w, eps, { dtype: "bfloat16" })` gives the bits of `cast(rmsNorm(x, w, eps), "bfloat16")`
   * without the float32 result and the cast kernel (mixed precision: the operand of the next matrix products).
   */
  dtype?: FloatDType;
}

function normOutDType(op: string, x: Tensor, weight: Tensor, opts: RmsNormOptions): FloatDType {
  if (opts === null || typeof opts !== "object") throw new Error(`${op}: options must be an object`);
  if (opts.dtype === undefined) return promoteTypes(x.dtype, weight.dtype) as FloatDType;
  if (!isFloatDType(opts.dtype))
    throw new Error(`${op}: dtype must be "float32", "bfloat16" or "float16", got ${JSON.stringify(opts.dtype)}`);
  return opts.dtype;
}

function checkNormArgs(op: string, x: Tensor, weight: Tensor, eps: number): { rows: number; cols: number } {
  checkTensor(x, op, "x");
  checkTensor(weight, op, "weight");
  checkFloat(x, op, "x");
  checkFloat(weight, op, "weight");
  checkSameDevice(op, x, weight);
  checkFinite(eps, op, "eps");
  const cols = x.shape[x.rank - 1];
  if (x.rank < 1 || weight.rank !== 1 || weight.shape[0] !== cols)
    throw new Error(`${op}: weight ${shapeStr(weight.shape)} must match the last axis of x ${shapeStr(x.shape)}`);
  return { rows: cols === 0 ? 0 : x.size / cols!, cols: cols! };
}

/**
 * Records y = rmsNorm(x, weight) (rstd: the saved row scales) for autograd. `copyFor`: when the backward completes x's
 * gradient (GradContext.final) and x is float32, it also writes that gradient rounded to `copyFor.dtype` in the same
 * pass and hands it to `copyFor.take` (the fused residual add: the gradient of its 16-bit branch input).
 */
function recordRmsNorm(
  y: Tensor, x: Tensor, weight: Tensor, rstd: Tensor, rows: number, cols: number,
  copyFor?: { dtype: FloatDType; take(copy: Tensor): void },
): void {
  record(
    "rmsNorm",
    y,
    [x, weight],
    (g, [sx, sw, sr], ctx) => {
      // x's gradient is added straight into its pending one when there is one (the residual stream: its gradient
      // from the residual add is there already), instead of a buffer of its own and an accumulation pass. g may be
      // narrower than x (a bfloat16 output of a float32 norm): the kernels read it as it is.
      const pending = ctx.pending(0);
      const into = pending && pending.dtype === sx!.dtype ? pending : null;
      const gx = into ?? empty(sx!.shape, sx!.dtype, g.device);
      const gw = empty(sw!.shape, sw!.dtype, g.device);
      const copy = copyFor && sx!.dtype === "float32" && ctx.final(0) ? empty(sx!.shape, copyFor.dtype, g.device) : null;
      native.rmsNormBackward(sx!.handle, sw!.handle, sr!.handle, g.handle, gx.handle, gw.handle, rows, cols, into !== null, copy?.handle ?? null);
      if (copy) copyFor!.take(copy.keep());
      return [gx, gw];
    },
    { save: [x, weight, rstd] },
  );
}

/** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight (fused forward and backward). */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6, opts: RmsNormOptions = {}): Tensor {
  const { rows, cols } = checkNormArgs("rmsNorm", x, weight, eps);
  const y = empty(x.shape, normOutDType("rmsNorm", x, weight, opts), x.device);
  const rstd = empty([rows], "float32", x.device);
  native.rmsNorm(x.handle, weight.handle, y.handle, rstd.handle, rows, cols, eps);
  recordRmsNorm(y, x, weight, rstd, rows, cols);
  rstd.dispose();
  return y;
}

/**
 * The residual add of a pre-norm transformer fused with the RMSNorm after it: `sum = x + residual` (dtype: promoted
 * from x and residual; same shapes, no broadcasting) and `out = rmsNorm(sum, weight, eps, opts)`, in one pass over
 * the rows (on a GPU the sum is written once and not read back from memory). The values, bit for bit, and the
 * gradients of `add` followed by `rmsNorm`: autograd sees the same two nodes.
 */
export function addRmsNorm(x: Tensor, residual: Tensor, weight: Tensor, eps = 1e-6, opts: RmsNormOptions = {}): { sum: Tensor; out: Tensor } {
  const { rows, cols } = checkNormArgs("addRmsNorm", x, weight, eps);
  checkTensor(residual, "addRmsNorm", "residual");
  checkFloat(residual, "addRmsNorm", "residual");
  checkSameDevice("addRmsNorm", x, residual);
  if (!sameShape(x.shape, residual.shape))
    throw new Error(`addRmsNorm: residual ${shapeStr(residual.shape)} must have the shape of x ${shapeStr(x.shape)}`);
  const sum = empty(x.shape, promoteTypes(x.dtype, residual.dtype), x.device);
  const y = empty(x.shape, normOutDType("addRmsNorm", sum, weight, opts), x.device);
  const rstd = empty([rows], "float32", x.device);
  native.rmsNorm(x.handle, weight.handle, y.handle, rstd.handle, rows, cols, eps, residual.handle, sum.handle);
  // The add's node: the gradient passes to both inputs. A residual narrower than the sum gets it rounded: by the
  // engine's cast, or — when the norm's backward completed the sum's gradient — from the rounded copy that backward
  // wrote in the same pass (the same bits; no cast kernel). The copy stands in for the cast only where the engine
  // would cast: when the residual has no gradient yet (else the engine adds g into it, rounding once).
  let copy: Tensor | null = null;
  record("add", sum, [x, residual], (g, _saved, ctx) => {
    const c = copy;
    copy = null;
    const useCopy = c !== null && residual.requiresGrad && !ctx.accumulated(1);
    if (c && !useCopy) c.dispose();
    return [x.requiresGrad ? g : null, residual.requiresGrad ? (useCopy ? c : g) : null];
  });
  const narrow = residual.requiresGrad && residual.dtype !== sum.dtype; // checkFloat above: a float dtype
  recordRmsNorm(y, sum, weight, rstd, rows, cols, narrow ? {
    dtype: residual.dtype as FloatDType,
    take(c: Tensor) {
      copy?.dispose();
      copy = c;
    },
  } : undefined);
  rstd.dispose();
  return { sum, out: y };
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
  // Without positions, row (b, t) is at offset + t: the kernel computes it (nothing is uploaded per call).
  let pos: Tensor | null = null;
  const offset = opts.offset ?? 0;
  if (opts.positions) {
    checkTensor(opts.positions, "rope", "positions");
    checkInt(opts.positions, "rope", "positions");
    checkSameDevice("rope", x, opts.positions);
    if (opts.positions.size !== B * T)
      throw new Error(`rope: positions ${shapeStr(opts.positions.shape)} must hold one position per (batch, time) row: ${B}x${T}`);
    pos = opts.positions;
  } else if (!Number.isInteger(offset) || offset < 0 || offset + T - 1 > 2147483647)
    throw new Error(`rope: offset must be a non-negative integer with offset + time - 1 in the int32 range, got ${offset}`);
  const out = empty(x.shape, x.dtype, x.device);
  native.rope(x.handle, pos?.handle ?? null, out.handle, B * T, H, D, theta, 1, T, offset);
  record(
    "rope",
    out,
    [x],
    (g, [sp]) => {
      const gx = empty(g.shape, g.dtype, g.device);
      native.rope(g.handle, sp?.handle ?? null, gx.handle, B * T, H, D, theta, -1, T, offset);
      return [gx];
    },
    { save: pos ? [pos] : [] },
  );
  return out;
}

export interface AttentionOptions {
  /** Mask future keys (default true). With Tq < Tk (a KV cache), query t sees keys j <= t + (Tk - Tq). */
  causal?: boolean;
  /** Score scale (default 1/sqrt(headDim)). */
  scale?: number;
  /** [B, Tk] float32 or int32: nonzero = attend, 0 = padding (never attended). */
  keyMask?: Tensor;
  /**
   * "fast" (default): the blocked CPU kernel / the f32 CUDA kernel; "reference": the plain one-row-at-a-time CPU
   * kernel; "tensorcore" (CUDA, compute capability >= 8.0): forward with bf16 operands on tensor cores and f32
   * accumulation (the backward recomputes in f32).
   */
  kernel?: "fast" | "reference" | "tensorcore";
}

export interface AttentionTapOptions extends AttentionOptions {
  /** Capture the probability rows P[b, heads[i], rows[b, r], :] (memory proportional to the rows asked for). */
  taps?: { heads: readonly number[]; rows: Tensor };
  /**
   * Accumulate, during backward, the sum over (query, key) of (dL/dP)^2 per (batch, head): "all" over every
   * Tq x Tk entry (the reference code's dense eager map), "visible" over causal, unmasked entries only.
   */
  sensitivity?: "all" | "visible";
}

export interface AttentionResult {
  /** [B, Tq, H, D] */
  out: Tensor;
  /** float32 [B, heads.length, R, Tk] (not differentiable), or null. */
  taps: Tensor | null;
  /** float32 [B, H] of summed (dL/dP)^2, filled in by backward() (zeros until then), or null. */
  sensitivity: Tensor | null;
  /** Entries summed per (batch, head) for the sensitivity: float32 [B] (divide to get the mean), or null. */
  sensitivityCount: Tensor | null;
}

interface AttnDims { B: number; Tq: number; Tk: number; H: number; Hkv: number; D: number }

function checkAttention(op: string, q: Tensor, k: Tensor, v: Tensor | null): AttnDims {
  for (const [t, n] of [[q, "q"], [k, "k"], ...(v ? [[v, "v"]] : [])] as Array<[Tensor, string]>) {
    checkTensor(t, op, n);
    checkFloat(t, op, n);
    if (t.rank !== 4) throw new Error(`${op}: '${n}' must be [batch, time, heads, headDim], got ${shapeStr(t.shape)}`);
  }
  checkSameDevice(op, q, k, ...(v ? [v] : []));
  const [B, Tq, H, D] = q.shape as [number, number, number, number];
  const Tk = k.shape[1]!;
  const Hkv = k.shape[2]!;
  if (!sameShape(k.shape, [B, Tk, Hkv, D]) || (v && !sameShape(v.shape, k.shape)))
    throw new Error(`${op}: k ${shapeStr(k.shape)}${v ? ` and v ${shapeStr(v.shape)}` : ""} must be [${B}, keys, kvHeads, ${D}] for q ${shapeStr(q.shape)}`);
  if (Hkv === 0 || H % Hkv !== 0) throw new Error(`${op}: query heads (${H}) must be a multiple of kv heads (${Hkv})`);
  return { B, Tq, Tk, H, Hkv, D };
}

/** The key mask as float32 [B, Tk] (converted from int32 when needed); `own` says whether the caller frees it. */
function maskF32(op: string, m: Tensor | undefined, d: AttnDims, like: Tensor): { mask: Tensor | null; own: boolean } {
  if (!m) return { mask: null, own: false };
  checkTensor(m, op, "keyMask");
  checkSameDevice(op, like, m);
  if (!sameShape(m.shape, [d.B, d.Tk])) throw new Error(`${op}: keyMask ${shapeStr(m.shape)} must be [${d.B}, ${d.Tk}] (batch, keys)`);
  if (m.dtype === "float32") return { mask: m, own: false };
  if (m.dtype !== "int32") throw new Error(`${op}: keyMask must be float32 or int32, got ${m.dtype}`);
  const f = empty(m.shape, "float32", m.device);
  native.cast(f.handle, m.handle);
  return { mask: f, own: true };
}

/** The head list as an int32 tensor on like's device, with its host copy (the native op validates that one: no download). */
function indexTensor(op: string, name: string, values: readonly number[], hi: number, like: Tensor): { t: Tensor; host: Int32Array } {
  if (!Array.isArray(values) || values.length === 0) throw new Error(`${op}: '${name}' must be a non-empty array of head indices`);
  values.forEach((h, i) => {
    if (!Number.isInteger(h) || h < 0 || h >= hi) throw new Error(`${op}: '${name}[${i}]' = ${h} is not a head index in [0, ${hi})`);
  });
  const host = Int32Array.from(values);
  return { t: tensor(host, { dtype: "int32", device: like.device }), host };
}

/** The host copy of an int32 tensor on a GPU when one was remembered (rememberHostCopy), for validation without a download. */
function hostInts(t: Tensor): Int32Array | null {
  return t.device.type === "cpu" ? null : (hostCopy(t) as Int32Array | null);
}

function checkRows(op: string, rows: Tensor, d: AttnDims, like: Tensor): number {
  checkTensor(rows, op, "rows");
  checkInt(rows, op, "rows");
  checkSameDevice(op, like, rows);
  if (rows.rank !== 2 || rows.shape[0] !== d.B) throw new Error(`${op}: rows must be int32 [${d.B}, R] (query positions per batch entry), got ${shapeStr(rows.shape)}`);
  return rows.shape[1]!;
}

/**
 * Fused multi-head / grouped-query attention: q [B, Tq, H, D], k and v [B, Tk, Hkv, D] -> [B, Tq, H, D].
 * Never materialises the maps of all heads; keeps the log-sum-exp per row for backward.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  return attentionTapped(q, k, v, opts).out;
}

/**
 * attention() that can also capture probability rows of selected heads (taps) and accumulate the per-head
 * sensitivity statistic of dL/dP during backward, as SEEKR's head-importance and teacher signals need.
 */
export function attentionTapped(q: Tensor, k: Tensor, v: Tensor, opts: AttentionTapOptions = {}): AttentionResult {
  const op = "attention";
  const d = checkAttention(op, q, k, v);
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(d.D);
  checkFinite(scale, op, "scale");
  if (opts.kernel !== undefined && opts.kernel !== "fast" && opts.kernel !== "reference" && opts.kernel !== "tensorcore")
    throw new Error(`${op}: kernel must be "fast", "reference" or "tensorcore", got ${JSON.stringify(opts.kernel)}`);
  const variant = opts.kernel === "reference" ? 1 : opts.kernel === "tensorcore" ? 2 : 0;
  if (opts.sensitivity !== undefined && opts.sensitivity !== "all" && opts.sensitivity !== "visible")
    throw new Error(`${op}: sensitivity must be "all" or "visible", got ${JSON.stringify(opts.sensitivity)}`);
  const { mask, own } = maskF32(op, opts.keyMask, d, q);
  let tapHeads: { t: Tensor; host: Int32Array } | null = null;
  let taps: Tensor | null = null;
  if (opts.taps) {
    tapHeads = indexTensor(op, "taps.heads", opts.taps.heads, d.H, q);
    const R = checkRows(op, opts.taps.rows, d, q);
    taps = empty([d.B, opts.taps.heads.length, R, d.Tk], "float32", q.device);
  }
  const out = empty([d.B, d.Tq, d.H, d.D], promoteTypes(promoteTypes(q.dtype, k.dtype), v.dtype), q.device);
  const lse = empty([d.B, d.H, d.Tq], "float32", q.device);
  native.attention(q.handle, k.handle, v.handle, out.handle, lse.handle, d.B, d.Tq, d.Tk, d.H, d.Hkv, d.D, causal, scale,
    mask?.handle ?? null, tapHeads?.t.handle ?? null, opts.taps ? opts.taps.rows.handle : null, taps?.handle ?? null, variant,
    tapHeads?.host ?? null, opts.taps ? hostInts(opts.taps.rows) : null);
  tapHeads?.t.dispose();
  let sens: Tensor | null = null;
  let sensCount: Tensor | null = null;
  if (opts.sensitivity) {
    sens = full([d.B, d.H], 0, { device: q.device });
    sensCount = sensitivityCounts(d, causal, opts.sensitivity, mask, q);
  }
  const sensAll = opts.sensitivity !== "visible";
  record(
    op,
    out,
    [q, k, v],
    (g, saved) => {
      const [sq, sk, sv, so, sl, sm, ss] = saved;
      const dq = empty(q.shape, q.dtype, g.device);
      const dk = empty(k.shape, k.dtype, g.device);
      const dv = empty(v.shape, v.dtype, g.device);
      native.attentionBackward(sq!.handle, sk!.handle, sv!.handle, so!.handle, sl!.handle, g.handle, dq.handle, dk.handle, dv.handle,
        d.B, d.Tq, d.Tk, d.H, d.Hkv, d.D, causal, scale, sm && mask ? sm.handle : null, ss && sens ? ss.handle : null, sensAll, variant === 2 ? 0 : variant);
      return [dq, dk, dv];
    },
    { save: [q, k, v, out, lse, ...(mask ? [mask] : [out]), ...(sens ? [sens] : [])] },
  );
  lse.dispose();
  if (own) mask!.dispose();
  return { out, taps, sensitivity: sens, sensitivityCount: sensCount };
}

function sensitivityCounts(d: AttnDims, causal: boolean, mode: "all" | "visible", mask: Tensor | null, like: Tensor): Tensor {
  const counts = new Float32Array(d.B);
  const m = mode === "visible" && mask ? (mask.dataSync() as Float32Array) : null;
  const off = d.Tk - d.Tq;
  for (let b = 0; b < d.B; b++) {
    if (mode === "all") {
      counts[b] = d.Tq * d.Tk;
      continue;
    }
    // Key j is visible to the queries t >= j - off (causal), i.e. to Tq - max(0, j - off) of them.
    let c = 0;
    for (let j = 0; j < d.Tk; j++) {
      if (m && m[b * d.Tk + j] === 0) continue;
      c += causal ? Math.max(0, d.Tq - Math.max(0, j - off)) : d.Tq;
    }
    counts[b] = c;
  }
  return tensor(counts, { shape: [d.B], device: like.device });
}

export interface AttentionDistillOptions {
  /** Selected query heads (the budget's heads of this layer). */
  heads: readonly number[];
  /** int32 [B, R]: query rows distilled per batch entry. */
  rows: Tensor;
  /** float32 [B, heads.length, R, Tk]: the teacher's probability rows (stored with the replay memory). */
  teacher: Tensor;
  keyMask?: Tensor;
  causal?: boolean;
  scale?: number;
  /**
   * "mean" (default, the reference code's normalisation): sum of KL over (batch, head, row) / (B * heads * R);
   * "batchmean": sum / B; "sum".
   */
  reduction?: "mean" | "batchmean" | "sum";
  /** "fast" (default): GEMM over the gathered rows; "reference": one row at a time in double precision. */
  kernel?: "fast" | "reference";
}

/**
 * SEEKR's attention distillation loss for one layer: KL(teacher || student) on the selected (head, query row)
 * pairs, the student's rows recomputed inside the kernel from q [B, Tq, H, D] and k [B, Tk, Hkv, D]; backward gives
 * gradients into q and k ((p_student - p_teacher) through the scores). Teacher mass on keys the student cannot see
 * (future or padded) is ignored.
 */
export function attentionDistill(q: Tensor, k: Tensor, opts: AttentionDistillOptions): Tensor {
  const op = "attentionDistill";
  const d = checkAttention(op, q, k, null);
  if (!opts || typeof opts !== "object") throw new Error(`${op}: options { heads, rows, teacher } are required`);
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(d.D);
  checkFinite(scale, op, "scale");
  const R = checkRows(op, opts.rows, d, q);
  const heads = indexTensor(op, "heads", opts.heads, d.H, q);
  checkTensor(opts.teacher, op, "teacher");
  checkFloat(opts.teacher, op, "teacher");
  checkSameDevice(op, q, opts.teacher);
  const want = [d.B, opts.heads.length, R, d.Tk];
  if (!sameShape(opts.teacher.shape, want)) throw new Error(`${op}: teacher ${shapeStr(opts.teacher.shape)} must be ${shapeStr(want)} (batch, heads, rows, keys)`);
  const reduction = opts.reduction ?? "mean";
  const denom = reduction === "mean" ? d.B * opts.heads.length * R : reduction === "batchmean" ? d.B : reduction === "sum" ? 1 : NaN;
  if (Number.isNaN(denom)) throw new Error(`${op}: reduction must be "mean", "batchmean" or "sum", got ${JSON.stringify(reduction)}`);
  const factor = denom === 0 ? 0 : 1 / denom;
  if (opts.kernel !== undefined && opts.kernel !== "fast" && opts.kernel !== "reference")
    throw new Error(`${op}: kernel must be "fast" or "reference", got ${JSON.stringify(opts.kernel)}`);
  const variant = opts.kernel === "reference" ? 1 : 0;
  const { mask, own } = maskF32(op, opts.keyMask, d, q);
  // The loss is written where q lives (on a GPU without a read-back: the step does not wait for it).
  const loss = empty([], "float32", q.device);
  const rowsHost = hostInts(opts.rows);
  native.attentionDistill(q.handle, k.handle, mask?.handle ?? null, heads.t.handle, opts.rows.handle, opts.teacher.handle,
    d.B, d.Tq, d.Tk, d.H, d.Hkv, d.D, causal, scale, variant, loss.handle, factor, heads.host, rowsHost);
  record(
    op,
    loss,
    [q, k],
    (g, [sq, sk, sh, sr, st, sm]) => {
      const dq = empty(q.shape, q.dtype, g.device);
      const dk = empty(k.shape, k.dtype, g.device);
      native.attentionDistillBackward(sq!.handle, sk!.handle, mask ? sm!.handle : null, sh!.handle, sr!.handle, st!.handle, g.handle, factor,
        dq.handle, dk.handle, d.B, d.Tq, d.Tk, d.H, d.Hkv, d.D, causal, scale, variant, heads.host, rowsHost);
      return [dq, dk];
    },
    { save: [q, k, heads.t, opts.rows, opts.teacher, ...(mask ? [mask] : [])] },
  );
  heads.t.dispose();
  if (own) mask!.dispose();
  return loss;
}

/**
 * The plain reference: eager attention from composite ops (explicit Tq x Tk scores, masks, softmax).
 * Same arguments and result as attention(); gradients come from the primitives.
 */
export function attentionEager(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  return attentionEagerProbs(q, k, v, opts).out;
}

/** Eager attention that also returns the full probability maps [B, H, Tq, Tk] (for tests and references). */
export function attentionEagerProbs(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): { out: Tensor; probs: Tensor } {
  const d = checkAttention("attentionEager", q, k, v);
  const { B, Tq, Tk, H, Hkv, D } = d;
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const group = H / Hkv;
  const qh = permute(q, [0, 2, 1, 3]); // [B,H,Tq,D]
  const expandKv = (x: Tensor) => {
    const xh = permute(x, [0, 2, 1, 3]); // [B,Hkv,Tk,D]
    if (group === 1) return xh;
    const e = broadcastTo(reshape(xh, [B, Hkv, 1, Tk, D]), [B, Hkv, group, Tk, D]);
    return reshape(e, [B, H, Tk, D]);
  };
  const kh = expandKv(k);
  const vh = expandKv(v);
  let scores = mulScalar(matmul(qh, kh, { transB: true }), scale); // [B,H,Tq,Tk]
  const blocked = new Float32Array(B * Tq * Tk);
  const m = opts.keyMask ? opts.keyMask.toFloatArray() : null;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Tq; i++)
      for (let j = 0; j < Tk; j++)
        if ((causal && j > i + (Tk - Tq)) || (m && m[b * Tk + j] === 0)) blocked[(b * Tq + i) * Tk + j] = 1;
  const mask = tensor(blocked, { shape: [B, 1, Tq, Tk], device: q.device });
  scores = where(mask, -Infinity, scores);
  let p = softmax(scores, -1);
  // Rows with no visible key give NaN in softmax; they attend to nothing.
  p = where(ne(p, p), 0, p);
  const o = matmul(p, vh); // [B,H,Tq,D]
  return { out: permute(o, [0, 2, 1, 3]), probs: p };
}

/** A float32 tensor of `value` with x's shape (helper for masks). */
export function fullLike(x: Tensor, value: number): Tensor {
  return full(x.shape, value, { device: x.device });
}
