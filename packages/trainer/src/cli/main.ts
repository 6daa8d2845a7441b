// The `seekr` command: run, report, experiment, devices, config — argument parsing (commander), exit codes, error printing.

import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { extractOverrides, type Override } from "./argv.js";
import { commandConfig } from "./commands/config.js";
import { commandDevices } from "./commands/devices.js";
import { commandExperiment, type ExperimentFlags, experimentCommandLine } from "./commands/experiment.js";
import { commandReport } from "./commands/report.js";
import { commandRun } from "./commands/run.js";
import type { ConfigFlags } from "./config.js";
import { CliError, EXIT_USAGE, exitCodeOf, isExpected } from "./errors.js";
import type { OutStream, ProgressOptions } from "./progress.js";
import type { RunExperiment } from "./runner.js";

/** What a command talks to; main() uses the process's by default, tests pass their own. */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Receives SIGINT (process by default; tests emit on their own emitter). */
  signals: Pick<NodeJS.Process, "on" | "off">;
  /** Hard exit for a second Ctrl-C. */
  exit: (code: number) => void;
  /** The trainer's entry point (default: loaded from this package's run module). */
  runExperiment?: RunExperiment;
  /** Progress display settings (tests: plain lines with a fake clock). */
  progress?: ProgressOptions;
}

export interface RunFlags extends ConfigFlags {
  report?: boolean;
  plain?: boolean;
  verbose?: boolean;
}

/** The package version (from package.json next to dist/ or src/). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

const OVERRIDE_HELP = `
Configuration overrides (any field of the config, applied after the file):
  --<field.path>=VALUE       e.g. --training.lr=3e-4  --training.epochs 2  --methods[2].lambda2=100
  --set <field>=VALUE        any field, top-level ones too (--set seed=7); repeatable
  --extras.<path>=VALUE      trainer settings outside the config schema (e.g. --extras.eval.unseen=all)
  Lists: comma-separated or JSON (--data.tasks=reverse,sort); budgets: count, JSON or 12.5%.
  Order: defaults < --config file (or the resumed run's config.json) < overrides < --seed/--device/--methods/--output.`;

const RUN_EXAMPLES = `
Examples:
  $ seekr run                                      # built-in stream, small model, SeqFT vs Replay vs SEEKR
  $ seekr run --methods seqft,replay-10%,seekr-10% --seed 7
  $ seekr run --config my-run.yaml --device cuda --training.epochs=1
  $ seekr run --resume runs/seekr                  # continue an interrupted run (Ctrl-C saves a checkpoint)`;

const EXPERIMENT_HELP = `
Each run folder (<runs>/<grid id>/<table or sweep point>/<order>-s<seed>/) is one \`seekr run\` child process
training the methods of that table for that order and seed; a folder already complete is skipped, an
interrupted one resumed (Ctrl-C stops the children, which save checkpoints: run the same command again);
one holding results of other settings (the grid changed) is left alone unless --overwrite.
The document keeps the section between <!-- analysis --> and <!-- /analysis --> when it is rewritten.

Overrides of the grid's base configuration:
  --set <field>=VALUE        any run-configuration field (--set training.epochs=1); repeatable
  --<field.path>=VALUE       the same (--model.pretrain.steps=0); --extras.<path>=VALUE for trainer extras

Examples:
  $ seekr experiment --dry-run                       # the shipped grid: what would run
  $ seekr experiment --jobs 2                        # run it (hours on a laptop CPU), write docs/RESULTS.md
  $ seekr experiment --seeds 1 --orders 1 --only table1 --set training.epochs=1
  $ seekr experiment --grid my-grid.yaml --aggregate-only --out docs/my-results.md`;

function addConfigOptions(cmd: Command, what: string): Command {
  return cmd
    .option("-c, --config <file>", "configuration file (JSON or YAML); every field has a default")
    .option("--resume <dir>", `${what} the run in this run folder (its config.json is the base configuration)`)
    .option("-o, --output <dir>", "run folder (config field `output`, default runs/seekr)")
    .addOption(new Option("--device <device>", "device: auto, cpu, cuda or cuda:N (config field `device`)"))
    .option("--seed <n>", "random seed (config field `seed`)")
    .option("--methods <list>", "comma-separated methods or labels, e.g. seqft,replay,seekr or replay-10% (config field `methods`)");
}

/** Builds the command tree; actions record their exit code in `state`. */
export function buildProgram(io: CliIO, overrides: Override[], state: { code: number }): Command {
  const program = new Command("seekr");
  const write = (s: OutStream) => (text: string) => void s.write(text);
  program
    .description("Continual learning for language models with SEEKR (attention distillation on selected heads + replay).")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help (also: seekr <command> --help)")
    .option("--verbose", "print stack traces of errors")
    .configureOutput({
      writeOut: write(io.stdout),
      writeErr: write(io.stderr),
      outputError: (text, w) => w(`seekr: ${text.replace(/^error: /, "error: ")}`),
    })
    .showHelpAfterError("(run seekr --help for usage)")
    .exitOverride()
    .addHelpText(
      "after",
      `
Run folder (written by seekr run, read by seekr report):
  config.json     the resolved configuration        log.jsonl     every step's losses
  scores.json     score matrix, OP, BWT per method  importance/   head importance and selection per task
  checkpoints/    state for --resume                report.html   the report (charts, no network needed)

Exit codes: 0 ok, 1 failure, 2 bad usage / configuration / input, 130 interrupted (checkpoint saved).
Docs: docs/cli.md`,
    );

  const run = addConfigOptions(program.command("run").description("run a continual-learning experiment (no arguments: the built-in default)"), "continue")
    .option("--no-report", "do not write report.html at the end")
    .option("--plain", "plain progress lines even on a terminal")
    .option("--verbose", "print stack traces of errors")
    .addHelpText("after", OVERRIDE_HELP + "\n" + RUN_EXAMPLES)
    .action(async (opts: RunFlags) => {
      state.code = await commandRun(opts, overrides, io);
    });
  run.exitOverride();

  addConfigOptions(program.command("config").description("print the resolved configuration (defaults + file + overrides)"), "show the configuration of")
    .option("--json", "print JSON instead of YAML")
    .option("--verbose", "print stack traces of errors")
    .addHelpText("after", `${OVERRIDE_HELP}\n\nExamples:\n  $ seekr config                       # every field with its default\n  $ seekr config --config my-run.yaml --training.lr=1e-4 --json`)
    .action((opts: ConfigFlags & { json?: boolean }) => {
      state.code = commandConfig(opts, overrides, io);
    });

  program
    .command("report")
    .description("(re)build report.html from a run folder, or a comparison report of several runs")
    .argument("<runs...>", "run folders")
    .option("--out <file>", "where to write (default: <run>/report.html; with several runs ./comparison-report.html)")
    .option("--verbose", "print stack traces of errors")
    .addHelpText("after", "\nExamples:\n  $ seekr report runs/seekr\n  $ seekr report runs/seed1 runs/seed2 runs/seed3 --out comparison.html")
    .action((runs: string[], opts: { out?: string }) => {
      state.code = commandReport(runs, opts, io);
    });

  program
    .command("experiment")
    .description("run a grid of methods × task orders × seeds and write a Markdown results document with SVG plots")
    .option("--grid <file>", "grid file, YAML or JSON (default: the shipped experiments/paper-small.yaml)")
    .option("--runs <dir>", "root of the run folders; the grid's go to <dir>/<grid id>/ (default runs/experiment)")
    .option("--out <file>", "the results document; its plots go to results/<grid id>/ next to it (default docs/RESULTS.md)")
    .option("-j, --jobs <n>", "runs at a time, each a child process (default 1)")
    .option("--seeds <n>", "only the first N seeds of the grid")
    .option("--orders <n>", "only the first N task orders of the grid")
    .option("--only <ids>", "only these tables and sweeps (comma-separated ids)")
    .option("--dry-run", "print the run folders the grid expands to (and their state) and exit")
    .option("--aggregate-only", "train nothing: rebuild the document from the existing run folders")
    .option("--overwrite", "retrain run folders that hold results of other settings (by default they are left alone)")
    .option("--verbose", "print stack traces of errors")
    .addHelpText("after", EXPERIMENT_HELP)
    .action(async (opts: ExperimentFlags, cmd: Command) => {
      state.code = await commandExperiment(opts, overrides, io, experimentCommandLine(cmd, overrides));
    });

  program
    .command("devices")
    .description("show the compute devices: CPU threads, GEMM backend, SIMD, CUDA (compiled? usable? why not?)")
    .option("--json", "print the report as JSON")
    .option("--verbose", "print stack traces of errors")
    .action(async (opts: { json?: boolean }) => {
      state.code = await commandDevices(opts, io);
    });

  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput(program.configureOutput());
    cmd.showHelpAfterError(`(run seekr ${cmd.name()} --help for usage)`);
  }
  return program;
}

function defaultIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    env: process.env,
    signals: process,
    exit: (code) => process.exit(code),
  };
}

/** Runs the `seekr` command line (arguments without `node seekr`); resolves to the exit code. Never throws. */
export async function main(argv: readonly string[], ioOverrides: Partial<CliIO> = {}): Promise<number> {
  const io: CliIO = { ...defaultIO(), ...ioOverrides };
  const verbose = argv.includes("--verbose") || io.env.SEEKR_VERBOSE === "1";
  const state = { code: 0 };
  try {
    const { rest, overrides } = extractOverrides(argv);
    const program = buildProgram(io, overrides, state);
    if (overrides.length) {
      const sub = rest.find((a) => !a.startsWith("-"));
      if (sub !== "run" && sub !== "config" && sub !== "experiment") {
        throw new CliError(`configuration overrides (--${overrides[0]?.path}=...) apply to seekr run and seekr config only (and to the grid's base configuration in seekr experiment)`, EXIT_USAGE);
      }
    }
    if (!rest.length) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(rest, { from: "user" });
    return state.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; parse errors were already printed by commander.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      if (err.code === "commander.executeSubCommandAsync") return err.exitCode;
      return EXIT_USAGE;
    }
    printError(err, io, verbose);
    return exitCodeOf(err);
  }
}

/** Prints an error as `seekr: error: message`; the stack only with --verbose (or for unexpected errors, a hint). */
export function printError(err: unknown, io: Pick<CliIO, "stderr">, verbose: boolean): void {
  const e = err instanceof Error ? err : new Error(String(err));
  io.stderr.write(`seekr: error: ${e.message}\n`);
  if (verbose && e.stack) io.stderr.write(`${e.stack}\n`);
  else if (!isExpected(err)) io.stderr.write("(run with --verbose for the stack trace)\n");
}
