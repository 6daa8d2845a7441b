// Argument checks shared by ops: every error names the op, the argument and the shapes involved.
import { Tensor, shapeStr } from "../tensor.js";
import { deviceName, sameDevice } from "../device.js";
import { isTensorLike } from "../scope.js";
import { isFloatDType } from "../dtype.js";

export function checkTensor(t: unknown, op: string, name: string): asserts t is Tensor {
  if (t instanceof Tensor) {
    if (t.isDisposed) throw new Error(`${op}: '${name}' ${shapeStr(t.shape)} was disposed`);
    return;
  }
  if (!isTensorLike(t)) throw new Error(`${op}: '${name}' must be a Tensor, got ${t === null ? "null" : typeof t}`);
  if (t.isDisposed) throw new Error(`${op}: '${name}' ${shapeStr(t.shape)} was disposed`);
}
/** float32, bfloat16 or float16 (kernels compute in float32 and round results to the output's dtype). */
export function checkFloat(t: Tensor, op: string, name: string): void {
  if (!isFloatDType(t.dtype))
    throw new Error(`${op}: '${name}' must be a float tensor (float32, bfloat16 or float16), got ${t.dtype} ${shapeStr(t.shape)}`);
}
export function checkInt(t: Tensor, op: string, name: string): void {
  if (t.dtype !== "int32") throw new Error(`${op}: '${name}' must be int32, got ${t.dtype} ${shapeStr(t.shape)}`);
}
export function checkRank(t: Tensor, op: string, name: string, ...ranks: number[]): void {
  if (!ranks.includes(t.rank))
    throw new Error(`${op}: '${name}' must have rank ${ranks.join(" or ")}, got shape ${shapeStr(t.shape)}`);
}
export function checkSameDevice(op: string, ...ts: Tensor[]): void {
  const d = ts[0]!.device;
  for (const t of ts)
    if (t.device !== d && !sameDevice(t.device, d))
      throw new Error(`${op}: tensors are on different devices (${deviceName(d)} and ${deviceName(t.device)})`);
}
/** checkSameDevice for two tensors (no rest array). */
export function checkSameDevice2(op: string, a: Tensor, b: Tensor): void {
  if (a.device !== b.device && !sameDevice(a.device, b.device))
    throw new Error(`${op}: tensors are on different devices (${deviceName(a.device)} and ${deviceName(b.device)})`);
}
export function checkFinite(x: number, op: string, name: string): void {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`${op}: '${name}' must be a finite number, got ${String(x)}`);
}
