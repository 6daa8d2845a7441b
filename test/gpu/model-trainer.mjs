// GPU check of @seekr/model and @seekr/trainer on cuda:0 (plain node over the built dist/, for machines without
// node_modules' dev tools): a LLaMA model's forward / backward with taps, sensitivity and distillation against the
// same model on the CPU, and the same short continual-learning run (SeqFT, Replay, SEEKR; float32, then bf16
// autocast) on the CPU and on cuda:0: per-step losses and the score matrices side by side. Prints JSON lines; exits 1
// when a check fails. SEEKR_CHECK_DEVICE=cpu runs the "device" side on the CPU too (checks the script itself).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as S from "@seekr/tensor";
import { LlamaModel, llamaConfig, padBatch, mirroredTensor } from "@seekr/model";
import { resolveConfig, runExperiment } from "@seekr/trainer";
import { check, exit, fail, relErr, report } from "../../packages/tensor/test/gpu/checks.mjs";

const info = S.devices();
const DEV = process.env.SEEKR_CHECK_DEVICE ?? "cuda:0";
report({ device: DEV, cuda: info.cuda.devices[0] ?? null, available: info.cuda.available, reason: info.cuda.reason, gemm: info.cuda.gemm });
if (DEV !== "cpu" && !info.cuda.available) process.exit(0);


// ---- the model ----------------------------------------------------------------------------------------------------
const cfg = llamaConfig({ vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64 });
const rows = [[1, 5, 7, 9, 2, 3], [4, 4, 8], [9, 1, 2, 3, 30, 31]];
const labels = rows.map((r) => r.map((t, i) => (i < 2 ? -100 : t)));
function run(m) {
  return S.tidy(() => {
    const b = padBatch(rows, { labels, padId: 0, device: m.device });
    const r = mirroredTensor(new Int32Array([5, 1, 2, 0, 3, 3]), { shape: [3, 2], device: m.device });
    const teacher = S.tensor(new Float32Array(3 * 2 * 2 * 6).fill(1 / 6), { shape: [3, 2, 2, 6], device: m.device });
    const out = m.forward(b.ids, {
      attentionMask: b.attentionMask, labels: b.labels, sensitivity: true,
      taps: [{ layer: 1, heads: [0, 3], rows: r }], distill: [{ layer: 0, heads: [1, 2], rows: r, teacher }],
    });
    const total = S.add(out.loss, out.distillLoss);
    total.backward();
    const grads = new Map(m.parameterList().map((p, i) => [i, p.grad.toFloatArray()]));
    for (const p of m.parameterList()) { p.grad?.dispose(); p.grad = null; }
    return { total: total.item(), logits: out.logits.toFloatArray(), taps: out.taps.get(1).toFloatArray(), sens: out.sensitivity.get(0).toFloatArray(), grads };
  });
}
const cpuModel = LlamaModel.init(cfg, { seed: 3, std: 0.3 });
const devModel = LlamaModel.init(cfg, { seed: 3, std: 0.3, device: DEV });
const a = run(cpuModel), b = run(devModel);
check("model: loss + distill loss", Math.abs(a.total - b.total) / Math.abs(a.total), 1e-5);
check("model: logits", relErr(b.logits, a.logits), 1e-5);
check("model: taps", relErr(b.taps, a.taps), 1e-5);
check("model: sensitivity", relErr(b.sens, a.sens), 1e-4);
let g = 0;
for (const [i, ga] of a.grads) g = Math.max(g, relErr(b.grads.get(i), ga));
check("model: every gradient", g, 1e-4);
const moved = devModel.to("cpu");
check("model: to(cpu) keeps the weights", relErr(moved.parameterList()[1].toFloatArray(), cpuModel.parameterList()[1].toFloatArray()), 0);
cpuModel.dispose();
moved.dispose();

// ---- the trainer ----------------------------------------------------------------------------------------------------
const root = mkdtempSync(join(tmpdir(), "seekr-gpu-run-"));
const cache = join(root, "cache");
const runOn = (device, precision) => {
  const out = join(root, `${device.replace(":", "")}-${precision}`);
  const config = resolveConfig({
    seed: 7, device, output: out,
    data: { source: "builtin", tasks: ["reverse", "cipher", "sort"] },
    model: { preset: "tiny", numHiddenLayers: 2, pretrain: { steps: 60, batchSize: 16, lr: 3e-3 } },
    training: { epochs: 1, batchSize: 16, lr: 3e-3, maxLength: 32, precision },
    eval: { maxNewTokens: 4, batchSize: 64 },
    methods: [{ name: "seqft" }, { name: "replay", replayRatio: 0.05 }, { name: "seekr", replayRatio: 0.05, budget: { queryRows: 8 } }],
  }, "gpu check");
  return runExperiment(config, { extras: { cacheDir: join(cache, device.replace(":", "")) } }).then(() => {
    const log = readFileSync(join(out, "log.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const scores = JSON.parse(readFileSync(join(out, "scores.json"), "utf8"));
    const runInfo = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    return { log, scores, runInfo };
  });
};
const t0 = performance.now();
const cpuRun = await runOn("cpu", "float32");
const t1 = performance.now();
const devRun = await runOn(DEV, "float32");
const t2 = performance.now();
report({ trainer: "float32 run", cpuSeconds: (t1 - t0) / 1000, deviceSeconds: (t2 - t1) / 1000, device: devRun.runInfo.device });
if (devRun.runInfo.device !== DEV) fail({ check: "run.json device", got: devRun.runInfo.device });
// Pre-training and the first steps see the same data; float rounding differs, so losses drift apart slowly.
const firstSteps = (r) => r.log.filter((l) => l.method === "seqft").slice(0, 5).map((l) => l.loss);
check("trainer: SeqFT first 5 losses, device vs cpu (relative)", relErr(firstSteps(devRun), firstSteps(cpuRun)), 1e-3);
for (const m of Object.keys(cpuRun.scores.methods)) {
  const c = cpuRun.scores.methods[m], d = devRun.scores.methods[m];
  report({ method: m, cpu: { op: c.op, bwt: c.bwt }, device: { op: d?.op, bwt: d?.bwt } });
  if (!d || !Number.isFinite(d.op)) fail({ check: `trainer: ${m} finished on the device` });
}
const bf = await runOn(DEV, "bfloat16");
report({ trainer: "bfloat16 run", seconds: (performance.now() - t2) / 1000 });
for (const l of bf.log) if (!Number.isFinite(l.loss)) { fail({ check: "bf16 losses finite", at: l }); break; }
check("trainer: bf16 SeqFT first 5 losses vs float32 (relative)", relErr(firstSteps(bf), firstSteps(devRun)), 0.05);
for (const m of Object.keys(bf.scores.methods)) report({ method: m, bfloat16: { op: bf.scores.methods[m].op, bwt: bf.scores.methods[m].bwt } });
rmSync(root, { recursive: true, force: true });
report({ memory: S.memory().devices });
exit();
