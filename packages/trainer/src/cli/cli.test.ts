// The seekr command in-process: help and version, config printing and overrides, exit codes, report, run (with a
// stand-in trainer: progress lines, summary, report.html, Ctrl-C → checkpoint, exit 130 and the resume command).

import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { RunConfig } from "../config/index.js";
import { writeFixtureRun } from "../report/fixture.js";
import { packageVersion } from "./main.js";
import type { RunEvent, RunExperiment, RunOptions } from "./runner.js";
import { type CliRun, runCli } from "./testing.js";

const tmp = mkdtempSync(join(tmpdir(), "seekr-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("help and version", () => {
  it("seekr --help lists the commands and the run folder", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["run", "report", "devices", "config"]) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, "m"));
    expect(r.stdout).toContain("scores.json");
    expect(r.stdout).toContain("130 interrupted");
  });

  it("seekr with no arguments prints the help", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: seekr");
  });

  it("seekr run --help documents every flag and the dotted overrides", async () => {
    const r = await runCli(["run", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--config <file>", "--resume <dir>", "--output <dir>", "--device <device>", "--seed <n>", "--methods <list>", "--verbose", "--<field.path>=VALUE", "--set <field>=VALUE"]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain("seekr run --resume runs/seekr");
  });

  it("each command has its own help", async () => {
    for (const [cmd, text] of [["report", "--out <file>"], ["devices", "--json"], ["config", "--json"]] as const) {
      const r = await runCli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: seekr ${cmd}`);
      expect(r.stdout).toContain(text);
    }
    expect((await runCli(["help", "run"])).stdout).toContain("Usage: seekr run");
  });

  it("seekr --version prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(packageVersion());
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("unknown commands and options are usage errors (exit 2) with a hint", async () => {
    const a = await runCli(["frobnicate"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/);
    const b = await runCli(["run", "--sed", "3"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown option '--sed'/);
    expect(b.stderr).toMatch(/Did you mean --seed\?/);
    const c = await runCli(["report"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/missing required argument 'runs'/);
  });

  it("config overrides are refused outside run and config", async () => {
    const r = await runCli(["report", "x", "--training.lr=1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("apply to seekr run and seekr config only");
  });
});

describe("seekr config", () => {
  it("prints every field of the default configuration as YAML", async () => {
    const r = await runCli(["config"], { cwd: tmp });
    expect(r.code).toBe(0);
    const doc = YAML.parse(r.stdout) as RunConfig;
    expect(doc.seed).toBe(42);
    expect(doc.device).toBe("auto");
    expect(doc.data.source).toBe("builtin");
    expect(doc.methods.map((m) => m.label)).toEqual(["seqft", "replay-1%", "seekr-1%"]);
    expect(doc.training.lr).toBeTypeOf("number");
    expect(doc.output).toBe(join(tmp, "runs/seekr"));
  });

  it("applies a file, dotted overrides and flags, in that order", async () => {
    const file = join(tmp, "run.yaml");
    writeFileSync(file, "seed: 5\ntraining:\n  epochs: 4\n  lr: 0.01\nmethods:\n  - name: seqft\n  - name: replay\n    replayRatio: 0.1\n");
    const r = await runCli(["config", "--config", file, "--training.lr=3e-4", "--set", "eval.maxNewTokens=8", "--seed", "9", "--json"], { cwd: tmp });
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout) as RunConfig;
    expect(c.seed).toBe(9);
    expect(c.training.epochs).toBe(4);
    expect(c.training.lr).toBe(3e-4);
    expect(c.eval.maxNewTokens).toBe(8);
    expect(c.methods.map((m) => m.label)).toEqual(["seqft", "replay-10%"]);
  });

  it("--methods picks methods by name or label and takes name-N% for the replay ratio", async () => {
    const r = await runCli(["config", "--methods", "seqft,seekr-10%,replay", "--device", "cpu", "--json"], { cwd: tmp });
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout) as RunConfig;
    expect(c.methods.map((m) => m.label)).toEqual(["seqft", "seekr-10%", "replay-1%"]);
    expect(c.methods[1]?.replayRatio).toBeCloseTo(0.1);
    expect(c.device).toBe("cpu");
  });

  it("a bad field exits 2 with the config module's message naming the field and value, no stack trace", async () => {
    const r = await runCli(["config", "--training.lr=-1"], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("training.lr");
    expect(r.stderr).toContain("expected a positive number, got -1");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe("");
  });

  it("an unknown field suggests the right name; a bad method name lists the methods", async () => {
    const a = await runCli(["config", "--training.lrr=0.1"], { cwd: tmp });
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/training\.lrr: unknown field \(did you mean "lr"\?\)/);
    const b = await runCli(["run", "--methods", "seqft,sekr"], { cwd: tmp, runExperiment: async () => ({}) });
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/methods\[1\]\.name: expected one of .*"seekr"/);
  });

  it("bad files: missing config file, malformed YAML, bad field in the file — exit 2, file named", async () => {
    const missing = await runCli(["config", "--config", "nope.yaml"], { cwd: tmp });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml.*not found/);
    const bad = join(tmp, "bad.yaml");
    writeFileSync(bad, "training:\n  lr: [1\n");
    const malformed = await runCli(["config", "--config", bad], { cwd: tmp });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/bad\.yaml:\d+:\d+: malformed YAML/);
    const field = join(tmp, "field.json");
    writeFileSync(field, JSON.stringify({ training: { epochs: 0 } }));
    const f = await runCli(["config", "--config", field], { cwd: tmp });
    expect(f.code).toBe(2);
    expect(f.stderr).toContain("field.json");
    expect(f.stderr).toMatch(/training\.epochs: expected a positive integer, got 0/);
  });
});

describe("seekr report", () => {
  it("writes report.html into the run folder with the heat maps and the OP/BWT numbers", async () => {
    const dir = join(tmp, "run-report");
    const scores = writeFixtureRun(dir);
    const r = await runCli(["report", dir], { cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Report written: run-report/report.html");
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html.match(/<svg class="chart heatmap score-matrix"/g)).toHaveLength(3);
    expect(html.match(/<svg class="chart heatmap importance"/g)).toHaveLength(5);
    for (const m of Object.values(scores.methods)) {
      expect(html).toContain(`>${(m.op as number).toFixed(2)}<`);
      expect(html).toContain(`>${(m.bwt as number).toFixed(2)}<`);
    }
  });

  it("--out writes a comparison of several runs", async () => {
    const a = join(tmp, "cmp-a");
    const b = join(tmp, "cmp-b");
    writeFixtureRun(a, { seed: 1 });
    writeFixtureRun(b, { seed: 2 });
    const r = await runCli(["report", "cmp-a", "cmp-b", "--out", "cmp/out.html"], { cwd: tmp });
    expect(r.code).toBe(0);
    const html = readFileSync(join(tmp, "cmp/out.html"), "utf8");
    expect(html).toContain("Comparison of 2 runs");
  });

  it("a missing run folder exits 2 with a clear message", async () => {
    const r = await runCli(["report", "no-such-run"], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("seekr: error: run folder not found: " + join(tmp, "no-such-run") + "\n");
  });
});

// ---- seekr run with a stand-in trainer ----------------------------------------------------------------------------

/** A stand-in for runExperiment: emits the documented events and writes a fixture run folder. */
function fakeTrainer(opts: { steps?: number; epochs?: number; abortAt?: { method: number; task: number } } = {}) {
  const calls: Array<{ config: RunConfig; options: RunOptions }> = [];
  const run: RunExperiment = async (config, options) => {
    calls.push({ config, options });
    const emit = (e: RunEvent): void => options.onEvent?.(e);
    const tasks = config.data.tasks ?? ["reverse", "cipher", "kv", "sort", "upper"];
    const methods = config.methods.map((m) => m.label);
    const steps = opts.steps ?? 4;
    const epochs = opts.epochs ?? 2;
    mkdirSync(config.output, { recursive: true });
    for (const [mi, method] of methods.entries()) {
      emit({ type: "method-start", method, methodIndex: mi, tasks });
      for (const [k, task] of tasks.entries()) {
        emit({ type: "task-start", method, task, taskIndex: k, tasks: tasks.length, epochs, steps });
        for (let e = 0; e < epochs; e++) {
          for (let s = 0; s < steps; s++) {
            if (opts.abortAt && opts.abortAt.method === mi && opts.abortAt.task === k && e === 0 && s === 1) {
              // The CLI's SIGINT handler aborts the signal; the trainer then saves and stops.
              await new Promise((r) => setTimeout(r, 5));
            }
            if (options.signal?.aborted) {
              mkdirSync(join(config.output, "checkpoints"), { recursive: true });
              writeFileSync(join(config.output, "checkpoints", "state.json"), "{}");
              emit({ type: "checkpoint", method, task, taskIndex: k, dir: join(config.output, "checkpoints"), reason: "abort" });
              const err = new Error("The operation was aborted");
              err.name = "AbortError";
              throw err;
            }
            emit({ type: "step", method, task, taskIndex: k, tasks: tasks.length, epoch: e, epochs, step: s + 1, steps, taskStep: e * steps + s + 1, totalSteps: epochs * steps, loss: 3 / (1 + e * steps + s) });
          }
        }
        emit({ type: "eval", method, task, taskIndex: k, scores: tasks.map((_, j) => (j <= k ? 90 - 10 * (k - j) : null)) });
        emit({ type: "task-end", method, task, taskIndex: k });
        emit({ type: "checkpoint", method, task, taskIndex: k, dir: join(config.output, "checkpoints") });
      }
      emit({ type: "method-end", method });
    }
    writeFixtureRun(config.output, { methods, tasks, seed: config.seed, steps, epochs });
    emit({ type: "done" });
    return { output: config.output, interrupted: false };
  };
  return { run, calls };
}

describe("seekr run", () => {
  it("runs the resolved config, prints plain progress lines (not a TTY), the score table, and writes report.html", async () => {
    const t = fakeTrainer();
    const out = join(tmp, "run-ok");
    const r: CliRun = await runCli(["run", "--output", out, "--seed", "3", "--training.epochs=2"], { cwd: tmp, runExperiment: t.run });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const { config, options } = t.calls[0] as { config: RunConfig; options: RunOptions };
    expect(config.seed).toBe(3);
    expect(config.training.epochs).toBe(2);
    expect(config.output).toBe(out);
    expect(options.signal).toBeInstanceOf(AbortSignal);
    expect(options.resume).toBeUndefined();

    const lines = r.stdout.split("\n");
    // Plain lines, no terminal control sequences.
    expect(r.stdout).not.toMatch(/\x1b\[/);
    expect(lines).toContain("[seqft 1/3] task 1/5 reverse | epoch 1/2 | step 1/4 | loss 3.0000 | ETA ?");
    expect(lines.some((l) => /^\[seekr-1% 3\/3\] task 5\/5 upper \| epoch 2\/2 \| step 4\/4 \| loss [\d.]+ \| ETA \d+s$/.test(l))).toBe(true);
    expect(lines).toContain("[replay-1%] eval after task 2/5 cipher: reverse 80.0, cipher 90.0");
    // Summary: matrices side by side, then OP / BWT per method.
    expect(r.stdout).toMatch(/seqft\s+replay-1%\s+seekr-1%/);
    expect(r.stdout).toMatch(/^method\s+OP\s+BWT\s+forgetting\s+tasks$/m);
    expect(r.stdout).toMatch(/^seekr-1%\s+\d+\.\d\d\s+-\d+\.\d\d\s+\d+\.\d\d\s+5\/5$/m);
    expect(r.stdout).toContain("Report: run-ok/report.html");
    expect(existsSync(join(out, "report.html"))).toBe(true);
  });

  it("Ctrl-C aborts through the signal, the trainer saves a checkpoint, exit 130 and the resume command", async () => {
    const signals = new EventEmitter();
    const t = fakeTrainer({ abortAt: { method: 1, task: 2 } });
    const out = join(tmp, "run-int");
    const inner = t.run;
    const run: RunExperiment = (config, options) => {
      const wrapped: RunOptions = {
        ...options,
        onEvent: (e) => {
          options.onEvent?.(e);
          if (e.type === "step" && e.method === "replay-1%" && e.taskIndex === 2 && e.step === 1) signals.emit("SIGINT");
        },
      };
      return inner(config, wrapped);
    };
    const r = await runCli(["run", "-o", out], { cwd: tmp, runExperiment: run, signals: signals as unknown as NodeJS.Process });
    expect(r.code).toBe(130);
    expect(r.stdout).toContain("Interrupted: stopping and saving a checkpoint");
    expect(r.stdout).toContain("checkpoint saved");
    expect(r.stdout).toContain("Resume with:\n  seekr run --resume run-int\n");
    expect(signals.listenerCount("SIGINT")).toBe(0);

    // Resuming passes the folder to the trainer and reads its config.json.
    writeFileSync(join(out, "config.json"), JSON.stringify({ seed: 11, output: out, methods: [{ name: "seqft" }] }));
    const t2 = fakeTrainer();
    const r2 = await runCli(["run", "--resume", "run-int"], { cwd: tmp, runExperiment: t2.run });
    expect(r2.code).toBe(0);
    expect(t2.calls[0]?.options.resume).toBe(out);
    expect(t2.calls[0]?.config.seed).toBe(11);
    expect(r2.stdout).toContain("Resuming the run in run-int");
  });

  it("a second Ctrl-C quits at once", async () => {
    const signals = new EventEmitter();
    let exited: number | undefined;
    const run: RunExperiment = (config, options) =>
      new Promise((_, reject) => {
        signals.emit("SIGINT");
        expect(options.signal?.aborted).toBe(true);
        signals.emit("SIGINT");
        reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
      });
    const r = await runCli(["run", "-o", join(tmp, "run-twice"), "--no-report"], { cwd: tmp, runExperiment: run, signals: signals as unknown as NodeJS.Process, exit: (c) => void (exited = c) });
    expect(exited).toBe(130);
    expect(r.stderr).toContain("quit without saving");
    expect(r.code).toBe(130);
  });

  it("a trainer failure exits 1 with its message; the stack only with --verbose", async () => {
    const run: RunExperiment = async () => {
      throw new Error("CUDA out of memory");
    };
    const a = await runCli(["run", "-o", join(tmp, "run-fail")], { cwd: tmp, runExperiment: run });
    expect(a.code).toBe(1);
    expect(a.stderr).toBe("seekr: error: CUDA out of memory\n(run with --verbose for the stack trace)\n");
    const b = await runCli(["run", "-o", join(tmp, "run-fail"), "--verbose"], { cwd: tmp, runExperiment: run });
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/^seekr: error: CUDA out of memory\nError: CUDA out of memory\n\s+at /);
  });

  it("--resume of a folder that is not a run folder is a usage error", async () => {
    mkdirSync(join(tmp, "empty"), { recursive: true });
    const r = await runCli(["run", "--resume", "empty"], { cwd: tmp, runExperiment: async () => ({}) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not a run folder (no config.json in it)");
  });
});
