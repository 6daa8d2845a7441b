// The zod schema of a run configuration file: every field optional with a default; messages say what is expected.

import * as z from "zod";
import { METRIC_NAMES } from "../metrics/registry.js";

const quoted = (values: readonly string[]): string => values.map((v) => JSON.stringify(v)).join(", ");

/** A closed set of strings. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${quoted(values)}` });
}

/** An integer ≥ min. */
function integer(min: number, what = min === 0 ? "a non-negative integer" : min === 1 ? "a positive integer" : `an integer ≥ ${min}`) {
  const e = { error: `expected ${what}` };
  return z.number(e).int(e).min(min, e);
}

/** A finite number with optional bounds; `what` describes the accepted range. */
function number(what: string, bounds: { gt?: number; gte?: number; lt?: number; lte?: number } = {}) {
  const e = { error: `expected ${what}` };
  let s = z.number(e);
  if (bounds.gt !== undefined) s = s.gt(bounds.gt, e);
  if (bounds.gte !== undefined) s = s.gte(bounds.gte, e);
  if (bounds.lt !== undefined) s = s.lt(bounds.lt, e);
  if (bounds.lte !== undefined) s = s.lte(bounds.lte, e);
  return s;
}

function text(what = "a non-empty string") {
  const e = { error: `expected ${what}` };
  return z.string(e).min(1, e);
}

const BUDGET = "expected a non-negative integer count or {fraction} in [0, 1]";
const budgetValue = z.union(
  [
    z.number({ error: BUDGET }).int({ error: BUDGET }).min(0, { error: BUDGET }),
    z.strictObject({ fraction: z.number({ error: BUDGET }).min(0, { error: BUDGET }).max(1, { error: BUDGET }) }),
  ],
  { error: BUDGET },
);

const BETAS = "expected two numbers [beta1, beta2], each in [0, 1)";
const beta = z.number({ error: BETAS }).min(0, { error: BETAS }).lt(1, { error: BETAS });

export const METHOD_NAMES = ["seqft", "replay", "derpp", "lwf", "ewc", "seekr", "multitask"] as const;

const dataSchema = z.strictObject({
  source: oneOf(["builtin", "trace", "jsonl"]).default("builtin"),
  path: text("a folder path").optional(),
  tasks: z.array(text("a task name"), { error: "expected a list of task names" }).min(1, { error: "expected at least one task name" }).optional(),
  samplesPerTask: z
    .union(
      [
        integer(1),
        z.strictObject({ train: integer(1).optional(), eval: integer(1).optional(), test: integer(1).optional() }),
      ],
      { error: "expected a positive integer or {train, eval, test} of positive integers" },
    )
    .optional(),
  metrics: z.record(z.string(), oneOf(METRIC_NAMES), { error: "expected a mapping from task name to metric name" }).optional(),
});

const modelSchema = z.strictObject({
  preset: oneOf(["tiny", "small"]).default("tiny"),
  hiddenSize: integer(1).optional(),
  numHiddenLayers: integer(1).optional(),
  numAttentionHeads: integer(1).optional(),
  numKeyValueHeads: integer(1).optional(),
  intermediateSize: integer(1).optional(),
  maxPositionEmbeddings: integer(1).optional(),
  tokenizer: text('"byte" or a path to a tokenizer.json').default("byte"),
  checkpoint: text("a checkpoint path").optional(),
  pretrain: z
    .strictObject({
      steps: integer(0).default(1500),
      corpus: text('"builtin" or a corpus file path').default("builtin"),
      batchSize: integer(1).default(32),
      lr: number("a positive number", { gt: 0 }).default(3e-3),
    })
    .prefault({}),
});

const trainingSchema = z.strictObject({
  epochs: integer(1).default(6),
  batchSize: integer(1).default(16),
  lr: number("a positive number", { gt: 0 }).default(1e-3),
  betas: z.tuple([beta, beta], { error: BETAS }).default([0.9, 0.95]),
  weightDecay: number("a non-negative number", { gte: 0 }).default(0),
  gradClip: number("a non-negative number (0 disables clipping)", { gte: 0 }).default(1.0),
  maxLength: integer(2).default(64),
  evalEvery: integer(0).default(0),
  precision: oneOf(["float32", "bfloat16", "float16"]).default("float32"),
});

const methodSchema = z.strictObject({
  name: oneOf(METHOD_NAMES),
  label: z
    .string({ error: "expected a label of letters, digits and . _ - + %" })
    .regex(/^[A-Za-z0-9._+%-]+$/, { error: "expected a label of letters, digits and . _ - + %" })
    .optional(),
  replayRatio: number("a number in (0, 1]", { gt: 0, lte: 1 }).default(0.01),
  lambda1: number("a number in [0, 1]", { gte: 0, lte: 1 }).default(0.5),
  lambda2: number("a non-negative number", { gte: 0 }).optional(),
  budget: z
    .strictObject({
      layers: budgetValue.default({ fraction: 0.75 }),
      heads: budgetValue.default({ fraction: 0.125 }),
      queryRows: integer(0).default(100),
      strategy: oneOf(["importance", "random", "all"]).default("importance"),
    })
    .prefault({}),
  importance: z
    .strictObject({
      measure: oneOf(["both", "sensitivity", "forgettability"]).default("both"),
      combine: oneOf(["sum-of-products", "product-of-sums"]).default("sum-of-products"),
    })
    .prefault({}),
  interleave: oneOf(["every-batch", "interleave", "concatenate"]).default("every-batch"),
  lwf: z
    .strictObject({
      temperature: number("a positive number", { gt: 0 }).default(2),
      alpha: number("a non-negative number", { gte: 0 }).default(1),
    })
    .prefault({}),
  ewc: z
    .strictObject({
      lambda: number("a non-negative number", { gte: 0 }).default(100),
      samples: integer(1).default(200),
    })
    .prefault({}),
});

/** Default method list: the comparison SeqFT vs Replay 1% vs SEEKR 1%. */
export const DEFAULT_METHODS = [{ name: "seqft" }, { name: "replay" }, { name: "seekr" }] as const;

/** The configuration file's schema (before derived defaults: method labels, λ2, model shape from the preset). */
export const runConfigSchema = z.strictObject({
  seed: integer(-Number.MAX_SAFE_INTEGER, "an integer").default(42),
  device: z
    .string({ error: 'expected "auto", "cpu", "cuda" or "cuda:N"' })
    .regex(/^(auto|cpu|cuda|cuda:\d+)$/, { error: 'expected "auto", "cpu", "cuda" or "cuda:N"' })
    .default("auto"),
  output: text("a folder path").default("runs/seekr"),
  data: dataSchema.prefault({}),
  model: modelSchema.prefault({}),
  training: trainingSchema.prefault({}),
  methods: z
    .array(methodSchema, { error: "expected a list of method configurations" })
    .min(1, { error: "expected at least one method" })
    .prefault(DEFAULT_METHODS.map((m) => ({ ...m }))),
  eval: z
    .strictObject({
      maxNewTokens: integer(1).default(16),
      batchSize: integer(1).default(64),
      decoding: z.literal("greedy", { error: 'expected "greedy" (the only decoding supported)' }).default("greedy"),
    })
    .prefault({}),
  checkpoint: z.strictObject({ everySteps: integer(0).default(0) }).prefault({}),
});

/** What the schema produces (RunConfig before derived defaults). */
export type ParsedConfig = z.output<typeof runConfigSchema>;
