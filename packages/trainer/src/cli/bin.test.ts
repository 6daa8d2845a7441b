// bin/seekr.js as a user runs it (a child process on the built dist/): version, devices --json, exit codes.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = fileURLToPath(new URL("../../bin/seekr.js", import.meta.url));

function needDist(): void {
  if (!existsSync(new URL("../../dist/cli/index.js", import.meta.url))) {
    throw new Error("dist/ is missing: build @seekr/trainer first (npm run build; npm test does it through turbo)");
  }
}

function seekr(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return seekrIn(root, ...args);
}

function seekrIn(cwd: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  needDist();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("bin/seekr.js", () => {
  it("--version and --help exit 0", () => {
    const v = seekr("--version");
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const h = seekr("--help");
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("Usage: seekr [options] [command]");
  });

  it("devices --json prints the engine's device report", () => {
    const r = seekr("devices", "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(Object.keys(report).sort()).toEqual(["cpu", "cuda", "preferred"]);
    expect(report.cpu.threads).toBeGreaterThan(0);
    expect(typeof report.cpu.gemm).toBe("string");
    expect(typeof report.cpu.simd).toBe("string");
    expect(typeof report.cuda.compiled).toBe("boolean");
    expect(typeof report.cuda.available).toBe("boolean");
    expect(typeof report.cuda.reason).toBe("string");
    expect(Array.isArray(report.cuda.devices)).toBe(true);
    expect(report.preferred).toMatch(/^(cpu|cuda:\d+)$/);
    if (!report.cuda.available) expect(report.cuda.reason.length).toBeGreaterThan(0);
  });

  it("devices prints a readable table", () => {
    const r = seekr("devices");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CPU\n {2}threads\s+\d+\n {2}GEMM backend\s+\S/m);
    expect(r.stdout).toMatch(/^CUDA\n {2}compiled\s+(yes|no)\n {2}available\s+(yes|no)/m);
    expect(r.stdout).toMatch(/--device auto uses: (cpu|cuda:\d+)/);
  });

  it("a bad config field exits 2 from the real process, naming the field, without a stack trace", () => {
    const r = seekr("config", "--training.batchSize=0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("training.batchSize: expected a positive integer, got 0");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

// A tiny real run through the trainer (two tasks, 16 examples each, one epoch): a few seconds on 2 cores.
const TINY = ["--data.tasks=reverse,sort", "--model.pretrain.steps=0", "--data.samplesPerTask=16", "--training.epochs=1", "--training.batchSize=8", "--eval.maxNewTokens=4", "--device", "cpu"];

describe("seekr run with the trainer (tiny configuration)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "seekr-bin-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("runs, prints plain progress lines (stdout is a pipe), the score table, and writes report.html", () => {
    const r = seekrIn(tmp, "run", "--output", "tiny", "--methods", "seqft,seekr", ...TINY);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\x1b\[/);
    expect(r.stdout).toMatch(/^\[seqft 1\/2\] task 1\/2 reverse \| epoch 1\/1 \| step 1\/\d+ \| loss \d+\.\d{4} \| ETA \?$/m);
    expect(r.stdout).toMatch(/^\[seekr-1%\] eval after task 2\/2 sort: reverse [\d.]+, sort [\d.]+$/m);
    expect(r.stdout).toMatch(/^method\s+OP\s+BWT\s+forgetting\s+FWT\s+tasks$/m);
    expect(r.stdout).toMatch(/^seekr-1%\s+[\d.]+\s+[-+]?[\d.]+\s+[\d.]+\s+[-+]?[\d.]+\s+2\/2$/m);
    expect(r.stdout).toContain("Report: tiny/report.html");
    const html = readFileSync(join(tmp, "tiny", "report.html"), "utf8");
    expect(html).toContain('<svg class="chart heatmap score-matrix"');
    expect(html).toContain('<svg class="chart heatmap importance"');
    const scores = JSON.parse(readFileSync(join(tmp, "tiny", "scores.json"), "utf8")) as { methods: Record<string, { op: number }> };
    expect(html).toContain(`>${(scores.methods["seekr-1%"]?.op as number).toFixed(2)}</td>`);
  }, 120_000);

  it("SIGINT saves a checkpoint and exits 130 with the resume command; --resume finishes the run", async () => {
    needDist();
    const child = spawn(process.execPath, [bin, "run", "--output", "intr", "--methods", "seqft,replay", ...TINY, "--data.samplesPerTask=64"], { cwd: tmp, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    let sent = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      out += d;
      // Interrupt in the middle of the second method.
      if (!sent && out.includes("[replay-1% 2/2] task 1/2")) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(out).toContain("Interrupted: stopping and saving a checkpoint");
    expect(out).toMatch(/checkpoint saved \(interrupted\)/);
    expect(out).toContain("Resume with:\n  seekr run --resume intr\n");
    const r = seekrIn(tmp, "run", "--resume", "intr");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[seqft] already finished in the resumed run");
    expect(r.stdout).toMatch(/^replay-1%\s+[\d.]+\s+[-+]?[\d.]+\s+[\d.]+\s+[-+]?[\d.]+\s+2\/2$/m);
  }, 120_000);
});
