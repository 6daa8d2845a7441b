// LlamaModel: init, parameters, masks and padding, labels, taps vs eager probabilities, sensitivity vs a direct
// dL/dP computation, distillation, early stop, and a finite-difference gradient check of the whole model.
import { describe, expect, test } from "vitest";
import {
  type Tensor, add, attentionEagerProbs, broadcastTo, crossEntropy, detach, matmul, memory, mul, noGrad, permute, reshape, tensor, tidy, zerosLike,
} from "@seekr/tensor";
import { type AttendContext, type AttendResult, LlamaModel } from "./model.js";
import { parameterShapes } from "./config.js";
import { padBatch } from "./batch.js";
import { compare, tiny } from "./test-utils.js";

/**
 * Eager attention from composite ops, whose probability maps P get a zero leaf Z added (P + Z feeds the output), so
 * backward gives Z.grad = dL/dP exactly while gradients still flow through P into q and k.
 */
class EagerModel extends LlamaModel {
  /** Per layer: P (detached values) and the zero leaf Z whose gradient is dL/dP. */
  readonly maps = new Map<number, Tensor>();
  readonly leaves = new Map<number, Tensor>();
  protected override attend(layer: number, q: Tensor, k: Tensor, v: Tensor, ctx: AttendContext): AttendResult {
    const { probs } = attentionEagerProbs(q, k, v, { causal: true, ...(ctx.keyMask ? { keyMask: ctx.keyMask } : {}) });
    const Z = zerosLike(probs).keep();
    Z.requiresGrad = true;
    this.maps.get(layer)?.dispose();
    this.leaves.get(layer)?.dispose();
    this.maps.set(layer, detach(probs).keep());
    this.leaves.set(layer, Z);
    const P = add(probs, Z);
    const [B, Tk, Hkv, D] = k.shape as [number, number, number, number];
    const H = q.shape[2]!;
    let vh = permute(v, [0, 2, 1, 3]);
    if (H !== Hkv) vh = reshape(broadcastTo(reshape(vh, [B, Hkv, 1, Tk, D]), [B, Hkv, H / Hkv, Tk, D]), [B, H, Tk, D]);
    return { out: permute(matmul(P, vh), [0, 2, 1, 3]), taps: null, sensitivity: null, sensitivityCount: null };
  }
  disposeMaps(): void {
    for (const m of [...this.maps.values(), ...this.leaves.values()]) m.dispose();
    this.maps.clear();
    this.leaves.clear();
  }
}

const ids2 = (rows: number[][]) => tensor(rows, { dtype: "int32" });

