// Replay and DER++: a seeded replay memory of each finished task; DER++ adds logit distillation to stored teacher logits.

import type { ReplayMemory, ReplaySample } from "@seekr/replay";
import { add, mulScalar } from "@seekr/tensor";
import type { Example } from "../data/types.js";
import { lmLoss, replayTerms, splitBySource } from "./common.js";
import { ReplayStore } from "./replay-store.js";
import { computeTeacherSignals, logitStorage } from "./teacher.js";
import type { LossResult, Method, MethodEnv, MethodState } from "./types.js";

/**
 * Replay: after each task, keep `replayRatio` of its training samples (seeded: the same samples for every
 * replay method). New batches: L_task; replay batches: L_replay (weight 1, plain rehearsal); "concatenate"
 * mode: one LM loss over mixed batches.
 */
export function createReplay(env: MethodEnv): Method {
  const store = new ReplayStore(env.method.replayRatio, env.run.seed);
  return {
    kind: env.method.name,
    label: env.method.label,
    get memory(): ReplayMemory<Example> {
      return store.memory;
    },
    mixMode: env.method.interleave,
    batchLoss(batch): LossResult {
      const loss = lmLoss(env, batch);
      const src = batch.rows[0]!.source;
      const uniform = batch.rows.every((r) => r.source === src);
      return { loss, parts: uniform && src === "replay" ? { replay: loss } : { task: loss } };
    },
    afterTask({ task }) {
      const picked = store.pick(task);
      store.add(task, picked.map((i) => ({ record: task.train[i]!, index: i })), { ratio: env.method.replayRatio });
    },
    saveState: (): MethodState => ({ json: null, tensors: new Map(), memory: store.memory }),
    loadState(s) {
      if (s.memory) store.memory = s.memory;
    },
  };
}

/**
 * DER++-style replay: memories carry the teacher logits of θ_k at their answer positions (stored right after
 * task k). Replay batches: λ1·L_replay + (1 − λ1)·L_logit (SEEKR spec §3 with λ2 = 0).
 */
export function createDerpp(env: MethodEnv): Method {
  const store = new ReplayStore(env.method.replayRatio, env.run.seed);
  const l1 = env.method.lambda1;
  return {
    kind: env.method.name,
    label: env.method.label,
    get memory(): ReplayMemory<Example> {
      return store.memory;
    },
    mixMode: env.method.interleave,
    batchLoss(batch): LossResult {
      const { fresh, replay } = splitBySource(env, batch);
      const parts: LossResult["parts"] = {};
      let loss = null;
      if (fresh) {
        loss = parts.task = lmLoss(env, fresh);
      }
      if (replay) {
        const t = replayTerms(env, replay, store, { logits: true });
        parts.replay = t.replay;
        parts.logit = t.logit!;
        const r = add(mulScalar(t.replay, l1), mulScalar(t.logit!, 1 - l1));
        loss = loss ? add(loss, r) : r;
      }
      return { loss: loss!, parts };
    },
    afterTask({ task, model, encoder }) {
      const picked = store.pick(task);
      const examples = picked.map((i) => task.train[i]!);
      const signals = computeTeacherSignals(model, encoder, examples, { logits: logitStorage(env.extras.replay.logits, model.config.vocabSize) });
      const samples: ReplaySample<Example>[] = picked.map((i, j) => ({ record: examples[j]!, index: i, logits: signals[j]!.logits! }));
      store.add(task, samples, { ratio: env.method.replayRatio });
    },
    saveState: (): MethodState => ({ json: null, tensors: new Map(), memory: store.memory }),
    loadState(s) {
      if (s.memory) store.memory = s.memory;
    },
  };
}
