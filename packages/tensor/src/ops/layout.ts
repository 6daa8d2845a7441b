// Shape and data-movement ops: reshape, permute/transpose, slice, concat, broadcast, squeeze, index-select.
import { native } from "@seekr/native";
import { Tensor, empty, zeros, shapeStr } from "../tensor.js";
import { record } from "../autograd.js";
import { hostCopy } from "../host.js";
import { broadcastShapes, broadcastStrides, checkShape, contiguousStrides, normAxis, sameShape, shapeSize } from "../shape.js";
import { checkInt, checkSameDevice, checkTensor } from "./check.js";
import { sumToShape } from "./reduce.js";

/** Same data, new shape (one dimension may be -1). Shares the buffer; differentiable. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "reshape", "x");
  let s: readonly number[] = shape;
  if (Array.isArray(shape) && shape.includes(-1)) {
    const t = [...shape];
    const neg = t.filter((d) => d === -1).length;
    if (neg > 1) throw new Error(`reshape: more than one -1 in ${shapeStr(shape)}`);
    const known = t.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || x.size % known !== 0)
      throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
    t[t.indexOf(-1)] = x.size / known;
    s = t;
  }
  const n = checkShape(s, "reshape");
  if (n !== x.size)
    throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)} (${n} elements)`);
  // Same shape: share x's (frozen) shape array; else the Tensor constructor copies it.
  const out = x._viewAs(sameShape(s, x.shape) ? x.shape : s);
  const inShape = x.shape;
  return record("reshape", out, [x], (g) => [g._viewAs(inShape)]);
}
export const view = reshape;
export function flatten(x: Tensor): Tensor {
  return reshape(x, [x.size]);
}
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.rank + 1, "unsqueeze");
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis(axis, x.rank, "squeeze");
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${axis} of ${shapeStr(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** @internal strided copy of a view of `src` into a fresh contiguous tensor. */
function gatherView(src: Tensor, offset: number, strides: number[], shape: number[]): Tensor {
  const out = empty(shape, src.dtype, src.device);
  native.stridedCopy(src.handle, offset, strides, out.handle, 0, contiguousStrides(shape), shape);
  return out;
}

