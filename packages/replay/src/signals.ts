// Teacher signals stored with replay samples (SEEKR §3): answer-position logits and attention rows.

import { formatValue, isCount } from "./format.js";
import { bfloat16ToFloat32, float16ToFloat32, float32ToBFloat16, float32ToFloat16 } from "./half.js";

/** Teacher logits at the answer positions, uncompressed: `logits[p · vocab + v]`. */
export interface FullLogits {
  readonly kind: "full";
  /** Number of answer positions. */
  readonly positions: number;
  readonly vocab: number;
  /** [positions × vocab], row-major. */
  readonly logits: Float32Array;
}

/**
 * Teacher logits at the answer positions, top-k compressed. For position p and slot j < k,
 * `indices[p·k + j]` is a vocabulary id and `values[p·k + j]` its logit; `logsumexp[p]` is
 * log Σ_v exp(logit_v) over the **whole** vocabulary, so the kept entries' probabilities under the full
 * softmax are exactly `exp(values − logsumexp)`. {@link topKLogits} stores the entries in descending
 * logit order (ties: lower id), but any order is accepted.
 */
export interface TopKLogits {
  readonly kind: "topk";
  readonly positions: number;
  readonly vocab: number;
  readonly k: number;
  /** [positions × k] vocabulary ids, distinct within a position, each in [0, vocab). */
  readonly indices: Int32Array;
  /** [positions × k] logits of the kept ids. */
  readonly values: Float32Array;
  /** [positions] log-sum-exp of the full logits row. */
  readonly logsumexp: Float32Array;
}

export type LogitSignal = FullLogits | TopKLogits;

/** Storage type of attention rows: float32, IEEE float16 or bfloat16 (both as Uint16Array bit patterns). */
export type RowDType = "f32" | "f16" | "bf16";

interface AttentionBase {
  /** The stored query positions Tq (B_T rows, drawn once when the sample entered memory), each < keyLength. */
  readonly queryRows: Int32Array;
  /** The selected heads H as [layer, head] pairs. */
  readonly heads: ReadonlyArray<readonly [number, number]>;
  /** Number of key positions per row (the sample's sequence length). */
  readonly keyLength: number;
}

/**
 * Teacher attention probabilities (post-softmax) of the selected heads at the stored query rows:
 * `rows[(h · queryRows.length + r) · keyLength + key]` for head h = heads[h], row r = queryRows[r].
 */
export type AttentionSignal =
  | (AttentionBase & { readonly dtype: "f32"; readonly rows: Float32Array })
  | (AttentionBase & { readonly dtype: "f16" | "bf16"; readonly rows: Uint16Array });

/** Builds a {@link FullLogits} signal, checking the shape. */
export function fullLogits(logits: Float32Array, positions: number, vocab: number): FullLogits {
  const signal: FullLogits = { kind: "full", positions, vocab, logits };
  checkLogitSignal(signal, "logits");
  return signal;
}

/**
 * Compresses full logits [positions × vocab] to the top k per position (descending, ties: lower id),
 * keeping the log-sum-exp of every full row (computed in float64 around the row maximum).
 */
export function topKLogits(logits: Float32Array, positions: number, vocab: number, k: number): TopKLogits {
  checkLogitSignal({ kind: "full", positions, vocab, logits }, "logits");
  if (!isCount(k) || k < 1 || k > vocab) {
    throw new Error(`k: expected an integer in [1, vocab = ${vocab}], got ${formatValue(k)}`);
  }
  const indices = new Int32Array(positions * k);
  const values = new Float32Array(positions * k);
  const logsumexp = new Float32Array(positions);
  const topIdx = new Int32Array(k);
  const topVal = new Float64Array(k);
  for (let p = 0; p < positions; p++) {
    const base = p * vocab;
    let max = -Infinity;
    let filled = 0;
    for (let v = 0; v < vocab; v++) {
      const x = logits[base + v] as number;
      if (Number.isNaN(x)) throw new Error(`logits[${p}][${v}]: NaN`);
      if (x > max) max = x;
      // Insert into the descending top list; a later id never displaces an equal earlier one.
      if (filled < k || x > (topVal[k - 1] as number)) {
        let j = filled < k ? filled++ : k - 1;
        while (j > 0 && (topVal[j - 1] as number) < x) {
          topVal[j] = topVal[j - 1] as number;
          topIdx[j] = topIdx[j - 1] as number;
          j--;
        }
        topVal[j] = x;
        topIdx[j] = v;
      }
    }
    let sum = 0;
    if (max === -Infinity || max === Infinity) {
      logsumexp[p] = max;
    } else {
      for (let v = 0; v < vocab; v++) sum += Math.exp((logits[base + v] as number) - max);
      logsumexp[p] = max + Math.log(sum);
    }
    indices.set(topIdx, p * k);
    for (let j = 0; j < k; j++) values[p * k + j] = topVal[j] as number;
  }
  return { kind: "topk", positions, vocab, k, indices, values, logsumexp };
}

