// The configuration a command runs with: defaults < config file (or the resumed run's config.json) < overrides < flags.

import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { readConfigFile, resolveConfig, setConfigValue, type RunConfig } from "../config/index.js";
import type { Override } from "./argv.js";
import { CliError, EXIT_USAGE } from "./errors.js";

/** The options shared by `seekr run` and `seekr config` that shape the configuration. */
export interface ConfigFlags {
  config?: string;
  resume?: string;
  output?: string;
  device?: string;
  seed?: string;
  methods?: string;
}

export interface CliConfig {
  config: RunConfig;
  /** Settings outside the config schema (`--extras.*` overrides, or `extras` in a resumed run's config.json), for runExperiment. */
  extras: Record<string, unknown> | undefined;
  /** Where the configuration came from, for messages. */
  source: string;
  /** The run folder being resumed (absolute), if any. */
  resume: string | undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * `--methods seqft,replay,seekr-10%` → the methods list. A name or label that the configuration file already
 * defines keeps that method's settings; `name-N%` sets the replay ratio; anything else becomes `{name}` (and
 * the config schema reports it if it is not a method).
 */
export function methodsFromFlag(flag: string, existing: unknown): Record<string, unknown>[] {
  const items = flag.split(",").map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new CliError(`--methods expects a comma-separated list such as seqft,replay,seekr, got ${JSON.stringify(flag)}`, EXIT_USAGE);
  const defined = Array.isArray(existing) ? existing.filter(isRecord) : [];
  return items.map((item) => {
    const byLabel = defined.find((m) => m.label === item);
    if (byLabel) return structuredClone(byLabel);
    const byName = defined.find((m) => m.name === item);
    if (byName) return structuredClone(byName);
    const pct = /^([a-z+]+)-(\d+(?:\.\d+)?)%$/i.exec(item);
    if (pct) return { name: (pct[1] as string).toLowerCase(), replayRatio: Number(pct[2]) / 100 };
    return { name: item };
  });
}

/** Sets a path on an extras object (`extras.eval.unseen=all`), coercing numbers, booleans and null. */
function setExtra(extras: Record<string, unknown>, path: string[], value: string): void {
  let node = extras;
  for (const seg of path.slice(0, -1)) {
    if (!isRecord(node[seg])) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
  }
  const v = value.trim();
  node[path[path.length - 1] as string] =
    v === "true" ? true : v === "false" ? false : v === "null" ? null : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : value;
}

/** Resolves the configuration for `seekr run` / `seekr config`; ConfigError (exit 2) names any bad field. */
export function resolveCliConfig(flags: ConfigFlags, overrides: readonly Override[], cwd = process.cwd()): CliConfig {
  let raw: Record<string, unknown> = {};
  let source = "default configuration";
  let resume: string | undefined;
  if (flags.resume !== undefined) {
    resume = resolve(cwd, flags.resume);
    if (!existsSync(resume)) throw new CliError(`--resume: run folder not found: ${flags.resume}`, EXIT_USAGE);
    if (!statSync(resume).isDirectory()) throw new CliError(`--resume: not a folder: ${flags.resume}`, EXIT_USAGE);
    if (flags.output !== undefined && resolve(cwd, flags.output) !== resume) {
      throw new CliError(`--resume continues the run in ${flags.resume}; --output cannot name another folder (${flags.output})`, EXIT_USAGE);
    }
  }
  if (flags.config !== undefined) {
    raw = readConfigFile(resolve(cwd, flags.config));
    source = `configuration in ${flags.config}`;
  } else if (resume !== undefined) {
    const file = join(resume, "config.json");
    if (!existsSync(file)) throw new CliError(`--resume: ${flags.resume} is not a run folder (no config.json in it)`, EXIT_USAGE);
    raw = readConfigFile(file);
    source = `configuration of the run in ${flags.resume}`;
  }
  let extras: Record<string, unknown> | undefined;
  if (isRecord(raw.extras)) {
    extras = structuredClone(raw.extras);
  }
  delete raw.extras;

  for (const o of overrides) {
    if (o.path === "extras" || o.path.startsWith("extras.")) {
      const path = o.path.split(".").slice(1);
      if (!path.length) throw new CliError("--extras expects a field, e.g. --extras.eval.unseen=all", EXIT_USAGE);
      extras ??= {};
      setExtra(extras, path, o.value);
      continue;
    }
    raw = setConfigValue(raw, o.path, o.value);
  }
  if (flags.seed !== undefined) raw = setConfigValue(raw, "seed", flags.seed);
  if (flags.device !== undefined) raw = setConfigValue(raw, "device", flags.device);
  if (flags.methods !== undefined) raw = setConfigValue(raw, "methods", methodsFromFlag(flags.methods, raw.methods));
  if (resume !== undefined) raw = setConfigValue(raw, "output", resume);
  else if (flags.output !== undefined) raw = setConfigValue(raw, "output", resolve(cwd, flags.output));
  if (overrides.length || [flags.seed, flags.device, flags.methods, flags.output].some((v) => v !== undefined)) source += " with command-line overrides";
  const config = resolveConfig(raw, source);
  // The run folder as the run will use it (a relative default such as runs/seekr is taken from the working folder).
  config.output = resolve(cwd, config.output);
  return { config, extras, source, resume };
}
