// Tensor basics: creation, read-back, printing, autograd semantics, devices, seeded random, tidy/memory scopes.
import { describe, expect, it } from "vitest";
import {
  Tensor, tensor, zeros, ones, full, scalar, zerosLike, onesLike, arange, empty,
  f32ToBf16Bits, bf16BitsToF32, f32ToF16Bits, f16BitsToF32,
  parseDevice, devices, resolveDevice, CPU,
  tidy, dispose, memory,
  backward, noGrad, enableGrad, isGradEnabled, grad, valueAndGrad,
  Generator, manualSeed, randn, rand,
  add, mul, exp, sin, cos, sum, mean, square, reshape, detach, matmul, softmax,
} from "./index.js";

const arr = (t: Tensor) => Array.from(t.dataSync());
const closeArr = (a: ArrayLike<number>, b: ArrayLike<number>, digits = 5) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, digits);
};

// ---- creation ----------------------------------------------------------------------------------------------------

describe("creation", () => {
  it("from nested arrays infers shape and defaults to float32", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float32");
    expect(t.rank).toBe(2);
    expect(t.size).toBe(6);
    expect(t.bytes).toBe(24);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(t.device).toEqual(CPU);
    const s = tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    expect(tensor([[[1]], [[2]]]).shape).toEqual([2, 1, 1]);
    expect(tensor([]).shape).toEqual([0]);
    dispose([t, s]);
  });
  it("from nested arrays with an explicit shape", () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] });
    expect(t.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/3 values but shape \[2, 2\] needs 4/);
    t.dispose();
  });
  it("from typed arrays with a shape; the dtype follows the array type", () => {
    const f = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    expect(f.dtype).toBe("float32");
    expect(f.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const i = tensor(new Int32Array([7, -8]), { shape: [2, 1] });
    expect(i.dtype).toBe("int32");
    expect(i.toArray()).toEqual([[7], [-8]]);
    expect(i.dataSync()).toBeInstanceOf(Int32Array);
    const flat = tensor(new Float32Array([1, 2, 3]));
    expect(flat.shape).toEqual([3]);
    expect(() => tensor(new Float32Array([1, 2, 3]), { shape: [2, 2] })).toThrow(/3 values but shape \[2, 2\] needs 4/);
    expect(() => tensor(new Uint16Array([1]))).toThrow(/Uint16Array needs dtype 'bfloat16' or 'float16'/);
    dispose([f, i, flat]);
  });
  it("ragged nested arrays throw with the path of the offending element", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array at \[1\]: expected length 2, got 1/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/ragged/);
    expect(() => tensor([[[1], [2]], [[3], [4, 5]]])).toThrow(/ragged nested array at \[1\]\[1\]/);
    expect(() => tensor([1, [2]] as never)).toThrow(/expected a number at \[1\], got an array/);
  });
  it("int32 from non-integers throws; int32 from integers works", () => {
    expect(() => tensor([1, 2.5], { dtype: "int32" })).toThrow(/int32 data must be integers, got 2.5 at index 1/);
    const t = tensor([[1, -2], [3, 4]], { dtype: "int32" });
    expect(t.dtype).toBe("int32");
    expect(t.toArray()).toEqual([[1, -2], [3, 4]]);
    t.dispose();
  });
  it("bad shapes and dtypes throw", () => {
    expect(() => zeros([2, -1])).toThrow(/invalid dimension -1 at index 1/);
    expect(() => zeros([1.5])).toThrow(/invalid dimension/);
    expect(() => empty([2], "float64" as never)).toThrow(/unknown dtype/);
    expect(() => tensor([1, 2], { dtype: "int32", requiresGrad: true })).toThrow(/requiresGrad needs a float32 tensor/);
  });

  it("bfloat16 and float16 round trip through Uint16Array bits exactly", () => {
    const bits = new Uint16Array([0x3f80, 0xc000, 0x4049, 0x0000, 0x8000, 0x7f80, 0xff80, 0x0001]);
    const b = tensor(bits, { dtype: "bfloat16", shape: [2, 4] });
    expect(b.dtype).toBe("bfloat16");
    expect(b.bytes).toBe(16);
    const back = b.dataSync();
    expect(back).toBeInstanceOf(Uint16Array);
    expect(Array.from(back)).toEqual(Array.from(bits));
    expect(Array.from(b.toFloatArray())).toEqual(Array.from(bits, bf16BitsToF32));
    expect(Array.from(b.toFloatArray()).slice(0, 3)).toEqual([1, -2, 3.140625]);

    const hbits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x3555]);
    const h = tensor(hbits, { dtype: "float16" });
    expect(Array.from(h.dataSync())).toEqual(Array.from(hbits));
    expect(Array.from(h.toFloatArray())).toEqual([1, -2, 65504, 2 ** -24, Infinity, -Infinity, f16BitsToF32(0x3555)]);
    expect(h.toFloatArray()[6]).toBeCloseTo(1 / 3, 3);
    dispose([b, h]);
  });
  it("bfloat16 and float16 from numbers round to nearest even and decode back", () => {
    const vals = [1, -2, 3.14159, 0.1, 65504, 1e-5, 2 ** -24, 70000, -0];
    const b = tensor(vals, { dtype: "bfloat16" });
    expect(Array.from(b.dataSync())).toEqual(vals.map(f32ToBf16Bits));
    expect(Array.from(b.toFloatArray())).toEqual(vals.map((v) => bf16BitsToF32(f32ToBf16Bits(v))));
    expect(b.toFloatArray()[2]).toBe(3.140625);
    const h = tensor(vals, { dtype: "float16" });
    expect(Array.from(h.dataSync())).toEqual(vals.map(f32ToF16Bits));
    const dec = Array.from(h.toFloatArray());
    expect(dec.slice(0, 2)).toEqual([1, -2]);
    expect(dec[2]).toBe(3.140625);
    expect(dec[4]).toBe(65504);
    expect(dec[5]).toBeCloseTo(1e-5, 7); // subnormal in half precision
    expect(dec[6]).toBe(2 ** -24);
    expect(dec[7]).toBe(Infinity); // overflow
    expect(Object.is(dec[8], -0)).toBe(true);
    // nested arrays and toArray work for half types too
    expect(tensor([[1.5, 2]], { dtype: "float16" }).toArray()).toEqual([[1.5, 2]]);
    dispose([b, h]);
  });
  it("bit conversion helpers: ties to even, NaN stays NaN", () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(Number.NaN) & 0x7fc0).toBe(0x7fc0);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(Number.NaN)))).toBe(true);
    // 1 + 2^-8 lies halfway between bf16 1 and 1 + 2^-7: ties to even (1)
    expect(bf16BitsToF32(f32ToBf16Bits(1 + 2 ** -8))).toBe(1);
    expect(bf16BitsToF32(f32ToBf16Bits(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to inf
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1); // tie to even
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(Number.NaN)))).toBe(true);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });

  it("arange, full, zeros, ones, scalar, zerosLike, onesLike", () => {
    const a = arange(5);
    expect(a.dtype).toBe("int32");
    expect(a.toArray()).toEqual([0, 1, 2, 3, 4]);
    const af = arange(3, { dtype: "float32" });
    expect(af.dtype).toBe("float32");
    expect(af.toArray()).toEqual([0, 1, 2]);
    expect(arange(0).shape).toEqual([0]);
    expect(() => arange(-1)).toThrow(/non-negative integer/);
    expect(() => arange(2.5)).toThrow(/non-negative integer/);
    const f = full([2, 2], 3.5);
    expect(f.toArray()).toEqual([[3.5, 3.5], [3.5, 3.5]]);
    const fi = full([3], 7, { dtype: "int32" });
    expect(fi.dtype).toBe("int32");
    expect(fi.toArray()).toEqual([7, 7, 7]);
    expect(zeros([2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(ones([3]).toArray()).toEqual([1, 1, 1]);
    expect(ones([]).item()).toBe(1);
    expect(zeros([0, 4]).size).toBe(0);
    const s = scalar(-4);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(-4);
    const zl = zerosLike(fi);
    expect(zl.dtype).toBe("int32");
    expect(zl.toArray()).toEqual([0, 0, 0]);
    const ol = onesLike(f);
    expect(ol.shape).toEqual([2, 2]);
    expect(ol.toArray()).toEqual([[1, 1], [1, 1]]);
    expect(full([2], 1, { requiresGrad: true }).requiresGrad).toBe(true);
    dispose([a, af, f, fi, s, zl, ol]);
  });
});

describe("read-back", () => {
  it("toArray, item, dataSync, toFloatArray", () => {
    const t = tensor([[1, 2], [3, 4]]);
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(() => t.item()).toThrow(/item\(\): tensor has 4 elements \[2, 2\], expected 1/);
    expect(tensor([[7]]).item()).toBe(7);
    const d = t.dataSync();
    expect(d).toBeInstanceOf(Float32Array);
    expect(Array.from(d)).toEqual([1, 2, 3, 4]);
    d[0] = 100; // a copy: the tensor is unchanged
    expect(t.dataSync()[0]).toBe(1);
    expect(tensor([0.1]).item()).toBe(Math.fround(0.1));
    t.dispose();
  });
  it("reading a disposed tensor throws", () => {
    const t = tensor([1]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.dataSync()).toThrow(/was disposed/);
    expect(() => add(t, 1)).toThrow(/add: 'input' \[1\] was disposed|was disposed/);
    expect(t.toString()).toBe("tensor(<disposed>, shape=[1])");
    t.dispose(); // idempotent
  });
});

describe("toString (PyTorch style)", () => {
  it("2-D float tensors: aligned columns, whole numbers as '1.' (as PyTorch prints them), continuation indent", () => {
    const t = tensor([[1, 2], [3, 4]]);
    expect(t.toString()).toBe("tensor([[1., 2.],\n        [3., 4.]])");
    const u = tensor([[1.5, 2], [3, 4]]);
    expect(u.toString()).toBe("tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])");
    u.dispose();
    expect(String(t)).toBe(t.toString());
    t.dispose();
  });
  it("1-D with negatives pads to a common width", () => {
    const t = tensor([1, -2.5, 10]);
    expect(t.toString()).toBe("tensor([ 1.0000, -2.5000, 10.0000])");
    t.dispose();
  });
  it("3-D separates blocks with a blank line", () => {
    const t = arange(8, { dtype: "float32" }).reshape([2, 2, 2]);
    expect(t.toString()).toBe(
      "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])",
    );
    t.dispose();
  });
  it("int32 shows dtype=int32 and no decimals", () => {
    const t = tensor([[1, -20], [300, 4]], { dtype: "int32" });
    expect(t.toString()).toBe("tensor([[  1, -20],\n        [300,   4]], dtype=int32)");
    t.dispose();
  });
  it("large tensors are summarised with ... and the shape", () => {
    const t = arange(2000);
    const s = t.toString();
    expect(s).toContain("...");
    expect(s).toContain("shape=[2000]");
    expect(s.startsWith("tensor([   0,    1,    2, ...")).toBe(true);
    expect(s).toContain("1997, 1998, 1999]");
    const m = zeros([50, 50]).toString();
    expect(m.split("\n").length).toBe(7); // 3 rows, "...", 3 rows
    expect(m).toContain("...");
    expect(m).toContain("shape=[50, 50]");
    t.dispose();
  });
  it("small magnitudes use scientific notation; nan/inf; requires_grad; other dtypes", () => {
    const t = tensor([1e-5, 1]);
    expect(t.toString()).toBe("tensor([1.0000e-05, 1.0000e+00])");
    const n = tensor([NaN, Infinity, -Infinity, 1]);
    expect(n.toString()).toBe("tensor([nan, inf, -inf, 1.])");
    const g = tensor([1, 2], { requiresGrad: true });
    expect(g.toString()).toBe("tensor([1., 2.], requires_grad=True)");
    const b = tensor([1.5], { dtype: "bfloat16" });
    expect(b.toString()).toBe("tensor([1.5000], dtype=bfloat16)");
    dispose([t, n, g, b]);
  });
});

// ---- autograd ----------------------------------------------------------------------------------------------------

describe("autograd", () => {
  it("gradients accumulate on leaves across backward calls", () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { requiresGrad: true });
      sum(mul(x, 3)).backward();
      expect(arr(x.grad!)).toEqual([3, 3, 3]);
      sum(mul(x, x)).backward();
      expect(arr(x.grad!)).toEqual([5, 7, 9]);
      expect(x.isLeaf).toBe(true);
    });
  });
  it("backward twice through a released graph throws a clear error; retainGraph allows it", () => {
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      const y = sum(exp(x));
      y.backward();
      expect(() => y.backward()).toThrow(/a second time.*retainGraph/);
      const x2 = tensor([0, 1], { requiresGrad: true });
      const y2 = sum(exp(x2));
      y2.backward({ retainGraph: true });
      y2.backward();
      closeArr(arr(x2.grad!), [2, 2 * Math.E]);
    });
  });
  it("noGrad builds no graph; enableGrad re-enables it inside", () => {
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      expect(isGradEnabled()).toBe(true);
      const y = noGrad(() => {
        expect(isGradEnabled()).toBe(false);
        const inner = enableGrad(() => mul(x, 2));
        expect(inner.requiresGrad).toBe(true);
        return mul(x, 2);
      });
      expect(isGradEnabled()).toBe(true);
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeNull();
      expect(() => sum(y).backward()).toThrow(/does not require grad/);
      // the flag is restored even when fn throws
      expect(() => noGrad(() => { throw new Error("boom"); })).toThrow("boom");
      expect(isGradEnabled()).toBe(true);
    });
  });
  it("detach cuts the graph and shares the data", () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { requiresGrad: true });
      const d = detach(x);
      expect(d.requiresGrad).toBe(false);
      expect(arr(d)).toEqual([1, 2, 3]);
      sum(mul(d, x)).backward();
      expect(arr(x.grad!)).toEqual([1, 2, 3]); // not 2x
      const m = x.detach();
      expect(m.requiresGrad).toBe(false);
    });
  });
  it("a tensor used twice gets the summed gradient (x*x, x+x, matmul(x, x))", () => {
    tidy(() => {
      const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
      sum(mul(x, x)).backward();
      expect(x.grad!.toArray()).toEqual([[2, 4], [6, 8]]);
      const y = tensor([[1, 2], [3, 4]], { requiresGrad: true });
      sum(matmul(y, y)).backward();
      // d/dY sum(Y Y) = 1 Y^T + Y^T 1
      const Y = [[1, 2], [3, 4]];
      const exp_ = [0, 1].map((i) => [0, 1].map((j) => Y[j]![0]! + Y[j]![1]! + Y[0]![i]! + Y[1]![i]!));
      expect(y.grad!.toArray()).toEqual(exp_);
    });
  });
  it("diamond graphs add both paths", () => {
    tidy(() => {
      const x = tensor([0.3, -0.7], { requiresGrad: true });
      const a = exp(x);
      const b = mul(a, 2);
      const c = sin(a);
      sum(add(b, c)).backward();
      closeArr(arr(x.grad!), [0.3, -0.7].map((v) => (2 + Math.cos(Math.exp(v))) * Math.exp(v)));
      expect(a.grad).toBeNull(); // intermediates keep no .grad
    });
  });
  it("non-scalar backward needs { grad }; its shape is checked", () => {
    tidy(() => {
      const x = tensor([1, 2, 3], { requiresGrad: true });
      const y = mul(x, x);
      expect(() => y.backward()).toThrow(/pass \{ grad \} for a non-scalar output/);
      expect(() => y.backward({ grad: tensor([1, 1]) })).toThrow(/grad shape \[2\] does not match output shape \[3\]/);
      y.backward({ grad: tensor([1, 0.5, -1]) });
      expect(arr(x.grad!)).toEqual([2, 2, -6]);
      const one = tensor([[2]], { requiresGrad: true });
      mul(one, 3).backward(); // one-element non-scalar is fine
      expect(arr(one.grad!)).toEqual([3]);
      expect(() => backward(tensor([1]))).toThrow(/does not require grad/);
    });
  });
  it("backward({ grad }) on a leaf copies the seed: accumulating does not write into it", () => {
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      const g = tensor([0.5, 1]);
      x.backward({ grad: g });
      x.backward({ grad: g });
      expect(arr(x.grad!)).toEqual([1, 2]);
      expect(arr(g)).toEqual([0.5, 1]);
      const y = tensor([[1, 2]], { requiresGrad: true });
      const r = reshape(y, [2]);
      r.backward({ grad: g, retainGraph: true });
      r.backward({ grad: g });
      expect(y.grad!.toArray()).toEqual([[1, 2]]);
      expect(arr(g)).toEqual([0.5, 1]);
    });
  });
  it("inputs that do not require grad get no gradient", () => {
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      const c = tensor([3, 4]);
      sum(mul(x, c)).backward();
      expect(arr(x.grad!)).toEqual([3, 4]);
      expect(c.grad).toBeNull();
    });
  });
  it("grad() and valueAndGrad() return values and gradients without touching the inputs", () => {
    tidy(() => {
      const x = tensor([1, 2, 3]);
      const y = tensor([4, 5, 6]);
      const f = (a: Tensor, b: Tensor) => sum(mul(square(a), b));
      const { value, grads } = valueAndGrad(f)(x, y);
      expect(value.item()).toBe(1 * 4 + 4 * 5 + 9 * 6);
      expect(value.requiresGrad).toBe(false);
      expect(arr(grads[0]!)).toEqual([8, 20, 36]);
      expect(arr(grads[1]!)).toEqual([1, 4, 9]);
      expect(x.requiresGrad).toBe(false);
      expect(x.grad).toBeNull();
      const [gx] = grad((a) => mean(exp(a)))(tensor([0, 0]));
      closeArr(arr(gx!), [0.5, 0.5]);
      // an unused input gets zeros
      const [g1, g2] = grad((a, _b) => sum(a))(tensor([1, 2]), tensor([5]));
      expect(arr(g1!)).toEqual([1, 1]);
      expect(arr(g2!)).toEqual([0]);
      expect(() => valueAndGrad((a) => mul(a, 2))(tensor([1, 2]))).toThrow(/non-scalar/);
      expect(() => grad((a) => sum(a))(tensor([1], { dtype: "int32" }))).toThrow(/float32/);
      dispose([value, grads, gx, g1, g2]);
    });
  });
  it("valueAndGrad works inside noGrad", () => {
    tidy(() => {
      const [g] = noGrad(() => grad((a) => sum(square(a)))(tensor([3])));
      expect(arr(g!)).toEqual([6]);
      g!.dispose();
    });
  });
  it("gradients through softmax along a reshape keep shapes", () => {
    tidy(() => {
      const x = tensor([[1, 2, 3, 4]], { requiresGrad: true });
      const y = softmax(reshape(x, [2, 2]), 0);
      y.backward({ grad: tensor([[1, 0], [0, 0]]) });
      expect(x.grad!.shape).toEqual([1, 4]);
      const s = 1 / (1 + Math.exp(2)); // softmax([1,3])[0]
      closeArr(arr(x.grad!), [s * (1 - s), 0, -s * (1 - s), 0]);
    });
  });
});

