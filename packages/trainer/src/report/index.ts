// The HTML report of a run folder (or a comparison of several): loading, SVG charts, page assembly, writing.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { buildReport } from "./html.js";

export { buildReport, learnedTasks, type MethodSummary, renderReport, summarize } from "./html.js";
export {
  type ImportanceFile,
  type LogEntry,
  type LossCurve,
  loadRun,
  MAX_CURVE_POINTS,
  type MethodScores,
  readImportance,
  readLossCurves,
  RunFolderError,
  type RunData,
  type ScoresFile,
  type TaskImportance,
} from "./load.js";

/** Where `seekr report` writes by default: `<run>/report.html` for one run, `./comparison-report.html` for several. */
export function defaultReportPath(runDirs: string[], cwd = process.cwd()): string {
  return runDirs.length === 1 ? join(resolve(cwd, runDirs[0] as string), "report.html") : resolve(cwd, "comparison-report.html");
}

/** Builds the report and writes it atomically (temp file + rename). Returns the path written. */
export function writeReport(runDirs: string[], outFile = defaultReportPath(runDirs)): string {
  const html = buildReport(runDirs);
  const out = resolve(outFile);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, html);
  renameSync(tmp, out);
  return out;
}
