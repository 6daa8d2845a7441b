// Running a grid's run folders as child processes (`seekr run ... --plain --no-report`), --jobs at a time: complete
// folders are skipped, interrupted ones resumed; Ctrl-C stops the children (they save checkpoints).

import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonAtomic } from "../run/layout.js";
import type { Plan, PlannedRun } from "./expand.js";
import { EXPERIMENT_FILES, type RunState, runState, type StatusFile } from "./folders.js";

/** bin/seekr.js of this package (resolved from this module, so it works in the repository and when installed). */
export function trainerBin(): string {
  return fileURLToPath(new URL("../../bin/seekr.js", import.meta.url));
}

/** `1h02m`, `3m05s`, `12s`. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export interface RunnerIO {
  /** One progress line (without the newline). */
  log: (line: string) => void;
  /** Receives SIGINT. */
  signals: Pick<NodeJS.Process, "on" | "off">;
  /** Hard exit (a second Ctrl-C). */
  exit: (code: number) => void;
  /** The children's environment. */
  env: Record<string, string | undefined>;
  /** The children's working folder. */
  cwd: string;
  /** A path as shown to the user. */
  show?: (path: string) => string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export interface RunnerOptions {
  /** Concurrent children (default 1). */
  jobs?: number;
  /** Start over in run folders that hold other settings (by default they are left alone and reported). */
  overwrite?: boolean;
  /** The `seekr` script and the node binary that runs it. */
  bin?: string;
  node?: string;
}

export interface RunOutcome {
  run: PlannedRun;
  /** skipped: complete; kept: holds other settings (not touched without --overwrite). */
  result: "skipped" | "kept" | "done" | "failed" | "interrupted";
  /** The child's exit code (null: killed by a signal, or not started). */
  code: number | null;
  seconds: number;
  resumed: boolean;
  message?: string;
}

export interface GridRunResult {
  outcomes: RunOutcome[];
  interrupted: boolean;
  seconds: number;
}

