// The packages through their public entry points (built dist/, package.json exports), composed as a user would.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as T from "@seekr/tensor";
import { selectHeads } from "@seekr/budget";

const require = createRequire(import.meta.url);

describe("package entry points", () => {
  it("every package resolves to built output with types", () => {
    for (const name of ["@seekr/tensor", "@seekr/budget", "@seekr/native"]) {
      const pkgPath = require.resolve(`${name}/package.json`);
      const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports: Record<string, { types: string; import: string }> };
      expect(pkg.exports["."]?.types, name).toMatch(/\.d\.ts$/);
      expect(pkg.exports["."]?.import, name).toMatch(/\.js$/);
    }
    expect(typeof T.tensor).toBe("function");
    expect(typeof selectHeads).toBe("function");
  });

  it("the device report names the CPU backend and says why CUDA is or is not used", () => {
    const r = T.devices();
    expect(r.cpu.threads).toBeGreaterThan(0);
    expect(r.cpu.gemm.length).toBeGreaterThan(0);
    expect(r.cuda.reason.length).toBeGreaterThan(0);
    expect(["cpu", "cuda:0"]).toContain(r.preferred);
  });
});

describe("tensor + budget", () => {
  it("head importance computed with @seekr/tensor feeds the budget allocator", () => {
    // Importance as in SEEKR: per-layer normalised sensitivity times forgettability, computed on tensors.
    const gen = new T.Generator(3);
    const sens = T.abs(gen.normal([4, 8]));
    const forg = T.abs(gen.normal([4, 8]));
    const norm = T.div(sens, T.sum(sens, 1, { keepDims: true }));
    const imp = T.mul(norm, forg);
    const rows = imp.toArray() as number[][];
    const sel = selectHeads(rows, { layerBudget: 2, headBudget: 5 });
    expect(sel.layers).toHaveLength(2);
    expect(sel.heads).toHaveLength(5);
    const layerSums = rows.map((r) => r.reduce((a, b) => a + b, 0));
    const top2 = [...layerSums.keys()].sort((a, b) => layerSums[b]! - layerSums[a]! || a - b).slice(0, 2).sort((a, b) => a - b);
    expect(sel.layers).toEqual(top2);
    for (const h of sel.heads) expect(sel.layers).toContain(h.layer);
    T.dispose([sens, forg, norm, imp]);
  });

  it("a small model trains: loss falls on a learnable mapping", () => {
    const gen = new T.Generator(11);
    const w = gen.normal([8, 8], 0, 0.1, { requiresGrad: true }).keep();
    const x = T.tensor([[0, 1, 2, 3, 4, 5, 6, 7]], { dtype: "int32" }).keep();
    const table = gen.normal([8, 8], 0, 1).keep();
    const y = T.tensor([1, 2, 3, 4, 5, 6, 7, 0], { dtype: "int32" }).keep();
    const opt = new T.AdamW([w], { lr: 5e-2, weightDecay: 0 });
    const lossAt = () =>
      T.tidy(() => T.crossEntropy(T.matmul(T.reshape(T.embedding(table, x), [8, 8]), w), y).item());
    const first = lossAt();
    for (let i = 0; i < 150; i++)
      T.tidy(() => {
        opt.zeroGrad();
        T.crossEntropy(T.matmul(T.reshape(T.embedding(table, x), [8, 8]), w), y).backward();
        opt.step();
      });
    const last = lossAt();
    expect(last).toBeLessThan(first * 0.2);
    opt.dispose();
    T.dispose([w, x, table, y]);
  });
});
