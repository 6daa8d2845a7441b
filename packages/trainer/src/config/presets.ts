// Model presets for the byte-level decoders trained from scratch on the built-in stream.

import type { ModelPreset, ModelShape } from "./types.js";

/**
 * "tiny": 4 layers × 4 heads, width 64 (a few hundred thousand parameters with a byte vocabulary) — runs on
 * CPU in minutes. "small": 6 layers × 8 query heads (4 key/value heads), width 128.
 */
export const MODEL_PRESETS: Readonly<Record<ModelPreset, Readonly<ModelShape>>> = Object.freeze({
  tiny: Object.freeze({
    hiddenSize: 64,
    numHiddenLayers: 4,
    numAttentionHeads: 4,
    numKeyValueHeads: 4,
    intermediateSize: 176,
    maxPositionEmbeddings: 128,
  }),
  small: Object.freeze({
    hiddenSize: 128,
    numHiddenLayers: 6,
    numAttentionHeads: 8,
    numKeyValueHeads: 4,
    intermediateSize: 352,
    maxPositionEmbeddings: 256,
  }),
});

export const MODEL_SHAPE_FIELDS = [
  "hiddenSize",
  "numHiddenLayers",
  "numAttentionHeads",
  "numKeyValueHeads",
  "intermediateSize",
  "maxPositionEmbeddings",
] as const satisfies readonly (keyof ModelShape)[];

/** Replay-based methods (they keep a replay memory and use replayRatio). */
export const REPLAY_METHODS: readonly string[] = Object.freeze(["replay", "derpp", "seekr"]);

/**
 * Default λ2 for a replay ratio r: 10 / r clamped to [100, 1000]. It meets the paper's two settings
 * (λ2 = 1e3 at 1% replay, 1e2 at 10%; tuned for 7B models with the reference normalisation) and
 * interpolates between them by keeping λ2 · r constant.
 */
export function defaultLambda2(replayRatio: number): number {
  return Math.min(1000, Math.max(100, 10 / replayRatio));
}

/** Default label of a method: its name, plus the replay percentage for replay-based methods ("seekr-1%"). */
export function defaultLabel(name: string, replayRatio: number): string {
  if (!REPLAY_METHODS.includes(name)) return name;
  const pct = Number((replayRatio * 100).toPrecision(6));
  return `${name}-${pct}%`;
}
