// The fused residual add + RMSNorm (addRmsNorm) and RMSNorm's output dtype: the same bits as the unfused ops they
// replace (add then rmsNorm; rmsNorm then cast), forward and backward, for every dtype mix the model uses and the
// ones a user may; and their argument errors.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Generator, add, addRmsNorm, autocast, cast, linear, mul, profile, rmsNorm, sum, tidy, valueAndGrad,
} from "../index.js";
import type { Tensor } from "../index.js";
import type { FloatDType } from "../dtype.js";

const bits = (t: Tensor): number[] => {
  if (t.dtype === "float32") return Array.from(new Uint32Array((t.toFloatArray() as Float32Array).slice().buffer));
  return Array.from(t.dataSync() as Uint16Array);
};
const make = (seed: number, shape: number[], dtype: FloatDType, std = 1): Tensor => {
  const t = new Generator(seed).normal(shape, 0, std);
  return dtype === "float32" ? t : cast(t, dtype);
};
const DT: FloatDType[] = ["float32", "bfloat16", "float16"];

describe("addRmsNorm", () => {
  it("gives the bits of add then rmsNorm (sum and out) for every dtype mix, shapes and output dtypes", () => {
    const arb = fc.record({
      rows: fc.integer({ min: 1, max: 70 }),
      cols: fc.constantFrom(1, 3, 8, 16, 64, 200, 768),
      xd: fc.constantFrom(...DT),
      rd: fc.constantFrom(...DT),
      out: fc.constantFrom<FloatDType | undefined>(undefined, ...DT),
      eps: fc.constantFrom(1e-6, 1e-5, 0.1),
      seed: fc.integer({ min: 0, max: 1e6 }),
    });
    fc.assert(
      fc.property(arb, ({ rows, cols, xd, rd, out, eps, seed }) => {
        tidy(() => {
          const x = make(seed, [rows, cols], xd);
          const r = make(seed + 1, [rows, cols], rd, 0.5);
          const w = make(seed + 2, [cols], "float32");
          const opts = out ? { dtype: out } : {};
          const fused = addRmsNorm(x, r, w, eps, opts);
          const s = add(x, r);
          const y = rmsNorm(s, w, eps, opts);
          expect(fused.sum.dtype).toBe(s.dtype);
          expect(fused.out.dtype).toBe(y.dtype);
          expect(bits(fused.sum)).toEqual(bits(s));
          expect(bits(fused.out)).toEqual(bits(y));
        });
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it("gradients equal those of add then rmsNorm, bit for bit (x float32, residual bfloat16, bfloat16 output)", () => {
    for (const [xd, rd, od] of [["float32", "float32", undefined], ["float32", "bfloat16", "bfloat16"], ["bfloat16", "bfloat16", undefined], ["float32", "float16", "float32"]] as const) {
      tidy(() => {
        const rows = 70, cols = 48;
        const x = make(1, [rows, cols], xd);
        const r = make(2, [rows, cols], rd, 0.5);
        const w = make(3, [cols], "float32");
        const gOut = make(4, [rows, cols], "float32");
        const gSum = make(5, [rows, cols], "float32");
        const opts = od ? { dtype: od } : {};
        // Both outputs are used downstream: sum by the next residual add, out by a projection.
        const loss = (f: (a: Tensor, b: Tensor, c: Tensor) => { sum: Tensor; out: Tensor }) => (a: Tensor, b: Tensor, c: Tensor) => {
          const { sum: s, out } = f(a, b, c);
          return add(sum(mul(out, gOut)), sum(mul(s, gSum)));
        };
        const fused = valueAndGrad(loss((a, b, c) => addRmsNorm(a, b, c, 1e-5, opts)))(x, r, w);
        const plain = valueAndGrad(loss((a, b, c) => {
          const s = add(a, b);
          return { sum: s, out: rmsNorm(s, c, 1e-5, opts) };
        }))(x, r, w);
        expect(bits(fused.value)).toEqual(bits(plain.value));
        for (let i = 0; i < 3; i++) {
          expect(fused.grads[i]!.dtype).toBe([x, r, w][i]!.dtype);
          expect(bits(fused.grads[i]!), `${xd}/${rd}/${od} grad ${i}`).toEqual(bits(plain.grads[i]!));
        }
      });
    }
  });

  it("inside autocast, a pre-norm block (x + linear(norm(x))) trains as the unfused one does", () => {
    tidy(() => {
      const x = make(6, [2, 5, 32], "float32");
      const w1 = make(7, [32], "float32");
      const w2 = make(8, [32], "float32");
      const W = make(9, [32, 32], "float32", 0.2);
      const block = (fusedOps: boolean) => (a: Tensor, n1: Tensor, n2: Tensor, p: Tensor) =>
        autocast("bfloat16", () => {
          const opts = { dtype: "bfloat16" as const };
          const h = rmsNorm(a, n1, 1e-5, opts);
          const branch = linear(h, p);
          if (fusedOps) {
            const { sum: s, out } = addRmsNorm(a, branch, n2, 1e-5, opts);
            return sum(mul(add(s, linear(out, p)), 0.01));
          }
          const s = add(a, branch);
          return sum(mul(add(s, linear(rmsNorm(s, n2, 1e-5, opts), p)), 0.01));
        });
      const f = valueAndGrad(block(true))(x, w1, w2, W);
      const u = valueAndGrad(block(false))(x, w1, w2, W);
      expect(bits(f.value)).toEqual(bits(u.value));
      for (let i = 0; i < 4; i++) expect(bits(f.grads[i]!)).toEqual(bits(u.grads[i]!));
    });
  });

  it("hands a 16-bit residual its gradient from the norm backward's rounded copy: no cast kernel, the same bits", () => {
    tidy(() => {
      const x = make(21, [2, 6, 32], "float32");
      const n1 = make(22, [32], "float32");
      const n2 = make(23, [32], "float32");
      const W = make(24, [32, 32], "float32", 0.2);
      // Two pre-norm blocks and a final norm; extra: the bf16 branch also feeds another op (its gradient is then
      // pending when the add's backward runs: the copy is not used, the engine rounds as before).
      const net = (fused: boolean, extra: boolean) => (a: Tensor, w1: Tensor, w2: Tensor, p: Tensor) =>
        autocast("bfloat16", () => {
          const opts = { dtype: "bfloat16" as const };
          let s = a;
          let out = rmsNorm(s, w1, 1e-5, opts);
          let aux: Tensor | null = null;
          for (const w of [w2, w1]) {
            const branch = linear(out, p);
            if (extra && !aux) aux = sum(mul(branch, 0.25));
            if (fused) ({ sum: s, out } = addRmsNorm(s, branch, w, 1e-5, opts));
            else {
              s = add(s, branch);
              out = rmsNorm(s, w, 1e-5, opts);
            }
          }
          const l = sum(mul(linear(out, p), 0.01));
          return aux ? add(l, aux) : l;
        });
      for (const extra of [false, true]) {
        const f = valueAndGrad(net(true, extra));
        const u = valueAndGrad(net(false, extra));
        const rf = f(x, n1, n2, W);
        const ru = u(x, n1, n2, W);
        expect(bits(rf.value)).toEqual(bits(ru.value));
        for (let i = 0; i < 4; i++) expect(bits(rf.grads[i]!), `extra=${extra} grad ${i}`).toEqual(bits(ru.grads[i]!));
        const casts = (fn: typeof f) => profile(() => tidy(() => fn(x, n1, n2, W))).ops.find((o) => o.op === "cast")?.calls ?? 0;
        // Unfused: each bf16 branch's gradient is a cast of the float32 stream's; fused: none of those (extra: one).
        const saved = casts(u) - casts(f);
        expect(saved).toBe(extra ? 1 : 2);
      }
    });
  });

  it("names the argument that is wrong", () => {
    tidy(() => {
      const x = make(1, [2, 4], "float32");
      const w = make(2, [4], "float32");
      expect(() => addRmsNorm(x, make(3, [2, 3], "float32"), w)).toThrow(/addRmsNorm: residual \[2, ?3\] must have the shape of x \[2, ?4\]/);
      expect(() => addRmsNorm(x, x, make(3, [3], "float32"))).toThrow(/addRmsNorm: weight \[3\] must match the last axis of x \[2, ?4\]/);
      expect(() => addRmsNorm(x, x, w, 1e-6, { dtype: "int32" as unknown as FloatDType })).toThrow(/addRmsNorm: dtype must be/);
      expect(() => rmsNorm(x, w, 1e-6, { dtype: "float64" as unknown as FloatDType })).toThrow(/rmsNorm: dtype must be/);
      expect(() => addRmsNorm(x, x, w, Number.NaN)).toThrow(/addRmsNorm.*eps/);
    });
  });
});

describe("rmsNorm's output dtype", () => {
  it("gives the bits of rmsNorm then cast, with the gradients of that composite", () => {
    for (const [xd, od] of [["float32", "bfloat16"], ["float32", "float16"], ["bfloat16", "float32"], ["float16", "float16"]] as const) {
      tidy(() => {
        const x = make(11, [67, 40], xd);
        const w = make(12, [40], "float32");
        const g = make(13, [67, 40], "float32");
        const f = valueAndGrad((a: Tensor, b: Tensor) => sum(mul(rmsNorm(a, b, 1e-6, { dtype: od }), g)))(x, w);
        const u = valueAndGrad((a: Tensor, b: Tensor) => sum(mul(cast(rmsNorm(a, b, 1e-6), od), g)))(x, w);
        expect(bits(rmsNorm(x, w, 1e-6, { dtype: od }))).toEqual(bits(cast(rmsNorm(x, w, 1e-6), od)));
        expect(bits(f.value)).toEqual(bits(u.value));
        expect(bits(f.grads[0]!), `${xd}->${od} dx`).toEqual(bits(u.grads[0]!));
        expect(bits(f.grads[1]!), `${xd}->${od} dw`).toEqual(bits(u.grads[1]!));
      });
    }
  });
});
