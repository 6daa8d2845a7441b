// `npm run bench`: training-step throughput of the reference LLaMA configuration (float32 and mixed precision) and GEMM
// GFLOP/s on the CPU, each beside an anchor measured in the same run (PyTorch on this machine; the machine's measured
// single-core FMA peak). `npm run bench -- --device cuda`: the reference and ~125M configurations on the GPU in
// bf16 mixed precision, tokens/s and model FLOPs utilisation against the card's bf16 dense peak, beside PyTorch's
// eager step on the same card.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { native } from "@seekr/native";
import {
  Generator, devices, empty, parseDevice, setGemmBackend, setThreads,
  type FloatDType, type Tensor,
} from "@seekr/tensor";
import { GPU_125M_CONFIG, REFERENCE_CONFIG, flopsPerToken, matmulParams, type LlamaConfig } from "./llama.js";
import { ABLATIONS, type Ablation, benchHostOverhead, makeTrainStep, printHostOverhead } from "./host.js";
import { benchAttention, benchSeekrOverhead } from "./attention.js";
import { NO_TORCH, torchPython } from "./python.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = resolve(here, "..", "..");
const repoRoot = resolve(pkgRoot, "..", "..");

const { values: args } = parseArgs({
  options: {
    device: { type: "string", default: "cpu" },
    precision: { type: "string" },
    configs: { type: "string" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    threads: { type: "string" },
    batch: { type: "string", default: "16" },
    seq: { type: "string", default: "128" },
    "skip-torch": { type: "boolean", default: false },
    "skip-gemm": { type: "boolean", default: false },
    only: { type: "string", default: "step,gemm,attention,seekr" },
    out: { type: "string" },
    profile: { type: "boolean", default: false },
    "host-overhead": { type: "boolean", default: false },
    ablate: { type: "string", default: "" },
    rounds: { type: "string", default: "5" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(`seekr tensor benchmark
  --device cpu|cuda|cuda:N   cuda: training steps only (GEMM / attention CPU tables are skipped)
  --precision LIST    float32,bfloat16,float16 (default: cpu float32,bfloat16; cuda bfloat16)
  --configs LIST      reference,125m (default: cpu reference; cuda reference,125m with seq 1024 for 125m)
  --steps N           timed training steps (default 10)   --warmup N (default 3)
  --threads N         kernel threads (default: all cores)
  --batch N --seq N   reference batch 16 x 128
  --skip-torch        do not run the PyTorch anchors      --skip-gemm   skip GEMM sizes
  --only LIST         any of step,gemm,attention,seekr (default: all)
  --profile           after each training-step row, two more steps with native.profileStart/Stop: time per op
  --ablate LIST       after each training-step row, the same step with each of these switched off, then all together:
                      fused-norm (residual adds fused into the norms, bf16 norm outputs), weight-cache (autocast's
                      kept weight casts refreshed by AdamW); with --host-overhead: the proxy with them off
  --host-overhead     only the host-overhead proxy: the 125M step's op graph (12 layers, bf16 autocast, AdamW + clip)
                      with tiny dimensions on the CPU; ms/step, native calls/step, JS and native ms/step
                      (--steps N per round, at least 20; --rounds N, default 5; --precision, default bfloat16; 1 kernel thread)
  --out FILE          JSON results (default bench-out/tensor-cpu.json, or tensor-cuda.json with --device cuda)`);
  process.exit(0);
}
let deviceName: string;
try {
  const d = parseDevice(args.device!);
  deviceName = d.type === "cpu" ? "cpu" : `cuda:${d.index}`;
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(2);
}
const onGpu = deviceName !== "cpu";
if (onGpu && !devices().cuda.available) {
  console.error(`bench: --device ${args.device}: CUDA is not available here (${devices().cuda.reason})`);
  process.exit(2);
}
const precisions = (args.precision ?? (onGpu ? "bfloat16" : "float32,bfloat16")).split(",").map((s) => s.trim()) as FloatDType[];
for (const p of precisions)
  if (!["float32", "bfloat16", "float16"].includes(p)) {
    console.error(`bench: --precision accepts float32, bfloat16, float16; got "${p}"`);
    process.exit(2);
  }
const configNames = (args.configs ?? (onGpu ? "reference,125m" : "reference")).split(",").map((s) => s.trim());
for (const c of configNames)
  if (c !== "reference" && c !== "125m") {
    console.error(`bench: --configs accepts reference, 125m; got "${c}"`);
    process.exit(2);
  }
const int = (s: string | undefined, name: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench: --${name} must be a positive integer, got ${s}`);
    process.exit(2);
  }
  return n;
};
const steps = int(args.steps, "steps");
const warmup = int(args.warmup, "warmup");
const threads = args.threads ? int(args.threads, "threads") : cpus().length;
const batch = int(args.batch, "batch");
const seq = int(args.seq, "seq");
setThreads(threads);
const ablations = (args.ablate ?? "").split(",").map((x) => x.trim()).filter(Boolean) as Ablation[];
for (const a of ablations)
  if (!ABLATIONS.includes(a)) {
    console.error(`bench: --ablate accepts ${ABLATIONS.join(", ")}; got "${a}"`);
    process.exit(2);
  }

if (args["host-overhead"]) {
  setThreads(args.threads ? threads : 1);
  const r = benchHostOverhead({ steps: Math.max(steps, 20), warmup: Math.max(warmup, 3), rounds: int(args.rounds, "rounds"), precision: args.precision ? precisions[0] : "bfloat16", ablate: new Set(ablations) });
  if (ablations.length) console.log(`(with ${ablations.join(", ")} switched off)`);
  printHostOverhead(r);
  if (args.out) {
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), hostOverhead: r }, null, 2));
  }
  process.exit(0);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 1): string => x.toFixed(d);

// ---- machine -----------------------------------------------------------------------------------------------
const report = devices();
const peak = native.fmaPeak(0.3);
console.log(`machine: ${cpus()[0]?.model ?? "cpu"}, ${cpus().length} cores; seekr threads ${threads}; GEMM: ${report.cpu.gemm}; SIMD ${report.cpu.simd}`);
console.log(`measured single-core FMA peak: ${fmt(peak)} GFLOP/s (fp32)`);

// ---- training step ----------------------------------------------------------------------------------------------
/** bf16 dense tensor-core peak (TFLOP/s, without sparsity) by card name; null when the card is not in the table. */
function bf16PeakTflops(name: string): number | null {
  const n = name.toUpperCase();
  if (n.includes("H200")) return 989.4;
  if (n.includes("H100") && (n.includes("PCIE") || n.includes("H100 NVL"))) return n.includes("NVL") ? 835.5 : 756.5;
  if (n.includes("H100")) return 989.4; // SXM
  if (n.includes("A100")) return 312;
  if (n.includes("L40S")) return 362;
  return null;
}
const gpuName = onGpu ? devices().cuda.devices.find((d) => d.device === deviceName)?.name ?? "?" : null;
const peakTflops = gpuName ? bf16PeakTflops(gpuName) : null;

interface StepResult { config: string; precision: FloatDType; batch: number; seq: number; medianMs: number; minMs: number; tokensPerS: number; params: number; mfu: number | null; skipped: number; ablate: Ablation[] }
function seekrStep(name: string, cfg: LlamaConfig, precision: FloatDType, b: number, t: number, ablate: Ablation[] = []): StepResult {
  const step = makeTrainStep(cfg, precision, b, t, deviceName, new Set(ablate));
  const times: number[] = [];
  const profileSteps = args.profile ? 2 : 0;
  let profileWallMs = 0;
  for (let i = 0; i < warmup + steps + profileSteps; i++) {
    if (i === warmup + steps) native.profileStart();
    const t0 = performance.now();
    step.run();
    if (onGpu) native.synchronize(1, parseDevice(deviceName).index);
    if (i >= warmup + steps) profileWallMs += performance.now() - t0;
    else if (i >= warmup) times.push(performance.now() - t0);
  }
  if (profileSteps) printProfile(native.profileStop(), profileSteps, profileWallMs);
  const n = step.plist.reduce((a, p) => a + p.size, 0);
  const skipped = step.skipped();
  step.dispose();
  const med = median(times);
  const tokensPerS = (b * t) / (med / 1000);
  const mfu = peakTflops ? (tokensPerS * flopsPerToken(cfg, t)) / (peakTflops * 1e12) : null;
  return { config: name, precision, batch: b, seq: t, medianMs: med, minMs: Math.min(...times), tokensPerS, params: n, mfu, skipped, ablate };
}

/** The per-op table of --profile: the ops that took most device time (host time on the CPU), per step. */
function printProfile(rows: ReturnType<typeof native.profileStop>, nSteps: number, wallMs: number): void {
  const per = (x: number): string => fmt(x / nSteps, 3).padStart(9);
  const host = rows.reduce((a, r) => a + r.hostMs, 0);
  const dev = rows.reduce((a, r) => a + r.deviceMs, 0);
  const calls = rows.reduce((a, r) => a + r.calls, 0);
  console.log(`    profile (${nSteps} steps): wall ${per(wallMs)} ms/step; ${fmt(calls / nSteps, 0)} native calls/step; native host ${per(host)} ms/step; device ${per(dev)} ms/step (between events around each call); JS outside native calls ${per(wallMs - host)} ms/step`);
  const key = onGpu ? (r: (typeof rows)[number]) => r.deviceMs : (r: (typeof rows)[number]) => r.hostMs;
  console.log(`      ${"op".padEnd(28)} ${"calls".padStart(7)} ${"host ms".padStart(9)} ${"device ms".padStart(9)}  (per step)`);
  for (const r of [...rows].sort((a, b) => key(b) - key(a)).slice(0, 25))
    console.log(`      ${r.op.padEnd(28)} ${fmt(r.calls / nSteps, 0).padStart(7)} ${per(r.hostMs)} ${per(r.deviceMs)}`);
}

interface TorchResult { step_ms_median: number; step_ms_min: number; tokens_per_s: number; threads: number; torch: string; attention: string; amp?: string }
function torchStep(cfg: LlamaConfig, nThreads: number, precision: FloatDType, b: number, t: number): TorchResult | string {
  const python = torchPython(onGpu);
  if (!python) return onGpu ? "skipped: no Python here has PyTorch with CUDA (SEEKR_PYTHON=/path/to/python3)" : NO_TORCH;
  const config = JSON.stringify({
    vocab_size: cfg.vocabSize, hidden_size: cfg.hiddenSize, num_hidden_layers: cfg.numLayers, num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads, intermediate_size: cfg.intermediateSize, batch_size: b, seq_len: t,
  });
  const env = { ...process.env };
  for (const v of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]) delete env[v];
  const r = spawnSync(python, [join(pkgRoot, "bench", "torch_step.py"), "--threads", String(nThreads), "--warmup", String(warmup), "--steps", String(steps),
    "--config", config, "--amp", precision, "--device", onGpu ? deviceName : "cpu"], { encoding: "utf8", env });
  if (r.status !== 0) return `failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as TorchResult;
}

const only = new Set(args.only!.split(",").map((x) => x.trim()));
for (const o of only) if (!["step", "gemm", "attention", "seekr"].includes(o)) {
  console.error(`bench: --only accepts step, gemm, attention, seekr; got "${o}"`);
  process.exit(2);
}
const cfg = REFERENCE_CONFIG;
const stepRows: StepResult[] = [];
const torchRuns: Array<{ config: string; precision: FloatDType; threads: number; result: TorchResult | string }> = [];
if (only.has("step")) {
  if (onGpu) console.log(`device: ${deviceName} ${gpuName}; bf16 dense peak ${peakTflops ?? "unknown (card not in the table): no MFU"} TFLOP/s; CUDA GEMM: ${devices().cuda.gemm}`);
  for (const name of configNames) {
    const c = name === "125m" ? GPU_125M_CONFIG : cfg;
    const t = name === "125m" ? (args.seq === "128" ? 1024 : seq) : seq;
    const b = name === "125m" ? (args.batch === "16" ? 8 : batch) : batch;
    console.log(`\ntraining step (${name}): LLaMA-style d_model ${c.hiddenSize}, ${c.numLayers} layers, ${c.numHeads} heads, SwiGLU ${c.intermediateSize}, vocab ${c.vocabSize}, batch ${b} x seq ${t}, AdamW + clip 1.0`);
    for (const precision of precisions) {
      const ours = seekrStep(name, c, precision, b, t);
      stepRows.push(ours);
      const mfu = ours.mfu === null ? "" : `  MFU ${fmt(100 * ours.mfu, 1)}%`;
      console.log(`  seekr   ${precision.padEnd(8)} ${fmt(ours.medianMs)} ms/step (min ${fmt(ours.minMs)})  ${fmt(ours.tokensPerS, 0)} tokens/s${mfu}  [${onGpu ? deviceName : `${threads} threads`}, ${(ours.params / 1e6).toFixed(2)}M params, ${(matmulParams(c) / 1e6).toFixed(2)}M in matmuls${ours.skipped ? `, ${ours.skipped} steps skipped by the loss scaler` : ""}]`);
      // Ablations: the same step with an optimisation switched off, in the same run (what each one gives).
      const sets = ablations.length > 1 ? [...ablations.map((a) => [a]), ablations] : ablations.length ? [ablations] : [];
      for (const set of sets) {
        const r = seekrStep(name, c, precision, b, t, set);
        stepRows.push(r);
        const m = r.mfu === null ? "" : `  MFU ${fmt(100 * r.mfu, 1)}%`;
        console.log(`    without ${set.join(" + ").padEnd(24)} ${fmt(r.medianMs)} ms/step (min ${fmt(r.minMs)})  ${fmt(r.tokensPerS, 0)} tokens/s${m}  => speed-up of the full step ${fmt(r.medianMs / ours.medianMs, 3)}x`);
      }
      if (args["skip-torch"]) continue;
      const counts = onGpu ? [threads] : [...new Set([threads, 1])];
      const mine: TorchResult[] = [];
      for (const th of counts) {
        const result = torchStep(c, th, precision, b, t);
        torchRuns.push({ config: name, precision, threads: th, result });
        if (typeof result === "string") console.log(`  pytorch ${precision.padEnd(8)} ${result}`);
        else {
          mine.push(result);
          const tm = peakTflops ? `  MFU ${fmt((100 * result.tokens_per_s * flopsPerToken(c, t)) / (peakTflops * 1e12), 1)}%` : "";
          console.log(`  pytorch ${precision.padEnd(8)} ${fmt(result.step_ms_median)} ms/step (min ${fmt(result.step_ms_min)})  ${fmt(result.tokens_per_s, 0)} tokens/s${tm}  [torch ${result.torch}, ${onGpu ? deviceName : `${th} threads`}, ${result.attention} attention]  ratio seekr/pytorch ${fmt(ours.tokensPerS / result.tokens_per_s, 2)}x`);
        }
      }
      const best = mine.sort((x, y) => y.tokens_per_s - x.tokens_per_s)[0];
      if (best && !onGpu) console.log(`  => ${precision}: tokens/s ratio against PyTorch's best thread setting: ${fmt(ours.tokensPerS / best.tokens_per_s, 2)}x (target >= 1.0)`);
    }
  }
}

// ---- GEMM ----------------------------------------------------------------------------------------------------
interface GemmRow { size: number; backend: string; threads: number; gflops: number; perThreadOfPeak: number }
const gemmRows: GemmRow[] = [];
function timeGemm(n: number, backend: "own" | "blas", nThreads: number): number {
  setThreads(nThreads);
  setGemmBackend(backend);
  const gen = new Generator(7);
  const a = gen.normal([n, n]);
  const b = gen.normal([n, n]);
  const c = empty([n, n]);
  const run = () => native.matmul(a.handle, b.handle, c.handle, 1, n, n, n, false, false, 0, 0, 1, 0, backend === "own" ? 1 : 2);
  run();
  let iters = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 400 || iters < 3) {
    run();
    iters++;
  }
  const dt = (performance.now() - t0) / 1000;
  for (const t of [a, b, c] as Tensor[]) t.dispose();
  setGemmBackend("auto");
  setThreads(threads);
  return (2 * n * n * n * iters) / dt / 1e9;
}
if (!args["skip-gemm"] && only.has("gemm") && !onGpu) {
  console.log(`\nGEMM (square, fp32) against the single-core FMA peak of ${fmt(peak)} GFLOP/s:`);
  const backends: Array<"own" | "blas"> = native.gemmInfo().blas ? ["own", "blas"] : ["own"];
  for (const n of [256, 512, 1024, 2048]) {
    for (const be of backends) {
      for (const t of [...new Set([1, threads])]) {
        const g = timeGemm(n, be, t);
        const row = { size: n, backend: be === "own" ? "seekr" : "openblas", threads: t, gflops: g, perThreadOfPeak: g / t / peak };
        gemmRows.push(row);
        console.log(`  ${String(n).padStart(4)}^3 ${row.backend.padEnd(8)} ${t} thr  ${fmt(g).padStart(7)} GFLOP/s  ${fmt(100 * row.perThreadOfPeak).padStart(5)}% of peak per thread`);
      }
    }
  }
  const py = torchPython();
  const tg = py === null ? { status: 1, stdout: "" } : spawnSync(py, [join(pkgRoot, "bench", "torch_gemm.py"), "--threads", String(threads)], { encoding: "utf8" });
  if (tg.status === 0) {
    try {
      const j = JSON.parse(tg.stdout.trim().split("\n").pop()!) as { results?: Array<{ n: number; gflops: number }> } & Record<string, unknown>;
      console.log(`  pytorch matmul (${threads} thr): ${JSON.stringify(j.results ?? j)}`);
    } catch {
      console.log(`  pytorch matmul: ${tg.stdout.trim()}`);
    }
  }
}

const attentionRows = only.has("attention") && !onGpu
  ? benchAttention({ B: 4, H: 8, D: 64, Ts: [128, 512, 1024], threads, torch: !args["skip-torch"], pkgRoot })
  : [];
const seekrSteps = Math.max(3, Math.min(steps, 6));
const seekrOverhead = !only.has("seekr") ? null : !onGpu ? benchSeekrOverhead({ batch, seq, steps: seekrSteps }) : null;
// On a GPU: the reference configuration and the ~125M one, in the precision of the step rows (bf16 by default).
const seekrOverheadGpu = !only.has("seekr") || !onGpu ? [] : configNames.flatMap((name) => precisions.map((precision) => benchSeekrOverhead({
  batch: name === "125m" ? (args.batch === "16" ? 8 : batch) : batch, seq: name === "125m" ? (args.seq === "128" ? 1024 : seq) : seq,
  steps: seekrSteps, device: deviceName, config: name === "125m" ? GPU_125M_CONFIG : cfg, configName: name, precision,
})));

const result = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, fmaPeakGflopsPerCore: peak, gemm: report.cpu.gemm, simd: report.cpu.simd },
  device: deviceName,
  gpu: gpuName ? { name: gpuName, bf16PeakTflops: peakTflops, gemm: devices().cuda.gemm } : null,
  threads,
  config: { ...cfg, batch, seq },
  steps: stepRows,
  pytorch: torchRuns,
  gemm: gemmRows,
  attention: attentionRows,
  seekrOverhead,
  seekrOverheadGpu,
};
const outPath = args.out ?? join(repoRoot, "bench-out", onGpu ? "tensor-cuda.json" : "tensor-cpu.json");
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(result, null, 2));
console.log(`\nresults written to ${outPath}`);
