// Hugging Face tokenizer.json (BPE as in LLaMA / Mistral / Qwen, and the library's other models) through
// @huggingface/tokenizers, a pure-JS implementation that works offline from local files.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as HfLibTokenizer } from "@huggingface/tokenizers";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./tokenizer.js";

export interface HfTokenizerOptions {
  /** Override the special tokens named by tokenizer_config.json (token text; null for none). */
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
}

type TokenField = string | { content?: string } | null | undefined;

function tokenText(v: TokenField): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof v.content === "string") return v.content;
  return null;
}

/**
 * A tokenizer.json (+ optional tokenizer_config.json) tokenizer. `encode` runs the normalizer, pre-tokenizer and
 * model without the post-processor's special tokens (BOS / EOS are added only when asked, so prompt templates
 * control them); added tokens written in the text (e.g. "<|im_end|>") are recognised, as in transformers.
 * BOS / EOS / PAD come from tokenizer_config.json (bos_token, eos_token, pad_token) unless overridden.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  private readonly lib: HfLibTokenizer;
  private readonly specialIds: Set<number>;
  private readonly added: Map<string, number>;

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}, opts: HfTokenizerOptions = {}) {
    if (!tokenizerJson || typeof tokenizerJson !== "object" || !tokenizerJson.model)
      throw new Error("HfTokenizer: tokenizer.json must be an object with a 'model' field");
    try {
      this.lib = new HfLibTokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new Error(`HfTokenizer: cannot build the tokenizer from tokenizer.json: ${(e as Error).message}`);
    }
    const vocab = this.lib.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.added = new Map();
    this.specialIds = new Set();
    const addedList = (tokenizerJson.added_tokens ?? []) as Array<{ id: number; content: string; special?: boolean }>;
    for (const a of addedList) {
      this.added.set(a.content, a.id);
      if (a.special) this.specialIds.add(a.id);
    }
    const resolve = (override: string | null | undefined, field: string): number | null => {
      const text = override !== undefined ? override : tokenText(tokenizerConfig[field] as TokenField);
      if (text === null) return null;
      const id = this.lib.token_to_id(text);
      if (id === undefined) throw new Error(`HfTokenizer: ${field} ${JSON.stringify(text)} is not in the vocabulary`);
      this.specialIds.add(id);
      return id;
    };
    this.bosTokenId = resolve(opts.bosToken, "bos_token");
    this.eosTokenId = resolve(opts.eosToken, "eos_token");
    this.padTokenId = resolve(opts.padToken, "pad_token");
  }

  /** Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`. */
  static fromDirectory(dir: string, opts: HfTokenizerOptions = {}): HfTokenizer {
    const tj = join(dir, "tokenizer.json");
    if (!existsSync(tj)) throw new Error(`HfTokenizer: ${tj} not found`);
    const cfgPath = join(dir, "tokenizer_config.json");
    return new HfTokenizer(readJson(tj), existsSync(cfgPath) ? readJson(cfgPath) : {}, opts);
  }

  /** Reads a tokenizer.json file (and optionally a tokenizer_config.json file). */
  static fromFile(tokenizerJsonPath: string, tokenizerConfigPath?: string, opts: HfTokenizerOptions = {}): HfTokenizer {
    return new HfTokenizer(readJson(tokenizerJsonPath), tokenizerConfigPath ? readJson(tokenizerConfigPath) : {}, opts);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new Error(`HfTokenizer.encode: expected a string, got ${typeof text}`);
    const ids = text.length === 0 ? [] : [...this.lib.encode(text, { add_special_tokens: false }).ids];
    if (opts.addBos) {
      if (this.bosTokenId === null) throw new Error("HfTokenizer.encode: addBos, but the tokenizer has no bos_token");
      ids.unshift(this.bosTokenId);
    }
    if (opts.addEos) {
      if (this.eosTokenId === null) throw new Error("HfTokenizer.encode: addEos, but the tokenizer has no eos_token");
      ids.push(this.eosTokenId);
    }
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    for (const id of ids)
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`HfTokenizer.decode: ${id} is not an id in [0, ${this.vocabSize})`);
    const list = opts.skipSpecialTokens ? ids.filter((id) => !this.specialIds.has(id)) : [...ids];
    if (list.length === 0) return "";
    return this.lib.decode(list, { skip_special_tokens: !!opts.skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  specialTokenId(token: string): number | undefined {
    return this.added.get(token);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The token text of an id (undefined when out of range). */
  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  /** The id of a token text (vocabulary or added token). */
  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new Error(`HfTokenizer: ${path} not found`);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`HfTokenizer: ${path} is not valid JSON (${(e as Error).message})`);
  }
}
