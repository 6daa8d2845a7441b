// Gradient accumulation inside backward functions (GradContext.pending): GEMMs that add into an input's pending
// gradient (beta = 1) instead of the engine's axpy pass, and gradients passed through without a copy.
import { describe, expect, it } from "vitest";
import { native } from "@seekr/native";
import {
  Generator, add, autocast, cast, detach, embedding, full, linear, matmul, mul, profile, record, rememberHostCopy, rmsNorm, sum, tensor, tidy, zeros,
} from "../index.js";
import type { Tensor } from "../index.js";

const gen = new Generator(7);
const leaf = (shape: number[], dtype: "float32" | "bfloat16" = "float32"): Tensor => {
  const t = gen.normal(shape);
  const c = dtype === "float32" ? t : cast(t, dtype);
  c.requiresGrad = true;
  return c.keep();
};
const vals = (t: Tensor): number[] => Array.from(t.toFloatArray());
const callsOf = (ops: { op: string; calls: number }[], op: string): number => ops.find((o) => o.op === op)?.calls ?? 0;

describe("GradContext.pending", () => {
  it("lends the pending gradient; returning it says it was added in place", () => {
    const x = leaf([3]);
    let seen: Tensor | null | undefined;
    // twice(x) = 2 x, whose backward adds g into x's pending gradient itself when there is one.
    const twice = (t: Tensor): Tensor => {
      const out = mul(t, 2);
      return record("twice", detach(out), [t], (g, _s, ctx) => {
        const p = ctx.pending(0);
        seen = p;
        if (!p) return [mul(g, 2)];
        native.axpyInPlace(p.handle, g.handle, 2);
        return [p];
      });
    };
    tidy(() => {
      // y = x * 3 + twice(x): x's gradient from mul comes first (the later op's backward runs first).
      const y = add(twice(x), mul(x, 3));
      sum(y).backward();
    });
    expect(seen).not.toBeNull();
    expect(vals(x.grad!)).toEqual([5, 5, 5]);
    x.grad!.dispose();
    x.grad = null;
    // Alone, nothing is pending.
    tidy(() => sum(twice(x)).backward());
    expect(seen).toBeNull();
    expect(vals(x.grad!)).toEqual([2, 2, 2]);
  });

  it("final(i) is true only in the last node that adds to input i's gradient", () => {
    const x = leaf([3]);
    const seen: Array<[string, boolean]> = [];
    const acc: Record<string, boolean> = {};
    const spy = (name: string, t: Tensor): Tensor =>
      record(name, detach(mul(t, 1)), [t], (g, _s, ctx) => {
        seen.push([name, ctx.final(0)]);
        acc[name] = ctx.accumulated(0);
        return [g];
      });
    tidy(() => {
      const h = mul(x, 2); // an intermediate read by two spies and by the add
      const y = add(spy("late", h), spy("early", add(spy("mid", h), h)));
      sum(y).backward();
    });
    // Backward runs from the output: "early" (reads add(mid, h)), then "mid" and "late" (which read h) in the order
    // the graph gives; the last of the nodes that read h sees final(0) === true, the others false.
    const readers = seen.filter(([n]) => n !== "early");
    expect(readers.length).toBe(2);
    expect(readers.map(([, f]) => f)).toEqual([false, true]);
    expect(seen.find(([n]) => n === "early")![1]).toBe(true); // its input add(mid, h) has no other reader
    // accumulated(0): the last reader of h runs after another reader of h gave it a gradient; "early"'s input had none.
    expect(acc[readers[1]![0]]).toBe(true);
    expect(acc.early).toBe(false);
    x.grad?.dispose();
    x.grad = null;
  });

  it("a pending gradient returned for another input is an error, not a double count", () => {
    const x = leaf([3]);
    const y = leaf([3]);
    const misuse = (a: Tensor, b: Tensor): Tensor =>
      record("misuse", detach(add(a, b)), [a, b], (g, _s, ctx) => {
        const p = ctx.pending(0);
        return p ? [null, p] : [g, g];
      });
    expect(() => tidy(() => sum(add(misuse(x, y), mul(x, 2))).backward())).toThrow(
      /record\('misuse'\): backward returned a pending gradient .* input 1, whose pending gradient it is not/,
    );
  });

  it("is null for inputs that need no gradient", () => {
    const x = leaf([2]);
    const c = tensor([1, 2]);
    let pendingOfConstant: Tensor | null | undefined;
    tidy(() => {
      const y = record("probe", detach(mul(x, c)), [c, x], (g, _s, ctx) => {
        pendingOfConstant = ctx.pending(0);
        return [null, mul(g, c)];
      });
      sum(add(y, mul(c, 0))).backward();
    });
    expect(pendingOfConstant).toBeNull();
    expect(vals(x.grad!)).toEqual([1, 2]);
  });
});

