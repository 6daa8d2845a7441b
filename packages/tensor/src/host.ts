// Host copies of small device tensors (token ids, targets, masks): ops that must read such values on the host —
// crossEntropy validates and counts its targets there — use the copy instead of downloading the tensor, which on a GPU
// would wait for every kernel queued before it.
import { Tensor, shapeStr } from "./tensor.js";
import type { Storage } from "./tensor.js";

const copies = new WeakMap<Storage, Int32Array | Float32Array>();

/**
 * Remembers `data` as the values of `t` (and of every view that shares its buffer) and returns t. The caller promises
 * that neither changes while t lives: the copy is trusted, never compared. int32 tensors take an Int32Array, float32
 * tensors a Float32Array, of t.size elements.
 */
export function rememberHostCopy(t: Tensor, data: Int32Array | Float32Array): Tensor {
  if (!(t instanceof Tensor)) throw new Error(`rememberHostCopy: t must be a Tensor, got ${t === null ? "null" : typeof t}`);
  const want = t.dtype === "int32" ? Int32Array : t.dtype === "float32" ? Float32Array : null;
  if (!want) throw new Error(`rememberHostCopy: only int32 and float32 tensors keep host copies, got ${t.dtype} ${shapeStr(t.shape)}`);
  if (!(data instanceof want)) throw new Error(`rememberHostCopy: a ${t.dtype} tensor needs a ${want.name}, got ${data === null ? "null" : (data as object)?.constructor?.name ?? typeof data}`);
  if (data.length !== t.size) throw new Error(`rememberHostCopy: ${data.length} values for a tensor of ${t.size} elements ${shapeStr(t.shape)}`);
  copies.set(t.storage, data);
  return t;
}

/** The remembered host copy of t's values, or null (none, or t is disposed). */
export function hostCopy(t: Tensor): Int32Array | Float32Array | null {
  if (!(t instanceof Tensor) || t.isDisposed) return null;
  const c = copies.get(t.storage);
  return c && c.length === t.size ? c : null;
}
