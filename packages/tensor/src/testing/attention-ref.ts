// Test helper: float64 JavaScript references for the SEEKR attention kernels (probability maps, attention output and
// its gradients, the per-head sensitivity of dL/dP, the KL(teacher || student) distillation loss) and key-mask
// builders. Layouts follow ops/nn.ts: q [B, Tq, H, D], k / v [B, Tk, Hkv, D], query head h reads kv head
// floor(h / (H / Hkv)); causal: query t sees keys j <= t + (Tk - Tq); mask [B, Tk], 0 = padding. Not exported from index.

export interface AttnDims {
  B: number;
  Tq: number;
  Tk: number;
  H: number;
  Hkv: number;
  D: number;
}

export interface AttnRefOptions {
  causal: boolean;
  scale: number;
  /** [B, Tk], 0 = never attended; null = no mask. */
  mask: ArrayLike<number> | null;
}

/** Keys [0, end) pass the causal rule for query row t (0 when none). */
export function visibleEnd(d: AttnDims, causal: boolean, t: number): number {
  if (!causal) return d.Tk;
  return Math.max(0, Math.min(d.Tk, t + (d.Tk - d.Tq) + 1));
}

/** Whether query row t of batch entry b may attend key j (causal rule and key mask). */
export function isVisible(d: AttnDims, o: Pick<AttnRefOptions, "causal" | "mask">, b: number, t: number, j: number): boolean {
  return j < visibleEnd(d, o.causal, t) && (!o.mask || o.mask[b * d.Tk + j] !== 0);
}

/** Number of visible keys of every (b, t) row: [B * Tq]. */
export function visibleCounts(d: AttnDims, o: Pick<AttnRefOptions, "causal" | "mask">): Int32Array {
  const c = new Int32Array(d.B * d.Tq);
  for (let b = 0; b < d.B; b++)
    for (let t = 0; t < d.Tq; t++) {
      let n = 0;
      for (let j = 0; j < d.Tk; j++) if (isVisible(d, o, b, t, j)) n++;
      c[b * d.Tq + t] = n;
    }
  return c;
}

const qIdx = (d: AttnDims, b: number, t: number, h: number) => ((b * d.Tq + t) * d.H + h) * d.D;
const kIdx = (d: AttnDims, b: number, j: number, kh: number) => ((b * d.Tk + j) * d.Hkv + kh) * d.D;
const pIdx = (d: AttnDims, b: number, h: number, t: number) => ((b * d.H + h) * d.Tq + t) * d.Tk;

/** Softmax probabilities [B, H, Tq, Tk] in float64; zeros at invisible keys and on rows with no visible key. */
export function attentionProbsRef(Q: ArrayLike<number>, K: ArrayLike<number>, d: AttnDims, o: AttnRefOptions): Float64Array {
  const P = new Float64Array(d.B * d.H * d.Tq * d.Tk);
  const group = d.H / d.Hkv;
  const s = new Float64Array(d.Tk);
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.H; h++) {
      const kh = Math.floor(h / group);
      for (let t = 0; t < d.Tq; t++) {
        let mx = -Infinity;
        for (let j = 0; j < d.Tk; j++) {
          s[j] = -Infinity;
          if (!isVisible(d, o, b, t, j)) continue;
          let acc = 0;
          const qo = qIdx(d, b, t, h);
          const ko = kIdx(d, b, j, kh);
          for (let c = 0; c < d.D; c++) acc += Q[qo + c]! * K[ko + c]!;
          s[j] = acc * o.scale;
          mx = Math.max(mx, s[j]!);
        }
        if (mx === -Infinity) continue;
        let z = 0;
        for (let j = 0; j < d.Tk; j++) z += s[j] === -Infinity ? 0 : Math.exp(s[j]! - mx);
        const po = pIdx(d, b, h, t);
        for (let j = 0; j < d.Tk; j++) P[po + j] = s[j] === -Infinity ? 0 : Math.exp(s[j]! - mx) / z;
      }
    }
  return P;
}

/** out [B, Tq, H, D] = P V. */
export function attentionOutRef(P: Float64Array, V: ArrayLike<number>, d: AttnDims): Float64Array {
  const out = new Float64Array(d.B * d.Tq * d.H * d.D);
  const group = d.H / d.Hkv;
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.H; h++)
      for (let t = 0; t < d.Tq; t++) {
        const po = pIdx(d, b, h, t);
        const oo = qIdx(d, b, t, h);
        for (let j = 0; j < d.Tk; j++) {
          const p = P[po + j]!;
          if (p === 0) continue;
          const vo = kIdx(d, b, j, Math.floor(h / group));
          for (let c = 0; c < d.D; c++) out[oo + c] = out[oo + c]! + p * V[vo + c]!;
        }
      }
  return out;
}

/** dL/dP [B, H, Tq, Tk] = dO V^T for every (t, j), visible or not (dO [B, Tq, H, D]). */
export function dLdPRef(dO: ArrayLike<number>, V: ArrayLike<number>, d: AttnDims): Float64Array {
  const G = new Float64Array(d.B * d.H * d.Tq * d.Tk);
  const group = d.H / d.Hkv;
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.H; h++)
      for (let t = 0; t < d.Tq; t++) {
        const go = qIdx(d, b, t, h);
        const po = pIdx(d, b, h, t);
        for (let j = 0; j < d.Tk; j++) {
          const vo = kIdx(d, b, j, Math.floor(h / group));
          let acc = 0;
          for (let c = 0; c < d.D; c++) acc += dO[go + c]! * V[vo + c]!;
          G[po + j] = acc;
        }
      }
  return G;
}

