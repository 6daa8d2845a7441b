// Model configuration mirroring Hugging Face's LlamaConfig: validation with errors that name the field, JSON in and out.

/** A LLaMA-style decoder's shape and conventions (camelCase mirrors of LlamaConfig's fields). */
export interface LlamaConfig {
  /** vocab_size */
  vocabSize: number;
  /** hidden_size (model width) */
  hiddenSize: number;
  /** intermediate_size (SwiGLU MLP width) */
  intermediateSize: number;
  /** num_hidden_layers */
  numHiddenLayers: number;
  /** num_attention_heads (query heads) */
  numAttentionHeads: number;
  /** num_key_value_heads (grouped-query attention: a divisor of numAttentionHeads; equal to it for MHA) */
  numKeyValueHeads: number;
  /** head_dim (default hiddenSize / numAttentionHeads) */
  headDim: number;
  /** rms_norm_eps */
  rmsNormEps: number;
  /** rope_theta (base of the rotary frequencies) */
  ropeTheta: number;
  /** max_position_embeddings (longest sequence generation will produce; not a hard limit of forward) */
  maxPositionEmbeddings: number;
  /** tie_word_embeddings: lm_head shares model.embed_tokens.weight */
  tieWordEmbeddings: boolean;
  /** initializer_range: std of the normal init of every matrix */
  initializerRange: number;
  /** bos_token_id (null: none) */
  bosTokenId: number | null;
  /** eos_token_id: one id or several (LLaMA 3 style); null: none */
  eosTokenId: number | number[] | null;
  /** pad_token_id (null: none) */
  padTokenId: number | null;
}

/** Fields that may be left out of a config passed to `llamaConfig` (they get LlamaConfig's defaults). */
export type LlamaConfigInput = Partial<LlamaConfig> &
  Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "intermediateSize" | "numHiddenLayers" | "numAttentionHeads">;

/** Hugging Face's field name for each of ours (for error messages and JSON). */
export const HF_FIELD: Record<keyof LlamaConfig, string> = {
  vocabSize: "vocab_size",
  hiddenSize: "hidden_size",
  intermediateSize: "intermediate_size",
  numHiddenLayers: "num_hidden_layers",
  numAttentionHeads: "num_attention_heads",
  numKeyValueHeads: "num_key_value_heads",
  headDim: "head_dim",
  rmsNormEps: "rms_norm_eps",
  ropeTheta: "rope_theta",
  maxPositionEmbeddings: "max_position_embeddings",
  tieWordEmbeddings: "tie_word_embeddings",
  initializerRange: "initializer_range",
  bosTokenId: "bos_token_id",
  eosTokenId: "eos_token_id",
  padTokenId: "pad_token_id",
};

function fieldErr(field: keyof LlamaConfig, msg: string): Error {
  return new Error(`LlamaConfig: ${field} (${HF_FIELD[field]}) ${msg}`);
}

function posInt(c: Record<string, unknown>, field: keyof LlamaConfig): void {
  const v = c[field];
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw fieldErr(field, `must be a positive integer, got ${JSON.stringify(v)}`);
}

function posFinite(c: Record<string, unknown>, field: keyof LlamaConfig): void {
  const v = c[field];
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw fieldErr(field, `must be a positive finite number, got ${JSON.stringify(v)}`);
}

function tokenId(c: Record<string, unknown>, field: keyof LlamaConfig, vocab: number, v: unknown = c[field]): void {
  if (v === null) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= vocab)
    throw fieldErr(field, `must be null or a token id in [0, ${vocab}) (vocab_size), got ${JSON.stringify(v)}`);
}

/**
 * A complete, validated config from the required fields plus optional ones (defaults as in transformers' LlamaConfig:
 * numKeyValueHeads = numAttentionHeads, headDim = hiddenSize / numAttentionHeads, rmsNormEps 1e-6, ropeTheta 10000,
 * maxPositionEmbeddings 2048, tieWordEmbeddings false, initializerRange 0.02, bos 1, eos 2, pad null; bos/eos
 * default to null when the vocabulary is too small to hold them).
 */
