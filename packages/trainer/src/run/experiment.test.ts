// End-to-end runs on the tiny lookup stream: every method, the run folder layout, scores from the matrix,
// forgetting and retention, SEEKR's distillation, determinism, and resuming after an abort or a crash.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memory } from "@seekr/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunConfig } from "../config/types.js";
import type { CheckpointState } from "./checkpoint.js";
import type { RunEvent } from "./events.js";
import { runExperiment, type RunInfo } from "./experiment.js";
import type { RunExtrasInput } from "./extras.js";
import type { ScoresFile } from "./scores.js";
import { tinyRunConfig, writeLookupStream } from "./testing.js";

const root = mkdtempSync(join(tmpdir(), "seekr-run-test-"));
const data = join(root, "data");
const tasks = writeLookupStream(data, { train: 300, eval: 10, test: 60 });
/** Shared across test runs: the pre-trained tiny base model is built once per machine. */
const extras: RunExtrasInput = { cacheDir: join(tmpdir(), "seekr-trainer-test-cache"), eval: { unseen: "next", baseline: true } };

const training = { epochs: 8, batchSize: 16, lr: 3e-3, maxLength: 32 };
const pretrain = { model: { preset: "tiny", numHiddenLayers: 2, pretrain: { steps: 100, batchSize: 16, lr: 3e-3 } } };

