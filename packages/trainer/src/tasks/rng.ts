// Seeded, platform-independent PRNG (sfc32 seeded through splitmix32) and seed derivation from labels.

import { formatValue } from "../format.js";

/** A deterministic random number generator: the same seed gives the same sequence everywhere. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n), unbiased; n an integer in [1, 2^32]. */
  int(n: number): number;
  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number;
  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

const TWO_32 = 4294967296;

function splitmix32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

/** Creates a generator from a safe-integer seed (negative allowed). 32-bit integer arithmetic only. */
export function createRng(seed: number): Rng {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) throw new Error(`seed: expected a safe integer, got ${formatValue(seed)}`);
  const lo = splitmix32(seed >>> 0);
  const hi = splitmix32(Math.floor(seed / TWO_32) ^ 0x6a09e667);
  let a = lo();
  let b = lo();
  let c = hi();
  let d = 1;
  const uint32 = (): number => {
    // sfc32 (Chris Doty-Humphrey's Small Fast Counting generator)
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) uint32(); // warm up
  const rng: Rng = {
    next: () => uint32() / TWO_32,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_32) throw new Error(`int: expected an integer n in [1, 2^32], got ${formatValue(n)}`);
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const x = uint32();
        if (x < limit) return x % n;
      }
    },
    range: (lo2: number, hi2: number): number => lo2 + rng.int(hi2 - lo2 + 1),
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error("pick: empty array");
      return items[rng.int(items.length)] as T;
    },
  };
  return rng;
}

/** FNV-1a hash of a string's UTF-16 units, as an unsigned 32-bit integer. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A seed derived from a base seed and labels (e.g. task name and split): distinct labels give
 * unrelated streams, the same inputs always the same seed. Result is a non-negative 32-bit integer.
 */
export function deriveSeed(seed: number, ...labels: readonly string[]): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed: expected a safe integer, got ${formatValue(seed)}`);
  const mix = splitmix32((seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_32) | 0, 0x9e3779b1));
  let h = mix();
  for (const label of labels) h = splitmix32(h ^ hashString(label))();
  return h >>> 0;
}

/** Fisher–Yates shuffle into a new array. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
