// Unit tests of the methods on a tiny random model: stored teacher signals reproduce the teacher (zero loss at θ_k),
// move away from it after training, the same replay samples for every replay method, EWC / LwF penalties.

import { ByteTokenizer, LlamaModel, llamaConfig, PLAIN_TEMPLATE } from "@seekr/model";
import { AdamW, memory, noGrad, tensor, tidy, setThreads } from "@seekr/tensor";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config/resolve.js";
import type { MethodConfig, RunConfig } from "../config/types.js";
import type { TaskData } from "../data/types.js";
import { resolveExtras, type RunExtrasInput } from "../run/extras.js";
import { buildBuiltinStream } from "../tasks/registry.js";
import { type BatchRow, ExampleEncoder, makeBatch } from "../train/batch.js";
import { gatherPositions, klToTeacher } from "../train/losses.js";
import { createMethod } from "./registry.js";
import { pickReplay } from "./replay-store.js";
import type { Method, MethodEnv, StepContext } from "./types.js";

setThreads(1); // as the trainer runs by default (src/run/extras.ts)

const tok = new ByteTokenizer();
const modelConfig = llamaConfig({
  vocabSize: tok.vocabSize,
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  maxPositionEmbeddings: 64,
  bosTokenId: tok.bosTokenId,
  eosTokenId: tok.eosTokenId,
  padTokenId: tok.padTokenId,
});
const tasks: TaskData[] = buildBuiltinStream({ seed: 5, tasks: ["reverse", "upper"], sizes: { train: 60, eval: 4, test: 4 } });

function setup(method: Record<string, unknown>, extras: RunExtrasInput = {}): { env: MethodEnv; method: Method; run: RunConfig } {
  const run = resolveConfig({ seed: 9, methods: [method], training: { batchSize: 4, maxLength: 32 } });
  const model = LlamaModel.init(modelConfig, { seed: 2 });
  const env: MethodEnv = {
    model,
    tokenizer: tok,
    encoder: new ExampleEncoder(tok, PLAIN_TEMPLATE, 32),
    padId: tok.padTokenId!,
    tasks,
    run,
    method: run.methods[0] as MethodConfig,
    extras: resolveExtras(extras),
  };
  return { env, method: createMethod(env), run };
}

const ctxOf = (env: MethodEnv, k: number): StepContext => ({ ...env, task: tasks[k]!, taskIndex: k, epoch: 0, step: 0 });

/** A batch of every replay sample in memory. */
function replayRows(method: Method, env: MethodEnv): BatchRow[] {
  return [...method.memory!.entries()].map((entry) => ({ source: "replay", example: entry.sample.record as { prompt: string; answer: string }, encoded: env.encoder.encode(entry.sample.record as { prompt: string; answer: string }), entry }));
}

function lossParts(method: Method, env: MethodEnv, rows: BatchRow[], k = 1): Record<string, number> {
  return tidy(() => {
    const { parts } = method.batchLoss(makeBatch(rows, env.padId), ctxOf(env, k));
    return Object.fromEntries(Object.entries(parts).map(([n, v]) => [n, typeof v === "number" ? v : v.item()]));
  });
}

