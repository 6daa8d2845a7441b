// Tests of configuration defaults, derived values, cross-field checks and error messages naming field and value.

import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { defaultLabel, defaultLambda2, MODEL_PRESETS } from "./presets.js";
import { defaultConfig, resolveConfig } from "./resolve.js";

/** The issue lines of the ConfigError thrown by resolving `input`. */
function problems(input: unknown): string[] {
  try {
    resolveConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  const c = defaultConfig();

  it("fills every top-level section", () => {
    expect(c).toMatchObject({ seed: 42, device: "auto", output: "runs/seekr", data: { source: "builtin" }, eval: { maxNewTokens: 16, batchSize: 64, decoding: "greedy" }, checkpoint: { everySteps: 0 } });
    expect(resolveConfig(undefined)).toEqual(c);
    expect(resolveConfig(null)).toEqual(c);
  });

  it("training follows the reference setup where it is scale-free (six epochs: the tiny default model needs them)", () => {
    expect(c.training).toEqual({ epochs: 6, batchSize: 16, lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0, gradClip: 1, maxLength: 64, evalEvery: 0, precision: "float32" });
  });

  it("model: tiny preset with a byte tokenizer, pre-trained 1500 steps on the built-in corpus", () => {
    expect(c.model).toEqual({ preset: "tiny", ...MODEL_PRESETS.tiny, tokenizer: "byte", pretrain: { steps: 1500, corpus: "builtin", batchSize: 32, lr: 3e-3 } });
  });

  it("methods: SeqFT, Replay 1%, SEEKR 1% with the paper's hyper-parameters", () => {
    expect(c.methods.map((m) => m.label)).toEqual(["seqft", "replay-1%", "seekr-1%"]);
    const seekr = c.methods[2];
    expect(seekr).toEqual({
      name: "seekr",
      label: "seekr-1%",
      replayRatio: 0.01,
      lambda1: 0.5,
      lambda2: 1000,
      budget: { layers: { fraction: 0.75 }, heads: { fraction: 0.125 }, queryRows: 100, strategy: "importance" },
      importance: { measure: "both", combine: "sum-of-products" },
      interleave: "every-batch",
      lwf: { temperature: 2, alpha: 1 },
      ewc: { lambda: 100, samples: 200 },
    });
  });

  it("a method entry gets every default but its name", () => {
    const m = resolveConfig({ methods: [{ name: "ewc" }] }).methods;
    expect(m).toHaveLength(1);
    expect(m[0]).toEqual({ ...defaultConfig().methods[0], name: "ewc", label: "ewc" });
  });

  it("model fields override the preset one by one", () => {
    const m = resolveConfig({ model: { preset: "small", numHiddenLayers: 2, numKeyValueHeads: 8 } }).model;
    expect(m).toMatchObject({ ...MODEL_PRESETS.small, numHiddenLayers: 2, numKeyValueHeads: 8, preset: "small" });
  });
});

describe("derived defaults", () => {
  it("λ2 = 10 / replayRatio within [100, 1000]: 1e3 at 1%, 1e2 at 10%", () => {
    expect(defaultLambda2(0.01)).toBe(1000);
    expect(defaultLambda2(0.1)).toBe(100);
    expect(defaultLambda2(0.05)).toBe(200);
    expect(defaultLambda2(0.001)).toBe(1000);
    expect(defaultLambda2(1)).toBe(100);
    const [a, b] = resolveConfig({ methods: [{ name: "seekr", replayRatio: 0.1 }, { name: "seekr", lambda2: 5 }] }).methods;
    expect(a?.lambda2).toBe(100);
    expect(b?.lambda2).toBe(5);
  });

  it("labels carry the replay percentage for replay-based methods", () => {
    expect(defaultLabel("seekr", 0.1)).toBe("seekr-10%");
    expect(defaultLabel("derpp", 0.015)).toBe("derpp-1.5%");
    expect(defaultLabel("lwf", 0.1)).toBe("lwf");
    const labels = resolveConfig({ methods: [{ name: "seekr" }, { name: "seekr", replayRatio: 0.1 }, { name: "seekr", label: "seekr-random", budget: { strategy: "random" } }] }).methods.map((m) => m.label);
    expect(labels).toEqual(["seekr-1%", "seekr-10%", "seekr-random"]);
  });
});

