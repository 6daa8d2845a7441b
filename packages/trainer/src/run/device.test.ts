// The run's device: resolution of "auto" / "cpu" / "cuda" / "cuda:N", the error when CUDA is asked for but not
// usable, and (on a machine with CUDA) every method trained on cuda:0, through runExperiment and `seekr run --device cuda`.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DeviceReport, deviceName, devices } from "@seekr/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import type { CheckpointState } from "./checkpoint.js";
import { resolveRunDevice } from "./device.js";
import { runExperiment, type RunInfo } from "./experiment.js";
import type { RunExtrasInput } from "./extras.js";
import type { ScoresFile } from "./scores.js";
import { tinyRunConfig, writeLookupStream } from "./testing.js";

const cuda = devices().cuda;
const root = mkdtempSync(join(tmpdir(), "seekr-device-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** A device report as devices() gives it, with CUDA usable or not. */
function report(available: boolean, reason = ""): () => DeviceReport {
  return () => ({
    cpu: { threads: 2, gemm: "own", simd: "avx2+fma" },
    cuda: {
      compiled: true, available, reason, runtimeVersion: "12.4", driverVersion: available ? "12.4" : null, gemm: "cuBLAS",
      devices: available ? [{ device: "cuda:0", name: "GPU", computeCapability: "9.0", totalMemoryGiB: 80, multiprocessors: 132 }] : [],
    },
    preferred: available ? "cuda:0" : "cpu",
  });
}

describe("resolveRunDevice", () => {
  it("auto follows devices().preferred; cpu is always there", () => {
    expect(deviceName(resolveRunDevice("auto", report(true)))).toBe("cuda:0");
    expect(deviceName(resolveRunDevice("auto", report(false, "no NVIDIA driver found")))).toBe("cpu");
    expect(deviceName(resolveRunDevice("cpu", report(false)))).toBe("cpu");
    expect(deviceName(resolveRunDevice("auto"))).toBe(devices().preferred);
  });

  it("cuda and cuda:N resolve when usable and present", () => {
    expect(deviceName(resolveRunDevice("cuda", report(true)))).toBe("cuda:0");
    expect(deviceName(resolveRunDevice("cuda:0", report(true)))).toBe("cuda:0");
    expect(() => resolveRunDevice("cuda:3", report(true))).toThrow('device: "cuda:3" does not exist on this machine (CUDA devices: cuda:0)');
  });

  it("CUDA asked for but not usable: the error quotes the engine's reason", () => {
    expect(() => resolveRunDevice("cuda", report(false, "no NVIDIA driver found (libcuda.so could not be loaded)"))).toThrow(
      'device: "cuda" was requested but CUDA is not available: no NVIDIA driver found (libcuda.so could not be loaded); use --device cpu or auto (`seekr devices` shows what this machine has)',
    );
    expect(() => resolveRunDevice("gpu", report(true))).toThrow('device: expected "auto", "cpu", "cuda" or "cuda:N", got "gpu"');
  });
});

describe.skipIf(cuda.available)("without usable CUDA", () => {
  it(`runExperiment with device cuda fails before writing anything, with the reason (${cuda.reason})`, async () => {
    const data = join(root, "data-nocuda");
    const tasks = writeLookupStream(data, { train: 16, eval: 2, test: 4 });
    const out = join(root, "nocuda");
    const config = tinyRunConfig(out, data, tasks, { device: "cuda:7" });
    await expect(runExperiment(config)).rejects.toThrow(`device: "cuda:7" was requested but CUDA is not available: ${cuda.reason}`);
    expect(existsSync(out)).toBe(false);
  });

  it("seekr run --device cuda exits 1 with the reason", async () => {
    const r = await runCli(["run", "--output", join(root, "cli-nocuda"), "--device", "cuda", "--no-report", "--model.pretrain.steps=0"], { cwd: root });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`seekr: error: device: "cuda" was requested but CUDA is not available: ${cuda.reason}`);
  });
});

describe.skipIf(!cuda.available)("on cuda:0", () => {
  const data = join(root, "data");
  const tasks = writeLookupStream(data, { train: 48, eval: 4, test: 12 }).slice(0, 2);
  const extras: RunExtrasInput = { cacheDir: join(root, "cache"), eval: { unseen: "next", baseline: true } };
  const methods = [
    { name: "seqft" },
    { name: "replay", replayRatio: 0.1 },
    { name: "derpp", replayRatio: 0.1 },
    { name: "lwf" },
    { name: "ewc", ewc: { lambda: 100, samples: 8 } },
    { name: "seekr", replayRatio: 0.1, budget: { queryRows: 8 } },
    { name: "seekr", label: "seekr-allrows", replayRatio: 0.1, budget: { queryRows: 0 } },
    { name: "multitask" },
  ];
  const cfg = (out: string, device: string, over: Record<string, unknown> = {}) =>
    tinyRunConfig(out, data, tasks, {
      device, methods, training: { epochs: 2, batchSize: 16, lr: 3e-3, maxLength: 32 }, checkpoint: { everySteps: 3 },
      model: { preset: "tiny", numHiddenLayers: 2, pretrain: { steps: 0, batchSize: 16, lr: 3e-3 } }, ...over,
    });
  const losses = (dir: string, method: string): number[] =>
    readFileSync(join(dir, "log.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { method: string; loss: number }).filter((l) => l.method === method).map((l) => l.loss);

  it("every method trains, evaluates and checkpoints on cuda:0; the first step's loss matches the CPU's", async () => {
    const out = join(root, "gpu");
    const r = await runExperiment(cfg(out, "cuda"), { extras });
    expect(r.interrupted).toBe(false);
    expect(readJson<RunInfo>(join(out, "run.json")).device).toBe("cuda:0");
    const scores = readJson<ScoresFile>(join(out, "scores.json"));
    for (const m of r.methods) {
      expect(scores.methods[m.label]!.complete, m.label).toBe(true);
      expect(readJson<CheckpointState>(join(out, "checkpoints", m.label, "state.json")).status).toBe("done");
      const l = losses(out, m.label);
      expect(l.length).toBeGreaterThan(0);
      expect(l.every(Number.isFinite), m.label).toBe(true);
    }
    const cpuOut = join(root, "cpu");
    await runExperiment(cfg(cpuOut, "cpu", { methods: [{ name: "seqft" }] }), { extras });
    const [g, c] = [losses(out, "seqft")[0]!, losses(cpuOut, "seqft")[0]!];
    expect(Math.abs(g - c)).toBeLessThanOrEqual(1e-4 * Math.abs(c)); // same init (drawn on the host), one forward apart
  }, 300_000);

  it("an abort on cuda:0 resumes from the checkpoint (method tensors and optimizer moments back on the device)", async () => {
    const out = join(root, "gpu-abort");
    const ac = new AbortController();
    const first = await runExperiment(cfg(out, "cuda:0"), {
      extras,
      signal: ac.signal,
      onEvent: (e) => { if (e.type === "step" && e.method === "seekr-10%" && e.taskIndex === 1 && e.taskStep === 2) ac.abort(); },
    });
    expect(first.interrupted).toBe(true);
    const second = await runExperiment(cfg(out, "cuda:0"), { extras, resume: out });
    expect(second.interrupted).toBe(false);
    expect(readJson<ScoresFile>(join(out, "scores.json")).methods["multitask"]!.complete).toBe(true);
  }, 300_000);

  it("seekr run --device cuda completes", async () => {
    const out = join(root, "cli-gpu");
    const r = await runCli(
      ["run", "--output", out, "--device", "cuda", "--methods", "seqft,seekr", "--no-report", "--plain", "--data.tasks=reverse,sort", "--model.pretrain.steps=0", "--data.samplesPerTask=16", "--training.epochs=1", "--training.batchSize=8", "--eval.maxNewTokens=4"],
      { cwd: root },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(readJson<RunInfo>(join(out, "run.json")).device).toBe("cuda:0");
  }, 300_000);
});
