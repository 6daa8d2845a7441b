// `npm run bench -- --only attention`: fused causal attention forward + backward against the eager composite and
// PyTorch's eager attention (same run, same machine), with peak memory; and SEEKR's step overhead: a training step
// with attention distillation on 1/8 of the heads and B_T = 100 query rows against the same step without it.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  AdamW, Generator, attention, attentionDistill, attentionEager, attentionTapped, clipGradNorm, memory, mul, reshape,
  resetPeakMemory, sum, tidy, type Tensor, linear, rope, rmsNorm, add, swiglu, embedding, crossEntropy, autocast, copyTo,
  parseDevice, rememberHostCopy, type FloatDType,
} from "@seekr/tensor";
import { native } from "@seekr/native";
import { torchPython } from "./python.js";
import { REFERENCE_CONFIG, initParams, type LlamaConfig } from "./llama.js";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function timeIt(fn: () => void, reps: number): { ms: number; peak: number } {
  fn();
  const times: number[] = [];
  let peak = 0;
  for (let i = 0; i < reps; i++) {
    const base = memory().devices.cpu?.bytes ?? 0;
    resetPeakMemory();
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    peak = Math.max(peak, (memory().devices.cpu?.peakBytes ?? 0) - base);
  }
  return { ms: median(times), peak };
}

export interface AttentionBenchRow { T: number; fusedMs: number; fusedPeakMiB: number; eagerMs: number; eagerPeakMiB: number; torchMs: number | null }

export function benchAttention(opts: { B: number; H: number; D: number; Ts: number[]; threads: number; torch: boolean; pkgRoot: string }): AttentionBenchRow[] {
  const { B, H, D } = opts;
  const torch = new Map<number, number>();
  const py = opts.torch ? torchPython() : null;
  if (py) {
    const r = spawnSync(py, [join(opts.pkgRoot, "bench", "torch_attention.py"), "--B", String(B), "--H", String(H), "--D", String(D), "--T", opts.Ts.join(","), "--threads", String(opts.threads)], { encoding: "utf8" });
    if (r.status === 0) for (const line of r.stdout.trim().split("\n")) {
      const j = JSON.parse(line) as { T: number; ms_median: number };
      torch.set(j.T, j.ms_median);
    }
  }
  const rows: AttentionBenchRow[] = [];
  console.log(`\ncausal attention forward+backward, B ${B}, heads ${H}, head dim ${D} (peak = extra native bytes during one call):`);
  for (const T of opts.Ts) {
    const gen = new Generator(T);
    const q = gen.normal([B, T, H, D], 0, 1, { requiresGrad: true }).keep();
    const k = gen.normal([B, T, H, D], 0, 1, { requiresGrad: true }).keep();
    const v = gen.normal([B, T, H, D], 0, 1, { requiresGrad: true }).keep();
    const w = gen.normal([B, T, H, D]).keep();
    const run = (f: typeof attention) => () => tidy(() => {
      sum(mul(f(q, k, v, { causal: true }), w)).backward();
      for (const t of [q, k, v]) { t.grad?.dispose(); t.grad = null; }
    });
    const reps = T >= 1024 ? 3 : 5;
    const fused = timeIt(run(attention), reps);
    const eager = timeIt(run(attentionEager), reps);
    const row = { T, fusedMs: fused.ms, fusedPeakMiB: fused.peak / 2 ** 20, eagerMs: eager.ms, eagerPeakMiB: eager.peak / 2 ** 20, torchMs: torch.get(T) ?? null };
    rows.push(row);
    console.log(`  T ${String(T).padStart(4)}  fused ${row.fusedMs.toFixed(1).padStart(8)} ms ${row.fusedPeakMiB.toFixed(1).padStart(7)} MiB | eager composite ${row.eagerMs.toFixed(1).padStart(8)} ms ${row.eagerPeakMiB.toFixed(1).padStart(7)} MiB | pytorch eager ${row.torchMs === null ? "   n/a" : row.torchMs.toFixed(1).padStart(8) + " ms"}  => fused/pytorch ${row.torchMs ? (row.torchMs / row.fusedMs).toFixed(2) + "x faster" : "n/a"}`);
    for (const t of [q, k, v, w] as Tensor[]) t.dispose();
  }
  return rows;
}

/** The reference model's training step, optionally with SEEKR distillation on a replay batch. */
function stepFn(cfg: LlamaConfig, params: Map<string, Tensor>, ids: Tensor, targets: Tensor, distill: null | { heads: number[]; rows: Tensor; teachers: Tensor[] }): Tensor {
  const [B, T] = ids.shape as [number, number];
  const hd = cfg.hiddenSize / cfg.numHeads;
  const P = (n: string) => params.get(n)!;
  let x = embedding(P("model.embed_tokens.weight"), ids);
  const distillLosses: Tensor[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    const h = rmsNorm(x, P(`${p}.input_layernorm.weight`), cfg.rmsNormEps);
    const q = rope(reshape(linear(h, P(`${p}.self_attn.q_proj.weight`)), [B, T, cfg.numHeads, hd]), { theta: cfg.ropeTheta });
    const k = rope(reshape(linear(h, P(`${p}.self_attn.k_proj.weight`)), [B, T, cfg.numKvHeads, hd]), { theta: cfg.ropeTheta });
    const v = reshape(linear(h, P(`${p}.self_attn.v_proj.weight`)), [B, T, cfg.numKvHeads, hd]);
    if (distill) distillLosses.push(attentionDistill(q, k, { heads: distill.heads, rows: distill.rows, teacher: distill.teachers[i]! }));
    const o = reshape(attention(q, k, v), [B, T, cfg.numHeads * hd]);
    x = add(x, linear(o, P(`${p}.self_attn.o_proj.weight`)));
    const h2 = rmsNorm(x, P(`${p}.post_attention_layernorm.weight`), cfg.rmsNormEps);
    x = add(x, linear(swiglu(linear(h2, P(`${p}.mlp.gate_proj.weight`)), linear(h2, P(`${p}.mlp.up_proj.weight`))), P(`${p}.mlp.down_proj.weight`)));
  }
  const logits = linear(rmsNorm(x, P("model.norm.weight"), cfg.rmsNormEps), P("lm_head.weight"));
  let loss = crossEntropy(reshape(logits, [-1, cfg.vocabSize]), reshape(targets, [-1]));
  for (const d of distillLosses) loss = add(loss, mul(d, 1e3 / distillLosses.length));
  return loss;
}