describe("errors name the field path and the value", () => {
  it("the brief's example", () => {
    expect(problems({ methods: [{ name: "seekr" }, { name: "replay", replayRatio: 2 }] })).toEqual(["methods[1].replayRatio: expected a number in (0, 1], got 2"]);
  });

  it("types, ranges and enums", () => {
    expect(
      problems({
        seed: 1.5,
        device: "gpu",
        output: "",
        training: { lr: -1, betas: [0.9], batchSize: "16", gradClip: -1 },
        eval: { decoding: "beam" },
        methods: [{ name: "sgd", lambda1: 2, budget: { heads: { fraction: 2 }, layers: -3, strategy: "top" }, importance: { combine: "max" } }],
      }),
    ).toEqual([
      "seed: expected an integer, got 1.5",
      'device: expected "auto", "cpu", "cuda" or "cuda:N", got "gpu"',
      'output: expected a folder path, got ""',
      "training.batchSize: expected a positive integer, got \"16\"",
      "training.lr: expected a positive number, got -1",
      "training.betas: expected two numbers [beta1, beta2], each in [0, 1), got [0.9]",
      "training.gradClip: expected a non-negative number (0 disables clipping), got -1",
      'methods[0].name: expected one of "seqft", "replay", "derpp", "lwf", "ewc", "seekr", "multitask", got "sgd"',
      "methods[0].lambda1: expected a number in [0, 1], got 2",
      "methods[0].budget.layers: expected a non-negative integer count or {fraction} in [0, 1], got -3",
      "methods[0].budget.heads.fraction: expected a non-negative integer count or {fraction} in [0, 1], got 2",
      'methods[0].budget.strategy: expected one of "importance", "random", "all", got "top"',
      'methods[0].importance.combine: expected one of "sum-of-products", "product-of-sums", got "max"',
      'eval.decoding: expected "greedy" (the only decoding supported), got "beam"',
    ]);
  });

  it("missing required fields and wrong shapes", () => {
    expect(problems({ methods: [{ replayRatio: 0.1 }] })).toEqual([
      'methods[0].name: expected one of "seqft", "replay", "derpp", "lwf", "ewc", "seekr", "multitask", but it is missing',
    ]);
    expect(problems({ data: "x", methods: "seekr" })).toEqual(['data: expected an object (mapping of fields), got "x"', 'methods: expected a list of method configurations, got "seekr"']);
    expect(problems({ methods: [] })).toEqual(["methods: expected at least one method, got []"]);
    expect(problems([1, 2])).toEqual(["(root): expected a mapping of settings, got [1,2]"]);
  });

  it("unknown fields, with a suggestion for typos", () => {
    expect(problems({ trainig: {}, training: { lrr: 1 }, methods: [{ name: "seekr", lamda2: 1 }], zzz: 1 })).toEqual([
      'training.lrr: unknown field (did you mean "lr"?)',
      'methods[0].lamda2: unknown field (did you mean "lambda2"?)',
      'trainig: unknown field (did you mean "training"?)',
      "zzz: unknown field",
    ]);
  });

  it("cross-field checks", () => {
    expect(problems({ data: { source: "trace" } })).toEqual(['data.path: required when data.source is "trace", but it is missing']);
    expect(problems({ data: { tasks: ["reverse", "zzz", "reverse"], metrics: { reverse: "sari" } } })).toEqual([
      'data.metrics: only used with data.source "trace" or "jsonl" (built-in tasks are scored by exact match)',
      'data.tasks[1]: unknown built-in task "zzz" (available: reverse, sort, upper, cipher, decode, shift, kv, add, count)',
      'data.tasks[2]: "reverse" is listed twice (also data.tasks[0])',
    ]);
    expect(problems({ model: { numAttentionHeads: 5 } })).toEqual(["model.numAttentionHeads: expected a divisor of hiddenSize (64), got 5"]);
    expect(problems({ model: { preset: "small", numAttentionHeads: 2 } })).toEqual([
      'model.numKeyValueHeads: expected a divisor of numAttentionHeads (2), got 4 (from preset "small")',
    ]);
    expect(problems({ methods: [{ name: "seekr" }, { name: "seekr" }] })).toEqual([
      'methods[1].label: duplicate label "seekr-1%" (also methods[0]); give the methods distinct labels',
    ]);
    expect(problems({ data: { source: "jsonl", path: "d", metrics: { t: "bleu" } } })).toEqual([
      'data.metrics.t: expected one of "exact_match", "accuracy", "rougeL", "edit_similarity", "fuzz_ratio", "sari", got "bleu"',
    ]);
  });

  it("the error message lists every problem", () => {
    expect(() => resolveConfig({ seed: "x", device: 3 }, "configuration in run.yaml")).toThrow(
      'Invalid configuration in run.yaml: 2 problems\n  - seed: expected an integer, got "x"\n  - device: expected "auto", "cpu", "cuda" or "cuda:N", got 3',
    );
  });

  it("accepts every documented device form", () => {
    for (const device of ["auto", "cpu", "cuda", "cuda:0", "cuda:12"]) expect(resolveConfig({ device }).device).toBe(device);
    expect(problems({ device: "cuda:" })).toHaveLength(1);
  });
});