/** Reorders axes (materialises a contiguous copy). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  checkTensor(x, "permute", "x");
  if (perm.length !== x.rank) throw new Error(`permute: permutation [${perm.join(", ")}] has length ${perm.length}, tensor ${shapeStr(x.shape)} has rank ${x.rank}`);
  const p = perm.map((a) => normAxis(a, x.rank, "permute"));
  if (new Set(p).size !== p.length) throw new Error(`permute: [${perm.join(", ")}] is not a permutation`);
  if (p.every((a, i) => a === i)) return reshape(x, x.shape);
  const cs = contiguousStrides(x.shape);
  const shape = p.map((a) => x.shape[a]!);
  const out = gatherView(x, 0, p.map((a) => cs[a]!), shape);
  const inv = p.map((_, i) => p.indexOf(i));
  return record("permute", out, [x], (g) => [permute(g, inv)]);
}
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const ra = normAxis(a, x.rank, "transpose");
  const rb = normAxis(b, x.rank, "transpose");
  const p = [...Array(x.rank).keys()];
  p[ra] = rb;
  p[rb] = ra;
  return permute(x, p);
}

/** x[starts[i]:ends[i]] along each axis (ends exclusive; negative values count from the end). */
export function slice(x: Tensor, starts: readonly number[], ends?: readonly number[]): Tensor {
  checkTensor(x, "slice", "x");
  if (starts.length > x.rank) throw new Error(`slice: ${starts.length} starts for a tensor of rank ${x.rank} ${shapeStr(x.shape)}`);
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    const n = x.shape[i]!;
    let s = starts[i] ?? 0;
    let e = ends?.[i] ?? n;
    if (!Number.isInteger(s) || !Number.isInteger(e)) throw new Error(`slice: bounds must be integers (axis ${i}: ${s}:${e})`);
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (s < 0 || s > n || e < s || e > n)
      throw new Error(`slice: range ${starts[i] ?? 0}:${ends?.[i] ?? n} is out of bounds for axis ${i} of ${shapeStr(x.shape)}`);
    lo.push(s);
    hi.push(e);
  }
  const shape = lo.map((s, i) => hi[i]! - s);
  const cs = contiguousStrides(x.shape);
  const offset = lo.reduce((acc, s, i) => acc + s * cs[i]!, 0);
  const out = gatherView(x, offset, cs, shape);
  const inShape = x.shape;
  return record("slice", out, [x], (g) => {
    const gx = zeros(inShape, { device: g.device });
    native.stridedCopy(g.handle, 0, contiguousStrides(g.shape), gx.handle, offset, cs, shape);
    return [gx];
  });
}
/** Slice of `length` entries from `start` along one axis. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis(axis, x.rank, "narrow");
  const starts = x.shape.map(() => 0);
  const ends = [...x.shape];
  starts[a] = start;
  ends[a] = start + length;
  return slice(x, starts, ends);
}

/** Joins tensors along an axis; all other dimensions must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error("concat: needs at least one tensor");
  xs.forEach((t, i) => checkTensor(t, "concat", `tensors[${i}]`));
  const first = xs[0]!;
  const a = normAxis(axis, first.rank, "concat");
  checkSameDevice("concat", ...xs);
  for (let i = 0; i < xs.length; i++) {
    const t = xs[i]!;
    if (t.dtype !== first.dtype) throw new Error(`concat: tensors[${i}] has dtype ${t.dtype}, tensors[0] has ${first.dtype}`);
    if (t.rank !== first.rank || t.shape.some((d: number, j: number) => j !== a && d !== first.shape[j]))
      throw new Error(`concat: tensors[${i}] ${shapeStr(t.shape)} does not match tensors[0] ${shapeStr(first.shape)} outside axis ${a}`);
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((n, t) => n + t.shape[a]!, 0);
  const out = empty(shape, first.dtype, first.device);
  const os = contiguousStrides(shape);
  let pos = 0;
  const offsets: number[] = [];
  for (const t of xs) {
    offsets.push(pos);
    native.stridedCopy(t.handle, 0, contiguousStrides(t.shape), out.handle, pos * os[a]!, os, [...t.shape]);
    pos += t.shape[a]!;
  }
  return record("concat", out, xs, (g) =>
    xs.map((t, i) => (t.requiresGrad ? narrow(g, a, offsets[i]!, t.shape[a]!) : null)),
  );
}
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error("stack: needs at least one tensor");
  return concat(xs.map((t) => unsqueeze(t, axis)), axis);
}

/** Materialises x broadcast to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, "broadcastTo", "x");
  const target = broadcastShapes(x.shape, shape, "broadcastTo");
  if (!sameShape(target, shape)) throw new Error(`broadcastTo: cannot broadcast ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
  if (sameShape(x.shape, shape)) return reshape(x, shape);
  const out = gatherView(x, 0, broadcastStrides(x.shape, target), target);
  const inShape = x.shape;
  return record("broadcastTo", out, [x], (g) => [sumToShape(g, inShape)]);
}
export const expand = broadcastTo;

/** A contiguous copy (differentiable). */
export function clone(x: Tensor): Tensor {
  checkTensor(x, "clone", "x");
  const out = empty(x.shape, x.dtype, x.device);
  native.copy(out.handle, x.handle);
  return record("clone", out, [x], (g) => [g._viewAs(g.shape)]);
}
/** Same data, cut from the graph. Shares the buffer. */
export function detach(x: Tensor): Tensor {
  checkTensor(x, "detach", "x");
  return x._viewAs(x.shape);
}

/** Rows of a 2-D table (any dtype) by int32 ids (embedding lookup); backward scatter-adds into the table's gradient. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  checkTensor(table, "embedding", "table");
  checkTensor(ids, "embedding", "ids");
  checkInt(ids, "embedding", "ids");
  if (table.rank !== 2) throw new Error(`embedding: table must be 2-D [rows, dim], got ${shapeStr(table.shape)}`);
  checkSameDevice("embedding", table, ids);
  const cols = table.shape[1]!;
  const out = empty([...ids.shape, cols], table.dtype, table.device);
  // A host copy of the ids (rememberHostCopy) lets the native op validate them without downloading, which on a GPU
  // would wait for every kernel queued before it.
  const idsHost = hostCopy(ids) as Int32Array | null;
  if (cols > 0) native.gatherRows(table.handle, ids.handle, out.handle, cols, idsHost);
  const tShape = table.shape;
  return record(
    "embedding",
    out,
    [table],
    (g, [sid]) => {
      const gt = zeros(tShape, { device: g.device });
      if (cols > 0) native.scatterAddRows(g.handle, sid!.handle, gt.handle, cols, idsHost);
      return [gt];
    },
    { save: [ids] },
  );
}
/** index_select along axis 0 (rows). */
export function indexSelect(x: Tensor, ids: Tensor): Tensor {
  checkTensor(x, "indexSelect", "x");
  if (x.rank < 1) throw new Error(`indexSelect: x must have at least one axis, got ${shapeStr(x.shape)}`);
  const rows = x.shape[0]!;
  const rest = x.shape.slice(1);
  const flat = reshape(x, [rows, shapeSize(rest)]);
  const out = embedding(flat, ids);
  return reshape(out, [...ids.shape, ...rest]);
}
