// Test helper: float64 index arithmetic and scalar references shared by the vitest reference tests
// (src/ops/reference.test.ts) and the per-device node:test suite (test/devices/helper.mjs, which reads the built
// dist/testing/reference.js). Not exported from index.

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return idx;
}
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < shape.length; i++) f = f * shape[i]! + idx[i]!;
  return f;
}
/** Flat index into `shape` of the element that broadcasts to `idx` of a result with rank idx.length. */
export function bcastIndex(idx: readonly number[], shape: readonly number[]): number {
  const off = idx.length - shape.length;
  let f = 0;
  for (let i = 0; i < shape.length; i++) f = f * shape[i]! + (shape[i] === 1 ? 0 : idx[off + i]!);
  return f;
}
export function bcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return [...Array(n).keys()].map((i) => {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    return x === 1 ? y : x;
  });
}

/** erf in float64: Taylor series (accurate to ~1e-10 for |z| <= 4), +-1 beyond (erfc(4) = 1.5e-8). */
export function erf(z: number): number {
  if (Math.abs(z) > 4) return Math.sign(z);
  let term = z;
  let s = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    s += add;
    if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}
export const sigm = (x: number): number => 1 / (1 + Math.exp(-x));
export const geluRef = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanhRef = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
