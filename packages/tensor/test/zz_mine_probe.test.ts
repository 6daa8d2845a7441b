// probe
import { test, expect, vi } from "vitest";
vi.mock("@seekr/tensor", async () => await import("../src/index.js"));
import * as src from "../src/index.js";
import * as llama from "../bench/llama.js";
import * as pkg from "@seekr/tensor";
test("probe", () => {
  console.log("same module?", pkg.tensor === src.tensor, typeof llama.forward);
  const c = { vocabSize: 16, hiddenSize: 8, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 12, rmsNormEps: 1e-5, ropeTheta: 10000 };
  const before = src.memory();
  const p = llama.initParams(c, 1);
  console.log(before, src.memory());
});
