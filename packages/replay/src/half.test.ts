// Tests for float32 <-> bfloat16 / float16 conversion: exhaustive round trips, nearest-even rounding, specials.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBFloat16,
  float32ToFloat16,
  fromBFloat16Bits,
  fromFloat16Bits,
  toBFloat16Bits,
  toFloat16Bits,
} from "./half.js";

const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);
const isNaNBits16 = (h: number, expMask: number, mantMask: number): boolean => (h & expMask) === expMask && (h & mantMask) !== 0;
const f16IsNaN = (h: number): boolean => isNaNBits16(h, 0x7c00, 0x03ff);
const bf16IsNaN = (h: number): boolean => isNaNBits16(h, 0x7f80, 0x007f);

/** Checks that `h` is the correctly rounded (nearest, ties to even) 16-bit encoding of finite x. */
function expectNearestEven(x: number, h: number, decode: (bits: number) => number, maxFinite: number): void {
  const v = decode(h);
  if (Math.abs(x) > maxFinite && !Number.isFinite(v)) {
    // overflow: correct when x is at least halfway to the next (unrepresentable) power step
    expect(Math.sign(v)).toBe(Math.sign(x));
    return;
  }
  expect(Number.isFinite(v)).toBe(true);
  if (x === 0) {
    expect(v === 0).toBe(true);
    expect(Object.is(v, -0)).toBe(Object.is(x, -0));
    return;
  }
  // neighbours in magnitude (same sign): h-1 and h+1 step the magnitude for sign-magnitude encodings
  const err = Math.abs(x - v);
  for (const nb of [h - 1, h + 1]) {
    if ((nb & 0x7fff) === 0x7fff || ((nb ^ h) & 0x8000) !== 0) continue;
    const w = decode(nb);
    if (!Number.isFinite(w) || Number.isNaN(w)) continue;
    const errNb = Math.abs(x - w);
    expect(err).toBeLessThanOrEqual(errNb);
    if (err === errNb) expect(h & 1).toBe(0); // a tie goes to the even encoding
  }
}

describe("bfloat16", () => {
  it("round-trips every non-NaN bit pattern exactly, and keeps NaN a NaN", () => {
    const back = float32ToBFloat16(bfloat16ToFloat32(ALL));
    for (let h = 0; h < 65536; h++) {
      if (bf16IsNaN(h)) expect(bf16IsNaN(back[h] as number)).toBe(true);
      else if (back[h] !== h) expect.fail(`bf16 0x${h.toString(16)} came back as 0x${(back[h] as number).toString(16)}`);
    }
  });

  it("decodes exactly: bf16 is the top half of float32", () => {
    expect(fromBFloat16Bits(0x3f80)).toBe(1);
    expect(fromBFloat16Bits(0xc000)).toBe(-2);
    expect(fromBFloat16Bits(0x7f80)).toBe(Infinity);
    expect(fromBFloat16Bits(0xff80)).toBe(-Infinity);
    expect(fromBFloat16Bits(0x7fc0)).toBeNaN();
    expect(Object.is(fromBFloat16Bits(0x8000), -0)).toBe(true);
    expect(fromBFloat16Bits(0x0001)).toBe(2 ** -133); // smallest subnormal
  });

  it("rounds to nearest, ties to even", () => {
    expect(toBFloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // exactly halfway between 1 and 1+2^-7: even is 1
    expect(toBFloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // halfway between 0x3f81 and 0x3f82: even
    expect(toBFloat16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // just above halfway
    expect(toBFloat16Bits(3.4028234663852886e38)).toBe(0x7f80); // float32 max rounds up to Infinity
    expect(toBFloat16Bits(Number.NaN) & 0x7fc0).toBe(0x7fc0);
    expect(toBFloat16Bits(-Infinity)).toBe(0xff80);
    expect(toBFloat16Bits(2 ** -149)).toBe(0x0000); // float32 subnormal below half a bf16 ulp
    expect(toBFloat16Bits(2 ** -133)).toBe(0x0001);
  });

  it("gives the nearest bfloat16 of any float32 (property)", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expectNearestEven(x, toBFloat16Bits(x), fromBFloat16Bits, 3.3895313892515355e38);
      }),
      { numRuns: 5000 },
    );
  });

  it("quietens NaNs and keeps the sign and payload's top bits", () => {
    const src = new Float32Array(3);
    const bits = new Uint32Array(src.buffer);
    bits[0] = 0x7f800001; // signalling NaN with payload only in the low bits
    bits[1] = 0xffc00000; // negative quiet NaN
    bits[2] = 0x7fa50000;
    const out = float32ToBFloat16(src);
    expect(Array.from(out)).toEqual([0x7fc0, 0xffc0, 0x7fe5]);
  });
});