export function llamaConfig(input: LlamaConfigInput): LlamaConfig {
  if (!input || typeof input !== "object") throw new Error("LlamaConfig: expected an object");
  for (const f of ["vocabSize", "hiddenSize", "intermediateSize", "numHiddenLayers", "numAttentionHeads"] as const) posInt(input as Record<string, unknown>, f);
  const heads = input.numAttentionHeads;
  const c: LlamaConfig = {
    vocabSize: input.vocabSize,
    hiddenSize: input.hiddenSize,
    intermediateSize: input.intermediateSize,
    numHiddenLayers: input.numHiddenLayers,
    numAttentionHeads: heads,
    numKeyValueHeads: input.numKeyValueHeads ?? heads,
    headDim: input.headDim ?? input.hiddenSize / heads,
    rmsNormEps: input.rmsNormEps ?? 1e-6,
    ropeTheta: input.ropeTheta ?? 10000,
    maxPositionEmbeddings: input.maxPositionEmbeddings ?? 2048,
    tieWordEmbeddings: input.tieWordEmbeddings ?? false,
    initializerRange: input.initializerRange ?? 0.02,
    bosTokenId: input.bosTokenId !== undefined ? input.bosTokenId : input.vocabSize > 1 ? 1 : null,
    eosTokenId: input.eosTokenId !== undefined ? input.eosTokenId : input.vocabSize > 2 ? 2 : null,
    padTokenId: input.padTokenId ?? null,
  };
  validateConfig(c);
  return c;
}

/** Throws an Error naming the offending field (ours and Hugging Face's) when the config is inconsistent. */
export function validateConfig(c: LlamaConfig): void {
  const r = c as unknown as Record<string, unknown>;
  for (const f of ["vocabSize", "hiddenSize", "intermediateSize", "numHiddenLayers", "numAttentionHeads", "numKeyValueHeads", "maxPositionEmbeddings"] as const)
    posInt(r, f);
  if (!(typeof c.headDim === "number" && Number.isInteger(c.headDim) && c.headDim > 0))
    throw fieldErr("headDim", `must be a positive integer (default hidden_size / num_attention_heads = ${c.hiddenSize} / ${c.numAttentionHeads}), got ${c.headDim}`);
  if (c.headDim % 2 !== 0) throw fieldErr("headDim", `must be even for rotary embeddings, got ${c.headDim}`);
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0)
    throw fieldErr("numKeyValueHeads", `(${c.numKeyValueHeads}) must divide num_attention_heads (${c.numAttentionHeads})`);
  posFinite(r, "rmsNormEps");
  posFinite(r, "ropeTheta");
  if (typeof c.initializerRange !== "number" || !Number.isFinite(c.initializerRange) || c.initializerRange < 0)
    throw fieldErr("initializerRange", `must be a finite number >= 0, got ${JSON.stringify(c.initializerRange)}`);
  if (typeof c.tieWordEmbeddings !== "boolean") throw fieldErr("tieWordEmbeddings", `must be a boolean, got ${JSON.stringify(c.tieWordEmbeddings)}`);
  tokenId(r, "bosTokenId", c.vocabSize);
  tokenId(r, "padTokenId", c.vocabSize);
  if (Array.isArray(c.eosTokenId)) {
    if (c.eosTokenId.length === 0) throw fieldErr("eosTokenId", "must not be an empty list");
    for (const e of c.eosTokenId) tokenId(r, "eosTokenId", c.vocabSize, e);
  } else tokenId(r, "eosTokenId", c.vocabSize);
}

/** The end-of-sequence ids of a config as a list (empty when none). */
export function eosIds(c: Pick<LlamaConfig, "eosTokenId">): number[] {
  return c.eosTokenId === null ? [] : Array.isArray(c.eosTokenId) ? [...c.eosTokenId] : [c.eosTokenId];
}

/** Number of parameters (counting a tied embedding once). */
export function parameterCount(c: LlamaConfig): number {
  return parameterShapes(c).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
}

/**
 * Parameter names (Hugging Face's) and shapes in checkpoint order. With tied embeddings lm_head.weight is left out:
 * it is model.embed_tokens.weight.
 */
export function parameterShapes(c: LlamaConfig): Array<[string, number[]]> {
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const out: Array<[string, number[]]> = [["model.embed_tokens.weight", [c.vocabSize, H]]];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      [`${p}.self_attn.q_proj.weight`, [q, H]],
      [`${p}.self_attn.k_proj.weight`, [kv, H]],
      [`${p}.self_attn.v_proj.weight`, [kv, H]],
      [`${p}.self_attn.o_proj.weight`, [H, q]],
      [`${p}.mlp.gate_proj.weight`, [I, H]],
      [`${p}.mlp.up_proj.weight`, [I, H]],
      [`${p}.mlp.down_proj.weight`, [H, I]],
      [`${p}.input_layernorm.weight`, [H]],
      [`${p}.post_attention_layernorm.weight`, [H]],
    );
  }
  out.push(["model.norm.weight", [H]]);
  if (!c.tieWordEmbeddings) out.push(["lm_head.weight", [c.vocabSize, H]]);
  return out;
}

const SUPPORTED_MODEL_TYPES = ["llama", "mistral"];

