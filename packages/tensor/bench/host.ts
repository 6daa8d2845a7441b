// `npm run bench -- --host-overhead`: the host cost of a training step. The op graph of the 125M GPU step (12 layers,
// bf16 autocast, AdamW + clip) with tiny dimensions on the CPU, so that kernels are negligible and what is timed is
// JavaScript (autograd recording, Tensor objects, scopes, checks) plus the Node-API calls themselves.
import { native } from "@seekr/native";
import { AdamW, GradScaler, Generator, autocast, clipGradNorm, copyTo, rememberHostCopy, tidy, type FloatDType, type Tensor } from "@seekr/tensor";
import { initParams, loss, type LlamaConfig } from "./llama.js";

/** GPU_125M_CONFIG's depth and layer structure (12 layers, SwiGLU, untied head) with every dimension tiny. */
export const HOST_PROXY_CONFIG: LlamaConfig = {
  vocabSize: 64, hiddenSize: 16, numLayers: 12, numHeads: 2, numKvHeads: 2, intermediateSize: 32, rmsNormEps: 1e-5, ropeTheta: 10000,
};

export interface HostOverheadResult {
  config: LlamaConfig;
  batch: number;
  seq: number;
  precision: FloatDType;
  /** Median over rounds of the median step time of each round. */
  msPerStep: number;
  minMsPerStep: number;
  /** Process CPU time per step (user + system, all threads; median over rounds): robust to preemption. */
  cpuMsPerStep: number;
  nativeCallsPerStep: number;
  /** Wall time, host time inside native calls and outside them, per step (the fastest quarter of profiled steps). */
  fastWallMsPerStep: number;
  nativeMsPerStep: number;
  jsMsPerStep: number;
  perOp: Array<{ op: string; callsPerStep: number; hostMsPerStep: number }>;
}

export interface TrainStep {
  params: Map<string, Tensor>;
  run(): void;
  dispose(): void;
}

/** The benchmark's training step (run.ts's seekrStep and the host-overhead proxy): zeroGrad, autocast forward + loss,
 * (scaled) backward, unscale, clip to 1.0, AdamW step, scaler update, all in one tidy. */
/** Optimisations a benchmark run can switch off to measure what each gives (`--ablate`). */
export type Ablation = "fused-norm" | "weight-cache";
export const ABLATIONS: readonly Ablation[] = ["fused-norm", "weight-cache"];

