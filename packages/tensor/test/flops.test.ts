// The model-FLOPs count behind the benchmark's MFU: 6 N over the weights that multiply activations plus PaLM's
// 12 L d T attention term.
import { describe, expect, test, vi } from "vitest";

vi.mock("@seekr/tensor", async () => await import("../src/index.js"));
const { GPU_125M_CONFIG, REFERENCE_CONFIG, flopsPerToken, matmulParams, parameterShapes } = await import("../bench/llama.js");

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

describe("matmulParams / flopsPerToken", () => {
  test.each([["125m", GPU_125M_CONFIG], ["reference", REFERENCE_CONFIG], ["gqa", { ...REFERENCE_CONFIG, numKvHeads: 2 }]])(
    "%s: every parameter but the input embedding and the norm weights",
    (_name, c) => {
      const counted = parameterShapes(c)
        .filter(([n]) => n !== "model.embed_tokens.weight" && !n.endsWith("norm.weight"))
        .reduce((a, [, s]) => a + size(s), 0);
      expect(matmulParams(c)).toBe(counted);
    },
  );

  test("the ~125M configuration: 109.5M weights in matmuls of 134.1M parameters; FLOPs per token at T = 1024", () => {
    const total = parameterShapes(GPU_125M_CONFIG).reduce((a, [, s]) => a + size(s), 0);
    expect(total).toBe(134_105_856);
    expect(matmulParams(GPU_125M_CONFIG)).toBe(109_510_656);
    // 6 * 109,510,656 + 12 * 12 layers * 768 * 1024
    expect(flopsPerToken(GPU_125M_CONFIG, 1024)).toBe(6 * 109_510_656 + 12 * 12 * 768 * 1024);
  });
});
