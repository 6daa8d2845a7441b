// The replay memory of one method run: the seeded per-task sample choice shared by every replay method, and decoded teacher caches.

import { attentionRows, denseTeacherProbs, type JsonValue, ReplayMemory, type ReplaySample, selectReplay } from "@seekr/replay";
import type { Example, TaskData } from "../data/types.js";
import { deriveSeed } from "../tasks/rng.js";

/** The seed of task `name`'s replay choice: the same for every replay method of a run (given its seed). */
export function replaySeed(runSeed: number, taskName: string): number {
  return deriveSeed(runSeed, "replay", taskName);
}

/**
 * Which training samples of a task enter replay memory: `Math.round(ratio · n)` (at least 1) indices drawn
 * with the run's seed, so Replay, DER++ and SEEKR at the same ratio keep the same samples.
 */
export function pickReplay(task: TaskData, ratio: number, runSeed: number): number[] {
  return selectReplay(task.train.length, { ratio, seed: replaySeed(runSeed, task.name) });
}

/** A method's replay memory plus decoded teacher signals (decoded once per sample). */
export class ReplayStore {
  memory: ReplayMemory<Example>;
  private readonly probs = new WeakMap<object, Float32Array>();
  private readonly rows = new WeakMap<object, { data: Float32Array; index: Map<number, number> }>();

  constructor(
    readonly ratio: number,
    readonly runSeed: number,
    meta?: JsonValue,
  ) {
    this.memory = new ReplayMemory<Example>(meta === undefined ? {} : { meta });
  }

  pick(task: TaskData): number[] {
    return pickReplay(task, this.ratio, this.runSeed);
  }

  add(task: TaskData, samples: ReplaySample<Example>[], meta?: JsonValue): void {
    this.memory.addTask({ id: task.name, samples, ...(meta === undefined ? {} : { meta }) });
  }

  /** Dense teacher probabilities [positions × vocab] of a sample's stored logits. */
  teacherProbs(sample: ReplaySample<Example>): Float32Array {
    let p = this.probs.get(sample);
    if (p === undefined) {
      if (!sample.logits) throw new Error("replay sample has no stored teacher logits");
      p = denseTeacherProbs(sample.logits, "renormalize");
      this.probs.set(sample, p);
    }
    return p;
  }

  /** Decoded attention rows [heads × rows × keys] of a sample and the position of each (layer, head) in them. */
  teacherRows(sample: ReplaySample<Example>): { data: Float32Array; index: Map<number, number> } {
    let r = this.rows.get(sample);
    if (r === undefined) {
      if (!sample.attention) throw new Error("replay sample has no stored teacher attention");
      const index = new Map<number, number>();
      sample.attention.heads.forEach(([l, h], i) => index.set(headKey(l, h), i));
      r = { data: normalizedRows(attentionRows(sample.attention), sample.attention.keyLength), index };
      this.rows.set(sample, r);
    }
    return r;
  }
}

/**
 * Rescales every row of `keyLength` probabilities to sum to 1 (in place; sums in float64). Teacher rows are
 * stored in bf16/f16, which rounds each probability: a decoded row sums to 1 ± ~1e-3, and with such a teacher
 * KL(p_t ‖ p_s) = Σ p_t log(p_t / p_s) can go below zero and the kernel's gradient p_s − p_t is no longer the
 * KL's. A row of zeros (never stored) is left alone.
 */
export function normalizedRows(data: Float32Array, keyLength: number): Float32Array {
  if (keyLength <= 0) return data;
  for (let o = 0; o + keyLength <= data.length; o += keyLength) {
    let sum = 0;
    for (let k = o; k < o + keyLength; k++) sum += data[k]!;
    if (sum > 0) for (let k = o; k < o + keyLength; k++) data[k] = data[k]! / sum;
  }
  return data;
}

/** A numeric key of a (layer, head) pair. */
export function headKey(layer: number, head: number): number {
  return layer * 65536 + head;
}
