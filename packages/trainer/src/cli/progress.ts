// Training progress from runExperiment's events: progress bars on a terminal, plain lines otherwise (logs, CI, pipes).

import cliProgress from "cli-progress";
import type { RunEvent } from "./runner.js";

/** Where progress goes: process.stdout, or anything with write() (tests). */
export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Bars (true) or plain lines (false); default: whether the stream is a TTY. */
  tty?: boolean;
  /** Method labels in run order (config.methods[].label), for "method 2/3". */
  methods?: readonly string[];
  /** Task names in stream order, when known before the first event. */
  tasks?: readonly string[];
  /** Plain mode: at most one step line per this many milliseconds (plus the first step and each epoch's last). */
  intervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** `1h02m`, `4m05s`, `12s`; `?` when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function formatLoss(loss: number | undefined): string {
  if (loss === undefined || !Number.isFinite(loss)) return "—";
  return Math.abs(loss) >= 100 ? loss.toFixed(1) : loss.toFixed(4);
}

/**
 * Follows the run's events and shows where it is: method i/M, task k/T, epoch e/E, step s/S, loss, and an
 * ETA for the whole run (from the fraction of the planned steps done since the first training step).
 *
 * Counters as the trainer sends them (src/run/events.ts): methodIndex, taskIndex and epoch 0-based, step
 * 1-based within the epoch, taskStep / totalSteps over the task's epochs. Displayed 1-based: `epoch 1/3`.
 */
export class ProgressReporter {
  private readonly out: OutStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private methods: string[];
  private tasks: string[] | undefined;
  private taskCount: number | undefined;
  private method: string | undefined;
  private methodIndex = -1;
  private methodStarts = 0;
  private task: string | undefined;
  private taskIndex = 0;
  private epoch = 0;
  private epochs = 1;
  private step = 0;
  private steps = 0;
  private loss: number | undefined;
  private started: number | undefined;
  /** Fraction of the run already done at the first step of this session (a resumed run starts part-way). */
  private startFraction = 0;
  private methodCount = 0;
  private taskStep: number | undefined;
  private totalSteps: number | undefined;
  private pretrainLast = Number.NEGATIVE_INFINITY;
  private methodStarted: number | undefined;
  private lastLine = Number.NEGATIVE_INFINITY;
  private multibar: cliProgress.MultiBar | undefined;
  private overallBar: cliProgress.SingleBar | undefined;
  private taskBar: cliProgress.SingleBar | undefined;
  private stopped = false;

  constructor(out: OutStream, options: ProgressOptions = {}) {
    this.out = out;
    this.tty = options.tty ?? out.isTTY === true;
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.methods = [...(options.methods ?? [])];
    if (options.tasks) {
      this.tasks = [...options.tasks];
      this.taskCount = options.tasks.length;
    }
  }

  /** Prints a line (above the bars on a terminal). */
  log(line: string): void {
    // Each buffered line clears what a bar left on that row (cli-progress clears only the first row).
    if (this.multibar && !this.stopped) this.multibar.log(`\r\x1b[2K${line}\n`);
    else this.out.write(`${line}\n`);
  }

  /** Stops the bars (leaving their last state on screen). Safe to call twice. */
  stop(): void {
    if (this.multibar && !this.stopped) {
      this.refreshBars();
      // Flush the buffered log lines and draw the final state (stop() alone drops the buffer).
      this.multibar.update();
      this.multibar.stop();
    }
    this.stopped = true;
  }

  /** Fraction of the run done, in [0, 1] (methods × tasks × epochs × steps as planned so far). */
  fractionDone(): number {
    const m = Math.max(1, this.methods.length, this.methodCount, this.methodIndex + 1);
    const t = Math.max(1, this.taskCount ?? 1, this.taskIndex + 1);
    const total = Math.max(1, this.epochs * this.steps);
    const taskFrac = this.taskStep !== undefined && this.totalSteps ? Math.min(1, this.taskStep / this.totalSteps) : this.steps > 0 ? Math.min(1, this.stepsDone() / total) : 0;
    const f = (Math.max(0, this.methodIndex) + (this.taskIndex + taskFrac) / t) / m;
    return Math.min(1, Math.max(0, f));
  }

  /** Milliseconds left for the whole run, or null before there is enough to estimate. */
  eta(): number | null {
    if (this.started === undefined) return null;
    const f = this.fractionDone();
    const elapsed = this.now() - this.started;
    const done = f - this.startFraction;
    if (done <= 0 || elapsed <= 0) return null;
    return (elapsed * (1 - f)) / done;
  }

  private stepsDone(): number {
    if (this.taskStep !== undefined) return this.taskStep;
    return Math.min(this.epochs * Math.max(1, this.steps), this.epoch * this.steps + this.step);
  }

  private displayEpoch(): number {
    return this.epoch + 1;
  }

  private displayStep(): number {
    return this.step;
  }

  private methodLabel(): string {
    const m = this.method ?? "run";
    const total = Math.max(this.methods.length, this.methodCount, this.methodIndex + 1);
    return total > 1 ? `${m} ${this.methodIndex + 1}/${total}` : m;
  }

