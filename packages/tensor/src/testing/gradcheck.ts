// Test helper: checks autograd gradients against float64 central finite differences (not exported from index).
import { Tensor, tensor } from "../tensor.js";
import { tidy } from "../scope.js";
import { backward, noGrad, enableGrad } from "../autograd.js";
import { Generator } from "../random.js";
import { mul } from "../ops/elementwise.js";
import { sum } from "../ops/reduce.js";

export interface GradCheckOptions {
  /** Finite-difference step (default 5e-3; float32 forward passes make smaller steps noisy). */
  eps?: number;
  /** Absolute tolerance (default 2e-3). */
  atol?: number;
  /** Relative tolerance, against the numeric gradient (default 1e-2). */
  rtol?: number;
  /** Indices of the inputs to check (default: every float32 input). Other inputs are passed through unchanged. */
  wrt?: number[];
  /** Seed of the random output weights w in sum(fn(...) * w) (default 12345). */
  seed?: number;
}

export interface GradCheckWorst {
  /** Position of the input in `inputs`. */
  input: number;
  /** Flat (row-major) element index within that input. */
  index: number;
  analytic: number;
  numeric: number;
}

export interface GradCheckReport {
  /** Every checked element satisfied |analytic - numeric| <= atol + rtol * |numeric|. */
  ok: boolean;
  maxAbsErr: number;
  /** Largest |analytic - numeric| / max(|analytic|, |numeric|) over elements where either exceeds atol. */
  maxRelErr: number;
  /** The element closest to (or furthest past) its tolerance; null when no element was checked. */
  worst: GradCheckWorst | null;
  /** Number of gradient elements compared. */
  checked: number;
  eps: number;
  atol: number;
  rtol: number;
}

function toF32(t: Tensor): Float32Array {
  const d = t.toFloatArray();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/**
 * Compares the autograd gradients of L = sum(fn(...inputs) * w) (w a fixed random tensor shaped like the output) with
 * central differences (L(x + h) - L(x - h)) / (2h) computed in float64 from the float32 outputs, perturbing one element
 * of one input at a time. The step actually taken (after rounding x +- eps to float32) is used as h.
 * The inputs are not modified; everything created here is freed.
 */
export function gradCheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): GradCheckReport {
  const eps = opts.eps ?? 5e-3;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 1e-2;
  const wrt = opts.wrt ?? inputs.map((t, i) => (t.dtype === "float32" ? i : -1)).filter((i) => i >= 0);
  for (const i of wrt) {
    const t = inputs[i];
    if (!t) throw new Error(`gradCheck: wrt index ${i} is out of range for ${inputs.length} inputs`);
    if (t.dtype !== "float32") throw new Error(`gradCheck: input ${i} is ${t.dtype}; only float32 inputs can be checked`);
  }
  const wrtSet = new Set(wrt);

  return tidy(() => {
    const baseData = inputs.map((t, i) => (wrtSet.has(i) ? toF32(t) : null));

    // Analytic gradients.
    const leaves = inputs.map((t, i) =>
      wrtSet.has(i) ? tensor(baseData[i]!, { shape: t.shape, requiresGrad: true }) : t,
    );
    let wData: Float64Array = new Float64Array(0);
    const analytic: Float64Array[] = [];
    tidy(() => {
      const y = enableGrad(() => fn(...leaves));
      if (y.dtype !== "float32") throw new Error(`gradCheck: fn must return a float32 tensor, got ${y.dtype}`);
      const w = new Generator(opts.seed ?? 12345).normal(y.shape);
      wData = Float64Array.from(w.dataSync() as Float32Array);
      const loss = enableGrad(() => sum(mul(y, w)));
      if (loss.requiresGrad) backward(loss);
      for (let i = 0; i < inputs.length; i++) {
        if (!wrtSet.has(i)) continue;
        const g = leaves[i]!.grad;
        analytic[i] = g ? Float64Array.from(toF32(g)) : new Float64Array(inputs[i]!.size);
      }
    });

    // Numeric gradients, with the forward pass in float32 and the weighted sum in float64.
    const lossAt = (args: Tensor[]): number =>
      tidy(() => {
        const y = noGrad(() => fn(...args));
        const d = y.toFloatArray();
        let s = 0;
        for (let k = 0; k < d.length; k++) s += d[k]! * wData[k]!;
        return s;
      });
    const plain = inputs.map((t, i) => (wrtSet.has(i) ? tensor(baseData[i]!, { shape: t.shape }) : t));

    let maxAbsErr = 0;
    let maxRelErr = 0;
    let worst: GradCheckWorst | null = null;
    let worstRatio = -1;
    let ok = true;
    let checked = 0;
    const f32 = new Float32Array(2);
    for (const i of wrt) {
      const data = baseData[i]!;
      const shape = inputs[i]!.shape;
      for (let j = 0; j < data.length; j++) {
        const x0 = data[j]!;
        f32[0] = x0 + eps;
        f32[1] = x0 - eps;
        const xp = f32[0]!;
        const xm = f32[1]!;
        const at = (v: number): number => {
          const pert = Float32Array.from(data);
          pert[j] = v;
          const args = plain.slice();
          args[i] = tensor(pert, { shape });
          const l = lossAt(args);
          args[i]!.dispose();
          return l;
        };
        const numeric = (at(xp) - at(xm)) / (xp - xm);
        const a = analytic[i]![j]!;
        const err = Math.abs(a - numeric);
        const tol = atol + rtol * Math.abs(numeric);
        const ratio = Number.isNaN(err) ? Infinity : err / tol;
        if (!(err <= tol)) ok = false;
        maxAbsErr = Math.max(maxAbsErr, Number.isNaN(err) ? Infinity : err);
        const mag = Math.max(Math.abs(a), Math.abs(numeric));
        if (mag > atol) maxRelErr = Math.max(maxRelErr, Number.isNaN(err) ? Infinity : err / mag);
        if (ratio > worstRatio) {
          worstRatio = ratio;
          worst = { input: i, index: j, analytic: a, numeric };
        }
        checked++;
      }
    }
    return { ok, maxAbsErr, maxRelErr, worst, checked, eps, atol, rtol };
  });
}

/** Describes a report in one line (for failure messages). */
export function formatGradCheckReport(r: GradCheckReport): string {
  const w = r.worst
    ? `worst: input ${r.worst.input} element ${r.worst.index}: analytic ${r.worst.analytic} vs numeric ${r.worst.numeric}`
    : "no elements checked";
  return `gradCheck ${r.ok ? "passed" : "FAILED"} (${r.checked} elements, eps ${r.eps}, atol ${r.atol}, rtol ${r.rtol}): maxAbsErr ${r.maxAbsErr.toExponential(3)}, maxRelErr ${r.maxRelErr.toExponential(3)}; ${w}`;
}

/** Runs gradCheck and throws an Error carrying the report when any gradient element is out of tolerance. */
export function expectGradClose(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: GradCheckOptions & { label?: string } = {},
): GradCheckReport {
  const report = gradCheck(fn, inputs, opts);
  if (!report.ok) {
    const err = new Error(`${opts.label ? opts.label + ": " : ""}${formatGradCheckReport(report)}`) as Error & { report: GradCheckReport };
    err.report = report;
    throw err;
  }
  return report;
}
