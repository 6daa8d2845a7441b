// Seeded, platform-independent PRNG (xoshiro128** seeded through splitmix32).

import { formatValue } from "./format.js";

/** A deterministic random number generator. The same seed gives the same sequence on every platform. */
export interface Rng {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, n) (unbiased, by rejection); n must be an integer in [1, 2^32]. */
  int(n: number): number;
  /** Uniform unsigned 32-bit integer in [0, 2^32). */
  uint32(): number;
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

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * xoshiro128** from an explicit 128-bit state (four 32-bit words, not all zero).
 * Exposed for testing against the reference vectors; use {@link createRng} in normal code.
 */
export function xoshiro128ss(state: readonly [number, number, number, number]): Rng {
  let s0 = state[0] | 0;
  let s1 = state[1] | 0;
  let s2 = state[2] | 0;
  let s3 = state[3] | 0;
  if ((s0 | s1 | s2 | s3) === 0) throw new Error("xoshiro128ss: state must not be all zero");

  const uint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  return {
    uint32,
    next: () => uint32() / TWO_32,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
        throw new Error(`int: expected an integer n in [1, 2^32], got ${formatValue(n)}`);
      }
      // Largest multiple of n not above 2^32: values at or above it are rejected.
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const x = uint32();
        if (x < limit) return x % n;
      }
    },
  };
}

/**
 * Creates a seeded generator. `seed` must be a safe integer (negative allowed); distinct seeds give
 * distinct generator states. Arithmetic is 32-bit integer only (Math.imul), so sequences are
 * identical on every platform and JavaScript engine.
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new Error(`seed: expected a safe integer, got ${formatValue(seed)}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_32) | 0;
  const a = splitmix32(lo);
  const b = splitmix32(hi ^ 0x6a09e667);
  const state: [number, number, number, number] = [a(), a(), b(), b()];
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  return xoshiro128ss(state);
}

/** Accepts either a generator or a seed. */
export function toRng(rngOrSeed: Rng | number): Rng {
  return typeof rngOrSeed === "number" ? createRng(rngOrSeed) : rngOrSeed;
}

/**
 * k distinct integers drawn uniformly from [0, n) (Floyd's algorithm, O(k) memory), sorted ascending.
 * Requires 0 <= k <= n <= 2^32.
 */
export function sampleDistinct(n: number, k: number, rng: Rng): number[] {
  if (!Number.isSafeInteger(n) || n < 0 || n > TWO_32) {
    throw new Error(`n: expected an integer in [0, 2^32], got ${formatValue(n)}`);
  }
  if (!Number.isSafeInteger(k) || k < 0 || k > n) {
    throw new Error(`k: expected an integer in [0, n = ${n}], got ${formatValue(k)}`);
  }
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = rng.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((x, y) => x - y);
}
