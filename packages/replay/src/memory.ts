// ReplayMemory: per finished task, its replay samples (JSON records) and their stored teacher signals.

import { formatValue, isCount } from "./format.js";
import { checkJson, type JsonValue } from "./json.js";
import { encodedFileSize } from "./layout.js";
import { type AttentionSignal, checkAttentionSignal, checkLogitSignal, type LogitSignal, signalBytes } from "./signals.js";

/** One replay sample: an opaque JSON record plus the teacher signals computed right after its task. */
export interface ReplaySample<T = unknown> {
  /** The sample itself, e.g. {prompt, answer} or token ids. Must be plain JSON (see {@link checkJson}). */
  readonly record: T;
  /** Optional: the sample's index in its task's training set (e.g. from selectReplay). */
  readonly index?: number;
  /** Teacher logits at the answer positions (DER++-style logit distillation, L_logit). */
  readonly logits?: LogitSignal;
  /** Teacher attention rows of the selected heads at the stored query rows (L_seekr). */
  readonly attention?: AttentionSignal;
}

/** What {@link ReplayMemory.addTask} takes. */
export interface TaskMemoryInit<T = unknown> {
  /** Unique, non-empty task id, e.g. "C-STANCE". */
  id: string;
  /** Human-readable name; defaults to the id. */
  name?: string;
  samples: ReadonlyArray<ReplaySample<T>>;
  /** Anything else worth keeping with the task (selection seed, ratio, heads, ...), plain JSON. */
  meta?: JsonValue;
}

/** A task's memory, as held by a {@link ReplayMemory}. */
export interface TaskMemory<T = unknown> {
  readonly id: string;
  readonly name: string;
  /** 0-based order in which the task was added (task k = position + 1). */
  readonly position: number;
  /** Flat index of the task's first sample across the whole memory. */
  readonly offset: number;
  readonly samples: ReadonlyArray<ReplaySample<T>>;
  readonly meta?: JsonValue;
}

/** Summary of one task, from {@link ReplayMemory.tasks}. */
export interface TaskInfo {
  readonly id: string;
  readonly name: string;
  readonly position: number;
  readonly offset: number;
  readonly samples: number;
}

/** A sample with where it lives, from iteration or {@link ReplayMemory.entry}. */
export interface ReplayEntry<T = unknown> {
  /** Flat index across all tasks (tasks in order, samples in order). */
  readonly index: number;
  readonly task: TaskMemory<T>;
  /** Index of the sample within its task. */
  readonly sampleIndex: number;
  readonly sample: ReplaySample<T>;
}

/** Bytes a memory holds, from {@link ReplayMemory.sizeInMemory}. */
export interface MemorySize {
  /** Exact bytes of all typed arrays (logits, indices, logsumexp, query rows, attention rows). */
  readonly typedArrayBytes: number;
  /** Estimate for the records and metadata: UTF-8 bytes of their JSON text. */
  readonly jsonBytes: number;
  readonly totalBytes: number;
}

export interface ReplayMemoryOptions {
  /** Memory-wide metadata (model name, head selection, B_T, ...), plain JSON; saved with the memory. */
  meta?: JsonValue;
}

/**
 * The replay memory of a continual-learning run: one entry per finished task, holding its selected
 * samples and their teacher signals (computed with θ_k right after task k, so no old model is kept).
 *
 * ```ts
 * const memory = new ReplayMemory<{ prompt: string; answer: string }>();
 * memory.addTask({ id: "FOMC", samples: picked.map((i) => ({ record: train[i], index: i, logits, attention })) });
 * for (const { task, sample } of memory) ...
 * ```
 */
export class ReplayMemory<T = unknown> implements Iterable<ReplayEntry<T>> {
  readonly meta: JsonValue | undefined;
  private readonly list: TaskMemory<T>[] = [];
  private readonly byId = new Map<string, TaskMemory<T>>();
  private total = 0;

  constructor(options: ReplayMemoryOptions = {}) {
    if (options.meta !== undefined) checkJson(options.meta, "meta");
    this.meta = options.meta;
  }

