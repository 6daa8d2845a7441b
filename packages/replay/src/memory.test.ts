// Tests for ReplayMemory: adding tasks, listing, flat indexing, iteration, validation and size reporting.

import { describe, expect, it } from "vitest";
import { checkJson } from "./json.js";
import { ReplayMemory, type ReplaySample } from "./memory.js";
import { attentionSignal, fullLogits, topKLogits } from "./signals.js";

type Rec = { prompt: string; answer: string };
const rec = (i: number): Rec => ({ prompt: `q${i}`, answer: `a${i}` });

function sampleWithSignals(i: number): ReplaySample<Rec> {
  return {
    record: rec(i),
    index: i * 10,
    logits: topKLogits(Float32Array.from({ length: 2 * 8 }, (_, j) => Math.sin(i + j)), 2, 8, 3),
    attention: attentionSignal({ queryRows: [0, 2], heads: [[1, 0]], keyLength: 3, rows: new Float32Array(6).fill(1 / 3), dtype: "bf16" }),
  };
}

describe("ReplayMemory", () => {
  it("adds tasks in order and lists, counts and finds them", () => {
    const memory = new ReplayMemory<Rec>({ meta: { model: "tiny" } });
    expect(memory.taskCount).toBe(0);
    expect(memory.sampleCount).toBe(0);
    const t1 = memory.addTask({ id: "C-STANCE", samples: [0, 1, 2].map(sampleWithSignals), meta: { seed: 1 } });
    memory.addTask({ id: "FOMC", name: "FOMC (hawkish/dovish)", samples: [] });
    memory.addTask({ id: "Py150", samples: [{ record: rec(7) }, { record: rec(8) }] });
    expect(t1.position).toBe(0);
    expect(memory.taskCount).toBe(3);
    expect(memory.sampleCount).toBe(5);
    expect(memory.tasks()).toEqual([
      { id: "C-STANCE", name: "C-STANCE", position: 0, offset: 0, samples: 3 },
      { id: "FOMC", name: "FOMC (hawkish/dovish)", position: 1, offset: 3, samples: 0 },
      { id: "Py150", name: "Py150", position: 2, offset: 3, samples: 2 },
    ]);
    expect(memory.task("FOMC")?.position).toBe(1);
    expect(memory.task(2)?.id).toBe("Py150");
    expect(memory.task("nope")).toBeUndefined();
    expect(memory.task(0)?.meta).toEqual({ seed: 1 });
    expect(memory.meta).toEqual({ model: "tiny" });
  });

  it("iterates every sample once with its task and maps flat indices both ways", () => {
    const memory = new ReplayMemory<Rec>();
    memory.addTask({ id: "empty-first", samples: [] });
    memory.addTask({ id: "a", samples: [{ record: rec(0) }, { record: rec(1) }] });
    memory.addTask({ id: "empty-mid", samples: [] });
    memory.addTask({ id: "b", samples: [{ record: rec(2) }] });
    memory.addTask({ id: "empty-last", samples: [] });
    const entries = [...memory];
    expect(entries.map((e) => [e.index, e.task.id, e.sampleIndex, e.sample.record.prompt])).toEqual([
      [0, "a", 0, "q0"],
      [1, "a", 1, "q1"],
      [2, "b", 0, "q2"],
    ]);
    for (const e of entries) {
      const again = memory.entry(e.index);
      expect([again.task.id, again.sampleIndex]).toEqual([e.task.id, e.sampleIndex]);
      expect(again.sample).toBe(e.sample);
    }
    expect(() => memory.entry(3)).toThrow("index: expected an integer in [0, sampleCount = 3), got 3");
    expect(() => memory.entry(-1)).toThrow(/got -1/);
  });

  it("copies the sample list but keeps records and arrays by reference", () => {
    const samples = [sampleWithSignals(0)];
    const memory = new ReplayMemory<Rec>();
    const task = memory.addTask({ id: "t", samples });
    samples.push(sampleWithSignals(1));
    expect(task.samples).toHaveLength(1);
    expect(task.samples[0]?.logits).toBe(samples[0]?.logits);
  });

  it("rejects duplicate ids, bad records and malformed signals, naming the field", () => {
    const memory = new ReplayMemory<unknown>();
    memory.addTask({ id: "t", samples: [] });
    expect(() => memory.addTask({ id: "t", samples: [] })).toThrow('id: task "t" is already in memory');
    expect(() => memory.addTask({ id: "", samples: [] })).toThrow('id: expected a non-empty string, got ""');
    expect(() => memory.addTask({ id: "u", samples: "x" as unknown as [] })).toThrow('samples: expected an array, got "x"');
    expect(() => memory.addTask({ id: "u", samples: [{ record: { a: undefined } }] })).toThrow("samples[0].record.a: undefined is not JSON");
    expect(() => memory.addTask({ id: "u", samples: [{ record: 1 }, { record: Number.NaN }] })).toThrow(/samples\[1\]\.record: NaN does not survive JSON/);
    expect(() => memory.addTask({ id: "u", samples: [{ record: new Date(0) }] })).toThrow("samples[0].record: expected plain JSON, got a Date");
    expect(() => memory.addTask({ id: "u", samples: [{} as ReplaySample] })).toThrow("samples[0].record: missing");
    expect(() => memory.addTask({ id: "u", samples: [{ record: 1, index: -2 }] })).toThrow("samples[0].index: expected a non-negative integer, got -2");
    const bad = { ...fullLogits(new Float32Array(6), 2, 3), positions: 3 };
    expect(() => memory.addTask({ id: "u", samples: [{ record: 1, logits: bad }] })).toThrow("samples[0].logits.logits: expected 9 elements, got 6");
    expect(() => memory.addTask({ id: "u", samples: [], meta: { f: () => 1 } as never })).toThrow("meta.f: function is not JSON");
    expect(memory.taskCount).toBe(1); // failed adds change nothing
  });

  it("reports typed-array bytes exactly, a JSON estimate for records, and the exact file size", () => {
    const memory = new ReplayMemory<Rec>();
    memory.addTask({ id: "t", samples: [0, 1].map(sampleWithSignals) });
    const size = memory.sizeInMemory();
    // per sample: top-k 2×3 indices (24 B) + 2×3 values (24 B) + 2 lse (8 B); query rows 2×4 B; bf16 rows 6×2 B
    expect(size.typedArrayBytes).toBe(2 * (24 + 24 + 8 + 8 + 12));
    const jsonBytes = JSON.stringify("t").length * 2 + 2 * JSON.stringify(rec(0)).length;
    expect(size.jsonBytes).toBe(jsonBytes);
    expect(size.totalBytes).toBe(size.typedArrayBytes + size.jsonBytes);
    expect(memory.sizeOnDisk()).toBeGreaterThan(size.typedArrayBytes);
    expect(memory.sizeOnDisk() % 8).toBe(0);
  });
});

describe("checkJson", () => {
  it("accepts plain JSON and rejects what does not round-trip", () => {
    expect(() => checkJson({ a: [1, "x", null, true, { b: [] }], c: -1.5 }, "v")).not.toThrow();
    expect(() => checkJson(Object.create(null), "v")).not.toThrow();
    expect(() => checkJson(-0, "v")).toThrow("v: -0 does not survive JSON");
    expect(() => checkJson([1, Infinity], "v")).toThrow("v[1]: Infinity does not survive JSON");
    expect(() => checkJson(new Float32Array(2), "v")).toThrow("v: expected plain JSON, got a Float32Array");
    expect(() => checkJson(10n, "v")).toThrow("v: bigint is not JSON");
    expect(() => checkJson({ toJSON: () => 1 }, "v")).toThrow("v.toJSON: objects with toJSON do not round-trip");
    expect(() => checkJson([1, , 3], "v")).toThrow("v[1]: holes in arrays are not JSON");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => checkJson(cyclic, "v")).toThrow("v.self: cyclic reference");
    const shared = { x: 1 };
    expect(() => checkJson([shared, shared], "v")).not.toThrow(); // shared, not cyclic
  });
});
