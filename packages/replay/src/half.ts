// float32 <-> bfloat16 and float32 <-> float16 (IEEE 754 binary16) conversion, round to nearest even.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bit pattern of `x` rounded to float32. */
function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0] as number;
}

function fromBits(bits: number): number {
  u32[0] = bits;
  return f32[0] as number;
}

/** bfloat16 bits of a float32 bit pattern: round to nearest, ties to even; NaN stays NaN (quietened). */
function bf16FromF32Bits(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x0040) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float16 bits of a float32 bit pattern: round to nearest, ties to even; overflow gives ±Infinity. */
function f16FromF32Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // float16 subnormal (or zero): value = mant16 · 2^-24
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const q = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q);
  }
  const q = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to 0x7c00 = Infinity: exactly right.
  return sign | (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1) ? q + 1 : q);
}

/** float32 bit pattern of a float16 bit pattern (exact: every float16 is a float32). */
function f32BitsFromF16(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // subnormal: normalise
  let m = mant;
  let e = 113;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** The bfloat16 bit pattern nearest to `x` (rounded to float32 first; ties to even; NaN stays NaN). */
export function toBFloat16Bits(x: number): number {
  return bf16FromF32Bits(bitsOf(x));
}

/** The value of a bfloat16 bit pattern (exact). */
export function fromBFloat16Bits(h: number): number {
  return fromBits((h & 0xffff) << 16);
}

/** The float16 bit pattern nearest to `x` (rounded to float32 first; ties to even; overflow → ±Infinity). */
export function toFloat16Bits(x: number): number {
  return f16FromF32Bits(bitsOf(x));
}

/** The value of a float16 bit pattern (exact). */
export function fromFloat16Bits(h: number): number {
  return fromBits(f32BitsFromF16(h & 0xffff));
}

function u32View(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function outputFor<A extends Uint16Array | Float32Array>(out: A | undefined, make: () => A, n: number, what: string): A {
  if (out === undefined) return make();
  if (out.length !== n) throw new Error(`${what}: out has length ${out.length}, expected ${n}`);
  return out;
}

/** Converts float32 values to bfloat16 bit patterns (round to nearest even). Writes into `out` if given. */
export function float32ToBFloat16(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = outputFor(out, () => new Uint16Array(src.length), src.length, "float32ToBFloat16");
  const bits = u32View(src);
  for (let i = 0; i < bits.length; i++) dst[i] = bf16FromF32Bits(bits[i] as number);
  return dst;
}

/** Converts bfloat16 bit patterns to float32 values (exact). Writes into `out` if given. */
export function bfloat16ToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = outputFor(out, () => new Float32Array(src.length), src.length, "bfloat16ToFloat32");
  const bits = u32View(dst);
  for (let i = 0; i < src.length; i++) bits[i] = (src[i] as number) << 16;
  return dst;
}

/** Converts float32 values to float16 bit patterns (round to nearest even). Writes into `out` if given. */
export function float32ToFloat16(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = outputFor(out, () => new Uint16Array(src.length), src.length, "float32ToFloat16");
  const bits = u32View(src);
  for (let i = 0; i < bits.length; i++) dst[i] = f16FromF32Bits(bits[i] as number);
  return dst;
}

/** Converts float16 bit patterns to float32 values (exact). Writes into `out` if given. */
export function float16ToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = outputFor(out, () => new Float32Array(src.length), src.length, "float16ToFloat32");
  const bits = u32View(dst);
  for (let i = 0; i < src.length; i++) bits[i] = f32BitsFromF16(src[i] as number);
  return dst;
}