/** The teacher distribution a trainer distils towards, from a stored logit signal. */
export interface TeacherProbs {
  readonly positions: number;
  readonly vocab: number;
  /** Entries per position: k for top-k signals, vocab for full ones. */
  readonly k: number;
  /** [positions × k] vocabulary ids of the entries, or null for a full signal (entry j is id j). */
  readonly indices: Int32Array | null;
  /** [positions × k] the kept entries renormalised to sum to 1 per position (the softmax for full signals). */
  readonly probs: Float32Array;
  /** [positions × k] the kept entries' exact probabilities under the full softmax. */
  readonly kept: Float32Array;
  /** [positions] probability mass of the entries not kept, 1 − Σ kept (0 for full signals). */
  readonly dropped: Float32Array;
}

/**
 * Turns stored teacher logits into probabilities (temperature 1, computed in float64).
 * - full signal: the softmax of every row (`probs` = `kept`, `dropped` = 0);
 * - top-k signal: `kept` = exp(value − logsumexp), exact for the kept ids; `dropped` = 1 − Σ kept (≥ 0)
 *   is the mass of the other vocab − k ids; `probs` = kept / Σ kept, the renormalised top-k distribution.
 *
 * A trainer either distils the renormalised top-k distribution (`probs` over `indices`; the dropped
 * mass is ignored) or keeps the kept entries exact and spreads `dropped` evenly over the other ids —
 * {@link denseTeacherProbs} builds either as a dense [positions × vocab] array.
 */
export function teacherProbs(signal: LogitSignal): TeacherProbs {
  checkLogitSignal(signal, "signal");
  const { positions, vocab } = signal;
  if (signal.kind === "full") {
    const probs = new Float32Array(positions * vocab);
    for (let p = 0; p < positions; p++) {
      const base = p * vocab;
      let max = -Infinity;
      for (let v = 0; v < vocab; v++) max = Math.max(max, signal.logits[base + v] as number);
      let sum = 0;
      for (let v = 0; v < vocab; v++) sum += Math.exp((signal.logits[base + v] as number) - max);
      for (let v = 0; v < vocab; v++) probs[base + v] = Math.exp((signal.logits[base + v] as number) - max) / sum;
    }
    return { positions, vocab, k: vocab, indices: null, probs, kept: probs, dropped: new Float32Array(positions) };
  }
  const { k } = signal;
  const probs = new Float32Array(positions * k);
  const kept = new Float32Array(positions * k);
  const dropped = new Float32Array(positions);
  const exact = new Float64Array(k);
  for (let p = 0; p < positions; p++) {
    const lse = signal.logsumexp[p] as number;
    let sum = 0;
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, signal.values[p * k + j] as number);
    for (let j = 0; j < k; j++) {
      exact[j] = Math.exp((signal.values[p * k + j] as number) - lse);
      sum += exact[j] as number;
    }
    // Renormalise around the kept maximum so the result does not depend on the stored logsumexp.
    let rel = 0;
    for (let j = 0; j < k; j++) rel += Math.exp((signal.values[p * k + j] as number) - max);
    for (let j = 0; j < k; j++) {
      kept[p * k + j] = exact[j] as number;
      probs[p * k + j] = Math.exp((signal.values[p * k + j] as number) - max) / rel;
    }
    dropped[p] = Math.min(1, Math.max(0, 1 - sum));
  }
  return { positions, vocab, k, indices: signal.indices, probs, kept, dropped };
}

