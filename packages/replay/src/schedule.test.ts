// Tests for interleave and ReplayScheduler: counts, prefix proportions, determinism, full epoch coverage.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplayMemory } from "./memory.js";
import { type BatchSlot, interleave, type PlannedBatch, ReplayScheduler, replayBatchesBefore } from "./schedule.js";

const pattern = (plan: BatchSlot[]): string => plan.map((s) => (s.source === "new" ? "N" : "R")).join("");

function expectExactlyOnce(indices: number[], n: number, what: string): void {
  const sorted = [...indices].sort((a, b) => a - b);
  expect(sorted, what).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe("interleave", () => {
  it("spreads replay batches evenly: the worked examples", () => {
    expect(pattern(interleave(8, 3))).toBe("NRNNNRNNNRN");
    expect(pattern(interleave(3, 1))).toBe("NRNN");
    expect(pattern(interleave(6, 2))).toBe("NRNNNRNN");
    expect(pattern(interleave(2, 2))).toBe("RNRN");
    expect(pattern(interleave(1, 3))).toBe("RRNR");
    expect(pattern(interleave(4, 0))).toBe("NNNN");
    expect(pattern(interleave(0, 2))).toBe("RR");
    expect(interleave(0, 0)).toEqual([]);
    expect(interleave(3, 1)).toEqual([
      { source: "new", index: 0 },
      { source: "replay", index: 0 },
      { source: "new", index: 1 },
      { source: "new", index: 2 },
    ]);
  });

  it("uses every batch of each source exactly once (in order without a seed)", () => {
    fc.assert(
      fc.property(fc.nat(300), fc.nat(300), fc.option(fc.integer(), { nil: undefined }), (n, r, seed) => {
        const plan = interleave(n, r, seed === undefined ? {} : { seed });
        expect(plan).toHaveLength(n + r);
        const news = plan.filter((s) => s.source === "new").map((s) => s.index);
        const replays = plan.filter((s) => s.source === "replay").map((s) => s.index);
        expectExactlyOnce(news, n, "new");
        expectExactlyOnce(replays, r, "replay");
        if (seed === undefined) {
          expect(news).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(replays).toEqual(Array.from({ length: r }, (_, i) => i));
        }
      }),
    );
  });

  it("keeps every prefix within half a batch of the replay proportion (and new within half a batch too)", () => {
    fc.assert(
      fc.property(fc.nat(500), fc.nat(500), (n, r) => {
        const plan = interleave(n, r);
        const total = n + r;
        let replay = 0;
        let worst = 0;
        for (let m = 1; m <= total; m++) {
          if (plan[m - 1]?.source === "replay") replay++;
          worst = Math.max(worst, Math.abs(replay - (m * r) / total), Math.abs(m - replay - (m * n) / total));
          if (replay !== replayBatchesBefore(m, n, r)) expect.fail(`prefix ${m}: ${replay} replay batches`);
        }
        expect(worst).toBeLessThanOrEqual(0.5); // the spec asks for within 1 batch
      }),
      { numRuns: 300 },
    );
  });

  it("never puts two replay batches side by side while new batches are at least as many (and vice versa)", () => {
    fc.assert(
      fc.property(fc.nat(200), fc.nat(200), (a, b) => {
        const [n, r] = a >= b ? [a, b] : [b, a];
        expect(pattern(interleave(n, r))).not.toContain("RR");
        expect(pattern(interleave(r, n))).not.toContain("NN");
      }),
    );
  });

  it("is deterministic, and a seed shuffles the batch order within each source but keeps the pattern", () => {
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 200 }), fc.integer({ min: 30, max: 200 }), fc.integer(), fc.integer(), (n, r, s1, s2) => {
        const a = interleave(n, r, { seed: s1 });
        expect(interleave(n, r, { seed: s1 })).toEqual(a);
        expect(pattern(a)).toBe(pattern(interleave(n, r)));
        if (s1 !== s2) expect(interleave(n, r, { seed: s2 })).not.toEqual(a); // 30! orders: never equal in practice
      }),
      { numRuns: 100 },
    );
  });

  it("rejects bad counts and seeds, naming the field and the value", () => {
    expect(() => interleave(-1, 2)).toThrow("newBatches: expected a non-negative integer, got -1");
    expect(() => interleave(1, 2.5)).toThrow("replayBatches: expected a non-negative integer, got 2.5");
    expect(() => interleave(1, 2, { seed: 0.5 })).toThrow("seed: expected a safe integer, got 0.5");
  });
});

const samplesOf = (batches: readonly PlannedBatch[], source: "new" | "replay"): number[] =>
  batches.flatMap((b) => b.samples.filter((s) => s.source === source).map((s) => s.index));

