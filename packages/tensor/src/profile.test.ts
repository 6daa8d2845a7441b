import { describe, expect, test } from "vitest";
import { native } from "@seekr/native";
import { clipGradNorm, hostCopy, matmul, profile, rememberHostCopy, reshape, tensor, crossEntropy, randn, zeros, full } from "./index.js";

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
});
