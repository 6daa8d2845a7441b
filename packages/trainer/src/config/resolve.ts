// Resolving a raw configuration: schema validation with defaults, derived defaults, and cross-field checks.

import { formatValue } from "../format.js";
import type { MetricName } from "../metrics/registry.js";
import { BUILTIN_TASK_NAMES } from "../tasks/registry.js";
import { ConfigError, type ConfigIssue, issuesFromZod } from "./errors.js";
import { knownKeysAt } from "./introspect.js";
import { defaultLabel, defaultLambda2, MODEL_PRESETS, MODEL_SHAPE_FIELDS } from "./presets.js";
import { type ParsedConfig, runConfigSchema } from "./schema.js";
import type { Device, MethodConfig, ModelShape, RunConfig } from "./types.js";

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Validates a raw configuration (as read from JSON / YAML, overrides applied) and fills in every default:
 * schema defaults, the model shape from the preset, each method's λ2 and label. Throws one
 * {@link ConfigError} naming every bad field (path and value).
 */
export function resolveConfig(input: unknown, source = "configuration"): RunConfig {
  if (input === undefined || input === null) input = {};
  if (!isPlainObject(input)) {
    throw new ConfigError([{ path: "(root)", message: `expected a mapping of settings, got ${formatValue(input)}` }], source);
  }
  const parsed = runConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      issuesFromZod(parsed.error.issues, input, (path) => knownKeysAt(runConfigSchema, path)),
      source,
    );
  }
  const issues: ConfigIssue[] = [];
  const config = finalize(parsed.data, input, issues);
  if (issues.length > 0) throw new ConfigError(issues, source);
  return config;
}

/** The configuration with every default (what an empty file gives). */
export function defaultConfig(): RunConfig {
  return resolveConfig({});
}

function finalize(p: ParsedConfig, raw: Record<string, unknown>, issues: ConfigIssue[]): RunConfig {
  const add = (path: string, message: string): void => {
    issues.push({ path, message });
  };

  // data
  const data = p.data;
  if (data.source !== "builtin" && data.path === undefined) add("data.path", `required when data.source is ${JSON.stringify(data.source)}, but it is missing`);
  if (data.source === "builtin" && data.metrics !== undefined) {
    add("data.metrics", 'only used with data.source "trace" or "jsonl" (built-in tasks are scored by exact match)');
  }
  if (data.tasks !== undefined) {
    const seen = new Map<string, number>();
    data.tasks.forEach((t, i) => {
      if (seen.has(t)) add(`data.tasks[${i}]`, `${JSON.stringify(t)} is listed twice (also data.tasks[${seen.get(t)}])`);
      else seen.set(t, i);
      if (data.source === "builtin" && !BUILTIN_TASK_NAMES.includes(t)) {
        add(`data.tasks[${i}]`, `unknown built-in task ${JSON.stringify(t)} (available: ${BUILTIN_TASK_NAMES.join(", ")})`);
      }
    });
  }

  // model: preset shape, overridden field by field
  const preset = MODEL_PRESETS[p.model.preset];
  const shape = {} as ModelShape;
  for (const f of MODEL_SHAPE_FIELDS) shape[f] = p.model[f] ?? preset[f];
  const from = (f: keyof ModelShape): string => (p.model[f] === undefined ? ` (from preset ${JSON.stringify(p.model.preset)})` : "");
  if (shape.hiddenSize % shape.numAttentionHeads !== 0) {
    add("model.numAttentionHeads", `expected a divisor of hiddenSize (${shape.hiddenSize}), got ${shape.numAttentionHeads}${from("numAttentionHeads")}`);
  } else if (shape.numAttentionHeads % shape.numKeyValueHeads !== 0) {
    add("model.numKeyValueHeads", `expected a divisor of numAttentionHeads (${shape.numAttentionHeads}), got ${shape.numKeyValueHeads}${from("numKeyValueHeads")}`);
  }

  // methods: derived λ2 and labels, labels unique
  const rawMethods = Array.isArray(raw.methods) ? raw.methods : [];
  const methods: MethodConfig[] = p.methods.map((m) => ({
    name: m.name,
    label: m.label ?? defaultLabel(m.name, m.replayRatio),
    replayRatio: m.replayRatio,
    lambda1: m.lambda1,
    lambda2: m.lambda2 ?? defaultLambda2(m.replayRatio),
    budget: m.budget,
    importance: m.importance,
    interleave: m.interleave,
    lwf: m.lwf,
    ewc: m.ewc,
  }));
  const labels = new Map<string, number>();
  methods.forEach((m, i) => {
    const first = labels.get(m.label);
    if (first === undefined) {
      labels.set(m.label, i);
      return;
    }
    const given = (rawMethods[i] as Record<string, unknown> | undefined)?.label !== undefined;
    add(`methods[${i}].label`, `duplicate label ${JSON.stringify(m.label)} (also methods[${first}])${given ? "" : "; give the methods distinct labels"}`);
  });

  return {
    seed: p.seed,
    device: p.device as Device,
    output: p.output,
    data: {
      source: data.source,
      ...(data.path !== undefined ? { path: data.path } : {}),
      ...(data.tasks !== undefined ? { tasks: data.tasks } : {}),
      ...(data.samplesPerTask !== undefined ? { samplesPerTask: data.samplesPerTask } : {}),
      ...(data.metrics !== undefined ? { metrics: data.metrics as Record<string, MetricName> } : {}),
    },
    model: {
      preset: p.model.preset,
      ...shape,
      tokenizer: p.model.tokenizer,
      ...(p.model.checkpoint !== undefined ? { checkpoint: p.model.checkpoint } : {}),
      pretrain: p.model.pretrain,
    },
    training: { ...p.training, betas: [p.training.betas[0], p.training.betas[1]] },
    methods,
    eval: p.eval,
    checkpoint: p.checkpoint,
  };
}
