// A realistic synthetic run folder (for tests and demos of the report): config, log, scores, importance, checkpoints.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backwardTransfer, forgetting, overallPerformance } from "../metrics/index.js";
import { createRng } from "../tasks/index.js";
import type { ScoresFile } from "./load.js";

export interface FixtureOptions {
  methods?: string[];
  tasks?: string[];
  seed?: number;
  /** Training steps per epoch and epochs per task (log.jsonl has methods × tasks × epochs × steps lines). */
  steps?: number;
  epochs?: number;
  layers?: number;
  heads?: number;
  /** Learned tasks per method (fewer than all = an interrupted run: later rows are null). */
  learned?: number;
  /** Retention in [0, 1] per method (1 = no forgetting); default by name. */
  retention?: Record<string, number>;
}

const DEFAULT_RETENTION: Record<string, number> = { seqft: 0.2, "replay-1%": 0.55, "seekr-1%": 0.85 };

/** Writes a run folder shaped like the trainer's at `dir` and returns its scores. */
export function writeFixtureRun(dir: string, o: FixtureOptions = {}): ScoresFile {
  const methods = o.methods ?? ["seqft", "replay-1%", "seekr-1%"];
  const tasks = o.tasks ?? ["reverse", "cipher", "kv", "sort", "upper"];
  const seed = o.seed ?? 42;
  const steps = o.steps ?? 40;
  const epochs = o.epochs ?? 3;
  const layers = o.layers ?? 4;
  const heads = o.heads ?? 4;
  const learned = o.learned ?? tasks.length;
  const rng = createRng(seed);
  const t = tasks.length;
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  writeFileSync(
    join(dir, "config.json"),
    `${JSON.stringify(
      {
        seed,
        device: "cpu",
        output: dir,
        data: { source: "builtin", tasks },
        model: { preset: "tiny", hiddenSize: 64, numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: heads },
        training: { epochs, batchSize: 16, lr: 0.001 },
        methods: methods.map((m) => ({ name: m.replace(/-.*$/, ""), label: m })),
      },
      null,
      2,
    )}\n`,
  );

  // Scores: each task learned to ~90–99, then decaying towards 10 by the method's retention; the superdiagonal
  // (next task, not yet learned) is near chance.
  const scores: ScoresFile & { format: string; version: number } = {
    format: "seekr.scores",
    version: 1,
    tasks,
    metrics: tasks.map(() => "exact_match"),
    seed,
    baseline: tasks.map(() => Math.round(rng.next() * 30) / 10),
    methods: {},
  };
  for (const m of methods) {
    const keep = o.retention?.[m] ?? DEFAULT_RETENTION[m] ?? 0.5;
    const matrix: Array<Array<number | null>> = Array.from({ length: t }, () => new Array<number | null>(t).fill(null));
    const peak = tasks.map(() => 90 + rng.next() * 9);
    for (let i = 0; i < learned; i++) {
      for (let j = 0; j <= Math.min(i + 1, t - 1); j++) {
        if (j === i + 1) {
          (matrix[i] as Array<number | null>)[j] = Math.round((4 + rng.next() * 8) * 10) / 10;
          continue;
        }
        const age = i - j;
        const v = 10 + ((peak[j] as number) - 10) * keep ** Math.min(1, age / 1.5) * (1 - 0.03 * age * rng.next());
        (matrix[i] as Array<number | null>)[j] = Math.round(v * 10) / 10;
      }
    }
    const nan = matrix.map((r) => r.map((v) => (v === null ? Number.NaN : v)));
    const done = learned === t;
    // As the trainer does: metrics over the leading block of the tasks learned so far.
    const block = nan.slice(0, learned).map((r) => r.slice(0, learned));
    scores.methods[m] = {
      kind: m.replace(/-.*$/, ""),
      matrix,
      tasksLearned: learned,
      complete: done,
      op: learned > 0 ? overallPerformance(block) : null,
      bwt: learned > 1 ? backwardTransfer(block) : null,
      forgetting: learned > 1 ? forgetting(block) : null,
      fwt: null,
    };
  }
  writeFileSync(join(dir, "scores.json"), `${JSON.stringify(scores, null, 2)}\n`);

  // log.jsonl: per step, loss decaying within each task; replay/distillation parts for the methods that have them.
  const lines: string[] = [];
  let time = Date.UTC(2025, 0, 1);
  for (const m of methods) {
    for (let k = 0; k < learned; k++) {
      for (let e = 0; e < epochs; e++) {
        for (let s = 0; s < steps; s++) {
          const progress = (e * steps + s) / (epochs * steps);
          const task = 0.15 + 2.6 * Math.exp(-5 * progress) * (1 + 0.15 * (rng.next() - 0.5));
          const parts: Record<string, number> = { task };
          if (m !== "seqft") parts.replay = 0.3 + 0.4 * Math.exp(-3 * progress) * (k > 0 ? 1 : 0);
          if (m.startsWith("seekr")) {
            parts.logit = 0.05 + 0.1 * rng.next() * (k > 0 ? 1 : 0);
            parts.seekr = k > 0 ? 0.02 + 0.05 * Math.exp(-2 * progress) : 0;
          }
          const loss = Object.values(parts).reduce((a, b) => a + b, 0);
          time += 50;
          const source = m !== "seqft" && k > 0 && s % 4 === 3 ? "replay" : "new";
          lines.push(JSON.stringify({ t: new Date(time).toISOString(), method: m, task: tasks[k], taskIndex: k, epoch: e, step: s + 1, taskStep: e * steps + s + 1, source, loss, parts, lr: 0.001 }));
        }
      }
    }
  }
  writeFileSync(join(dir, "log.jsonl"), `${lines.join("\n")}\n`);

  // importance/<method>/<k>-<task>.json for SEEKR methods.
  for (const m of methods.filter((x) => x.startsWith("seekr"))) {
    const idir = join(dir, "importance", m);
    mkdirSync(idir, { recursive: true });
    for (let k = 0; k < learned; k++) {
      const sensitivity = Array.from({ length: layers }, (_, l) => Array.from({ length: heads }, () => rng.next() * (0.5 + l / layers)));
      const forgettability = Array.from({ length: layers }, () => Array.from({ length: heads }, () => rng.next()));
      const importance = sensitivity.map((row, l) => row.map((v, h) => v * ((forgettability[l] as number[])[h] as number)));
      const layerScore = importance.map((row, l) => [row.reduce((a, b) => a + b, 0), l] as const).sort((a, b) => b[0] - a[0]);
      const selLayers = layerScore.slice(0, Math.max(1, Math.round(layers * 0.75))).map(([, l]) => l).sort((a, b) => a - b);
      const candidates = selLayers.flatMap((l) => (importance[l] as number[]).map((v, h) => [v, l, h] as const)).sort((a, b) => b[0] - a[0]);
      const selHeads = candidates.slice(0, Math.max(1, Math.round(layers * heads * 0.125))).map(([, l, h]) => [l, h] as [number, number]);
      // Named as the trainer names them: tasks numbered from 1.
      writeFileSync(
        join(idir, `${k + 1}-${tasks[k]}.json`),
        JSON.stringify({
          task: tasks[k],
          taskIndex: k,
          importance,
          selected: { layers: selLayers, heads: selHeads },
          sensitivity,
          forgettability,
          strategy: "importance",
          measure: "both",
          combine: "sum-of-products",
          budget: { layers: selLayers.length, heads: selHeads.length, queryRows: 100 },
        }),
      );
    }
  }
  for (const m of methods) {
    mkdirSync(join(dir, "checkpoints", m), { recursive: true });
    writeFileSync(join(dir, "checkpoints", m, "state.json"), JSON.stringify({ position: { taskIndex: learned, epoch: 0, step: 0, phase: "train" } }));
  }
  writeFileSync(join(dir, "run.json"), JSON.stringify({ format: "seekr.run", version: 1, configHash: "fixture", baseline: scores.baseline }));
  return scores;
}
