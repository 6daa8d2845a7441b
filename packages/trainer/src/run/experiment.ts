// runExperiment: every method from the same base model through the task stream, evaluated after each task, checkpointed, resumable.

import { appendFileSync, mkdirSync, rmSync, truncateSync } from "node:fs";
import { resolve } from "node:path";
import { type LlamaModel, type PromptTemplate, type Tokenizer } from "@seekr/model";
import { type PlannedBatch, type ReplayMemory, ReplayScheduler } from "@seekr/replay";
import { AdamW, type Device, GradScaler, autocast, clipGradNorm, deviceName, devices, memory, resetPeakMemory, setThreads, tidy } from "@seekr/tensor";
import type { MethodConfig, RunConfig } from "../config/types.js";
import { loadStream } from "../data/stream.js";
import type { Example, TaskData } from "../data/types.js";
import { AbortError, evaluateTask, yieldToEventLoop } from "../eval/evaluate.js";
import { emptyScoreMatrix } from "../metrics/cl.js";
import { createMethod } from "../methods/registry.js";
import type { Method, MethodEnv, StepContext, TaskContext } from "../methods/types.js";
import { type BaseModel, ensureBaseModel, loadBaseModel } from "../pretrain/base.js";
import { deriveSeed } from "../tasks/rng.js";
import { type BatchRow, ExampleEncoder, makeBatch } from "../train/batch.js";
import { scalarValue } from "../train/losses.js";
import { createTokenizer, padIdOf, promptTemplate } from "../train/tokenizer.js";
import {
  type CheckpointState,
  fileSize,
  loadCheckpointModel,
  readMethodCheckpoint,
  restoreMethodCheckpoint,
  saveMethodCheckpoint,
} from "./checkpoint.js";
import { resolveRunDevice } from "./device.js";
import type { Position, RunEvent } from "./events.js";
import { type RunExtras, type RunExtrasInput, resolveExtras } from "./extras.js";
import { hashOf } from "./hash.js";
import { RunLayout, readJsonIfExists, toJson, writeJsonAtomic } from "./layout.js";
import { gitCommit, matrixFromJson, matrixToJson, type MethodScores, methodScores, type ScoresFile } from "./scores.js";

export interface RunOptions {
  /** Progress events (see RunEvent); called synchronously from the loop. */
  onEvent?: (event: RunEvent) => void;
  /** Aborting saves a checkpoint at the next step boundary (or evaluation batch) and resolves with interrupted: true. */
  signal?: AbortSignal;
  /** A run folder to continue from its checkpoints; the config must be the one it started with (output aside). */
  resume?: string;
  /** Settings the config schema does not carry yet (see RunExtras). */
  extras?: RunExtrasInput;
}

export interface MethodResult {
  label: string;
  kind: string;
  scores: MethodScores;
  /** Seconds spent in the method (all sessions). */
  seconds: number;
  /** Finished in an earlier session (resume). */
  skipped: boolean;
}

export interface RunResult {
  output: string;
  interrupted: boolean;
  scores: ScoresFile;
  methods: MethodResult[];
  /** The base model (null when the run was aborted during pre-training). */
  base: BaseModel | null;
  /** Wall seconds of this call. */
  seconds: number;
}

/** run.json: what the config file does not hold (extras, base model, identity). */
export interface RunInfo {
  format: "seekr.run";
  version: 1;
  configHash: string;
  extras: RunExtras;
  base: BaseModel | null;
  commit: string | null;
  startedAt: string;
  updatedAt: string;
  /** The device this session computes on: `device` of the config resolved on this machine ("cpu", "cuda:0", ...). */
  device?: string;
  /**
   * Per method: status, seconds (all sessions) and peakBytes, the engine's peak of live tensor bytes on the run's
   * device while the method ran (reset when it starts). A resumed method reports the peak of its last session only.
   */
  methods: Record<string, { status: "running" | "done" | "interrupted"; seconds: number; peakBytes?: number }>;
  /** Base model's scores per task (FWT baseline), when evaluated. */
  baseline: (number | null)[] | null;
}

const FILES_OF_A_RUN = ["log.jsonl", "evals.jsonl", "scores.json", "run.json", "importance", "checkpoints"];

/** The identity of a run's settings: everything but the output folder. */
export function configHash(config: RunConfig, extras: RunExtras): string {
  return hashOf({ config: { ...config, output: undefined }, extras: { ...extras, cacheDir: undefined } });
}