describe("init and parameters", () => {
  test("HF names in checkpoint order, seeded and reproducible, norms 1, pad row zero, std ≈ initializerRange", () => {
    const c = tiny({ vocabSize: 64, hiddenSize: 32, intermediateSize: 64, initializerRange: 0.05 });
    const a = LlamaModel.init(c, { seed: 3 });
    const b = LlamaModel.init(c, { seed: 3 });
    const d = LlamaModel.init(c, { seed: 4 });
    expect([...a.parameters().keys()]).toEqual(parameterShapes(c).map(([n]) => n));
    expect([...a.parameters().keys()].slice(0, 4)).toEqual([
      "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
    ]);
    expect(a.parameter("lm_head.weight").shape).toEqual([64, 32]);
    expect(a.parameter("model.layers.0.self_attn.k_proj.weight").shape).toEqual([16, 32]); // 2 kv heads × 8
    for (const [n, t] of a.parameters()) {
      expect(t.requiresGrad && t.kept, n).toBe(true);
      expect(Buffer.from(t.toFloatArray().buffer).equals(Buffer.from(b.parameter(n).toFloatArray().buffer)), n).toBe(true);
      if (n.endsWith("norm.weight")) expect([...t.toFloatArray()].every((x) => x === 1)).toBe(true);
    }
    expect(a.parameter("model.layers.1.mlp.up_proj.weight").toArray()).not.toEqual(d.parameter("model.layers.1.mlp.up_proj.weight").toArray());
    const w = a.parameter("model.layers.0.mlp.gate_proj.weight").toFloatArray();
    const std = Math.sqrt([...w].reduce((s, x) => s + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.045);
    expect(std).toBeLessThan(0.055);
    const emb = a.parameter("model.embed_tokens.weight").toFloatArray();
    expect([...emb.subarray(0, 32)].every((x) => x === 0)).toBe(true); // padTokenId 0
    expect(a.numParameters).toBe([...a.parameters().values()].reduce((n, t) => n + t.size, 0));
    for (const m of [a, b, d]) m.dispose();
  });

  test("tied embeddings: lm_head is the embedding and gets the gradient of both uses", () => {
    const m = LlamaModel.init(tiny({ tieWordEmbeddings: true }), { seed: 1 });
    expect(m.parameters().has("lm_head.weight")).toBe(false);
    expect(m.lmHead).toBe(m.parameter("model.embed_tokens.weight"));
    tidy(() => {
      const r = m.forward(ids2([[1, 5, 6, 7]]), { labels: ids2([[1, 5, 6, 7]]) });
      r.loss!.backward();
      expect(m.lmHead.grad!.shape).toEqual([32, 16]);
    });
    for (const p of m.parameterList()) p.grad?.dispose(), (p.grad = null);
    m.dispose();
  });

  test("constructor errors name the parameter", () => {
    const c = tiny();
    const m = LlamaModel.init(c);
    const params = m.parameters();
    const bad = new Map(params);
    bad.delete("model.layers.1.mlp.down_proj.weight");
    expect(() => new LlamaModel(c, bad)).toThrow(/missing parameter 'model.layers.1.mlp.down_proj.weight' \(expected float32 \[16, 24\]\)/);
    const wrong = new Map(params);
    wrong.set("model.norm.weight", tensor([1, 2, 3]));
    expect(() => new LlamaModel(c, wrong)).toThrow(/'model.norm.weight' has shape \[3\], expected \[16\]/);
    const extra = new Map(params);
    extra.set("foo", tensor([1]));
    expect(() => new LlamaModel(c, extra)).toThrow(/unexpected parameter 'foo'/);
    wrong.get("model.norm.weight")!.dispose();
    extra.get("foo")!.dispose();
    m.dispose();
  });
});

describe("forward", () => {
  const model = LlamaModel.init(tiny(), { seed: 11, std: 0.3 });

  test("input errors are precise", () => {
    noGrad(() => {
      expect(() => model.forward(tensor([[1, 2]]))).toThrow(/ids must be an int32/);
      expect(() => model.forward(ids2([[1, 40]]))).toThrow(/ids\[0, 1\] = 40 is not a token id in \[0, 32\)/);
      expect(() => model.forward(ids2([[1, 2]]), { attentionMask: ids2([[1, 1, 1]]) })).toThrow(/attentionMask \[1, 3\] must be \[1, 2\]/);
      expect(() => model.forward(ids2([[1, 2]]), { labels: ids2([[1, 99]]) })).toThrow(/labels\[0, 1\] = 99/);
      expect(() => model.forward(ids2([[1, 2]]), { taps: [{ layer: 2, heads: [0], rows: ids2([[0]]) }] })).toThrow(/layer 2 is not in \[0, 2\)/);
      expect(() => model.forward(ids2([[1, 2]]), { taps: [{ layer: 0, heads: [0], rows: ids2([[2]]) }] })).toThrow(/rows\[0, 0\] = 2 is not a query position/);
      expect(() => model.forward(ids2([[1, 2]]), { kvCache: model.createCache(2) })).toThrow(/kvCache is for batch size 2/);
    });
    expect(() => model.forward(ids2([[1, 2]]), { kvCache: model.createCache(1) })).toThrow(/inside noGrad/);
  });

  test("left and right padding: real positions match the unpadded rows (positions come from the mask)", () => {
    noGrad(() =>
      tidy(() => {
        const rows = [[1, 7, 8, 9, 10, 11], [1, 12, 13], [1, 4]];
        const alone = rows.map((r) => model.forward(ids2([r])).logits!.toFloatArray());
        for (const side of ["left", "right"] as const) {
          const b = padBatch(rows, { side, padId: 0 });
          const logits = model.forward(b.ids, { attentionMask: b.attentionMask }).logits!.toFloatArray();
          rows.forEach((r, i) => {
            const off = side === "left" ? b.seqLen - r.length : 0;
            const got = logits.subarray((i * b.seqLen + off) * 32, (i * b.seqLen + off + r.length) * 32);
            const c = compare(got, alone[i]!, 2e-6, 1e-5);
            expect(c.bad, `${side} row ${i}: max err ${c.maxAbs}`).toBe(0);
          });
        }
      }),
    );
  });

  test("labels use the HF shift: loss = CE(logits[:, :-1], labels[:, 1:]) over kept positions", () => {
    noGrad(() =>
      tidy(() => {
        const ids = ids2([[1, 5, 9, 3, 4], [1, 8, 8, 2, 6]]);
        const labels = ids2([[-100, -100, 9, 3, 4], [-100, 8, -100, 2, 6]]);
        const r = model.forward(ids, { labels });
        const logits = r.logits!;
        const rowsLogits: number[][] = [];
        const targets: number[] = [];
        const l = logits.toFloatArray();
        const lab = [[-100, -100, 9, 3, 4], [-100, 8, -100, 2, 6]];
        for (let b = 0; b < 2; b++)
          for (let t = 0; t < 4; t++) {
            rowsLogits.push([...l.subarray((b * 5 + t) * 32, (b * 5 + t + 1) * 32)]);
            targets.push(lab[b]![t + 1]!);
          }
        const want = crossEntropy(tensor(rowsLogits), tensor(targets, { dtype: "int32" })).item();
        expect(r.loss!.item()).toBeCloseTo(want, 6);
      }),
    );
  });

  test('returnLogits "last" and false; taps-only forward stops after the last needed layer with the same taps', () => {
    noGrad(() =>
      tidy(() => {
        const ids = ids2([[1, 5, 9, 3, 4]]);
        const rows = ids2([[4, 0, 2]]);
        const full = model.forward(ids, { taps: [{ layer: 0, heads: [1, 3], rows }] });
        const last = model.forward(ids, { returnLogits: "last" }).logits!;
        expect(last.shape).toEqual([1, 1, 32]);
        expect([...last.toFloatArray()]).toEqual([...full.logits!.toFloatArray().subarray(4 * 32)]);
        const before = memory().tensors;
        const only = model.forward(ids, { returnLogits: false, taps: [{ layer: 0, heads: [1, 3], rows }] });
        expect(only.logits).toBeNull();
        expect(memory().tensors - before).toBe(1); // just the taps
        expect([...only.taps.get(0)!.toFloatArray()]).toEqual([...full.taps.get(0)!.toFloatArray()]);
      }),
    );
  });

  test("taps equal the eager attention probabilities at the requested rows (with padding, GQA)", () => {
    const eager = new EagerModel(model.config, model.parameters());
    noGrad(() =>
      tidy(() => {
        const b = padBatch([[1, 7, 8, 9, 10, 11], [1, 12, 13]], { side: "left" });
        const rows = ids2([[5, 0, 3], [5, 4, 3]]);
        const heads = [2, 0, 3];
        const r = model.forward(b.ids, { attentionMask: b.attentionMask, taps: [{ layer: 0, heads, rows }, { layer: 1, heads: [1], rows }] });
        eager.forward(b.ids, { attentionMask: b.attentionMask });
        for (const [layer, hs] of [[0, heads], [1, [1]]] as const) {
          const P = eager.maps.get(layer)!.toFloatArray(); // [2, 4, 6, 6]
          const taps = r.taps.get(layer)!;
          expect(taps.shape).toEqual([2, hs.length, 3, 6]);
          const tv = taps.toFloatArray();
          const rv = [[5, 0, 3], [5, 4, 3]];
          const want: number[] = [];
          for (let bb = 0; bb < 2; bb++) for (const h of hs) for (const q of rv[bb]!) for (let j = 0; j < 6; j++) want.push(P[((bb * 4 + h) * 6 + q) * 6 + j]!);
          const c = compare(tv, want, 1e-6, 1e-5);
          expect(c.bad, `layer ${layer}: max err ${c.maxAbs}`).toBe(0);
        }
        eager.disposeMaps();
      }),
    );
  });

  test("sensitivity equals sum over (q, k) of (dL/dP)^2 computed directly from leaf probability maps", () => {
    const eager = new EagerModel(model.config, model.parameters());
    const b = padBatch([[1, 7, 8, 9, 10, 11], [1, 12, 13]], { side: "left", labels: [[-100, 7, 8, 9, 10, 11], [-100, 12, 13]] });
    for (const mode of ["all", "visible"] as const) {
      const fused = tidy(() => {
        const r = model.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels!, sensitivity: mode });
        r.loss!.backward();
        return { s0: r.sensitivity.get(0)!.toFloatArray(), s1: r.sensitivity.get(1)!.toFloatArray(), c: r.sensitivityCount.get(1)!.toFloatArray() };
      });
      const direct = tidy(() => {
        const r = eager.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels! });
        r.loss!.backward();
        const out: Float32Array[] = [];
        for (const layer of [0, 1]) {
          const G = eager.leaves.get(layer)!.grad!.toFloatArray(); // [2, 4, 6, 6]
          const m = b.attentionMask.toFloatArray();
          const s = new Float32Array(8);
          for (let bb = 0; bb < 2; bb++)
            for (let h = 0; h < 4; h++)
              for (let i = 0; i < 6; i++)
                for (let j = 0; j < 6; j++) {
                  if (mode === "visible" && (j > i || m[bb * 6 + j] === 0)) continue;
                  s[bb * 4 + h] = s[bb * 4 + h]! + G[((bb * 4 + h) * 6 + i) * 6 + j]! ** 2;
                }
          out.push(s);
        }
        return out;
      });
      for (const [i, s] of [fused.s0, fused.s1].entries()) {
        const c = compare(s, direct[i]!, 1e-10, 1e-3);
        expect(c.bad, `${mode} layer ${i}: max err ${c.maxAbs} (${s} vs ${direct[i]})`).toBe(0);
        expect(Math.max(...s)).toBeGreaterThan(0);
      }
      // counts: "all" = Tq * Tk; "visible" = causal entries with unpadded keys (row 1 has 3 pads)
      expect([...fused.c]).toEqual(mode === "all" ? [36, 36] : [21, 6]);
      eager.disposeMaps();
      for (const p of model.parameterList()) p.grad?.dispose(), (p.grad = null);
    }
  });

  test("distillation: zero when the teacher is the student's own taps, positive otherwise; mean over layers", () => {
    tidy(() => {
      const b = padBatch([[1, 7, 8, 9, 10, 11], [1, 12, 13]], { side: "left" });
      const rows = ids2([[5, 2, 3], [5, 4, 3]]);
      const taps = noGrad(() => model.forward(b.ids, { attentionMask: b.attentionMask, returnLogits: false, taps: [{ layer: 0, heads: [0, 3], rows }, { layer: 1, heads: [2], rows }] }).taps);
      const same = model.forward(b.ids, {
        attentionMask: b.attentionMask,
        returnLogits: false,
        distill: [{ layer: 0, heads: [0, 3], rows, teacher: taps.get(0)! }, { layer: 1, heads: [2], rows, teacher: taps.get(1)! }],
      });
      expect(Math.abs(same.distillLoss!.item())).toBeLessThan(1e-6);
      // A teacher from another model.
      const other = LlamaModel.init(model.config, { seed: 99, std: 0.3 });
      const t2 = noGrad(() => other.forward(b.ids, { attentionMask: b.attentionMask, returnLogits: false, taps: [{ layer: 0, heads: [0, 3], rows }, { layer: 1, heads: [2], rows }] }).taps);
      const diff = model.forward(b.ids, {
        attentionMask: b.attentionMask,
        returnLogits: false,
        distill: [{ layer: 0, heads: [0, 3], rows, teacher: t2.get(0)! }, { layer: 1, heads: [2], rows, teacher: t2.get(1)! }],
      });
      const l0 = diff.distillLosses.get(0)!.item();
      const l1 = diff.distillLosses.get(1)!.item();
      expect(l0).toBeGreaterThan(1e-3);
      expect(l1).toBeGreaterThan(1e-3);
      expect(diff.distillLoss!.item()).toBeCloseTo((l0 + l1) / 2, 6);
      diff.distillLoss!.backward();
      // Gradients reach the q/k projections of the distilled layers, not the MLP of the last one (no path).
      expect(model.parameter("model.layers.1.self_attn.q_proj.weight").grad).not.toBeNull();
      expect(model.parameter("model.layers.0.self_attn.k_proj.weight").grad).not.toBeNull();
      expect(model.parameter("model.layers.1.mlp.up_proj.weight").grad).toBeNull();
      for (const p of model.parameterList()) p.grad?.dispose(), (p.grad = null);
      other.dispose();
    });
  });
});

