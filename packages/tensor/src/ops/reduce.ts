// Reductions (sum, mean, max along axes, keepdims), softmax / log-softmax, and sumToShape for broadcast gradients.
import { native } from "@seekr/native";
import { Tensor, empty, shapeStr } from "../tensor.js";
import { record } from "../autograd.js";
import type { DType } from "../dtype.js";
import { normAxes, normAxis, sameShape, shapeSize } from "../shape.js";
import { checkFloat, checkTensor } from "./check.js";
import { broadcastTo, permute as permuteLazy, reshape } from "./layout.js";
import { binaryRaw } from "./elementwise.js";

/** Sums a contiguous run of axes [a0, a1] in one kernel call (no autograd). */
function sumRun(x: Tensor, a0: number, a1: number, scale: number, dtype: DType): Tensor {
  const outer = shapeSize(x.shape.slice(0, a0));
  const mid = shapeSize(x.shape.slice(a0, a1 + 1));
  const inner = shapeSize(x.shape.slice(a1 + 1));
  const outShape = [...x.shape.slice(0, a0), ...x.shape.slice(a1 + 1)];
  const out = empty(outShape, dtype, x.device);
  native.reduceSum(x.handle, out.handle, outer, mid, inner, scale);
  return out;
}

/** Sum over axes without autograd; returns the reduced shape without kept dims, in x's dtype (partial sums of several
 * runs of axes stay float32 in between). */
function sumRaw(x: Tensor, axes: number[], scale: number): Tensor {
  // Group the sorted axes into contiguous runs and reduce from the last run, so indices stay valid.
  const runs: Array<[number, number]> = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a - 1) last[1] = a;
    else runs.push([a, a]);
  }
  let cur = x;
  let first = true;
  for (let r = runs.length - 1; r >= 0; r--) {
    const [a0, a1] = runs[r]!;
    const next = sumRun(cur, a0, a1, first ? scale : 1, r === 0 ? x.dtype : "float32");
    if (cur !== x) cur.dispose();
    cur = next;
    first = false;
  }
  if (cur === x) {
    // No axes: a copy scaled.
    const out = empty(x.shape, x.dtype, x.device);
    native.reduceSum(x.handle, out.handle, x.size, 1, 1, scale);
    return out;
  }
  return cur;
}

function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export interface ReduceOptions {
  keepDims?: boolean;
}

/** Sum over the given axes (all when omitted). */
export function sum(x: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  return sumScaled("sum", x, axes, opts, () => 1);
}
/** Mean over the given axes (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  return sumScaled("mean", x, axes, opts, (n) => (n === 0 ? NaN : 1 / n));
}

function sumScaled(op: string, x: Tensor, axes: number | readonly number[] | undefined, opts: ReduceOptions, scaleOf: (n: number) => number): Tensor {
  checkTensor(x, op, "x");
  checkFloat(x, op, "x");
  const ax = normAxes(axes, x.rank, op);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  const scale = scaleOf(count);
  let out = sumRaw(x, ax, scale);
  if (opts.keepDims) {
    const o2 = out._viewAs(keptShape(x.shape, ax));
    out.dispose();
    out = o2;
  }
  const inShape = x.shape;
  return record(op, out, [x], (g) => {
    const gk = reshape(g, keptShape(inShape, ax));
    const b = broadcastTo(gk, inShape);
    if (scale === 1) return [b];
    const s = empty(inShape, g.dtype, g.device);
    native.unary(13, b.handle, s.handle, scale);
    return [s];
  });
}

/** Reduces a gradient of a broadcast result back to `shape` by summing the broadcast axes. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Error(`internal: sumToShape ${shapeStr(g.shape)} -> ${shapeStr(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
  }
  const s = sum(g, axes);
  return reshape(s, shape);
}

/** Max over one axis (or all): values, and indices (int32) of the first maximum. */
export function maxWithIndices(x: Tensor, axis?: number, opts: ReduceOptions = {}): { values: Tensor; indices: Tensor } {
  checkTensor(x, "max", "x");
  checkFloat(x, "max", "x");
  if (x.size === 0) throw new Error(`max: cannot reduce an empty tensor ${shapeStr(x.shape)}`);
  const flat = axis === undefined;
  const a = flat ? 0 : normAxis(axis, x.rank, "max");
  const shape = flat ? [x.size] : x.shape;
  const outer = shapeSize(shape.slice(0, a));
  const mid = shape[a]!;
  const inner = shapeSize(shape.slice(a + 1));
  const outShape = flat ? (opts.keepDims ? x.shape.map(() => 1) : []) : opts.keepDims ? keptShape(x.shape, [a]) : [...x.shape.slice(0, a), ...x.shape.slice(a + 1)];
  const values = empty(outShape, x.dtype, x.device);
  const indices = empty(outShape, "int32", x.device);
  native.reduceMax(x.handle, values.handle, indices.handle, outer, mid, inner);
  const inShape = x.shape;
  if (flat) {
    // Like PyTorch's full reduction: the gradient is shared evenly among tied maxima.
    record(
      "max",
      values,
      [x],
      (g, [sx, sv]) => {
        const mask = binaryRaw("eq", sx!, sv!);
        const share = binaryRaw("div", g, sum(mask));
        return [binaryRaw("mul", mask, share)];
      },
      { save: [x, values] },
    );
    return { values, indices };
  }
  record(
    "max",
    values,
    [x],
    (g, [idx]) => {
      const gx = empty(inShape, g.dtype, g.device);
      native.maxBackward(g.handle, idx!.handle, gx.handle, outer, mid, inner);
      return [gx];
    },
    { save: [indices] },
  );
  return { values, indices };
}
export function max(x: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  const { values, indices } = maxWithIndices(x, axis, opts);
  indices.dispose();
  return values;
}
/** Index of the maximum along an axis (int32). */
export function argmax(x: Tensor, axis?: number, opts: ReduceOptions = {}): Tensor {
  const { values, indices } = maxWithIndices(x, axis, opts);
  values.dispose();
  return indices;
}

function softmaxImpl(op: "softmax" | "logSoftmax", x: Tensor, axis: number): Tensor {
  checkTensor(x, op, "x");
  checkFloat(x, op, "x");
  if (x.rank === 0) throw new Error(`${op}: needs at least one axis, got a scalar`);
  const a = normAxis(axis, x.rank, op);
  if (a !== x.rank - 1) {
    // Move the axis last, apply, move it back.
    const perm = [...Array(x.rank).keys()].filter((i) => i !== a).concat([a]);
    const inv = perm.map((_, i) => perm.indexOf(i));
    return permuteLazy(softmaxImpl(op, permuteLazy(x, perm), x.rank - 1), inv);
  }
  const cols = x.shape[a]!;
  const rows = cols === 0 ? 0 : x.size / cols;
  const y = empty(x.shape, x.dtype, x.device);
  const log = op === "logSoftmax";
  native.softmax(x.handle, y.handle, rows, cols, log);
  return record(
    op,
    y,
    [x],
    (g, [sy]) => {
      const gx = empty(g.shape, g.dtype, g.device);
      native.softmaxBackward(sy!.handle, g.handle, gx.handle, rows, cols, log);
      return [gx];
    },
    { save: [y] },
  );
}


export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl("softmax", x, axis);
}
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl("logSoftmax", x, axis);
}
