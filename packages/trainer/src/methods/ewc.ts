// EWC: a diagonal Fisher from squared per-sample gradients on each task's data; penalty λ/2 Σ F (θ − θ*)².

import { type Tensor, add, mul, mulScalar, noGrad, square, sub, sum, tidy, zerosLike } from "@seekr/tensor";
import { createRng, deriveSeed, shuffled } from "../tasks/rng.js";
import { makeBatch } from "../train/batch.js";
import { copyParameters, onDevice, prefixed, withPrefix } from "./params.js";
import type { LossResult, Method, MethodEnv, MethodState } from "./types.js";

/**
 * Elastic weight consolidation (online form): after task k, F_k = mean over `ewc.samples` training samples
 * (seeded choice) of the squared gradient of the sample's LM loss at θ_k; F = Σ_k F_k; θ* = θ_k.
 * While learning later tasks: L = L_task + λ/2 · Σ F (θ − θ*)².
 */
export function createEWC(env: MethodEnv): Method {
  const { lambda, samples } = env.method.ewc;
  let fisher: Map<string, Tensor> | null = null;
  let anchor: Map<string, Tensor> | null = null;
  const free = (m: Map<string, Tensor> | null): void => m?.forEach((t) => t.dispose());

  const penalty = (): Tensor => {
    let total: Tensor | null = null;
    for (const [name, p] of env.model.parameters()) {
      const term = sum(mul(fisher!.get(name)!, square(sub(p, anchor!.get(name)!))));
      total = total ? add(total, term) : term;
    }
    return total!;
  };

  return {
    kind: env.method.name,
    label: env.method.label,
    memory: null,
    mixMode: env.method.interleave,
    batchLoss(batch): LossResult {
      const task = env.model.forward(batch.ids, { attentionMask: batch.attentionMask, labels: batch.labels, returnLogits: false }).loss!;
      if (!fisher || lambda === 0) return { loss: task, parts: { task } };
      const pen = penalty();
      return { loss: add(task, mulScalar(pen, lambda / 2)), parts: { task, ewc: pen } };
    },
    afterTask({ task, model, encoder, padId }) {
      const order = shuffled(
        task.train.map((_, i) => i),
        createRng(deriveSeed(env.run.seed, "ewc", task.name)),
      ).slice(0, Math.min(samples, task.train.length));
      const params = model.parameters();
      const acc = new Map<string, Tensor>();
      for (const [name, p] of params) acc.set(name, noGrad(() => zerosLike(p).keep()));
      for (const i of order) {
        tidy(() => {
          const b = makeBatch([{ source: "new", example: task.train[i]!, encoded: encoder.encode(task.train[i]!), entry: null }], padId, model.device);
          const loss = model.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels, returnLogits: false }).loss!;
          loss.backward();
          noGrad(() => {
            for (const [name, p] of params) {
              if (!p.grad) continue;
              const next = add(acc.get(name)!, square(p.grad)).keep();
              acc.get(name)!.dispose();
              acc.set(name, next);
            }
          });
        });
        for (const p of params.values()) {
          p.grad?.dispose();
          p.grad = null;
        }
      }
      const n = order.length;
      noGrad(() => {
        const next = new Map<string, Tensor>();
        for (const [name, f] of acc) {
          const mean = mulScalar(f, 1 / n);
          next.set(name, (fisher ? add(fisher.get(name)!, mean) : mean).keep());
          if (fisher) mean.dispose();
        }
        free(acc);
        free(fisher);
        fisher = next;
      });
      free(anchor);
      anchor = copyParameters(model);
    },
    saveState(): MethodState {
      const tensors = new Map<string, Tensor>();
      if (fisher && anchor) {
        for (const [k, v] of prefixed("fisher.", fisher)) tensors.set(k, v);
        for (const [k, v] of prefixed("anchor.", anchor)) tensors.set(k, v);
      }
      return { json: { consolidated: fisher !== null }, tensors, memory: null };
    },
    loadState(s) {
      free(fisher);
      free(anchor);
      fisher = anchor = null;
      if ((s.json as { consolidated?: boolean } | null)?.consolidated) {
        fisher = onDevice(withPrefix("fisher.", s.tensors), env.model.device);
        anchor = onDevice(withPrefix("anchor.", s.tensors), env.model.device);
        for (const t of [...fisher.values(), ...anchor.values()]) t.keep();
      }
    },
    dispose() {
      free(fisher);
      free(anchor);
      fisher = anchor = null;
    },
  };
}

