// SeqFT: plain sequential fine-tuning on each task's data (the forgetting baseline); also the multitask learner.

import { lmLoss } from "./common.js";
import type { Method, MethodEnv } from "./types.js";

/** Sequential fine-tuning: L = L_task. */
export function createSeqFT(env: MethodEnv): Method {
  return {
    kind: env.method.name,
    label: env.method.label,
    memory: null,
    mixMode: env.method.interleave,
    batchLoss(batch) {
      const loss = lmLoss(env, batch);
      return { loss, parts: { task: loss } };
    },
  };
}
