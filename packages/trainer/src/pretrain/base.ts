// The base model: a small LLaMA pre-trained on the generic corpus, built once and cached by a hash of its settings.

import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type LlamaConfig, LlamaModel, llamaConfig, loadCheckpoint, mirroredTensor, saveCheckpoint, type Tokenizer } from "@seekr/model";
import { AdamW, clipGradNorm, type Device, type DeviceLike, loadSafetensors, parseDevice, saveSafetensors, type Tensor, tidy } from "@seekr/tensor";
import type { RunConfig } from "../config/types.js";
import { resolveRunDevice } from "../run/device.js";
import { DEFAULT_EXTRAS, type RunExtras } from "../run/extras.js";
import { hashOf } from "../run/hash.js";
import { loadOptimizerMoments, saveOptimizerMoments } from "../run/checkpoint.js";
import { readJsonIfExists, writeJsonAtomic } from "../run/layout.js";
import { AbortError, yieldToEventLoop } from "../eval/evaluate.js";
import { createRng } from "../tasks/rng.js";
import { createTokenizer } from "../train/tokenizer.js";
import { corpusStream } from "./corpus.js";

/** Version of the pre-training recipe (part of the cache key: bump when the corpus or loop changes). */
export const PRETRAIN_RECIPE = 1;

/** The model configuration of a run: the shape from the config, vocabulary and special ids from the tokenizer. */
export function modelConfigFor(run: RunConfig, tokenizer: Tokenizer): LlamaConfig {
  const m = run.model;
  return llamaConfig({
    vocabSize: tokenizer.vocabSize,
    hiddenSize: m.hiddenSize,
    intermediateSize: m.intermediateSize,
    numHiddenLayers: m.numHiddenLayers,
    numAttentionHeads: m.numAttentionHeads,
    numKeyValueHeads: m.numKeyValueHeads,
    maxPositionEmbeddings: m.maxPositionEmbeddings,
    bosTokenId: tokenizer.bosTokenId,
    eosTokenId: tokenizer.eosTokenId,
    padTokenId: tokenizer.padTokenId,
  });
}

/**
 * What the base model depends on (hashed into its cache key). Pre-training on CUDA adds `device: "cuda"` (its
 * float rounding differs from the CPU's), so CPU runs never reuse a GPU-built base; CPU keys are unchanged.
 * `device` defaults to the run's `device` resolved on this machine.
 */
export function baseModelSpec(run: RunConfig, extras: RunExtras = DEFAULT_EXTRAS, device?: DeviceLike): Record<string, unknown> {
  const m = run.model;
  const fileId = (p: string): { path: string; bytes: number; sha256: string } => {
    const abs = resolve(p);
    const data = statSync(abs).isDirectory() ? readFileSync(join(abs, "tokenizer.json")) : readFileSync(abs);
    return { path: abs, bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") };
  };
  const onCuda = (device === undefined ? resolveRunDevice(run.device) : parseDevice(device)).type === "cuda";
  return {
    recipe: PRETRAIN_RECIPE,
    ...(onCuda ? { device: "cuda" } : {}),
    shape: {
      hiddenSize: m.hiddenSize,
      intermediateSize: m.intermediateSize,
      numHiddenLayers: m.numHiddenLayers,
      numAttentionHeads: m.numAttentionHeads,
      numKeyValueHeads: m.numKeyValueHeads,
      maxPositionEmbeddings: m.maxPositionEmbeddings,
    },
    tokenizer: m.tokenizer === "byte" ? "byte" : fileId(m.tokenizer),
    checkpoint: m.checkpoint === undefined ? null : resolve(m.checkpoint),
    pretrain: {
      ...m.pretrain,
      corpus: m.pretrain.corpus === "builtin" ? "builtin" : fileId(m.pretrain.corpus),
      seqLen: Math.min(extras.pretrain.seqLen, m.maxPositionEmbeddings),
      seed: extras.pretrain.seed,
      warmup: extras.pretrain.warmup,
      minLrRatio: extras.pretrain.minLrRatio,
    },
  };
}

/** The cache key: 16 hex digits of the SHA-256 of the spec. */
export function baseModelKey(run: RunConfig, extras: RunExtras = DEFAULT_EXTRAS, device?: DeviceLike): string {
  return hashOf(baseModelSpec(run, extras, device));
}

/** The cache root: extras.cacheDir, else $SEEKR_CACHE_DIR, else `<output>/../.cache`. */
export function cacheRoot(run: RunConfig, extras: RunExtras = DEFAULT_EXTRAS): string {
  return resolve(extras.cacheDir ?? process.env.SEEKR_CACHE_DIR ?? join(dirname(resolve(run.output)), ".cache"));
}

export interface PretrainProgress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
}