  private taskLabel(): string {
    const total = this.taskCount;
    const name = this.task ?? this.tasks?.[this.taskIndex] ?? "";
    return `task ${this.taskIndex + 1}${total ? `/${total}` : ""}${name ? ` ${name}` : ""}`;
  }

  private setTasks(tasks: RunEvent["tasks"]): void {
    if (Array.isArray(tasks)) {
      this.tasks = tasks.map(String);
      this.taskCount = tasks.length;
    } else if (typeof tasks === "number" && tasks > 0) this.taskCount = tasks;
  }

  /** Handles one event from runExperiment's onEvent. */
  handle(e: RunEvent): void {
    if (this.stopped) return;
    if (e.tasks !== undefined) this.setTasks(e.tasks);
    if (Array.isArray(e.methods)) this.methods = e.methods.map(String);
    else if (typeof e.methods === "number") this.methodCount = e.methods;
    if (typeof e.method === "string" && e.method !== this.method && e.type !== "done") this.enterMethod(e);
    if (typeof e.taskIndex === "number") this.taskIndex = e.taskIndex;
    if (typeof e.task === "string") this.task = e.task;
    switch (e.type) {
      case "pretrain":
        this.onPretrain(e);
        break;
      case "baseline":
        if (e.scores && typeof e.scores === "object") {
          const items = Object.entries(e.scores as Record<string, unknown>).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(1) : "—"}`);
          this.line(`Base model scores (before any task): ${items.join(", ")}`);
        }
        break;
      case "method-start":
        this.methodStarted = this.now();
        this.line(`== ${this.methodLabel()}${this.taskCount ? `: ${this.taskCount} task${this.taskCount === 1 ? "" : "s"}` : ""}${e.resumed === true ? " (resumed)" : ""}`);
        break;
      case "task-start":
        this.epoch = 0;
        this.step = 0;
        this.taskStep = undefined;
        this.totalSteps = typeof e.totalSteps === "number" ? e.totalSteps : undefined;
        if (typeof e.epochs === "number") this.epochs = e.epochs;
        if (typeof e.steps === "number") this.steps = e.steps;
        this.line(
          `[${this.method ?? "run"}] ${this.taskLabel()}: ${this.epochs} epoch${this.epochs === 1 ? "" : "s"}${this.steps ? ` x ${this.steps} steps` : ""}${e.resumed === true ? " (resumed)" : ""}`,
        );
        this.refreshBars(true);
        break;
      case "step":
        this.onStep(e);
        break;
      case "eval":
        this.onEval(e);
        break;
      case "task-end":
        this.step = this.steps;
        this.epoch = this.epochs - 1;
        if (this.totalSteps !== undefined) this.taskStep = this.totalSteps;
        this.refreshBars();
        break;
      case "method-end": {
        if (e.skipped === true) {
          this.line(`[${this.method ?? "run"}] already finished in the resumed run`);
          break;
        }
        const took = this.methodStarted !== undefined ? ` in ${formatDuration(this.now() - this.methodStarted)}` : "";
        const op = typeof e.op === "number" ? ` | OP ${e.op.toFixed(2)}` : "";
        const bwt = typeof e.bwt === "number" ? ` | BWT ${e.bwt >= 0 ? "+" : ""}${e.bwt.toFixed(2)}` : "";
        this.line(`[${this.method ?? "run"}] finished${took}${op}${bwt}`);
        break;
      }
      case "checkpoint":
        // Every task end saves one; on a terminal only the one that matters (after Ctrl-C) is worth a line.
        if ((!this.tty && e.reason !== "done") || e.reason === "abort") {
          const where = typeof e.path === "string" ? `: ${e.path}` : typeof e.dir === "string" ? `: ${e.dir}` : "";
          this.line(`[${this.method ?? "run"}] checkpoint saved${e.reason === "abort" ? " (interrupted)" : ""}${where}`);
        }
        break;
      case "done":
        this.stop();
        break;
      default:
        if (typeof e.message === "string") this.line(`[${e.type}] ${e.message}`);
    }
  }

  private enterMethod(e: RunEvent): void {
    this.method = e.method;
    if (typeof e.methodIndex === "number") this.methodIndex = e.methodIndex;
    else {
      const i = this.methods.indexOf(e.method as string);
      this.methodIndex = i >= 0 ? i : this.methodStarts;
    }
    this.methodStarts++;
    this.taskIndex = 0;
    this.epoch = 0;
    this.step = 0;
  }

  private onStep(e: RunEvent): void {
    if (typeof e.epochs === "number") this.epochs = e.epochs;
    if (typeof e.steps === "number") this.steps = e.steps;
    if (typeof e.epoch === "number") this.epoch = e.epoch;
    if (typeof e.step === "number") this.step = e.step;
    if (typeof e.loss === "number") this.loss = e.loss;
    if (typeof e.totalSteps === "number") this.totalSteps = e.totalSteps;
    if (typeof e.taskStep === "number") this.taskStep = e.taskStep;
    const t = this.now();
    if (this.started === undefined) {
      // The clock starts at the end of this session's first step: the rate is measured from there on.
      this.started = t;
      this.startFraction = this.fractionDone();
    }
    if (this.tty) {
      this.refreshBars();
      return;
    }
    const lastOfEpoch = this.steps > 0 && this.displayStep() >= this.steps;
    const first = this.displayStep() <= 1 && this.displayEpoch() === 1;
    if (first || lastOfEpoch || t - this.lastLine >= this.intervalMs) {
      this.lastLine = t;
      this.out.write(`${this.stepLine()}\n`);
    }
  }

  /** `[seqft 1/3] task 2/5 sort | epoch 1/3 | step 40/120 | loss 1.2345 | ETA 3m10s` */
  stepLine(): string {
    const parts = [
      `[${this.methodLabel()}] ${this.taskLabel()}`,
      `epoch ${this.displayEpoch()}/${this.epochs}`,
      `step ${this.displayStep()}${this.steps ? `/${this.steps}` : ""}`,
      `loss ${formatLoss(this.loss)}`,
      `ETA ${formatDuration(this.eta())}`,
    ];
    return parts.join(" | ");
  }

  /** Pre-training of the base model (once; cached afterwards): its own bar / lines. */
  private onPretrain(e: RunEvent): void {
    const step = typeof e.step === "number" ? e.step : 0;
    const steps = typeof e.steps === "number" ? e.steps : 0;
    const loss = typeof e.loss === "number" ? ` | loss ${formatLoss(e.loss)}` : "";
    if (e.phase === "start") {
      this.line(`Pre-training the base model: ${steps} steps (once; cached for later runs)`);
      return;
    }
    if (e.phase === "end") {
      if (e.cached === true) this.line("Base model: reused from the cache");
      else if (steps > 0) this.line(`Base model ready${loss}`);
      return;
    }
    const t = this.now();
    if (this.tty) {
      if (t - this.pretrainLast >= 250 || step >= steps) {
        this.pretrainLast = t;
        this.out.write(`\r\x1b[2KPre-training ${step}/${steps}${loss}${step >= steps ? "\n" : ""}`);
      }
      return;
    }
    if (step <= 1 || step >= steps || t - this.pretrainLast >= this.intervalMs) {
      this.pretrainLast = t;
      this.out.write(`[pretrain] step ${step}/${steps}${loss}\n`);
    }
  }

  private onEval(e: RunEvent): void {
    const names = this.tasks ?? [];
    const fmtScore = (v: unknown): string => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(1) : "—");
    let scores = "";
    const row = e.scores ?? e.row;
    if (Array.isArray(row)) {
      scores = row
        .map((v, j) => (v === null || v === undefined ? null : `${names[j] ?? `task ${j + 1}`} ${fmtScore(v)}`))
        .filter((x) => x !== null)
        .join(", ");
    } else if (row && typeof row === "object") {
      scores = Object.entries(row as Record<string, unknown>).map(([k, v]) => `${k} ${fmtScore(v)}`).join(", ");
    } else if (typeof row === "number") {
      scores = `${this.task ?? ""} ${fmtScore(row)}`.trim();
    }
    if (!scores) return;
    this.line(`[${this.method ?? "run"}] eval ${e.phase === "step" ? "during" : "after"} ${this.taskLabel()}: ${scores}`);
  }

  private line(text: string): void {
    if (this.tty) this.log(text);
    else this.out.write(`${text}\n`);
  }

  private refreshBars(newTask = false): void {
    if (!this.tty || this.stopped) return;
    if (!this.multibar) {
      this.multibar = new cliProgress.MultiBar(
        {
          stream: this.out as NodeJS.WritableStream,
          format: "{label} {bar} {info}",
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          gracefulExit: false,
          forceRedraw: true,
          fps: 8,
          linewrap: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.overallBar = this.multibar.create(1000, 0, { label: "", info: "" });
      this.taskBar = this.multibar.create(1, 0, { label: "", info: "" });
    }
    const pct = Math.round(this.fractionDone() * 1000);
    // One label width for the whole run, so that the bars do not move from task to task.
    const mTotal = Math.max(this.methods.length, this.methodCount, 1);
    const n = this.taskCount ?? 1;
    const w = Math.max(
      this.methodLabel().length,
      this.taskLabel().length,
      ...this.methods.map((m) => `${m} ${mTotal}/${mTotal}`.length),
      ...(this.tasks ?? []).map((t) => `task ${n}/${n} ${t}`.length),
    );
    this.overallBar?.update(pct, {
      label: `${this.methodLabel()}`.padEnd(w),
      info: `${(pct / 10).toFixed(1)}% | ETA ${formatDuration(this.eta())}`,
    });
    const total = Math.max(1, this.epochs * this.steps);
    if (this.taskBar && (newTask || this.taskBar.getTotal() !== total)) this.taskBar.setTotal(total);
    this.taskBar?.update(this.stepsDone(), {
      label: this.taskLabel().padEnd(w),
      info: `epoch ${this.displayEpoch()}/${this.epochs} | step ${this.displayStep()}${this.steps ? `/${this.steps}` : ""} | loss ${formatLoss(this.loss)}`,
    });
  }
}
