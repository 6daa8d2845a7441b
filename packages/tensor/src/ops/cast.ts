// dtype conversion with a gradient, and the autocast scope that runs matrix products in bfloat16 / float16.
import { native } from "@seekr/native";
import { Tensor, empty } from "../tensor.js";
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

/**
 * @internal x in the autocast dtype for a matrix product: x itself when it has that dtype, else a cast copy that is
 * not recorded for autograd (the product's own backward returns x's gradient in x's dtype) and is shared by every
 * product of the same autocast call that reads x.
 */
export function autocastOperand(x: Tensor, dtype: FloatDType): Tensor {
  if (x.dtype === dtype) return x;
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

/**
 * Runs fn with mixed precision: every matmul / linear inside casts its operands to `dtype` (bfloat16 or float16) and
 * returns `dtype`; elementwise ops then run in the promoted dtype of their inputs (bfloat16 with float32 gives
 * float32), softmax, RMSNorm, attention and cross-entropy compute in float32 internally and return their input's
 * dtype (cross-entropy: float32). Parameters stay float32 (master weights): their gradients arrive as float32 through
 * the casts. `null` or "float32" runs fn unchanged. Scopes nest; the previous setting comes back when fn returns or
 * throws. Use GradScaler with float16 (its range is too small for raw gradients).
 */
export function autocast<T>(dtype: FloatDType | null, fn: () => T): T {
  if (dtype !== null && !isFloatDType(dtype))
    throw new Error(`autocast: dtype must be "bfloat16", "float16", "float32" or null, got ${JSON.stringify(dtype)}`);
  if (typeof fn !== "function") throw new Error(`autocast: expected a function, got ${fn === null ? "null" : typeof fn}`);
  const prev = current;
  const prevCache = operandCache;
  current = dtype === "float32" ? null : dtype;
  operandCache = current ? new Map() : null;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error("autocast: fn must be synchronous (it returned a Promise)");
    return r;
  } finally {
    current = prev;
    operandCache = prevCache;
  }
}

