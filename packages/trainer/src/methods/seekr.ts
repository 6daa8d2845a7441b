// SEEKR: replay with logit distillation plus attention distillation of the heads selected by importance and budget.

import { type HeadSelection, resolveBudgets, selectHeads, selectQueryRows } from "@seekr/budget";
import { type AttentionSnapshot, type Batch, captureAttention, collectSensitivity, forgettability, ImportanceTracker } from "@seekr/importance";
import { type LayerDistill, mirroredTensor } from "@seekr/model";
import type { JsonValue, ReplayMemory, ReplaySample } from "@seekr/replay";
import { type Tensor, add, mulScalar, tensor, tidy } from "@seekr/tensor";
import type { Example, TaskData } from "../data/types.js";
import { deriveSeed } from "../tasks/rng.js";
import { makeBatch, type TrainBatch } from "../train/batch.js";
import { lmLoss, replayTerms, splitBySource } from "./common.js";
import { headKey, ReplayStore } from "./replay-store.js";
import { computeTeacherSignals, groupHeads, logitStorage } from "./teacher.js";
import type { ImportanceRecord, LossResult, Method, MethodEnv, MethodState, TaskContext } from "./types.js";

type Pair = [number, number];

/** The selected heads: kept layers and (layer, head) pairs in selection order. */
export interface Selection {
  layers: number[];
  heads: Pair[];
}

/** Query rows of replay sample `index` of `task` (B_T of its positions, seeded; all positions for B_T = 0). */
export function queryRowsFor(runSeed: number, task: string, index: number, length: number, budget: number): number[] {
  const positions = Array.from({ length }, (_, t) => t);
  if (budget === 0) return positions;
  return selectQueryRows({ positions }, budget, deriveSeed(runSeed, "query-rows", task, String(index)));
}

/**
 * SEEKR (He et al., 2024). After task k, on its replay samples R_k: task sensitivity with θ_k, forgettability
 * from attention snapshots of θ_{k−1} (taken before task k) and θ_k, accumulated in an ImportanceTracker;
 * heads re-selected with the hierarchical budget; teacher logits and attention rows of θ_k stored with R_k.
 * Replay batches: λ1·L_replay + (1 − λ1)·L_logit + λ2·L_seekr (L_seekr: mean over selected layers of the
 * per-layer mean KL(teacher ‖ student) of the selected heads at the stored query rows).
 *
 * Which teacher heads a memory stores follows `extras.seekr.teacherHeads` ("all" by default: every head of
 * every layer at the stored rows, so the heads re-selected after later tasks are always available with the
 * teacher θ_k of that memory, as the spec asks; "layers" / "selected" store less and drop missing heads).
 */
