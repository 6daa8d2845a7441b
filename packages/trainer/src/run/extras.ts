// Run settings the configuration schema (src/config) does not carry yet: defaults and validation.

import type { RunConfig } from "../config/types.js";

/**
 * Settings beyond {@link RunConfig}. Pass them as `runExperiment(config, { extras })`; a config object that
 * carries an `extras` key (not accepted by the file schema yet) is read too. Every field has a default.
 */
export interface RunExtras {
  /** Prompt template: "plain" ([BOS] prompt answer [EOS], default) or "chat". */
  template: "plain" | "chat";
  /** Root of the base-model cache; default `<output>/../.cache` (env SEEKR_CACHE_DIR overrides the default). */
  cacheDir: string | null;
  pretrain: {
    /** Tokens per pre-training sequence (capped by maxPositionEmbeddings). */
    seqLen: number;
    /** Seed of the corpus and the initialisation (fixed, so every run shares the cached base model). */
    seed: number;
    /** Linear warm-up over this fraction of the steps, then cosine decay to `minLrRatio` · lr. */
    warmup: number;
    minLrRatio: number;
  };
  eval: {
    /** Split scored into the matrix R. */
    split: "test" | "eval";
    /** Tasks not yet learned to evaluate after each task: "next" (the superdiagonal, for FWT), "all" or "none". */
    unseen: "next" | "all" | "none";
    /** Score the base model on every task once (FWT's baseline b_j). */
    baseline: boolean;
  };
  replay: {
    /** Teacher logits stored for DER++ / SEEKR: "auto" (full when vocab ≤ 4096, else top-64), "full", or a top-k count. */
    logits: "auto" | "full" | number;
    /** Storage of teacher attention rows. */
    attentionDtype: "bf16" | "f16" | "f32";
  };
  seekr: {
    /**
     * Which heads' teacher rows a memory stores (at its query rows, with θ_k right after task k):
     * "all" (every head of every layer, default: any later re-selection is served exactly), "layers" (every
     * head of the layers selected after task k) or "selected" (only the heads selected after task k). With
     * "layers" / "selected", heads selected later that a memory lacks are left out of that batch's loss.
     */
    teacherHeads: "all" | "layers" | "selected";
    /** Rows captured for forgettability: "all" (full maps, the reference) or "query" (the stored B_T rows). */
    importanceRows: "all" | "query";
    /** Entries of dL/dA for sensitivity: "all" (the reference code's dense map) or "visible". */
    sensitivityMode: "all" | "visible";
    /** Per-layer reduction of L_ad ("mean": the reference normalisation). */
    reduction: "mean" | "batchmean" | "sum";
  };
  /**
   * CPU worker threads of the engine (setThreads, process-wide) while the run lasts; null leaves the engine's
   * setting. Default 1: at these model sizes one thread is as fast as two (see src/run/README.md, "Engine notes").
   */
  threads: number | null;
}

export const DEFAULT_EXTRAS: Readonly<RunExtras> = Object.freeze({
  template: "plain",
  cacheDir: null,
  pretrain: { seqLen: 64, seed: 1234, warmup: 0.05, minLrRatio: 0.1 },
  eval: { split: "test", unseen: "next", baseline: true },
  replay: { logits: "auto", attentionDtype: "bf16" },
  seekr: { teacherHeads: "all", importanceRows: "all", sensitivityMode: "all", reduction: "mean" },
  threads: 1,
} as RunExtras);

/** A deep-partial of {@link RunExtras}. */
export type RunExtrasInput = { [K in keyof RunExtras]?: RunExtras[K] extends object | null ? Partial<NonNullable<RunExtras[K]>> | RunExtras[K] : RunExtras[K] };

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`extras.${path}: expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function num(value: unknown, path: string, check: (x: number) => boolean, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || !check(value)) throw new Error(`extras.${path}: expected ${what}, got ${JSON.stringify(value)}`);
  return value;
}

/** Fills defaults and validates; errors name the field. */
export function resolveExtras(input: RunExtrasInput | undefined, config?: RunConfig): RunExtras {
  const fromConfig = (config as unknown as { extras?: RunExtrasInput } | undefined)?.extras;
  const i = { ...(fromConfig ?? {}), ...(input ?? {}) } as Partial<Record<keyof RunExtras, unknown>>;
  const d = DEFAULT_EXTRAS;
  const pre = { ...d.pretrain, ...((i.pretrain as object | undefined) ?? {}) };
  const ev = { ...d.eval, ...((i.eval as object | undefined) ?? {}) };
  const rp = { ...d.replay, ...((i.replay as object | undefined) ?? {}) };
  const sk = { ...d.seekr, ...((i.seekr as object | undefined) ?? {}) };
  const logits = rp.logits;
  if (!(logits === "auto" || logits === "full" || (typeof logits === "number" && Number.isInteger(logits) && logits >= 1))) {
    throw new Error(`extras.replay.logits: expected "auto", "full" or a positive integer (top-k), got ${JSON.stringify(logits)}`);
  }
  const cacheDir = i.cacheDir ?? null;
  if (cacheDir !== null && (typeof cacheDir !== "string" || cacheDir.length === 0)) throw new Error(`extras.cacheDir: expected a folder path, got ${JSON.stringify(cacheDir)}`);
  const threads = i.threads === undefined ? d.threads : i.threads;
  if (threads !== null) num(threads, "threads", (x) => Number.isInteger(x) && x >= 1, "a positive integer");
  return {
    template: oneOf(i.template ?? d.template, ["plain", "chat"], "template"),
    cacheDir: cacheDir as string | null,
    pretrain: {
      seqLen: num(pre.seqLen, "pretrain.seqLen", (x) => Number.isInteger(x) && x >= 2, "an integer ≥ 2"),
      seed: num(pre.seed, "pretrain.seed", (x) => Number.isSafeInteger(x) && x >= 0, "a non-negative integer"),
      warmup: num(pre.warmup, "pretrain.warmup", (x) => x >= 0 && x < 1, "a fraction in [0, 1)"),
      minLrRatio: num(pre.minLrRatio, "pretrain.minLrRatio", (x) => x >= 0 && x <= 1, "a number in [0, 1]"),
    },
    eval: {
      split: oneOf(ev.split, ["test", "eval"], "eval.split"),
      unseen: oneOf(ev.unseen, ["next", "all", "none"], "eval.unseen"),
      baseline: typeof ev.baseline === "boolean" ? ev.baseline : (() => { throw new Error(`extras.eval.baseline: expected a boolean, got ${JSON.stringify(ev.baseline)}`); })(),
    },
    replay: { logits, attentionDtype: oneOf(rp.attentionDtype, ["bf16", "f16", "f32"], "replay.attentionDtype") },
    seekr: {
      teacherHeads: oneOf(sk.teacherHeads, ["all", "layers", "selected"], "seekr.teacherHeads"),
      importanceRows: oneOf(sk.importanceRows, ["all", "query"], "seekr.importanceRows"),
      sensitivityMode: oneOf(sk.sensitivityMode, ["all", "visible"], "seekr.sensitivityMode"),
      reduction: oneOf(sk.reduction, ["mean", "batchmean", "sum"], "seekr.reduction"),
    },
    threads: threads as number | null,
  };
}