/** How {@link denseTeacherProbs} treats the ids a top-k signal did not keep. */
export type DroppedMass = "renormalize" | "spread";

/**
 * The teacher distribution as a dense [positions × vocab] Float32Array:
 * - full signals: the softmax;
 * - top-k, `"renormalize"` (default): the renormalised top-k distribution, 0 for the other ids;
 * - top-k, `"spread"`: kept ids get their exact probability, the other vocab − k ids share the
 *   dropped mass equally (each row sums to 1).
 */
export function denseTeacherProbs(signal: LogitSignal, rest: DroppedMass = "renormalize"): Float32Array {
  if (rest !== "renormalize" && rest !== "spread") {
    throw new Error(`rest: expected "renormalize" or "spread", got ${formatValue(rest)}`);
  }
  const t = teacherProbs(signal);
  if (t.indices === null) return t.probs;
  const { positions, vocab, k } = t;
  const out = new Float32Array(positions * vocab);
  for (let p = 0; p < positions; p++) {
    if (rest === "spread" && vocab > k) out.fill((t.dropped[p] as number) / (vocab - k), p * vocab, (p + 1) * vocab);
    const source = rest === "spread" ? t.kept : t.probs;
    for (let j = 0; j < k; j++) out[p * vocab + (t.indices[p * k + j] as number)] = source[p * k + j] as number;
  }
  return out;
}

/** Input of {@link attentionSignal}: float32 rows, stored as `dtype`. */
export interface AttentionSignalInit {
  queryRows: ArrayLike<number>;
  heads: ReadonlyArray<readonly [number, number]>;
  keyLength: number;
  /** [heads × queryRows × keyLength] post-softmax probabilities. */
  rows: Float32Array;
  /** Storage type; default "f32". "f16"/"bf16" halve the size (round to nearest even). */
  dtype?: RowDType;
}

/** Builds an {@link AttentionSignal}, checking the shape and converting the rows to `dtype`. */
export function attentionSignal(init: AttentionSignalInit): AttentionSignal {
  const dtype = init.dtype ?? "f32";
  const queryRows = Int32Array.from(init.queryRows);
  const heads = init.heads.map(([l, h]) => [l, h] as const);
  const base = { queryRows, heads, keyLength: init.keyLength };
  let signal: AttentionSignal;
  if (dtype === "f32") signal = { ...base, dtype, rows: init.rows };
  else if (dtype === "f16") signal = { ...base, dtype, rows: float32ToFloat16(init.rows) };
  else if (dtype === "bf16") signal = { ...base, dtype, rows: float32ToBFloat16(init.rows) };
  else throw new Error(`dtype: expected "f32", "f16" or "bf16", got ${formatValue(dtype)}`);
  checkAttentionSignal(signal, "attention");
  return signal;
}

/** The attention rows as float32 (a copy for f16/bf16, the stored array itself for f32). */
export function attentionRows(signal: AttentionSignal): Float32Array {
  if (signal.dtype === "f32") return signal.rows;
  return signal.dtype === "f16" ? float16ToFloat32(signal.rows) : bfloat16ToFloat32(signal.rows);
}

/** Bytes held by the typed arrays of a signal. */
export function signalBytes(signal: LogitSignal | AttentionSignal | undefined): number {
  if (signal === undefined) return 0;
  if ("kind" in signal) {
    return signal.kind === "full"
      ? signal.logits.byteLength
      : signal.indices.byteLength + signal.values.byteLength + signal.logsumexp.byteLength;
  }
  return signal.queryRows.byteLength + signal.rows.byteLength;
}

function fail(field: string, message: string): never {
  throw new Error(`${field}: ${message}`);
}