// ---- devices -----------------------------------------------------------------------------------------------------

describe("devices", () => {
  const report = devices();
  it("devices() reports cpu threads and a cuda section with a reason", () => {
    expect(Number.isInteger(report.cpu.threads)).toBe(true);
    expect(report.cpu.threads).toBeGreaterThan(0);
    expect(typeof report.cpu.gemm).toBe("string");
    expect(typeof report.cpu.simd).toBe("string");
    expect(typeof report.cuda.compiled).toBe("boolean");
    expect(typeof report.cuda.available).toBe("boolean");
    expect(typeof report.cuda.reason).toBe("string");
    expect(Array.isArray(report.cuda.devices)).toBe(true);
    if (!report.cuda.available) {
      expect(report.cuda.reason.length).toBeGreaterThan(0);
      expect(report.cuda.devices).toEqual([]);
      expect(report.preferred).toBe("cpu");
    } else {
      expect(report.preferred).toBe("cuda:0");
    }
  });
  it.skipIf(report.cuda.available)("allocating on CUDA without a usable GPU throws an Error naming CUDA", () => {
    let err: unknown;
    try {
      zeros([2], { device: "cuda" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/CUDA/);
    expect(() => tensor([1, 2], { device: "cuda:0" })).toThrow(/CUDA/);
    expect(resolveDevice("auto")).toEqual(CPU);
  });
  it("parseDevice accepts cpu / cuda / cuda:N and rejects anything else", () => {
    expect(parseDevice("cpu")).toEqual(CPU);
    expect(parseDevice(undefined)).toEqual(CPU);
    expect(parseDevice("cuda")).toEqual({ type: "cuda", index: 0 });
    expect(parseDevice("cuda:3")).toEqual({ type: "cuda", index: 3 });
    expect(parseDevice({ type: "cpu", index: 0 })).toEqual(CPU);
    expect(() => parseDevice("gpu")).toThrow(/invalid device "gpu"/);
    expect(() => parseDevice("cuda:-1")).toThrow(/invalid device/);
    expect(() => parseDevice("CPU")).toThrow(/invalid device/);
    expect(() => parseDevice({ type: "tpu", index: 0 } as never)).toThrow(/invalid device/);
    expect(() => zeros([1], { device: "gpu" })).toThrow(/invalid device "gpu"/);
  });
});

// ---- random ------------------------------------------------------------------------------------------------------

describe("seeded Generator", () => {
  it("same seed gives identical data; successive draws and different seeds differ", () => {
    const a = new Generator(42).normal([1000]);
    const b = new Generator(42).normal([1000]);
    expect(arr(a)).toEqual(arr(b));
    const g = new Generator(42);
    const first = g.normal([1000]);
    const second = g.normal([1000]); // offset advanced
    expect(arr(first)).toEqual(arr(a));
    expect(arr(second)).not.toEqual(arr(first));
    expect(g.state).toEqual({ seed: 42, offset: 2000 });
    const c = new Generator(43).normal([1000]);
    expect(arr(c)).not.toEqual(arr(a));
    // the draw is counter-based: drawing [500] twice equals one [1000] draw
    const h = new Generator(42);
    expect([...arr(h.normal([500])), ...arr(h.normal([500]))]).toEqual(arr(a));
    dispose([a, b, first, second, c]);
  });
  it("state can be saved and restored", () => {
    const g = new Generator(7);
    g.uniform([10]).dispose();
    const st = g.state;
    const x = g.uniform([5]);
    g.state = st;
    const y = g.uniform([5]);
    expect(arr(y)).toEqual(arr(x));
    expect(() => (g.state = { seed: 8, offset: 0 })).toThrow(/seed 8/);
    expect(() => new Generator(-1)).toThrow(/non-negative/);
    expect(() => new Generator(1.5)).toThrow(/non-negative/);
    dispose([x, y]);
  });
  it("normal() has the requested mean and std (100k samples)", () => {
    for (const [mu, sigma] of [[0, 1], [3, 0.5], [-2, 4]] as const) {
      const t = new Generator(123).normal([100_000], mu, sigma);
      const d = t.dataSync();
      let s = 0;
      let s2 = 0;
      for (const v of d) s += v;
      const m = s / d.length;
      for (const v of d) s2 += (v - m) ** 2;
      const sd = Math.sqrt(s2 / (d.length - 1));
      expect(Math.abs(m - mu)).toBeLessThan(0.015 * sigma); // ~5 standard errors
      expect(Math.abs(sd - sigma)).toBeLessThan(0.015 * sigma);
      // roughly Gaussian tails: ~4.55% beyond 2 sigma
      const tail = Array.from(d).filter((v) => Math.abs(v - mu) > 2 * sigma).length / d.length;
      expect(tail).toBeGreaterThan(0.04);
      expect(tail).toBeLessThan(0.051);
      t.dispose();
    }
  });
  it("uniform() draws in [low, high) with the right mean", () => {
    const t = new Generator(5).uniform([100_000], -2, 3);
    const d = Array.from(t.dataSync());
    expect(Math.min(...d)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...d)).toBeLessThan(3);
    const m = d.reduce((a, b) => a + b, 0) / d.length;
    expect(Math.abs(m - 0.5)).toBeLessThan(0.03);
    // evenly spread: each fifth of the range holds ~20%
    for (let k = 0; k < 5; k++) {
      const frac = d.filter((v) => v >= -2 + k && v < -1 + k).length / d.length;
      expect(Math.abs(frac - 0.2)).toBeLessThan(0.01);
    }
    const u01 = new Generator(6).uniform([10_000]);
    const e = Array.from(u01.dataSync());
    expect(Math.min(...e)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...e)).toBeLessThan(1);
    dispose([t, u01]);
  });
  it("randint() draws int32 values in [low, high), all of them", () => {
    const t = new Generator(9).randint([5000], -3, 4);
    expect(t.dtype).toBe("int32");
    const d = Array.from(t.dataSync());
    expect(new Set(d)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    expect(() => new Generator(1).randint([2], 3, 3)).toThrow(/low < high/);
    t.dispose();
  });
  it("manualSeed makes randn / rand reproducible", () => {
    manualSeed(11);
    const a = randn([20]);
    const r = rand([20]);
    manualSeed(11);
    const b = randn([20]);
    const r2 = rand([20]);
    expect(arr(a)).toEqual(arr(b));
    expect(arr(r)).toEqual(arr(r2));
    expect(arr(r).every((v) => v >= 0 && v < 1)).toBe(true);
    expect(randn([2], { requiresGrad: true }).requiresGrad).toBe(true);
    dispose([a, b, r, r2]);
  });
});

// ---- tidy and memory (last: the known-bug tests at the end leak by design of the bug) -----------------------------

describe("tidy and memory", () => {
  it("frees intermediates and keeps the returned tensor; memory() returns to baseline", () => {
    const m0 = memory();
    const x = tensor([1, 2, 3]);
    const y = tidy(() => {
      const a = mul(x, 2);
      const b = exp(a);
      return add(b, a);
    });
    const m1 = memory();
    expect(m1.tensors).toBe(m0.tensors + 2); // x and y
    expect(m1.buffers).toBe(m0.buffers + 2);
    closeArr(arr(y), [1, 2, 3].map((v) => Math.exp(2 * v) + 2 * v), 2);
    dispose([x, y]);
    const m2 = memory();
    expect(m2.tensors).toBe(m0.tensors);
    expect(m2.buffers).toBe(m0.buffers);
    expect(m2.bytes).toBe(m0.bytes);
  });
  it("tensors returned in arrays, objects and Maps survive", () => {
    const m0 = memory();
    const r = tidy(() => {
      const a = ones([2]);
      const b = zeros([3]);
      const c = full([1], 5);
      mul(a, 3); // dropped
      return { list: [a, { b }], map: new Map([["c", c]]) };
    });
    expect(arr(r.list[0] as Tensor)).toEqual([1, 1]);
    expect(arr((r.list[1] as { b: Tensor }).b)).toEqual([0, 0, 0]);
    expect(arr(r.map.get("c")!)).toEqual([5]);
    expect(memory().tensors).toBe(m0.tensors + 3);
    dispose(r);
    expect(memory().tensors).toBe(m0.tensors);
    expect(memory().buffers).toBe(m0.buffers);
  });
  it("nested tidy: inner results move to the outer scope and are freed there", () => {
    const m0 = memory();
    let inner: Tensor | undefined;
    const out = tidy(() => {
      inner = tidy(() => {
        const t = ones([4]);
        return mul(t, 2);
      });
      expect(inner.isDisposed).toBe(false);
      expect(memory().tensors).toBe(m0.tensors + 1);
      return sum(inner);
    });
    expect(inner!.isDisposed).toBe(true); // not returned by the outer tidy
    expect(out.item()).toBe(8);
    out.dispose();
    expect(memory().tensors).toBe(m0.tensors);
  });
  it("kept tensors survive tidy and are not moved to the parent scope", () => {
    const m0 = memory();
    let kept: Tensor | undefined;
    tidy(() => {
      tidy(() => {
        kept = ones([2]).keep();
      });
    });
    expect(kept!.isDisposed).toBe(false);
    expect(kept!.kept).toBe(true);
    kept!.dispose();
    expect(memory().tensors).toBe(m0.tensors);
  });
  it("a throwing tidy frees its tensors and rethrows; async functions are refused", () => {
    const m0 = memory();
    expect(() =>
      tidy(() => {
        ones([3]);
        throw new Error("inside");
      }),
    ).toThrow("inside");
    expect(memory().tensors).toBe(m0.tensors);
    expect(() => tidy(() => Promise.resolve(1))).toThrow(/synchronous/);
  });
  it("views share a buffer that lives until the last view is disposed", () => {
    const m0 = memory();
    const x = tensor([1, 2, 3, 4]);
    const v = reshape(x, [2, 2]);
    expect(memory().buffers).toBe(m0.buffers + 1);
    expect(memory().tensors).toBe(m0.tensors + 2);
    x.dispose();
    expect(v.toArray()).toEqual([[1, 2], [3, 4]]);
    v.dispose();
    expect(memory().buffers).toBe(m0.buffers);
    expect(memory().bytes).toBe(m0.bytes);
  });
  it("backward inside tidy frees the graph's saved tensors; leaf gradients go with the leaf", () => {
    const m0 = memory();
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      sum(mul(exp(x), x)).backward();
      expect(x.grad).not.toBeNull();
    });
    expect(memory().tensors).toBe(m0.tensors);
    expect(memory().buffers).toBe(m0.buffers);
    // a graph that is never backpropagated is released too
    tidy(() => {
      const x = tensor([1, 2], { requiresGrad: true });
      sum(softmax(mul(x, x)));
    });
    expect(memory().buffers).toBe(m0.buffers);
  });
  it("a single-op graph returned from tidy can still backward", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tidy(() => mul(x, 3));
    y.backward({ grad: tensor([1, -1]) });
    expect(arr(x.grad!)).toEqual([3, -3]);
    dispose([x, y]);
  });

  // Known bugs (see the report): these fail until the source is fixed.
  it("a multi-op graph built inside tidy whose result is returned can still backward after tidy", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tidy(() => sum(mul(exp(x), 2)));
    y.backward();
    expect(x.grad, "x.grad after backward through a graph returned from tidy").not.toBeNull();
    closeArr(arr(x.grad!), [2 * Math.E, 2 * Math.E ** 2], 4);
    dispose([x, y]);
  });
  it("valueAndGrad / grad results created inside tidy are freed by it", () => {
    const m0 = memory();
    tidy(() => {
      const { value, grads } = valueAndGrad((a) => sum(mul(a, a)))(tensor([1, 2]));
      expect(arr(grads[0]!)).toEqual([2, 4]);
      expect(value.item()).toBe(5);
      grad((a) => sum(a))(tensor([1, 2]));
    });
    const m1 = memory();
    expect(m1.tensors, "tensors left after tidy").toBe(m0.tensors);
    expect(m1.buffers, "buffers left after tidy").toBe(m0.buffers);
  });
});
