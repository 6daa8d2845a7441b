// The trainer's entry point as the CLI uses it: runExperiment(config, { onEvent, signal, resume }), loaded on demand.

import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { RunConfig } from "../config/index.js";
import { CliError } from "./errors.js";

/**
 * A progress event from runExperiment, as the CLI reads it: the fields of the trainer's RunEvent union
 * (src/run/events.ts), all optional but `type`, so that every trainer event is one of these.
 */
export interface RunEvent {
  type: string;
  /** Method label. */
  method?: string;
  /** 0-based position of the method in config.methods, and the number of methods (or their labels). */
  methodIndex?: number;
  methods?: number | string[];
  task?: string;
  /** 0-based position of the task in the stream. */
  taskIndex?: number;
  /** Number of tasks, or their names. */
  tasks?: number | string[];
  /** 0-based epoch within the task. */
  epoch?: number;
  epochs?: number;
  /** Step within the epoch, 1-based. */
  step?: number;
  /** Steps per epoch. */
  steps?: number;
  /** Steps done in this task over all epochs, and their total. */
  taskStep?: number;
  totalSteps?: number;
  loss?: number | null;
  /** pretrain: "start" | "step" | "end"; eval: "task" | "step". */
  phase?: string;
  /** eval: task → score; baseline: task → score. */
  scores?: unknown;
  row?: unknown;
  /** checkpoint: the state file and why it was saved ("task" | "steps" | "abort" | "done"). */
  path?: string;
  dir?: string;
  reason?: string;
  resumed?: boolean;
  skipped?: boolean;
  cached?: boolean;
  op?: number | null;
  bwt?: number | null;
  output?: string;
  interrupted?: boolean;
  message?: string;
}

export interface RunOptions {
  onEvent?: (event: RunEvent) => void;
  signal?: AbortSignal;
  /** A run folder to continue. */
  resume?: string;
  /** Settings outside the config schema (see the trainer's RunExtras). */
  extras?: Record<string, unknown>;
}

/** What the CLI reads from runExperiment's result (the trainer's RunResult); everything else the run folder holds. */
export interface RunResultLike {
  /** The run folder. */
  output?: string;
  /** Stopped through the AbortSignal (a checkpoint was saved). */
  interrupted?: boolean;
  /** scores.json's content. */
  scores?: unknown;
}

export type RunExperiment = (config: RunConfig, options: RunOptions) => Promise<RunResultLike | undefined | void>;

// Compile-time check that the trainer's runExperiment (src/run) fits what the CLI calls (a type-only import:
// the module itself is loaded on demand by loadRunExperiment).
type TrainerRunExperiment = typeof import("../run/index.js").runExperiment;
const trainerFits: TrainerRunExperiment extends RunExperiment ? true : false = true;
void trainerFits;

/** Where the trainer's runExperiment is looked for (built next to this file in dist/). */
const CANDIDATES = ["../run/index.js", "../run/experiment.js", "../run/run.js"];

/** The trainer's entry points the CLI uses. */
export interface Trainer {
  runExperiment: RunExperiment;
  /** Validates the extras (settings outside the config schema) before the run starts, when the trainer has it. */
  resolveExtras?: (extras: Record<string, unknown> | undefined, config: RunConfig) => unknown;
}

/** Imports the trainer (runExperiment); a clear CliError when this build does not include it. */
export async function loadTrainer(): Promise<Trainer> {
  const problems: string[] = [];
  for (const rel of CANDIDATES) {
    const url = new URL(rel, import.meta.url);
    // Running from src/ (tests), the sources are .ts files.
    const file = [fileURLToPath(url), fileURLToPath(url).replace(/\.js$/, ".ts")].find((f) => existsSync(f));
    if (file === undefined) continue;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (e) {
      throw new CliError(`the trainer could not be loaded (${rel}): ${(e as Error).message}`);
    }
    if (typeof mod.runExperiment === "function") {
      const trainer: Trainer = { runExperiment: mod.runExperiment as RunExperiment };
      if (typeof mod.resolveExtras === "function") trainer.resolveExtras = mod.resolveExtras as NonNullable<Trainer["resolveExtras"]>;
      return trainer;
    }
    problems.push(`${rel} has no runExperiment export`);
  }
  throw new CliError(
    `this build of @seekr/trainer has no trainer: runExperiment was not found${problems.length ? ` (${problems.join("; ")})` : ""}. ` +
      "Rebuild the package (npm run build) or update @seekr/trainer.",
  );
}

/** Just runExperiment (see loadTrainer). */
export async function loadRunExperiment(): Promise<RunExperiment> {
  return (await loadTrainer()).runExperiment;
}
