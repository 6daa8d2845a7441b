// LwF: distil the previous model's logits on the new task's data (temperature T), keeping a frozen copy of θ_{i−1}.

import { LlamaModel } from "@seekr/model";
import { add, mulScalar, noGrad } from "@seekr/tensor";
import { flatAnswerPositions } from "../train/batch.js";
import { gatherPositions, klToTeacher, probsAt } from "../train/losses.js";
import { frozenCopy } from "./params.js";
import type { LossResult, Method, MethodEnv, MethodState } from "./types.js";

/**
 * Learning without Forgetting: L = L_task + α · T² · KL(softmax(z_old / T) ‖ softmax(z / T)) on the answer
 * positions of the new task's batches, z_old from a frozen copy of the model as it was after the previous task.
 */
export function createLwF(env: MethodEnv): Method {
  const { temperature: T, alpha } = env.method.lwf;
  let previous: LlamaModel | null = null;
  return {
    kind: env.method.name,
    label: env.method.label,
    memory: null,
    mixMode: env.method.interleave,
    batchLoss(batch): LossResult {
      const r = env.model.forward(batch.ids, { attentionMask: batch.attentionMask, labels: batch.labels, returnLogits: previous !== null });
      const task = r.loss!;
      if (!previous || alpha === 0) return { loss: task, parts: { task } };
      const rows = batch.rows.map((_, i) => i);
      const { flat } = flatAnswerPositions(batch, rows);
      const teacher = noGrad(() => {
        const old = previous!.forward(batch.ids, { attentionMask: batch.attentionMask });
        return probsAt(gatherPositions(old.logits!, flat), T);
      });
      const kl = klToTeacher(gatherPositions(r.logits!, flat), teacher, T);
      const lwf = mulScalar(kl, alpha * T * T);
      return { loss: add(task, lwf), parts: { task, lwf: kl } };
    },
    afterTask({ model }) {
      previous?.dispose();
      previous = frozenCopy(model);
    },
    saveState(): MethodState {
      return { json: { previous: previous !== null }, tensors: previous ? previous.parameters() : new Map(), memory: null };
    },
    loadState(s) {
      previous?.dispose();
      previous = null;
      if ((s.json as { previous?: boolean } | null)?.previous) previous = new LlamaModel(env.model.config, s.tensors).to(env.model.device);
    },
    dispose() {
      previous?.dispose();
      previous = null;
    },
  };
}
