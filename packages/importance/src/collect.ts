// Collectors: run a @seekr/model over replay samples and gather SEEKR's head statistics through the attention taps
// (task sensitivity from the backward kernel's dL/dP sums; attention rows for forgettability) — no full maps of
// unrequested heads are ever built.
import { type Tensor, tidy, tensor, dispose } from "@seekr/tensor";
import type { LlamaModel, SensitivityMode } from "@seekr/model";
import type { Matrix } from "./stats.js";

/** One batch of replay samples: ids [B, T] int32, optional mask [B, T], labels [B, T] (HF shift; -100 ignored). */
export interface Batch {
  inputIds: Tensor;
  attentionMask?: Tensor;
  labels: Tensor;
}

export type Progress = (done: number, total: number) => void;

export interface SensitivityOptions {
  /** "all" (default: the reference code's dense map) or "visible" entries of dL/dP. */
  mode?: SensitivityMode;
  /** "meanSquare" (default, the reference code: mean of (dL/dA)^2 over (q, k)) or "norm" (the paper: ||dL/dA||_F). */
  statistic?: "meanSquare" | "norm";
  progress?: Progress;
}

function layerCount(model: LlamaModel): [number, number] {
  return [model.config.numHiddenLayers, model.config.numAttentionHeads];
}

/** Number of label positions that count in each row (HF shift: labels[b, t+1] != -100, t+1 < T). */
function keptPerRow(labels: Tensor): number[] {
  const [B, T] = labels.shape as [number, number];
  const l = labels.dataSync() as Int32Array;
  return Array.from({ length: B }, (_, b) => {
    let n = 0;
    for (let t = 1; t < T; t++) if (l[b * T + t] !== -100) n++;
    return n;
  });
}

/**
 * Task sensitivity S[l][h] = E_samples stat(dL_sample/dA_{l,h}), with model θ_k on R_k. The per-sample loss is the
 * sample's own mean next-token loss: a batch's mean loss has gradient (n_b / N) dL_b/dA, which is undone exactly.
 */
export function collectSensitivity(model: LlamaModel, batches: readonly Batch[], opts: SensitivityOptions = {}): Matrix {
  const [L, H] = layerCount(model);
  const mode = opts.mode ?? "all";
  const stat = opts.statistic ?? "meanSquare";
  if (stat !== "meanSquare" && stat !== "norm") throw new Error(`collectSensitivity: statistic must be "meanSquare" or "norm", got ${JSON.stringify(stat)}`);
  const acc: Matrix = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  let samples = 0;
  batches.forEach((batch, i) => {
    const kept = keptPerRow(batch.labels);
    const N = kept.reduce((a, b) => a + b, 0);
    tidy(() => {
      const r = model.forward(batch.inputIds, { attentionMask: batch.attentionMask, labels: batch.labels, returnLogits: false, sensitivity: mode });
      if (!r.loss) throw new Error("collectSensitivity: the model returned no loss");
      r.loss.backward();
      for (let l = 0; l < L; l++) {
        const s = r.sensitivity.get(l)!.dataSync() as Float32Array;
        const c = r.sensitivityCount.get(l)!.dataSync() as Float32Array;
        kept.forEach((n, b) => {
          if (n === 0) return;
          const f = N / n; // per-sample gradient = batch gradient * N / n_b
          for (let h = 0; h < H; h++) {
            const sumSq = s[b * H + h]! * f * f;
            acc[l]![h]! += stat === "meanSquare" ? sumSq / c[b]! : Math.sqrt(sumSq);
          }
        });
      }
    });
    for (const p of model.parameterList()) {
      p.grad?.dispose();
      p.grad = null;
    }
    samples += kept.filter((n) => n > 0).length;
    opts.progress?.(i + 1, batches.length);
  });
  if (samples === 0) throw new Error("collectSensitivity: no sample has a label to compute the loss on");
  return acc.map((row) => row.map((x) => x / samples));
}

/** Attention rows of every head of every layer at chosen query positions, per sample (host memory). */
export interface AttentionSnapshot {
  layers: number;
  heads: number;
  /** Per sample: its query rows, its key length and one Float32Array [heads, rows, keys] per layer. */
  samples: Array<{ rows: Int32Array; keys: number; maps: Float32Array[] }>;
}