afterAll(() => rmSync(root, { recursive: true, force: true }));

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const logLines = (dir: string): Record<string, unknown>[] =>
  readFileSync(join(dir, "log.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
/** Log lines without their wall-clock time. */
const timeless = (dir: string): string[] => logLines(dir).map(({ t: _t, ...rest }) => JSON.stringify(rest));

/** OP, BWT, forgetting, FWT computed by hand from a complete T × T matrix. */
function byHand(m: (number | null)[][], baseline: (number | null)[]): { op: number; bwt: number; forgetting: number; fwt: number } {
  const T = m.length;
  const R = (i: number, j: number): number => m[i]![j] as number;
  let op = 0;
  for (let j = 0; j < T; j++) op += R(T - 1, j);
  let bwt = 0;
  let fgt = 0;
  for (let j = 0; j < T - 1; j++) {
    bwt += R(T - 1, j) - R(j, j);
    let best = -Infinity;
    for (let i = 0; i < T - 1; i++) if (m[i]![j] !== null) best = Math.max(best, R(i, j));
    fgt += best - R(T - 1, j);
  }
  let fwt = 0;
  for (let j = 1; j < T; j++) fwt += R(j - 1, j) - (baseline[j] as number);
  return { op: op / T, bwt: bwt / (T - 1), forgetting: fgt / (T - 1), fwt: fwt / (T - 1) };
}

describe("every method on the lookup stream", () => {
  const out = join(root, "all");
  const methods = [
    { name: "seqft" },
    { name: "replay", replayRatio: 0.1 },
    { name: "derpp", replayRatio: 0.1 },
    { name: "lwf" },
    { name: "ewc", ewc: { lambda: 100, samples: 30 } },
    { name: "seekr", replayRatio: 0.1, budget: { queryRows: 8 } },
    { name: "seekr", label: "seekr-random", replayRatio: 0.1, budget: { queryRows: 8, strategy: "random" } },
    { name: "seekr", label: "seekr-allheads", replayRatio: 0.1, budget: { queryRows: 8, strategy: "all" } },
    { name: "seekr", label: "seekr-sensitivity", replayRatio: 0.1, budget: { queryRows: 8 }, importance: { measure: "sensitivity" } },
    { name: "seekr", label: "seekr-forgettability", replayRatio: 0.1, budget: { queryRows: 8 }, importance: { measure: "forgettability" } },
    { name: "seekr", label: "seekr-allrows", replayRatio: 0.1, budget: { queryRows: 0 } },
    { name: "multitask" },
  ];
  let config: RunConfig;
  const events: RunEvent[] = [];
  let result: Awaited<ReturnType<typeof runExperiment>>;
  let scores: ScoresFile;

  beforeAll(async () => {
    config = tinyRunConfig(out, data, tasks, { seed: 1, methods, training, ...pretrain });
    result = await runExperiment(config, { extras, onEvent: (e) => events.push(e) });
    scores = readJson<ScoresFile>(join(out, "scores.json"));
  }, 180_000);

  it("runs every method (each well under a minute) and ends with a done event", () => {
    expect(result.interrupted).toBe(false);
    expect(result.methods.map((m) => m.label)).toEqual(config.methods.map((m) => m.label));
    for (const m of result.methods) expect(m.seconds).toBeLessThan(60);
    expect(events.at(-1)!.type).toBe("done");
    expect(events.filter((e) => e.type === "method-start")).toHaveLength(methods.length);
    const step = events.find((e) => e.type === "step")!;
    expect(step).toMatchObject({ method: "seqft", task: "alpha", taskIndex: 0, tasks: 3, epoch: 0, epochs: 8, step: 1, steps: 19, taskStep: 1, totalSteps: 152 });
  });

  it("writes the documented run folder", () => {
    const saved = readJson<RunConfig & { extras: unknown }>(join(out, "config.json"));
    expect({ ...saved, extras: undefined }).toEqual({ ...config, extras: undefined });
    expect(saved.extras).toMatchObject({ eval: { unseen: "next", baseline: true }, threads: 1 });
    const run = readJson<RunInfo>(join(out, "run.json"));
    expect(run.format).toBe("seekr.run");
    expect(run.device).toBe("cpu");
    expect(run.base!.key).toMatch(/^[0-9a-f]{16}$/);
    const lines = logLines(out);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(["t", "method", "task", "taskIndex", "epoch", "step", "loss", "parts", "lr"]));
      expect(Number.isNaN(Date.parse(l.t as string))).toBe(false);
    }
    const perMethod = (label: string): number => lines.filter((l) => l.method === label).length;
    expect(perMethod("seqft")).toBe(3 * 8 * 19);
    expect(perMethod("replay-10%")).toBe(3 * 8 * 19 + 2 * 8 * 19); // every-batch: a replay batch after each new batch from task 2 on
    expect(perMethod("multitask")).toBe(8 * Math.ceil(900 / 16));
    expect(Object.keys(scores.methods)).toEqual(config.methods.map((m) => m.label));
    expect(scores).toMatchObject({ format: "seekr.scores", tasks, metrics: ["accuracy", "accuracy", "accuracy"], seed: 1 });
    for (const m of config.methods) {
      const state = readJson<CheckpointState>(join(out, "checkpoints", m.label, "state.json"));
      expect(state).toMatchObject({ status: "done", method: m.label, kind: m.name, position: { taskIndex: m.name === "multitask" ? 1 : 3 } });
      expect(existsSync(join(out, "checkpoints", m.label, state.files.model))).toBe(true);
      expect(readdirSync(join(out, "checkpoints", m.label)).filter((f) => /^g\d+$/.test(f))).toEqual([`g${state.generation}`]);
      if (["replay", "derpp", "seekr"].includes(m.name)) expect(existsSync(join(out, "checkpoints", m.label, state.files.memory!))).toBe(true);
    }
    for (const label of ["seekr-10%", "seekr-random", "seekr-allheads", "seekr-sensitivity", "seekr-forgettability", "seekr-allrows"]) {
      expect(readdirSync(join(out, "importance", label)).sort()).toEqual(["1-alpha.json", "2-beta.json", "3-gamma.json"]);
      const imp = readJson<{ importance: number[][]; selected: { layers: number[]; heads: [number, number][] }; sensitivity: number[][]; forgettability: number[][] }>(
        join(out, "importance", label, "3-gamma.json"),
      );
      expect(imp.importance).toHaveLength(2);
      expect(imp.importance[0]).toHaveLength(4);
      expect(imp.sensitivity).toHaveLength(2);
      expect(imp.forgettability).toHaveLength(2);
      expect(imp.selected.heads.length).toBe(label === "seekr-allheads" ? 8 : 1); // B_H = round(0.125 · 8)
    }
    expect(existsSync(join(out, "evals.jsonl"))).toBe(true);
  });

  it("scores.json holds the matrix and OP / BWT / forgetting / FWT computed from it", () => {
    const baseline = scores.baseline!;
    expect(baseline).toHaveLength(3);
    for (const [label, m] of Object.entries(scores.methods)) {
      expect(m.matrix).toHaveLength(3);
      if (label === "multitask") {
        expect(m.matrix.slice(0, 2).flat().every((v) => v === null)).toBe(true);
        expect(m.op).toBeCloseTo(m.matrix[2]!.reduce((a: number, v) => a + (v as number), 0) / 3, 12);
        expect([m.bwt, m.forgetting, m.fwt]).toEqual([null, null, null]);
        continue;
      }
      // lower triangle and the superdiagonal (unseen: "next") are evaluated, nothing above it
      expect(m.matrix[0]![2]).toBeNull();
      for (let i = 0; i < 3; i++) for (let j = 0; j <= Math.min(2, i + 1); j++) expect(typeof m.matrix[i]![j]).toBe("number");
      const h = byHand(m.matrix, baseline);
      expect(m.op).toBeCloseTo(h.op, 12);
      expect(m.bwt).toBeCloseTo(h.bwt, 12);
      expect(m.forgetting).toBeCloseTo(h.forgetting, 12);
      expect(m.fwt).toBeCloseTo(h.fwt, 12);
      expect(result.scores.methods[label]).toEqual(m);
    }
  });

  it("SeqFT forgets; Replay retains more on the same seed", () => {
    const seq = scores.methods.seqft!;
    const rep = scores.methods["replay-10%"]!;
    expect(seq.matrix[0]![0]).toBeGreaterThan(80); // the first task was learned ...
    expect(seq.bwt).toBeLessThan(-30); // ... and forgotten
    expect(rep.bwt!).toBeGreaterThan(seq.bwt! + 15);
    const old = (m: typeof seq): number => ((m.matrix[2]![0] as number) + (m.matrix[2]![1] as number)) / 2;
    expect(old(rep)).toBeGreaterThan(old(seq) + 15);
  });

  it("SEEKR distils attention on replay batches (nonzero loss) and only there", () => {
    for (const label of ["seekr-10%", "seekr-random", "seekr-allrows"]) {
      const lines = logLines(out).filter((l) => l.method === label);
      const replay = lines.filter((l) => l.source === "replay");
      expect(replay.length).toBeGreaterThan(0);
      expect(replay.every((l) => typeof (l.parts as Record<string, number>).seekr === "number" && (l.parts as Record<string, number>).seekr! > 0)).toBe(true);
      expect(replay.every((l) => (l.parts as Record<string, number>).logit! > 0)).toBe(true);
      expect(lines.filter((l) => l.source === "new").every((l) => (l.parts as Record<string, number>).seekr === undefined)).toBe(true);
      expect(replay.every((l) => (l.taskIndex as number) > 0)).toBe(true); // no memory while learning task 1
    }
  });
});