describe("float16", () => {
  it("round-trips every non-NaN bit pattern exactly, and keeps NaN a NaN", () => {
    const back = float32ToFloat16(float16ToFloat32(ALL));
    for (let h = 0; h < 65536; h++) {
      if (f16IsNaN(h)) expect(f16IsNaN(back[h] as number)).toBe(true);
      else if (back[h] !== h) expect.fail(`f16 0x${h.toString(16)} came back as 0x${(back[h] as number).toString(16)}`);
    }
  });

  it("decodes normals, subnormals and specials exactly", () => {
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0xc000)).toBe(-2);
    expect(fromFloat16Bits(0x7bff)).toBe(65504);
    expect(fromFloat16Bits(0x0400)).toBe(2 ** -14); // smallest normal
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(fromFloat16Bits(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(fromFloat16Bits(0x8001)).toBe(-(2 ** -24));
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
    expect(fromFloat16Bits(0xfc00)).toBe(-Infinity);
    expect(fromFloat16Bits(0x7e00)).toBeNaN();
    expect(Object.is(fromFloat16Bits(0x8000), -0)).toBe(true);
    for (let h = 0; h < 0x7c00; h++) {
      // every finite positive pattern decodes to mantissa · 2^(exp − 25) (subnormals: mantissa · 2^-24)
      const e = h >> 10;
      const m = h & 0x3ff;
      const expected = e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25);
      if (fromFloat16Bits(h) !== expected) expect.fail(`0x${h.toString(16)}`);
    }
  });

  it("rounds to nearest, ties to even, with overflow, underflow and subnormals", () => {
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and 1+2^-10: even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65519.99)).toBe(0x7bff); // below halfway to 65536
    expect(toFloat16Bits(65520)).toBe(0x7c00); // halfway to 2^16 rounds (to even) to Infinity
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(-1e6)).toBe(0xfc00);
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // exactly half the smallest subnormal: ties to even (0)
    expect(toFloat16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulp: tie to even (2)
    expect(toFloat16Bits(-(2 ** -26))).toBe(0x8000); // -0
    expect(toFloat16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // halfway from largest subnormal: even = smallest normal
    expect(toFloat16Bits(Number.NaN) & 0x7e00).toBe(0x7e00);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(toFloat16Bits(1e-45)).toBe(0x0000); // float32 subnormal
  });

  it("gives the nearest float16 of any float32 (property)", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expectNearestEven(x, toFloat16Bits(x), fromFloat16Bits, 65504);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.float({ min: -70000, max: 70000, noNaN: true }), (x) => {
        expectNearestEven(x, toFloat16Bits(x), fromFloat16Bits, 65504);
      }),
      { numRuns: 5000 },
    );
  });

  it("overflows to infinity exactly at or past 65520", () => {
    fc.assert(
      fc.property(fc.float({ min: 0, max: Math.fround(1e30), noNaN: true }), (x) => {
        expect(toFloat16Bits(x) === 0x7c00).toBe(Math.fround(x) >= 65520);
      }),
    );
  });
});

describe("array converters", () => {
  it("write into a given output array and check its length", () => {
    const src = Float32Array.from([1, -2, 0.5]);
    const out = new Uint16Array(3);
    expect(float32ToFloat16(src, out)).toBe(out);
    expect(Array.from(out)).toEqual([0x3c00, 0xc000, 0x3800]);
    const back = new Float32Array(3);
    expect(float16ToFloat32(out, back)).toBe(back);
    expect(Array.from(back)).toEqual([1, -2, 0.5]);
    expect(() => float32ToBFloat16(src, new Uint16Array(2))).toThrow("float32ToBFloat16: out has length 2, expected 3");
    expect(() => bfloat16ToFloat32(out, new Float32Array(4))).toThrow(/out has length 4, expected 3/);
  });

  it("work on views with a byte offset", () => {
    const buffer = new Float32Array([9, 1, 2, 9]);
    const view = buffer.subarray(1, 3);
    expect(Array.from(bfloat16ToFloat32(float32ToBFloat16(view)))).toEqual([1, 2]);
    expect(Array.from(float16ToFloat32(float32ToFloat16(view)))).toEqual([1, 2]);
  });

  it("agree with the scalar functions (property)", () => {
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 64 }), (a) => {
        const f16 = float32ToFloat16(a);
        const bf16 = float32ToBFloat16(a);
        a.forEach((x, i) => {
          expect(f16[i]).toBe(toFloat16Bits(x));
          if (!Number.isNaN(x)) expect(bf16[i]).toBe(toBFloat16Bits(x));
        });
        const f16back = float16ToFloat32(f16);
        f16.forEach((h, i) => expect(Object.is(f16back[i], fromFloat16Bits(h)) || Number.isNaN(f16back[i])).toBe(true));
      }),
    );
  });
});