export function makeTrainStep(cfg: LlamaConfig, precision: FloatDType, b: number, t: number, device = "cpu", ablate: ReadonlySet<Ablation> = new Set()): TrainStep & { plist: Tensor[]; skipped: () => number } {
  const onGpu = device !== "cpu";
  const params = initParams(cfg, 0, 0.02, device);
  const plist = [...params.values()];
  const opt = new AdamW(plist, { lr: 1e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  const scaler = new GradScaler({ enabled: precision === "float16" });
  const gen = new Generator(1);
  const onDevice = (x: Tensor): Tensor => (onGpu ? tidy(() => copyTo(x, device)) : x);
  // Host copies of the ids and targets (as the trainer's batches have): the embedding and cross-entropy validate them
  // without waiting for the GPU.
  const hostIds = gen.randint([b, t], 0, cfg.vocabSize);
  const ids = onDevice(hostIds).keep();
  if (onGpu) {
    rememberHostCopy(ids, hostIds.toFloatArray() as Int32Array);
    hostIds.dispose();
  }
  const hostTargets = gen.randint([b, t], 0, cfg.vocabSize);
  const targets = onDevice(hostTargets).keep();
  if (onGpu) {
    rememberHostCopy(targets, hostTargets.toFloatArray() as Int32Array);
    hostTargets.dispose();
  }
  let skipped = 0;
  return {
    params,
    plist,
    skipped: () => skipped,
    run() {
      tidy(() => {
        opt.zeroGrad();
        const l = autocast(precision, () => loss(cfg, params, ids, targets, { fusedNorms: !ablate.has("fused-norm") }), {
          cacheWeights: !ablate.has("weight-cache"),
        });
        scaler.scaleLoss(l).backward();
        scaler.unscale(plist);
        clipGradNorm(plist, 1.0); // reads the gradient norm on the host: every step ends synchronised
        if (!scaler.step(opt)) skipped++;
        scaler.update();
      });
    },
    dispose() {
      opt.dispose();
      for (const p of plist) p.dispose();
      ids.dispose();
      targets.dispose();
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function benchHostOverhead(opts: { steps: number; warmup: number; rounds: number; precision?: FloatDType; batch?: number; seq?: number; config?: LlamaConfig; ablate?: ReadonlySet<Ablation> }): HostOverheadResult {
  const cfg = opts.config ?? HOST_PROXY_CONFIG;
  const precision = opts.precision ?? "bfloat16";
  const b = opts.batch ?? 1;
  const t = opts.seq ?? 8;
  const step = makeTrainStep(cfg, precision, b, t, "cpu", opts.ablate);
  for (let i = 0; i < opts.warmup; i++) step.run();
  const roundMedians: number[] = [];
  const roundCpu: number[] = [];
  let minMs = Infinity;
  for (let r = 0; r < opts.rounds; r++) {
    const times: number[] = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < opts.steps; i++) {
      const t0 = performance.now();
      step.run();
      const dt = performance.now() - t0;
      times.push(dt);
      minMs = Math.min(minMs, dt);
    }
    const c = process.cpuUsage(c0);
    roundCpu.push((c.user + c.system) / 1000 / opts.steps);
    roundMedians.push(median(times));
  }
  // Profiled steps, one profile per step: native calls per step and the split of host time inside / outside native
  // calls, averaged over the fastest quarter of the steps (on a shared machine the others include time the process
  // spent preempted).
  const nProf = Math.max(8, opts.steps * opts.rounds);
  const prof: Array<{ wall: number; native: number; calls: number; rows: ReturnType<typeof native.profileStop> }> = [];
  for (let i = 0; i < nProf; i++) {
    native.profileStart();
    const t0 = performance.now();
    step.run();
    const wall = performance.now() - t0;
    const rows = native.profileStop();
    prof.push({ wall, native: rows.reduce((a, r) => a + r.hostMs, 0), calls: rows.reduce((a, r) => a + r.calls, 0), rows });
  }
  step.dispose();
  const fast = [...prof].sort((x, y) => x.wall - y.wall).slice(0, Math.max(2, nProf >> 2));
  const avg = (f: (p: (typeof prof)[number]) => number): number => fast.reduce((a, p) => a + f(p), 0) / fast.length;
  const perOp = new Map<string, { calls: number; ms: number }>();
  for (const p of fast)
    for (const r of p.rows) {
      const e = perOp.get(r.op) ?? { calls: 0, ms: 0 };
      e.calls += r.calls;
      e.ms += r.hostMs;
      perOp.set(r.op, e);
    }
  return {
    config: cfg, batch: b, seq: t, precision,
    msPerStep: median(roundMedians),
    minMsPerStep: minMs,
    cpuMsPerStep: median(roundCpu),
    nativeCallsPerStep: avg((p) => p.calls),
    fastWallMsPerStep: avg((p) => p.wall),
    nativeMsPerStep: avg((p) => p.native),
    jsMsPerStep: avg((p) => p.wall - p.native),
    perOp: [...perOp].map(([op, e]) => ({ op, callsPerStep: e.calls / fast.length, hostMsPerStep: e.ms / fast.length })).sort((x, y) => y.hostMsPerStep - x.hostMsPerStep),
  };
}

export function printHostOverhead(r: HostOverheadResult): void {
  const c = r.config;
  console.log(`host overhead proxy: LLaMA-style ${c.numLayers} layers, d_model ${c.hiddenSize}, ${c.numHeads} heads x ${c.hiddenSize / c.numHeads}, SwiGLU ${c.intermediateSize}, vocab ${c.vocabSize}, batch ${r.batch} x seq ${r.seq}, autocast ${r.precision}, AdamW + clip 1.0 (cpu, kernels negligible)`);
  console.log(`  ${r.msPerStep.toFixed(3)} ms/step wall (median of round medians; min ${r.minMsPerStep.toFixed(3)})  ${r.cpuMsPerStep.toFixed(3)} CPU ms/step  ${r.nativeCallsPerStep.toFixed(0)} native calls/step`);
  console.log(`  profiled (fastest quarter of steps): wall ${r.fastWallMsPerStep.toFixed(3)} ms/step = native ${r.nativeMsPerStep.toFixed(3)} ms + JS outside native calls ${r.jsMsPerStep.toFixed(3)} ms`);
  console.log(`    ${"op".padEnd(24)} ${"calls".padStart(7)} ${"host ms".padStart(9)}  (per step)`);
  for (const o of r.perOp.slice(0, 12)) console.log(`    ${o.op.padEnd(24)} ${o.callsPerStep.toFixed(0).padStart(7)} ${o.hostMsPerStep.toFixed(3).padStart(9)}`);
}