function checkArray(value: unknown, ctor: { new (n: number): ArrayBufferView; name: string }, length: number, field: string): void {
  if (!(value instanceof ctor)) fail(field, `expected a ${ctor.name}, got ${formatValue(value)}`);
  const n = (value as unknown as ArrayLike<number>).length;
  if (n !== length) fail(field, `expected ${length} elements, got ${n}`);
}

/** Throws an Error naming `field` unless `signal` is a well-formed {@link LogitSignal}. */
export function checkLogitSignal(signal: unknown, field: string): asserts signal is LogitSignal {
  if (typeof signal !== "object" || signal === null) fail(field, `expected a logit signal, got ${formatValue(signal)}`);
  const s = signal as Record<string, unknown>;
  if (!isCount(s.positions)) fail(`${field}.positions`, `expected a non-negative integer, got ${formatValue(s.positions)}`);
  if (!isCount(s.vocab) || s.vocab < 1) fail(`${field}.vocab`, `expected a positive integer, got ${formatValue(s.vocab)}`);
  const positions = s.positions;
  const vocab = s.vocab;
  if (s.kind === "full") {
    checkArray(s.logits, Float32Array, positions * vocab, `${field}.logits`);
    return;
  }
  if (s.kind !== "topk") fail(`${field}.kind`, `expected "full" or "topk", got ${formatValue(s.kind)}`);
  const k = s.k;
  if (!isCount(k) || k < 1 || k > vocab) fail(`${field}.k`, `expected an integer in [1, vocab = ${vocab}], got ${formatValue(k)}`);
  checkArray(s.indices, Int32Array, positions * k, `${field}.indices`);
  checkArray(s.values, Float32Array, positions * k, `${field}.values`);
  checkArray(s.logsumexp, Float32Array, positions, `${field}.logsumexp`);
  const indices = s.indices as Int32Array;
  const seen = new Set<number>();
  for (let p = 0; p < positions; p++) {
    seen.clear();
    for (let j = 0; j < k; j++) {
      const id = indices[p * k + j] as number;
      if (id < 0 || id >= vocab) fail(`${field}.indices[${p * k + j}]`, `expected an id in [0, vocab = ${vocab}), got ${id}`);
      if (seen.has(id)) fail(`${field}.indices[${p * k + j}]`, `duplicate id ${id} at position ${p}`);
      seen.add(id);
    }
  }
}

/** Throws an Error naming `field` unless `signal` is a well-formed {@link AttentionSignal}. */
export function checkAttentionSignal(signal: unknown, field: string): asserts signal is AttentionSignal {
  if (typeof signal !== "object" || signal === null) fail(field, `expected an attention signal, got ${formatValue(signal)}`);
  const s = signal as Record<string, unknown>;
  if (!isCount(s.keyLength)) fail(`${field}.keyLength`, `expected a non-negative integer, got ${formatValue(s.keyLength)}`);
  const keyLength = s.keyLength;
  if (!(s.queryRows instanceof Int32Array)) fail(`${field}.queryRows`, `expected an Int32Array, got ${formatValue(s.queryRows)}`);
  const rows = s.queryRows;
  for (let r = 0; r < rows.length; r++) {
    const t = rows[r] as number;
    if (t < 0 || t >= keyLength) fail(`${field}.queryRows[${r}]`, `expected a position in [0, keyLength = ${keyLength}), got ${t}`);
  }
  if (!Array.isArray(s.heads)) fail(`${field}.heads`, `expected an array of [layer, head] pairs, got ${formatValue(s.heads)}`);
  const heads = s.heads as unknown[];
  heads.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !isCount(pair[0]) || !isCount(pair[1])) {
      fail(`${field}.heads[${i}]`, `expected a [layer, head] pair of non-negative integers, got ${formatValue(pair)}`);
    }
  });
  const n = heads.length * rows.length * keyLength;
  if (s.dtype === "f32") checkArray(s.rows, Float32Array, n, `${field}.rows`);
  else if (s.dtype === "f16" || s.dtype === "bf16") checkArray(s.rows, Uint16Array, n, `${field}.rows`);
  else fail(`${field}.dtype`, `expected "f32", "f16" or "bf16", got ${formatValue(s.dtype)}`);
}
