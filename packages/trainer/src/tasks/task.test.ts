// Tests of split construction: disjoint, de-duplicated, deterministic, sized, and the built-in stream.

import { describe, expect, it } from "vitest";
import type { TaskData } from "../data/types.js";
import { BUILTIN_TASK_NAMES, buildBuiltinStream, DEFAULT_TASK_ORDER, getBuiltinTask } from "./registry.js";
import { buildTaskSplits, DEFAULT_SPLIT_SIZES, generateExamples, type TaskDefinition } from "./task.js";

const prompts = (t: TaskData, split: "train" | "eval" | "test"): string[] => t[split].map((e) => e.prompt);

describe("buildTaskSplits", () => {
  const reverse = getBuiltinTask("reverse");

  it("has the requested sizes (default 1000 / 100 / 200)", () => {
    const t = buildTaskSplits(reverse, { seed: 1 });
    expect([t.train.length, t.eval.length, t.test.length]).toEqual([DEFAULT_SPLIT_SIZES.train, DEFAULT_SPLIT_SIZES.eval, DEFAULT_SPLIT_SIZES.test]);
    expect(t).toMatchObject({ name: "reverse", metric: "exact_match", source: "builtin" });
    const small = buildTaskSplits(reverse, { seed: 1, sizes: { train: 10, eval: 0 } });
    expect([small.train.length, small.eval.length, small.test.length]).toEqual([10, 0, 200]);
  });

  it("splits are pairwise disjoint and free of duplicates", () => {
    for (const name of BUILTIN_TASK_NAMES) {
      const t = buildTaskSplits(getBuiltinTask(name), { seed: 9, sizes: { train: 600, eval: 100, test: 100 } });
      const all = [...prompts(t, "train"), ...prompts(t, "eval"), ...prompts(t, "test")];
      expect(new Set(all).size, name).toBe(all.length);
    }
  });

  it("is deterministic under the seed; test and eval do not depend on the train size", () => {
    const a = buildTaskSplits(reverse, { seed: 5, sizes: { train: 50 } });
    const b = buildTaskSplits(reverse, { seed: 5, sizes: { train: 50 } });
    expect(b).toEqual(a);
    const bigger = buildTaskSplits(reverse, { seed: 5, sizes: { train: 300 } });
    expect(bigger.test).toEqual(a.test);
    expect(bigger.eval).toEqual(a.eval);
    expect(bigger.train.slice(0, 50)).toEqual(a.train);
    const other = buildTaskSplits(reverse, { seed: 6, sizes: { train: 50 } });
    expect(prompts(other, "test")).not.toEqual(prompts(a, "test"));
  });

  it("uses a different seed per split (splits are not prefixes of one stream)", () => {
    const t = buildTaskSplits(reverse, { seed: 5, sizes: { train: 20, eval: 20, test: 20 } });
    const one = generateExamples(reverse, 5, 60).map((e) => e.prompt);
    expect(prompts(t, "test")).not.toEqual(one.slice(0, 20));
  });

  it("fails clearly when the example space is too small", () => {
    const coin: TaskDefinition = {
      name: "coin",
      description: "",
      instruction: "coin: ",
      metric: "exact_match",
      maxPromptBytes: 8,
      maxAnswerBytes: 1,
      sample: (rng) => {
        const x = rng.int(2) === 0 ? "h" : "t";
        return { prompt: `coin: ${x}=`, answer: x };
      },
    };
    expect(() => buildTaskSplits(coin, { seed: 1, sizes: { train: 1, eval: 0, test: 2 } })).toThrow(
      /task "coin": could only draw 0 distinct examples for split train \(asked 1\); its example space is too small/,
    );
    expect(() => buildTaskSplits(coin, { seed: 1, sizes: { train: -1 } })).toThrow(/sizes.train: expected a non-negative integer, got -1/);
  });
});

describe("buildBuiltinStream", () => {
  it("defaults to the default order", () => {
    const stream = buildBuiltinStream({ seed: 1, sizes: { train: 5, eval: 5, test: 5 } });
    expect(stream.map((t) => t.name)).toEqual([...DEFAULT_TASK_ORDER]);
    expect(DEFAULT_TASK_ORDER.length).toBeGreaterThanOrEqual(4);
  });

  it("follows a given order and rejects unknown or repeated names", () => {
    const stream = buildBuiltinStream({ seed: 1, tasks: ["add", "kv"], sizes: { train: 5, eval: 5, test: 5 } });
    expect(stream.map((t) => t.name)).toEqual(["add", "kv"]);
    expect(() => buildBuiltinStream({ seed: 1, tasks: ["reverse", "nope"] })).toThrow(
      /unknown built-in task "nope" \(available: reverse, sort, upper, cipher, decode, shift, kv, add, count\)/,
    );
    expect(() => buildBuiltinStream({ seed: 1, tasks: ["kv", "kv"] })).toThrow(/task "kv" appears twice/);
    expect(() => buildBuiltinStream({ seed: 1, tasks: [] })).toThrow(/at least one task/);
  });

  it("tasks of one stream draw from unrelated seeds", () => {
    const [a, b] = buildBuiltinStream({ seed: 1, tasks: ["reverse", "sort"], sizes: { train: 20, eval: 0, test: 0 } });
    const inputs = (t: TaskData | undefined): string[] => (t as TaskData).train.map((e) => e.prompt.split(": ")[1] as string);
    expect(inputs(a)).not.toEqual(inputs(b));
  });
});
