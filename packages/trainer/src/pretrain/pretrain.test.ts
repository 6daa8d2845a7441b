// Tests of the base model: the generic corpus (deterministic, none of the stream's task formats), the schedule,
// building, caching and reusing a pre-trained base model.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCheckpoint } from "@seekr/model";
import { setThreads } from "@seekr/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../config/resolve.js";
import { DEFAULT_EXTRAS } from "../run/extras.js";
import { BUILTIN_TASKS } from "../tasks/registry.js";
import { baseModelKey, ensureBaseModel, pretrainLr } from "./base.js";
import { corpusStream } from "./corpus.js";

setThreads(1); // as the trainer runs by default (src/run/extras.ts)

const root = mkdtempSync(join(tmpdir(), "seekr-pretrain-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("corpus", () => {
  it("is deterministic per seed and holds none of the task formats", () => {
    const a = corpusStream(1);
    const b = corpusStream(1);
    const docs = Array.from({ length: 200 }, () => a.next(64));
    expect(Array.from({ length: 200 }, () => b.next(64))).toEqual(docs);
    expect(corpusStream(2).next(64)).not.toEqual(docs[0]);
    const text = docs.join("\n");
    expect(text).not.toContain("=");
    for (const t of Object.values(BUILTIN_TASKS)) expect(text).not.toContain(t.instruction);
    for (const kind of [/[A-Z][a-z]+ /, /\d+ \d+/, / \| /, /\b[a-z] [a-z] [a-z]\b/]) expect(text).toMatch(kind);
  });
});

describe("schedule", () => {
  it("warms up linearly, then decays by a cosine to minLrRatio · lr", () => {
    const o = { steps: 100, lr: 1, warmup: 0.1, minLrRatio: 0.1 };
    expect(pretrainLr(0, o)).toBeCloseTo(0.1);
    expect(pretrainLr(9, o)).toBeCloseTo(1);
    expect(pretrainLr(10, o)).toBeCloseTo(1);
    expect(pretrainLr(99, o)).toBeCloseTo(0.1);
    for (let s = 11; s < 100; s++) expect(pretrainLr(s, o)).toBeLessThanOrEqual(pretrainLr(s - 1, o));
  });
});

describe("ensureBaseModel", () => {
  const config = resolveConfig({ output: join(root, "runs", "a"), device: "cpu", model: { preset: "tiny", numHiddenLayers: 1, pretrain: { steps: 30, batchSize: 8, lr: 3e-3 } } });

  it("pre-trains once (the loss falls), caches under <output>/../.cache, and reuses the cache", async () => {
    const t0 = performance.now();
    const first = await ensureBaseModel(config);
    const seconds = (performance.now() - t0) / 1000;
    expect(first.built).toBe(true);
    expect(seconds).toBeLessThan(30);
    expect(first.dir).toBe(join(root, "runs", ".cache", `seekr-base-${baseModelKey(config)}`));
    const meta = JSON.parse(readFileSync(join(first.dir, "pretrain.json"), "utf8")) as { losses: number[] };
    expect(meta.losses.at(-1)!).toBeLessThan(meta.losses[0]! - 1);
    const model = loadCheckpoint(first.dir);
    expect(model.config.numHiddenLayers).toBe(1);
    model.dispose();
    const second = await ensureBaseModel({ ...config, output: join(root, "runs", "b") });
    expect(second).toMatchObject({ built: false, dir: first.dir, key: first.key });
  });

  it("keys the cache on the model and pre-training settings", () => {
    const k = baseModelKey(config);
    expect(baseModelKey({ ...config, seed: 77, output: "elsewhere" })).toBe(k); // the run's seed and folder do not matter
    expect(baseModelKey({ ...config, model: { ...config.model, pretrain: { ...config.model.pretrain, steps: 31 } } })).not.toBe(k);
    expect(baseModelKey({ ...config, model: { ...config.model, hiddenSize: 32 } })).not.toBe(k);
    expect(baseModelKey(config, { ...DEFAULT_EXTRAS, pretrain: { ...DEFAULT_EXTRAS.pretrain, seqLen: 32 } })).not.toBe(k);
  });

  it("uses model.checkpoint as the base when there is nothing to pre-train", async () => {
    const dir = (await ensureBaseModel(config)).dir;
    const fromCheckpoint = await ensureBaseModel({ ...config, model: { ...config.model, checkpoint: dir, pretrain: { ...config.model.pretrain, steps: 0 } } });
    expect(fromCheckpoint).toMatchObject({ dir, built: false });
    expect(existsSync(join(dir, "model.safetensors"))).toBe(true);
  });

  it("stops when aborted (nothing is cached)", async () => {
    const ac = new AbortController();
    ac.abort();
    const other = { ...config, model: { ...config.model, pretrain: { ...config.model.pretrain, steps: 5 } } };
    await expect(ensureBaseModel(other, { signal: ac.signal })).rejects.toThrow(/aborted/);
    expect(existsSync(join(root, "runs", ".cache", `seekr-base-${baseModelKey(other)}`))).toBe(false);
  });

  it("resumes an interrupted pre-training where it stopped and ends bit-identical to an uninterrupted one", async () => {
    const cfg = { ...config, model: { ...config.model, pretrain: { ...config.model.pretrain, steps: 24 } } };
    const whole = await ensureBaseModel(cfg, { extras: { ...DEFAULT_EXTRAS, cacheDir: join(root, "cache-whole") } });
    const extras = { ...DEFAULT_EXTRAS, cacheDir: join(root, "cache-resumed") };
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(
      ensureBaseModel(cfg, {
        extras,
        signal: ac.signal,
        onStep: (p) => {
          seen.push(p.step);
          if (p.step === 10) ac.abort();
        },
      }),
    ).rejects.toThrow(/aborted/);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    const partialDir = join(root, "cache-resumed", `.seekr-base-${whole.key}.partial`);
    const state = JSON.parse(readFileSync(join(partialDir, "state.json"), "utf8")) as { step: number; losses: number[] };
    expect(state.step).toBe(10);
    expect(state.losses).toHaveLength(10);
    const resumedSteps: number[] = [];
    const resumed = await ensureBaseModel(cfg, { extras, onStep: (p) => resumedSteps.push(p.step) });
    expect(resumed.built).toBe(true);
    expect(resumedSteps).toEqual(Array.from({ length: 14 }, (_, i) => i + 11));
    expect(existsSync(partialDir)).toBe(false);
    expect(readFileSync(join(resumed.dir, "model.safetensors")).equals(readFileSync(join(whole.dir, "model.safetensors")))).toBe(true);
    const losses = (d: string) => (JSON.parse(readFileSync(join(d, "pretrain.json"), "utf8")) as { losses: number[] }).losses;
    expect(losses(resumed.dir)).toEqual(losses(whole.dir));
  });
});