export function createSeekr(env: MethodEnv): Method {
  const m = env.method;
  const cfg = env.model.config;
  const L = cfg.numHiddenLayers;
  const H = cfg.numAttentionHeads;
  const seed = env.run.seed;
  const sx = env.extras.seekr;
  const store = new ReplayStore(m.replayRatio, seed);
  let tracker = new ImportanceTracker(L, H);
  let selection: Selection | null = null;
  let before: AttentionSnapshot | null = null;
  let beforeTask: string | null = null;

  /**
   * Importance batches of a task's replay samples (right-padded, training batch size) on the model's device; with
   * `withRows`, the query rows to capture per batch: the stored B_T rows ("query"), else every position.
   */
  const withBatches = <T>(task: TaskData, picked: readonly number[], withRows: boolean, fn: (batches: Batch[], rows: Tensor[]) => T): T =>
    tidy(() => {
      const batches: Batch[] = [];
      const rows: Tensor[] = [];
      const bs = env.run.training.batchSize;
      const device = env.model.device;
      for (let s = 0; s < picked.length; s += bs) {
        const idx = picked.slice(s, s + bs);
        const b = makeBatch(
          idx.map((i) => ({ source: "new" as const, example: task.train[i]!, encoded: env.encoder.encode(task.train[i]!), entry: null })),
          env.padId,
          device,
        );
        batches.push({ inputIds: b.ids, attentionMask: b.attentionMask, labels: b.labels });
        if (!withRows) continue;
        if (sx.importanceRows === "query" && m.budget.queryRows > 0) {
          const R = m.budget.queryRows;
          const data = new Int32Array(idx.length * R);
          idx.forEach((i, j) => data.set(queryRowsFor(seed, task.name, i, env.encoder.encode(task.train[i]!).ids.length, R), j * R));
          rows.push(mirroredTensor(data, { shape: [idx.length, R], device }));
        } else {
          // Every position (captureAttention's "all", built here on the model's device).
          const T = b.seqLen;
          const data = new Int32Array(idx.length * T);
          for (let j = 0; j < idx.length; j++) for (let t = 0; t < T; t++) data[j * T + t] = t;
          rows.push(mirroredTensor(data, { shape: [idx.length, T], device }));
        }
      }
      return fn(batches, rows);
    });

  const capture = (task: TaskData, picked: readonly number[]): AttentionSnapshot =>
    withBatches(task, picked, true, (batches, rows) => captureAttention(env.model, batches, { rows }));

  const storedHeads = (sel: Selection): Pair[] => {
    if (sx.teacherHeads === "selected") return sel.heads.map(([l, h]): Pair => [l, h]);
    const layers = sx.teacherHeads === "all" ? Array.from({ length: L }, (_, l) => l) : [...new Set([...sel.layers, ...sel.heads.map(([l]) => l)])].sort((a, b) => a - b);
    return layers.flatMap((l) => Array.from({ length: H }, (_, h): Pair => [l, h]));
  };

  /** Distillation terms of a replay batch with the current selection (heads every row's memory stores). */
  const distillFor = (batch: TrainBatch): LayerDistill[] => {
    if (!selection || selection.heads.length === 0 || m.lambda2 === 0) return [];
    const teachers = batch.rows.map((r) => ({ sig: r.entry!.sample.attention!, rows: store.teacherRows(r.entry!.sample) }));
    const B = batch.rows.length;
    const T = batch.seqLen;
    const R = Math.max(...teachers.map((t) => t.sig.queryRows.length));
    const rowsData = new Int32Array(B * R);
    teachers.forEach((t, b) => rowsData.set(t.sig.queryRows, b * R)); // padded rows: row 0 (one visible key: KL 0, gradient 0)
    const device = env.model.device;
    const rowsT = mirroredTensor(rowsData, { shape: [B, R], device });
    const out: LayerDistill[] = [];
    for (const g of groupHeads(selection.heads)) {
      const heads = g.heads.filter((h) => teachers.every((t) => t.rows.index.has(headKey(g.layer, h))));
      if (heads.length === 0) continue;
      const nh = heads.length;
      const data = new Float32Array(B * nh * R * T);
      teachers.forEach((t, b) => {
        const Rb = t.sig.queryRows.length;
        const len = t.sig.keyLength;
        heads.forEach((h, hi) => {
          const si = t.rows.index.get(headKey(g.layer, h))!;
          for (let r = 0; r < R; r++) {
            const dst = ((b * nh + hi) * R + r) * T;
            if (r < Rb) data.set(t.rows.data.subarray((si * Rb + r) * len, (si * Rb + r + 1) * len), dst);
            else data[dst] = 1;
          }
        });
      });
      out.push({ layer: g.layer, heads, rows: rowsT, teacher: tensor(data, { shape: [B, nh, R, T], device }), reduction: sx.reduction });
    }
    return out;
  };

  const budgets = (): { layerBudget: typeof m.budget.layers; headBudget: typeof m.budget.heads; strategy: typeof m.budget.strategy; seed: number } => ({
    layerBudget: m.budget.layers,
    headBudget: m.budget.heads,
    strategy: m.budget.strategy,
    seed: deriveSeed(seed, "random-heads"),
  });

  return {
    kind: m.name,
    label: m.label,
    get memory(): ReplayMemory<Example> {
      return store.memory;
    },
    mixMode: m.interleave,

    beforeTask({ task }: TaskContext) {
      // θ_{k−1} on R_k's samples (known before training: the seeded choice), for forgettability.
      before = capture(task, store.pick(task));
      beforeTask = task.name;
    },

    batchLoss(batch): LossResult {
      const { fresh, replay } = splitBySource(env, batch);
      const parts: LossResult["parts"] = {};
      let loss: Tensor | null = null;
      if (fresh) loss = parts.task = lmLoss(env, fresh);
      if (replay) {
        const t = replayTerms(env, replay, store, { logits: true, distill: distillFor(replay) });
        parts.replay = t.replay;
        parts.logit = t.logit!;
        parts.seekr = t.seekr ?? 0;
        let r = add(mulScalar(t.replay, m.lambda1), mulScalar(t.logit!, 1 - m.lambda1));
        if (t.seekr) r = add(r, mulScalar(t.seekr, m.lambda2));
        loss = loss ? add(loss, r) : r;
      }
      return { loss: loss!, parts };
    },

    afterTask({ task, model, encoder }: TaskContext) {
      const picked = store.pick(task);
      // Importance on R_k: sensitivity with θ_k, forgettability θ_{k−1} → θ_k.
      const sensitivity = withBatches(task, picked, false, (batches) => collectSensitivity(model, batches, { mode: sx.sensitivityMode }));
      if (!before || beforeTask !== task.name) throw new Error(`seekr: no attention snapshot of θ_{k−1} for task ${JSON.stringify(task.name)} (beforeTask was not run)`);
      const after = capture(task, picked);
      const forget = forgettability(before, after);
      before = null;
      beforeTask = null;
      tracker.addTask(task.name, sensitivity, forget);
      const importance = tracker.importance({ measure: m.importance.measure, combine: m.importance.combine });
      const sel: HeadSelection = selectHeads(importance, budgets());
      selection = { layers: [...sel.layers], heads: sel.heads.map((h): Pair => [h.layer, h.head]) };
      // Teacher signals of θ_k, stored with R_k.
      const heads = storedHeads(selection);
      const examples = picked.map((i) => task.train[i]!);
      const signals = computeTeacherSignals(model, encoder, examples, {
        logits: logitStorage(env.extras.replay.logits, model.config.vocabSize),
        attention: {
          heads,
          rows: (j, length) => queryRowsFor(seed, task.name, picked[j]!, length, m.budget.queryRows),
          dtype: env.extras.replay.attentionDtype,
        },
      });
      const samples: ReplaySample<Example>[] = picked.map((i, j) => ({ record: examples[j]!, index: i, logits: signals[j]!.logits!, attention: signals[j]!.attention! }));
      store.add(task, samples, { ratio: m.replayRatio, queryRows: m.budget.queryRows, teacherHeads: sx.teacherHeads, selectedAfter: selection.heads });
      const resolved = resolveBudgets({ layers: L, heads: H }, { layerBudget: m.budget.layers, headBudget: m.budget.heads });
      const record: ImportanceRecord = {
        task: task.name,
        taskIndex: tracker.tasks.length - 1,
        importance,
        selected: { layers: selection.layers, heads: selection.heads },
        sensitivity,
        forgettability: forget,
        strategy: m.budget.strategy,
        measure: m.importance.measure,
        combine: m.importance.combine,
        budget: { layers: resolved.layers, heads: resolved.heads, queryRows: m.budget.queryRows },
      };
      return { importance: record };
    },

    saveState(): MethodState {
      const tensors = new Map<string, Tensor>();
      let snap: JsonValue = null;
      if (before) {
        snap = { layers: before.layers, heads: before.heads, samples: before.samples.map((s) => ({ keys: s.keys, rows: s.rows.length })) };
        before.samples.forEach((s, i) => {
          tensors.set(`before.${i}.rows`, tensor(s.rows, { dtype: "int32", shape: [s.rows.length] }));
          s.maps.forEach((mp, l) => tensors.set(`before.${i}.${l}`, tensor(mp, { shape: [mp.length] })));
        });
      }
      return {
        json: { tracker: tracker.toJSON() as unknown as JsonValue, selection: selection as unknown as JsonValue, beforeTask, before: snap },
        tensors,
        memory: store.memory,
      };
    },

    loadState(s) {
      const j = s.json as { tracker: unknown; selection: Selection | null; beforeTask: string | null; before: { layers: number; heads: number; samples: { keys: number; rows: number }[] } | null };
      tracker = ImportanceTracker.fromJSON(j.tracker);
      selection = j.selection;
      beforeTask = j.beforeTask;
      before = null;
      if (j.before) {
        const snap = j.before;
        before = {
          layers: snap.layers,
          heads: snap.heads,
          samples: snap.samples.map((meta, i) => ({
            keys: meta.keys,
            rows: Int32Array.from(s.tensors.get(`before.${i}.rows`)!.dataSync() as Int32Array),
            maps: Array.from({ length: snap.layers }, (_, l) => Float32Array.from(s.tensors.get(`before.${i}.${l}`)!.dataSync() as Float32Array)),
          })),
        };
      }
      if (s.memory) store.memory = s.memory;
    },
  };
}
