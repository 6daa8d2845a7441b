// `seekr experiment`: expand a grid file into run folders, run them as `seekr run` children (--jobs at a time;
// complete folders skipped, interrupted ones resumed), then write the Markdown results document and its SVG plots.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  aggregate,
  applyGridOverrides,
  defaultGridFile,
  expandGrid,
  type GridRunResult,
  gitDirty,
  loadGrid,
  machineInfo,
  type Plan,
  renderResults,
  runGrid,
  runState,
  writeResults,
} from "../../experiment/index.js";
import { gitCommit } from "../../run/scores.js";
import type { Override } from "../argv.js";
import { CliError, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE } from "../errors.js";
import type { CliIO } from "../main.js";
import { displayPath } from "./report.js";
import { shellQuote } from "./run.js";

export interface ExperimentFlags {
  grid?: string;
  runs?: string;
  out?: string;
  jobs?: string;
  seeds?: string;
  orders?: string;
  only?: string;
  dryRun?: boolean;
  aggregateOnly?: boolean;
  overwrite?: boolean;
  verbose?: boolean;
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new CliError(`${flag} expects a positive integer, got ${JSON.stringify(value)}`, EXIT_USAGE);
  return Number(value);
}

/** The command line as the user gave it (options from the command line only, overrides as --set). */
export function experimentCommandLine(cmd: Pick<Command, "options" | "getOptionValue" | "getOptionValueSource">, overrides: readonly Override[]): string {
  const parts = ["seekr", "experiment"];
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (key === "verbose" || cmd.getOptionValueSource(key) !== "cli" || !opt.long) continue;
    const v: unknown = cmd.getOptionValue(key);
    if (typeof v === "boolean") parts.push(opt.long);
    else parts.push(opt.long, shellQuote(String(v)));
  }
  for (const o of overrides) parts.push("--set", shellQuote(`${o.path}=${o.value}`));
  return parts.join(" ");
}

/** The planned runs, one line each, with what the next invocation would do with them. */
function describePlan(plan: Plan, show: (p: string) => string, overwrite: boolean): string {
  const lines: string[] = [];
  const width = Math.max(...plan.runs.map((r) => r.name.length), 10);
  for (const run of plan.runs) {
    const st = runState(run);
    const what =
      st.state === "done" ? "complete (skip)" : st.state === "resume" ? "resume" : st.state === "stale" ? (overwrite ? "start over (other settings)" : "kept (other settings)") : "new";
    lines.push(`  ${run.name.padEnd(width)}  ${what.padEnd(16)}  ${run.labels.join(", ")}`);
  }
  const reused = new Map<string, number>();
  for (const u of plan.units) {
    for (const c of u.cells) {
      if (!c.reused) continue;
      const k = `${u.folder}: ${c.label} from ${c.run.split("/")[0]}`;
      reused.set(k, (reused.get(k) ?? 0) + 1);
    }
  }
  if (reused.size) {
    lines.push("", "Results reused (an identical method, order and seed is trained once):");
    for (const [k, n] of reused) lines.push(`  ${k} (${n} run${n === 1 ? "" : "s"})`);
  }
  return `Run folders under ${show(plan.root)} (in execution order):\n${lines.join("\n")}\n`;
}

