// bfloat16 / float16 storage with float32 compute: casts against the JS encoders, every op on half inputs against the
// float32 op on the decoded values rounded once, dtype promotion, gradients' dtypes, autocast and GradScaler.
import { describe, expect, it } from "vitest";
import { native } from "@seekr/native";
import fc from "fast-check";
import {
  Generator, Tensor, tensor, tidy, memory, cast, autocast, autocastDType, valueAndGrad, AdamW, GradScaler, clipGradNorm,
  add, sub, mul, div, maximum, minimum, where, exp, silu, swiglu, tanh, sigmoid, sum, mean, max, softmax, logSoftmax,
  lt, matmul, linear, crossEntropy, rmsNorm, rope, attention, attentionTapped, concat, transpose,
  f32ToBf16Bits, bf16BitsToF32, f32ToF16Bits, f16BitsToF32, profile, type DType,
} from "../index.js";

type Half = "bfloat16" | "float16";
const HALVES: Half[] = ["bfloat16", "float16"];
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const halfArb = fc.constantFrom<Half>(...HALVES);

const roundTo = (d: DType, v: number): number =>
  d === "bfloat16" ? bf16BitsToF32(f32ToBf16Bits(v)) : d === "float16" ? f16BitsToF32(f32ToF16Bits(v)) : Math.fround(v);

/** Random values already representable in `d`, so the float32 reference sees exactly what the half tensor holds. */
function halfNormal(seed: number, shape: number[], d: DType, std = 1): Tensor {
  const g = new Generator(seed).normal(shape, 0, std);
  const v = Array.from(g.dataSync() as Float32Array, (x) => roundTo(d, x));
  g.dispose();
  return tensor(v, { shape, dtype: d });
}
const f32Of = (t: Tensor): Tensor => tensor(t.toFloatArray() as unknown as number[], { shape: [...t.shape] });

/** The half result must be the float32 result on the same values rounded once (same kernel, same order). */
function expectRoundedOf(half: Tensor, ref: Tensor, d: DType): void {
  expect(half.dtype).toBe(d);
  expect(half.shape).toEqual(ref.shape);
  const h = half.toFloatArray();
  const r = ref.dataSync() as Float32Array;
  for (let i = 0; i < r.length; i++) {
    const want = roundTo(d, r[i]!);
    if (Number.isNaN(want)) expect(Number.isNaN(h[i]!)).toBe(true);
    else expect(h[i]).toBe(want);
  }
}

