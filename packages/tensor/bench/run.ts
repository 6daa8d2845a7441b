// `npm run bench`: CPU training-step throughput of the reference LLaMA configuration and GEMM GFLOP/s, each beside
// an anchor measured in the same run (PyTorch on this machine; the machine's measured single-core FMA peak).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { native } from "@seekr/native";
import { AdamW, Generator, clipGradNorm, devices, empty, setGemmBackend, setThreads, tidy, type Tensor } from "@seekr/tensor";
import { REFERENCE_CONFIG, initParams, loss, type LlamaConfig } from "./llama.js";
import { benchAttention, benchSeekrOverhead } from "./attention.js";

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = resolve(here, "..", "..");
const repoRoot = resolve(pkgRoot, "..", "..");

const { values: args } = parseArgs({
  options: {
    device: { type: "string", default: "cpu" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    threads: { type: "string" },
    batch: { type: "string", default: "16" },
    seq: { type: "string", default: "128" },
    "skip-torch": { type: "boolean", default: false },
    "skip-gemm": { type: "boolean", default: false },
    only: { type: "string", default: "step,gemm,attention,seekr" },
    out: { type: "string", default: join(repoRoot, "bench-out", "tensor-cpu.json") },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(`seekr tensor benchmark
  --device cpu        (CUDA benchmarks belong to the CUDA backend)
  --steps N           timed training steps (default 10)   --warmup N (default 3)
  --threads N         kernel threads (default: all cores)
  --batch N --seq N   reference batch 16 x 128
  --skip-torch        do not run the PyTorch anchors      --skip-gemm   skip GEMM sizes
  --only LIST         any of step,gemm,attention,seekr (default: all)
  --out FILE          JSON results (default bench-out/tensor-cpu.json)`);
  process.exit(0);
}
if (args.device !== "cpu") {
  console.error(`bench: --device ${args.device} is not supported by this benchmark yet (CPU only); see the CUDA backend issue.`);
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
function seekrStep(cfg: LlamaConfig): { medianMs: number; minMs: number; tokensPerS: number; params: number } {
  const params = initParams(cfg, 0, 0.02);
  const plist = [...params.values()];
  const opt = new AdamW(plist, { lr: 1e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  const gen = new Generator(1);
  const ids = gen.randint([batch, seq], 0, cfg.vocabSize).keep();
  const targets = gen.randint([batch, seq], 0, cfg.vocabSize).keep();
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    tidy(() => {
      opt.zeroGrad();
      const l = loss(cfg, params, ids, targets);
      l.backward();
      clipGradNorm(plist, 1.0);
      opt.step();
    });
    if (i >= warmup) times.push(performance.now() - t0);
  }
  const n = plist.reduce((a, p) => a + p.size, 0);
  opt.dispose();
  for (const p of plist) p.dispose();
  ids.dispose();
  targets.dispose();
  const med = median(times);
  return { medianMs: med, minMs: Math.min(...times), tokensPerS: (batch * seq) / (med / 1000), params: n };
}

interface TorchResult { step_ms_median: number; step_ms_min: number; tokens_per_s: number; threads: number; torch: string; attention: string }
function torchStep(cfg: LlamaConfig, nThreads: number): TorchResult | string {
  const py = "/usr/bin/python3";
  if (!existsSync(py)) return "skipped: /usr/bin/python3 not found";
  const probe = spawnSync(py, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) return "skipped: PyTorch is not installed (apt-get install python3-torch)";
  const config = JSON.stringify({
    vocab_size: cfg.vocabSize, hidden_size: cfg.hiddenSize, num_hidden_layers: cfg.numLayers, num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads, intermediate_size: cfg.intermediateSize, batch_size: batch, seq_len: seq,
  });
  const env = { ...process.env };
  for (const v of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]) delete env[v];
  const r = spawnSync(py, [join(pkgRoot, "bench", "torch_step.py"), "--threads", String(nThreads), "--warmup", String(warmup), "--steps", String(steps), "--config", config], { encoding: "utf8", env });
  if (r.status !== 0) return `failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as TorchResult;
}

const only = new Set(args.only!.split(",").map((x) => x.trim()));
for (const o of only) if (!["step", "gemm", "attention", "seekr"].includes(o)) {
  console.error(`bench: --only accepts step, gemm, attention, seekr; got "${o}"`);
  process.exit(2);
}
const cfg = REFERENCE_CONFIG;
let ours: ReturnType<typeof seekrStep> | null = null;
const torchRuns: Array<{ threads: number; result: TorchResult | string }> = [];
if (only.has("step")) {
console.log(`\ntraining step: LLaMA-style d_model ${cfg.hiddenSize}, ${cfg.numLayers} layers, ${cfg.numHeads} heads, SwiGLU ${cfg.intermediateSize}, vocab ${cfg.vocabSize}, batch ${batch} x seq ${seq}, AdamW + clip 1.0`);
ours = seekrStep(cfg);
console.log(`  seekr          ${fmt(ours.medianMs)} ms/step (min ${fmt(ours.minMs)})  ${fmt(ours.tokensPerS, 0)} tokens/s  [${threads} threads, ${(ours.params / 1e6).toFixed(2)}M params]`);
if (!args["skip-torch"]) {
  const counts = [...new Set([threads, 1])];
  for (const t of counts) {
    const result = torchStep(cfg, t);
    torchRuns.push({ threads: t, result });
    if (typeof result === "string") console.log(`  pytorch        ${result}`);
    else console.log(`  pytorch ${result.torch.padEnd(6)} ${fmt(result.step_ms_median)} ms/step (min ${fmt(result.step_ms_min)})  ${fmt(result.tokens_per_s, 0)} tokens/s  [${t} threads, ${result.attention} attention]  ratio seekr/pytorch ${fmt(ours.tokensPerS / result.tokens_per_s, 2)}x`);
  }
  const best = torchRuns.map((r) => r.result).filter((r): r is TorchResult => typeof r !== "string").sort((a, b) => b.tokens_per_s - a.tokens_per_s)[0];
  if (best) console.log(`  => tokens/s ratio against PyTorch's best thread setting: ${fmt(ours.tokensPerS / best.tokens_per_s, 2)}x (target >= 1.0)`);
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
if (!args["skip-gemm"] && only.has("gemm")) {
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
  const tg = spawnSync("/usr/bin/python3", [join(pkgRoot, "bench", "torch_gemm.py"), "--threads", String(threads)], { encoding: "utf8" });
  if (tg.status === 0) {
    try {
      const j = JSON.parse(tg.stdout.trim().split("\n").pop()!) as { results?: Array<{ n: number; gflops: number }> } & Record<string, unknown>;
      console.log(`  pytorch matmul (${threads} thr): ${JSON.stringify(j.results ?? j)}`);
    } catch {
      console.log(`  pytorch matmul: ${tg.stdout.trim()}`);
    }
  }
}

const attentionRows = only.has("attention")
  ? benchAttention({ B: 4, H: 8, D: 64, Ts: [128, 512, 1024], threads, torch: !args["skip-torch"], pkgRoot })
  : [];
const seekrOverhead = only.has("seekr") ? benchSeekrOverhead({ batch, seq, steps: Math.max(3, Math.min(steps, 6)) }) : null;

const result = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, fmaPeakGflopsPerCore: peak, gemm: report.cpu.gemm, simd: report.cpu.simd },
  threads,
  config: { ...cfg, batch, seq },
  seekr: ours,
  pytorch: torchRuns,
  gemm: gemmRows,
  attention: attentionRows,
  seekrOverhead,
};
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, JSON.stringify(result, null, 2));
console.log(`\nresults written to ${args.out}`);
