// End to end: a tiny byte-level model learns to reverse 4-letter strings with AdamW (answer-only loss), then
// generates the answers greedily; memory returns to its baseline after training steps.
import { describe, expect, test } from "vitest";
import { AdamW, clipGradNorm, memory, tidy } from "@seekr/tensor";
import { llamaConfig } from "./config.js";
import { LlamaModel } from "./model.js";
import { ByteTokenizer } from "./tokenizer.js";
import { encodeExample, encodePrompt } from "./prompt.js";
import { padBatch } from "./batch.js";
import { createRandom } from "./sampling.js";
import { generate } from "./generate.js";

describe("training", () => {
  test("learns string reversal in a few hundred AdamW steps; greedy generation then answers correctly", () => {
    const tok = new ByteTokenizer();
    const config = llamaConfig({
      vocabSize: tok.vocabSize, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
      rmsNormEps: 1e-5, bosTokenId: tok.bosTokenId, eosTokenId: tok.eosTokenId, padTokenId: tok.padTokenId, maxPositionEmbeddings: 32,
    });
    const model = LlamaModel.init(config, { seed: 1 });
    const params = model.parameterList();
    const opt = new AdamW(params, { lr: 3e-3, betas: [0.9, 0.98], weightDecay: 0 });
    const rnd = createRandom(7);
    const letters = "abcdef";
    const word = () => Array.from({ length: 4 }, () => letters[Math.floor(rnd() * letters.length)]!).join("");
    const example = (w: string) => encodeExample(tok, { prompt: `${w}=`, answer: [...w].reverse().join("") });

    const step = (): number =>
      tidy(() => {
        const ex = Array.from({ length: 32 }, () => example(word()));
        const b = padBatch(ex.map((e) => e.ids), { labels: ex.map((e) => e.labels), padId: tok.padTokenId! });
        const { loss } = model.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels! });
        const v = loss!.item();
        loss!.backward();
        clipGradNorm(params, 1.0);
        opt.step();
        opt.zeroGrad();
        return v;
      });

    const losses: number[] = [step()];
    const baseline = memory(); // optimizer state exists from here on
    for (let i = 1; i < 400; i++) {
      losses.push(step());
      if (i >= 250 && losses.slice(-10).reduce((a, b) => a + b, 0) / 10 < 0.02) break;
    }
    const after = memory();
    expect(after.tensors).toBe(baseline.tensors);
    expect(after.bytes).toBe(baseline.bytes);
    const tail = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    expect(losses[0]).toBeGreaterThan(4);
    expect(tail, `loss went ${losses[0]!.toFixed(3)} → ${tail.toFixed(4)} in ${losses.length} steps`).toBeLessThan(0.1);

    const words = ["abcd", "fade", "cafe", "beef", "dcba", "aaab"];
    const r = generate(model, words.map((w) => encodePrompt(tok, `${w}=`)), { maxNewTokens: 6, tokenizer: tok });
    const correct = words.filter((w, i) => r.text![i] === [...w].reverse().join("") && r.finishReason[i] === "eos").length;
    expect(correct, `generated ${JSON.stringify(r.text)}`).toBeGreaterThanOrEqual(5);
    opt.dispose();
    model.dispose();
  });
});