export interface PretrainOptions {
  steps: number;
  batchSize: number;
  lr: number;
  seqLen: number;
  seed: number;
  warmup: number;
  minLrRatio: number;
  /** "builtin" or a text file sampled in random windows. */
  corpus: string;
  onStep?: (p: PretrainProgress) => void;
  /** Checked before every step (the loop yields to the event loop there); aborting throws an AbortError. */
  signal?: AbortSignal;
  /** Continue an interrupted pre-training: steps done, their losses, and the optimizer state after them. */
  resume?: PretrainSnapshot | null;
  /**
   * Called with a snapshot every `snapshotEvery` steps and when aborted (before the AbortError is thrown), so
   * the caller can save it; the snapshot's tensors are views of the live state, valid during the call only.
   */
  onSnapshot?: (s: PretrainSnapshot) => void;
  snapshotEvery?: number;
}

/** The state of a pre-training after `step` steps (with the model's parameters, everything needed to continue). */
export interface PretrainSnapshot {
  step: number;
  losses: number[];
  optimizer: { step: number; expAvg: Tensor[]; expAvgSq: Tensor[] } | null;
}

/** Learning rate at `step`: linear warm-up, then cosine decay to minLrRatio · lr. */
export function pretrainLr(step: number, o: Pick<PretrainOptions, "steps" | "lr" | "warmup" | "minLrRatio">): number {
  const warm = Math.floor(o.warmup * o.steps);
  if (step < warm) return (o.lr * (step + 1)) / warm;
  const p = o.steps - warm <= 1 ? 1 : (step - warm) / (o.steps - warm - 1);
  return o.lr * (o.minLrRatio + (1 - o.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p))));
}

/** Sequences of exactly `seqLen` tokens ([BOS] + text), from the built-in corpus or windows of a text file. */
function sequenceSource(tokenizer: Tokenizer, o: PretrainOptions): () => number[] {
  const bos = tokenizer.bosTokenId === null ? [] : [tokenizer.bosTokenId];
  const n = o.seqLen - bos.length;
  if (o.corpus === "builtin") {
    const stream = corpusStream(o.seed);
    return () => {
      for (;;) {
        const ids = tokenizer.encode(stream.next(n * 2));
        if (ids.length >= n) return [...bos, ...ids.slice(0, n)];
      }
    };
  }
  const ids = tokenizer.encode(readFileSync(o.corpus, "utf8"));
  if (ids.length < n + 1) throw new Error(`model.pretrain.corpus: ${o.corpus} holds ${ids.length} tokens, fewer than one sequence (${n + 1})`);
  const rng = createRng(o.seed);
  return () => {
    const start = rng.int(ids.length - n + 1);
    return [...bos, ...ids.slice(start, start + n)];
  };
}

