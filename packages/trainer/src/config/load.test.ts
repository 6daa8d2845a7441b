// Tests of loading configurations from JSON and YAML files (syntax errors located, paths resolved) and describeConfig.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { describeConfig } from "./describe.js";
import { ConfigError } from "./errors.js";
import { loadConfig, readConfigFile } from "./load.js";
import { defaultConfig, resolveConfig } from "./resolve.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "seekr-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const write = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe("loadConfig", () => {
  it("loads YAML, fills defaults, resolves relative paths against the file's folder", () => {
    const file = write(
      "run.yaml",
      ["seed: 7", "output: out/run1", "data:", "  source: trace", "  path: ../data/TRACE", "  tasks: [FOMC, Py150]", "methods:", "  - name: seekr", "    replayRatio: 0.1", "model:", "  tokenizer: byte"].join("\n"),
    );
    const c = loadConfig(file);
    expect(c.seed).toBe(7);
    expect(c.output).toBe(join(dir, "out/run1"));
    expect(c.data).toEqual({ source: "trace", path: join(dir, "../data/TRACE"), tasks: ["FOMC", "Py150"] });
    expect(c.model.tokenizer).toBe("byte");
    expect(c.methods.map((m) => [m.label, m.lambda2])).toEqual([["seekr-10%", 100]]);
    expect(c.training).toEqual(defaultConfig().training);
  });

  it("loads JSON the same way", () => {
    const file = write("run.json", JSON.stringify({ training: { lr: 1e-5, batchSize: 128 }, output: "/abs/out" }));
    const c = loadConfig(file);
    expect([c.training.lr, c.training.batchSize, c.output]).toEqual([1e-5, 128, "/abs/out"]);
  });

  it("applies overrides after the file", () => {
    const file = write("run.yml", "training:\n  lr: 0.01\n");
    expect(loadConfig(file, { overrides: ["--training.lr=1e-4", "--methods[0].name=lwf"] }).training.lr).toBe(1e-4);
    expect(loadConfig(file, { overrides: { "methods[0].name": "lwf" } }).methods[0]?.label).toBe("lwf");
  });

  it("an empty file is the default configuration", () => {
    expect(loadConfig(write("empty.yaml", ""))).toEqual(defaultConfig());
    expect(loadConfig(write("empty.json", "  \n"))).toEqual(defaultConfig());
  });

  it("names the file in validation errors", () => {
    const file = write("bad.yaml", "methods:\n  - name: seekr\n  - name: replay\n    replayRatio: 2\n");
    expect(() => loadConfig(file)).toThrow(`Invalid configuration in ${file}: 1 problem\n  - methods[1].replayRatio: expected a number in (0, 1], got 2`);
  });

  it("locates syntax errors", () => {
    const json = write("bad.json", '{\n  "seed": 1,\n  "output": "x",,\n}');
    expect(() => readConfigFile(json)).toThrow(`${json}:3:17: malformed JSON: expected a double-quoted property name, got ","`);
    const yaml = write("bad.yaml", "seed: 1\ntraining:\n  lr: [1, 2\n");
    expect(() => readConfigFile(yaml)).toThrow(new RegExp(`${yaml.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: malformed YAML`));
    const dup = write("dup.yaml", "seed: 1\nseed: 2\n");
    expect(() => readConfigFile(dup)).toThrow(/dup.yaml:2:1: malformed YAML: Map keys must be unique/);
  });

  it("rejects other file types, missing files and non-mapping documents", () => {
    expect(() => readConfigFile(write("run.toml", "seed = 1"))).toThrow(/unsupported configuration file type ".toml" \(use .json, .yaml or .yml\)/);
    expect(() => readConfigFile(join(dir, "nope.yaml"))).toThrow(/configuration file not found/);
    expect(() => readConfigFile(write("list.yaml", "- 1\n- 2\n"))).toThrow(/expected a mapping of settings at the top level, got \[1,2\]/);
    try {
      readConfigFile(join(dir, "nope.json"));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
    }
  });
});

describe("describeConfig", () => {
  it("prints the resolved configuration as YAML with inline number lists and fractions", () => {
    const text = describeConfig(defaultConfig());
    expect(text.startsWith("# SEEKR run configuration (resolved: defaults filled in)\n")).toBe(true);
    expect(text).toContain("  betas: [ 0.9, 0.95 ]");
    expect(text).toContain("      heads: { fraction: 0.125 }");
    expect(text).toContain("  lr: 0.001");
    expect(text).toContain("    label: seekr-1%");
  });

  it("reads back to the same configuration", () => {
    const c = resolveConfig({ seed: 3, output: "/abs/run", data: { source: "jsonl", path: "/d", samplesPerTask: { train: 5 } }, methods: [{ name: "seekr", budget: { heads: 12 } }, { name: "ewc" }] });
    expect(resolveConfig(YAML.parse(describeConfig(c)))).toEqual(c);
    const file = write("round.yaml", describeConfig(c));
    expect(loadConfig(file)).toEqual(c);
  });
});