/** Runs every planned run folder that is not complete; resolves when all ended (or stopped after Ctrl-C). */
export async function runGrid(plan: Plan, options: RunnerOptions, io: RunnerIO): Promise<GridRunResult> {
  const now = io.now ?? Date.now;
  const show = io.show ?? ((p: string) => p);
  const jobs = Math.max(1, Math.floor(options.jobs ?? 1));
  const bin = options.bin ?? trainerBin();
  const node = options.node ?? process.execPath;
  const t0 = now();
  const outcomes: RunOutcome[] = [];
  const todo: { run: PlannedRun; st: RunState }[] = [];
  for (const run of plan.runs) {
    const st = runState(run);
    if (st.state === "done") {
      outcomes.push({ run, result: "skipped", code: null, seconds: 0, resumed: false });
      io.log(`skip ${run.name}: complete (${run.labels.join(", ")})`);
    } else if (st.state === "stale" && !options.overwrite) {
      outcomes.push({ run, result: "kept", code: null, seconds: 0, resumed: false });
      io.log(`keep ${run.name}: the folder holds results of other settings (--overwrite retrains it)`);
    } else todo.push({ run, st });
  }
  const kept = outcomes.filter((o) => o.result === "kept").length;
  const methodsToDo = todo.reduce((a, t) => a + t.run.labels.length, 0);
  io.log(
    `${plan.runs.length} run folder${plan.runs.length === 1 ? "" : "s"} under ${show(plan.root)}: ${plan.runs.length - todo.length - kept} complete, ${kept ? `${kept} with other settings (kept), ` : ""}${todo.length} to run (${methodsToDo} method trainings), ${jobs} at a time`,
  );
  if (!todo.length) return { outcomes, interrupted: false, seconds: 0 };

  const total = todo.length;
  let next = 0;
  let doneMethods = 0;
  let doneSeconds = 0;
  let stopping = false;
  let interrupts = 0;
  // With several jobs, the first run builds the base model alone (pre-training it twice would waste the time).
  let gateOpen = jobs === 1 || plan.base.model.pretrain.steps === 0;
  const active = new Map<ChildProcess, { run: PlannedRun; labels: number }>();

  const eta = (): string => {
    if (doneMethods === 0) return "?";
    const remaining = todo.slice(next).reduce((a, t) => a + t.run.labels.length, 0) + [...active.values()].reduce((a, r) => a + r.labels, 0);
    return formatSeconds(((doneSeconds / doneMethods) * remaining) / Math.min(jobs, Math.max(1, total - next + active.size)));
  };
  const clock = (): string => `elapsed ${formatSeconds((now() - t0) / 1000)} | ETA ${eta()}`;

  return await new Promise<GridRunResult>((resolvePromise) => {
    let finished = false;
    const onExit = (): void => {
      for (const c of active.keys()) c.kill("SIGTERM");
    };
    const finish = (): void => {
      if (finished) return;
      finished = true;
      io.signals.off("SIGINT", onSigint);
      process.off("exit", onExit);
      resolvePromise({ outcomes, interrupted: stopping, seconds: (now() - t0) / 1000 });
    };
    const pump = (): void => {
      while (!stopping && next < total && active.size < jobs && (gateOpen || active.size === 0)) start(todo[next++]!, next);
      if (active.size === 0 && (stopping || next >= total)) finish();
    };
    const onSigint = (): void => {
      interrupts++;
      if (interrupts === 1) {
        stopping = true;
        io.log(`Interrupted: stopping ${active.size} run${active.size === 1 ? "" : "s"} (each saves a checkpoint; Ctrl-C again quits without saving)...`);
        for (const c of active.keys()) c.kill("SIGINT");
        pump();
        return;
      }
      for (const c of active.keys()) c.kill("SIGINT");
      io.log("Quit without waiting for the checkpoints.");
      io.exit(130);
    };
    io.signals.on("SIGINT", onSigint);
    process.on("exit", onExit);

    function start(item: { run: PlannedRun; st: RunState }, index: number): void {
      const { run, st } = item;
      const started = now();
      const resumed = st.state === "resume";
      mkdirSync(run.dir, { recursive: true });
      let args: string[];
      if (resumed) {
        args = [bin, "run", "--resume", run.dir, "--plain", "--no-report"];
      } else {
        const file = join(run.dir, EXPERIMENT_FILES.config);
        writeJsonAtomic(file, { ...run.config, extras: run.extras });
        args = [bin, "run", "--config", file, "--output", run.dir, "--plain", "--no-report"];
      }
      const status: StatusFile = { status: "running", startedAt: new Date().toISOString() };
      writeJsonAtomic(join(run.dir, EXPERIMENT_FILES.status), status);
      const log = createWriteStream(join(run.dir, EXPERIMENT_FILES.log), { flags: "a" });
      log.write(`\n=== ${status.startedAt} seekr experiment: ${[node, ...args].join(" ")}\n`);
      const note = resumed ? " (resuming)" : st.state === "stale" ? " (--overwrite: the folder held other settings; starting over)" : "";
      io.log(`[${index}/${total}] start ${run.name}: ${run.labels.join(", ")}${note} | ${clock()}`);

      let child: ChildProcess;
      let stderrTail = "";
      let stdoutTail = "";
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (settled) return;
        settled = true;
        active.delete(child);
        const seconds = (now() - started) / 1000;
        const result: RunOutcome["result"] = code === 0 ? "done" : code === 130 || (stopping && signal === "SIGINT") ? "interrupted" : "failed";
        let message: string | undefined;
        if (result === "failed") {
          const lines = stderrTail.split("\n").map((l) => l.trim()).filter(Boolean);
          const err = [...lines].reverse().find((l) => l.startsWith("seekr: error:"));
          message = error ? `could not start: ${error.message}` : (err?.replace(/^seekr: error:\s*/, "") ?? lines[lines.length - 1] ?? (signal ? `killed by ${signal}` : `exit code ${code}`));
        }
        writeJsonAtomic(join(run.dir, EXPERIMENT_FILES.status), {
          ...status,
          status: result,
          code,
          ...(message ? { message } : {}),
          finishedAt: new Date().toISOString(),
          seconds,
        } satisfies StatusFile);
        log.end(`=== exit ${code ?? signal ?? "?"} after ${formatSeconds(seconds)}\n`);
        outcomes.push({ run, result, code, seconds, resumed, ...(message ? { message } : {}) });
        if (result === "done") {
          doneMethods += run.labels.length;
          doneSeconds += seconds;
        }
        const what =
          result === "done"
            ? `done ${run.name} in ${formatSeconds(seconds)}`
            : result === "interrupted"
              ? `stopped ${run.name} after ${formatSeconds(seconds)} (checkpoint saved; run the same command again to resume)`
              : `FAILED ${run.name} after ${formatSeconds(seconds)} (exit ${code ?? signal}): ${message} (log: ${show(join(run.dir, EXPERIMENT_FILES.log))})`;
        io.log(`[${index}/${total}] ${what} | ${clock()}`);
        gateOpen = true;
        pump();
      };
      child = spawn(node, args, { cwd: io.cwd, env: { ...io.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"], detached: true, windowsHide: true });
      active.set(child, { run, labels: run.labels.length });
      child.stdout?.on("data", (d: Buffer) => {
        log.write(d);
        if (!gateOpen) {
          stdoutTail = (stdoutTail + d.toString("utf8")).slice(-4096);
          if (/^(Base model|== )/m.test(stdoutTail)) {
            gateOpen = true;
            setImmediate(pump);
          }
        }
      });
      child.stderr?.on("data", (d: Buffer) => {
        log.write(d);
        stderrTail = (stderrTail + d.toString("utf8")).slice(-4096);
      });
      child.on("error", (e) => settle(null, null, e));
      child.on("close", (code, signal) => settle(code, signal));
    }

    pump();
  });
}
