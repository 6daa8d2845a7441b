// Data types: names, native codes, element sizes and typed-array mapping; bf16/f16 bit conversion helpers.
export type DType = "float32" | "int32" | "bfloat16" | "float16";

export const DTYPE_CODE: Record<DType, number> = { float32: 0, int32: 1, bfloat16: 2, float16: 3 };
export const DTYPE_SIZE: Record<DType, number> = { float32: 4, int32: 4, bfloat16: 2, float16: 2 };
export const DTYPES: readonly DType[] = ["float32", "int32", "bfloat16", "float16"];

export type FloatDType = "float32" | "bfloat16" | "float16";
export const FLOAT_DTYPES: readonly FloatDType[] = ["float32", "bfloat16", "float16"];
export function isFloatDType(x: unknown): x is FloatDType {
  return x === "float32" || x === "bfloat16" || x === "float16";
}
/**
 * The dtype of a result computed from two float operands: their dtype when they agree, float32 otherwise (bfloat16
 * with float16 or float32). Kernels compute in float32 and round the result to this dtype.
 */
export function promoteTypes(a: DType, b: DType): DType {
  return a === b ? a : "float32";
}

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && (DTYPES as readonly string[]).includes(x);
}

export type TypedArrayFor<D extends DType> = D extends "float32" ? Float32Array : D extends "int32" ? Int32Array : Uint16Array;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}
export function bf16BitsToF32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

/** float32 -> IEEE half bits, round to nearest even. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
