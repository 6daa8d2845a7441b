// Generation: KV-cache decoding equals full recomputation (logits and greedy tokens, batched with left padding), one
// token per step against past + 1 keys, seeded sampling with top-k / top-p, EOS and stop strings, memory freed.
import { describe, expect, test } from "vitest";
import { type Tensor, memory, noGrad, tensor, tidy } from "@seekr/tensor";
import { type AttendContext, type AttendResult, LlamaModel } from "./model.js";
import { generate, generateText } from "./generate.js";
import { createRandom, selectToken } from "./sampling.js";
import { ByteTokenizer } from "./tokenizer.js";
import { padArrays } from "./batch.js";
import { compare, tiny } from "./test-utils.js";

/** Records the (Tq, Tk) of every attention call. */
class ShapeProbe extends LlamaModel {
  readonly calls: Array<[number, number]> = [];
  protected override attend(layer: number, q: Tensor, k: Tensor, v: Tensor, ctx: AttendContext): AttendResult {
    if (layer === 0) this.calls.push([q.shape[1]!, k.shape[1]!]);
    return super.attend(layer, q, k, v, ctx);
  }
}

const cfg = tiny({ vocabSize: 259, hiddenSize: 32, intermediateSize: 48, bosTokenId: 256, eosTokenId: 257, padTokenId: 258 });
const model = LlamaModel.init(cfg, { seed: 21, std: 0.25 });
const prompts = [[256, 72, 101, 108, 108, 111], [256, 97], [256, 120, 121, 122]];

describe("KV cache", () => {
  test("prefill + one-token steps give the logits of full recomputation (left-padded batch)", () => {
    noGrad(() => {
      const p = padArrays(prompts, { side: "left", padId: 258 });
      const extra = [[5, 6, 7], [8, 9, 10], [11, 12, 13]]; // three more tokens per row
      const T = p.T + 3;
      const ids = new Int32Array(3 * T);
      const mask = new Int32Array(3 * T);
      for (let b = 0; b < 3; b++) {
        ids.set(p.ids.subarray(b * p.T, (b + 1) * p.T), b * T);
        mask.set(p.mask.subarray(b * p.T, (b + 1) * p.T), b * T);
        for (let j = 0; j < 3; j++) (ids[b * T + p.T + j] = extra[b]![j]!), (mask[b * T + p.T + j] = 1);
      }
      const full = tidy(() => model.forward(tensor(ids, { shape: [3, T], dtype: "int32" }), { attentionMask: tensor(mask, { shape: [3, T], dtype: "int32" }) }).logits!.toFloatArray());
      const cache = model.createCache(3);
      const V = cfg.vocabSize;
      const first = tidy(() =>
        model.forward(tensor(p.ids, { shape: [3, p.T], dtype: "int32" }), { attentionMask: tensor(p.mask, { shape: [3, p.T], dtype: "int32" }), kvCache: cache }).logits!.toFloatArray(),
      );
      expect(cache.length).toBe(p.T);
      for (let b = 0; b < 3; b++) {
        const c = compare(first.subarray(b * p.T * V, (b + 1) * p.T * V), full.subarray(b * T * V, (b * T + p.T) * V), 1e-5, 1e-4);
        expect(c.bad, `prefill row ${b}: ${c.maxAbs}`).toBe(0);
      }
      for (let j = 0; j < 3; j++) {
        const step = tidy(() => model.forward(tensor(extra.map((e) => [e[j]!]), { dtype: "int32" }), { kvCache: cache }).logits!.toFloatArray());
        expect(cache.length).toBe(p.T + j + 1);
        for (let b = 0; b < 3; b++) {
          const at = b * T + p.T + j;
          const c = compare(step.subarray(b * V, (b + 1) * V), full.subarray(at * V, (at + 1) * V), 1e-5, 1e-4);
          expect(c.bad, `step ${j} row ${b}: ${c.maxAbs}`).toBe(0);
        }
      }
      expect(cache.bytes).toBe(2 * 2 * 3 * (p.T + 3) * 2 * 8 * 4); // layers × (k, v) × B × T × kvHeads × headDim × 4
      cache.dispose();
      expect(cache.keys.every((k) => k === null)).toBe(true);
    });
  });

  test("greedy decoding with the cache gives the tokens of full recomputation; decode steps run Tq = 1 against past + 1 keys", () => {
    const probe = new ShapeProbe(cfg, model.parameters());
    const withCache = generate(probe, prompts, { maxNewTokens: 12, eosTokenId: [] });
    const calls = [...probe.calls];
    probe.calls.length = 0;
    const without = generate(probe, prompts, { maxNewTokens: 12, eosTokenId: [], useCache: false });
    expect(withCache.tokens).toEqual(without.tokens);
    expect(withCache.tokens.every((t) => t.length === 12)).toBe(true);
    expect(withCache.finishReason).toEqual(["length", "length", "length"]);
    expect(calls[0]).toEqual([6, 6]);
    expect(calls.slice(1)).toEqual(Array.from({ length: 11 }, (_, i) => [1, 7 + i]));
    expect(probe.calls.slice(0, 3)).toEqual([[6, 6], [7, 7], [8, 8]]);
    expect(withCache.steps).toBe(12);
  });

  test("batched, left-padded generation equals generating each prompt alone", () => {
    const batched = generate(model, prompts, { maxNewTokens: 8, eosTokenId: [] });
    prompts.forEach((p, i) => expect(generate(model, [p], { maxNewTokens: 8, eosTokenId: [] }).tokens[0], `row ${i}`).toEqual(batched.tokens[i]));
  });
});