/** Pre-trains `model` in place (on its device) as a language model on every token; returns the loss of each step. */
export async function pretrain(model: LlamaModel, tokenizer: Tokenizer, o: PretrainOptions): Promise<number[]> {
  const next = sequenceSource(tokenizer, o);
  const params = model.parameterList();
  const opt = new AdamW(params, { lr: o.lr, betas: [0.9, 0.95], weightDecay: 0.01 });
  const start = o.resume?.step ?? 0;
  if (start < 0 || start > o.steps || (o.resume && o.resume.losses.length !== start)) {
    throw new Error(`pre-training: cannot resume at step ${start} of ${o.steps} with ${o.resume?.losses.length} recorded losses`);
  }
  const losses: number[] = o.resume ? [...o.resume.losses] : [];
  if (o.resume?.optimizer) opt.loadState(o.resume.optimizer);
  // The corpus is a pure function of its seed: replay the sequences of the steps already done.
  for (let i = 0; i < start * o.batchSize; i++) next();
  const snapshot = (step: number): void => {
    const s = opt.state();
    o.onSnapshot?.({ step, losses, optimizer: opt.stepCount > 0 ? s : null });
  };
  try {
    for (let step = start; step < o.steps; step++) {
      await yieldToEventLoop();
      if (o.signal?.aborted) {
        if (step > start) snapshot(step);
        throw new AbortError("pre-training");
      }
      if (o.snapshotEvery && step > start && step % o.snapshotEvery === 0) snapshot(step);
      const lr = pretrainLr(step, o);
      opt.lr = lr;
      const seqs = Array.from({ length: o.batchSize }, () => next());
      const loss = tidy(() => {
        const flat = Int32Array.from(seqs.flat());
        const ids = mirroredTensor(flat, { shape: [seqs.length, o.seqLen], device: model.device });
        const r = model.forward(ids, { labels: ids, returnLogits: false });
        r.loss!.backward();
        clipGradNorm(params, 1.0);
        opt.step();
        opt.zeroGrad();
        return r.loss!.item();
      });
      losses.push(loss);
      o.onStep?.({ step: step + 1, steps: o.steps, loss, lr });
    }
  } finally {
    opt.dispose();
  }
  return losses;
}

export interface BaseModel {
  /** Checkpoint folder (Hugging Face layout, float32). */
  dir: string;
  key: string;
  /** True when this call pre-trained it; false when it came from the cache (or model.checkpoint). */
  built: boolean;
  seconds: number;
  /** Mean loss of the last 10 % of pre-training steps (null without pre-training). */
  finalLoss: number | null;
}

/**
 * Builds or reuses the run's base model. With `model.checkpoint` and no pre-training steps that checkpoint
 * is the base. Otherwise the model is initialised (seed `extras.pretrain.seed`) or loaded from
 * `model.checkpoint`, pre-trained for `model.pretrain.steps` steps on the generic corpus, and saved to
 * `<cache>/seekr-base-<key>/` (written to a temporary folder and renamed into place, so concurrent runs never
 * see a partial model); later runs with the same settings reuse it. Pre-training runs on `opts.device` (default:
 * the run's `device` resolved on this machine).
 */
