// Tests for teacher signals: top-k compression, teacherProbs / denseTeacherProbs, attention signals, checks.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from "./half.js";
import {
  attentionRows,
  attentionSignal,
  checkAttentionSignal,
  checkLogitSignal,
  denseTeacherProbs,
  fullLogits,
  teacherProbs,
  topKLogits,
} from "./signals.js";

function softmax(row: ArrayLike<number>): number[] {
  const xs = Array.from(row);
  const max = Math.max(...xs);
  const exps = xs.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

const logitsArb = fc
  .record({ positions: fc.integer({ min: 1, max: 5 }), vocab: fc.integer({ min: 1, max: 40 }) })
  .chain(({ positions, vocab }) =>
    fc.record({
      positions: fc.constant(positions),
      vocab: fc.constant(vocab),
      k: fc.integer({ min: 1, max: vocab }),
      data: fc.float32Array({ minLength: positions * vocab, maxLength: positions * vocab, min: -20, max: 20, noNaN: true }),
    }),
  );

describe("topKLogits", () => {
  it("keeps the k largest logits per position in descending order (ties: lower id) and the full log-sum-exp", () => {
    const logits = Float32Array.from([1, 3, 3, 0, -1, /* position 1 */ 5, 4, 3, 2, 1]);
    const s = topKLogits(logits, 2, 5, 2);
    expect(Array.from(s.indices)).toEqual([1, 2, 0, 1]);
    expect(Array.from(s.values)).toEqual([3, 3, 5, 4]);
    const lse0 = Math.log([1, 3, 3, 0, -1].reduce((a, x) => a + Math.exp(x), 0));
    expect(s.logsumexp[0]).toBeCloseTo(lse0, 5);
    expect(s.k).toBe(2);
    expect(s.kind).toBe("topk");
  });

  it("matches a sort-based reference on random logits (property)", () => {
    fc.assert(
      fc.property(logitsArb, ({ positions, vocab, k, data }) => {
        const s = topKLogits(data, positions, vocab, k);
        for (let p = 0; p < positions; p++) {
          const row = Array.from(data.subarray(p * vocab, (p + 1) * vocab));
          const order = row.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v || a.i - b.i).slice(0, k);
          expect(Array.from(s.indices.subarray(p * k, (p + 1) * k))).toEqual(order.map((o) => o.i));
          expect(Array.from(s.values.subarray(p * k, (p + 1) * k))).toEqual(order.map((o) => o.v));
          const max = Math.max(...row);
          const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
          expect(Math.abs((s.logsumexp[p] as number) - lse)).toBeLessThan(1e-5 * Math.max(1, Math.abs(lse)));
        }
      }),
    );
  });

  it("rejects bad k and NaN logits", () => {
    const logits = new Float32Array(6);
    expect(() => topKLogits(logits, 2, 3, 0)).toThrow("k: expected an integer in [1, vocab = 3], got 0");
    expect(() => topKLogits(logits, 2, 3, 4)).toThrow("k: expected an integer in [1, vocab = 3], got 4");
    expect(() => topKLogits(logits, 2, 4, 1)).toThrow("logits.logits: expected 8 elements, got 6");
    expect(() => topKLogits(Float32Array.from([0, Number.NaN, 0]), 1, 3, 1)).toThrow("logits[0][1]: NaN");
  });
});