describe("memory", () => {
  test("training steps with taps, sensitivity and distillation return to the baseline (tensors, buffers, bytes)", () => {
    const m = LlamaModel.init(tiny(), { seed: 12 });
    const b = padBatch([[1, 7, 8, 9, 10, 11], [1, 12, 13]], { side: "left", labels: [[-100, 7, 8, 9, 10, 11], [-100, 12, 13]] });
    const rows = ids2([[5, 2], [5, 4]]);
    const old = LlamaModel.init(tiny(), { seed: 13 });
    const teacher = noGrad(() => old.forward(b.ids, { attentionMask: b.attentionMask, returnLogits: false, taps: [{ layer: 1, heads: [0, 1], rows }] }).taps.get(1)!);
    old.dispose();
    const step = () =>
      tidy(() => {
        const r = m.forward(b.ids, {
          attentionMask: b.attentionMask, labels: b.labels!, sensitivity: "visible",
          taps: [{ layer: 0, heads: [2], rows }], distill: [{ layer: 1, heads: [0, 1], rows, teacher }],
        });
        add(r.loss!, r.distillLoss!).backward();
        for (const p of m.parameterList()) p.grad?.dispose(), (p.grad = null);
        return r.sensitivity.get(0)!.toFloatArray()[0]!;
      });
    step();
    const before = memory();
    for (let i = 0; i < 5; i++) expect(step()).toBeGreaterThan(0);
    const after = memory();
    expect([after.tensors, after.buffers, after.bytes]).toEqual([before.tensors, before.buffers, before.bytes]);
    m.dispose();
  });
});