export async function ensureBaseModel(
  run: RunConfig,
  opts: { extras?: RunExtras; device?: DeviceLike; onStep?: (p: PretrainProgress) => void; signal?: AbortSignal } = {},
): Promise<BaseModel> {
  const extras = opts.extras ?? DEFAULT_EXTRAS;
  const pre = run.model.pretrain;
  if (run.model.checkpoint !== undefined && pre.steps === 0) {
    return { dir: resolve(run.model.checkpoint), key: "checkpoint", built: false, seconds: 0, finalLoss: null };
  }
  const device: Device = opts.device === undefined ? resolveRunDevice(run.device) : parseDevice(opts.device);
  const key = baseModelKey(run, extras, device);
  const root = cacheRoot(run, extras);
  const dir = join(root, `seekr-base-${key}`);
  const metaPath = join(dir, "pretrain.json");
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as { finalLoss: number | null; seconds: number };
    return { dir, key, built: false, seconds: meta.seconds, finalLoss: meta.finalLoss };
  }
  const t0 = performance.now();
  const tokenizer = createTokenizer(run.model.tokenizer);
  const config = modelConfigFor(run, tokenizer);
  const partial = new PartialPretrain(join(root, `.seekr-base-${key}.partial`), key);
  const saved = partial.read(config, device);
  const model = saved?.model ?? (run.model.checkpoint !== undefined ? loadCheckpoint(run.model.checkpoint, { config, device }) : LlamaModel.init(config, { seed: extras.pretrain.seed, device }));
  const priorSeconds = saved?.seconds ?? 0;
  try {
    const seqLen = Math.min(extras.pretrain.seqLen, config.maxPositionEmbeddings);
    const losses = await pretrain(model, tokenizer, {
      resume: saved?.snapshot ?? null,
      snapshotEvery: PRETRAIN_SNAPSHOT_EVERY,
      onSnapshot: (snap) => partial.write(model, snap, priorSeconds + (performance.now() - t0) / 1000),
      steps: pre.steps,
      batchSize: pre.batchSize,
      lr: pre.lr,
      seqLen,
      seed: extras.pretrain.seed,
      warmup: extras.pretrain.warmup,
      minLrRatio: extras.pretrain.minLrRatio,
      corpus: pre.corpus,
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const tail = losses.slice(Math.floor(losses.length * 0.9));
    const finalLoss = tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : null;
    const seconds = priorSeconds + (performance.now() - t0) / 1000;
    mkdirSync(root, { recursive: true });
    const tmp = join(root, `.seekr-base-${key}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    saveCheckpoint(model, tmp, { dtype: "float32" });
    const every = Math.max(1, Math.floor(losses.length / 100));
    writeFileSync(
      join(tmp, "pretrain.json"),
      `${JSON.stringify({ key, spec: baseModelSpec(run, extras, device), seconds, finalLoss, losses: losses.filter((_, i) => i % every === 0 || i === losses.length - 1), createdAt: new Date().toISOString() }, null, 2)}\n`,
    );
    try {
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(metaPath)) throw e; // someone else finished first: use theirs
    }
    partial.remove();
    return { dir, key, built: true, seconds, finalLoss };
  } finally {
    model.dispose();
    // The loaded moments were copied into the optimizer (AdamW.loadState); free them however pre-training ended.
    saved?.snapshot.optimizer?.expAvg.forEach((t) => t.dispose());
    saved?.snapshot.optimizer?.expAvgSq.forEach((t) => t.dispose());
  }
}

/** Pre-training saves its state every this many steps (and when interrupted), so an interrupted run resumes it. */
export const PRETRAIN_SNAPSHOT_EVERY = 250;

/**
 * An interrupted pre-training in the cache: `<cache>/.seekr-base-<key>.partial/` holds generation folders
 * g<N>/ (model.safetensors, optimizer.safetensors) and state.json, written atomically last, naming the
 * current generation; older generations are removed after it. A crash at any point leaves a consistent state.
 */
class PartialPretrain {
  constructor(
    readonly dir: string,
    readonly key: string,
  ) {}

  read(config: LlamaConfig, device: Device): { model: LlamaModel; snapshot: PretrainSnapshot; seconds: number } | null {
    const state = readJsonIfExists<{ key: string; generation: number; step: number; losses: number[]; seconds: number; optimizer: boolean }>(join(this.dir, "state.json"));
    if (!state || state.key !== this.key) return null;
    const g = join(this.dir, `g${state.generation}`);
    const params = loadSafetensors(join(g, "model.safetensors"), { device }).tensors;
    let model: LlamaModel;
    try {
      model = new LlamaModel(config, params);
    } catch (e) {
      for (const t of params.values()) t.dispose();
      throw new Error(`${join(g, "model.safetensors")}: ${(e as Error).message} (delete ${this.dir} to pre-train from scratch)`);
    }
    let optimizer: PretrainSnapshot["optimizer"] = null;
    if (state.optimizer) {
      const moments = loadOptimizerMoments(join(g, "optimizer.safetensors"), model.parameterList().length, `(delete ${this.dir} to pre-train from scratch)`);
      optimizer = { step: state.step, ...moments };
    }
    return { model, snapshot: { step: state.step, losses: state.losses, optimizer }, seconds: state.seconds };
  }

  write(model: LlamaModel, snap: PretrainSnapshot, seconds: number): void {
    const prev = readJsonIfExists<{ generation: number }>(join(this.dir, "state.json"));
    const generation = (prev?.generation ?? 0) + 1;
    const g = join(this.dir, `g${generation}`);
    rmSync(g, { recursive: true, force: true });
    mkdirSync(g, { recursive: true });
    saveSafetensors(join(g, "model.safetensors"), model.parameters(), { format: "pt" });
    if (snap.optimizer) saveOptimizerMoments(join(g, "optimizer.safetensors"), snap.optimizer);
    writeJsonAtomic(join(this.dir, "state.json"), { key: this.key, generation, step: snap.step, losses: snap.losses, seconds, optimizer: snap.optimizer !== null, savedAt: new Date().toISOString() });
    for (const name of readdirSync(this.dir)) if (/^g\d+$/.test(name) && name !== `g${generation}`) rmSync(join(this.dir, name), { recursive: true, force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Loads the base model (a fresh copy of its parameters) on `device` (default cpu). */
export function loadBaseModel(base: BaseModel, device?: DeviceLike): LlamaModel {
  return loadCheckpoint(base.dir, device === undefined ? {} : { device });
}
