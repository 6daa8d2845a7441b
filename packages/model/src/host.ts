// Host copies of the small int32 / float32 inputs the model reads on the host (ids, masks, labels, tap rows), so a
// forward on a CUDA model does not download them again (each download synchronises the device).
// The copies are @seekr/tensor's host copies (rememberHostCopy), which its ops use too: crossEntropy reads its targets'.
import { type DeviceLike, type Tensor, hostCopy, rememberHostCopy, tensor } from "@seekr/tensor";

/**
 * Creates a tensor from host data on `device` and remembers the data, so the model can read it without a device
 * round trip. The array must not be changed afterwards, nor the tensor's buffer in place.
 */
export function mirroredTensor(data: Int32Array | Float32Array, opts: { shape: readonly number[]; device?: DeviceLike }): Tensor {
  const t = tensor(data, { shape: opts.shape, dtype: data instanceof Int32Array ? "int32" : "float32", ...(opts.device !== undefined ? { device: opts.device } : {}) });
  return rememberHostCopy(t, data);
}

/**
 * The values of an int32 / float32 tensor on the host: the remembered copy when there is one, else a download.
 * With `ifCheap`, a device tensor without a copy gives null instead (for checks the kernels repeat anyway).
 */
export function hostValues(t: Tensor, ifCheap = false): Int32Array | Float32Array | null {
  const m = hostCopy(t);
  if (m) return m;
  if (ifCheap && t.device.type !== "cpu") return null;
  return t.toFloatArray();
}