export interface CaptureOptions {
  /** Query rows per sample: "all" (default: every position, the full maps) or an int32 [B, R] tensor per batch. */
  rows?: "all" | readonly Tensor[];
  progress?: Progress;
}

/** Captures the attention probabilities of all heads (at all or chosen rows) of every layer, batch by batch. */
export function captureAttention(model: LlamaModel, batches: readonly Batch[], opts: CaptureOptions = {}): AttentionSnapshot {
  const [L, H] = layerCount(model);
  const heads = Array.from({ length: H }, (_, h) => h);
  const out: AttentionSnapshot = { layers: L, heads: H, samples: [] };
  batches.forEach((batch, i) => {
    const [B, T] = batch.inputIds.shape as [number, number];
    tidy(() => {
      let rows: Tensor;
      if (opts.rows === undefined || opts.rows === "all") {
        const r = new Int32Array(B * T);
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) r[b * T + t] = t;
        rows = tensor(r, { dtype: "int32", shape: [B, T], device: batch.inputIds.device });
      } else {
        const given = opts.rows[i];
        if (!given) throw new Error(`captureAttention: no rows given for batch ${i}`);
        rows = given;
      }
      const R = rows.shape[1]!;
      const rowData = rows.dataSync() as Int32Array;
      const res = model.forward(batch.inputIds, {
        attentionMask: batch.attentionMask, returnLogits: false,
        taps: Array.from({ length: L }, (_, layer) => ({ layer, heads, rows })),
      });
      const perLayer = Array.from({ length: L }, (_, l) => res.taps.get(l)!.dataSync() as Float32Array);
      const Tk = res.taps.get(0)!.shape[3]!;
      for (let b = 0; b < B; b++) {
        out.samples.push({
          rows: rowData.slice(b * R, (b + 1) * R),
          keys: Tk,
          maps: perLayer.map((m) => m.slice(b * H * R * Tk, (b + 1) * H * R * Tk)),
        });
      }
      dispose(res.taps);
    });
    opts.progress?.(i + 1, batches.length);
  });
  return out;
}

export interface ForgettabilityOptions {
  /** "meanSquare" (default, the reference code: mean squared difference) or "norm" (the paper: ||A_k − A_{k−1}||_F). */
  statistic?: "meanSquare" | "norm";
}

/**
 * Forgettability F[l][h] = E_samples stat(A^{θ_k} − A^{θ_{k−1}}) from two snapshots of the same samples and rows
 * (before and after learning task k).
 */
export function forgettability(before: AttentionSnapshot, after: AttentionSnapshot, opts: ForgettabilityOptions = {}): Matrix {
  const stat = opts.statistic ?? "meanSquare";
  if (before.layers !== after.layers || before.heads !== after.heads || before.samples.length !== after.samples.length)
    throw new Error(`forgettability: snapshots differ (${before.layers}x${before.heads}, ${before.samples.length} samples vs ${after.layers}x${after.heads}, ${after.samples.length} samples)`);
  const { layers: L, heads: H } = before;
  if (before.samples.length === 0) throw new Error("forgettability: the snapshots hold no sample");
  const acc: Matrix = Array.from({ length: L }, () => new Array<number>(H).fill(0));
  before.samples.forEach((sb, i) => {
    const sa = after.samples[i]!;
    if (sb.keys !== sa.keys || sb.rows.length !== sa.rows.length || sb.rows.some((r, j) => r !== sa.rows[j]))
      throw new Error(`forgettability: sample ${i} was captured at different rows or lengths before and after`);
    const R = sb.rows.length;
    const per = R * sb.keys;
    for (let l = 0; l < L; l++) {
      const a = sb.maps[l]!, b = sa.maps[l]!;
      for (let h = 0; h < H; h++) {
        let ss = 0;
        for (let e = h * per; e < (h + 1) * per; e++) {
          const d = b[e]! - a[e]!;
          ss += d * d;
        }
        acc[l]![h]! += stat === "meanSquare" ? (per > 0 ? ss / per : 0) : Math.sqrt(ss);
      }
    }
  });
  return acc.map((row) => row.map((x) => x / before.samples.length));
}
