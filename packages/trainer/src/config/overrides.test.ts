// Tests of dotted-path overrides: path syntax, schema-directed coercion, defaults materialised, errors.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, formatPath, parsePath, suggestName } from "./errors.js";
import { applyOverrides, coerceValue, fieldSchema, parseOverride, setConfigValue } from "./overrides.js";
import { resolveConfig } from "./resolve.js";

describe("paths", () => {
  it("parses dotted and bracketed forms", () => {
    expect(parsePath("training.lr")).toEqual(["training", "lr"]);
    expect(parsePath("methods[1].replayRatio")).toEqual(["methods", 1, "replayRatio"]);
    expect(parsePath("methods.1.replayRatio")).toEqual(["methods", "1", "replayRatio"]);
    expect(parsePath("training.betas[0]")).toEqual(["training", "betas", 0]);
    expect(formatPath(["methods", 1, "replayRatio"])).toBe("methods[1].replayRatio");
  });

  it("rejects malformed paths", () => {
    for (const bad of ["", "a..b", ".a", "a.", "a[x]", "a[1]b", "[", "a]"]) expect(() => parsePath(bad), bad).toThrow(ConfigError);
  });

  it("suggests near names only", () => {
    expect(suggestName("lrr", ["lr", "epochs"])).toBe("lr");
    expect(suggestName("BatchSize", ["batchSize"])).toBe("batchSize");
    expect(suggestName("completely", ["lr", "epochs"])).toBeUndefined();
  });
});

describe("coercion follows the schema", () => {
  const at = (path: string, text: string): unknown => coerceValue(fieldSchema(path), text);

  it("numbers, including scientific notation", () => {
    expect(at("training.lr", "1e-4")).toBe(1e-4);
    expect(at("seed", "-7")).toBe(-7);
    expect(at("methods.0.replayRatio", ".1")).toBe(0.1);
    expect(at("training.lr", "fast")).toBe("fast"); // left for validation to report
  });

  it("strings and enums stay strings, even when they look numeric", () => {
    expect(at("output", "123")).toBe("123");
    expect(at("device", "cuda:1")).toBe("cuda:1");
    expect(at("methods[0].name", "seekr")).toBe("seekr");
  });

  it("lists and tuples: comma-separated or JSON", () => {
    expect(at("data.tasks", "reverse, kv")).toEqual(["reverse", "kv"]);
    expect(at("data.tasks", '["a","b"]')).toEqual(["a", "b"]);
    expect(at("training.betas", "0.9,0.99")).toEqual([0.9, 0.99]);
    expect(at("training.betas", "[0.8, 0.9]")).toEqual([0.8, 0.9]);
  });

  it("unions: counts, percentages, JSON objects", () => {
    expect(at("methods[0].budget.heads", "12")).toBe(12);
    expect(at("methods[0].budget.heads", "12.5%")).toEqual({ fraction: 0.125 });
    expect(at("methods[0].budget.layers", '{"fraction": 0.5}')).toEqual({ fraction: 0.5 });
    expect(at("data.samplesPerTask", "500")).toBe(500);
    expect(at("data.samplesPerTask", '{"train": 10}')).toEqual({ train: 10 });
  });

  it("unknown fields keep the string", () => {
    expect(fieldSchema("training.nope")).toBeUndefined();
    expect(at("training.nope", "1")).toBe("1");
  });
});