  /**
   * Adds a finished task's memory (after the previous tasks). Validates everything up front and
   * throws an Error naming the offending field, e.g. `samples[2].attention.rows: expected 600
   * elements, got 599`. The sample list is copied; records and typed arrays are kept by reference.
   */
  addTask(init: TaskMemoryInit<T>): TaskMemory<T> {
    if (typeof init !== "object" || init === null) throw new Error(`task: expected {id, samples}, got ${formatValue(init)}`);
    const { id, samples } = init;
    if (typeof id !== "string" || id.length === 0) throw new Error(`id: expected a non-empty string, got ${formatValue(id)}`);
    if (this.byId.has(id)) throw new Error(`id: task ${formatValue(id)} is already in memory`);
    const name = init.name ?? id;
    if (typeof name !== "string") throw new Error(`name: expected a string, got ${formatValue(name)}`);
    if (!Array.isArray(samples)) throw new Error(`samples: expected an array, got ${formatValue(samples)}`);
    if (init.meta !== undefined) checkJson(init.meta, "meta");
    const copied: ReplaySample<T>[] = samples.map((sample: ReplaySample<T>, i) => {
      const field = `samples[${i}]`;
      if (typeof sample !== "object" || sample === null) throw new Error(`${field}: expected {record, ...}, got ${formatValue(sample)}`);
      if (!("record" in sample)) throw new Error(`${field}.record: missing`);
      checkJson(sample.record, `${field}.record`);
      if (sample.index !== undefined && !isCount(sample.index)) {
        throw new Error(`${field}.index: expected a non-negative integer, got ${formatValue(sample.index)}`);
      }
      if (sample.logits !== undefined) checkLogitSignal(sample.logits, `${field}.logits`);
      if (sample.attention !== undefined) checkAttentionSignal(sample.attention, `${field}.attention`);
      const out: { -readonly [K in keyof ReplaySample<T>]: ReplaySample<T>[K] } = { record: sample.record };
      if (sample.index !== undefined) out.index = sample.index;
      if (sample.logits !== undefined) out.logits = sample.logits;
      if (sample.attention !== undefined) out.attention = sample.attention;
      return out;
    });
    const task: TaskMemory<T> = {
      id,
      name,
      position: this.list.length,
      offset: this.total,
      samples: copied,
      ...(init.meta === undefined ? {} : { meta: init.meta }),
    };
    this.list.push(task);
    this.byId.set(id, task);
    this.total += copied.length;
    return task;
  }

  /** Number of tasks in memory. */
  get taskCount(): number {
    return this.list.length;
  }

  /** Number of samples across all tasks. */
  get sampleCount(): number {
    return this.total;
  }

  /** The tasks in the order they were added. */
  tasks(): TaskInfo[] {
    return this.list.map(({ id, name, position, offset, samples }) => ({ id, name, position, offset, samples: samples.length }));
  }

  /** A task by id or by 0-based position; undefined if there is none. */
  task(idOrPosition: string | number): TaskMemory<T> | undefined {
    return typeof idOrPosition === "string" ? this.byId.get(idOrPosition) : this.list[idOrPosition];
  }

  /** The sample at a flat index in [0, sampleCount) (tasks in order, then samples in order). */
  entry(index: number): ReplayEntry<T> {
    if (!isCount(index) || index >= this.total) {
      throw new Error(`index: expected an integer in [0, sampleCount = ${this.total}), got ${formatValue(index)}`);
    }
    // Binary search for the last task whose offset <= index (empty tasks share offsets).
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.list[mid] as TaskMemory<T>).offset <= index) lo = mid;
      else hi = mid - 1;
    }
    const task = this.list[lo] as TaskMemory<T>;
    const sampleIndex = index - task.offset;
    return { index, task, sampleIndex, sample: task.samples[sampleIndex] as ReplaySample<T> };
  }

  /** Every sample with its task, tasks in order, then samples in order. */
  *entries(): IterableIterator<ReplayEntry<T>> {
    for (const task of this.list) {
      for (let i = 0; i < task.samples.length; i++) {
        yield { index: task.offset + i, task, sampleIndex: i, sample: task.samples[i] as ReplaySample<T> };
      }
    }
  }

  [Symbol.iterator](): IterableIterator<ReplayEntry<T>> {
    return this.entries();
  }

  /** Bytes held: exact for typed arrays, an estimate (UTF-8 JSON length) for records and metadata. */
  sizeInMemory(): MemorySize {
    let typedArrayBytes = 0;
    let jsonBytes = this.meta === undefined ? 0 : jsonLength(this.meta);
    for (const task of this.list) {
      jsonBytes += jsonLength(task.id) + jsonLength(task.name) + (task.meta === undefined ? 0 : jsonLength(task.meta));
      for (const sample of task.samples) {
        typedArrayBytes += signalBytes(sample.logits) + signalBytes(sample.attention);
        jsonBytes += jsonLength(sample.record);
      }
    }
    return { typedArrayBytes, jsonBytes, totalBytes: typedArrayBytes + jsonBytes };
  }

  /** Exact size in bytes of the file {@link saveMemory} writes for this memory. */
  sizeOnDisk(): number {
    return encodedFileSize(this);
  }
}

function jsonLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
}
