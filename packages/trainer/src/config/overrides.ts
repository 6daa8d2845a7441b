// Setting configuration fields by dotted path (CLI overrides such as --training.lr=1e-4), coercing strings by the schema.

import { formatValue } from "../format.js";
import { ConfigError, formatPath, type PathSegment, parsePath } from "./errors.js";
import { childSchema, defaultOf, kindOf, schemaAt, unionOptions, unwrap } from "./introspect.js";
import { runConfigSchema } from "./schema.js";

type Schema = Parameters<typeof unwrap>[0];

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Converts a command-line string to the type the schema expects at that field. Anything that does not
 * convert is left as the string, so validation reports it with the field and value.
 * - numbers: decimal or scientific notation (`1e-4`); booleans: `true` / `false`;
 * - lists and tuples: JSON (`[0.9,0.95]`) or comma-separated (`0.9,0.95`, `reverse,kv`), each item coerced;
 * - objects: JSON (`{"fraction":0.125}`); a budget also takes a percentage (`12.5%` → {fraction: 0.125});
 * - strings and enums: as given.
 */
export function coerceValue(schema: Schema | undefined, text: string): unknown {
  if (schema === undefined) return text;
  const s = text.trim();
  switch (kindOf(schema)) {
    case "number":
      return NUMBER.test(s) ? Number(s) : text;
    case "boolean":
      return s === "true" ? true : s === "false" ? false : text;
    case "array":
    case "tuple": {
      if (s.startsWith("[")) {
        const j = tryJson(s);
        return j.ok ? j.value : text;
      }
      if (s === "") return [];
      return s.split(",").map((item, i) => coerceValue(childSchema(schema, i), item.trim()));
    }
    case "object":
    case "record": {
      if (!s.startsWith("{")) return text;
      const j = tryJson(s);
      return j.ok ? j.value : text;
    }
    case "union": {
      if (s.startsWith("{") || s.startsWith("[")) {
        const j = tryJson(s);
        return j.ok ? j.value : text;
      }
      const options = unionOptions(schema);
      const kinds = options.map((o) => kindOf(o));
      const pct = /^([+-]?(\d+\.?\d*|\.\d+))%$/.exec(s);
      if (pct !== null && options.some((o) => childSchema(o, "fraction") !== undefined)) return { fraction: Number(pct[1]) / 100 };
      if (kinds.includes("number") && NUMBER.test(s)) return Number(s);
      return text;
    }
    default:
      return text;
  }
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === "object" && v !== null;

/**
 * A copy of `config` with the field at `path` set to `value` (a string is coerced by the schema, see
 * {@link coerceValue}; the string "null" removes the field, so its default applies). Missing parents
 * are created, from the schema's default where it has one (so `methods[1].lambda2=100` edits the
 * default method list). Does not validate: pass the result to resolveConfig. Apply overrides to the raw
 * configuration: derived defaults (method labels, λ2) of an already resolved one would not follow.
 */
export function setConfigValue<T extends object>(config: T, path: string, value: unknown): T {
  const segs = parsePath(path);
  const root = structuredClone(config) as Record<string, unknown>;
  let node: Record<string, unknown> | unknown[] = root;
  let schema: Schema | undefined = runConfigSchema;
  const where = (i: number): string => formatPath(segs.slice(0, i + 1));

  const keyFor = (container: Record<string, unknown> | unknown[], seg: PathSegment, i: number): string | number => {
    if (Array.isArray(container)) {
      if (!/^\d+$/.test(String(seg))) throw new ConfigError([{ path: where(i), message: `expected a list index, got ${formatValue(seg)}` }]);
      const index = Number(seg);
      if (index > container.length) {
        throw new ConfigError([{ path: where(i), message: `index out of range: the list has ${container.length} entries (use [${container.length}] to append)` }]);
      }
      return index;
    }
    if (typeof seg === "number") throw new ConfigError([{ path: where(i), message: `${formatPath(segs.slice(0, i))} is not a list` }]);
    return seg;
  };

  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i] as PathSegment;
    const key = keyFor(node, seg, i);
    schema = schema === undefined ? undefined : childSchema(schema, seg);
    const container = node as Record<string | number, unknown>;
    let next = container[key];
    if (next === undefined) {
      const fallback = schema === undefined ? undefined : defaultOf(schema);
      const wantsList = typeof segs[i + 1] === "number" || (schema !== undefined && ["array", "tuple"].includes(kindOf(schema)));
      next = isContainer(fallback) ? fallback : wantsList ? [] : {};
      container[key] = next;
    } else if (!isContainer(next)) {
      throw new ConfigError([{ path: where(i), message: `cannot set ${path}: ${where(i)} is ${formatValue(next)}, not an object or list` }]);
    }
    node = next as Record<string, unknown> | unknown[];
  }

  const last = segs[segs.length - 1] as PathSegment;
  const key = keyFor(node, last, segs.length - 1);
  const leafSchema = schema === undefined ? undefined : childSchema(schema, last);
  if (value === "null") {
    if (Array.isArray(node)) node.splice(key as number, 1);
    else delete (node as Record<string, unknown>)[key as string];
  } else {
    (node as Record<string | number, unknown>)[key] = typeof value === "string" ? coerceValue(leafSchema, value) : value;
  }
  return root as T;
}

/** `--training.lr=1e-4` or `training.lr=1e-4` → { path: "training.lr", value: "1e-4" }. */
export function parseOverride(arg: string): { path: string; value: string } {
  const body = arg.startsWith("--") ? arg.slice(2) : arg;
  const eq = body.indexOf("=");
  if (eq <= 0) throw new ConfigError([{ path: arg, message: "expected an override of the form --field.path=value" }]);
  return { path: body.slice(0, eq), value: body.slice(eq + 1) };
}

/** Applies overrides in order: `["--training.lr=1e-4", ...]` or `{ "training.lr": "1e-4", ... }`. */
export function applyOverrides<T extends object>(config: T, overrides: readonly string[] | Readonly<Record<string, unknown>>): T {
  const pairs: [string, unknown][] = Array.isArray(overrides)
    ? (overrides as readonly string[]).map((o) => {
        const { path, value } = parseOverride(o);
        return [path, value];
      })
    : Object.entries(overrides);
  return pairs.reduce<T>((c, [path, value]) => setConfigValue(c, path, value), config);
}

/** The schema at a dotted path (undefined for unknown fields). */
export function fieldSchema(path: string): Schema | undefined {
  return schemaAt(runConfigSchema, parsePath(path));
}
