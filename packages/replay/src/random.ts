// Seed derivation and shuffling on top of @seekr/budget's platform-independent PRNG.

import { createRng, type Rng } from "@seekr/budget";
import { checkSeed } from "./format.js";

const TWO_32 = 4294967296;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Derives a new seed (a non-negative safe integer) from `seed` and integer salts, e.g. (seed, epoch),
 * so that streams for different salts are unrelated. 32-bit integer arithmetic only: the same on every
 * platform.
 */
export function deriveSeed(seed: number, ...salts: number[]): number {
  checkSeed(seed);
  let h1 = 0x243f6a88;
  let h2 = 0x85a308d3;
  for (const value of [seed, ...salts]) {
    for (const word of [value >>> 0, Math.floor(value / TWO_32) | 0]) {
      h1 = fmix32((h1 ^ word) + 0x9e3779b9);
      h2 = fmix32(h2 ^ Math.imul(word ^ h1, 0x27d4eb2f));
    }
  }
  return (h2 & 0x1fffff) * TWO_32 + h1;
}

/** A generator seeded from (seed, ...salts); see {@link deriveSeed}. */
export function rngFor(seed: number, ...salts: number[]): Rng {
  return createRng(salts.length === 0 ? seed : deriveSeed(seed, ...salts));
}

/** Shuffles `items` in place (Fisher–Yates) with `rng` and returns it. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/** The integers 0..n-1, shuffled with `rng` (or in order when `rng` is undefined). */
export function permutation(n: number, rng?: Rng): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  return rng === undefined ? out : shuffleInPlace(out, rng);
}
