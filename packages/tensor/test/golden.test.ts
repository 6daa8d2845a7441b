// Golden tests: every op case and a 3-step tiny-LLaMA training run checked against the PyTorch fixtures in test/fixtures.
import { afterAll, describe, expect, test, vi } from "vitest";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

// bench/llama.ts imports "@seekr/tensor", which would resolve to the built dist/ copy (a second module instance with
// its own scopes). Point it at the sources under test instead.
vi.mock("@seekr/tensor", async () => await import("../src/index.js"));

import {
  AdamW, Tensor, add, attention, clipGradNorm, concat, crossEntropy, div, embedding, exp, gelu, log, logSoftmax, loadSafetensors,
  matmul, max, mean, memory, mul, noGrad, permute, pow, relu, rmsNorm, rope, rsqrt, sigmoid, silu, slice, softmax, sqrt, sub, sum,
  tanh, tensor, tidy, where, autocast, GradScaler, mulScalar,
} from "../src/index.js";
import * as llamaModule from "../bench/llama.js";
import type { LlamaConfig } from "../bench/llama.js";

// bench/llama.ts is typed against the package's dist/ declarations; at run time (vi.mock above) it uses these sources.
type SrcTensor = import("../src/index.js").Tensor;
const llamaModel = llamaModule as unknown as {
  forward(c: LlamaConfig, params: Map<string, SrcTensor>, ids: SrcTensor): SrcTensor;
  loss(c: LlamaConfig, params: Map<string, SrcTensor>, ids: SrcTensor, targets: SrcTensor): SrcTensor;
  initParams(c: LlamaConfig, seed: number, std?: number): Map<string, SrcTensor>;
};
const { forward, loss: llamaLoss } = llamaModel;


const here = dirname(fileURLToPath(import.meta.url));
const OPS = join(here, "fixtures", "ops.safetensors");
const LLAMA = join(here, "fixtures", "llama_step.safetensors");

// ---------------------------------------------------------------------------------------------------------------
// Comparison helpers

interface Diff { maxAbs: number; maxRel: number; worst: number; bad: number; n: number }