const schedulerArb = fc.record({
  newSamples: fc.nat(400),
  replay: fc.nat(120),
  batchSize: fc.integer({ min: 1, max: 40 }),
  replayBatchSize: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
  mode: fc.constantFrom("interleave" as const, "concatenate" as const),
  seed: fc.integer(),
  shuffle: fc.boolean(),
});

describe("ReplayScheduler", () => {
  it("holds every new and every replay sample exactly once per epoch, in batches of at most the batch size", () => {
    fc.assert(
      fc.property(schedulerArb, fc.nat(20), (options, epoch) => {
        const scheduler = new ReplayScheduler(options);
        const plan = scheduler.plan(epoch);
        expect(plan.epoch).toBe(epoch);
        expect(plan.batches).toHaveLength(scheduler.batchesPerEpoch);
        expectExactlyOnce(samplesOf(plan.batches, "new"), options.newSamples, "new");
        expectExactlyOnce(samplesOf(plan.batches, "replay"), options.replay, "replay");
        for (const batch of plan.batches) {
          expect(batch.samples.length).toBeGreaterThan(0);
          if (options.mode === "concatenate") {
            expect(batch.source).toBe("mixed");
            expect(batch.samples.length).toBeLessThanOrEqual(options.batchSize);
          } else {
            expect(batch.samples.every((s) => s.source === batch.source)).toBe(true);
            const size = batch.source === "new" ? options.batchSize : (options.replayBatchSize ?? options.batchSize);
            expect(batch.samples.length).toBeLessThanOrEqual(size);
          }
        }
        // only the last batch of each source (or of the whole epoch, in concatenate mode) may be partial
        const partial = plan.batches.filter((b) => {
          const size = b.source === "replay" ? (options.replayBatchSize ?? options.batchSize) : options.batchSize;
          return b.samples.length < size;
        });
        expect(partial.length).toBeLessThanOrEqual(options.mode === "concatenate" ? 1 : 2);
      }),
      { numRuns: 300 },
    );
  });

  it("interleaves replay batches in proportion, like interleave()", () => {
    fc.assert(
      fc.property(schedulerArb, (options) => {
        const plan = new ReplayScheduler({ ...options, mode: "interleave" }).plan(0);
        const n = plan.batches.filter((b) => b.source === "new").length;
        const r = plan.batches.filter((b) => b.source === "replay").length;
        expect(n).toBe(Math.ceil(options.newSamples / options.batchSize));
        expect(r).toBe(Math.ceil(options.replay / (options.replayBatchSize ?? options.batchSize)));
        expect(plan.batches.map((b) => (b.source === "new" ? "N" : "R")).join("")).toBe(pattern(interleave(n, r)));
        let replay = 0;
        plan.batches.forEach((b, i) => {
          if (b.source === "replay") replay++;
          expect(Math.abs(replay - ((i + 1) * r) / (n + r))).toBeLessThanOrEqual(1);
        });
      }),
    );
  });

  it("every-batch: each new batch is followed by a replay batch of distinct samples, walking through memory shuffles", () => {
    fc.assert(
      fc.property(schedulerArb, fc.nat(20), (options, epoch) => {
        const scheduler = new ReplayScheduler({ ...options, mode: "every-batch" });
        const plan = scheduler.plan(epoch);
        expect(plan.batches).toHaveLength(scheduler.batchesPerEpoch);
        expectExactlyOnce(samplesOf(plan.batches, "new"), options.newSamples, "new");
        const nNew = Math.ceil(options.newSamples / options.batchSize);
        const size = Math.min(options.replayBatchSize ?? options.batchSize, options.replay);
        if (options.replay === 0) {
          expect(plan.batches.every((b) => b.source === "new")).toBe(true);
          return;
        }
        expect(plan.batches.map((b) => b.source).join(",")).toBe(Array.from({ length: nNew }, () => "new,replay").join(","));
        const replayBatches = plan.batches.filter((b) => b.source === "replay");
        for (const b of replayBatches) {
          const ids = b.samples.map((x) => x.index);
          expect(ids).toHaveLength(size);
          expect(new Set(ids).size).toBe(size);
          for (const i of ids) expect(i >= 0 && i < options.replay).toBe(true);
        }
        // The first pass through the memory repeats nothing; with enough replay slots every sample is rehearsed.
        const flat = replayBatches.flatMap((b) => b.samples.map((x) => x.index));
        const firstPass = flat.slice(0, Math.min(flat.length, options.replay - (options.replay % size)));
        expect(new Set(firstPass).size).toBe(firstPass.length);
        if (flat.length >= options.replay + size) expect(new Set(flat).size).toBe(options.replay);
        expect(new ReplayScheduler({ ...options, mode: "every-batch" }).plan(epoch)).toEqual(plan);
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic per (seed, epoch) and reshuffles between epochs", () => {
    const options = { newSamples: 200, replay: 40, batchSize: 8, seed: 11 };
    const a = new ReplayScheduler(options);
    const b = new ReplayScheduler(options);
    for (const mode of ["interleave", "concatenate", "every-batch"] as const) {
      const s = new ReplayScheduler({ ...options, mode });
      expect(s.plan(3)).toEqual(new ReplayScheduler({ ...options, mode }).plan(3));
      expect(s.plan(3)).not.toEqual(s.plan(4));
      expect(s.plan(3)).not.toEqual(new ReplayScheduler({ ...options, mode, seed: 12 }).plan(3));
    }
    expect([...a.epochs(3)]).toEqual([b.plan(0), b.plan(1), b.plan(2)]);
  });

  it("keeps the data order with shuffle: false", () => {
    const plan = new ReplayScheduler({ newSamples: 5, replay: 2, batchSize: 2, seed: 0, shuffle: false }).plan(7);
    expect(plan.batches.map((b) => [b.source, b.samples.map((s) => s.index)])).toEqual([
      ["new", [0, 1]],
      ["replay", [0, 1]],
      ["new", [2, 3]],
      ["new", [4]],
    ]);
    const concat = new ReplayScheduler({ newSamples: 3, replay: 2, batchSize: 2, seed: 0, shuffle: false, mode: "concatenate" }).plan(0);
    expect(concat.batches.map((b) => b.samples.map((s) => `${s.source[0]}${s.index}`))).toEqual([["n0", "n1"], ["n2", "r0"], ["r1"]]);
    const every = new ReplayScheduler({ newSamples: 5, replay: 3, batchSize: 2, seed: 0, shuffle: false, mode: "every-batch" }).plan(0);
    expect(every.batches.map((b) => b.samples.map((s) => `${s.source[0]}${s.index}`))).toEqual([
      ["n0", "n1"],
      ["r0", "r1"],
      ["n2", "n3"],
      ["r2", "r0"],
      ["n4"],
      ["r1", "r2"],
    ]);
  });

  it("draws replay across all past tasks' samples of a memory, resolvable with memory.entry", () => {
    const memory = new ReplayMemory<number>();
    memory.addTask({ id: "t1", samples: Array.from({ length: 30 }, (_, i) => ({ record: i })) });
    memory.addTask({ id: "t2", samples: Array.from({ length: 30 }, (_, i) => ({ record: 100 + i })) });
    const scheduler = new ReplayScheduler({ newSamples: 100, replay: memory, batchSize: 10, seed: 5 });
    expect(scheduler.replaySamples).toBe(60);
    const replayBatches = scheduler.plan(0).batches.filter((b) => b.source === "replay");
    const records = replayBatches.flatMap((b) => b.samples.map((s) => memory.entry(s.index).sample.record));
    expect([...records].sort((x, y) => x - y)).toEqual([...Array.from({ length: 30 }, (_, i) => i), ...Array.from({ length: 30 }, (_, i) => 100 + i)]);
    const mixed = replayBatches.filter((b) => new Set(b.samples.map((s) => memory.entry(s.index).task.id)).size === 2);
    expect(mixed.length).toBeGreaterThan(0);
  });

  it("handles a first task with no replay and rejects bad options", () => {
    const plan = new ReplayScheduler({ newSamples: 5, replay: 0, batchSize: 2, seed: 1 }).plan(0);
    expect(plan.batches.map((b) => b.source)).toEqual(["new", "new", "new"]);
    const base = { newSamples: 5, replay: 1, batchSize: 2, seed: 1 };
    expect(() => new ReplayScheduler({ ...base, batchSize: 0 })).toThrow("batchSize: expected a positive integer, got 0");
    expect(() => new ReplayScheduler({ ...base, replayBatchSize: -2 })).toThrow("replayBatchSize: expected a positive integer, got -2");
    expect(() => new ReplayScheduler({ ...base, newSamples: 1.5 })).toThrow("newSamples: expected a non-negative integer, got 1.5");
    expect(() => new ReplayScheduler({ ...base, replay: -1 })).toThrow("replay: expected a non-negative integer, got -1");
    expect(() => new ReplayScheduler({ ...base, replay: {} as { sampleCount: number } })).toThrow("replay.sampleCount: expected a non-negative integer, got undefined");
    expect(() => new ReplayScheduler({ ...base, mode: "mix" as "interleave" })).toThrow('mode: expected one of "interleave", "concatenate", "every-batch", got "mix"');
    expect(() => new ReplayScheduler({ ...base, seed: Number.NaN })).toThrow("seed: expected a safe integer, got NaN");
    expect(() => new ReplayScheduler(base).plan(-1)).toThrow("epoch: expected a non-negative integer, got -1");
  });
});
