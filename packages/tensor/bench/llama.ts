// A LLaMA-style decoder written with @seekr/tensor ops (Hugging Face names and conventions): the model of the
// golden training-step test and of the CPU benchmark. @seekr/model builds the full-featured version.
import {
  type Tensor, type DeviceLike, Generator, copyTo, attention, crossEntropy, embedding, linear, mul, add, reshape, rmsNorm, rope, swiglu, ones,
  addRmsNorm, autocastDType,
} from "@seekr/tensor";

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
}

export const REFERENCE_CONFIG: LlamaConfig = {
  vocabSize: 256, hiddenSize: 256, numLayers: 4, numHeads: 8, numKvHeads: 8, intermediateSize: 688, rmsNormEps: 1e-5, ropeTheta: 10000,
};

/** The ~125M-parameter LLaMA-style configuration of the GPU benchmark (d_model 768, 12 layers, 12 heads, LLaMA's
 * 32,000-token vocabulary, SwiGLU 2048): 134M parameters with untied embeddings. */
export const GPU_125M_CONFIG: LlamaConfig = {
  vocabSize: 32000, hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 12, intermediateSize: 2048, rmsNormEps: 1e-5, ropeTheta: 10000,
};

/** Parameters that multiply activations: the q / k / v / o and gate / up / down projections of every layer and the
 * output head. The input embedding is a table lookup and the norm weights scale elementwise, so neither counts (the
 * convention of torchtitan's `get_num_params(model, exclude_embedding=True)`; with tied embeddings the one table counts
 * once, as the head). */
export function matmulParams(c: LlamaConfig): number {
  const hd = c.hiddenSize / c.numHeads;
  const attn = c.hiddenSize * hd * (2 * c.numHeads + 2 * c.numKvHeads);
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return c.numLayers * (attn + mlp) + c.vocabSize * c.hiddenSize;
}

/** Model FLOPs per trained token (forward + backward): 6 N for the N weights that multiply activations
 * (`matmulParams`) plus 12 L d T for attention scores and values (PaLM's count, the causal mask not subtracted). */
export function flopsPerToken(c: LlamaConfig, seq: number): number {
  return 6 * matmulParams(c) + 12 * c.numLayers * c.hiddenSize * seq;
}

/** Parameter names and shapes in Hugging Face order. */
export function parameterShapes(c: LlamaConfig): Array<[string, number[]]> {
  const hd = c.hiddenSize / c.numHeads;
  const out: Array<[string, number[]]> = [["model.embed_tokens.weight", [c.vocabSize, c.hiddenSize]]];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      [`${p}.self_attn.q_proj.weight`, [c.numHeads * hd, c.hiddenSize]],
      [`${p}.self_attn.k_proj.weight`, [c.numKvHeads * hd, c.hiddenSize]],
      [`${p}.self_attn.v_proj.weight`, [c.numKvHeads * hd, c.hiddenSize]],
      [`${p}.self_attn.o_proj.weight`, [c.hiddenSize, c.numHeads * hd]],
      [`${p}.mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]],
      [`${p}.mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]],
      [`${p}.mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]],
      [`${p}.input_layernorm.weight`, [c.hiddenSize]],
      [`${p}.post_attention_layernorm.weight`, [c.hiddenSize]],
    );
  }
  out.push(["model.norm.weight", [c.hiddenSize]], ["lm_head.weight", [c.vocabSize, c.hiddenSize]]);
  return out;
}

/** Seeded init: weights normal(0, std), norm weights 1. Parameters require grad and are kept (not freed by tidy). */
export function initParams(c: LlamaConfig, seed: number, std = 0.02, device: DeviceLike = "cpu"): Map<string, Tensor> {
  const gen = new Generator(seed);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of parameterShapes(c)) {
    const host = name.endsWith("norm.weight") ? ones(shape) : gen.normal(shape, 0, std);
    const t = device === "cpu" ? host : copyTo(host, device);
    if (t !== host) host.dispose();
    t.requiresGrad = true;
    params.set(name, t.keep());
  }
  return params;
}

function P(params: Map<string, Tensor>, name: string): Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`llama: missing parameter ${name}`);
  return t;
}

/** What a forward fuses (benchmark ablations: `--ablate fused-norm` measures the unfused step on the same card). */
export interface ForwardOptions {
  /** Residual adds fused into the next RMSNorm, norms writing the autocast dtype (default true). */
  fusedNorms?: boolean;
}

/** Logits [B, T, vocab] for token ids [B, T] (int32). */
export function forward(c: LlamaConfig, params: Map<string, Tensor>, ids: Tensor, fopts: ForwardOptions = {}): Tensor {
  const fused = fopts.fusedNorms ?? true;
  const [B, T] = ids.shape as [number, number];
  const hd = c.hiddenSize / c.numHeads;
  let x = embedding(P(params, "model.embed_tokens.weight"), ids); // [B,T,D]
  // x + branch is the residual stream; each add is fused with the RMSNorm that reads the sum (addRmsNorm), and under
  // autocast the norms write the autocast dtype (the projections' operand) straight away.
  let branch: Tensor | null = null;
  const opts = { dtype: autocastDType() ?? undefined };
  const norm = (name: string): Tensor => {
    if (!fused) {
      // The unfused step: add, a norm in the promoted dtype, the projections' cast.
      if (branch) x = add(x, branch);
      branch = null;
      return rmsNorm(x, P(params, name), c.rmsNormEps);
    }
    if (!branch) return rmsNorm(x, P(params, name), c.rmsNormEps, opts);
    const r = addRmsNorm(x, branch, P(params, name), c.rmsNormEps, opts);
    x = r.sum;
    branch = null;
    return r.out;
  };
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    const h = norm(`${p}.input_layernorm.weight`);
    const q = rope(reshape(linear(h, P(params, `${p}.self_attn.q_proj.weight`)), [B, T, c.numHeads, hd]), { theta: c.ropeTheta });
    const k = rope(reshape(linear(h, P(params, `${p}.self_attn.k_proj.weight`)), [B, T, c.numKvHeads, hd]), { theta: c.ropeTheta });
    const v = reshape(linear(h, P(params, `${p}.self_attn.v_proj.weight`)), [B, T, c.numKvHeads, hd]);
    const o = reshape(attention(q, k, v, { causal: true }), [B, T, c.numHeads * hd]);
    branch = linear(o, P(params, `${p}.self_attn.o_proj.weight`));
    const h2 = norm(`${p}.post_attention_layernorm.weight`);
    // SwiGLU: silu(gate) * up in one fused kernel (forward and backward).
    const gate = linear(h2, P(params, `${p}.mlp.gate_proj.weight`));
    const up = linear(h2, P(params, `${p}.mlp.up_proj.weight`));
    branch = linear(swiglu(gate, up), P(params, `${p}.mlp.down_proj.weight`));
  }
  const hN = norm("model.norm.weight");
  return linear(hN, P(params, "lm_head.weight"));
}

/** Mean next-token cross-entropy over targets != -100 ([B, T] int32, already aligned with the logits). */
export function loss(c: LlamaConfig, params: Map<string, Tensor>, ids: Tensor, targets: Tensor, fopts: ForwardOptions = {}): Tensor {
  const logits = forward(c, params, ids, fopts);
  return crossEntropy(reshape(logits, [-1, c.vocabSize]), reshape(targets, [-1]), { ignoreIndex: -100 });
}
