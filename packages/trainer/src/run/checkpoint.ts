// Method checkpoints: checkpoints/<method>/state.json (the commit point) + g<N>/ files (model, optimizer, method tensors, replay memory).

import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type LlamaConfig, LlamaModel } from "@seekr/model";
import { type JsonValue, loadMemory, MEMORY_FILE_NAME, saveMemory } from "@seekr/replay";
import { type AdamW, type DeviceLike, type GradScalerState, type Tensor, loadSafetensors, saveSafetensors, tidy } from "@seekr/tensor";
import type { Example } from "../data/types.js";
import type { Method, MethodState } from "../methods/types.js";
import type { Position } from "./events.js";
import { type RunLayout, readJson, writeJsonAtomic } from "./layout.js";
import type { MethodScores } from "./scores.js";

export const CHECKPOINT_FORMAT = "seekr.checkpoint";
export const CHECKPOINT_VERSION = 1;

/** checkpoints/<method>/state.json. Paths in `files` are relative to the method's checkpoint folder. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  method: string;
  kind: string;
  /** "running": resumable at `position`; "done": the method finished (`result` holds its scores). */
  status: "running" | "done";
  position: Position;
  generation: number;
  files: { model: string; optimizer: string | null; method: string | null; memory: string | null };
  /** AdamW step count of the task in progress (its moments are in files.optimizer); null before the first step. */
  optimizer: { step: number; lr: number } | null;
  /** Loss-scaler state of the task in progress (float16 runs); absent or null otherwise. */
  scaler?: GradScalerState | null;
  methodState: JsonValue;
  /** R so far (null = not evaluated). */
  matrix: (number | null)[][];
  /**
   * Random state. Training draws nothing from a stateful generator: batch order is a pure function of
   * (seed, task, epoch) (ReplayScheduler), replay samples and query rows of (seed, task, sample), so the
   * position is the whole random state; recorded here for completeness.
   */
  rng: { seed: number; generators: Record<string, { seed: number; offset: number }>; note: string };
  /** Size of log.jsonl when this state was written (a resumed run truncates the log to it). */
  logBytes: number;
  /** Size of evals.jsonl when this state was written. */
  evalBytes: number;
  /** Seconds spent in this method so far (all sessions). */
  seconds: number;
  savedAt: string;
  /** Hash of the resolved config + extras the run started with. */
  configHash: string;
  result: MethodScores | null;
}

export interface SaveInput {
  layout: RunLayout;
  method: Method;
  model: LlamaModel;
  optimizer: AdamW | null;
  scaler?: GradScalerState | null;
  position: Position;
  matrix: (number | null)[][];
  status: "running" | "done";
  seed: number;
  logBytes: number;
  evalBytes: number;
  seconds: number;
  configHash: string;
  result: MethodScores | null;
  previous: CheckpointState | null;
}

/** Writes a checkpoint generation, then state.json atomically, then removes older generations (device tensors are copied to the host as they are written). */
export function saveMethodCheckpoint(input: SaveInput): CheckpointState {
  const { layout, method, model, optimizer } = input;
  const label = method.label;
  const root = layout.checkpointDir(label);
  const generation = (input.previous?.generation ?? 0) + 1;
  const dir = layout.generation(label, generation);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rel = (p: string): string => relative(root, p);

  const modelPath = join(dir, "model.safetensors");
  saveSafetensors(modelPath, model.parameters(), { format: "pt" });

  let optimizerPath: string | null = null;
  let optimizerJson: CheckpointState["optimizer"] = null;
  if (optimizer && optimizer.stepCount > 0) {
    const s = optimizer.state();
    optimizerPath = join(dir, "optimizer.safetensors");
    saveOptimizerMoments(optimizerPath, s);
    optimizerJson = { step: s.step, lr: optimizer.lr };
  }

  let methodPath: string | null = null;
  let memoryPath: string | null = null;
  let methodJson: JsonValue = null;
  if (method.saveState) {
    tidy(() => {
      const s: MethodState = method.saveState!();
      methodJson = s.json;
      if (s.tensors.size > 0) {
        methodPath = join(dir, "method.safetensors");
        saveSafetensors(methodPath, s.tensors);
      }
      if (s.memory) {
        memoryPath = join(dir, MEMORY_FILE_NAME);
        saveMemory(memoryPath, s.memory);
      }
    });
  }

  const state: CheckpointState = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    method: label,
    kind: method.kind,
    status: input.status,
    position: input.position,
    generation,
    files: {
      model: rel(modelPath),
      optimizer: optimizerPath ? rel(optimizerPath) : null,
      method: methodPath ? rel(methodPath) : null,
      memory: memoryPath ? rel(memoryPath) : null,
    },
    optimizer: optimizerJson,
    scaler: input.scaler ?? null,
    methodState: methodJson,
    matrix: input.matrix,
    rng: {
      seed: input.seed,
      generators: {},
      note: "batch order = f(seed, task, epoch); replay samples, query rows, random heads = f(seed, task, sample)",
    },
    logBytes: input.logBytes,
    evalBytes: input.evalBytes,
    seconds: input.seconds,
    savedAt: new Date().toISOString(),
    configHash: input.configHash,
    result: input.result,
  };
  writeJsonAtomic(layout.state(label), state);
  for (const name of readdirSync(root)) {
    if (/^g\d+$/.test(name) && name !== `g${generation}`) rmSync(join(root, name), { recursive: true, force: true });
  }
  return state;
}

