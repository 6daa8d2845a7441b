// Matrix products: matmul with broadcast batch dims and transpose flags, linear layers; gradients by GEMM.
import { native } from "@seekr/native";
import { Tensor, empty, shapeStr } from "../tensor.js";
import { record, type GradContext } from "../autograd.js";
import { promoteTypes } from "../dtype.js";
import { autocastDType, autocastOperand, cast, releaseOperand } from "./cast.js";
import type { FloatDType } from "../dtype.js";
import { broadcastShapes, sameShape, shapeSize } from "../shape.js";
import { checkFloat, checkSameDevice, checkTensor } from "./check.js";
import { broadcastTo, reshape } from "./layout.js";
import { sumToShape } from "./reduce.js";
import { add as addBias } from "./elementwise.js";

export interface MatmulOptions {
  /** Use the transpose of a's last two axes. */
  transA?: boolean;
  /** Use the transpose of b's last two axes. */
  transB?: boolean;
}

/** GEMM backend override for tests and benchmarks: auto, own (Seekr's kernel), blas, reference (double loop). */
export type GemmBackend = "auto" | "own" | "blas" | "reference";
let gemmBackend = 0;
export function setGemmBackend(b: GemmBackend): void {
  const code = { auto: 0, own: 1, blas: 2, reference: 3 }[b];
  if (code === undefined) throw new Error(`setGemmBackend: unknown backend ${JSON.stringify(b)}`);
  if (code === 2 && !native.gemmInfo().blas) throw new Error("setGemmBackend: this addon was built without OpenBLAS");
  gemmBackend = code;
}

/**
 * Raw batched GEMM over contiguous a [batchA, ...], b [batchB, ...] (batch 1 broadcasts), no autograd. With `into`
 * (a contiguous buffer of outShape) the product is added to it (beta = 1) and `into` is returned.
 */
function gemm(a: Tensor, b: Tensor, batch: number, batchA: number, batchB: number, M: number, N: number, K: number, ta: boolean, tb: boolean, outShape: readonly number[], outDType?: FloatDType, into?: Tensor | null): Tensor {
  const out = into ?? empty(outShape, outDType ?? promoteTypes(a.dtype, b.dtype), a.device);
  native.matmul(a.handle, b.handle, out.handle, batch, M, N, K, ta, tb, batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N, 1, into ? 1 : 0, gemmBackend);
  return out;
}

/** The pending gradient of an operand (GradContext) when a GEMM can add into it (dtype `dtype`). */
function pendingFor(ctx: GradContext, i: number, dtype: string): Tensor | null {
  const p = ctx.pending(i);
  return p && p.dtype === dtype ? p : null;
}

/**
 * Matrix product with NumPy/PyTorch semantics for rank >= 2 (batch axes broadcast); 1-D operands are treated as
 * row / column vectors. transA / transB use the transposes of the last two axes without copying.
 * Operands may be float32, bfloat16 or float16 (f32 accumulation; the result has their promoted dtype). Inside
 * autocast(dtype, ...) both operands are first cast (differentiably) to that dtype.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  checkTensor(a, "matmul", "a");
  checkTensor(b, "matmul", "b");
  checkFloat(a, "matmul", "a");
  checkFloat(b, "matmul", "b");
  checkSameDevice("matmul", a, b);
  const ac = autocastDType();
  // Linear layers (a matrix b, a not transposed) under autocast: one fused product, see autocastLinear.
  if (ac && (a.dtype !== ac || b.dtype !== ac) && b.rank === 2 && a.rank >= 2 && !opts.transA) return autocastLinear(a, b, ac, !!opts.transB);
  if (ac && (a.dtype !== ac || b.dtype !== ac)) {
    const ca = a.dtype === ac ? a : cast(a, ac);
    const cb = b.dtype === ac ? b : cast(b, ac);
    return matmul(ca, cb, opts);
  }
  const ta = !!opts.transA;
  const tb = !!opts.transB;
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: operands must have rank >= 1, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  if (a.rank === 1 || b.rank === 1) {
    if ((a.rank === 1 && ta) || (b.rank === 1 && tb)) throw new Error("matmul: transA / transB need rank >= 2 operands");
    const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]!]) : a;
    const b2 = b.rank === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
    const r = matmul(a2, b2, opts);
    const shape = [...r.shape];
    if (b.rank === 1) shape.splice(shape.length - 1, 1);
    if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
    return reshape(r, shape);
  }
  const [am, ak] = ta ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [bk, bn] = tb ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ak !== bk)
    throw new Error(`matmul: inner dimensions differ: a ${shapeStr(a.shape)}${ta ? "^T" : ""} has ${ak}, b ${shapeStr(b.shape)}${tb ? "^T" : ""} has ${bk}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batchShape = broadcastShapes(aBatch, bBatch, "matmul");
  const batch = shapeSize(batchShape);
  const outShape = [...batchShape, am, bn];

  // Fold a's batch into M when b is a plain matrix and a is not transposed (linear layers): one big GEMM.
  if (bBatch.length === 0 && !ta) {
    const out = gemm(a, b, 1, 1, 1, shapeSize(aBatch) * am, bn, ak, false, tb, outShape);
    return attachGrad(a, b, out, ta, tb);
  }
  // Operands whose batch is neither full nor a single matrix are materialised at the full batch.
  const fa = shapeSize(aBatch) === batch || shapeSize(aBatch) === 1 ? a : broadcastTo(a, [...batchShape, ...a.shape.slice(-2)]);
  const fb = shapeSize(bBatch) === batch || shapeSize(bBatch) === 1 ? b : broadcastTo(b, [...batchShape, ...b.shape.slice(-2)]);
  const out = gemm(fa, fb, batch, shapeSize(fa.shape.slice(0, -2)), shapeSize(fb.shape.slice(0, -2)), am, bn, ak, ta, tb, outShape);
  return attachGrad(a, b, out, ta, tb);
}

/**
 * a [..., K] times op(b) (b [K, N], or [N, K] with transB) in the autocast dtype `ac`: the operands are cast without
 * recording the casts (autocastOperand: each tensor once per autocast call), the product is `ac`, and the backward
 * computes the gradients of a and b straight in their own dtypes (float32 master weights: the GEMM writes float32
 * from `ac` operands with float32 accumulation). PyTorch's autocast rounds those gradients to `ac` first and casts them
 * back; skipping that rounding saves a cast kernel per operand and keeps the gradients' float32 accumulation.
 */
