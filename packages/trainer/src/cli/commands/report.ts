// `seekr report RUN [RUN...] [--out FILE]`: (re)builds report.html from run folders.

import { relative, resolve } from "node:path";
import { defaultReportPath, writeReport } from "../../report/index.js";
import type { CliIO } from "../main.js";

/** A path as the user would type it: relative to the working folder when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !resolve(rel).startsWith("..") ? rel : path;
}

export function commandReport(runs: string[], opts: { out?: string }, io: Pick<CliIO, "stdout" | "cwd">): number {
  const dirs = runs.map((r) => resolve(io.cwd, r));
  const out = opts.out !== undefined ? resolve(io.cwd, opts.out) : defaultReportPath(dirs, io.cwd);
  const written = writeReport(dirs, out);
  io.stdout.write(`Report written: ${displayPath(written, io.cwd)}${dirs.length > 1 ? ` (comparison of ${dirs.length} runs)` : ""}\n`);
  return 0;
}