export async function commandExperiment(flags: ExperimentFlags, overrides: readonly Override[], io: CliIO, commandLine: string): Promise<number> {
  const t0 = Date.now();
  const jobs = positive(flags.jobs, "--jobs") ?? 1;
  const seeds = positive(flags.seeds, "--seeds");
  const orders = positive(flags.orders, "--orders");
  const only = flags.only === undefined ? undefined : flags.only.split(",").map((s) => s.trim()).filter(Boolean);
  if (only !== undefined && !only.length) throw new CliError("--only expects comma-separated table or sweep ids", EXIT_USAGE);
  if (flags.dryRun && flags.aggregateOnly) throw new CliError("--dry-run and --aggregate-only exclude each other", EXIT_USAGE);
  const show = (p: string): string => displayPath(p, io.cwd);
  const out = io.stdout;

  const gridFile = flags.grid !== undefined ? resolve(io.cwd, flags.grid) : defaultGridFile();
  const grid = applyGridOverrides(loadGrid(gridFile), overrides, io.cwd);
  const env = { ...process.env, ...io.env };
  const plan = expandGrid(grid, {
    runsRoot: resolve(io.cwd, flags.runs ?? "runs/experiment"),
    ...(seeds !== undefined ? { seeds } : {}),
    ...(orders !== undefined ? { orders } : {}),
    ...(only !== undefined ? { only } : {}),
    env,
  });
  const docPath = resolve(io.cwd, flags.out ?? "docs/RESULTS.md");
  const trainings = plan.runs.reduce((a, r) => a + r.labels.length, 0);
  const reused = plan.units.reduce((a, u) => a + u.cells.filter((c) => c.reused).length, 0);
  const points = (id: string): number => plan.units.filter((u) => u.kind === "sweep" && u.id === id).length;
  out.write(
    `seekr experiment: grid ${grid.id} (${show(gridFile)}) | ${plan.orders.length} order${plan.orders.length === 1 ? "" : "s"} × ${plan.seeds.length} seed${plan.seeds.length === 1 ? "" : "s"}` +
      ` | ${[...plan.tables.map((t) => t.id), ...plan.sweeps.map((s) => `${s.id} (${points(s.id)} points)`)].join(", ")}\n` +
      `${plan.runs.length} run folder${plan.runs.length === 1 ? "" : "s"}, ${trainings} method training${trainings === 1 ? "" : "s"}${reused ? ` (${reused} result${reused === 1 ? "" : "s"} reused across tables)` : ""}\n`,
  );

  if (flags.dryRun) {
    out.write(`\n${describePlan(plan, show, flags.overwrite === true)}\nThe document would be written to ${show(docPath)}.\n`);
    return EXIT_OK;
  }

  let result: GridRunResult | null = null;
  if (!flags.aggregateOnly) {
    result = await runGrid(
      plan,
      { jobs, overwrite: flags.overwrite === true },
      { log: (line) => void out.write(`${line}\n`), signals: io.signals, exit: io.exit, env, cwd: io.cwd, show },
    );
    if (result.interrupted) {
      out.write(`\nInterrupted after ${Math.round((Date.now() - t0) / 1000)}s; the runs saved checkpoints. Run the same command again to resume:\n  ${commandLine}\n`);
      return EXIT_INTERRUPTED;
    }
  }

  const agg = aggregate(plan);
  const previous = existsSync(docPath) ? readFileSync(docPath, "utf8") : null;
  const doc = renderResults(
    plan,
    agg,
    { command: commandLine, commit: gitCommit(), dirty: gitDirty(), machine: machineInfo(), wallSeconds: (Date.now() - t0) / 1000, date: new Date(), jobs, aggregateOnly: flags.aggregateOnly === true },
    { out: docPath, cwd: io.cwd, previous },
  );
  writeResults(doc, docPath);
  const complete = agg.runs.filter((r) => r.complete === r.run.labels.length).length;
  out.write(
    `\nResults: ${show(docPath)}${doc.svgs.length ? ` (+ ${doc.svgs.length} plot${doc.svgs.length === 1 ? "" : "s"} in ${show(resolve(docPath, "..", "results", grid.id))}/)` : ""}; ${complete}/${agg.runs.length} run folders complete${previous?.includes("<!-- analysis -->") ? "; analysis section kept" : ""}\n`,
  );
  const kept = result?.outcomes.filter((o) => o.result === "kept") ?? [];
  if (kept.length) {
    out.write(`${kept.length} run folder${kept.length === 1 ? "" : "s"} hold${kept.length === 1 ? "s" : ""} results of other settings and ${kept.length === 1 ? "was" : "were"} left alone (shown as — in the document); --overwrite retrains ${kept.length === 1 ? "it" : "them"}.\n`);
  }
  const failed = result?.outcomes.filter((o) => o.result === "failed") ?? [];
  if (failed.length) {
    io.stderr.write(`seekr: ${failed.length} run${failed.length === 1 ? "" : "s"} failed (shown as — in the document): ${failed.map((f) => show(f.run.dir)).join(", ")}\n`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
