// Loading a run configuration from a JSON or YAML file, with CLI overrides, into a resolved RunConfig.

import { readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import YAML from "yaml";
import { parseJson } from "../data/json.js";
import { formatValue } from "../format.js";
import { ConfigError } from "./errors.js";
import { applyOverrides } from "./overrides.js";
import { resolveConfig } from "./resolve.js";
import type { RunConfig } from "./types.js";

/** Path fields resolved against the config file's folder, with the special values that are not paths. */
const PATH_FIELDS: readonly [readonly string[], string | undefined][] = [
  [["output"], undefined],
  [["data", "path"], undefined],
  [["model", "checkpoint"], undefined],
  [["model", "tokenizer"], "byte"],
  [["model", "pretrain", "corpus"], "builtin"],
];

/**
 * Reads a configuration file as a plain object (not validated). `.json` is parsed as JSON, `.yaml` / `.yml`
 * as YAML; syntax errors are reported with line and column. An empty file is an empty configuration.
 * Relative paths in the file (output, data.path, model.checkpoint, model.tokenizer, model.pretrain.corpus)
 * are made absolute against the file's folder.
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([{ path: file, message: code === "ENOENT" ? "configuration file not found" : `cannot read (${code ?? (e as Error).message})` }]);
  }
  const ext = extname(file).toLowerCase();
  let value: unknown;
  if (ext === ".json") {
    if (text.trim() === "") value = {};
    else {
      const r = parseJson(text);
      if (!r.ok) throw new ConfigError([{ path: `${file}:${r.error.line}:${r.error.column}`, message: `malformed JSON: ${r.error.message}` }]);
      value = r.value;
    }
  } else if (ext === ".yaml" || ext === ".yml") {
    const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const err = doc.errors[0];
    if (err !== undefined) {
      const pos = err.linePos?.[0];
      const where = pos !== undefined ? `${file}:${pos.line}:${pos.col}` : file;
      const message = (err.message.split("\n")[0] as string).replace(/ at line \d+, column \d+:?$/, "");
      throw new ConfigError([{ path: where, message: `malformed YAML: ${message}` }]);
    }
    value = doc.toJS() ?? {};
  } else {
    throw new ConfigError([{ path: file, message: `unsupported configuration file type ${formatValue(ext)} (use .json, .yaml or .yml)` }]);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError([{ path: file, message: `expected a mapping of settings at the top level, got ${formatValue(value)}` }]);
  }
  const config = value as Record<string, unknown>;
  const base = dirname(resolve(file));
  for (const [path, special] of PATH_FIELDS) {
    let node: unknown = config;
    for (const seg of path.slice(0, -1)) node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[seg] : undefined;
    const key = path[path.length - 1] as string;
    if (typeof node !== "object" || node === null || Array.isArray(node)) continue;
    const v = (node as Record<string, unknown>)[key];
    if (typeof v === "string" && v !== "" && v !== special && !isAbsolute(v)) (node as Record<string, unknown>)[key] = resolve(base, v);
  }
  return config;
}

export interface LoadConfigOptions {
  /** Overrides applied after the file, in order: `["--training.lr=1e-4"]` or `{ "training.lr": "1e-4" }`. */
  overrides?: readonly string[] | Readonly<Record<string, unknown>>;
}

/** Reads a JSON / YAML configuration file, applies overrides, validates and fills in defaults. */
export function loadConfig(file: string, options: LoadConfigOptions = {}): RunConfig {
  const raw = readConfigFile(file);
  const withOverrides = options.overrides !== undefined ? applyOverrides(raw, options.overrides) : raw;
  return resolveConfig(withOverrides, `configuration in ${file}`);
}
