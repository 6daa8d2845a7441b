// Elementwise ops: broadcasting arithmetic and comparisons, unary math, where/maskedFill, fused SwiGLU — each with its
// gradient.
import { native } from "@seekr/native";
import { Tensor, empty, full, shapeStr } from "../tensor.js";
import { record } from "../autograd.js";
import { promoteTypes, type DType } from "../dtype.js";
import { broadcastShapes, broadcastStrides, sameShape } from "../shape.js";
import { sumToShape } from "./reduce.js";
import { checkFloat, checkSameDevice, checkSameDevice2, checkTensor } from "./check.js";

export type TensorOrNumber = Tensor | number;

const BIN = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, eq: 7, lt: 8, gt: 9, le: 10, ge: 11, ne: 12 } as const;
type BinName = keyof typeof BIN;

function asTensor(x: TensorOrNumber, like: Tensor): Tensor {
  return typeof x === "number" ? full([], x, { device: like.device }) : x;
}

const COMPARISON = new Set<BinName>(["eq", "lt", "gt", "le", "ge", "ne"]);

/**
 * @internal Raw broadcasting kernel call, no autograd. The result has the promoted dtype of a and b (comparisons:
 * float32 masks); `dtype` overrides it (a number operand takes the dtype of the tensor it meets).
 */
export function binaryRaw(op: BinName, a: Tensor, b: Tensor, dtype?: DType): Tensor {
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape, op);
  const out = empty(shape, COMPARISON.has(op) ? "float32" : dtype ?? promoteTypes(a.dtype, b.dtype), a.device);
  native.binary(BIN[op], a.handle, broadcastStrides(a.shape, shape), b.handle, broadcastStrides(b.shape, shape), out.handle, shape as number[]);
  return out;
}

/** The dtype of a result from operands a, b (as given) and their tensors ta, tb: a number takes its partner's dtype. */
function resultDType(a: TensorOrNumber, b: TensorOrNumber, ta: Tensor, tb: Tensor): DType {
  return typeof a === "number" ? tb.dtype : typeof b === "number" ? ta.dtype : promoteTypes(ta.dtype, tb.dtype);
}

function binaryOp(
  op: BinName,
  a: TensorOrNumber,
  b: TensorOrNumber,
  grads?: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null],
  saveOut = false,
): Tensor {
  if (typeof a === "number" && typeof b === "number") throw new Error(`${op}: at least one argument must be a tensor`);
  const like = (typeof a === "number" ? b : a) as Tensor;
  checkTensor(like, op, "input");
  // A number operand becomes a temporary scalar tensor (freed below) with its partner's dtype.
  const ta = typeof a === "number" ? asTensor(a, like) : a;
  const tb = typeof b === "number" ? asTensor(b, like) : b;
  checkTensor(ta, op, "a");
  checkTensor(tb, op, "b");
  checkFloat(ta, op, "a");
  checkFloat(tb, op, "b");
  checkSameDevice2(op, ta, tb);
  const out = binaryRaw(op, ta, tb, resultDType(a, b, ta, tb));
  if (grads) {
    record(
      op,
      out,
      [ta, tb],
      (g, saved) => {
        const [sa, sb, so] = saved as [Tensor, Tensor, Tensor | undefined];
        const [ga, gb] = grads(g, sa, sb, so ?? out);
        return [
          ga && ta.requiresGrad ? sumToShape(ga, ta.shape) : null,
          gb && tb.requiresGrad ? sumToShape(gb, tb.shape) : null,
        ];
      },
      { save: saveOut ? [ta, tb, out] : [ta, tb] },
    );
  }
  if (ta !== a && ta !== out) ta.dispose();
  if (tb !== b && tb !== out) tb.dispose();
  return out;
}

export function add(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binaryOp("add", a, b, (g) => [g, g]);
}
export function sub(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binaryOp("sub", a, b, (g) => [g, neg(g)]);
}
export function mul(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binaryOp("mul", a, b, (g, x, y) => [mul(g, y), mul(g, x)]);
}
export function div(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binaryOp("div", a, b, (g, x, y) => [div(g, y), neg(div(mul(g, x), mul(y, y)))]);
}
/** a ** b elementwise (b may be a tensor); for a number exponent prefer powScalar. */
export function pow(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (typeof b === "number" && typeof a !== "number") return powScalar(a, b);
  return binaryOp(
    "pow",
    a,
    b,
    (g, x, y, out) => [mul(g, mul(y, pow(x, sub(y, 1)))), mul(g, mul(out, log(x)))],
    true,
  );
}
/** Gradient share of `a` in maximum/minimum: 1 where a wins, 1/2 on ties (PyTorch's rule), 0 elsewhere. */
function winnerMask(op: "gt" | "lt", x: Tensor, y: Tensor): Tensor {
  return add(binaryRaw(op, x, y), mulScalar(binaryRaw("eq", x, y), 0.5));
}
export function maximum(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binaryOp("maximum", a, b, (g, x, y) => {
    const m = winnerMask("gt", x, y);
    return [mul(g, m), mul(g, sub(1, m))];
  });
}
export function minimum(a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return binaryOp("minimum", a, b, (g, x, y) => {
    const m = winnerMask("lt", x, y);
    return [mul(g, m), mul(g, sub(1, m))];
  });
}
/** Comparisons return float32 masks (1 where true, 0 elsewhere) and are not differentiable. */
export const eq = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binaryOp("eq", a, b);
export const ne = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binaryOp("ne", a, b);
export const lt = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binaryOp("lt", a, b);
export const le = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binaryOp("le", a, b);
export const gt = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binaryOp("gt", a, b);
export const ge = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binaryOp("ge", a, b);