export interface SeekrOverheadOptions {
  batch: number;
  seq: number;
  steps: number;
  /** Where the model runs (default cpu). */
  device?: string;
  /** Model configuration (default the reference one) and its name in the report. */
  config?: LlamaConfig;
  configName?: string;
  /** Autocast dtype of the step (default float32). */
  precision?: FloatDType;
}

export function benchSeekrOverhead(opts: SeekrOverheadOptions): { plainMs: number; seekrMs: number; ratio: number; config: string; precision: FloatDType; device: string; heads: number } {
  const cfg = opts.config ?? REFERENCE_CONFIG;
  const device = opts.device ?? "cpu";
  const precision = opts.precision ?? "float32";
  const onGpu = device !== "cpu";
  const { batch: B, seq: T } = opts;
  const params = initParams(cfg, 0, 0.02, device);
  const plist = [...params.values()];
  const opt = new AdamW(plist, { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.1 });
  const gen = new Generator(5);
  const toDevice = (t: Tensor): Tensor => {
    if (!onGpu) return t.keep();
    const d = copyTo(t, device).keep();
    if (t.dtype === "int32") rememberHostCopy(d, t.toFloatArray() as Int32Array);
    t.dispose();
    return d;
  };
  const ids = toDevice(gen.randint([B, T], 0, cfg.vocabSize));
  const targets = toDevice(gen.randint([B, T], 0, cfg.vocabSize));
  // 1/8 of the heads of every layer (at least one).
  const heads = Array.from({ length: Math.max(1, Math.round(cfg.numHeads / 8)) }, (_, i) => i);
  const R = 100;
  const rows = toDevice(new Generator(6).randint([B, R], 0, T));
  // Teacher rows: the model's own attention rows at the stored positions (as stored after a task).
  const teachers: Tensor[] = [];
  tidy(() => autocast(precision, () => {
    const hd = cfg.hiddenSize / cfg.numHeads;
    let x = embedding(params.get("model.embed_tokens.weight")!, ids);
    for (let i = 0; i < cfg.numLayers; i++) {
      const p = `model.layers.${i}`;
      const h = rmsNorm(x, params.get(`${p}.input_layernorm.weight`)!, cfg.rmsNormEps);
      const q = rope(reshape(linear(h, params.get(`${p}.self_attn.q_proj.weight`)!), [B, T, cfg.numHeads, hd]));
      const k = rope(reshape(linear(h, params.get(`${p}.self_attn.k_proj.weight`)!), [B, T, cfg.numKvHeads, hd]));
      const v = reshape(linear(h, params.get(`${p}.self_attn.v_proj.weight`)!), [B, T, cfg.numKvHeads, hd]);
      const r = attentionTapped(q, k, v, { taps: { heads, rows } });
      teachers.push(r.taps!.keep());
      x = add(x, linear(reshape(r.out, [B, T, cfg.numHeads * hd]), params.get(`${p}.self_attn.o_proj.weight`)!));
    }
  }));
  const time = (withSeekr: boolean): number => {
    const ts: number[] = [];
    for (let s = 0; s < opts.steps + 2; s++) {
      const t0 = performance.now();
      tidy(() => {
        opt.zeroGrad();
        autocast(precision, () => stepFn(cfg, params, ids, targets, withSeekr ? { heads, rows, teachers } : null)).backward();
        clipGradNorm(plist, 1.0);
        opt.step();
      });
      if (onGpu) native.synchronize(1, parseDevice(device).index);
      if (s >= 2) ts.push(performance.now() - t0);
    }
    return median(ts);
  };
  // Interleave to share the machine's state fairly.
  const plain1 = time(false);
  const seekr1 = time(true);
  const plain2 = time(false);
  const seekr2 = time(true);
  const plainMs = Math.min(plain1, plain2);
  const seekrMs = Math.min(seekr1, seekr2);
  opt.dispose();
  for (const t of [...plist, ids, targets, rows, ...teachers]) t.dispose();
  const ratio = seekrMs / plainMs;
  const name = opts.configName ?? "reference";
  console.log(`\nSEEKR step overhead (${name} model, ${precision}, ${device}, batch ${B} x ${T}, distillation on ${heads.length} of ${cfg.numHeads} heads, B_T = ${R} rows, all layers):`);
  console.log(`  plain step ${plainMs.toFixed(1)} ms, with attention distillation ${seekrMs.toFixed(1)} ms => ${ratio.toFixed(3)}x (target <= 1.15x)`);
  return { plainMs, seekrMs, ratio, config: name, precision, device, heads: heads.length };
}