/** The union of all tasks' training data, for the multitask upper bound. */
function unionTask(tasks: readonly TaskData[]): TaskData {
  return { name: "multitask", metric: tasks[0]!.metric, train: tasks.flatMap((t) => t.train), eval: [], test: [], source: "union" };
}

interface Shared {
  config: RunConfig;
  extras: RunExtras;
  layout: RunLayout;
  tasks: TaskData[];
  /** Where the models, batches and method tensors live. */
  device: Device;
  tokenizer: Tokenizer;
  template: PromptTemplate;
  base: BaseModel;
  baseline: number[] | null;
  hash: string;
  emit: (e: RunEvent) => void;
  signal: AbortSignal | undefined;
  info: RunInfo;
  scores: ScoresFile;
}

/**
 * Runs every configured method through the task stream from the same base model and writes the run folder
 * (config.json, log.jsonl, scores.json, run.json, importance/, checkpoints/; see src/run/README.md).
 * Deterministic: the same config and seed give the same score matrices (bit-identical on the CPU), also
 * across an interruption and `resume`. `config.device` is resolved first ("auto": CUDA when usable); a CUDA
 * device that is not usable is an error that says why.
 */
export async function runExperiment(config: RunConfig, options: RunOptions = {}): Promise<RunResult> {
  const extras = resolveExtras(options.extras, config);
  const device = resolveRunDevice(config.device);
  const threadsBefore = devices().cpu.threads;
  if (extras.threads !== null) setThreads(extras.threads);
  try {
    return await run(config, extras, options, device);
  } finally {
    if (extras.threads !== null && devices().cpu.threads !== threadsBefore) setThreads(threadsBefore);
  }
}