describe("teacherProbs", () => {
  it("gives the softmax of full logits, with no dropped mass", () => {
    const logits = Float32Array.from([0, 1, 2, /* */ 5, 5, 5]);
    const t = teacherProbs(fullLogits(logits, 2, 3));
    expect(t.indices).toBeNull();
    expect(t.k).toBe(3);
    const expected = [...softmax([0, 1, 2]), ...softmax([5, 5, 5])];
    t.probs.forEach((p, i) => expect(p).toBeCloseTo(expected[i] as number, 6));
    expect(Array.from(t.dropped)).toEqual([0, 0]);
  });

  it("recovers the exact full-softmax probabilities of kept entries, the dropped mass and the renormalised top-k", () => {
    fc.assert(
      fc.property(logitsArb, ({ positions, vocab, k, data }) => {
        const s = topKLogits(data, positions, vocab, k);
        const t = teacherProbs(s);
        expect(t.indices).toBe(s.indices);
        for (let p = 0; p < positions; p++) {
          const full = softmax(data.subarray(p * vocab, (p + 1) * vocab));
          let keptSum = 0;
          let renormSum = 0;
          for (let j = 0; j < k; j++) {
            const id = s.indices[p * k + j] as number;
            const kept = t.kept[p * k + j] as number;
            expect(Math.abs(kept - (full[id] as number))).toBeLessThan(1e-5);
            keptSum += kept;
            renormSum += t.probs[p * k + j] as number;
          }
          expect(renormSum).toBeCloseTo(1, 5);
          expect(Math.abs((t.dropped[p] as number) - (1 - keptSum))).toBeLessThan(1e-5);
          expect(t.dropped[p]).toBeGreaterThanOrEqual(0);
          // renormalised = kept / Σ kept
          for (let j = 0; j < k; j++) {
            expect(Math.abs((t.probs[p * k + j] as number) - (t.kept[p * k + j] as number) / keptSum)).toBeLessThan(1e-5);
          }
          if (k === vocab) expect(t.dropped[p]).toBeLessThan(1e-5);
        }
      }),
    );
  });

  it("builds dense distributions: renormalised top-k, or kept exact with the dropped mass spread", () => {
    const logits = Float32Array.from([2, 1, 0, -1]);
    const s = topKLogits(logits, 1, 4, 2);
    const full = softmax(logits);
    const renorm = denseTeacherProbs(s);
    const z = (full[0] as number) + (full[1] as number);
    expect(renorm[0]).toBeCloseTo((full[0] as number) / z, 6);
    expect(renorm[1]).toBeCloseTo((full[1] as number) / z, 6);
    expect(Array.from(renorm.subarray(2))).toEqual([0, 0]);
    const spread = denseTeacherProbs(s, "spread");
    expect(spread[0]).toBeCloseTo(full[0] as number, 6);
    expect(spread[1]).toBeCloseTo(full[1] as number, 6);
    const rest = ((full[2] as number) + (full[3] as number)) / 2;
    expect(spread[2]).toBeCloseTo(rest, 6);
    expect(spread[3]).toBeCloseTo(rest, 6);
    expect(Array.from(spread).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(() => denseTeacherProbs(s, "smear" as "spread")).toThrow('rest: expected "renormalize" or "spread", got "smear"');
    const dense = denseTeacherProbs(fullLogits(logits, 1, 4), "spread");
    dense.forEach((p, i) => expect(p).toBeCloseTo(full[i] as number, 6));
  });

  it("sums every dense row to 1 in both modes (property)", () => {
    fc.assert(
      fc.property(logitsArb, fc.constantFrom("renormalize" as const, "spread" as const), ({ positions, vocab, k, data }, mode) => {
        const dense = denseTeacherProbs(topKLogits(data, positions, vocab, k), mode);
        expect(dense).toHaveLength(positions * vocab);
        for (let p = 0; p < positions; p++) {
          const sum = Array.from(dense.subarray(p * vocab, (p + 1) * vocab)).reduce((a, b) => a + b, 0);
          expect(sum).toBeCloseTo(1, 4);
        }
      }),
    );
  });
});

describe("attention signals", () => {
  const init = {
    queryRows: [1, 3],
    heads: [
      [0, 2],
      [5, 1],
    ] as Array<[number, number]>,
    keyLength: 4,
    rows: Float32Array.from({ length: 16 }, (_, i) => i / 16 + 1 / 3),
  };

  it("stores rows as f32, f16 or bf16 and decodes them (exact for f32, nearest for half types)", () => {
    const f32 = attentionSignal(init);
    expect(f32.dtype).toBe("f32");
    expect(attentionRows(f32)).toBe(init.rows);
    expect(f32.queryRows).toEqual(Int32Array.from([1, 3]));
    const f16 = attentionSignal({ ...init, dtype: "f16" });
    expect(f16.rows).toBeInstanceOf(Uint16Array);
    expect(f16.rows.byteLength).toBe(init.rows.byteLength / 2);
    attentionRows(f16).forEach((x, i) => expect(x).toBe(fromFloat16Bits(toFloat16Bits(init.rows[i] as number))));
    const bf16 = attentionSignal({ ...init, dtype: "bf16" });
    attentionRows(bf16).forEach((x, i) => expect(x).toBe(fromBFloat16Bits(toBFloat16Bits(init.rows[i] as number))));
  });

  it("rejects malformed shapes, rows and heads, naming the field", () => {
    expect(() => attentionSignal({ ...init, rows: new Float32Array(15) })).toThrow("attention.rows: expected 16 elements, got 15");
    expect(() => attentionSignal({ ...init, queryRows: [1, 4] })).toThrow("attention.queryRows[1]: expected a position in [0, keyLength = 4), got 4");
    expect(() => attentionSignal({ ...init, heads: [[0, -1]] as Array<[number, number]> })).toThrow(/attention\.heads\[0\]: expected a \[layer, head\] pair/);
    expect(() => attentionSignal({ ...init, dtype: "f8" as "f16" })).toThrow('dtype: expected "f32", "f16" or "bf16", got "f8"');
    const good = attentionSignal({ ...init, dtype: "bf16" });
    expect(() => checkAttentionSignal({ ...good, rows: new Float32Array(16) }, "a")).toThrow("a.rows: expected a Uint16Array, got Float32Array(16)");
    expect(() => checkAttentionSignal({ ...good, keyLength: -1 }, "a")).toThrow("a.keyLength: expected a non-negative integer, got -1");
  });

  it("checks logit signals", () => {
    const s = topKLogits(Float32Array.from([1, 2, 3]), 1, 3, 2);
    expect(() => checkLogitSignal({ ...s, indices: Int32Array.from([2, 2]) }, "l")).toThrow("l.indices[1]: duplicate id 2 at position 0");
    expect(() => checkLogitSignal({ ...s, indices: Int32Array.from([2, 3]) }, "l")).toThrow("l.indices[1]: expected an id in [0, vocab = 3), got 3");
    expect(() => checkLogitSignal({ ...s, logsumexp: new Float32Array(2) }, "l")).toThrow("l.logsumexp: expected 1 elements, got 2");
    expect(() => checkLogitSignal({ ...s, kind: "sparse" }, "l")).toThrow('l.kind: expected "full" or "topk", got "sparse"');
    expect(() => checkLogitSignal({ ...s, vocab: 0 }, "l")).toThrow("l.vocab: expected a positive integer, got 0");
    expect(() => fullLogits(new Float32Array(5), 2, 3)).toThrow("logits.logits: expected 6 elements, got 5");
  });
});