describe("linear layers add their input gradient into the pending one", () => {
  // h feeds three projections (q / k / v): the second and third input gradients are GEMMs with beta = 1.
  const run = (dtype: "float32" | "bfloat16" | null) => {
    const g2 = new Generator(11);
    const h = g2.normal([2, 5, 8]);
    h.requiresGrad = true;
    const ws = [g2.normal([6, 8]), g2.normal([4, 8]), g2.normal([4, 8])];
    for (const w of ws) w.requiresGrad = true;
    const { ops } = profile(() =>
      tidy(() => {
        const f = () => ws.map((w, i) => mul(sum(linear(h, w)), i + 1)).reduce((a, b) => add(a, b));
        const l = dtype ? autocast(dtype, f) : f();
        l.backward();
      }),
    );
    return { h, ws, ops };
  };

  it("float32: the input gradient is exactly the sum of the three products in backward order, with no axpy", () => {
    const { h, ws, ops } = run(null);
    expect(callsOf(ops, "axpyInPlace")).toBe(0);
    // Reference: each projection's input gradient on its own (g = i + 1 everywhere), summed in the order backward
    // visits the projections (the last one first).
    const parts = ws.map((w, i) => tidy(() => vals(matmul(full([2, 5, w.shape[0]!], i + 1), w))));
    const want = parts[2]!.map((v, j) => Math.fround(Math.fround(v + parts[1]![j]!) + parts[0]![j]!));
    expect(vals(h.grad!)).toEqual(want);
  });

  it("bfloat16 autocast: float32 input gradients accumulate in the GEMM too", () => {
    const a = run("bfloat16");
    expect(callsOf(a.ops, "axpyInPlace")).toBe(0);
    expect(a.h.grad!.dtype).toBe("float32");
    const ref = run(null);
    const got = vals(a.h.grad!);
    const want = vals(ref.h.grad!);
    const scale = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(0.02 * scale);
  });
});

describe("rmsNorm adds its input gradient into the pending one (the residual stream)", () => {
  it("x + linear(rmsNorm(x)): x's gradient is the pass-through plus the norm's, with no axpy", () => {
    const g2 = new Generator(3);
    const x = g2.normal([4, 8]);
    x.requiresGrad = true;
    const w = g2.normal([8]);
    const W = g2.normal([8, 8]);
    const c = g2.normal([4, 8]);
    const { ops } = profile(() => tidy(() => sum(mul(add(x, linear(rmsNorm(x, w), W)), c)).backward()));
    expect(callsOf(ops, "axpyInPlace")).toBe(0);
    // (Both sides of this add are float32, so x's pass-through gradient is copied: the linear's branch reads g too.)
    // The norm branch alone, then the pass-through (c) added in float32.
    const x2 = x.detach();
    x2.requiresGrad = true;
    tidy(() => sum(mul(linear(rmsNorm(x2, w), W), c)).backward());
    const branch = vals(x2.grad!);
    const want = vals(c).map((v, i) => Math.fround(v + branch[i]!));
    expect(vals(x.grad!)).toEqual(want);
  });
});

describe("pass-through gradients need no copy", () => {
  it("a residual add of float32 and bfloat16 hands the float32 side its gradient without a copy", () => {
    const x = leaf([4, 8]);
    const y = leaf([4, 8], "bfloat16");
    const { ops } = profile(() => tidy(() => sum(mul(add(x, y), 3)).backward()));
    expect(callsOf(ops, "copy")).toBe(0);
    expect(vals(x.grad!)).toEqual(new Array(32).fill(3));
    expect(y.grad!.dtype).toBe("bfloat16");
    expect(vals(y.grad!)).toEqual(new Array(32).fill(3));
  });
});

describe("embedding with a host copy of the ids", () => {
  it("gives the same rows and gradient, and the native op checks the copy's length", () => {
    const table = leaf([5, 3]);
    const ids = rememberHostCopy(tensor([4, 0, 4], { dtype: "int32" }), Int32Array.from([4, 0, 4]));
    tidy(() => sum(embedding(table, ids)).backward());
    expect(vals(table.grad!)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2]);
    const out = zeros([3, 3]);
    expect(() => native.gatherRows(table.handle, ids.handle, out.handle, 3, Int32Array.from([1, 2]))).toThrow(
      /gather.*'idsHost' holds 2 values for 3 ids/,
    );
    expect(() => native.scatterAddRows(out.handle, ids.handle, table.grad!.handle, 3, new Float32Array(3) as never)).toThrow(
      /scatterAdd.*'idsHost' must be an Int32Array/,
    );
  });
});
