// Tests of the teacher-row decoding helpers of the replay store.
import { describe, expect, it } from "vitest";
import { bfloat16ToFloat32, float32ToBFloat16 } from "@seekr/replay";
import { normalizedRows } from "./replay-store.js";

describe("normalizedRows", () => {
  it("rescales bf16-rounded probability rows to sum to 1, so KL(teacher || teacher) is 0 and never negative", () => {
    const T = 7;
    const rows = 5;
    const exact = new Float32Array(rows * T);
    for (let r = 0; r < rows; r++) {
      const logits = Array.from({ length: T }, (_, k) => (k <= r + 1 ? Math.sin(3 * r + k) * 2 : Number.NEGATIVE_INFINITY));
      const z = logits.reduce((a, x) => a + Math.exp(x), 0);
      logits.forEach((x, k) => (exact[r * T + k] = Math.exp(x) / z));
    }
    const rounded = bfloat16ToFloat32(float32ToBFloat16(exact));
    const sums = (d: Float32Array) => Array.from({ length: rows }, (_, r) => d.subarray(r * T, (r + 1) * T).reduce((a, x) => a + x, 0));
    expect(sums(rounded).some((s) => Math.abs(s - 1) > 1e-4)).toBe(true); // bf16 rounding breaks the sums
    const fixed = normalizedRows(rounded.slice(), T);
    for (const s of sums(fixed)) expect(s).toBeCloseTo(1, 6);
    for (let i = 0; i < exact.length; i++) {
      if (exact[i] === 0) expect(fixed[i]).toBe(0); // invisible keys stay exactly zero
      else expect(Math.abs(fixed[i]! - exact[i]!) / exact[i]!).toBeLessThan(1e-2);
    }
    // KL(p || q) with q the exact row: ≥ 0 once p is a distribution.
    for (let r = 0; r < rows; r++) {
      let kl = 0;
      for (let k = 0; k < T; k++) if (fixed[r * T + k]! > 0) kl += fixed[r * T + k]! * Math.log(fixed[r * T + k]! / exact[r * T + k]!);
      expect(kl).toBeGreaterThanOrEqual(-1e-7);
    }
  });

  it("leaves all-zero rows alone", () => {
    const d = new Float32Array([0, 0, 0, 0.25, 0.25, 0.25]);
    expect(Array.from(normalizedRows(d, 3))).toEqual([0, 0, 0, 1 / 3, 1 / 3, 1 / 3].map((x) => Math.fround(x)));
  });
});