// ---- unary ----------------------------------------------------------------------------------------------------
const UN = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, tanh: 5, sigmoid: 6, silu: 7, gelu: 8, relu: 9, abs: 10,
  powScalar: 11, addScalar: 12, mulScalar: 13, sin: 14, cos: 15, square: 16, reciprocal: 17, geluTanh: 18,
} as const;
type UnName = keyof typeof UN;

function unaryOp(op: UnName, x: Tensor, p = 0): Tensor {
  checkTensor(x, op, "x");
  checkFloat(x, op, "x");
  const out = empty(x.shape, x.dtype, x.device);
  native.unary(UN[op], x.handle, out.handle, p);
  return record(
    op,
    out,
    [x],
    (g, [sx]) => {
      const gx = empty(x.shape, x.dtype, x.device);
      native.unaryGrad(UN[op], sx!.handle, g.handle, gx.handle, p);
      return [gx];
    },
    { save: [x] },
  );
}

export const neg = (x: Tensor): Tensor => unaryOp("neg", x);
export const exp = (x: Tensor): Tensor => unaryOp("exp", x);
export const log = (x: Tensor): Tensor => unaryOp("log", x);
export const sqrt = (x: Tensor): Tensor => unaryOp("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unaryOp("rsqrt", x);
export const tanh = (x: Tensor): Tensor => unaryOp("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unaryOp("sigmoid", x);
export const silu = (x: Tensor): Tensor => unaryOp("silu", x);
/** GELU with the exact erf form (PyTorch's default); geluTanh is the tanh approximation. */
export const gelu = (x: Tensor): Tensor => unaryOp("gelu", x);
export const geluTanh = (x: Tensor): Tensor => unaryOp("geluTanh", x);
export const relu = (x: Tensor): Tensor => unaryOp("relu", x);
export const abs = (x: Tensor): Tensor => unaryOp("abs", x);
export const sin = (x: Tensor): Tensor => unaryOp("sin", x);
export const cos = (x: Tensor): Tensor => unaryOp("cos", x);
export const square = (x: Tensor): Tensor => unaryOp("square", x);
export const reciprocal = (x: Tensor): Tensor => unaryOp("reciprocal", x);
export const powScalar = (x: Tensor, p: number): Tensor => {
  if (typeof p !== "number" || Number.isNaN(p)) throw new Error(`powScalar: exponent must be a number, got ${String(p)}`);
  return unaryOp("powScalar", x, p);
};
export const addScalar = (x: Tensor, s: number): Tensor => unaryOp("addScalar", x, s);
export const mulScalar = (x: Tensor, s: number): Tensor => unaryOp("mulScalar", x, s);

// ---- fused SwiGLU -----------------------------------------------------------------------------------------------
/**
 * silu(gate) * up in one kernel (the LLaMA MLP's gate), with a one-kernel backward: the same values as
 * mul(silu(gate), up) — bit for bit in float32 — in half the kernels and memory passes. gate and up must have the same
 * shape (no broadcasting); the result has their promoted dtype, like mul (autocast does not cast it). Each gradient
 * is computed in float32 and rounded once to its input's dtype.
 */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  checkTensor(gate, "swiglu", "gate");
  checkTensor(up, "swiglu", "up");
  checkFloat(gate, "swiglu", "gate");
  checkFloat(up, "swiglu", "up");
  checkSameDevice("swiglu", gate, up);
  if (!sameShape(gate.shape, up.shape))
    throw new Error(`swiglu: 'gate' ${shapeStr(gate.shape)} and 'up' ${shapeStr(up.shape)} must have the same shape`);
  const out = empty(gate.shape, promoteTypes(gate.dtype, up.dtype), gate.device);
  native.swiglu(gate.handle, up.handle, out.handle);
  return record(
    "swiglu",
    out,
    [gate, up],
    (g, [sg, su]) => {
      const gg = empty(gate.shape, gate.dtype, gate.device);
      const gu = empty(up.shape, up.dtype, up.device);
      native.swigluBackward(sg!.handle, su!.handle, g.handle, gg.handle, gu.handle);
      if (!gate.requiresGrad) gg.dispose();
      if (!up.requiresGrad) gu.dispose();
      return [gate.requiresGrad ? gg : null, up.requiresGrad ? gu : null];
    },
    { save: [gate, up] },
  );
}

// ---- where ----------------------------------------------------------------------------------------------------
/** cond ? a : b elementwise with broadcasting; cond is a float mask (nonzero = true). */
export function where(cond: Tensor, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  checkTensor(cond, "where", "cond");
  checkFloat(cond, "where", "cond");
  const ta = asTensor(a, cond);
  const tb = asTensor(b, cond);
  checkFloat(ta, "where", "a");
  checkFloat(tb, "where", "b");
  checkSameDevice("where", cond, ta, tb);
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, "where"), tb.shape, "where");
  const out = empty(shape, resultDType(a, b, ta, tb), cond.device);
  native.where(
    cond.handle, broadcastStrides(cond.shape, shape), ta.handle, broadcastStrides(ta.shape, shape),
    tb.handle, broadcastStrides(tb.shape, shape), out.handle, shape,
  );
  record(
    "where",
    out,
    [ta, tb],
    (g, [c]) => {
      const zero = full([], 0, { device: g.device });
      return [
        ta.requiresGrad ? sumToShape(where(c!, g, zero), ta.shape) : null,
        tb.requiresGrad ? sumToShape(where(c!, zero, g), tb.shape) : null,
      ];
    },
    { save: [cond] },
  );
  if (typeof a === "number") ta.dispose();
  if (typeof b === "number") tb.dispose();
  return out;
}

/** x with `value` where mask is nonzero. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

export function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new Error(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
}
