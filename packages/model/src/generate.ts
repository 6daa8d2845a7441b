// Batched autoregressive decoding with left padding: greedy or sampled, KV cache (no prompt recomputation), stop on
// EOS / stop strings / max new tokens; runs under noGrad and frees every step's tensors.
import { noGrad, tidy } from "@seekr/tensor";
import { eosIds } from "./config.js";
import { mirroredTensor } from "./host.js";
import type { LlamaModel } from "./model.js";
import { padArrays } from "./batch.js";
import { type SamplingOptions, checkSampling, createRandom, selectToken } from "./sampling.js";
import type { Tokenizer } from "./tokenizer.js";
import { type PromptTemplate, encodePrompt } from "./prompt.js";

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens generated per row (required). */
  maxNewTokens: number;
  /** Seed of the sampler (default 0). */
  seed?: number;
  /** Tokens that end a row (default the config's eos_token_id; [] for none). */
  eosTokenId?: number | readonly number[] | null;
  /** Left-padding id and the id fed to finished rows (default pad_token_id, else the first EOS, else 0). */
  padTokenId?: number;
  /** End a row once its decoded continuation contains one of these (needs `tokenizer`). */
  stopStrings?: readonly string[];
  /** Decodes continuations for stopStrings and `text`. */
  tokenizer?: Tokenizer;
  /** Reuse past keys/values (default true); false recomputes the whole sequence every step (for comparison). */
  useCache?: boolean;
}

export type FinishReason = "eos" | "stop" | "length";

export interface GenerateResult {
  /** Generated ids per row (an EOS that ended the row included, as transformers does; no padding). */
  tokens: number[][];
  finishReason: FinishReason[];
  /** Decoded continuations without special tokens, cut before a matched stop string (when a tokenizer was given). */
  text: string[] | null;
  /** Forward passes run (prefill included). */
  steps: number;
}

/**
 * Continues each prompt (token ids; rows may differ in length: they are left-padded into one batch). With the cache
 * the prompt is run once and every later step feeds one token per row (attention with Tq = 1 over past + 1 keys).
 * Runs on the model's device; each step's last logits come back to the host to choose the next tokens.
 */
export function generate(model: LlamaModel, prompts: readonly (readonly number[])[], opts: GenerateOptions): GenerateResult {
  const { maxNewTokens } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  checkSampling(opts);
  if (!Array.isArray(prompts) || prompts.length === 0) throw new Error("generate: needs at least one prompt");
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new Error(`generate: prompt ${i} is empty (it needs at least one token, e.g. BOS)`);
  });
  const stops = opts.stopStrings ?? [];
  if (stops.length && !opts.tokenizer) throw new Error("generate: stopStrings need a tokenizer to decode with");
  if (stops.some((s) => typeof s !== "string" || s.length === 0)) throw new Error("generate: stopStrings must be non-empty strings");
  const cfg = model.config;
  const eos = new Set(opts.eosTokenId === undefined ? eosIds(cfg) : opts.eosTokenId === null ? [] : typeof opts.eosTokenId === "number" ? [opts.eosTokenId] : opts.eosTokenId);
  const padId = opts.padTokenId ?? cfg.padTokenId ?? [...eos][0] ?? 0;
  const V = cfg.vocabSize;
  const random = createRandom(opts.seed ?? 0);
  const useCache = opts.useCache ?? true;

  const B = prompts.length;
  const padded = padArrays(prompts, { side: "left", padId });
  const tokens: number[][] = prompts.map(() => []);
  const finish: Array<FinishReason | null> = prompts.map(() => null);
  const text: string[] | null = opts.tokenizer ? prompts.map(() => "") : null;
  let steps = 0;
  if (maxNewTokens === 0) return { tokens, finishReason: finish.map(() => "length"), text, steps };

  // Host copies of the whole sequence (for the no-cache path).
  let seqIds = padded.ids;
  let seqMask = padded.mask;
  let T = padded.T;
  const cache = useCache ? model.createCache(B) : null;
  const device = model.device;
  try {
    const lastLogits = (ids: Int32Array, mask: Int32Array, width: number): Float32Array =>
      noGrad(() =>
        tidy(() => {
          steps++;
          const r = model.forward(mirroredTensor(ids, { shape: [B, width], device }), {
            attentionMask: mirroredTensor(mask, { shape: [B, width], device }),
            returnLogits: "last",
            ...(cache ? { kvCache: cache } : {}),
          });
          return r.logits!.dataSync() as Float32Array; // [B, 1, V]
        }),
      );
    let logits = lastLogits(seqIds, seqMask, T);
    for (let step = 0; step < maxNewTokens; step++) {
      const next = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        if (finish[b]) {
          next[b] = padId;
          continue;
        }
        const id = selectToken(logits, b * V, V, opts, random);
        next[b] = id;
        tokens[b]!.push(id);
        if (eos.has(id)) finish[b] = "eos";
        else if (text) {
          const t = opts.tokenizer!.decode(tokens[b]!, { skipSpecialTokens: true });
          let cut = -1;
          for (const s of stops) {
            const at = t.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
          }
          if (cut >= 0) finish[b] = "stop";
          text[b] = cut >= 0 ? t.slice(0, cut) : t;
        }
      }
      if (finish.every((f) => f !== null) || step === maxNewTokens - 1) break;
      const ones = new Int32Array(B).fill(1);
      if (cache) logits = lastLogits(next, ones, 1);
      else {
        // Append the new column and recompute everything.
        const nIds = new Int32Array(B * (T + 1));
        const nMask = new Int32Array(B * (T + 1));
        for (let b = 0; b < B; b++) {
          nIds.set(seqIds.subarray(b * T, (b + 1) * T), b * (T + 1));
          nMask.set(seqMask.subarray(b * T, (b + 1) * T), b * (T + 1));
          nIds[b * (T + 1) + T] = next[b]!;
          nMask[b * (T + 1) + T] = 1;
        }
        seqIds = nIds;
        seqMask = nMask;
        T += 1;
        logits = lastLogits(seqIds, seqMask, T);
      }
    }
  } finally {
    cache?.dispose();
  }
  if (text && opts.tokenizer)
    for (let b = 0; b < B; b++) if (finish[b] !== "stop") text[b] = opts.tokenizer.decode(tokens[b]!, { skipSpecialTokens: true });
  return { tokens, finishReason: finish.map((f) => f ?? "length"), text, steps };
}

/** Encodes prompts with a template, generates, and decodes the continuations. */
export function generateText(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  opts: Omit<GenerateOptions, "tokenizer"> & { template?: PromptTemplate },
): GenerateResult & { text: string[] } {
  const ids = prompts.map((p) => encodePrompt(tokenizer, p, opts.template));
  const r = generate(model, ids, { ...opts, tokenizer, ...(opts.eosTokenId === undefined && tokenizer.eosTokenId !== null ? { eosTokenId: tokenizer.eosTokenId } : {}) });
  return { ...r, text: r.text! };
}