describe("determinism and resumption", () => {
  const methods = [{ name: "seqft" }, { name: "seekr", replayRatio: 0.1, budget: { queryRows: 8 } }, { name: "lwf" }];
  const small = (out: string): RunConfig =>
    tinyRunConfig(out, data, tasks.slice(0, 2), { seed: 2, methods, training: { ...training, epochs: 3, evalEvery: 25 }, checkpoint: { everySteps: 7 }, ...pretrain });
  const a = join(root, "det-a");
  let scoresA: ScoresFile;

  beforeAll(async () => {
    await runExperiment(small(a), { extras });
    scoresA = readJson<ScoresFile>(join(a, "scores.json"));
  }, 120_000);

  it("the same config and seed give the same scores.json and the same losses; memory returns to its baseline", async () => {
    const b = join(root, "det-b");
    const before = memory();
    await runExperiment(small(b), { extras });
    const after = memory();
    expect(after.bytes).toBe(before.bytes);
    expect(after.tensors).toBe(before.tensors);
    expect(readJson<ScoresFile>(join(b, "scores.json"))).toEqual(scoresA);
    expect(timeless(b)).toEqual(timeless(a));
    const evals = readFileSync(join(b, "evals.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { phase: string; method: string; split: string });
    expect(evals.filter((e) => e.phase === "task")).toHaveLength(3 * 2);
    expect(evals.filter((e) => e.phase === "step" && e.split === "eval").length).toBeGreaterThan(0); // training.evalEvery
  }, 120_000);

  it("an abort mid-task saves a checkpoint; resuming ends with the same scores.json and log", async () => {
    const c = join(root, "abort");
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const first = await runExperiment(small(c), {
      extras,
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "step" && e.method === "seekr-10%" && e.taskIndex === 1 && e.taskStep === 10) controller.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "done", interrupted: true });
    expect(events.filter((e) => e.type === "checkpoint").at(-1)).toMatchObject({ reason: "abort", method: "seekr-10%" });
    const state = readJson<CheckpointState>(join(c, "checkpoints", "seekr-10%", "state.json"));
    expect(state).toMatchObject({ status: "running", position: { taskIndex: 1, epoch: 0, step: 10, phase: "train" } });
    expect(state.files.optimizer).not.toBeNull();
    expect(existsSync(join(c, "checkpoints", "lwf"))).toBe(false);

    const resumedEvents: RunEvent[] = [];
    const second = await runExperiment(small(c), { extras, resume: c, onEvent: (e) => resumedEvents.push(e) });
    expect(second.interrupted).toBe(false);
    expect(resumedEvents.find((e) => e.type === "method-end" && e.method === "seqft")).toMatchObject({ skipped: true });
    expect(resumedEvents.find((e) => e.type === "task-start" && e.method === "seekr-10%")).toMatchObject({ taskIndex: 1, resumed: true });
    expect(readJson<ScoresFile>(join(c, "scores.json"))).toEqual(scoresA);
    expect(timeless(c)).toEqual(timeless(a));
  }, 120_000);

  it("a crash after a periodic checkpoint resumes from it (log cut back) with the same results", async () => {
    const d = join(root, "crash");
    await expect(
      runExperiment(small(d), {
        extras,
        onEvent: (e) => {
          if (e.type === "step" && e.method === "lwf" && e.taskIndex === 1 && e.taskStep === 17) throw new Error("simulated crash");
        },
      }),
    ).rejects.toThrow("simulated crash");
    const state = readJson<CheckpointState>(join(d, "checkpoints", "lwf", "state.json"));
    expect(state.position).toEqual({ taskIndex: 1, epoch: 0, step: 14, phase: "train" }); // everySteps: 7
    expect(statSync(join(d, "log.jsonl")).size).toBeGreaterThan(state.logBytes); // steps 15–17 were logged after it
    await runExperiment(small(d), { extras, resume: d });
    expect(readJson<ScoresFile>(join(d, "scores.json"))).toEqual(scoresA);
    expect(timeless(d)).toEqual(timeless(a));
  }, 120_000);

  it("refuses to resume with another configuration", async () => {
    const cfg = small(a);
    await expect(runExperiment({ ...cfg, seed: 99 }, { extras, resume: a })).rejects.toThrow(/differs .*seed/);
  });
});

describe("mixed precision (training.precision)", () => {
  const methods = [{ name: "seekr", replayRatio: 0.1, budget: { queryRows: 8 } }];
  const cfg = (out: string, precision: "float32" | "bfloat16" | "float16"): RunConfig =>
    tinyRunConfig(out, data, tasks.slice(0, 2), { seed: 3, methods, training: { ...training, epochs: 2, precision }, checkpoint: { everySteps: 5 }, ...pretrain });

  it("bfloat16 and float16 train (finite losses near float32's, different bits) and float16 resumes bit-identically with its loss scale", async () => {
    const f32 = join(root, "mp-f32");
    const bf16 = join(root, "mp-bf16");
    const f16 = join(root, "mp-f16");
    await runExperiment(cfg(f32, "float32"), { extras });
    await runExperiment(cfg(bf16, "bfloat16"), { extras });
    await runExperiment(cfg(f16, "float16"), { extras });
    const losses = (dir: string): number[] => logLines(dir).map((l) => l.loss as number);
    const [l32, lbf, lh] = [losses(f32), losses(bf16), losses(f16)];
    expect(lbf).toHaveLength(l32.length);
    expect(lh).toHaveLength(l32.length);
    for (const l of [...lbf, ...lh]) expect(Number.isFinite(l)).toBe(true);
    expect(lbf).not.toEqual(l32); // the products really ran in bfloat16
    // the first step sees the same weights: only rounding separates the losses
    expect(Math.abs(lbf[0]! - l32[0]!)).toBeLessThan(0.05 * l32[0]!);
    expect(Math.abs(lh[0]! - l32[0]!)).toBeLessThan(0.01 * l32[0]!);
    // learning happened in every precision
    const tail = (l: number[]): number => l.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(tail(lbf)).toBeLessThan(lbf[0]!);
    expect(tail(lh)).toBeLessThan(lh[0]!);

    // float16: abort mid-task, resume, same log and scores; the loss-scaler state is in the checkpoint
    const r = join(root, "mp-f16-resume");
    const controller = new AbortController();
    await runExperiment(cfg(r, "float16"), {
      extras,
      signal: controller.signal,
      onEvent: (e) => { if (e.type === "step" && e.taskIndex === 1 && e.taskStep === 7) controller.abort(); },
    });
    const state = readJson<CheckpointState>(join(r, "checkpoints", "seekr-10%", "state.json"));
    expect(state.scaler).toMatchObject({ scale: expect.any(Number), growthTracker: expect.any(Number) });
    await runExperiment(cfg(r, "float16"), { extras, resume: r });
    expect(readJson<ScoresFile>(join(r, "scores.json"))).toEqual(readJson<ScoresFile>(join(f16, "scores.json")));
    expect(timeless(r)).toEqual(timeless(f16));
  }, 240_000);
});
