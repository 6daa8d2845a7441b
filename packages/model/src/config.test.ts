// Config: defaults, validation errors that name the field, Hugging Face JSON in and out (property-tested).
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { type LlamaConfig, fromHfConfig, llamaConfig, parameterCount, parameterShapes, toHfConfig, validateConfig } from "./config.js";

const base = { vocabSize: 100, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 8 };

describe("llamaConfig", () => {
  test("defaults follow transformers' LlamaConfig", () => {
    const c = llamaConfig(base);
    expect(c).toEqual({
      ...base, numKeyValueHeads: 8, headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048,
      tieWordEmbeddings: false, initializerRange: 0.02, bosTokenId: 1, eosTokenId: 2, padTokenId: null,
    });
  });

  test.each([
    [{ vocabSize: 0 }, /vocabSize \(vocab_size\) must be a positive integer, got 0/],
    [{ hiddenSize: 2.5 }, /hiddenSize \(hidden_size\) must be a positive integer/],
    [{ numKeyValueHeads: 3 }, /numKeyValueHeads \(num_key_value_heads\) \(3\) must divide num_attention_heads \(8\)/],
    [{ numAttentionHeads: 6 }, /headDim \(head_dim\) must be a positive integer \(default hidden_size \/ num_attention_heads = 64 \/ 6\)/],
    [{ headDim: 7 }, /headDim \(head_dim\) must be even/],
    [{ rmsNormEps: 0 }, /rmsNormEps \(rms_norm_eps\) must be a positive finite number/],
    [{ ropeTheta: -1 }, /ropeTheta \(rope_theta\)/],
    [{ bosTokenId: 100 }, /bosTokenId \(bos_token_id\) must be null or a token id in \[0, 100\)/],
    [{ eosTokenId: [2, -1] }, /eosTokenId \(eos_token_id\)/],
    [{ eosTokenId: [] }, /eosTokenId \(eos_token_id\) must not be an empty list/],
    [{ padTokenId: 1.5 }, /padTokenId \(pad_token_id\)/],
    [{ tieWordEmbeddings: "yes" }, /tieWordEmbeddings \(tie_word_embeddings\) must be a boolean/],
  ])("rejects %j", (over, msg) => {
    expect(() => llamaConfig({ ...base, ...(over as object) })).toThrow(msg);
  });

  test("head_dim may differ from hidden_size / heads; shapes and counts follow", () => {
    const c = llamaConfig({ ...base, headDim: 16, numKeyValueHeads: 2 });
    const shapes = new Map(parameterShapes(c));
    expect(shapes.get("model.layers.0.self_attn.q_proj.weight")).toEqual([128, 64]);
    expect(shapes.get("model.layers.0.self_attn.k_proj.weight")).toEqual([32, 64]);
    expect(shapes.get("model.layers.1.self_attn.o_proj.weight")).toEqual([64, 128]);
    const tied = llamaConfig({ ...base, tieWordEmbeddings: true });
    expect(parameterCount(llamaConfig(base)) - parameterCount(tied)).toBe(100 * 64);
  });
});

describe("Hugging Face config.json", () => {
  test("fromHfConfig reads a LLaMA-2 style config; toHfConfig writes one transformers accepts", () => {
    const hf = {
      architectures: ["LlamaForCausalLM"], model_type: "llama", vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008,
      num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, hidden_act: "silu", max_position_embeddings: 4096,
      initializer_range: 0.02, rms_norm_eps: 1e-5, rope_theta: 10000.0, rope_scaling: null, attention_bias: false,
      tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, pad_token_id: null, pretraining_tp: 1, torch_dtype: "float16",
    };
    const c = fromHfConfig(hf);
    expect(c.headDim).toBe(128);
    expect(c.padTokenId).toBeNull();
    const out = toHfConfig(c, { torchDtype: "bfloat16" });
    expect(out).toMatchObject({ ...hf, torch_dtype: "bfloat16", head_dim: 128 });
    expect(fromHfConfig(out)).toEqual(c);
  });

  test("LLaMA-3 style eos list, head_dim null, one-element eos list", () => {
    const hf = { vocab_size: 300, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 1 };
    expect(fromHfConfig({ ...hf, eos_token_id: [2, 5], head_dim: null }).eosTokenId).toEqual([2, 5]);
    expect(fromHfConfig({ ...hf, eos_token_id: [7] }).eosTokenId).toBe(7);
  });

  test.each([
    [{ model_type: "gpt2" }, /model_type "gpt2" is not supported/],
    [{ hidden_act: "gelu" }, /hidden_act "gelu" is not supported/],
    [{ attention_bias: true }, /attention_bias = true is not supported/],
    [{ rope_scaling: { type: "linear", factor: 2 } }, /rope_scaling .* is not supported/],
    [{ sliding_window: 16, model_type: "mistral" }, /sliding_window 16 < max_position_embeddings/],
    [{ vocab_size: undefined }, /vocabSize \(vocab_size\) is missing from config.json/],
    [{ num_key_value_heads: 3 }, /num_key_value_heads/],
  ])("rejects %j", (over, msg) => {
    const hf = { vocab_size: 50, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4 };
    expect(() => fromHfConfig({ ...hf, ...over })).toThrow(msg);
  });

  test("property: fromHfConfig(toHfConfig(c)) == c for any valid config", () => {
    const arb = fc
      .record({
        heads: fc.integer({ min: 1, max: 8 }),
        group: fc.integer({ min: 1, max: 4 }),
        headDimHalf: fc.integer({ min: 1, max: 16 }),
        vocab: fc.integer({ min: 3, max: 50000 }),
        layers: fc.integer({ min: 1, max: 48 }),
        inter: fc.integer({ min: 1, max: 20000 }),
        eps: fc.double({ min: 1e-8, max: 1e-2, noNaN: true }),
        theta: fc.double({ min: 1, max: 1e7, noNaN: true }),
        tied: fc.boolean(),
        pad: fc.option(fc.nat(), { nil: null }),
        eosList: fc.boolean(),
      })
      .map((r): LlamaConfig =>
        llamaConfig({
          vocabSize: r.vocab, hiddenSize: r.heads * r.group * 2 * r.headDimHalf, intermediateSize: r.inter, numHiddenLayers: r.layers,
          numAttentionHeads: r.heads * r.group, numKeyValueHeads: r.heads, headDim: 2 * r.headDimHalf, rmsNormEps: r.eps, ropeTheta: r.theta,
          tieWordEmbeddings: r.tied, padTokenId: r.pad === null ? null : r.pad % r.vocab, eosTokenId: r.eosList ? [2, 0] : 2,
        }),
      );
    fc.assert(
      fc.property(arb, (c) => {
        validateConfig(c);
        const json = JSON.parse(JSON.stringify(toHfConfig(c)));
        expect(fromHfConfig(json)).toEqual(c);
      }),
      { numRuns: 200 },
    );
  });
});

describe("transformers >= 5 config layout", () => {
  test("reads rope_theta from rope_parameters and refuses scaled RoPE there", () => {
    const base = { vocab_size: 80, hidden_size: 32, intermediate_size: 44, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 };
    expect(fromHfConfig({ ...base, rope_parameters: { rope_theta: 500000, rope_type: "default" } }).ropeTheta).toBe(500000);
    expect(() => fromHfConfig({ ...base, rope_parameters: { rope_theta: 500000, rope_type: "llama3", factor: 8 } })).toThrow(/rope_parameters .* is not supported/);
    expect(() => fromHfConfig({ ...base, rope_theta: 10000, rope_parameters: { rope_theta: 500000 } })).toThrow(/disagree/);
  });
});
