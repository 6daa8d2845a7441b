// `seekr run`: resolve the configuration, run the experiment with progress, print the scores, write report.html;
// Ctrl-C aborts through the AbortSignal (the trainer saves a checkpoint) and exits 130 with the resume command.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_TASK_ORDER } from "../../tasks/index.js";
import { loadRun, type ScoresFile, writeReport } from "../../report/index.js";
import type { Override } from "../argv.js";
import { resolveCliConfig } from "../config.js";
import { CliError, EXIT_INTERRUPTED, EXIT_USAGE } from "../errors.js";
import type { CliIO, RunFlags } from "../main.js";
import { formatDuration, ProgressReporter } from "../progress.js";
import { loadTrainer, type RunEvent, type RunResultLike } from "../runner.js";
import { formatSummary } from "../table.js";
import { displayPath } from "./report.js";

/** Quotes a path for a shell command line when it needs it. */
export function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/** The run folder from runExperiment's result (or the configured output). */
function runDirOf(result: RunResultLike | undefined | void, fallback: string): string {
  return typeof result?.output === "string" && result.output ? result.output : fallback;
}

function isScores(v: unknown): v is ScoresFile {
  return typeof v === "object" && v !== null && Array.isArray((v as ScoresFile).tasks) && typeof (v as ScoresFile).methods === "object";
}

export async function commandRun(flags: RunFlags, overrides: readonly Override[], io: CliIO): Promise<number> {
  const { config, extras, resume } = resolveCliConfig(flags, overrides, io.cwd);
  let runExperiment = io.runExperiment;
  if (!runExperiment) {
    const trainer = await loadTrainer();
    runExperiment = trainer.runExperiment;
    if (extras && trainer.resolveExtras) {
      try {
        trainer.resolveExtras(extras, config);
      } catch (e) {
        throw new CliError((e as Error).message, EXIT_USAGE);
      }
    }
  }
  const tasks = config.data.tasks ?? (config.data.source === "builtin" ? [...DEFAULT_TASK_ORDER] : undefined);
  const methods = config.methods.map((m) => m.label);
  const out = io.stdout;
  const shown = (p: string): string => displayPath(p, io.cwd);

  out.write(
    `seekr run: ${methods.join(", ")} on ${tasks ? `${tasks.length} tasks (${tasks.join(", ")})` : `the tasks in ${config.data.path ?? "?"}`}` +
      ` | model ${config.model.preset} | device ${config.device} | seed ${config.seed}\n`,
  );
  out.write(`${resume ? "Resuming the run in" : "Run folder:"} ${shown(config.output)}\n`);

  const progressOptions = { ...io.progress, methods, ...(tasks ? { tasks } : {}) };
  if (flags.plain) progressOptions.tty = false;
  const reporter = new ProgressReporter(out, progressOptions);
  const controller = new AbortController();
  let interrupts = 0;
  let checkpointDir: string | undefined;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      reporter.log("Interrupted: stopping and saving a checkpoint (press Ctrl-C again to quit without saving)...");
      controller.abort();
      return;
    }
    reporter.stop();
    io.stderr.write("seekr: quit without saving a checkpoint\n");
    io.exit(EXIT_INTERRUPTED);
  };
  io.signals.on("SIGINT", onSigint);
  const started = Date.now();
  let result: RunResultLike | undefined | void;
  let failure: unknown;
  try {
    result = await runExperiment(config, {
      onEvent: (e: RunEvent) => {
        if (e.type === "checkpoint") {
          const p = typeof e.dir === "string" ? e.dir : typeof e.path === "string" ? e.path : undefined;
          if (p) checkpointDir = p;
        }
        reporter.handle(e);
      },
      signal: controller.signal,
      ...(resume ? { resume } : {}),
      ...(extras ? { extras } : {}),
    });
  } catch (err) {
    failure = err;
  } finally {
    io.signals.off("SIGINT", onSigint);
    reporter.stop();
  }

  const runDir = resolve(io.cwd, runDirOf(result, config.output));
  const aborted = controller.signal.aborted || result?.interrupted === true;
  if (aborted) {
    if (failure && (failure as Error).name !== "AbortError") {
      io.stderr.write(`seekr: error while stopping: ${(failure as Error).message}\n`);
    }
    if (flags.report !== false) writeRunReport(runDir, io, true);
    const saved = existsSync(join(runDir, "checkpoints")) || checkpointDir !== undefined;
    out.write(
      `\nInterrupted after ${formatDuration(Date.now() - started)}.${saved ? ` The checkpoint is in ${shown(runDir)}.` : ""}\n` +
        `Resume with:\n  seekr run --resume ${shellQuote(shown(runDir))}\n`,
    );
    return EXIT_INTERRUPTED;
  }
  if (failure) throw failure;

  out.write(`\nFinished in ${formatDuration(Date.now() - started)}.\n\n`);
  const scores = isScores(result?.scores) ? result.scores : existsSync(join(runDir, "scores.json")) ? loadRun(runDir).scores : null;
  if (scores) out.write(formatSummary(scores, typeof out.columns === "number" && out.columns > 40 ? out.columns : 132));
  else out.write(`No scores.json in ${shown(runDir)}.\n`);
  if (flags.report !== false) writeRunReport(runDir, io, false);
  out.write(`Run folder: ${shown(runDir)}\n`);
  return 0;
}

/** Writes <run>/report.html. After an interruption a failure is only reported; after a finished run it fails the command. */
function writeRunReport(runDir: string, io: CliIO, partial: boolean): void {
  try {
    const written = writeReport([runDir], join(runDir, "report.html"));
    io.stdout.write(`\nReport${partial ? " (so far)" : ""}: ${displayPath(written, io.cwd)}\n`);
  } catch (e) {
    if (!partial) throw new CliError(`could not write report.html in ${runDir}: ${(e as Error).message}`);
    io.stderr.write(`seekr: could not write report.html: ${(e as Error).message}\n`);
  }
}
