// Test helpers (not exported from the package): random memories for property tests, deep comparison.

import fc from "fast-check";
import { expect } from "vitest";
import { checkJson, type JsonValue } from "./json.js";
import { ReplayMemory, type ReplaySample, type TaskMemoryInit } from "./memory.js";
import type { AttentionSignal, LogitSignal } from "./signals.js";

function hasProtoKeys(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return Object.keys(value).some((k) => k === "__proto__" || k === "toJSON" || hasProtoKeys((value as Record<string, unknown>)[k]));
}

/** JSON values that round-trip exactly (fast-check's jsonValue can produce -0). */
export const recordArb: fc.Arbitrary<JsonValue> = fc
  .jsonValue({ maxDepth: 3 })
  .map((v) => JSON.parse(JSON.stringify(v)) as JsonValue)
  .filter((v) => {
    try {
      checkJson(v, "v");
      return !hasProtoKeys(v);
    } catch {
      return false;
    }
  });

/** Float32 arrays with arbitrary bit patterns (NaN payloads included) of a given length. */
const f32Bits = (length: number): fc.Arbitrary<Float32Array> =>
  fc.uint32Array({ minLength: length, maxLength: length }).map((u) => new Float32Array(u.buffer));

const logitsArb: fc.Arbitrary<LogitSignal> = fc
  .record({ positions: fc.nat(4), vocab: fc.integer({ min: 1, max: 12 }), full: fc.boolean() })
  .chain(({ positions, vocab, full }): fc.Arbitrary<LogitSignal> => {
    if (full) return f32Bits(positions * vocab).map((logits) => ({ kind: "full", positions, vocab, logits }));
    return fc.integer({ min: 1, max: vocab }).chain((k) =>
      fc
        .tuple(
          fc.array(fc.shuffledSubarray(Array.from({ length: vocab }, (_, i) => i), { minLength: k, maxLength: k }), {
            minLength: positions,
            maxLength: positions,
          }),
          f32Bits(positions * k),
          f32Bits(positions),
        )
        .map(([ids, values, logsumexp]) => ({ kind: "topk", positions, vocab, k, indices: Int32Array.from(ids.flat()), values, logsumexp })),
    );
  });

const attentionArb: fc.Arbitrary<AttentionSignal> = fc
  .record({
    keyLength: fc.integer({ min: 1, max: 9 }),
    rowCount: fc.nat(4),
    heads: fc.array(fc.tuple(fc.nat(40), fc.nat(40)), { maxLength: 3 }),
    dtype: fc.constantFrom("f32" as const, "f16" as const, "bf16" as const),
  })
  .chain(({ keyLength, rowCount, heads, dtype }) => {
    const n = heads.length * rowCount * keyLength;
    const queryRows = fc.array(fc.nat(keyLength - 1), { minLength: rowCount, maxLength: rowCount }).map((r) => Int32Array.from(r));
    return dtype === "f32"
      ? fc.record({ queryRows, rows: f32Bits(n) }).map((x): AttentionSignal => ({ ...x, heads, keyLength, dtype }))
      : fc
          .record({ queryRows, rows: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n }).map((a) => Uint16Array.from(a)) })
          .map((x): AttentionSignal => ({ ...x, heads, keyLength, dtype }));
  });

const sampleArb: fc.Arbitrary<ReplaySample<JsonValue>> = fc
  .record(
    { record: recordArb, index: fc.nat(10_000), logits: logitsArb, attention: attentionArb },
    { requiredKeys: ["record"] },
  )
  .map((s) => s as ReplaySample<JsonValue>);

/** Random memories: 0-4 tasks of 0-4 samples, random shapes, dtypes, top-k/full logits, optional signals. */
export const memoryArb: fc.Arbitrary<ReplayMemory<JsonValue>> = fc
  .record({
    meta: fc.option(recordArb, { nil: undefined }),
    tasks: fc.uniqueArray(
      fc.record(
        { id: fc.string({ minLength: 1, maxLength: 8 }), name: fc.string({ maxLength: 8 }), meta: recordArb, samples: fc.array(sampleArb, { maxLength: 4 }) },
        { requiredKeys: ["id", "samples"] },
      ),
      { maxLength: 4, selector: (t) => t.id },
    ),
  })
  .map(({ meta, tasks }) => {
    const memory = new ReplayMemory<JsonValue>(meta === undefined ? {} : { meta });
    for (const task of tasks) memory.addTask(task as TaskMemoryInit<JsonValue>);
    return memory;
  });

