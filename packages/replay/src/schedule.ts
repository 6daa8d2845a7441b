// Batch scheduling: replay batches interleaved evenly with new-task batches, concatenated and shuffled, or one
// replay batch after every new batch (experience replay as in Mammoth / Avalanche).

import { checkCount, checkPositive, checkSeed, formatValue } from "./format.js";
import { permutation, rngFor } from "./random.js";

/** Where a batch or a sample comes from: the task being learned, or replay memory. */
export type Source = "new" | "replay";

/** One slot of an interleaved plan: the `index`-th batch of `source`. */
export interface BatchSlot {
  readonly source: Source;
  readonly index: number;
}

export interface InterleaveOptions {
  /** When given, the order of the batches within each source is shuffled with this seed. */
  seed?: number;
}

/**
 * Number of replay batches among the first `m` slots of a plan with `newBatches` + `replayBatches`
 * slots: round(m · r / N) with halves rounded up, i.e. floor((2·m·r + N) / (2·N)).
 */
export function replayBatchesBefore(m: number, newBatches: number, replayBatches: number): number {
  const total = newBatches + replayBatches;
  if (total === 0) return 0;
  return Math.floor((2 * m * replayBatches + total) / (2 * total));
}

/**
 * Interleaves `replayBatches` replay batches evenly among `newBatches` new-task batches, in proportion
 * to their counts. With N = new + replay, the m-th slot (1-based) is a replay batch exactly when
 * round(m·r/N) > round((m−1)·r/N) (halves up), so after every prefix of m slots the number of replay
 * batches is round(m·r/N): within half a batch of the exact proportion, and replay batches sit in the
 * middle of their share rather than at its edges.
 *
 * Example: 8 new, 3 replay → N R N N N R N N N R N.
 *
 * Batches of each source appear exactly once, in order 0, 1, 2, ... or, when `seed` is given, in an
 * order shuffled with that seed (new and replay shuffled independently).
 */
export function interleave(newBatches: number, replayBatches: number, options: InterleaveOptions = {}): BatchSlot[] {
  const n = checkCount(newBatches, "newBatches");
  const r = checkCount(replayBatches, "replayBatches");
  const seed = options.seed === undefined ? undefined : checkSeed(options.seed);
  const newOrder = permutation(n, seed === undefined ? undefined : rngFor(seed, 0));
  const replayOrder = permutation(r, seed === undefined ? undefined : rngFor(seed, 1));
  const plan: BatchSlot[] = [];
  let usedNew = 0;
  let usedReplay = 0;
  for (let m = 1; m <= n + r; m++) {
    if (replayBatchesBefore(m, n, r) > usedReplay) plan.push({ source: "replay", index: replayOrder[usedReplay++] as number });
    else plan.push({ source: "new", index: newOrder[usedNew++] as number });
  }
  return plan;
}

/** A sample in a batch: index into the new task's data, or flat index into replay memory. */
export interface SampleRef {
  readonly source: Source;
  /** For "new": index in the new task's training data; for "replay": flat index in the memory (see ReplayMemory.entry). */
  readonly index: number;
}

/** One training step's batch. */
export interface PlannedBatch {
  /** "new" or "replay" in interleave and every-batch modes; "mixed" in concatenate mode (may hold both). */
  readonly source: Source | "mixed";
  readonly samples: readonly SampleRef[];
}

/** One epoch's batches, in training order. */
export interface EpochPlan {
  readonly epoch: number;
  readonly batches: readonly PlannedBatch[];
  readonly newSamples: number;
  readonly replaySamples: number;
}

/** How replay samples join the new task's data. */
export type MixMode = "interleave" | "concatenate" | "every-batch";

/** The mix modes, in documentation order. */
export const MIX_MODES: readonly MixMode[] = Object.freeze(["interleave", "concatenate", "every-batch"]);

export interface ReplaySchedulerOptions {
  /** Number of training samples of the task being learned. */
  newSamples: number;
  /** The replay memory (its sample count is read once, at construction; any object with `sampleCount`), or a sample count. */
  replay: { readonly sampleCount: number } | number;
  /** Samples per batch (the last batch of each source may be smaller). */
  batchSize: number;
  /** Samples per replay batch in interleave and every-batch modes; default `batchSize`. */
  replayBatchSize?: number;
  /**
   * "interleave" (default): new and replay samples are batched separately and replay batches are
   * spread evenly among new batches ({@link interleave}); every replay sample is seen once per epoch, as
   * in the reference SEEKR code, where the memory joins the task's data. "concatenate" (plain replay):
   * replay samples are appended to the new data and all of them are shuffled together into batches.
   * "every-batch" (experience replay as in Mammoth / Avalanche): every new batch is followed by a replay
   * batch of min(replayBatchSize, memory size) distinct samples, drawn by walking through successive
   * shuffles of the memory, so a small memory is rehearsed at the pace of the new data.
   */
  mode?: MixMode;
  /** Shuffle seed: epoch e uses a generator seeded from (seed, e). */
  seed: number;
  /** Shuffle samples each epoch; default true. With false, samples keep their order (batches still mix in interleave mode). */
  shuffle?: boolean;
}