/** Gradients of L = sum(out * dO) w.r.t. q, k, v, in float64 (softmax backward through the visible keys). */
export function attentionGradsRef(
  Q: ArrayLike<number>, K: ArrayLike<number>, V: ArrayLike<number>, dO: ArrayLike<number>, d: AttnDims, o: AttnRefOptions,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const P = attentionProbsRef(Q, K, d, o);
  const G = dLdPRef(dO, V, d);
  const dq = new Float64Array(Q.length);
  const dk = new Float64Array(K.length);
  const dv = new Float64Array(V.length);
  const group = d.H / d.Hkv;
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.H; h++) {
      const kh = Math.floor(h / group);
      for (let t = 0; t < d.Tq; t++) {
        const po = pIdx(d, b, h, t);
        const qo = qIdx(d, b, t, h);
        let dot = 0;
        for (let j = 0; j < d.Tk; j++) dot += P[po + j]! * G[po + j]!;
        for (let j = 0; j < d.Tk; j++) {
          const p = P[po + j]!;
          if (p === 0) continue;
          const ko = kIdx(d, b, j, kh);
          const ds = p * (G[po + j]! - dot) * o.scale;
          for (let c = 0; c < d.D; c++) {
            dq[qo + c] = dq[qo + c]! + ds * K[ko + c]!;
            dk[ko + c] = dk[ko + c]! + ds * Q[qo + c]!;
            dv[ko + c] = dv[ko + c]! + p * dO[qo + c]!;
          }
        }
      }
    }
  return { dq, dk, dv };
}

/**
 * SEEKR head sensitivity of L = sum(out * dO): per (b, h) the sum of (dL/dP)^2 over every Tq x Tk entry ("all") or the
 * visible ones ("visible"), and the number of entries summed per batch entry.
 */
export function sensitivityRef(
  dO: ArrayLike<number>, V: ArrayLike<number>, d: AttnDims, o: Pick<AttnRefOptions, "causal" | "mask">, mode: "all" | "visible",
): { sens: Float64Array; count: Float64Array } {
  const G = dLdPRef(dO, V, d);
  const sens = new Float64Array(d.B * d.H);
  const count = new Float64Array(d.B);
  for (let b = 0; b < d.B; b++)
    for (let t = 0; t < d.Tq; t++)
      for (let j = 0; j < d.Tk; j++) if (mode === "all" || isVisible(d, o, b, t, j)) count[b]! += 1;
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.H; h++) {
      let acc = 0;
      for (let t = 0; t < d.Tq; t++) {
        const po = pIdx(d, b, h, t);
        for (let j = 0; j < d.Tk; j++) {
          if (mode === "visible" && !isVisible(d, o, b, t, j)) continue;
          acc += G[po + j]! ** 2;
        }
      }
      sens[b * d.H + h] = acc;
    }
  return { sens, count };
}

/**
 * Σ over the selected (b, i, r) of KL(teacher || student) = Σ_j pt_j (log pt_j − log ps_j), summed over the keys the
 * student can see with pt_j > 0 (teacher mass elsewhere is ignored), divided by the reduction's denominator.
 * `Ps` is the student's [B, H, Tq, Tk] map; `absSum` (Σ of |terms|) sizes tolerances.
 */
export function distillRef(
  Ps: ArrayLike<number>, teacher: ArrayLike<number>, heads: readonly number[], rows: ArrayLike<number>, R: number,
  d: AttnDims, o: Pick<AttnRefOptions, "causal" | "mask">, reduction: "mean" | "batchmean" | "sum",
): { loss: number; absSum: number; sum: number } {
  let total = 0;
  let absSum = 0;
  for (let b = 0; b < d.B; b++)
    heads.forEach((h, i) => {
      for (let r = 0; r < R; r++) {
        const t = rows[b * R + r]!;
        const to = ((b * heads.length + i) * R + r) * d.Tk;
        const po = pIdx(d, b, h, t);
        for (let j = 0; j < d.Tk; j++) {
          const pt = teacher[to + j]!;
          if (!(pt > 0) || !isVisible(d, o, b, t, j)) continue;
          const term = pt * (Math.log(pt) - Math.log(Ps[po + j]!));
          total += term;
          absSum += Math.abs(pt * Math.log(pt)) + Math.abs(pt * Math.log(Ps[po + j]!));
        }
      }
    });
  const denom = reduction === "mean" ? d.B * heads.length * R : reduction === "batchmean" ? d.B : 1;
  return { loss: total / denom, absSum: absSum / denom, sum: total };
}

// ---- key masks ---------------------------------------------------------------------------------------------------

/** Per batch entry: no padding, left padding, random holes, or every key masked. */
export type MaskMode = "none" | "left" | "holes" | "all";

/** A small deterministic PRNG (mulberry32) returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A [B, Tk] key mask: entry b follows modes[b % modes.length]. "left" pads a random prefix (possibly all of it),
 * "holes" drops each key with probability 0.3. Kept keys get `on` (any nonzero value means attend).
 */
export function makeKeyMask(B: number, Tk: number, modes: readonly MaskMode[], seed: number, on = 1): Float32Array {
  const rnd = prng(seed);
  const m = new Float32Array(B * Tk);
  for (let b = 0; b < B; b++) {
    const mode = modes[b % modes.length]!;
    const pad = Math.floor(rnd() * (Tk + 1));
    for (let j = 0; j < Tk; j++) {
      const keep = mode === "none" ? true : mode === "all" ? false : mode === "left" ? j >= pad : rnd() >= 0.3;
      m[b * Tk + j] = keep ? on : 0;
    }
  }
  return m;
}