function bytes(a: ArrayBufferView): number[] {
  return Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/** Expects a typed array of the same type, length and bit pattern. */
export function expectSameArray(actual: unknown, expected: ArrayBufferView, what: string): void {
  expect(actual, what).toBeInstanceOf(expected.constructor);
  expect(bytes(actual as ArrayBufferView), what).toEqual(bytes(expected));
}

/** Expects two memories to hold the same tasks, records (deep-equal) and bit-identical signals. */
export function expectSameMemory(actual: ReplayMemory<unknown>, expected: ReplayMemory<unknown>): void {
  expect(actual.meta).toEqual(expected.meta);
  expect(actual.tasks()).toEqual(expected.tasks());
  for (const info of expected.tasks()) {
    const a = actual.task(info.position);
    const e = expected.task(info.position);
    if (a === undefined || e === undefined) throw new Error("missing task");
    expect(a.meta).toEqual(e.meta);
    e.samples.forEach((es, i) => {
      const as = a.samples[i] as ReplaySample;
      const where = `${info.id}[${i}]`;
      expect(as.record, where).toEqual(es.record);
      expect(as.index, where).toBe(es.index);
      expect(as.logits === undefined, where).toBe(es.logits === undefined);
      if (es.logits !== undefined && as.logits !== undefined) {
        expect(as.logits.kind).toBe(es.logits.kind);
        expect([as.logits.positions, as.logits.vocab]).toEqual([es.logits.positions, es.logits.vocab]);
        if (es.logits.kind === "full" && as.logits.kind === "full") expectSameArray(as.logits.logits, es.logits.logits, where);
        if (es.logits.kind === "topk" && as.logits.kind === "topk") {
          expect(as.logits.k).toBe(es.logits.k);
          expectSameArray(as.logits.indices, es.logits.indices, where);
          expectSameArray(as.logits.values, es.logits.values, where);
          expectSameArray(as.logits.logsumexp, es.logits.logsumexp, where);
        }
      }
      expect(as.attention === undefined, where).toBe(es.attention === undefined);
      if (es.attention !== undefined && as.attention !== undefined) {
        expect([as.attention.dtype, as.attention.keyLength, as.attention.heads]).toEqual([es.attention.dtype, es.attention.keyLength, es.attention.heads]);
        expectSameArray(as.attention.queryRows, es.attention.queryRows, where);
        expectSameArray(as.attention.rows, es.attention.rows, where);
      }
    });
  }
}

/** A small fixed memory with every kind of signal. */
export function smallMemory(): ReplayMemory<{ prompt: string; answer: string }> {
  const memory = new ReplayMemory<{ prompt: string; answer: string }>({ meta: { model: "tiny", queryBudget: 2 } });
  const logits = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.cos(i));
  memory.addTask({
    id: "C-STANCE",
    samples: [
      {
        record: { prompt: "Is this for or against?", answer: "A" },
        index: 4,
        logits: { kind: "full", positions: 3, vocab: 16, logits },
        attention: {
          queryRows: Int32Array.from([1, 4]),
          heads: [[0, 1], [2, 3]],
          keyLength: 5,
          dtype: "f32",
          rows: Float32Array.from({ length: 20 }, (_, i) => i / 20),
        },
      },
    ],
    meta: { ratio: 0.01, seed: 1 },
  });
  memory.addTask({
    id: "FOMC",
    samples: [
      { record: { prompt: "Hawkish or dovish?", answer: "B" }, index: 9, attention: { queryRows: Int32Array.from([0]), heads: [[1, 1]], keyLength: 2, dtype: "bf16", rows: Uint16Array.from([0x3f00, 0x3f00]) } },
      { record: { prompt: "Hawkish or dovish? 2", answer: "C" } },
    ],
  });
  return memory;
}