async function run(config: RunConfig, extras: RunExtras, options: RunOptions, device: Device): Promise<RunResult> {
  const t0 = performance.now();
  const emit = (e: RunEvent): void => options.onEvent?.(e);
  const output = resolve(options.resume ?? config.output);
  const layout = new RunLayout(output);
  const hash = configHash(config, extras);
  const resuming = options.resume !== undefined;

  if (resuming) {
    const prev = readJsonIfExists<RunInfo>(layout.run);
    if (!prev) throw new Error(`resume: ${layout.run} not found (is ${output} a run folder?)`);
    if (prev.configHash !== hash) {
      const saved = readJsonIfExists<RunConfig>(layout.config);
      const differs = saved ? Object.keys({ ...saved, ...config }).filter((k) => k !== "output" && toJson((saved as unknown as Record<string, unknown>)[k]) !== toJson((config as unknown as Record<string, unknown>)[k])) : [];
      throw new Error(
        `resume: the configuration differs from the one ${output} was started with${differs.length ? ` (${differs.join(", ")})` : " (extras)"}; resume with the saved config.json`,
      );
    }
  } else {
    for (const f of FILES_OF_A_RUN) rmSync(resolve(output, f), { recursive: true, force: true });
  }
  mkdirSync(output, { recursive: true });
  writeJsonAtomic(layout.config, { ...config, extras });

  const tokenizer = createTokenizer(config.model.tokenizer);
  const template = promptTemplate(extras.template);
  const tasks = loadStream(config.data, config.seed);

  const prevInfo = resuming ? readJsonIfExists<RunInfo>(layout.run) : null;
  const info: RunInfo = {
    format: "seekr.run",
    version: 1,
    configHash: hash,
    extras,
    base: prevInfo?.base ?? null,
    commit: gitCommit(),
    startedAt: prevInfo?.startedAt ?? new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    device: deviceName(device),
    methods: prevInfo?.methods ?? {},
    baseline: prevInfo?.baseline ?? null,
  };
  writeJsonAtomic(layout.run, info); // from here on the folder can be resumed

  // Base model (built once, cached).
  let pretrainStarted = false;
  let base: BaseModel;
  try {
    base = await ensureBaseModel(config, {
      extras,
      device,
      ...(options.signal ? { signal: options.signal } : {}),
      onStep: (p) => {
        if (!pretrainStarted) {
          pretrainStarted = true;
          emit({ type: "pretrain", phase: "start", step: 0, steps: p.steps, loss: null, lr: null, cached: false, key: "" });
        }
        emit({ type: "pretrain", phase: "step", step: p.step, steps: p.steps, loss: p.loss, lr: p.lr, cached: false, key: "" });
      },
    });
  } catch (e) {
    if (!(e instanceof AbortError)) throw e;
    const seconds = (performance.now() - t0) / 1000;
    emit({ type: "done", interrupted: true, output, seconds });
    return { output, interrupted: true, scores: { format: "seekr.scores", version: 1, tasks: tasks.map((t) => t.name), metrics: tasks.map((t) => t.metric), seed: config.seed, methods: {} }, methods: [], base: null, seconds };
  }
  emit({ type: "pretrain", phase: "end", step: config.model.pretrain.steps, steps: config.model.pretrain.steps, loss: base.finalLoss, lr: null, cached: !base.built, key: base.key });

  info.base = base;
  const commit = gitCommit();
  const scores: ScoresFile = {
    format: "seekr.scores",
    version: 1,
    tasks: tasks.map((t) => t.name),
    metrics: tasks.map((t) => t.metric),
    seed: config.seed,
    ...(commit ? { commit } : {}),
    methods: {},
  };

  // Resume: the log is cut back to the last checkpoint's size.
  if (resuming) {
    let logBytes = 0;
    let evalBytes = 0;
    for (const m of config.methods) {
      const st = readMethodCheckpoint(layout, m.label);
      logBytes = Math.max(logBytes, st?.logBytes ?? 0);
      evalBytes = Math.max(evalBytes, st?.evalBytes ?? 0);
    }
    if (fileSize(layout.log) > logBytes) truncateSync(layout.log, logBytes);
    if (fileSize(layout.evals) > evalBytes) truncateSync(layout.evals, evalBytes);
  }

  const shared: Shared = { config, extras, layout, tasks, device, tokenizer, template, base, baseline: null, hash, emit, signal: options.signal, info, scores };

  // FWT baseline: the base model on every task, once per run.
  if (extras.eval.baseline) {
    const saved = readJsonIfExists<{ tasks: string[]; scores: (number | null)[] }>(layout.baseline);
    if (resuming && saved && saved.tasks.join("\n") === scores.tasks.join("\n")) {
      shared.baseline = saved.scores.map((v) => (v === null ? Number.NaN : v));
    } else {
      const model = loadBaseModel(base, device);
      try {
        const row: number[] = [];
        for (const task of tasks) {
          if (options.signal?.aborted) return finish(shared, [], true, t0);
          row.push((await evaluateTask(model, task, evalOptions(shared, options.signal))).score);
        }
        shared.baseline = row;
      } catch (e) {
        if (e instanceof AbortError) return finish(shared, [], true, t0);
        throw e;
      } finally {
        model.dispose();
      }
      writeJsonAtomic(layout.baseline, { tasks: scores.tasks, scores: shared.baseline });
      emit({ type: "baseline", scores: Object.fromEntries(tasks.map((t, j) => [t.name, shared.baseline![j]!])) });
    }
    scores.baseline = matrixToJson([shared.baseline])[0]!;
    info.baseline = scores.baseline;
  }
  writeJsonAtomic(layout.run, info);

  const results: MethodResult[] = [];
  for (let mi = 0; mi < config.methods.length; mi++) {
    const r = await runMethod(shared, config.methods[mi]!, mi);
    if (r === "interrupted") return finish(shared, results, true, t0);
    results.push(r);
  }
  return finish(shared, results, false, t0);
}

function finish(s: Shared, methods: MethodResult[], interrupted: boolean, t0: number): RunResult {
  s.info.updatedAt = new Date().toISOString();
  writeJsonAtomic(s.layout.run, s.info);
  writeJsonAtomic(s.layout.scores, s.scores);
  const seconds = (performance.now() - t0) / 1000;
  s.emit({ type: "done", interrupted, output: s.layout.root, seconds });
  return { output: s.layout.root, interrupted, scores: s.scores, methods, base: s.base, seconds };
}

function evalOptions(s: Shared, signal: AbortSignal | undefined, split: "test" | "eval" = s.extras.eval.split) {
  return {
    tokenizer: s.tokenizer,
    template: s.template,
    maxNewTokens: s.config.eval.maxNewTokens,
    batchSize: s.config.eval.batchSize,
    maxLength: s.config.training.maxLength + s.config.eval.maxNewTokens,
    split,
    ...(signal ? { signal } : {}),
  };
}