describe("gradient check (finite differences, float32)", () => {
  test("loss + 0.3 * distill with left padding: analytic gradients of a tiny model match central differences", () => {
    const c = tiny({ vocabSize: 16, hiddenSize: 8, intermediateSize: 12, numAttentionHeads: 2, numKeyValueHeads: 1 });
    const base = LlamaModel.init(c, { seed: 5, std: 0.4 });
    const b = padBatch([[1, 5, 9, 3, 4], [1, 8, 6]], { side: "left", labels: [[-100, 5, 9, 3, 4], [-100, 8, 6]] });
    const rows = ids2([[4, 2], [4, 3]]);
    const teacher = tensor(
      [[[[0.1, 0.2, 0.3, 0.4, 0], [0.5, 0.2, 0.3, 0, 0]]], [[[0, 0, 0.3, 0.3, 0.4], [0, 0, 0.6, 0.4, 0]]]],
    );
    const total = (m: LlamaModel): Tensor => {
      const r = m.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels!, distill: [{ layer: 1, heads: [1], rows, teacher }] });
      return add(r.loss!, mul(r.distillLoss!, 0.3));
    };
    tidy(() => total(base).backward());
    const names = [
      "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
      "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight",
      "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight", "model.norm.weight", "lm_head.weight",
    ];
    const h = 1e-2;
    let checked = 0;
    for (const name of names) {
      const p = base.parameter(name);
      const g = p.grad!.toFloatArray();
      const data = p.toFloatArray() as Float32Array;
      // the 2 entries with the largest gradient and one fixed entry
      const order = [...g.keys()].sort((i, j) => Math.abs(g[j]!) - Math.abs(g[i]!));
      for (const i of [order[0]!, order[1]!, 3 % g.length]) {
        const at = (delta: number): number => {
          const d = Float32Array.from(data);
          d[i] = d[i]! + delta;
          const params = new Map(base.parameters());
          const pt = tensor(d, { shape: p.shape });
          params.set(name, pt);
          const m = new LlamaModel(c, params);
          const v = noGrad(() => tidy(() => total(m).item()));
          pt.dispose();
          return v;
        };
        // Richardson-extrapolated central difference (h and h/2).
        const d1 = (at(h) - at(-h)) / (2 * h);
        const d2 = (at(h / 2) - at(-h / 2)) / h;
        const fd = (4 * d2 - d1) / 3;
        expect(Math.abs(fd - g[i]!), `${name}[${i}]: finite difference ${fd}, autograd ${g[i]}`).toBeLessThan(2e-4 + 1e-2 * Math.abs(g[i]!));
        checked++;
      }
    }
    expect(checked).toBe(30);
    base.dispose();
    teacher.dispose();
  });
});
