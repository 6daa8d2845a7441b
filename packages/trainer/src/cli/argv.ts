// Splitting `--<dotted.config.path>=value` overrides out of the command line before the option parser sees it.

import { CliError, EXIT_USAGE } from "./errors.js";

/** One override from the command line: the field path and the raw string value. */
export interface Override {
  path: string;
  value: string;
}

/** A flag that names a config field by path: it contains a `.` or a `[index]` (`--training.lr`, `--methods[1].lambda2`). */
const FIELD_FLAG = /^--([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])+)(?:=(.*))?$/s;

/**
 * Removes the config-field overrides from argv: `--training.lr=1e-4`, `--training.lr 1e-4`,
 * `--set training.lr=1e-4` and `--set=training.lr=1e-4` (repeatable; the last one for a field wins).
 * Everything after a bare `--` is left alone. Returns the remaining arguments and the overrides in order.
 */
export function extractOverrides(argv: readonly string[]): { rest: string[]; overrides: Override[] } {
  const rest: string[] = [];
  const overrides: Override[] = [];
  const parseSet = (text: string | undefined, flag: string): void => {
    const eq = text === undefined ? -1 : text.indexOf("=");
    if (text === undefined || eq <= 0) throw new CliError(`${flag} expects FIELD=VALUE (e.g. --set training.lr=1e-4), got ${text === undefined ? "nothing" : JSON.stringify(text)}`, EXIT_USAGE);
    overrides.push({ path: text.slice(0, eq), value: text.slice(eq + 1) });
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--set") {
      parseSet(argv[++i], "--set");
      continue;
    }
    if (arg.startsWith("--set=")) {
      parseSet(arg.slice(6), "--set");
      continue;
    }
    const m = FIELD_FLAG.exec(arg);
    if (!m) {
      rest.push(arg);
      continue;
    }
    const path = m[1] as string;
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) throw new CliError(`--${path} expects a value (--${path}=VALUE)`, EXIT_USAGE);
      value = next;
      i++;
    }
    overrides.push({ path, value });
  }
  return { rest, overrides };
}