/** A few optimizer steps on task 1 (moves the model away from the teacher). */
function train(env: MethodEnv, steps = 3): void {
  const opt = new AdamW(env.model.parameterList(), { lr: 1e-2, weightDecay: 0 });
  for (let s = 0; s < steps; s++) {
    tidy(() => {
      const rows: BatchRow[] = tasks[1]!.train.slice(s * 4, s * 4 + 4).map((example) => ({ source: "new", example, encoded: env.encoder.encode(example), entry: null }));
      const b = makeBatch(rows, env.padId);
      env.model.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels, returnLogits: false }).loss!.backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  opt.dispose();
}

describe("SEEKR", () => {
  it("stores teacher rows of every head at B_T query rows; L_seekr and L_logit vanish at θ_k and grow after training", () => {
    const { env, method } = setup({ name: "seekr", replayRatio: 0.1, budget: { layers: 2, heads: 3, queryRows: 5 } }, { replay: { attentionDtype: "f32" } });
    method.beforeTask!(ctxOf(env, 0));
    const report = method.afterTask!(ctxOf(env, 0));
    const mem = method.memory!;
    expect(mem.sampleCount).toBe(6); // round(0.1 · 60)
    for (const e of mem.entries()) {
      expect(e.sample.attention!.heads).toHaveLength(2 * 4); // teacherHeads "all": every head of every layer
      expect(e.sample.attention!.queryRows).toHaveLength(5);
      expect(e.sample.logits!.kind).toBe("full");
    }
    expect(report!.importance!.selected.heads).toHaveLength(3);
    const rows = replayRows(method, env);
    const at = lossParts(method, env, rows);
    // KL(teacher ‖ student) at θ_k: zero up to float32 rounding (the teacher rows went through bf16 and back).
    expect(at.seekr).toBeGreaterThanOrEqual(-1e-7);
    expect(at.seekr).toBeLessThan(1e-5);
    expect(Math.abs(at.logit!)).toBeLessThan(1e-5);
    train(env);
    const after = lossParts(method, env, rows);
    expect(after.seekr).toBeGreaterThan(1e-4);
    expect(after.logit).toBeGreaterThan(1e-3);
    env.model.dispose();
  });

  it("B_T = 0 distils every row (shorter samples padded with a row of zero loss); bf16 rows stay close", () => {
    const { env, method } = setup({ name: "seekr", replayRatio: 0.2, budget: { layers: 2, heads: 8, queryRows: 0 } });
    method.beforeTask!(ctxOf(env, 0));
    method.afterTask!(ctxOf(env, 0));
    const lengths = [...method.memory!.entries()].map((e) => e.sample.attention!.queryRows.length);
    expect(new Set(lengths).size).toBeGreaterThan(1); // rows differ per sample: padding is exercised
    for (const e of method.memory!.entries()) expect(e.sample.attention!.queryRows.length).toBe(e.sample.attention!.keyLength);
    const at = lossParts(method, env, replayRows(method, env));
    expect(at.seekr).toBeLessThan(2e-3); // bf16 teacher rows
    env.model.dispose();
  });

  it("re-selects heads after each task and keeps older memories usable; state round-trips", () => {
    const { env, method } = setup({ name: "seekr", replayRatio: 0.1, budget: { layers: 1, heads: 2, queryRows: 4 } }, { seekr: { teacherHeads: "selected" } });
    method.beforeTask!(ctxOf(env, 0));
    const r0 = method.afterTask!(ctxOf(env, 0))!.importance!;
    method.beforeTask!(ctxOf(env, 1));
    train(env);
    const r1 = method.afterTask!(ctxOf(env, 1))!.importance!;
    expect(r1.selected.heads).toHaveLength(2);
    expect(r1.selected.layers).toHaveLength(1);
    expect(r1.forgettability.flat().some((x) => x > 0)).toBe(true);
    expect(r1.sensitivity.flat().some((x) => x > 0)).toBe(true);
    expect(r0.taskIndex).toBe(0);
    expect(r1.taskIndex).toBe(1);
    // "selected" memories hold only the heads chosen after their own task
    const first = [...method.memory!.entries()][0]!;
    expect(first.sample.attention!.heads).toEqual(r0.selected.heads);
    const parts = lossParts(method, env, replayRows(method, env));
    expect(Number.isFinite(parts.seekr)).toBe(true);
    // save → load into a fresh method on the same model gives the same losses
    const saved = method.saveState!();
    const fresh = createMethod(env);
    fresh.loadState!(saved);
    expect(lossParts(fresh, env, replayRows(fresh, env))).toEqual(parts);
    env.model.dispose();
  });
});

describe("replay methods", () => {
  it("Replay, DER++ and SEEKR keep the same samples (same seed and ratio)", () => {
    const picks = ["replay", "derpp", "seekr"].map((name) => {
      const { env, method } = setup({ name, replayRatio: 0.1, budget: { queryRows: 2 } });
      method.beforeTask?.(ctxOf(env, 0));
      method.afterTask!(ctxOf(env, 0));
      const idx = [...method.memory!.entries()].map((e) => e.sample.index);
      env.model.dispose();
      return idx;
    });
    expect(picks[1]).toEqual(picks[0]);
    expect(picks[2]).toEqual(picks[0]);
    expect(picks[0]).toEqual(pickReplay(tasks[0]!, 0.1, 9));
  });

  it("DER++: λ1·L_replay + (1 − λ1)·L_logit on replay batches, L_logit = 0 at θ_k", () => {
    const { env, method } = setup({ name: "derpp", replayRatio: 0.1, lambda1: 0.3 });
    method.afterTask!(ctxOf(env, 0));
    const rows = replayRows(method, env);
    const total = tidy(() => method.batchLoss(makeBatch(rows, env.padId), ctxOf(env, 1)).loss.item());
    const parts = lossParts(method, env, rows);
    expect(Math.abs(parts.logit!)).toBeLessThan(1e-5);
    expect(total).toBeCloseTo(0.3 * parts.replay! + 0.7 * parts.logit!, 5);
    env.model.dispose();
  });
});

describe("mixed batches (concatenate mode)", () => {
  it("Replay takes one LM loss over a mixed batch; SEEKR splits it by source", () => {
    for (const name of ["replay", "seekr"]) {
      const { env, method } = setup({ name, replayRatio: 0.1, interleave: "concatenate", budget: { queryRows: 3 } });
      expect(method.mixMode).toBe("concatenate");
      method.beforeTask?.(ctxOf(env, 0));
      method.afterTask!(ctxOf(env, 0));
      const fresh: BatchRow[] = tasks[1]!.train.slice(0, 3).map((example) => ({ source: "new", example, encoded: env.encoder.encode(example), entry: null }));
      const parts = lossParts(method, env, [...replayRows(method, env).slice(0, 2), ...fresh]);
      expect(Object.keys(parts).sort()).toEqual(name === "replay" ? ["task"] : ["logit", "replay", "seekr", "task"]);
      env.model.dispose();
    }
  });
});

describe("regularisers", () => {
  it("EWC: no penalty before the first task, zero at θ*, positive after training", () => {
    const { env, method } = setup({ name: "ewc", ewc: { lambda: 10, samples: 8 } });
    const newRows = (): BatchRow[] => tasks[1]!.train.slice(0, 4).map((example) => ({ source: "new", example, encoded: env.encoder.encode(example), entry: null }));
    expect(lossParts(method, env, newRows(), 0).ewc).toBeUndefined();
    method.afterTask!(ctxOf(env, 0));
    expect(lossParts(method, env, newRows()).ewc).toBe(0);
    train(env);
    expect(lossParts(method, env, newRows()).ewc).toBeGreaterThan(0);
    method.dispose!();
    env.model.dispose();
  });

  it("LwF: distillation to the frozen previous model is zero right after the task, positive later", () => {
    const { env, method } = setup({ name: "lwf", lwf: { temperature: 2, alpha: 1 } });
    const newRows = (): BatchRow[] => tasks[1]!.train.slice(0, 4).map((example) => ({ source: "new", example, encoded: env.encoder.encode(example), entry: null }));
    method.afterTask!(ctxOf(env, 0));
    expect(Math.abs(lossParts(method, env, newRows()).lwf!)).toBeLessThan(1e-5);
    train(env);
    expect(lossParts(method, env, newRows()).lwf).toBeGreaterThan(1e-4);
    method.dispose!();
    env.model.dispose();
  });
});

describe("klToTeacher", () => {
  it("equals Σ p (log p − log softmax(z / T)) / N", () => {
    const z = [
      [1, 2, 0.5],
      [-1, 0, 3],
    ];
    const p = new Float32Array([0.2, 0.5, 0.3, 1, 0, 0]);
    const T = 2;
    let expected = 0;
    for (let i = 0; i < 2; i++) {
      const s = z[i]!.map((v) => v / T);
      const lse = Math.log(s.reduce((a, v) => a + Math.exp(v), 0));
      for (let j = 0; j < 3; j++) {
        const pj = p[i * 3 + j]!;
        if (pj > 0) expect(pj).toBeGreaterThan(0);
        expected += pj > 0 ? pj * (Math.log(pj) - (s[j]! - lse)) : 0;
      }
    }
    const got = noGrad(() => tidy(() => klToTeacher(tensor(z), p, T).item()));
    expect(got).toBeCloseTo(expected / 2, 5);
    const rows = noGrad(() => tidy(() => gatherPositions(tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]), [1, 2]).toArray()));
    expect(rows).toEqual([
      [3, 4],
      [5, 6],
    ]);
  });

  it("frees what a training step allocates (memory back to baseline)", () => {
    const { env, method } = setup({ name: "seekr", replayRatio: 0.1, budget: { queryRows: 3 } });
    method.beforeTask!(ctxOf(env, 0));
    method.afterTask!(ctxOf(env, 0));
    const rows = replayRows(method, env);
    lossParts(method, env, rows);
    const before = memory().bytes;
    lossParts(method, env, rows);
    expect(memory().bytes).toBe(before);
    env.model.dispose();
  });
});