describe("cast", () => {
  it("float32 -> bfloat16 / float16 rounds exactly like the JS encoders, specials included", () => {
    const specials = [0, -0, 1, -1, 65504, 65519, 65520, 1e-8, 6e-8, 3e-5, 2 ** -24, 2 ** -25, 1 + 2 ** -8, 1 + 3 * 2 ** -8,
      Infinity, -Infinity, 3.4e38, -3.4e38, 1.17549435e-38];
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: false }), { minLength: 1, maxLength: 64 }), halfArb, (vals, d) => {
        const all = [...vals, ...specials];
        tidy(() => {
          const x = tensor(all);
          const h = cast(x, d);
          expect(h.dtype).toBe(d);
          const bits = h.dataSync() as Uint16Array;
          const enc = d === "bfloat16" ? f32ToBf16Bits : f32ToF16Bits;
          all.forEach((v, i) => {
            const f = Math.fround(v);
            if (Number.isNaN(f)) expect(Number.isNaN(h.toFloatArray()[i]!)).toBe(true);
            else expect(bits[i]).toBe(enc(f));
          });
          // and back to float32 exactly
          const back = cast(h, "float32").dataSync() as Float32Array;
          const dec = d === "bfloat16" ? bf16BitsToF32 : f16BitsToF32;
          all.forEach((_, i) => {
            const want = dec(bits[i]!);
            if (Number.isNaN(want)) expect(Number.isNaN(back[i]!)).toBe(true);
            else expect(back[i]).toBe(want);
          });
        });
      }),
      { numRuns: 40 },
    );
  });

  it("bfloat16 <-> float16 goes through float32; int32 casts truncate; casting to the own dtype is a view", () => {
    tidy(() => {
      const b = tensor([1.5, -2.25, 70000, 1e-7], { dtype: "bfloat16" });
      const f = cast(b, "float16");
      expect(Array.from(f.toFloatArray())).toEqual(Array.from(b.toFloatArray(), (v) => roundTo("float16", v)));
      expect(Array.from(cast(b, "int32").dataSync() as Int32Array)).toEqual([1, -2, 70144, 0]);
      expect(Array.from(cast(tensor([3, -7], { dtype: "int32" }), "bfloat16").toFloatArray())).toEqual([3, -7]);
      const same = cast(b, "bfloat16");
      expect(same.dtype).toBe("bfloat16");
      expect(Array.from(same.toFloatArray())).toEqual(Array.from(b.toFloatArray()));
      expect(() => cast(b, "float64" as DType)).toThrow(/cast: unknown dtype "float64"/);
      expect(b.cast("float32").dtype).toBe("float32");
    });
  });

  it("is differentiable between float dtypes: the gradient comes back in the source dtype", () => {
    tidy(() => {
      const x = tensor([0.1, 0.2, 0.3]);
      const { grads } = valueAndGrad((t) => sum(mul(cast(t, "bfloat16"), 3)))(x);
      expect(grads[0]!.dtype).toBe("float32");
      expect(Array.from(grads[0]!.dataSync() as Float32Array)).toEqual([3, 3, 3]);
    });
  });
});

