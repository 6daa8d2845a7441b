// Parity with PyTorch (scripts/golden_model.py, transformers' Llama written out): logits, loss, probabilities,
// sensitivity, distillation loss and gradients, for GQA, tied bf16 weights, left and right padding, sharded f16.
import { describe, expect, test } from "vitest";
import { join } from "node:path";
import { type Tensor, add, f32ToF16Bits, f16BitsToF32, mul, noGrad, tidy } from "@seekr/tensor";
import { loadCheckpoint } from "./checkpoint.js";
import { FIXTURES, compare, g } from "./test-utils.js";

function expectClose(what: string, actual: Tensor | Float32Array, expected: Tensor, atol: number, rtol: number): void {
  const a = actual instanceof Float32Array ? actual : actual.toFloatArray();
  if (!(actual instanceof Float32Array)) expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const e = expected.toFloatArray();
  const r = compare(a, e, atol, rtol);
  expect(r.bad, `${what}: ${r.bad}/${e.length} outside tolerance, max |err| ${r.maxAbs.toExponential(2)}, first bad ${r.firstBad}: ${a[r.firstBad]} vs ${e[r.firstBad]}`).toBe(0);
}

/** Only the [B, T, V] logit rows whose mask is 1. */
function realRows(logits: Tensor, mask: Tensor): { a: Float32Array; idx: number[] } {
  const [B, T, V] = logits.shape as [number, number, number];
  const m = mask.toFloatArray();
  const d = logits.toFloatArray();
  const out: number[] = [];
  const idx: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      if (m[b * T + t]) {
        idx.push(b * T + t);
        for (let v = 0; v < V; v++) out.push(d[(b * T + t) * V + v]!);
      }
  return { a: Float32Array.from(out), idx };
}

describe("PyTorch parity", () => {
  test("GQA model: logits and loss (answer-only labels, HF shift)", () => {
    const model = loadCheckpoint(join(FIXTURES, "gqa"));
    noGrad(() =>
      tidy(() => {
        const r = model.forward(g("gqa.input_ids"), { labels: g("gqa.labels") });
        expectClose("logits", r.logits!, g("gqa.logits"), 2e-5, 1e-4);
        expectClose("loss", r.loss!, g("gqa.loss").reshape([]), 1e-5, 1e-5);
      }),
    );
    model.dispose();
  });

  test("GQA model: taps equal PyTorch's attention probabilities; sensitivity and distillation match; gradients of loss + 0.5 distill", () => {
    const model = loadCheckpoint(join(FIXTURES, "gqa"));
    const probs = g("gqa.probs1").toFloatArray(); // [2, 4, 7, 7]
    const B = 2, H = 4, T = 7;
    tidy(() => {
      const rows = g("gqa.distill.rows1");
      const r = model.forward(g("gqa.input_ids"), {
        labels: g("gqa.labels"),
        taps: [{ layer: 1, heads: [3, 0, 2], rows }],
        sensitivity: true,
        distill: [
          { layer: 0, heads: [1], rows: g("gqa.distill.rows0"), teacher: g("gqa.distill.teacher0") },
          { layer: 1, heads: [0, 3], rows, teacher: g("gqa.distill.teacher1") },
        ],
      });
      // taps [B, 3, R, T] vs probs[b, head, rows[b, r], :]
      const taps = r.taps.get(1)!;
      expect(taps.shape).toEqual([B, 3, 3, T]);
      const tv = taps.toFloatArray();
      const rv = rows.dataSync() as Int32Array;
      const want = new Float32Array(tv.length);
      [3, 0, 2].forEach((h, hi) => {
        for (let b = 0; b < B; b++)
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < T; j++) want[((b * 3 + hi) * 3 + i) * T + j] = probs[((b * H + h) * T + rv[b * 3 + i]!) * T + j]!;
      });
      const c = compare(tv, want, 1e-6, 1e-5);
      expect(c.bad, `taps max err ${c.maxAbs}`).toBe(0);
      expectClose("distill loss", r.distillLoss!, g("gqa.distill.loss").reshape([]), 1e-5, 1e-5);
      // Sensitivity from the task loss alone.
      r.loss!.backward({ retainGraph: true });
      expectClose("sensitivity layer 0", r.sensitivity.get(0)!, g("gqa.sensitivity0"), 1e-9, 2e-4);
      expectClose("sensitivity layer 1", r.sensitivity.get(1)!, g("gqa.sensitivity1"), 1e-9, 2e-4);
      expect(r.sensitivityCount.get(0)!.toArray()).toEqual([49, 49]);
      for (const p of model.parameterList()) {
        p.grad?.dispose();
        p.grad = null;
      }
      add(r.loss!, mul(r.distillLoss!, 0.5)).backward();
      for (const [name, p] of model.parameters()) expectClose(`grad ${name}`, p.grad!, g(`gqa.grad_total.${name}`), 2e-5, 2e-4);
      for (const p of model.parameterList()) {
        p.grad?.dispose();
        p.grad = null;
      }
    });
    model.dispose();
  });

  test("left padding: positions from the mask, logits at real positions and the loss", () => {
    const model = loadCheckpoint(join(FIXTURES, "gqa"));
    noGrad(() =>
      tidy(() => {
        const mask = g("leftpad.attention_mask");
        const r = model.forward(g("leftpad.input_ids"), { attentionMask: mask, labels: g("leftpad.labels") });
        const ours = realRows(r.logits!, mask);
        const theirs = realRows(g("leftpad.logits"), mask);
        const c = compare(ours.a, theirs.a, 2e-5, 1e-4);
        expect(c.bad, `max err ${c.maxAbs}`).toBe(0);
        expectClose("loss", r.loss!, g("leftpad.loss").reshape([]), 1e-5, 1e-5);
      }),
    );
    model.dispose();
  });

  test("tied embeddings, MHA, bf16 checkpoint, right padding", () => {
    const model = loadCheckpoint(join(FIXTURES, "tied"));
    expect(model.config.tieWordEmbeddings).toBe(true);
    expect(model.lmHead).toBe(model.parameter("model.embed_tokens.weight"));
    expect([...model.parameters().keys()]).not.toContain("lm_head.weight");
    noGrad(() =>
      tidy(() => {
        const mask = g("tied.attention_mask");
        const r = model.forward(g("tied.input_ids"), { attentionMask: mask, labels: g("tied.labels") });
        const c = compare(realRows(r.logits!, mask).a, realRows(g("tied.logits"), mask).a, 2e-5, 1e-4);
        expect(c.bad, `max err ${c.maxAbs}`).toBe(0);
        expectClose("loss", r.loss!, g("tied.loss").reshape([]), 1e-5, 1e-5);
      }),
    );
    model.dispose();
  });

  test("sharded float16 checkpoint: every weight is the f32 one rounded to half (torch's rounding = ours)", () => {
    const f32 = loadCheckpoint(join(FIXTURES, "gqa"));
    const f16 = loadCheckpoint(join(FIXTURES, "gqa-sharded"));
    for (const [name, t] of f32.parameters()) {
      const want = Float32Array.from(t.toFloatArray(), (x) => f16BitsToF32(f32ToF16Bits(x)));
      expect(Buffer.from(f16.parameter(name).toFloatArray().buffer).equals(Buffer.from(want.buffer)), name).toBe(true);
    }
    f32.dispose();
    f16.dispose();
  });
});