/**
 * Plans the batches of every epoch while learning a new task with replay. Each epoch holds every new
 * sample and every replay sample (across all past tasks) exactly once — no sample lost or duplicated;
 * the last batch of a source may be partial. Plans depend only on the options and the epoch number.
 *
 * ```ts
 * const scheduler = new ReplayScheduler({ newSamples: train.length, replay: memory, batchSize: 16, seed: 1 });
 * for (const batch of scheduler.plan(epoch).batches) {
 *   const items = batch.samples.map((s) => (s.source === "new" ? train[s.index] : memory.entry(s.index).sample));
 * }
 * ```
 */
export class ReplayScheduler {
  readonly newSamples: number;
  readonly replaySamples: number;
  readonly batchSize: number;
  readonly replayBatchSize: number;
  readonly mode: MixMode;
  readonly seed: number;
  readonly shuffle: boolean;

  constructor(options: ReplaySchedulerOptions) {
    if (typeof options !== "object" || options === null) throw new Error(`options: expected an object, got ${formatValue(options)}`);
    this.newSamples = checkCount(options.newSamples, "newSamples");
    const replay: unknown = options.replay;
    this.replaySamples =
      typeof replay === "object" && replay !== null
        ? checkCount((replay as { sampleCount?: unknown }).sampleCount, "replay.sampleCount")
        : checkCount(replay, "replay");
    this.batchSize = checkPositive(options.batchSize, "batchSize");
    this.replayBatchSize = checkPositive(options.replayBatchSize ?? this.batchSize, "replayBatchSize");
    const mode = options.mode ?? "interleave";
    if (!MIX_MODES.includes(mode)) {
      throw new Error(`mode: expected one of ${MIX_MODES.map((m) => JSON.stringify(m)).join(", ")}, got ${formatValue(mode)}`);
    }
    this.mode = mode;
    this.seed = checkSeed(options.seed);
    const shuffle = options.shuffle ?? true;
    if (typeof shuffle !== "boolean") throw new Error(`shuffle: expected a boolean, got ${formatValue(shuffle)}`);
    this.shuffle = shuffle;
  }

  /** Number of batches per epoch. */
  get batchesPerEpoch(): number {
    if (this.mode === "concatenate") return Math.ceil((this.newSamples + this.replaySamples) / this.batchSize);
    if (this.mode === "every-batch") return Math.ceil(this.newSamples / this.batchSize) * (this.replaySamples > 0 ? 2 : 1);
    return Math.ceil(this.newSamples / this.batchSize) + Math.ceil(this.replaySamples / this.replayBatchSize);
  }

  /** The plan of epoch `epoch` (a non-negative integer). */
  plan(epoch: number): EpochPlan {
    const e = checkCount(epoch, "epoch");
    const rng = this.shuffle ? rngFor(this.seed, e) : undefined;
    const base = { epoch: e, newSamples: this.newSamples, replaySamples: this.replaySamples };
    if (this.mode === "concatenate") {
      const all: SampleRef[] = [
        ...Array.from({ length: this.newSamples }, (_, index): SampleRef => ({ source: "new", index })),
        ...Array.from({ length: this.replaySamples }, (_, index): SampleRef => ({ source: "replay", index })),
      ];
      const order = permutation(all.length, rng);
      const batches = chunk(order.map((i) => all[i] as SampleRef), this.batchSize).map(
        (samples): PlannedBatch => ({ source: "mixed", samples }),
      );
      return { ...base, batches };
    }
    const newBatches = chunk(permutation(this.newSamples, rng), this.batchSize).map(
      (ids): PlannedBatch => ({ source: "new", samples: ids.map((index) => ({ source: "new", index })) }),
    );
    if (this.mode === "every-batch") {
      if (this.replaySamples === 0) return { ...base, batches: newBatches };
      const size = Math.min(this.replayBatchSize, this.replaySamples);
      const replayRng = this.shuffle ? rngFor(this.seed, e, 1) : undefined;
      let pool = permutation(this.replaySamples, replayRng);
      let at = 0;
      const batches: PlannedBatch[] = [];
      for (const b of newBatches) {
        batches.push(b);
        const ids = new Set<number>();
        const picked: SampleRef[] = [];
        while (picked.length < size) {
          if (at === pool.length) {
            pool = permutation(this.replaySamples, replayRng);
            at = 0;
          }
          const index = pool[at++] as number;
          if (ids.has(index)) continue; // a sample already in this batch (across a reshuffle): take the next
          ids.add(index);
          picked.push({ source: "replay", index });
        }
        batches.push({ source: "replay", samples: picked });
      }
      return { ...base, batches };
    }
    const replayBatches = chunk(permutation(this.replaySamples, rng), this.replayBatchSize).map(
      (ids): PlannedBatch => ({ source: "replay", samples: ids.map((index) => ({ source: "replay", index })) }),
    );
    const batches = interleave(newBatches.length, replayBatches.length).map(
      (slot) => (slot.source === "new" ? newBatches[slot.index] : replayBatches[slot.index]) as PlannedBatch,
    );
    return { ...base, batches };
  }

  /** Plans of epochs 0 .. count−1. */
  *epochs(count: number): IterableIterator<EpochPlan> {
    const n = checkCount(count, "count");
    for (let e = 0; e < n; e++) yield this.plan(e);
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