describe("ops on bfloat16 / float16 compute in float32 and round once", () => {
  it("binary ops, with broadcasting, and where", () => {
    fc.assert(
      fc.property(seedArb, halfArb, (seed, d) => {
        tidy(() => {
          const a = halfNormal(seed, [3, 4], d);
          const b = halfNormal(seed + 1, [4], d);
          const fa = f32Of(a), fb = f32Of(b);
          for (const [h, r] of [
            [add(a, b), add(fa, fb)], [sub(a, b), sub(fa, fb)], [mul(a, b), mul(fa, fb)], [div(a, b), div(fa, fb)],
            [maximum(a, b), maximum(fa, fb)], [minimum(a, b), minimum(fa, fb)], [mul(a, 0.1), mul(fa, 0.1)],
            [where(tensor([1, 0, 0, 1]), a, b), where(tensor([1, 0, 0, 1]), fa, fb)],
          ] as Array<[Tensor, Tensor]>)
            expectRoundedOf(h, r, d);
        });
      }),
      { numRuns: 20 },
    );
  });

  it("swiglu: the float32 op on the same values rounded once, forward and both gradients; mixed dtypes promote like mul", () => {
    fc.assert(
      fc.property(seedArb, halfArb, (seed, d) => {
        tidy(() => {
          const g = halfNormal(seed, [5, 9], d, 2);
          const u = halfNormal(seed + 1, [5, 9], d);
          const w = halfNormal(seed + 2, [5, 9], d);
          const fg = f32Of(g), fu = f32Of(u), fw = f32Of(w);
          expectRoundedOf(swiglu(g, u), swiglu(fg, fu), d);
          const { grads } = valueAndGrad((a, b) => sum(mul(swiglu(a, b), w)))(g, u);
          const ref = valueAndGrad((a, b) => sum(mul(swiglu(a, b), fw)))(fg, fu).grads;
          expectRoundedOf(grads[0]!, ref[0]!, d);
          expectRoundedOf(grads[1]!, ref[1]!, d);
          // half gate, float32 up: a float32 result (the float32 op on the widened gate); each gradient in its
          // operand's dtype, rounded once
          const m = swiglu(g, fu);
          expect(m.dtype).toBe("float32");
          expect(Array.from(m.dataSync() as Float32Array)).toEqual(Array.from(swiglu(fg, fu).dataSync() as Float32Array));
          const mg = valueAndGrad((a, b) => sum(mul(swiglu(a, b), fw)))(g, fu).grads;
          expect(mg[1]!.dtype).toBe("float32");
          expectRoundedOf(mg[0]!, ref[0]!, d);
          expect(Array.from(mg[1]!.dataSync() as Float32Array)).toEqual(Array.from(ref[1]!.dataSync() as Float32Array));
          expect(swiglu(fu, g).dtype).toBe("float32");
        });
      }),
      { numRuns: 20 },
    );
  });

  it("unary ops, reductions and softmax", () => {
    fc.assert(
      fc.property(seedArb, halfArb, (seed, d) => {
        tidy(() => {
          const x = halfNormal(seed, [2, 3, 5], d);
          const fx = f32Of(x);
          for (const [h, r] of [
            [exp(x), exp(fx)], [silu(x), silu(fx)], [tanh(x), tanh(fx)], [sigmoid(x), sigmoid(fx)],
            [sum(x), sum(fx)], [sum(x, [0, 2]), sum(fx, [0, 2])], [mean(x, 1), mean(fx, 1)], [max(x, 2), max(fx, 2)],
            [softmax(x, -1), softmax(fx, -1)], [logSoftmax(x, 1), logSoftmax(fx, 1)],
            [transpose(x, 0, 2), transpose(fx, 0, 2)], [concat([x, x], 1), concat([fx, fx], 1)],
          ] as Array<[Tensor, Tensor]>)
            expectRoundedOf(h, r, d);
        });
      }),
      { numRuns: 20 },
    );
  });

  it("matmul (batched, transposed) accumulates in float32", () => {
    // float16 operands are widened to float32 (exact same bits as the float32 product, rounded once); bfloat16 ones
    // run on AVX512-BF16 where the CPU has it (pairs of exact products, another summation order): within one ulp.
    const bf16Gemm = native.gemmInfo().bf16;
    fc.assert(
      fc.property(seedArb, halfArb, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.boolean(), fc.boolean(), (seed, d, m, k, ta, tb) => {
        tidy(() => {
          const a = halfNormal(seed, ta ? [2, k, m] : [2, m, k], d);
          const b = halfNormal(seed + 1, tb ? [5, k] : [k, 5], d);
          const h = matmul(a, b, { transA: ta, transB: tb });
          const ref = matmul(f32Of(a), f32Of(b), { transA: ta, transB: tb });
          if (d === "float16" || !bf16Gemm) return expectRoundedOf(h, ref, d);
          expect(h.dtype).toBe(d);
          const hv = h.toFloatArray(), rv = ref.dataSync() as Float32Array;
          const scale = Math.max(...Array.from(rv, Math.abs));
          rv.forEach((r, i) => expect(Math.abs(hv[i]! - r)).toBeLessThanOrEqual(2 ** -8 * Math.max(Math.abs(r), 1e-3 * scale) + 1e-6 * scale));
        });
      }),
      { numRuns: 40 },
    );
  });

  it("the AVX512-BF16 GEMM (where present) agrees with the float32 GEMM on the same bf16 values: batches, broadcast, beta, edges", () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.constantFrom(0, 1, 0.5),
        (seed, M, N, K, batch, ta, tb, beta) => {
          const r = (n: number, s: number) => Float32Array.from(new Generator(s).normal([n]).toFloatArray(), (v) => roundTo("bfloat16", v));
          const A = r(batch * M * K, seed), B = r(K * N, seed + 1), C0 = r(batch * M * N, seed + 2);
          const run = (dtype: DType, backend: number) => {
            const a = tensor(A, { dtype }), b = tensor(B, { dtype }), c = tensor(C0);
            native.matmul(a.handle, b.handle, c.handle, batch, M, N, K, ta, tb, M * K, 0, 1.5, beta, backend);
            const out = c.dataSync() as Float32Array;
            for (const t of [a, b, c]) t.dispose();
            return out;
          };
          const got = run("bfloat16", 0), want = run("float32", 3); // reference: double-precision loop
          const tol = (i: number) => 2 ** -22 * Math.max(1, Math.sqrt(K)) * 8 + 2 ** -22 * Math.abs(want[i]!);
          got.forEach((g, i) => expect(Math.abs(g - want[i]!), `element ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(tol(i)));
        }),
      { numRuns: 60 },
    );
  });

  it("RMSNorm, RoPE, attention and cross-entropy", () => {
    fc.assert(
      fc.property(seedArb, halfArb, (seed, d) => {
        tidy(() => {
          const x = halfNormal(seed, [2, 5, 2, 8], d);
          const w = halfNormal(seed + 1, [8], d);
          expectRoundedOf(rmsNorm(x, w), rmsNorm(f32Of(x), f32Of(w)), d);
          expectRoundedOf(rope(x), rope(f32Of(x)), d);
          const k = halfNormal(seed + 2, [2, 5, 1, 8], d);
          const v = halfNormal(seed + 3, [2, 5, 1, 8], d);
          expectRoundedOf(attention(x, k, v), attention(f32Of(x), f32Of(k), f32Of(v)), d);
          const logits = halfNormal(seed + 4, [6, 11], d, 3);
          const targets = tensor([0, 3, 10, -100, 5, 5], { dtype: "int32" });
          const loss = crossEntropy(logits, targets);
          expect(loss.dtype).toBe("float32");
          expect(loss.item()).toBe(crossEntropy(f32Of(logits), targets).item());
        });
      }),
      { numRuns: 15 },
    );
  });
});

describe("promotion and gradient dtypes", () => {
  it("same dtype stays, mixed dtypes give float32, a number takes the tensor's dtype", () => {
    tidy(() => {
      const b = tensor([1, 2], { dtype: "bfloat16" });
      const h = tensor([1, 2], { dtype: "float16" });
      const f = tensor([1, 2]);
      expect(add(b, b).dtype).toBe("bfloat16");
      expect(add(b, f).dtype).toBe("float32");
      expect(add(b, h).dtype).toBe("float32");
      expect(mul(h, 0.5).dtype).toBe("float16");
      expect(matmul(b.reshape([1, 2]), f.reshape([2, 1])).dtype).toBe("float32");
      expect(lt(add(b, b), 3).dtype).toBe("float32");
    });
  });

  it("a gradient has the dtype of its tensor (mixed-dtype products round the half side's gradient once)", () => {
    fc.assert(
      fc.property(seedArb, halfArb, (seed, d) => {
        tidy(() => {
          const x = halfNormal(seed, [7], d);
          const y = new Generator(seed + 1).normal([7]);
          const { grads } = valueAndGrad((a, b) => sum(mul(silu(a), b)))(x, y);
          expect(grads[0]!.dtype).toBe(d);
          expect(grads[1]!.dtype).toBe("float32");
          // d/dx = silu'(x) * y: the gradient reaching silu's (half) output is y rounded to d, then one more rounding
          const fx = f32Of(x);
          const yd = f32Of(cast(y, d));
          const ref = valueAndGrad((a) => sum(mul(silu(a), yd)))(fx).grads[0]!;
          expectRoundedOf(grads[0]!, ref, d);
          // d/dy = silu(x) as the forward held it: rounded to d
          expect(Array.from(grads[1]!.dataSync() as Float32Array)).toEqual(Array.from(silu(x).toFloatArray()));
        });
      }),
      { numRuns: 20 },
    );
  });

  it("half-precision gradients accumulate when a tensor is used twice", () => {
    tidy(() => {
      const x = tensor([0.5, -1.25, 2], { dtype: "bfloat16" });
      const { grads } = valueAndGrad((a) => sum(add(mul(a, a), a)))(x);
      expect(grads[0]!.dtype).toBe("bfloat16");
      expect(Array.from(grads[0]!.toFloatArray())).toEqual([2, -1.5, 5]);
    });
  });
});

describe("autocast", () => {
  it("runs matmul / linear in the autocast dtype; float32 master weights get float32 gradients, not rounded to the autocast dtype", () => {
    fc.assert(
      fc.property(seedArb, halfArb, (seed, d) => {
        tidy(() => {
          const x = new Generator(seed).normal([4, 6]);
          const w = new Generator(seed + 1).normal([3, 6]);
          const fn = (xx: Tensor, ww: Tensor) => autocast(d, () => {
            const y = linear(xx, ww);
            expect(y.dtype).toBe(d);
            return sum(mul(y, y));
          });
          const { value, grads } = valueAndGrad(fn)(x, w);
          expect(grads[0]!.dtype).toBe("float32");
          expect(grads[1]!.dtype).toBe("float32");
          // The forward is the product of the rounded operands, as spelled out with explicit casts.
          const yd = matmul(cast(x, d), cast(w, d), { transB: true });
          expect(value.item()).toBe(sum(mul(yd, yd)).item());
          // The gradient products read the same rounded operands (dy = 2y in d) and write float32 with float32
          // accumulation: the float32 products of the widened values, up to the summation order.
          const wide = (t: Tensor) => cast(t, "float32");
          const dy = wide(mul(yd, 2));
          const gx = matmul(dy, wide(cast(w, d))).toFloatArray();
          const gw = matmul(dy, wide(cast(x, d)), { transA: true }).toFloatArray();
          const got = [grads[0]!.toFloatArray(), grads[1]!.toFloatArray()];
          for (const [g, r] of [[got[0]!, gx], [got[1]!, gw]] as const)
            for (let i = 0; i < r.length; i++) expect(Math.abs(g[i]! - r[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(r[i]!)));
        });
      }),
      { numRuns: 10 },
    );
  });

  it("casts an operand once per autocast call: a layer input read by several products", () => {
    const x = new Generator(3).normal([5, 8]);
    const ws = [0, 1, 2].map((i) => new Generator(10 + i).normal([4, 8]));
    const { ops } = profile(() => autocast("bfloat16", () => tidy(() => ws.map((w) => linear(x, w)))));
    // x once, each weight once.
    expect(ops.find((o) => o.op === "cast")?.calls).toBe(1 + ws.length);
  });

  it("leaves swiglu alone, like mul: float32 operands stay float32, half ones keep their dtype", () => {
    tidy(() => {
      const g = new Generator(3).normal([4, 6], 0, 2);
      const u = new Generator(4).normal([4, 6]);
      const plain = swiglu(g, u);
      const ac = autocast("bfloat16", () => swiglu(g, u));
      expect(ac.dtype).toBe("float32");
      expect(Array.from(ac.dataSync() as Float32Array)).toEqual(Array.from(plain.dataSync() as Float32Array));
      const hb = cast(g, "bfloat16");
      expect(autocast("float16", () => swiglu(hb, cast(u, "bfloat16"))).dtype).toBe("bfloat16");
      expect(autocast("bfloat16", () => swiglu(hb, u)).dtype).toBe("float32");
    });
  });

  it("scopes nest and restore the previous dtype, also when fn throws", () => {
    expect(autocastDType()).toBe(null);
    autocast("bfloat16", () => {
      expect(autocastDType()).toBe("bfloat16");
      autocast("float32", () => expect(autocastDType()).toBe(null));
      expect(() => autocast("float16", () => { throw new Error("boom"); })).toThrow(/boom/);
      expect(autocastDType()).toBe("bfloat16");
    });
    expect(autocastDType()).toBe(null);
    expect(() => autocast("int32" as never, () => 1)).toThrow(/autocast: dtype must be/);
  });

  it("attention with taps works on autocast projections (taps stay float32)", () => {
    tidy(() => {
      const x = new Generator(3).normal([1, 4, 8]);
      const wq = new Generator(4).normal([8, 8]);
      autocast("bfloat16", () => {
        const q = linear(x, wq).reshape([1, 4, 2, 4]);
        const r = attentionTapped(q, q, q, { taps: { heads: [1], rows: tensor([0, 3], { dtype: "int32", shape: [1, 2] }) } });
        expect(r.out.dtype).toBe("bfloat16");
        expect(r.taps!.dtype).toBe("float32");
        const rows = r.taps!.dataSync() as Float32Array;
        expect(rows[0]).toBeCloseTo(1, 6); // query 0 sees only key 0
      });
    });
  });
});

describe("GradScaler", () => {
  it("halves the scale after an overflow, grows it after growthInterval clean steps, and skips overflowed steps", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 5 }), (overflows, interval) => {
        tidy(() => {
          const p = tensor([1, 2]);
          p.requiresGrad = true;
          const opt = { params: [p], steps: 0, step() { this.steps++; } };
          const s = new GradScaler({ initScale: 1024, growthInterval: interval });
          let scale = 1024, tracker = 0, steps = 0;
          for (const bad of overflows) {
            p.grad?.dispose();
            p.grad = tensor(bad ? [Infinity, 1] : [2048, -1024]).keep();
            const stepped = s.step(opt);
            expect(stepped).toBe(!bad);
            if (!bad) expect(Array.from(p.grad.dataSync() as Float32Array)).toEqual([2048 / scale, -1024 / scale]);
            s.update();
            if (bad) { scale /= 2; tracker = 0; steps += 0; }
            else { steps++; if (++tracker >= interval) { scale *= 2; tracker = 0; } }
            expect(s.scale).toBe(scale);
            expect(s.state()).toEqual({ scale, growthTracker: tracker });
          }
          expect(opt.steps).toBe(steps);
          p.grad?.dispose();
          p.grad = null;
        });
      }),
      { numRuns: 50 },
    );
  });

  it("float16 training with loss scaling learns a linear map; unscale before clipping; disabled is a pass-through", () => {
    const before = memory().bytes;
    tidy(() => {
      const w = new Generator(1).normal([4, 4], 0, 0.1).keep();
      w.requiresGrad = true;
      const target = new Generator(2).normal([4, 4]);
      const x = new Generator(3).normal([16, 4]);
      const y = tidy(() => matmul(x, target, { transB: true })).keep();
      const opt = new AdamW([w], { lr: 0.05, weightDecay: 0 });
      const scaler = new GradScaler({ initScale: 2 ** 15 });
      let first = 0, last = 0;
      for (let step = 0; step < 150; step++) {
        tidy(() => {
          const loss = autocast("float16", () => mean(square(sub(linear(x, w), y))));
          if (step === 0) first = loss.item();
          last = loss.item();
          scaler.scaleLoss(loss).backward();
          scaler.unscale(opt.params);
          clipGradNorm(opt.params, 10);
          scaler.step(opt);
          scaler.update();
          opt.zeroGrad();
        });
      }
      expect(last).toBeLessThan(first * 0.01);
      opt.dispose();
      y.dispose();
      w.dispose();
      const off = new GradScaler({ enabled: false });
      const l = tensor([2]);
      expect(off.scaleLoss(l)).toBe(l);
    });
    expect(memory().bytes).toBe(before);
    expect(() => new GradScaler({ backoffFactor: 2 })).toThrow(/backoffFactor must be in \(0, 1\)/);
    expect(() => new GradScaler().load({ scale: -1, growthTracker: 0 })).toThrow(/GradScaler.load/);
  });
});

function square(t: Tensor): Tensor {
  return mul(t, t);
}
