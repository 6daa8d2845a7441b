// Parameter copies: frozen model copies (LwF), parameter snapshots (EWC anchors), state tensors by name.

import { LlamaModel } from "@seekr/model";
import { type Device, type Tensor, clone, copyTo, deviceName, noGrad } from "@seekr/tensor";

/** Detached copies of a model's parameters (kept: the caller disposes them). */
export function copyParameters(model: LlamaModel): Map<string, Tensor> {
  return noGrad(() => {
    const out = new Map<string, Tensor>();
    for (const [name, p] of model.parameters()) {
      const c = clone(p).keep();
      c.requiresGrad = false;
      out.set(name, c);
    }
    return out;
  });
}

/** A frozen copy of a model (same config, copied parameters); use it under noGrad. */
export function frozenCopy(model: LlamaModel): LlamaModel {
  return new LlamaModel(model.config, copyParameters(model));
}

/** The tensors on `device`: those elsewhere are replaced by copies (the originals are left to their owner). */
export function onDevice(tensors: Map<string, Tensor>, device: Device): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of tensors) out.set(k, deviceName(v.device) === deviceName(device) ? v : copyTo(v, device));
  return out;
}

/** Prefixes tensor names (for method state). */
export function prefixed(prefix: string, tensors: Map<string, Tensor>): Map<string, Tensor> {
  return new Map([...tensors].map(([k, v]) => [`${prefix}${k}`, v]));
}

/** The tensors of a state whose names start with `prefix`, prefix removed. */
export function withPrefix(prefix: string, tensors: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}
