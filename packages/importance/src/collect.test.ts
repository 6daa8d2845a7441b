// Collectors on a tiny model: sensitivity against a direct eager computation of dL/dA, forgettability invariants.
import { describe, expect, it } from "vitest";
import {
  AdamW, type Tensor, add, attentionEagerProbs, sub, zeros, broadcastTo, matmul, memory, permute, reshape, tensor, tidy, detach,
} from "@seekr/tensor";
import { LlamaModel, llamaConfig, type AttendContext, type AttendResult } from "@seekr/model";
import { captureAttention, collectSensitivity, forgettability, type Batch } from "./index.js";

const config = llamaConfig({
  vocabSize: 32, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
  maxPositionEmbeddings: 64, padTokenId: 0, bosTokenId: 1, eosTokenId: 2,
});

/**
 * Eager attention with a zero leaf Z added to each probability map (P + Z - detach(Z)): the values and the gradient
 * flow are unchanged, and backward leaves dL/dA in Z.grad.
 */
class EagerProbe extends LlamaModel {
  readonly probs = new Map<number, Tensor>();
  protected override attend(layer: number, q: Tensor, k: Tensor, v: Tensor, ctx: AttendContext): AttendResult {
    const [B, Tq, H, D] = q.shape as [number, number, number, number];
    const [, Tk, Hkv] = k.shape as [number, number, number, number];
    const probs = attentionEagerProbs(q, k, v, { keyMask: ctx.keyMask ?? undefined }).probs;
    const z = zeros(probs.shape, { requiresGrad: true }).keep();
    this.probs.set(layer, z);
    const p = add(probs, sub(z, detach(z)));
    const vh = permute(v, [0, 2, 1, 3]);
    const ve = reshape(broadcastTo(reshape(vh, [B, Hkv, 1, Tk, D]), [B, Hkv, H / Hkv, Tk, D]), [B, H, Tk, D]);
    return { out: permute(matmul(p, ve), [0, 2, 1, 3]), taps: null, sensitivity: null, sensitivityCount: null };
  }
}

function batch(): Batch {
  // Two samples, the second left-padded; labels on the "answer" part only.
  const ids = [[1, 5, 6, 7, 8, 9, 10, 2], [0, 0, 1, 11, 12, 13, 14, 2]];
  const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1]];
  const labels = [[-100, -100, -100, -100, 8, 9, 10, 2], [-100, -100, -100, -100, -100, 13, 14, 2]];
  return {
    inputIds: tensor(ids, { dtype: "int32" }).keep(),
    attentionMask: tensor(mask, { dtype: "int32" }).keep(),
    labels: tensor(labels, { dtype: "int32" }).keep(),
  };
}

describe("collectSensitivity", () => {
  it("equals the mean over samples of mean((dL_sample/dA)^2) computed directly with eager attention", () => {
    const model = LlamaModel.init(config, { seed: 3, std: 0.2 });
    const b = batch();
    const got = collectSensitivity(model, [b]);
    // Direct: one sample at a time, so each sample's own loss is used.
    const probe = new EagerProbe(config, model.parameters());
    const L = config.numHiddenLayers, H = config.numAttentionHeads;
    const want = Array.from({ length: L }, () => new Array<number>(H).fill(0));
    for (let s = 0; s < 2; s++) {
      tidy(() => {
        const pick = (t: Tensor) => tensor((t.toArray() as number[][])[s]!, { dtype: "int32" }).reshape([1, -1]);
        const r = probe.forward(pick(b.inputIds), { attentionMask: pick(b.attentionMask!), labels: pick(b.labels), returnLogits: false });
        r.loss!.backward();
      });
      for (let l = 0; l < L; l++) {
        const g = probe.probs.get(l)!.grad!.toFloatArray();
        const per = g.length / H;
        for (let h = 0; h < H; h++) {
          let ss = 0;
          for (let e = h * per; e < (h + 1) * per; e++) ss += g[e]! * g[e]!;
          want[l]![h]! += ss / per / 2;
        }
        probe.probs.get(l)!.dispose();
      }
      for (const p of model.parameterList()) { p.grad?.dispose(); p.grad = null; }
    }
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++) {
        expect(got[l]![h]!).toBeGreaterThan(0);
        expect(Math.abs(got[l]![h]! - want[l]![h]!)).toBeLessThan(1e-4 * Math.max(1e-6, want[l]![h]!) + 1e-12);
      }
    // The paper's statistic (norm) is consistent with the same sums.
    const norm = collectSensitivity(model, [b], { statistic: "norm" });
    norm.flat().forEach((x) => expect(x).toBeGreaterThan(0));
    // No gradient is left on the parameters, and no tensor leaks.
    expect(model.parameterList().every((p) => p.grad === null)).toBe(true);
  });

  it("does not leak tensors", () => {
    const model = LlamaModel.init(config, { seed: 4 });
    const b = batch();
    collectSensitivity(model, [b]);
    const base = memory();
    collectSensitivity(model, [b, b], { progress: () => {} });
    const after = memory();
    expect(after.tensors).toBe(base.tensors);
    expect(after.devices.cpu!.bytes).toBe(base.devices.cpu!.bytes);
  });
});

describe("forgettability", () => {
  it("is zero for an unchanged model and positive after a training step, with both statistics", () => {
    const model = LlamaModel.init(config, { seed: 5, std: 0.2 });
    const b = batch();
    const before = captureAttention(model, [b]);
    const same = captureAttention(model, [b]);
    forgettability(before, same).flat().forEach((x) => expect(x).toBe(0));
    forgettability(before, same, { statistic: "norm" }).flat().forEach((x) => expect(x).toBe(0));
    // Each captured row is a distribution over visible keys (or all zero).
    for (const s of before.samples)
      for (const m of s.maps)
        for (let r = 0; r < m.length / s.keys; r++) {
          const sum = m.slice(r * s.keys, (r + 1) * s.keys).reduce((a, x) => a + x, 0);
          expect(Math.abs(sum - 1) < 1e-5 || sum === 0).toBe(true);
        }
    const opt = new AdamW(model.parameterList(), { lr: 1e-2 });
    tidy(() => {
      model.forward(b.inputIds, { attentionMask: b.attentionMask, labels: b.labels }).loss!.backward();
      opt.step();
    });
    const after = captureAttention(model, [b]);
    const f = forgettability(before, after);
    f.flat().forEach((x) => expect(x).toBeGreaterThan(0));
    opt.dispose();
  });

  it("refuses snapshots taken at different rows", () => {
    const model = LlamaModel.init(config, { seed: 6 });
    const b = batch();
    const all = captureAttention(model, [b]);
    const some = captureAttention(model, [b], { rows: [tensor([[1, 2], [3, 4]], { dtype: "int32" })] });
    expect(some.samples[0]!.maps[0]!.length).toBe(config.numAttentionHeads * 2 * 8);
    expect(() => forgettability(all, some)).toThrow(/different rows/);
  });
});
