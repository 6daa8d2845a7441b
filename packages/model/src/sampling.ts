// Next-token selection on the host: greedy argmax, or seeded sampling with temperature, top-k and top-p (in that order).

/** A seeded uniform [0, 1) stream (mulberry32 over a splitmix-scrambled seed): same seed, same draws. */
export function createRandom(seed: number): () => number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`createRandom: seed must be a non-negative safe integer, got ${seed}`);
  let s = (Math.imul((seed ^ Math.floor(seed / 2 ** 32)) >>> 0, 0x9e3779b1) + 0x6d2b79f5) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SamplingOptions {
  /** Sample instead of taking the argmax (default false: greedy). */
  doSample?: boolean;
  /** Divides the logits before top-k / top-p (default 1; 0 means greedy). */
  temperature?: number;
  /** Keep the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
}

export function checkSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(Number.isFinite(o.temperature) && o.temperature >= 0))
    throw new Error(`generate: temperature must be a finite number >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new Error(`generate: topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${o.topP}`);
}

/** Index of the largest value (the first one on ties; NaN never wins). */
export function argmaxRow(x: ArrayLike<number>, start = 0, n = x.length - start): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[start + i]!;
    if (v > bv || best < 0) {
      if (Number.isNaN(v)) continue;
      best = i;
      bv = v;
    }
  }
  return Math.max(best, 0);
}

/** Picks a token from one row of logits (x[start .. start + n)). */
export function selectToken(x: ArrayLike<number>, start: number, n: number, o: SamplingOptions, random: () => number): number {
  const temperature = o.temperature ?? 1;
  if (!o.doSample || temperature === 0) return argmaxRow(x, start, n);
  const topK = o.topK && o.topK > 0 ? Math.min(o.topK, n) : n;
  const topP = o.topP ?? 1;
  let idx: number[];
  if (topK < n || topP < 1) {
    idx = Array.from({ length: n }, (_, i) => i);
    // Stable order: by logit descending, then by index.
    idx.sort((a, b) => x[start + b]! - x[start + a]! || a - b);
    idx = idx.slice(0, topK);
  } else idx = Array.from({ length: n }, (_, i) => i);
  let max = -Infinity;
  for (const i of idx) if (x[start + i]! > max) max = x[start + i]!;
  if (max === -Infinity || Number.isNaN(max)) return argmaxRow(x, start, n);
  const p = idx.map((i) => Math.exp((x[start + i]! - max) / temperature));
  let total = p.reduce((a, b) => a + b, 0);
  let keep = idx.length;
  if (topP < 1) {
    // idx is sorted: keep the shortest prefix whose mass reaches topP (at least one token).
    let cum = 0;
    for (let j = 0; j < idx.length; j++) {
      cum += p[j]! / total;
      if (cum >= topP) {
        keep = j + 1;
        break;
      }
    }
    total = 0;
    for (let j = 0; j < keep; j++) total += p[j]!;
  }
  let u = random() * total;
  for (let j = 0; j < keep; j++) {
    u -= p[j]!;
    if (u < 0) return idx[j]!;
  }
  return idx[keep - 1]!;
}