/**
 * A config from a Hugging Face config.json object (LlamaConfig / MistralConfig without sliding window). Fields this
 * decoder cannot honour (rope_scaling, attention/MLP biases, another activation, a sliding window) raise an error
 * naming the field rather than being silently ignored.
 */
export function fromHfConfig(json: Record<string, unknown>): LlamaConfig {
  if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("fromHfConfig: expected a config.json object");
  const get = (k: string): unknown => json[k];
  const mt = get("model_type");
  if (mt !== undefined && !SUPPORTED_MODEL_TYPES.includes(mt as string))
    throw new Error(`fromHfConfig: model_type ${JSON.stringify(mt)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  const act = get("hidden_act") ?? "silu";
  if (act !== "silu") throw new Error(`fromHfConfig: hidden_act ${JSON.stringify(act)} is not supported (only "silu")`);
  for (const k of ["attention_bias", "mlp_bias"]) if (get(k) === true) throw new Error(`fromHfConfig: ${k} = true is not supported (no biases)`);
  const rs = get("rope_scaling");
  if (rs !== undefined && rs !== null) {
    const type = (rs as Record<string, unknown>).rope_type ?? (rs as Record<string, unknown>).type;
    if (type !== "default") throw new Error(`fromHfConfig: rope_scaling ${JSON.stringify(rs)} is not supported (plain RoPE only)`);
  }
  // transformers >= 5 writes the RoPE settings as rope_parameters: { rope_theta, rope_type, ... }.
  const rp = get("rope_parameters");
  let ropeThetaFromParams: number | undefined;
  if (rp !== undefined && rp !== null) {
    if (typeof rp !== "object" || Array.isArray(rp)) throw new Error(`fromHfConfig: rope_parameters must be an object, got ${JSON.stringify(rp)}`);
    const r = rp as Record<string, unknown>;
    const type = r.rope_type ?? r.type ?? "default";
    if (type !== "default") throw new Error(`fromHfConfig: rope_parameters ${JSON.stringify(rp)} is not supported (plain RoPE only)`);
    if (r.rope_theta !== undefined) ropeThetaFromParams = r.rope_theta as number;
  }
  const sw = get("sliding_window");
  const maxPos = (get("max_position_embeddings") ?? 2048) as number;
  if (sw !== undefined && sw !== null && typeof sw === "number" && sw < maxPos)
    throw new Error(`fromHfConfig: sliding_window ${sw} < max_position_embeddings ${maxPos} is not supported (full causal attention only)`);
  const pretrainingTp = get("pretraining_tp");
  if (pretrainingTp !== undefined && pretrainingTp !== 1) throw new Error(`fromHfConfig: pretraining_tp ${JSON.stringify(pretrainingTp)} is not supported (only 1)`);
  const opt = <T>(k: string): T | undefined => (json[k] === undefined ? undefined : (json[k] as T));
  const input: Record<string, unknown> = {};
  for (const [ours, hf] of Object.entries(HF_FIELD)) {
    const v = opt<unknown>(hf);
    if (v !== undefined) input[ours] = v;
  }
  if (input.ropeTheta === undefined && ropeThetaFromParams !== undefined) input.ropeTheta = ropeThetaFromParams;
  else if (input.ropeTheta !== undefined && ropeThetaFromParams !== undefined && input.ropeTheta !== ropeThetaFromParams)
    throw new Error(`fromHfConfig: rope_theta ${String(input.ropeTheta)} and rope_parameters.rope_theta ${String(ropeThetaFromParams)} disagree`);
  // transformers writes head_dim: null in some versions; treat it as absent.
  if (input.headDim === null) delete input.headDim;
  // eos_token_id may be a one-element list.
  if (Array.isArray(input.eosTokenId) && input.eosTokenId.length === 1) input.eosTokenId = input.eosTokenId[0];
  for (const f of ["vocabSize", "hiddenSize", "intermediateSize", "numHiddenLayers", "numAttentionHeads"] as const)
    if (input[f] === undefined) throw fieldErr(f, "is missing from config.json");
  return llamaConfig(input as LlamaConfigInput);
}

/** The Hugging Face config.json object of a config (LlamaForCausalLM; `torchDtype` names the stored weights' dtype). */
export function toHfConfig(c: LlamaConfig, opts: { torchDtype?: "float32" | "bfloat16" | "float16" } = {}): Record<string, unknown> {
  validateConfig(c);
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    hidden_act: "silu",
    max_position_embeddings: c.maxPositionEmbeddings,
    initializer_range: c.initializerRange,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    pretraining_tp: 1,
    tie_word_embeddings: c.tieWordEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    use_cache: true,
    torch_dtype: opts.torchDtype ?? "float32",
  };
}
