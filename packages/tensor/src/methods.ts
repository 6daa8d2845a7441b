// Method-style API on Tensor (t.add(u), t.sum(), t.backward(), ...), delegating to the functional ops.
import { Tensor, copyTo } from "./tensor.js";
import type { DeviceLike } from "./device.js";
import { backward, type BackwardOptions } from "./autograd.js";
import * as ew from "./ops/elementwise.js";
import * as red from "./ops/reduce.js";
import * as lay from "./ops/layout.js";
import * as mm from "./ops/matmul.js";
import { cast as castOp } from "./ops/cast.js";
import type { DType } from "./dtype.js";
import { named } from "./named.js";

type TN = Tensor | number;

declare module "./tensor.js" {
  interface Tensor {
    add(b: TN): Tensor;
    sub(b: TN): Tensor;
    mul(b: TN): Tensor;
    div(b: TN): Tensor;
    pow(b: TN): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    silu(): Tensor;
    gelu(): Tensor;
    abs(): Tensor;
    square(): Tensor;
    sum(axes?: number | readonly number[], opts?: red.ReduceOptions): Tensor;
    mean(axes?: number | readonly number[], opts?: red.ReduceOptions): Tensor;
    max(axis?: number, opts?: red.ReduceOptions): Tensor;
    argmax(axis?: number, opts?: red.ReduceOptions): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    permute(perm: readonly number[]): Tensor;
    transpose(a?: number, b?: number): Tensor;
    slice(starts: readonly number[], ends?: readonly number[]): Tensor;
    squeeze(axis?: number): Tensor;
    unsqueeze(axis: number): Tensor;
    flatten(): Tensor;
    matmul(b: Tensor, opts?: mm.MatmulOptions): Tensor;
    clone(): Tensor;
    detach(): Tensor;
    /** Copy to a device ("cpu", "cuda:0"). */
    to(device: DeviceLike): Tensor;
    /** Convert to another dtype (float32, int32, bfloat16, float16); differentiable between float dtypes. */
    cast(dtype: DType): Tensor;
    backward(opts?: BackwardOptions): void;
  }
}

const P = Tensor.prototype;
P.add = function (b) { return ew.add(this, b); };
P.sub = function (b) { return ew.sub(this, b); };
P.mul = function (b) { return ew.mul(this, b); };
P.div = function (b) { return ew.div(this, b); };
P.pow = function (b) { return ew.pow(this, b); };
P.neg = function () { return ew.neg(this); };
P.exp = function () { return ew.exp(this); };
P.log = function () { return ew.log(this); };
P.sqrt = function () { return ew.sqrt(this); };
P.rsqrt = function () { return ew.rsqrt(this); };
P.tanh = function () { return ew.tanh(this); };
P.sigmoid = function () { return ew.sigmoid(this); };
P.relu = function () { return ew.relu(this); };
P.silu = function () { return ew.silu(this); };
P.gelu = function () { return ew.gelu(this); };
P.abs = function () { return ew.abs(this); };
P.square = function () { return ew.square(this); };
P.sum = function (axes, opts) { return red.sum(this, axes, opts); };
P.mean = function (axes, opts) { return red.mean(this, axes, opts); };
P.max = function (axis, opts) { return red.max(this, axis, opts); };
P.argmax = function (axis, opts) { return red.argmax(this, axis, opts); };
P.softmax = function (axis) { return red.softmax(this, axis); };
P.logSoftmax = function (axis) { return red.logSoftmax(this, axis); };
P.reshape = function (shape) { return lay.reshape(this, shape); };
P.view = function (shape) { return lay.reshape(this, shape); };
P.permute = function (perm) { return lay.permute(this, perm); };
P.transpose = function (a, b) { return lay.transpose(this, a, b); };
P.slice = function (s, e) { return lay.slice(this, s, e); };
P.squeeze = function (axis) { return lay.squeeze(this, axis); };
P.unsqueeze = function (axis) { return lay.unsqueeze(this, axis); };
P.flatten = function () { return lay.flatten(this); };
P.matmul = function (b, opts) { return mm.matmul(this, b, opts); };
P.clone = function () { return lay.clone(this); };
P.detach = function () { return lay.detach(this); };
P.to = function (device) { return copyTo(this, device); };
P.cast = function (dtype) { return castOp(this, dtype); };
P.backward = function (opts) { backward(this, opts); };

// Every method's errors name it, like the functions of index.ts.
for (const key of Object.getOwnPropertyNames(P) as Array<keyof Tensor>) {
  if ((key as string) === "constructor") continue;
  const desc = Object.getOwnPropertyDescriptor(P, key);
  if (!desc || typeof desc.value !== "function") continue;
  Object.defineProperty(P, key, { ...desc, value: named(String(key), desc.value as (...a: unknown[]) => unknown) });
}
