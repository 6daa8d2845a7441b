// `seekr experiment`: help, --dry-run of the shipped grid, usage errors, and one real grid end to end (child
// `seekr run` processes on the built dist/, two at a time): the document's numbers, skipping on a rerun, Ctrl-C.

import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CliIO } from "./main.js";
import { capture, runCli } from "./testing.js";

const tmp = mkdtempSync(join(tmpdir(), "seekr-experiment-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function needDist(): void {
  if (!existsSync(new URL("../../dist/cli/index.js", import.meta.url))) {
    throw new Error("dist/ is missing: build @seekr/trainer first (npm run build; npm test does it through turbo)");
  }
}

/** A grid small enough to train in a second or two per run folder. */
function tinyGrid(file: string, samplesPerTask = 16): string {
  writeFileSync(
    file,
    `id: tiny
base:
  device: cpu
  model: { preset: tiny, numHiddenLayers: 1, pretrain: { steps: 0 } }
  data: { tasks: [reverse, sort], samplesPerTask: ${samplesPerTask} }
  training: { epochs: 1, batchSize: 8 }
  eval: { maxNewTokens: 4 }
seeds: [1, 2]
orders: [[reverse, sort]]
tables:
  - id: main
    title: Main
    methods: [seqft, replay-10%]
cost: { reference: seqft }
`,
  );
  return file;
}

describe("seekr experiment: help, plan, usage", () => {
  it("--help documents the options and the overrides", async () => {
    const r = await runCli(["experiment", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--grid <file>", "--runs <dir>", "--out <file>", "--jobs <n>", "--seeds <n>", "--orders <n>", "--only <ids>", "--dry-run", "--aggregate-only", "--set <field>=VALUE"]) {
      expect(r.stdout).toContain(flag);
    }
    expect((await runCli(["--help"])).stdout).toMatch(/^ {2}experiment \[options\] +run a grid/m);
  });

  it("--dry-run lists the shipped grid's run folders and trains nothing", async () => {
    const r = await runCli(["experiment", "--dry-run", "--runs", "runs", "--seeds", "1", "--only", "table1,table4"], { cwd: tmp });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("seekr experiment: grid paper-small");
    expect(r.stdout).toContain("4 run folders, 28 method trainings (2 results reused across tables)");
    expect(r.stdout).toMatch(/^ {2}table1\/1-s1 +new +seqft, ewc, lwf, replay-1%, derpp-1%, seekr-1%, replay-10%, derpp-10%, seekr-10%, multitask$/m);
    expect(r.stdout).toMatch(/^ {2}table4\/2-s1 +new +seekr-random, seekr-sensitivity, seekr-forgettability, seekr-allheads$/m);
    expect(r.stdout).toContain("table4: seekr-1% from table1 (2 runs)");
    expect(existsSync(join(tmp, "runs"))).toBe(false);
  });

  it("usage and grid errors exit 2 naming the flag or the field", async () => {
    const bad = async (args: string[]) => {
      const r = await runCli(["experiment", ...args], { cwd: tmp });
      expect(r.code).toBe(2);
      return r.stderr;
    };
    expect(await bad(["--jobs", "0", "--dry-run"])).toContain("--jobs expects a positive integer");
    expect(await bad(["--only", "nope", "--dry-run"])).toContain('--only: unknown table or sweep "nope"');
    expect(await bad(["--seeds", "9", "--dry-run"])).toContain("--seeds: the grid has 3 seeds, asked for 9");
    expect(await bad(["--set", "training.lr=-1", "--dry-run"])).toContain("base.training.lr: expected a positive number, got -1");
    const file = join(tmp, "bad.yaml");
    writeFileSync(file, "tables:\n  - id: t\n    methods: [{ name: replay, replayRatio: 3 }]\n");
    expect(await bad(["--grid", file, "--dry-run"])).toContain("tables[0].methods[0].replayRatio: expected a number in (0, 1], got 3");
    expect(await bad(["--grid", join(tmp, "missing.yaml")])).toContain("configuration file not found");
  });
});

describe("seekr experiment end to end (real runs, 2 jobs)", () => {
  const grid = tinyGrid(join(tmp, "tiny.yaml"));
  const args = ["experiment", "--grid", "tiny.yaml", "--runs", "runs", "--out", "docs/RESULTS.md", "--jobs", "2"];

  it("trains every run folder, writes the document with real numbers; a rerun skips the complete folders", async () => {
    needDist();
    const r = await runCli(args, { cwd: tmp });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("2 run folders under runs/tiny: 0 complete, 2 to run (4 method trainings), 2 at a time");
    expect(r.stdout).toMatch(/^\[\d\/2\] start main\/1-s1: seqft, replay-10% \| elapsed \d+s \| ETA \?$/m);
    expect(r.stdout).toMatch(/^\[\d\/2\] done main\/1-s2 in \d+s \| elapsed \d+s \| ETA \S+$/m);
    expect(r.stdout).toContain("Results: docs/RESULTS.md; 2/2 run folders complete");
    const doc = readFileSync(join(tmp, "docs", "RESULTS.md"), "utf8");
    expect(doc).toContain("| command | `seekr experiment --grid tiny.yaml --runs runs --out docs/RESULTS.md --jobs 2` |");
    const scores = [1, 2].map((s) => JSON.parse(readFileSync(join(tmp, "runs", "tiny", "main", `1-s${s}`, "scores.json"), "utf8")));
    const ops = scores.map((sc) => sc.methods["replay-10%"].op as number);
    const mean = (ops[0]! + ops[1]!) / 2;
    const std = Math.abs(ops[0]! - ops[1]!) / Math.SQRT2;
    expect(doc).toMatch(new RegExp(`^\\| replay-10% \\| ${mean.toFixed(2).replace(".", "\\.")} ± ${std.toFixed(2).replace(".", "\\.")} \\(2\\) \\| -?\\d+\\.\\d\\d ± \\d+\\.\\d\\d \\(2\\) \\| 2/2 \\|$`, "m"));
    expect(doc).toMatch(/^\| seqft \| \d+\.\d\d ± \d+\.\d\d \(2\) \| -?\d+\.\d\d ± \d+\.\d\d \(2\) \| 2\/2 \|$/m);
    expect(doc).toMatch(/^\| seqft \(reference\) \| 1\.00 ± 0\.00 \(2\) \| 1\.00 ± 0\.00 \(2\) \| [\d.]+ ± [\d.]+ \(2\) \| [\d.]+ ± [\d.]+ \(2\) \|$/m);
    expect(doc).not.toContain("—");
    const info = JSON.parse(readFileSync(join(tmp, "runs", "tiny", "main", "1-s1", "run.json"), "utf8"));
    expect(info.methods.seqft.peakBytes).toBeGreaterThan(0);
    expect(info.methods.seqft.seconds).toBeGreaterThan(0);

    writeFileSync(join(tmp, "docs", "RESULTS.md"), doc.replace(/<!-- analysis -->[\s\S]*<!-- \/analysis -->/, "<!-- analysis -->\nKept.\n<!-- /analysis -->"));
    const again = await runCli(args, { cwd: tmp });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("skip main/1-s1: complete (seqft, replay-10%)");
    expect(again.stdout).toContain("skip main/1-s2: complete (seqft, replay-10%)");
    expect(again.stdout).not.toContain("start ");
    expect(again.stdout).toContain("analysis section kept");
    expect(readFileSync(join(tmp, "docs", "RESULTS.md"), "utf8")).toContain("<!-- analysis -->\nKept.\n<!-- /analysis -->");
    const agg = await runCli([...args, "--aggregate-only"], { cwd: tmp });
    expect(agg.code).toBe(0);
    expect(agg.stdout).not.toContain("skip ");
    // Other settings: the folders are left alone (no training), their results are not used.
    const changed = await runCli([...args, "--set", "eval.maxNewTokens=3"], { cwd: tmp });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain("keep main/1-s1: the folder holds results of other settings (--overwrite retrains it)");
    expect(changed.stdout).not.toContain("start ");
    const stale = readFileSync(join(tmp, "docs", "RESULTS.md"), "utf8");
    expect(stale).toMatch(/^\| seqft \| —\[\^n\d+\] \| —\[\^n\d+\] \| 0\/2 \|$/m);
    expect(stale).toContain("the folder holds results of other settings");
    expect(JSON.parse(readFileSync(join(tmp, "runs", "tiny", "main", "1-s1", "scores.json"), "utf8")).methods.seqft.complete).toBe(true);
    expect(grid).toBe(join(tmp, "tiny.yaml"));
  }, 120_000);

  it("Ctrl-C stops the children (exit 130); the same command resumes and finishes", async () => {
    needDist();
    const file = tinyGrid(join(tmp, "slow.yaml"), 320);
    const argv = ["experiment", "--grid", file, "--runs", "runs-int", "--out", "int.md", "--jobs", "2"];
    const signals = new EventEmitter();
    const stdout = capture();
    let sent = false;
    const out = {
      isTTY: false,
      write(s: string) {
        stdout.write(s);
        // Once the second run is training its first method (its log shows a step), press Ctrl-C.
        if (!sent && /start main\/1-s2/.test(s)) {
          sent = true;
          const log = join(tmp, "runs-int", "tiny", "main", "1-s2", "experiment.log");
          const poll = setInterval(() => {
            if (existsSync(log) && /\[seqft 1\/2\] task 1\/2 reverse \| epoch 1\/1 \| step/.test(readFileSync(log, "utf8"))) {
              clearInterval(poll);
              signals.emit("SIGINT");
            }
          }, 20);
        }
        return true;
      },
    };
    const r = await runCli(argv, { cwd: tmp, stdout: out, signals: signals as unknown as CliIO["signals"] });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(stdout.text).toContain("Interrupted: stopping");
    expect(stdout.text).toContain("Run the same command again to resume:");
    expect(existsSync(join(tmp, "int.md"))).toBe(false);
    const again = await runCli(argv, { cwd: tmp });
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("2/2 run folders complete");
    expect(again.stdout).toMatch(/start main\/1-s2: seqft, replay-10% \(resuming\)/);
    expect(readFileSync(join(tmp, "runs-int", "tiny", "main", "1-s2", "experiment.log"), "utf8")).toMatch(/== seqft 1\/2: 2 tasks \(resumed\)/);
    expect(readFileSync(join(tmp, "int.md"), "utf8")).toMatch(/^\| replay-10% \| \d+\.\d\d ± \d+\.\d\d \(2\) \|/m);
  }, 120_000);
});
