// Configuration errors: field paths (`methods[1].replayRatio`), one message listing every bad field and its value.

import type * as z from "zod";
import { formatValue } from "../format.js";
import { levenshtein } from "../metrics/edit.js";

export type PathSegment = string | number;

/** One bad field: its dotted path and what is wrong (including the offending value). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Every problem found in a configuration, thrown at once. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source = "configuration") {
    const lines = issues.map((i) => `  - ${i.path}: ${i.message}`);
    super(`Invalid ${source}: ${issues.length} problem${issues.length === 1 ? "" : "s"}\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** `["methods", 1, "replayRatio"]` → `methods[1].replayRatio`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out === "" ? "(root)" : out;
}

/**
 * `methods[1].replayRatio` or `methods.1.replayRatio` → segments. Bracketed indices become numbers; bare
 * digit segments stay strings (they index arrays when the value there is an array).
 */
export function parsePath(path: string): PathSegment[] {
  const segs: PathSegment[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/y;
  let i = 0;
  let expectName = true;
  while (i < path.length) {
    if (!expectName && path[i] === ".") {
      i++;
      expectName = true;
      continue;
    }
    re.lastIndex = i;
    const m = re.exec(path);
    if (m === null || (m[1] !== undefined && !expectName)) throw new ConfigError([{ path, message: "malformed field path (expected e.g. training.lr or methods[1].replayRatio)" }]);
    if (m[2] !== undefined) segs.push(Number(m[2]));
    else segs.push(m[1] as string);
    i = re.lastIndex;
    expectName = false;
  }
  if (segs.length === 0 || expectName) throw new ConfigError([{ path, message: "malformed field path (expected e.g. training.lr or methods[1].replayRatio)" }]);
  return segs;
}

/** The value at `path` in `root`, and whether every step existed. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const seg of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, seg as PropertyKey)) return { found: false, value: undefined };
    node = (node as Record<PropertyKey, unknown>)[seg as PropertyKey];
  }
  return { found: true, value: node };
}

/** The closest known name to an unknown one, if it is close enough to be a typo. */
export function suggestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0 : levenshtein(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** Converts zod issues into field issues, quoting each offending value from the raw input. */
export function issuesFromZod(issues: readonly z.core.$ZodIssue[], input: unknown, knownKeys: (path: readonly PathSegment[]) => string[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const hint = suggestName(key, knownKeys(path));
        out.push({ path: formatPath([...path, key]), message: `unknown field${hint !== undefined ? ` (did you mean "${hint}"?)` : ""}` });
      }
      continue;
    }
    const { found, value } = valueAt(input, path);
    let message = issue.message;
    if (issue.code === "invalid_type" && issue.expected === "object" && !message.startsWith("expected")) message = "expected an object (mapping of fields)";
    out.push({ path: formatPath(path), message: found ? `${message}, got ${formatValue(value)}` : `${message}, but it is missing` });
  }
  return out;
}
