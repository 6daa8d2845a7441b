// Batching token sequences: left or right padding, attention masks, padded labels, batch encoding of texts.
import type { DeviceLike, Tensor } from "@seekr/tensor";
import { mirroredTensor } from "./host.js";
import type { EncodeOptions, Tokenizer } from "./tokenizer.js";

export type PaddingSide = "left" | "right";

export interface PadOptions {
  /** Id written into padded positions (masked out anyway). Default 0. */
  padId?: number;
  /** "right" (default, training) or "left" (generation: every row's last position is a real token). */
  side?: PaddingSide;
  /** Per-row labels to pad alongside (with -100). */
  labels?: readonly (readonly number[])[];
  /** Truncate rows longer than this (keeping their end when side is "left", their start when "right"). */
  maxLength?: number;
  /** Pad the time axis up to a multiple of this. */
  padToMultipleOf?: number;
  /** Device of the tensors (default "cpu"): the model's (`model.device`), which forward requires. */
  device?: DeviceLike;
}

/** A padded batch on the host and as tensors. */
export interface PaddedBatch {
  /** int32 [B, T] */
  ids: Tensor;
  /** int32 [B, T]: 1 real, 0 padding */
  attentionMask: Tensor;
  /** int32 [B, T] with -100 in padded positions (when labels were given) */
  labels: Tensor | null;
  /** Real tokens per row. */
  lengths: number[];
  batchSize: number;
  seqLen: number;
}

/** Host arrays of a padded batch (row-major [B, T]); `padBatch` wraps them in tensors. */
export function padArrays(seqs: readonly (readonly number[])[], opts: PadOptions = {}): {
  ids: Int32Array; mask: Int32Array; labels: Int32Array | null; lengths: number[]; B: number; T: number;
} {
  if (!Array.isArray(seqs) || seqs.length === 0) throw new Error("padBatch: needs at least one sequence");
  const side = opts.side ?? "right";
  if (side !== "left" && side !== "right") throw new Error(`padBatch: side must be "left" or "right", got ${JSON.stringify(side)}`);
  const padId = opts.padId ?? 0;
  if (!Number.isInteger(padId)) throw new Error(`padBatch: padId must be an integer, got ${padId}`);
  if (opts.labels && opts.labels.length !== seqs.length) throw new Error(`padBatch: ${opts.labels.length} label rows for ${seqs.length} sequences`);
  const max = opts.maxLength;
  if (max !== undefined && (!Number.isInteger(max) || max <= 0)) throw new Error(`padBatch: maxLength must be a positive integer, got ${max}`);
  const cut = <T>(row: readonly T[]): readonly T[] => (max === undefined || row.length <= max ? row : side === "left" ? row.slice(row.length - max) : row.slice(0, max));
  const rows = seqs.map((s, i) => {
    if (!Array.isArray(s)) throw new Error(`padBatch: sequence ${i} is not an array`);
    const l = opts.labels?.[i];
    if (l && l.length !== s.length) throw new Error(`padBatch: labels[${i}] has ${l.length} entries, sequence ${i} has ${s.length}`);
    return { ids: cut(s), labels: l ? cut(l) : null };
  });
  let T = Math.max(1, ...rows.map((r) => r.ids.length));
  const m = opts.padToMultipleOf;
  if (m !== undefined) {
    if (!Number.isInteger(m) || m <= 0) throw new Error(`padBatch: padToMultipleOf must be a positive integer, got ${m}`);
    T = Math.ceil(T / m) * m;
  }
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  const labels = opts.labels ? new Int32Array(B * T).fill(-100) : null;
  const lengths: number[] = [];
  rows.forEach((r, b) => {
    const n = r.ids.length;
    const off = side === "left" ? T - n : 0;
    for (let t = 0; t < n; t++) {
      const id = r.ids[t]!;
      if (!Number.isInteger(id)) throw new Error(`padBatch: sequence ${b} has a non-integer id ${id} at ${t}`);
      ids[b * T + off + t] = id;
      mask[b * T + off + t] = 1;
      if (labels) labels[b * T + off + t] = r.labels![t]!;
    }
    lengths.push(n);
  });
  return { ids, mask, labels, lengths, B, T };
}

/**
 * Pads sequences to one length: ids, attention mask and (optionally) labels as int32 [B, T] tensors on `device`.
 * The tensors keep their host values for the model, so forward reads them without a device round trip.
 */
export function padBatch(seqs: readonly (readonly number[])[], opts: PadOptions = {}): PaddedBatch {
  const a = padArrays(seqs, opts);
  const o = { shape: [a.B, a.T], ...(opts.device !== undefined ? { device: opts.device } : {}) };
  return {
    ids: mirroredTensor(a.ids, o),
    attentionMask: mirroredTensor(a.mask, o),
    labels: a.labels ? mirroredTensor(a.labels, o) : null,
    lengths: a.lengths,
    batchSize: a.B,
    seqLen: a.T,
  };
}

/** Encodes texts and pads them (padId defaults to the tokenizer's PAD, else its EOS, else 0). */
export function encodeBatch(
  tokenizer: Tokenizer,
  texts: readonly string[],
  opts: EncodeOptions & Omit<PadOptions, "labels"> = {},
): PaddedBatch {
  const seqs = texts.map((t) => tokenizer.encode(t, { addBos: opts.addBos, addEos: opts.addEos }));
  return padBatch(seqs, { ...opts, padId: opts.padId ?? tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0 });
}