describe("stopping and sampling", () => {
  test("EOS ends a row (EOS kept in tokens), other rows go on; maxNewTokens bounds the rest", () => {
    const free = generate(model, prompts, { maxNewTokens: 6, eosTokenId: [] });
    const eos = free.tokens[1]![2]!; // make row 1's third token the EOS
    const r = generate(model, prompts, { maxNewTokens: 6, eosTokenId: eos });
    expect(r.tokens[1]).toEqual(free.tokens[1]!.slice(0, 3));
    expect(r.finishReason[1]).toBe("eos");
    for (const b of [0, 2]) {
      const cut = free.tokens[b]!.indexOf(eos);
      expect(r.tokens[b]).toEqual(cut >= 0 ? free.tokens[b]!.slice(0, cut + 1) : free.tokens[b]);
    }
  });

  test("stop strings end a row and are cut from its text", () => {
    const tok = new ByteTokenizer();
    const free = generate(model, prompts, { maxNewTokens: 10, eosTokenId: [], tokenizer: tok });
    const text0 = free.text![0]!;
    const stop = tok.decode(free.tokens[0]!.slice(3, 5), { skipSpecialTokens: true });
    expect(stop.length).toBeGreaterThan(0);
    const r = generate(model, prompts, { maxNewTokens: 10, eosTokenId: [], tokenizer: tok, stopStrings: [stop] });
    expect(r.finishReason[0]).toBe("stop");
    expect(r.text![0]).toBe(text0.slice(0, text0.indexOf(stop)));
    expect(r.tokens[0]!.length).toBeLessThanOrEqual(5);
    const t = generateText(model, tok, ["Hi"], { maxNewTokens: 4 });
    expect(t.text[0]).toBe(tok.decode(t.tokens[0]!, { skipSpecialTokens: true }));
  });

  test("sampling is seeded; topK 1, temperature 0 and a tiny topP are greedy", () => {
    const greedy = generate(model, prompts, { maxNewTokens: 6, eosTokenId: [] }).tokens;
    const s1 = generate(model, prompts, { maxNewTokens: 6, eosTokenId: [], doSample: true, temperature: 1.5, seed: 1 }).tokens;
    expect(generate(model, prompts, { maxNewTokens: 6, eosTokenId: [], doSample: true, temperature: 1.5, seed: 1 }).tokens).toEqual(s1);
    expect(generate(model, prompts, { maxNewTokens: 6, eosTokenId: [], doSample: true, temperature: 1.5, seed: 2 }).tokens).not.toEqual(s1);
    for (const o of [{ topK: 1 }, { temperature: 0 }, { topP: 1e-6 }])
      expect(generate(model, prompts, { maxNewTokens: 6, eosTokenId: [], doSample: true, seed: 3, ...o }).tokens, JSON.stringify(o)).toEqual(greedy);
  });

  test("selectToken: temperature, top-k and top-p keep the right sets with the right frequencies", () => {
    const logits = [Math.log(1), Math.log(2), Math.log(4), -Infinity];
    const count = (o: object, n = 7000): number[] => {
      const rnd = createRandom(5);
      const c = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) c[selectToken(logits, 0, 4, { doSample: true, ...o }, rnd)]!++;
      return c.map((x) => x / n);
    };
    const all = count({});
    [1 / 7, 2 / 7, 4 / 7, 0].forEach((p, i) => expect(Math.abs(all[i]! - p)).toBeLessThan(0.02));
    expect(count({ topP: 0.5 })).toEqual([0, 0, 1, 0]);
    const p8 = count({ topP: 0.8 }); // 4/7 < 0.8 <= 6/7
    expect(p8[0]).toBe(0);
    expect(Math.abs(p8[1]! - 1 / 3)).toBeLessThan(0.02);
    const k2 = count({ topK: 2 });
    expect(k2[0]).toBe(0);
    expect(Math.abs(k2[2]! - 2 / 3)).toBeLessThan(0.02);
    const hot = count({ temperature: 1e3 });
    expect(Math.abs(hot[0]! - 1 / 3)).toBeLessThan(0.03);
    expect(selectToken([1, 3, 3, 2], 0, 4, {}, createRandom(0))).toBe(1); // greedy: first maximum
  });

  test("argument errors", () => {
    expect(() => generate(model, [[]], { maxNewTokens: 1 })).toThrow(/prompt 0 is empty/);
    expect(() => generate(model, prompts, { maxNewTokens: -1 })).toThrow(/maxNewTokens/);
    expect(() => generate(model, prompts, { maxNewTokens: 1, topP: 0 })).toThrow(/topP/);
    expect(() => generate(model, prompts, { maxNewTokens: 1, stopStrings: ["x"] })).toThrow(/need a tokenizer/);
  });
});

describe("memory", () => {
  test("generation (with and without cache) returns memory to the baseline", () => {
    generate(model, prompts, { maxNewTokens: 3 }); // warm-up
    const before = memory();
    generate(model, prompts, { maxNewTokens: 10, eosTokenId: [], doSample: true, topK: 5 });
    generate(model, prompts, { maxNewTokens: 5, eosTokenId: [], useCache: false });
    const after = memory();
    expect(after.tensors).toBe(before.tensors);
    expect(after.bytes).toBe(before.bytes);
    expect(after.buffers).toBe(before.buffers);
  });
});
