// Replay sample selection per finished task (SEEKR §6): seeded uniform sampling and reservoir sampling.

import { createRng, type Rng, sampleDistinct } from "@seekr/budget";
import { checkCount, checkSeed, formatValue, isCount } from "./format.js";

/** The default replay ratio: 1% of a task's training samples, as in the paper. */
export const DEFAULT_REPLAY_RATIO = 0.01;

const TWO_32 = 4294967296;

/** How {@link selectReplay} draws the samples. */
export type ReplayMethod = "random" | "reservoir";

export interface SelectReplayOptions {
  /** Fraction of the task's samples to keep, in (0, 1]; default 0.01. Exclusive with `count`. */
  ratio?: number;
  /** Exact number of samples to keep, an integer in [0, numSamples]. Exclusive with `ratio`. */
  count?: number;
  /** Seed (a safe integer). The same seed gives the same samples on every platform. */
  seed: number;
  /** "random" (default): uniform without replacement; "reservoir": Algorithm R over the stream 0..n-1. */
  method?: ReplayMethod;
}

/**
 * The number of samples kept from a task of `numSamples` samples:
 * - `count` given: exactly `count` (must be an integer in [0, numSamples]);
 * - otherwise `Math.round(ratio · numSamples)` (halves round up, computed in float64), at least 1 when
 *   the task is non-empty, with `ratio` in (0, 1] (default 0.01).
 */
export function replayCount(numSamples: number, options: Pick<SelectReplayOptions, "ratio" | "count"> = {}): number {
  const n = checkCount(numSamples, "numSamples");
  const { ratio, count } = options;
  if (ratio !== undefined && count !== undefined) {
    throw new Error(`ratio/count: give one of them, not both (ratio ${formatValue(ratio)}, count ${formatValue(count)})`);
  }
  if (count !== undefined) {
    if (!isCount(count) || count > n) {
      throw new Error(`count: expected an integer in [0, numSamples = ${n}], got ${formatValue(count)}`);
    }
    return count + 0;
  }
  const r = ratio ?? DEFAULT_REPLAY_RATIO;
  if (typeof r !== "number" || !(r > 0 && r <= 1)) {
    throw new Error(`ratio: expected a number in (0, 1], got ${formatValue(r)}`);
  }
  if (n === 0) return 0;
  return Math.min(n, Math.max(1, Math.round(r * n)));
}

/**
 * Chooses which of a finished task's `numSamples` training samples go into replay memory. Returns
 * the sorted, distinct indices, exactly {@link replayCount} of them. Deterministic under `seed`, so every
 * replay-based method (Replay, DER++, SEEKR) run with the same seed sees the same samples.
 *
 * Errors name the field and the value: `ratio: expected a number in (0, 1], got 0`.
 */
export function selectReplay(numSamples: number, options: SelectReplayOptions): number[] {
  if (typeof options !== "object" || options === null) {
    throw new Error(`options: expected {seed, ratio? | count?, method?}, got ${formatValue(options)}`);
  }
  const k = replayCount(numSamples, options);
  const seed = checkSeed(options.seed);
  const method = options.method ?? "random";
  if (method === "random") return sampleDistinct(numSamples, k, createRng(seed));
  if (method === "reservoir") {
    const sampler = new ReservoirSampler<number>(k, seed);
    for (let i = 0; i < numSamples; i++) sampler.offer(i);
    return sampler.samples();
  }
  throw new Error(`method: expected "random" or "reservoir", got ${formatValue(method)}`);
}

/**
 * Reservoir sampling (Vitter's Algorithm R) over a stream of unknown length: after n offers it holds
 * min(n, capacity) items, each of the n offered items kept with probability capacity / n. Seeded and
 * deterministic. {@link samples} returns the kept items in the order they were offered.
 *
 * ```ts
 * const r = new ReservoirSampler<Example>(100, 1234);
 * for (const example of stream) r.offer(example);
 * r.samples(); // 100 examples (or all of them if fewer were offered)
 * ```
 */
export class ReservoirSampler<T> {
  readonly capacity: number;
  private readonly rng: Rng;
  private readonly items: T[] = [];
  private readonly offsets: number[] = [];
  private offered = 0;

  constructor(capacity: number, seed: number | Rng) {
    this.capacity = checkCount(capacity, "capacity");
    this.rng = seed !== null && typeof seed === "object" ? seed : createRng(checkSeed(seed));
  }

  /** Number of items offered so far. */
  get seen(): number {
    return this.offered;
  }

  /** Number of items held (min(seen, capacity)). */
  get size(): number {
    return this.items.length;
  }

  /** Offers the next item of the stream; returns true if it entered the reservoir. */
  offer(item: T): boolean {
    const i = this.offered;
    if (i >= TWO_32) throw new Error(`offer: streams longer than 2^32 items are not supported`);
    this.offered++;
    if (i < this.capacity) {
      this.items.push(item);
      this.offsets.push(i);
      return true;
    }
    const j = this.rng.int(i + 1);
    if (j < this.capacity) {
      this.items[j] = item;
      this.offsets[j] = i;
      return true;
    }
    return false;
  }

  /** The kept items, in stream order. */
  samples(): T[] {
    return this.order().map((slot) => this.items[slot] as T);
  }

  /** The stream positions (0-based offer numbers) of the kept items, ascending. */
  positions(): number[] {
    return this.order().map((slot) => this.offsets[slot] as number);
  }

  private order(): number[] {
    const slots = Array.from({ length: this.items.length }, (_, s) => s);
    return slots.sort((a, b) => (this.offsets[a] as number) - (this.offsets[b] as number));
  }
}