/** Which tasks are scored after learning task k (0-based) of a T-task stream. */
function tasksToEvaluate(k: number, T: number, unseen: RunExtras["eval"]["unseen"]): number[] {
  const seen = Array.from({ length: k + 1 }, (_, j) => j);
  if (unseen === "none" || k + 1 >= T) return seen;
  if (unseen === "next") return [...seen, k + 1];
  return Array.from({ length: T }, (_, j) => j);
}

/** The position after a finished step. */
function nextPosition(taskIndex: number, epoch: number, step: number, stepsPerEpoch: number, epochs: number): Position {
  if (step + 1 < stepsPerEpoch) return { taskIndex, epoch, step: step + 1, phase: "train" };
  if (epoch + 1 < epochs) return { taskIndex, epoch: epoch + 1, step: 0, phase: "train" };
  return { taskIndex, epoch: epochs, step: 0, phase: "trained" };
}

async function runMethod(s: Shared, mcfg: MethodConfig, methodIndex: number): Promise<MethodResult | "interrupted"> {
  const { config, extras, layout, emit } = s;
  const label = mcfg.label;
  const T = s.tasks.length;
  const metrics = s.tasks.map((t) => t.metric);
  const baseline = s.baseline ?? undefined;
  let state: CheckpointState | null = readMethodCheckpoint(layout, label);
  if (state && state.configHash !== s.hash) throw new Error(`${layout.state(label)} belongs to another configuration`);

  if (state?.status === "done" && state.result) {
    s.scores.methods[label] = state.result;
    emit({ type: "method-end", method: label, matrix: state.result.matrix, op: state.result.op, bwt: state.result.bwt, forgetting: state.result.forgetting, fwt: state.result.fwt, seconds: state.seconds, skipped: true });
    return { label, kind: mcfg.name, scores: state.result, seconds: state.seconds, skipped: true };
  }

  // Peak tensor memory on the run's device of this method (this session only when it resumes: earlier peaks are lost).
  resetPeakMemory();
  const peakBytes = (): number => memory().devices[deviceName(s.device)]?.peakBytes ?? 0;
  const multitask = mcfg.name === "multitask";
  const stream = multitask ? [unionTask(s.tasks)] : s.tasks;
  const encoder = new ExampleEncoder(s.tokenizer, s.template, config.training.maxLength);
  const padId = padIdOf(s.tokenizer);
  const baseModel = loadBaseModel(s.base, s.device);
  let model: LlamaModel = baseModel;
  if (state) {
    model = loadCheckpointModel(layout, state, baseModel.config, s.device);
    baseModel.dispose();
  }
  const env: MethodEnv = { model, tokenizer: s.tokenizer, encoder, padId, tasks: stream, run: config, method: mcfg, extras };
  const method: Method = createMethod(env);
  const params = model.parameterList();
  const matrix: number[][] = state ? matrixFromJson(state.matrix) : emptyScoreMatrix(T);
  let position: Position = state ? state.position : { taskIndex: 0, epoch: 0, step: 0, phase: "train" };
  let optState = state ? restoreMethodCheckpoint(layout, state, model, method) : null;
  const priorSeconds = state?.seconds ?? 0;
  const sessionStart = performance.now();
  const elapsed = (): number => priorSeconds + (performance.now() - sessionStart) / 1000;
  const { epochs, batchSize, lr, betas, weightDecay, gradClip, evalEvery, precision } = config.training;
  // Mixed precision: the batch loss runs under autocast (matrix products in bf16 / f16, float32 master weights and
  // AdamW state); float16 adds dynamic loss scaling, whose state is checkpointed with the task in progress.
  let scaler = new GradScaler({ enabled: precision === "float16" });
  let scalerState = state?.scaler ?? null;
  const everySteps = config.checkpoint.everySteps;
  const publish = (tasksLearned: number): MethodScores => {
    const sc = methodScores(mcfg.name, matrix, tasksLearned, metrics, baseline);
    s.scores.methods[label] = sc;
    writeJsonAtomic(layout.scores, s.scores);
    return sc;
  };
  const tasksLearnedAt = (k: number): number => (multitask ? (k >= 1 ? T : 0) : k);
  if (state) publish(tasksLearnedAt(position.taskIndex));

  const save = (opt: AdamW | null, pos: Position, reason: "task" | "steps" | "abort" | "done", result: MethodScores | null = null): void => {
    state = saveMethodCheckpoint({
      layout,
      method,
      model,
      optimizer: opt,
      scaler: scaler.enabled ? scaler.state() : null,
      position: pos,
      matrix: matrixToJson(matrix),
      status: reason === "done" ? "done" : "running",
      seed: config.seed,
      logBytes: fileSize(layout.log),
      evalBytes: fileSize(layout.evals),
      seconds: elapsed(),
      configHash: s.hash,
      result,
      previous: state,
    });
    s.info.methods[label] = { status: reason === "done" ? "done" : reason === "abort" ? "interrupted" : "running", seconds: state.seconds, peakBytes: peakBytes() };
    emit({ type: "checkpoint", method: label, path: layout.state(label), position: pos, reason });
  };

  emit({ type: "method-start", method: label, kind: mcfg.name, methodIndex, methods: config.methods.length, tasks: stream.map((t) => t.name), epochs, resumed: state !== null });
  s.info.methods[label] = { status: "running", seconds: priorSeconds };

  try {
    for (let k = position.taskIndex; k < stream.length; k++) {
      const task = stream[k]!;
      const tctx: TaskContext = { ...env, task, taskIndex: k };
      const resumedHere = state !== null && k === position.taskIndex && (position.epoch > 0 || position.step > 0 || position.phase === "trained");
      if (!resumedHere) {
        position = { taskIndex: k, epoch: 0, step: 0, phase: "train" };
        method.beforeTask?.(tctx);
      }
      const taskStart = performance.now();
      const opt = new AdamW(params, { lr, betas, weightDecay });
      if (resumedHere && optState) {
        opt.loadState(optState);
        for (const t of [...optState.expAvg, ...optState.expAvgSq]) t.dispose();
      }
      optState = null;
      scaler = new GradScaler({ enabled: precision === "float16" });
      if (resumedHere && scalerState && scaler.enabled) scaler.load(scalerState);
      scalerState = null;
      const memory: ReplayMemory<Example> | null = method.memory;
      const scheduler = new ReplayScheduler({
        newSamples: task.train.length,
        replay: memory?.sampleCount ?? 0,
        batchSize,
        mode: method.mixMode,
        seed: deriveSeed(config.seed, "batches", task.name),
      });
      const stepsPerEpoch = scheduler.batchesPerEpoch;
      const totalSteps = stepsPerEpoch * epochs;
      emit({ type: "task-start", method: label, task: task.name, taskIndex: k, tasks: stream.length, epochs, steps: stepsPerEpoch, totalSteps, resumed: resumedHere });

      try {
        for (let epoch = position.epoch; epoch < epochs && position.phase === "train"; epoch++) {
          const plan = scheduler.plan(epoch);
          for (let step = epoch === position.epoch ? position.step : 0; step < plan.batches.length; step++) {
            await yieldToEventLoop();
            if (s.signal?.aborted) {
              save(opt, { taskIndex: k, epoch, step, phase: "train" }, "abort");
              return "interrupted";
            }
            const rows = batchRows(plan.batches[step]!, task, memory, encoder);
            const sctx: StepContext = { ...tctx, epoch, step };
            const out = tidy(() => {
              const batch = makeBatch(rows, padId, model.device);
              const { loss, parts } = autocast(precision, () => method.batchLoss(batch, sctx));
              scaler.scaleLoss(loss).backward();
              scaler.unscale(params);
              if (gradClip > 0) clipGradNorm(params, gradClip);
              scaler.step(opt);
              scaler.update();
              opt.zeroGrad();
              const values: Record<string, number> = {};
              for (const [name, v] of Object.entries(parts)) values[name] = scalarValue(v);
              return { loss: loss.item(), parts: values };
            });
            if (!Number.isFinite(out.loss)) {
              throw new Error(`${label}: the loss became ${out.loss} at task ${JSON.stringify(task.name)}, epoch ${epoch + 1}, step ${step + 1} (parts ${JSON.stringify(out.parts)}); lower training.lr or the loss weights`);
            }
            const taskStep = epoch * stepsPerEpoch + step + 1;
            appendFileSync(
              layout.log,
              `${JSON.stringify({ t: new Date().toISOString(), method: label, task: task.name, taskIndex: k, epoch, step: step + 1, taskStep, source: plan.batches[step]!.source, loss: out.loss, parts: out.parts, lr: opt.lr })}\n`,
            );
            emit({ type: "step", method: label, task: task.name, taskIndex: k, tasks: stream.length, epoch, epochs, step: step + 1, steps: stepsPerEpoch, taskStep, totalSteps, loss: out.loss, parts: out.parts, lr: opt.lr, elapsed: elapsed() });
            position = nextPosition(k, epoch, step, stepsPerEpoch, epochs);
            if (evalEvery > 0 && taskStep % evalEvery === 0 && taskStep < totalSteps && !multitask) {
              const split = task.eval.length > 0 ? "eval" : "test";
              const ev = await evaluateTask(model, task, evalOptions(s, s.signal, split));
              appendFileSync(layout.evals, `${JSON.stringify({ t: new Date().toISOString(), phase: "step", method: label, task: task.name, taskIndex: k, epoch, step: step + 1, taskStep, split, scores: { [task.name]: ev.score } })}\n`);
              emit({ type: "eval", method: label, task: task.name, taskIndex: k, phase: "step", scores: { [task.name]: ev.score }, row: null });
            }
            if (everySteps > 0 && taskStep % everySteps === 0 && taskStep < totalSteps) save(opt, position, "steps");
          }
        }
        position = { taskIndex: k, epoch: epochs, step: 0, phase: "trained" };

        // Evaluate θ_k: seen tasks (and unseen ones for FWT); multitask: every task, into the last row.
        const row = multitask ? T - 1 : k;
        const targets = multitask ? Array.from({ length: T }, (_, j) => j) : tasksToEvaluate(k, T, extras.eval.unseen);
        const rowScores: Record<string, number> = {};
        for (const j of targets) {
          const ev = await evaluateTask(model, s.tasks[j]!, evalOptions(s, s.signal));
          matrix[row]![j] = ev.score;
          rowScores[s.tasks[j]!.name] = ev.score;
        }
        appendFileSync(layout.evals, `${JSON.stringify({ t: new Date().toISOString(), phase: "task", method: label, task: task.name, taskIndex: k, row, split: extras.eval.split, scores: rowScores })}\n`);
        emit({ type: "eval", method: label, task: task.name, taskIndex: k, phase: "task", scores: rowScores, row: matrixToJson([matrix[row]!])[0]! });
      } catch (e) {
        if (e instanceof AbortError) {
          save(opt, position, "abort");
          return "interrupted";
        }
        throw e;
      } finally {
        opt.dispose();
      }

      const report = method.afterTask?.(tctx);
      if (report?.importance) writeJsonAtomic(layout.importance(label, k, task.name), report.importance);
      publish(tasksLearnedAt(k + 1));
      emit({ type: "task-end", method: label, task: task.name, taskIndex: k, tasks: stream.length, seconds: (performance.now() - taskStart) / 1000 });
      position = { taskIndex: k + 1, epoch: 0, step: 0, phase: "train" };
      save(null, position, "task");
      if (s.signal?.aborted && k + 1 < stream.length) {
        s.info.methods[label] = { status: "interrupted", seconds: elapsed() };
        return "interrupted";
      }
    }

    const result = publish(tasksLearnedAt(stream.length));
    save(null, position, "done", result);
    emit({ type: "method-end", method: label, matrix: result.matrix, op: result.op, bwt: result.bwt, forgetting: result.forgetting, fwt: result.fwt, seconds: elapsed(), skipped: false });
    return { label, kind: mcfg.name, scores: result, seconds: elapsed(), skipped: false };
  } finally {
    method.dispose?.();
    model.dispose();
  }
}

/** The rows of a planned batch: new-task samples by index, replay samples from memory. */
function batchRows(planned: PlannedBatch, task: TaskData, memory: ReplayMemory<Example> | null, encoder: ExampleEncoder): BatchRow[] {
  return planned.samples.map((ref): BatchRow => {
    if (ref.source === "new") {
      const example = task.train[ref.index]!;
      return { source: "new", example, encoded: encoder.encode(example), entry: null };
    }
    if (!memory) throw new Error("a replay batch was planned without a replay memory");
    const entry = memory.entry(ref.index);
    return { source: "replay", example: entry.sample.record, encoded: encoder.encode(entry.sample.record), entry };
  });
}
