// Tests of evaluation: greedy predictions in input order whatever the batching, the metric applied, aborts.

import { ByteTokenizer, LlamaModel, llamaConfig, PLAIN_TEMPLATE } from "@seekr/model";
import { setThreads } from "@seekr/tensor";
import { afterAll, describe, expect, it } from "vitest";
import type { TaskData } from "../data/types.js";
import { AbortError, evaluateTask, predict } from "./evaluate.js";

setThreads(1); // as the trainer runs by default (src/run/extras.ts)

const tok = new ByteTokenizer();
const model = LlamaModel.init(
  llamaConfig({ vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, bosTokenId: tok.bosTokenId, eosTokenId: tok.eosTokenId, padTokenId: tok.padTokenId }),
  { seed: 4 },
);
afterAll(() => model.dispose());
const examples = ["a=", "bcd=", "efghij=", "k=", "lmnopqrs="].map((prompt) => ({ prompt, answer: "x" }));
const opts = { tokenizer: tok, template: PLAIN_TEMPLATE, maxNewTokens: 5 };

describe("evaluation", () => {
  it("returns greedy predictions in input order, whatever the batch size", async () => {
    const one = await predict(model, examples, { ...opts, batchSize: 1 });
    const all = await predict(model, examples, { ...opts, batchSize: 3 });
    expect(all).toEqual(one);
    expect(one.every((p) => p.length <= 5 * 4)).toBe(true);
    const reversed = await predict(model, [...examples].reverse(), { ...opts, batchSize: 2 });
    expect(reversed).toEqual([...one].reverse());
  });

  it("scores with the task's metric on the chosen split", async () => {
    const preds = await predict(model, examples, { ...opts, batchSize: 8 });
    const task: TaskData = { name: "t", metric: "exact_match", train: [], eval: [], test: examples.map((e, i) => ({ ...e, answer: i < 2 ? preds[i]! : `${preds[i]}!` })), source: "test" };
    const r = await evaluateTask(model, task, { ...opts, batchSize: 8 });
    expect(r).toMatchObject({ task: "t", metric: "exact_match", items: 5, score: 40 });
    await expect(evaluateTask(model, task, { ...opts, batchSize: 8, split: "eval" })).rejects.toThrow(/empty eval split/);
  });

  it("stops between batches when aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(predict(model, examples, { ...opts, batchSize: 2, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