/** Reads checkpoints/<method>/state.json (null when absent); checks the format. */
export function readMethodCheckpoint(layout: RunLayout, label: string): CheckpointState | null {
  const path = layout.state(label);
  if (!existsSync(path)) return null;
  const s = readJson<CheckpointState>(path);
  if (s.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: not a seekr checkpoint (format ${JSON.stringify(s.format)})`);
  if (s.version !== CHECKPOINT_VERSION) throw new Error(`${path}: checkpoint version ${s.version} is not supported (this build reads ${CHECKPOINT_VERSION})`);
  return s;
}

/** The model saved in a checkpoint (a new LlamaModel owning the loaded parameters, on `device`, default cpu). */
export function loadCheckpointModel(layout: RunLayout, state: CheckpointState, config: LlamaConfig, device?: DeviceLike): LlamaModel {
  const path = join(layout.checkpointDir(state.method), state.files.model);
  const { tensors } = loadSafetensors(path, device === undefined ? {} : { device });
  try {
    return new LlamaModel(config, tensors);
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/**
 * Restores the method's state from a checkpoint (its tensors loaded on the model's device) and returns the optimizer
 * state to load (null before the first step; the moments stay on the host: AdamW.loadState copies them).
 */
export function restoreMethodCheckpoint(
  layout: RunLayout,
  state: CheckpointState,
  model: LlamaModel,
  method: Method,
): { step: number; expAvg: Tensor[]; expAvgSq: Tensor[] } | null {
  const root = layout.checkpointDir(state.method);
  if (method.loadState) {
    tidy(() => {
      const tensors = state.files.method ? loadSafetensors(join(root, state.files.method), { device: model.device }).tensors : new Map<string, Tensor>();
      const memory = state.files.memory ? loadMemory<Example>(join(root, state.files.memory)) : null;
      method.loadState!({ json: state.methodState, tensors, memory });
    });
  }
  if (!state.optimizer || !state.files.optimizer) return null;
  return { step: state.optimizer.step, ...loadOptimizerMoments(join(root, state.files.optimizer), model.parameterList().length) };
}

/** Writes AdamW moments (AdamW.state()) as safetensors `exp_avg.<i>` / `exp_avg_sq.<i>`, i = parameter index. */
export function saveOptimizerMoments(path: string, s: { expAvg: readonly Tensor[]; expAvgSq: readonly Tensor[] }): void {
  const tensors = new Map<string, Tensor>();
  s.expAvg.forEach((t, i) => tensors.set(`exp_avg.${i}`, t));
  s.expAvgSq.forEach((t, i) => tensors.set(`exp_avg_sq.${i}`, t));
  saveSafetensors(path, tensors);
}

/**
 * Reads the moments of `n` parameters written by {@link saveOptimizerMoments}; a missing tensor is an error naming
 * the file and the tensor, followed by `hint` when given.
 */
export function loadOptimizerMoments(path: string, n: number, hint = ""): { expAvg: Tensor[]; expAvgSq: Tensor[] } {
  const { tensors } = loadSafetensors(path);
  const pick = (prefix: string): Tensor[] =>
    Array.from({ length: n }, (_, i) => {
      const t = tensors.get(`${prefix}.${i}`);
      if (!t) throw new Error(`${path}: missing '${prefix}.${i}'${hint ? ` ${hint}` : ""}`);
      return t;
    });
  return { expAvg: pick("exp_avg"), expAvgSq: pick("exp_avg_sq") };
}

/** Size of a file (0 when absent). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