describe("setConfigValue", () => {
  it("returns a copy with the coerced value, creating parents", () => {
    const raw = { training: { epochs: 2 } };
    const out = setConfigValue(raw, "training.lr", "1e-4");
    expect(out).toEqual({ training: { epochs: 2, lr: 1e-4 } });
    expect(raw).toEqual({ training: { epochs: 2 } });
    expect(setConfigValue({}, "model.pretrain.steps", "100")).toEqual({ model: { pretrain: { steps: 100 } } });
  });

  it("editing an element of the default method list materialises the defaults", () => {
    const c = resolveConfig(setConfigValue({}, "methods[1].replayRatio", "0.1"));
    expect(c.methods.map((m) => m.label)).toEqual(["seqft", "replay-10%", "seekr-1%"]);
    expect(c.methods[1]?.lambda2).toBe(100);
  });

  it("appends with the next index and rejects gaps", () => {
    const c = resolveConfig(applyOverrides({ methods: [{ name: "seqft" }] }, ["--methods[1].name=lwf", "--methods[1].lwf.temperature=4"]));
    expect(c.methods.map((m) => [m.label, m.lwf.temperature])).toEqual([
      ["seqft", 2],
      ["lwf", 4],
    ]);
    expect(() => setConfigValue({ methods: [{ name: "seqft" }] }, "methods[3].name", "x")).toThrow(/methods\[3\]: index out of range: the list has 1 entries \(use \[1\] to append\)/);
    expect(() => setConfigValue({ seed: 3 }, "seed.x", "1")).toThrow(/cannot set seed.x: seed is 3, not an object or list/);
    expect(() => setConfigValue({ training: {} }, "training[0]", "1")).toThrow(/training is not a list/);
  });

  it('"null" removes a field so its default applies', () => {
    const raw = { training: { lr: 0.5 }, methods: [{ name: "lwf" }, { name: "seekr" }] };
    expect(setConfigValue(raw, "training.lr", "null")).toEqual({ training: {}, methods: raw.methods });
    expect(setConfigValue(raw, "methods[0]", "null").methods).toEqual([{ name: "seekr" }]);
    expect(resolveConfig(setConfigValue(raw, "training.lr", "null")).training.lr).toBe(1e-3);
  });

  it("creates a list where the schema expects one", () => {
    expect(setConfigValue({}, "data.tasks.0", "kv")).toEqual({ data: { tasks: ["kv"] } });
    expect(setConfigValue({}, "training.betas[1]", "0.99")).toEqual({ training: { betas: [0.9, 0.99] } });
  });

  it("non-string values are set as given", () => {
    expect(setConfigValue({}, "data.tasks", ["kv"])).toEqual({ data: { tasks: ["kv"] } });
  });

  it("round-trips any positive lr through its string form", () => {
    fc.assert(
      fc.property(fc.double({ min: Number.MIN_VALUE, max: 1e6, noNaN: true }), (lr) => {
        expect(resolveConfig(setConfigValue({}, "training.lr", String(lr))).training.lr).toBe(lr);
      }),
      { numRuns: 200 },
    );
  });
});

describe("applyOverrides and parseOverride", () => {
  it("parses --path=value and path=value", () => {
    expect(parseOverride("--training.lr=1e-4")).toEqual({ path: "training.lr", value: "1e-4" });
    expect(parseOverride("output=a=b")).toEqual({ path: "output", value: "a=b" });
    expect(() => parseOverride("--training.lr")).toThrow(/expected an override of the form --field.path=value/);
    expect(() => parseOverride("=3")).toThrow(ConfigError);
  });

  it("applies CLI-style overrides in order, then validation reports bad values by path", () => {
    const raw = applyOverrides({ training: { lr: 1 } }, ["--training.lr=1e-4", "--seed=7", "--data.tasks=kv,add", "--methods[2].budget.heads=25%", "--training.lr=2e-4"]);
    const c = resolveConfig(raw);
    expect([c.training.lr, c.seed, c.data.tasks, c.methods[2]?.budget.heads]).toEqual([2e-4, 7, ["kv", "add"], { fraction: 0.25 }]);
    expect(() => resolveConfig(applyOverrides({}, { "training.lr": "fast", "methods[1].replayRatio": "2" }))).toThrow(
      /training.lr: expected a positive number, got "fast"\n {2}- methods\[1\].replayRatio: expected a number in \(0, 1\], got 2/,
    );
    expect(() => resolveConfig(applyOverrides({}, ["--training.learningRate=1"]))).toThrow(/training.learningRate: unknown field/);
  });
});
