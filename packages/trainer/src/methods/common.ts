// Loss pieces shared by the built-in methods: the LM loss, splitting mixed batches, replay terms with stored teacher logits.

import type { LayerDistill } from "@seekr/model";
import type { Tensor } from "@seekr/tensor";
import { type BatchRow, flatAnswerPositions, makeBatch, type TrainBatch } from "../train/batch.js";
import { gatherPositions, klToTeacher } from "../train/losses.js";
import type { ReplayStore } from "./replay-store.js";
import type { MethodEnv } from "./types.js";

/** Mean next-token cross-entropy on the batch's answer tokens. */
export function lmLoss(env: MethodEnv, batch: TrainBatch): Tensor {
  const r = env.model.forward(batch.ids, { attentionMask: batch.attentionMask, labels: batch.labels, returnLogits: false });
  return r.loss!;
}

/** The new-task rows and the replay rows of a batch as separate batches (null when a side is empty). */
export function splitBySource(env: MethodEnv, batch: TrainBatch): { fresh: TrainBatch | null; replay: TrainBatch | null } {
  const fresh: BatchRow[] = [];
  const replay: BatchRow[] = [];
  for (const r of batch.rows) (r.source === "new" ? fresh : replay).push(r);
  if (replay.length === 0) return { fresh: batch, replay: null };
  if (fresh.length === 0) return { fresh: null, replay: batch };
  return { fresh: makeBatch(fresh, env.padId, env.model.device), replay: makeBatch(replay, env.padId, env.model.device) };
}

/** Replay-batch terms: L_replay (LM loss), L_logit (KL to the stored teacher logits), L_seekr (attention distillation). */
export interface ReplayTerms {
  replay: Tensor;
  logit: Tensor | null;
  seekr: Tensor | null;
}

/**
 * One forward over replay rows: the LM loss, and when asked the logit distillation against each sample's
 * stored teacher (answer positions, temperature 1) and the attention distillation terms.
 */
export function replayTerms(env: MethodEnv, batch: TrainBatch, store: ReplayStore, opts: { logits: boolean; distill?: LayerDistill[] }): ReplayTerms {
  const distill = opts.distill && opts.distill.length > 0 ? opts.distill : undefined;
  const r = env.model.forward(batch.ids, {
    attentionMask: batch.attentionMask,
    labels: batch.labels,
    returnLogits: opts.logits,
    ...(distill ? { distill } : {}),
  });
  let logit: Tensor | null = null;
  if (opts.logits) {
    const rowIdx = batch.rows.map((_, i) => i);
    const { flat, perRow } = flatAnswerPositions(batch, rowIdx);
    const V = env.model.config.vocabSize;
    const teacher = new Float32Array(flat.length * V);
    let off = 0;
    batch.rows.forEach((row, i) => {
      const p = store.teacherProbs(row.entry!.sample);
      if (p.length !== perRow[i]! * V) {
        throw new Error(`replay sample ${row.entry!.index} (task ${row.entry!.task.id}): stored teacher logits cover ${p.length / V} positions, the sample has ${perRow[i]} answer positions`);
      }
      teacher.set(p, off);
      off += p.length;
    });
    logit = klToTeacher(gatherPositions(r.logits!, flat), teacher, 1);
  }
  return { replay: r.loss!, logit, seekr: r.distillLoss };
}
