// Teacher signals stored with replay samples right after task k (θ_k): answer-position logits and attention rows.

import { type LlamaModel, mirroredTensor } from "@seekr/model";
import { type AttentionSignal, attentionSignal, fullLogits, type LogitSignal, type RowDType, topKLogits } from "@seekr/replay";
import { noGrad, tidy } from "@seekr/tensor";
import type { Example } from "../data/types.js";
import { answerPositions, type ExampleEncoder } from "../train/batch.js";

export interface TeacherRequest {
  /** Logits at the answer positions: none, full, or the top-k per position. */
  logits: "none" | "full" | { topk: number };
  /** Attention rows of these (layer, head) pairs at the rows given per sample. */
  attention?: {
    heads: readonly (readonly [number, number])[];
    /** Query rows of sample i (its sequence length given). */
    rows(sampleIndex: number, length: number): number[];
    dtype: RowDType;
  };
}

export interface TeacherSignals {
  logits?: LogitSignal;
  attention?: AttentionSignal;
}

/** "auto" → full for small vocabularies (≤ 4096 ids), top-64 otherwise. */
export function logitStorage(setting: "auto" | "full" | number, vocab: number): "full" | { topk: number } {
  if (setting === "full") return "full";
  if (setting === "auto") return vocab <= 4096 ? "full" : { topk: 64 };
  return setting >= vocab ? "full" : { topk: setting };
}

/** Heads grouped by layer, layers ascending, heads in the given order. */
export function groupHeads(heads: readonly (readonly [number, number])[]): { layer: number; heads: number[] }[] {
  const m = new Map<number, number[]>();
  for (const [l, h] of heads) {
    const list = m.get(l) ?? [];
    list.push(h);
    m.set(l, list);
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([layer, hs]) => ({ layer, heads: hs }));
}

/**
 * Runs the teacher (the model as it is now, θ_k) on each example alone (batch of one, so the signals do not
 * depend on batch composition) and returns the requested signals. Inference only.
 */
export function computeTeacherSignals(model: LlamaModel, encoder: ExampleEncoder, examples: readonly Example[], req: TeacherRequest): TeacherSignals[] {
  const wantLogits = req.logits !== "none";
  // Heads in signal order: grouped by layer (the stored order).
  const groups = req.attention ? groupHeads(req.attention.heads) : [];
  const orderedHeads: [number, number][] = groups.flatMap((g) => g.heads.map((h): [number, number] => [g.layer, h]));
  return examples.map((ex, i) =>
    noGrad(() =>
      tidy(() => {
        const enc = encoder.encode(ex);
        const T = enc.ids.length;
        const ids = mirroredTensor(Int32Array.from(enc.ids), { shape: [1, T], device: model.device });
        const rows = req.attention ? req.attention.rows(i, T) : [];
        const rowsT = groups.length > 0 && rows.length > 0 ? mirroredTensor(Int32Array.from(rows), { shape: [1, rows.length], device: model.device }) : null;
        const r = model.forward(ids, {
          returnLogits: wantLogits,
          ...(rowsT ? { taps: groups.map((g) => ({ layer: g.layer, heads: g.heads, rows: rowsT })) } : {}),
        });
        const out: TeacherSignals = {};
        if (wantLogits) {
          const V = model.config.vocabSize;
          const all = r.logits!.dataSync() as Float32Array;
          const pos = answerPositions(enc);
          const picked = new Float32Array(pos.length * V);
          pos.forEach((t, p) => picked.set(all.subarray(t * V, (t + 1) * V), p * V));
          out.logits = req.logits === "full" ? fullLogits(picked, pos.length, V) : topKLogits(picked, pos.length, V, (req.logits as { topk: number }).topk);
        }
        if (req.attention) {
          const R = rows.length;
          const data = new Float32Array(orderedHeads.length * R * T);
          let off = 0;
          for (const g of groups) {
            if (R === 0) break;
            const tap = r.taps.get(g.layer)!.dataSync() as Float32Array; // [1, heads, R, T]
            data.set(tap, off);
            off += tap.length;
          }
          out.attention = attentionSignal({ queryRows: rows, heads: orderedHeads, keyLength: T, rows: data, dtype: req.attention.dtype });
        }
        return out;
      }),
    ),
  );
}
