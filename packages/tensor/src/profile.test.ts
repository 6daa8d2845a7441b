import { describe, expect, test } from "vitest";
import { native } from "@seekr/native";
import { Generator, add, clipGradNorm, hostCopy, matmul, mul, profile, rememberHostCopy, reshape, tensor, crossEntropy, randn, zeros, full } from "./index.js";

describe("profile", () => {
  test("counts every native call of fn by op, with host time; no device time without a GPU in use", () => {
    const a = randn([16, 16]);
    const { result, ops, wallMs } = profile(() => matmul(matmul(a, a), a));
    expect(result.shape).toEqual([16, 16]);
    const mm = ops.find((o) => o.op === "matmul");
    expect(mm?.calls).toBe(2);
    expect(mm!.hostMs).toBeGreaterThan(0);
    expect(mm!.hostMs).toBeLessThanOrEqual(wallMs);
    expect(ops.every((o) => o.deviceMs === 0)).toBe(true);
    expect(ops.some((o) => o.op === "alloc")).toBe(true);
  });
  test("stops when fn throws, and does not nest", () => {
    expect(() => profile(() => { throw new Error("boom"); })).toThrow("boom");
    expect(() => profile(() => profile(() => 1))).toThrow(/profile: already profiling/);
    // Profiling is off again: a later profile sees only its own calls.
    const { ops } = profile(() => zeros([3]));
    expect(ops.find((o) => o.op === "matmul")).toBeUndefined();
  });
});

describe("host copies", () => {
  test("views share the copy; wrong sizes and dtypes are refused", () => {
    const t = tensor([1, 2, 3, 4], { dtype: "int32", shape: [2, 2] });
    const data = Int32Array.from([1, 2, 3, 4]);
    expect(rememberHostCopy(t, data)).toBe(t);
    expect(hostCopy(t)).toBe(data);
    expect(hostCopy(reshape(t, [4]))).toBe(data);
    expect(hostCopy(tensor([1, 2], { dtype: "int32" }))).toBeNull();
    expect(() => rememberHostCopy(t, Int32Array.from([1]))).toThrow(/1 values for a tensor of 4 elements/);
    expect(() => rememberHostCopy(t, Float32Array.from([1, 2, 3, 4]))).toThrow(/int32 tensor needs a Int32Array/);
    t.dispose();
    expect(hostCopy(t)).toBeNull();
  });
  test("crossEntropy with a host copy of its targets gives the same loss and gradient", () => {
    const logits = randn([6, 5]);
    logits.requiresGrad = true;
    const ids = Int32Array.from([0, 4, -100, 2, 1, 3]);
    const plain = tensor(ids, { dtype: "int32" });
    const mirrored = rememberHostCopy(tensor(ids, { dtype: "int32" }), ids);
    const l1 = crossEntropy(logits, plain);
    l1.backward();
    const g1 = logits.grad!.toFloatArray();
    logits.grad = null;
    const l2 = crossEntropy(logits, mirrored);
    l2.backward();
    expect(l2.item()).toBe(l1.item());
    expect(Array.from(logits.grad!.toFloatArray())).toEqual(Array.from(g1));
  });
});

describe("sumSquaresMany and clipGradNorm", () => {
  test("sumSquaresMany equals sumSquares per buffer; clipGradNorm is unchanged by it", () => {
    const xs = [randn([7]), randn([3, 5]), full([0], 1), randn([1000])];
    const many = native.sumSquaresMany(xs.map((x) => x.handle));
    expect(many).toEqual(xs.map((x) => native.sumSquares(x.handle)));
    const p = randn([10]);
    p.requiresGrad = true;
    p.grad = full([10], 3);
    expect(clipGradNorm([p], 1)).toBeCloseTo(Math.sqrt(90), 12);
    expect(native.sumSquares(p.grad.handle)).toBeCloseTo(1, 5);
    expect(() => native.sumSquaresMany([xs[0]!.handle, tensor([1], { dtype: "int32" }).handle])).toThrow(/sumSquaresMany: .*xs\[1\]/);
  });
  test("adamwMany and scaleMany give the bits of adamw and scaleInPlace per buffer", () => {
    const sizes = [1, 7, 64, 1003];
    const make = (seed: number) => sizes.map((n, i) => new Generator(seed * 10 + i).normal([n]));
    const [p1, g, m1, v1] = [make(1), make(2), make(3), make(4)];
    const v1abs = v1.map((t) => mul(t, t));
    const copy = (ts: typeof p1) => ts.map((t) => add(t, 0));
    const [p2, m2, v2] = [copy(p1), copy(m1), copy(v1abs)];
    native.adamwMany(p1.map((t) => t.handle), g.map((t) => t.handle), m1.map((t) => t.handle), v1abs.map((t) => t.handle), 1e-3, 0.9, 0.95, 1e-8, 0.1, 3);
    sizes.forEach((_, i) => native.adamw(p2[i]!.handle, g[i]!.handle, m2[i]!.handle, v2[i]!.handle, 1e-3, 0.9, 0.95, 1e-8, 0.1, 3));
    for (let i = 0; i < sizes.length; i++) {
      expect(Array.from(p1[i]!.toFloatArray())).toEqual(Array.from(p2[i]!.toFloatArray()));
      expect(Array.from(m1[i]!.toFloatArray())).toEqual(Array.from(m2[i]!.toFloatArray()));
      expect(Array.from(v1abs[i]!.toFloatArray())).toEqual(Array.from(v2[i]!.toFloatArray()));
    }
    const s1 = copy(g), s2 = copy(g);
    native.scaleMany(s1.map((t) => t.handle), 0.3);
    s2.forEach((t) => native.scaleInPlace(t.handle, 0.3));
    s1.forEach((t, i) => expect(Array.from(t.toFloatArray())).toEqual(Array.from(s2[i]!.toFloatArray())));
    expect(() => native.adamwMany([p1[0]!.handle], [], [], [], 1e-3, 0.9, 0.95, 1e-8, 0, 1)).toThrow(/adamwMany: params, grads, expAvgs and expAvgSqs must have the same length/);
  });
});