/** Element-wise |a-b| <= atol + rtol*|b| (b is the reference); NaN anywhere counts as bad. */
function diff(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): Diff {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs expected ${expected.length}`);
  let maxAbs = 0, maxRel = 0, bad = 0, worst = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const d = Math.abs(a - e);
    if (!(d <= atol + rtol * Math.abs(e))) { bad++; if (worst < 0) worst = i; }
    if (Number.isNaN(d)) { maxAbs = NaN; continue; }
    if (d > maxAbs) maxAbs = d;
    const r = d / Math.max(Math.abs(e), 1e-12);
    if (Math.abs(e) > 1e-3 && r > maxRel) maxRel = r;
  }
  return { maxAbs, maxRel, worst, bad, n: expected.length };
}

function expectClose(what: string, actual: Tensor, expected: Tensor, atol: number, rtol: number): Diff {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const a = actual.toFloatArray();
  const e = expected.toFloatArray();
  const d = diff(a, e, atol, rtol);
  expect(
    d.bad,
    `${what}: ${d.bad}/${d.n} elements outside atol ${atol} + rtol ${rtol}; max |err| ${d.maxAbs.toExponential(3)}; ` +
      `first bad index ${d.worst}: got ${a[d.worst]}, expected ${e[d.worst]}`,
  ).toBe(0);
  return d;
}

const report: Array<Record<string, string | number>> = [];
afterAll(() => {
  // One line per case: the max absolute error of each compared tensor.
  const rows = report.map(({ case: c, ...errs }) => ({
    case: c,
    "max |error|": Object.entries(errs).map(([k, v]) => `${k} ${typeof v === "number" ? v.toExponential(1) : v}`).join(", "),
  }));
  if (rows.length) console.table(rows);
});

// ---------------------------------------------------------------------------------------------------------------
// a) ops.safetensors

const ops = loadSafetensors(OPS);
interface CaseSpec { op: string; args: Record<string, unknown>; grads: number[] }
const cases = JSON.parse(ops.metadata.cases!) as Record<string, CaseSpec>;
const T = (name: string): Tensor => {
  const t = ops.tensors.get(name);
  if (!t) throw new Error(`fixture tensor ${name} is missing`);
  return t;
};

/** Fresh leaf copies of a case's inputs (float inputs require grad). */
function inputsOf(c: string): Tensor[] {
  const out: Tensor[] = [];
  for (let k = 0; ops.tensors.has(`${c}.in${k}`); k++) {
    const src = T(`${c}.in${k}`);
    const leaf = tensor(src.dataSync(), { shape: src.shape, dtype: src.dtype });
    if (leaf.dtype === "float32") leaf.requiresGrad = true;
    out.push(leaf);
  }
  return out;
}

const BHTD_TO_BTHD = [0, 2, 1, 3]; // its own inverse

/** Maps a fixture case to our API. Inputs are leaves in the fixture's layout; the result is in the fixture's layout. */
function runCase(name: string, spec: CaseSpec, x: Tensor[]): Tensor {
  const a = spec.args;
  const [x0, x1, x2] = x as [Tensor, Tensor, Tensor];
  switch (spec.op) {
    case "matmul": return matmul(x0, x1, { transA: a.transpose_a === true, transB: a.transpose_b === true });
    case "add": return add(x0, x1);
    case "sub": return sub(x0, x1);
    case "mul": return mul(x0, x1);
    case "div": return div(x0, x1);
    case "exp": return exp(x0);
    case "log": return log(x0);
    case "sqrt": return sqrt(x0);
    case "rsqrt": return rsqrt(x0);
    case "tanh": return tanh(x0);
    case "sigmoid": return sigmoid(x0);
    case "silu": return silu(x0);
    case "relu": return relu(x0);
    case "gelu":
      expect(a.approximate).toBe("none");
      return gelu(x0);
    case "pow": return pow(x0, a.exponent as number);
    case "sum": return sum(x0, (a.dims as number[] | null) ?? undefined, { keepDims: a.keepdim === true });
    case "mean": return mean(x0, (a.dims as number[] | null) ?? undefined, { keepDims: a.keepdim === true });
    case "max": {
      const dims = a.dims as number[];
      expect(dims.length).toBe(1);
      return max(x0, dims[0], { keepDims: a.keepdim === true });
    }
    case "softmax": return softmax(x0, a.dim as number);
    case "log_softmax": return logSoftmax(x0, a.dim as number);
    case "cross_entropy":
      expect(a.reduction).toBe("mean");
      return crossEntropy(x0, x1, { ignoreIndex: a.ignore_index as number });
    case "rms_norm": return rmsNorm(x0, x1, a.eps as number);
    case "rope": {
      // Fixture layout [B, heads, T, D] with positions 0..T-1; ours is [B, T, heads, D].
      expect(a.layout).toBe("BHTD");
      expect(a.convention).toBe("hf_rotate_half");
      expect(a.positions).toEqual([...Array(x0.shape[2]).keys()]);
      return permute(rope(permute(x0, BHTD_TO_BTHD), { theta: a.theta as number }), BHTD_TO_BTHD);
    }
    case "causal_attention": {
      // Fixture q [B,H,T,D], k/v [B,Hkv,T,D] with kv head j serving q heads 2j, 2j+1; ours wants [B,T,H,D].
      expect(a.layout).toBe("BHTD");
      expect(a.kv_repeat).toBe("repeat_interleave");
      expect(x0.shape[1]! / x1.shape[1]!).toBe(a.gqa_group);
      const o = attention(permute(x0, BHTD_TO_BTHD), permute(x1, BHTD_TO_BTHD), permute(x2, BHTD_TO_BTHD), {
        causal: a.causal as boolean, scale: a.scale as number,
      });
      return permute(o, BHTD_TO_BTHD);
    }
    case "embedding": return embedding(x0, x1);
    case "where": return where(x0, x1, x2);
    case "permute": return permute(x0, a.dims as number[]);
    case "concat": return concat([x0, x1], a.dim as number);
    case "slice": {
      const ranges = a.ranges as Array<[number, number] | null>;
      return slice(x0, ranges.map((r) => (r ? r[0] : 0)), ranges.map((r, i) => (r ? r[1] : x0.shape[i]!)));
    }
    default:
      throw new Error(`golden: no mapping for case ${name} (op ${spec.op})`);
  }
}

const ATOL = 1e-5;
const RTOL = 1e-5;

describe("golden: ops.safetensors", () => {
  test("fixture has the documented 36 cases and 177 tensors", () => {
    expect(Object.keys(cases)).toHaveLength(36);
    expect(ops.tensors.size).toBe(177);
  });

  const opCases = Object.entries(cases).filter(([, s]) => s.op !== "adamw");
  test.each(opCases)("%s", (name, spec) => {
    const before = memory();
    tidy(() => {
      const x = inputsOf(name);
      expect(x.length, `${name} has inputs`).toBeGreaterThan(0);
      const out = runCase(name, spec, x);
      const row: Record<string, string | number> = { case: name };
      row.out = expectClose(`${name}.out`, out, T(`${name}.out`), ATOL, RTOL).maxAbs;
      // L = sum(out * w): the stored gradients are dL/d in_k.
      const L = sum(mul(out, T(`${name}.w`)));
      L.backward();
      for (let k = 0; k < x.length; k++) {
        const stored = ops.tensors.get(`${name}.grad${k}`);
        if (spec.grads.includes(k)) {
          expect(stored, `${name}.grad${k} listed in grads`).toBeDefined();
          expect(x[k]!.grad, `${name}: no gradient reached in${k}`).not.toBeNull();
          row[`grad${k}`] = expectClose(`${name}.grad${k}`, x[k]!.grad!, stored!, ATOL, RTOL).maxAbs;
        } else {
          expect(stored, `${name}.grad${k} must not exist (not differentiable)`).toBeUndefined();
        }
      }
      report.push(row);
      for (const t of x) t.dispose();
    });
    const after = memory();
    expect(after.tensors, `${name}: tensors leaked`).toBe(before.tensors);
    expect(after.devices.cpu!.bytes, `${name}: bytes leaked`).toBe(before.devices.cpu!.bytes);
  });

  test.each([["adamw_step", 1], ["adamw_step5", 5]] as const)("%s (AdamW class, %i steps)", (name, steps) => {
    const spec = cases[name]!;
    expect(spec.op).toBe("adamw");
    expect(spec.args.steps).toBe(steps);
    const pSrc = T(`${name}.param`);
    const p = tensor(pSrc.dataSync(), { shape: pSrc.shape }).keep();
    p.requiresGrad = true;
    const gSrc = T(`${name}.grad`);
    p.grad = tensor(gSrc.dataSync(), { shape: gSrc.shape }).keep();
    const a = spec.args;
    const opt = new AdamW([p], {
      lr: a.lr as number, betas: a.betas as [number, number], eps: a.eps as number, weightDecay: a.weight_decay as number,
    });
    for (let s = 0; s < steps; s++) opt.step();
    const st = opt.state();
    expect(st.step).toBe(steps);
    report.push({
      case: name,
      out: expectClose(`${name}.out`, p, T(`${name}.out`), ATOL, RTOL).maxAbs,
      exp_avg: expectClose(`${name}.exp_avg`, st.expAvg[0]!, T(`${name}.exp_avg`), ATOL, RTOL).maxAbs,
      exp_avg_sq: expectClose(`${name}.exp_avg_sq`, st.expAvgSq[0]!, T(`${name}.exp_avg_sq`), 1e-7, RTOL).maxAbs,
    });
    opt.dispose();
    p.dispose();
  });

  test("every case of the fixture was run", () => {
    const ran = new Set(report.map((r) => r.case));
    expect([...Object.keys(cases)].filter((c) => !ran.has(c))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// b) llama_step.safetensors

const llama = loadSafetensors(LLAMA);
const L = (name: string): Tensor => {
  const t = llama.tensors.get(name);
  if (!t) throw new Error(`fixture tensor ${name} is missing`);
  return t;
};
const hf = JSON.parse(llama.metadata.config!) as Record<string, number | string | boolean>;
const optCfg = JSON.parse(llama.metadata.optimizer!) as { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_grad_norm: number; steps: number };
const config: LlamaConfig = {
  vocabSize: hf.vocab_size as number,
  hiddenSize: hf.hidden_size as number,
  numLayers: hf.num_hidden_layers as number,
  numHeads: hf.num_attention_heads as number,
  numKvHeads: hf.num_key_value_heads as number,
  intermediateSize: hf.intermediate_size as number,
  rmsNormEps: hf.rms_norm_eps as number,
  ropeTheta: hf.rope_theta as number,
};
const PARAM_NAMES = [...llama.tensors.keys()].filter((n) => n.startsWith("model.") || n === "lm_head.weight");
const ids = L("input_ids");
const targets = L("targets");

/** Fresh parameter leaves (requiresGrad, kept) with the fixture's initial values. */
function freshParams(): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const n of PARAM_NAMES) {
    const src = L(n);
    const t = tensor(src.dataSync(), { shape: src.shape }).keep();
    t.requiresGrad = true;
    m.set(n, t);
  }
  return m;
}
function disposeParams(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** The fixture's training loop: zero grads, forward, loss, backward, clip to 1.0, AdamW step. */
function train(params: Map<string, Tensor>, steps: number): { losses: Float32Array; norms: number[] } {
  const list = [...params.values()];
  const opt = new AdamW(list, { lr: optCfg.lr, betas: optCfg.betas, eps: optCfg.eps, weightDecay: optCfg.weight_decay });
  const losses = new Float32Array(steps);
  const norms: number[] = [];
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    tidy(() => {
      const l = llamaLoss(config, params, ids, targets);
      losses[s] = l.item();
      l.backward();
    });
    norms.push(clipGradNorm(list, optCfg.clip_grad_norm));
    opt.step();
  }
  opt.zeroGrad();
  opt.dispose();
  return { losses, norms };
}

describe("golden: llama_step.safetensors", () => {
  test("fixture layout: 21 parameters in HF order, batch, config", () => {
    expect(PARAM_NAMES).toHaveLength(21);
    expect(PARAM_NAMES[0]).toBe("model.embed_tokens.weight");
    expect(PARAM_NAMES[20]).toBe("lm_head.weight");
    expect(hf.head_dim).toBe(config.hiddenSize / config.numHeads);
    expect(ids.shape).toEqual([hf.batch_size, hf.seq_len]);
    expect(optCfg.steps).toBe(3);
  });

  test("forward logits, loss and every parameter gradient", () => {
    const params = freshParams();
    const before = memory();
    const rows: Array<Record<string, string | number>> = [];
    tidy(() => {
      const logits = noGrad(() => forward(config, params, ids));
      rows.push({ case: "llama.logits", out: expectClose("logits", logits, L("logits"), 2e-5, 1e-5).maxAbs });
      const l = llamaLoss(config, params, ids, targets);
      expect(l.shape).toEqual([]);
      const lossErr = Math.abs(l.item() - L("loss").item());
      expect(lossErr, `loss ${l.item()} vs ${L("loss").item()}`).toBeLessThan(2e-5);
      rows.push({ case: "llama.loss", out: lossErr });
      l.backward();
    });
    for (const n of PARAM_NAMES) {
      const g = params.get(n)!.grad;
      expect(g, `grad of ${n}`).not.toBeNull();
      const ref = L(`grad.${n}`);
      // atol relative to the gradient's magnitude.
      const scale = Math.max(...Array.from(ref.toFloatArray(), Math.abs));
      rows.push({ case: `llama.grad.${n}`, out: expectClose(`grad.${n}`, g!, ref, 1e-5 * Math.max(1, scale), 1e-4).maxAbs });
    }
    report.push(...rows);
    disposeParams(params);
    expect(memory().tensors).toBe(before.tensors - PARAM_NAMES.length);
  });

  test("three AdamW training steps with clipping: losses, grad norms, step3 parameters", () => {
    const params = freshParams();
    const { losses, norms } = train(params, 3);
    const refLosses = L("step_losses").toFloatArray();
    const refNorms = L("grad_norms").toFloatArray();
    for (let s = 0; s < 3; s++) {
      expect(Math.abs(losses[s]! - refLosses[s]!), `step ${s} loss ${losses[s]} vs ${refLosses[s]}`).toBeLessThan(2e-5);
      expect(Math.abs(norms[s]! - refNorms[s]!) / refNorms[s]!, `step ${s} grad norm ${norms[s]} vs ${refNorms[s]}`).toBeLessThan(1e-5);
      expect(norms[s]!).toBeGreaterThan(1); // clipping active every step, as documented
      report.push({ case: `llama.step${s}`, loss: Math.abs(losses[s]! - refLosses[s]!), norm: Math.abs(norms[s]! - refNorms[s]!) });
    }
    for (const n of PARAM_NAMES) {
      report.push({ case: `llama.step3.${n}`, out: expectClose(`step3.${n}`, params.get(n)!, L(`step3.${n}`), 1e-5, 1e-5).maxAbs });
    }
    disposeParams(params);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// b2) llama_step_{bfloat16,float16}.safetensors: the same batch and init trained under autocast

/** max |a - b| / max |b| over the whole tensor (rounding-level differences show up as ~ulp of the dtype). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-30);
}

for (const amp of ["bfloat16", "float16"] as const) {
  const fx = loadSafetensors(join(here, "fixtures", `llama_step_${amp}.safetensors`));
  const F = (name: string): Tensor => {
    const t = fx.tensors.get(name);
    if (!t) throw new Error(`fixture tensor ${name} is missing`);
    return t;
  };
  const lossScale = JSON.parse(fx.metadata.loss_scale!) as number;
  // One bf16 / f16 rounding flip (accumulation order differs between our GEMM and torch's) moves a value by one ulp
  // of the dtype and propagates: the bounds are a few ulps of the largest value. On this tiny model PyTorch's own
  // float32 run is only a few ulps away too (reported as f32gap), so the bounds are in ulps, not relative to it.
  const ulp = amp === "bfloat16" ? 2 ** -8 : 2 ** -11;

  describe(`golden: llama_step_${amp}.safetensors (autocast ${amp})`, () => {
    test("logits, loss and every gradient match PyTorch's mixed-precision step; the float32 step is much farther", () => {
      expect(fx.metadata.amp).toBe(amp);
      const params = freshParams();
      tidy(() => {
        const logits = noGrad(() => autocast(amp, () => forward(config, params, ids)));
        expect(logits.dtype).toBe(amp);
        const eLogits = relErr(logits.toFloatArray(), F("logits").toFloatArray());
        const gap = relErr(L("logits").toFloatArray(), F("logits").toFloatArray());
        report.push({ case: `llama_${amp}.logits`, out: eLogits, f32gap: gap });
        expect(eLogits, `logits rel err ${eLogits} (f32 gap ${gap})`).toBeLessThan(4 * ulp);
        const l = autocast(amp, () => llamaLoss(config, params, ids, targets));
        expect(l.dtype).toBe("float32");
        const eLoss = Math.abs(l.item() - F("loss").item());
        report.push({ case: `llama_${amp}.loss`, out: eLoss, f32gap: Math.abs(L("loss").item() - F("loss").item()) });
        expect(eLoss).toBeLessThan(2 * ulp);
        mulScalar(l, lossScale).backward();
      });
      for (const n of PARAM_NAMES) {
        const g = params.get(n)!.grad!;
        expect(g.dtype).toBe("float32");
        const ours = Array.from(g.toFloatArray(), (v) => v / lossScale);
        const e = relErr(ours, F(`grad.${n}`).toFloatArray());
        const gap = relErr(L(`grad.${n}`).toFloatArray(), F(`grad.${n}`).toFloatArray());
        report.push({ case: `llama_${amp}.grad.${n}`, out: e, f32gap: gap });
        expect(e, `grad.${n}: rel err ${e} (f32 gap ${gap})`).toBeLessThan(8 * ulp);
      }
      disposeParams(params);
    });

    test("three AdamW steps on float32 master weights (float16: loss scale 1024 through GradScaler)", () => {
      const params = freshParams();
      const list = [...params.values()];
      const opt = new AdamW(list, { lr: optCfg.lr, betas: optCfg.betas, eps: optCfg.eps, weightDecay: optCfg.weight_decay });
      const scaler = new GradScaler({ initScale: lossScale, growthInterval: 1000, enabled: amp === "float16" });
      const ref = F("step_losses").toFloatArray();
      for (let s = 0; s < 3; s++) {
        opt.zeroGrad();
        tidy(() => {
          const l = autocast(amp, () => llamaLoss(config, params, ids, targets));
          const e = Math.abs(l.item() - ref[s]!);
          report.push({ case: `llama_${amp}.step${s}`, loss: e });
          expect(e, `step ${s} loss ${l.item()} vs ${ref[s]}`).toBeLessThan(4 * ulp);
          scaler.scaleLoss(l).backward();
        });
        scaler.unscale(list);
        clipGradNorm(list, optCfg.clip_grad_norm);
        expect(scaler.step(opt)).toBe(true);
        scaler.update();
      }
      opt.zeroGrad();
      opt.dispose();
      // Adam normalises each update to about ±lr, so an element whose gradient is rounding noise can step the other
      // way: compare the fraction of elements within lr/10 of PyTorch's, and the mean difference.
      let close = 0, total = 0, sumAbs = 0;
      for (const n of PARAM_NAMES) {
        const a = params.get(n)!.toFloatArray();
        const b = F(`step3.${n}`).toFloatArray();
        for (let i = 0; i < b.length; i++) {
          const d = Math.abs(a[i]! - b[i]!);
          if (d <= optCfg.lr / 10) close++;
          sumAbs += d;
          total++;
        }
      }
      // The same statistics between PyTorch's float32 run and its mixed-precision run: the size of the rounding noise.
      let gapAbs = 0;
      for (const n of PARAM_NAMES) {
        const a = L(`step3.${n}`).toFloatArray();
        const b = F(`step3.${n}`).toFloatArray();
        for (let i = 0; i < b.length; i++) gapAbs += Math.abs(a[i]! - b[i]!);
      }
      report.push({ case: `llama_${amp}.step3.params`, within: close / total, meanAbs: sumAbs / total, f32gap: gapAbs / total });
      expect(close / total).toBeGreaterThan(amp === "bfloat16" ? 0.9 : 0.99);
      expect(sumAbs / total).toBeLessThan(Math.max(1.5 * (gapAbs / total), optCfg.lr / 100));
      disposeParams(params);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// c) Determinism

describe("golden: determinism", () => {
  test("two 3-step training runs from the same init are bit-identical (params and losses)", () => {
    const runs = [0, 1].map(() => {
      const params = freshParams();
      const { losses, norms } = train(params, 3);
      const bytes = PARAM_NAMES.map((n) => new Uint8Array((params.get(n)!.dataSync() as Float32Array).buffer));
      disposeParams(params);
      return { losses: new Uint8Array(losses.buffer), norms: new Uint8Array(new Float64Array(norms).buffer), bytes };
    });
    const [r0, r1] = runs as [typeof runs[0], typeof runs[0]];
    expect(Buffer.compare(Buffer.from(r0.losses), Buffer.from(r1.losses))).toBe(0);
    expect(Buffer.compare(Buffer.from(r0.norms), Buffer.from(r1.norms))).toBe(0);
    PARAM_NAMES.forEach((n, i) => {
      expect(Buffer.compare(Buffer.from(r0.bytes[i]!), Buffer.from(r1.bytes[i]!)), `${n} differs between runs`).toBe(0);
    });
    // And the run actually trained: parameters moved away from the init.
    const init = new Uint8Array((L(PARAM_NAMES[1]!).dataSync() as Float32Array).buffer);
    expect(Buffer.compare(Buffer.from(init), Buffer.from(r0.bytes[1]!))).not.toBe(0);
  });
});
