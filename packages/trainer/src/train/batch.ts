// Training batches: examples encoded with answer-only labels, right-padded into tensors, with each row's origin.

import { encodeExample, type EncodedExample, padBatch, type PromptTemplate, type Tokenizer } from "@seekr/model";
import type { ReplayEntry } from "@seekr/replay";
import type { DeviceLike, Tensor } from "@seekr/tensor";
import type { Example } from "../data/types.js";

/** One row of a batch: the example, its encoding and where it came from. */
export interface BatchRow {
  source: "new" | "replay";
  example: Example;
  encoded: EncodedExample;
  /** The memory entry for replay rows (teacher signals live in `entry.sample`). */
  entry: ReplayEntry<Example> | null;
}

/** A right-padded batch; every tensor is owned by the enclosing `tidy`. */
export interface TrainBatch {
  rows: BatchRow[];
  /** int32 [B, T] */
  ids: Tensor;
  /** int32 [B, T], 1 = real token */
  attentionMask: Tensor;
  /** int32 [B, T], −100 on prompt and padding */
  labels: Tensor;
  /** T */
  seqLen: number;
}

/** Encodes examples with a template and a length cap, memoised per example object. */
export class ExampleEncoder {
  private readonly cache = new WeakMap<Example, EncodedExample>();
  constructor(
    readonly tokenizer: Tokenizer,
    readonly template: PromptTemplate,
    readonly maxLength: number,
  ) {}

  encode(example: Example): EncodedExample {
    let e = this.cache.get(example);
    if (e === undefined) {
      e = encodeExample(this.tokenizer, example, { template: this.template, maxLength: this.maxLength });
      this.cache.set(example, e);
    }
    return e;
  }
}

/** Pads rows into tensors on `device` (the model's; default cpu). Call inside `tidy`. */
export function makeBatch(rows: BatchRow[], padId: number, device?: DeviceLike): TrainBatch {
  if (rows.length === 0) throw new Error("makeBatch: a batch needs at least one row");
  const b = padBatch(
    rows.map((r) => r.encoded.ids),
    { labels: rows.map((r) => r.encoded.labels), padId, side: "right", ...(device !== undefined ? { device } : {}) },
  );
  return { rows, ids: b.ids, attentionMask: b.attentionMask, labels: b.labels!, seqLen: b.seqLen };
}

/**
 * The logit positions that predict answer tokens (Hugging Face shift: logits[t] predicts ids[t + 1]):
 * t = promptLength − 1 … length − 2. Their count is the number of answer tokens (EOS included).
 */
export function answerPositions(encoded: EncodedExample): number[] {
  const out: number[] = [];
  for (let t = Math.max(0, encoded.promptLength - 1); t + 1 < encoded.ids.length; t++) {
    if (encoded.labels[t + 1] !== -100) out.push(t);
  }
  return out;
}

/** Flat indices b·T + t of the answer positions of the given rows (rows in batch order). */
export function flatAnswerPositions(batch: TrainBatch, rowIndices: readonly number[]): { flat: number[]; perRow: number[] } {
  const flat: number[] = [];
  const perRow: number[] = [];
  for (const b of rowIndices) {
    const pos = answerPositions(batch.rows[b]!.encoded);
    perRow.push(pos.length);
    for (const t of pos) flat.push(b * batch.seqLen + t);
  }
  return { flat, perRow };
}
