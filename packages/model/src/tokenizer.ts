// The Tokenizer interface and the byte-level tokenizer (the default for small models): 256 byte ids + special tokens.

export interface EncodeOptions {
  /** Prepend the BOS token (default false). */
  addBos?: boolean;
  /** Append the EOS token (default false). */
  addEos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, PAD, ...) from the text (default false, as transformers). */
  skipSpecialTokens?: boolean;
}

/** Text ↔ token ids. `encode` never adds special tokens unless asked; special tokens are addressed by their text. */
export interface Tokenizer {
  /** Number of ids (the model's vocab_size must be at least this). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** Id of a special (added) token by its text, e.g. "<|user|>"; undefined when the tokenizer has none. */
  specialTokenId(token: string): number | undefined;
  /** Whether an id is a special token. */
  isSpecial(id: number): boolean;
}

export interface ByteTokenizerOptions {
  /**
   * Special tokens after the 256 byte ids, in id order (default ["<s>", "</s>", "<pad>"]: BOS 256, EOS 257, PAD 258).
   * Add chat markers such as "<|user|>", "<|assistant|>", "<|end|>" to give them ids of their own.
   */
  specialTokens?: readonly string[];
  bosToken?: string | null;
  eosToken?: string | null;
  padToken?: string | null;
}

export const BYTE_SPECIAL_TOKENS: readonly string[] = ["<s>", "</s>", "<pad>"];
/** The byte tokenizer's special tokens with the chat template's markers. */
export const BYTE_CHAT_SPECIAL_TOKENS: readonly string[] = ["<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"];

/**
 * UTF-8 bytes as ids 0..255, special tokens from 256 on. Lossless for any string (decode(encode(s)) === s); text is
 * never parsed for special tokens (a literal "</s>" in data stays five bytes). Invalid UTF-8 in decoded ids (e.g. a
 * sampled partial character) becomes U+FFFD.
 */
export class ByteTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly specialTokens: readonly string[];
  private readonly specialIds: Map<string, number>;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(opts: ByteTokenizerOptions = {}) {
    const specials = opts.specialTokens ?? BYTE_SPECIAL_TOKENS;
    if (new Set(specials).size !== specials.length) throw new Error(`ByteTokenizer: duplicate special tokens in ${JSON.stringify(specials)}`);
    for (const s of specials) if (typeof s !== "string" || s.length === 0) throw new Error(`ByteTokenizer: special tokens must be non-empty strings, got ${JSON.stringify(s)}`);
    this.specialTokens = [...specials];
    this.specialIds = new Map(specials.map((s, i) => [s, 256 + i]));
    this.vocabSize = 256 + specials.length;
    const pick = (v: string | null | undefined, dflt: string, what: string): number | null => {
      if (v === null) return null;
      const name = v ?? dflt;
      const id = this.specialIds.get(name);
      if (id === undefined) {
        if (v === undefined) return null;
        throw new Error(`ByteTokenizer: ${what} ${JSON.stringify(name)} is not among the special tokens ${JSON.stringify(specials)}`);
      }
      return id;
    };
    this.bosTokenId = pick(opts.bosToken, "<s>", "bosToken");
    this.eosTokenId = pick(opts.eosToken, "</s>", "eosToken");
    this.padTokenId = pick(opts.padToken, "<pad>", "padToken");
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new Error(`ByteTokenizer.encode: expected a string, got ${typeof text}`);
    const ids: number[] = [];
    if (opts.addBos) ids.push(need(this.bosTokenId, "BOS"));
    for (const b of this.encoder.encode(text)) ids.push(b);
    if (opts.addEos) ids.push(need(this.eosTokenId, "EOS"));
    return ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    let out = "";
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) out += this.decoder.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`ByteTokenizer.decode: ${id} is not an id in [0, ${this.vocabSize})`);
      if (id < 256) bytes.push(id);
      else {
        flush();
        if (!opts.skipSpecialTokens) out += this.specialTokens[id - 256]!;
      }
    }
    flush();
    return out;
  }

  specialTokenId(token: string): number | undefined {
    return this.specialIds.get(token);
  }

  isSpecial(id: number): boolean {
    return id >= 256 && id < this.vocabSize;
  }
}

function need(id: number | null, what: string): number {
  if (id === null) throw new Error(`tokenizer: no ${what} token is defined`);
  return id;
}
