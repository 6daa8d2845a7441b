// dtype conversion with a gradient, and the autocast scope that runs matrix products in bfloat16 / float16.
import { native } from "@seekr/native";
import { Tensor, empty, emptyDetached } from "../tensor.js";
import { record } from "../autograd.js";
import { isDType, isFloatDType, type DType, type FloatDType } from "../dtype.js";
import { checkTensor } from "./check.js";
import { reshape } from "./layout.js";

/**
 * x converted to `dtype`: floats round to nearest even (float16 overflows to ±inf), float -> int32 truncates toward
 * zero (NaN -> 0, saturating), int32 -> float rounds. Differentiable between float dtypes (the gradient is cast back to
 * x's dtype, as in PyTorch). Casting to x's own dtype returns a view.
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, "cast", "x");
  if (!isDType(dtype)) throw new Error(`cast: unknown dtype ${JSON.stringify(dtype)} (float32, int32, bfloat16, float16)`);
  if (dtype === x.dtype) return reshape(x, x.shape);
  const out = empty(x.shape, dtype, x.device);
  native.cast(out.handle, x.handle);
  if (!isFloatDType(dtype) || !isFloatDType(x.dtype)) return out;
  const from = x.dtype;
  return record("cast", out, [x], (g) => [cast(g, from)]);
}

let current: FloatDType | null = null;
// The operands cast by the matrix products of the current autocast call, by source tensor: a tensor read by several
// products (a layer's input feeding q, k and v; a weight used twice) is cast once.
let operandCache: Map<Tensor, Tensor> | null = null;
// Whether parameters' casts are kept between autocast calls (AutocastOptions.cacheWeights).
let keepWeightCasts = true;

/**
 * The kept cast of a parameter-like tensor (a leaf that requires grad or is kept) in `dtype`, current with its buffer:
 * made once, reused while the buffer's version is unchanged, refreshed by AdamW's step in the same pass as the update
 * (lowCopyToRefresh) or, after any other in-place update, cast again here. Lives with the parameter's buffer.
 */
function keptCast(x: Tensor, dtype: FloatDType): Tensor {
  const s = x.storage;
  let e = s.lowCopies?.get(dtype);
  if (!e || e.copy.isDisposed || e.version !== s.version) {
    if (e && !e.copy.isDisposed && e.copy.storage.refs === 1) {
      native.cast(e.copy.handle, x.handle); // nobody else holds it: cast again in place
      e.version = s.version;
    } else {
      // A graph that is still alive may hold the old copy (saved for its backward): it keeps it, this gets a new one.
      e?.copy.dispose();
      const copy = emptyDetached(x.shape, dtype, x.device);
      copy.kept = true;
      native.cast(copy.handle, x.handle);
      e = { copy, version: s.version };
      (s.lowCopies ??= new Map()).set(dtype, e);
    }
  }
  const view = e.copy._viewAs(x.shape);
  keptViews.add(view);
  return view;
}
// Views of kept casts handed to matrix products (releaseOperand frees them once the product has saved its own).
const keptViews = new WeakSet<Tensor>();

/**
 * @internal Called by a matrix product when it is done with an operand from autocastOperand: a view of a kept cast
 * is freed now (the product's graph node saved a view of its own), so that the next optimizer step finds the copy
 * held by nobody and rewrites it in place. Per-call casts stay with the autocast call (other products share them).
 */
export function releaseOperand(t: Tensor): void {
  if (keptViews.has(t)) {
    keptViews.delete(t);
    t.dispose();
  }
}

/**
 * @internal For an optimizer about to update x's buffer in place: the kept cast it may write in the same pass (one
 * that nothing else holds), or null. After the update the optimizer calls markUpdated(x, copy).
 */
export function lowCopyToRefresh(x: Tensor): Tensor | null {
  const m = x.storage.lowCopies;
  if (!m) return null;
  for (const e of m.values()) if (!e.copy.isDisposed && e.copy.storage.refs === 1) return e.copy;
  return null;
}

/**
 * @internal After an in-place update of x's buffer: its version moves on (every kept cast of it is stale), except
 * `refreshed`, the kept cast the update wrote too.
 */
export function markUpdated(x: Tensor, refreshed: Tensor | null = null): void {
  const s = x.storage;
  s.version++;
  if (refreshed && s.lowCopies) for (const e of s.lowCopies.values()) if (e.copy === refreshed) e.version = s.version;
}

/**
 * @internal x in the autocast dtype for a matrix product: x itself when it has that dtype, else a cast copy that is
 * not recorded for autograd (the product's own backward returns x's gradient in x's dtype) and is shared by every
 * product of the same autocast call that reads x.
 */
export function autocastOperand(x: Tensor, dtype: FloatDType): Tensor {
  if (x.dtype === dtype) return x;
  if (keepWeightCasts && x.isLeaf && (x.requiresGrad || x.kept)) return keptCast(x, dtype);
  const hit = operandCache?.get(x);
  if (hit && !hit.isDisposed && !x.isDisposed && hit.dtype === dtype) return hit;
  const out = empty(x.shape, dtype, x.device);
  native.cast(out.handle, x.handle);
  operandCache?.set(x, out);
  return out;
}

/** The dtype matrix products are cast to right now (inside autocast), or null. */
export function autocastDType(): FloatDType | null {
  return current;
}

export interface AutocastOptions {
  /**
   * Keep parameters' casts between autocast calls (default true): a leaf tensor that requires grad (or is kept) is
   * cast once into a copy that lives with it and is reused while the parameter is unchanged; AdamW's step rewrites the
   * copy in the same pass as the update, so a training step casts no weights at all. The cost: the copy's memory
   * (2 bytes per parameter) for the parameter's lifetime. false: cast per autocast call, freed with the step.
   */
  cacheWeights?: boolean;
}

/**
 * Runs fn with mixed precision: every matmul / linear inside casts its operands to `dtype` (bfloat16 or float16) and
 * returns `dtype`; elementwise ops then run in the promoted dtype of their inputs (bfloat16 with float32 gives
 * float32), softmax, RMSNorm, attention and cross-entropy compute in float32 internally and return their input's
 * dtype (cross-entropy: float32). Parameters stay float32 (master weights): their gradients arrive as float32 through
 * the casts. `null` or "float32" runs fn unchanged. Scopes nest; the previous setting comes back when fn returns or
 * throws. Use GradScaler with float16 (its range is too small for raw gradients).
 */
export function autocast<T>(dtype: FloatDType | null, fn: () => T, opts: AutocastOptions = {}): T {
  if (dtype !== null && !isFloatDType(dtype))
    throw new Error(`autocast: dtype must be "bfloat16", "float16", "float32" or null, got ${JSON.stringify(dtype)}`);
  if (typeof fn !== "function") throw new Error(`autocast: expected a function, got ${fn === null ? "null" : typeof fn}`);
  if (opts === null || typeof opts !== "object") throw new Error("autocast: options must be an object");
  if (opts.cacheWeights !== undefined && typeof opts.cacheWeights !== "boolean")
    throw new Error(`autocast: cacheWeights must be a boolean, got ${JSON.stringify(opts.cacheWeights)}`);
  const prev = current;
  const prevCache = operandCache;
  const prevKeep = keepWeightCasts;
  current = dtype === "float32" ? null : dtype;
  operandCache = current ? new Map() : null;
  keepWeightCasts = opts.cacheWeights ?? true;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error("autocast: fn must be synchronous (it returned a Promise)");
    return r;
  } finally {
    current = prev;
    operandCache = prevCache;
    keepWeightCasts = prevKeep;
  }
}