function autocastLinear(a: Tensor, b: Tensor, ac: FloatDType, tb: boolean): Tensor {
  const K = a.shape[a.rank - 1]!;
  const [bk, N] = tb ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
  if (K !== bk) throw new Error(`matmul: inner dimensions differ: a ${shapeStr(a.shape)} has ${K}, b ${shapeStr(b.shape)}${tb ? "^T" : ""} has ${bk}`);
  const M = shapeSize(a.shape.slice(0, -1));
  const ca = autocastOperand(a, ac);
  const cb = autocastOperand(b, ac);
  const out = gemm(ca, cb, 1, 1, 1, M, N, K, false, tb, [...a.shape.slice(0, -1), N]);
  const res = record(
    "matmul",
    out,
    [a, b],
    (g, [sa, sb], ctx) => {
      // g [M, N]; ga = g op(B)^T [M, K]; gb = A^T g [K, N], or (g^T A) [N, K] with transB. ga is added straight into
      // a's pending gradient when there is one (the input of several projections: q / k / v, gate / up).
      const ga = a.requiresGrad ? gemm(g, sb!, 1, 1, 1, M, K, N, false, !tb, a.shape, a.dtype as FloatDType, pendingFor(ctx, 0, a.dtype)) : null;
      const gb = !b.requiresGrad ? null : tb
        ? gemm(g, sa!, 1, 1, 1, N, K, M, true, false, b.shape, b.dtype as FloatDType)
        : gemm(sa!, g, 1, 1, 1, K, N, M, true, false, b.shape, b.dtype as FloatDType);
      return [ga, gb];
    },
    { save: [ca, cb] },
  );
  releaseOperand(ca);
  releaseOperand(cb);
  return res;
}

function attachGrad(a: Tensor, b: Tensor, out: Tensor, ta: boolean, tb: boolean): Tensor {
  return record(
    "matmul",
    out,
    [a, b],
    (g, [sa, sb], ctx) => {
      const A = sa!;
      const B = sb!;
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (a.requiresGrad && B.rank === 2 && !ta && g.dtype === A.dtype && B.dtype === A.dtype) {
        // Folded linear layer: ga [M, K] = g [M, N] op(B)^T in one GEMM, added into a's pending gradient if any.
        const K = A.shape[A.rank - 1]!;
        const N = g.shape[g.rank - 1]!;
        const M = A.size / Math.max(K, 1);
        ga = gemm(g, B, 1, 1, 1, M, K, N, false, !tb, A.shape, A.dtype as FloatDType, pendingFor(ctx, 0, A.dtype));
      } else if (a.requiresGrad) {
        // op(A) = G op(B)^T  =>  A = G op(B)^T (or its transpose when transA)
        ga = ta ? matmul(B, g, { transA: tb, transB: true }) : matmul(g, B, { transB: !tb });
        ga = sumToShape(ga, A.shape);
      }
      if (b.requiresGrad && B.rank === 2 && A.rank > 2 && !ta) {
        // Folded linear layer: one GEMM over all rows instead of a batch of products summed afterwards.
        const g2 = reshape(g, [-1, g.shape[g.rank - 1]!]);
        const a2 = reshape(A, [-1, A.shape[A.rank - 1]!]);
        gb = tb ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true });
      } else if (b.requiresGrad) {
        // op(B) = op(A)^T G  =>  B = op(A)^T G (or its transpose when transB)
        gb = tb ? matmul(g, A, { transA: true, transB: ta }) : matmul(A, g, { transA: !ta });
        gb = sumToShape(gb, B.shape);
      }
      return [ga, gb];
    },
    { save: [a, b] },
  );
}

/** y = x W^T (+ bias): x [..., in], weight [out, in] (PyTorch's nn.Linear layout). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  checkTensor(weight, "linear", "weight");
  if (weight.rank !== 2) throw new Error(`linear: weight must be [out, in], got ${shapeStr(weight.shape)}`);
  if (x.shape[x.rank - 1] !== weight.shape[1])
    throw new Error(`linear: input ${shapeStr(x.shape)} has ${x.shape[x.rank - 1]} features, weight ${shapeStr(weight.shape)} expects ${weight.shape[1]}`);
  const y = matmul(x, weight, { transB: true });
  if (!bias) return y;
  if (!sameShape(bias.shape, [weight.shape[0]!])) throw new Error(`linear: bias must be [${weight.shape[0]}], got ${shapeStr(bias.shape)}`);
  return addBias(y, bias);
}

