// Tokenizers (byte-level and Hugging Face tokenizer.json), prompt templates, answer-only labels and batch padding.
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { BYTE_CHAT_SPECIAL_TOKENS, ByteTokenizer } from "./tokenizer.js";
import { HfTokenizer } from "./hf-tokenizer.js";
import { CHAT_TEMPLATE, PLAIN_TEMPLATE, answerOnlyLabels, encodeExample, encodePrompt, encodeSegments } from "./prompt.js";
import { encodeBatch, padArrays, padBatch } from "./batch.js";
import { FIXTURES } from "./test-utils.js";

const TOK = join(FIXTURES, "tokenizers");

describe("ByteTokenizer", () => {
  const tok = new ByteTokenizer();

  test("256 byte ids then <s> 256, </s> 257, <pad> 258", () => {
    expect(tok.vocabSize).toBe(259);
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId]).toEqual([256, 257, 258]);
    expect(tok.encode("hé", { addBos: true, addEos: true })).toEqual([256, 104, 0xc3, 0xa9, 257]);
    expect(tok.decode([256, 104, 0xc3, 0xa9, 257])).toBe("<s>hé</s>");
    expect(tok.decode([256, 104, 257, 258], { skipSpecialTokens: true })).toBe("h");
    expect(tok.encode("</s>")).toEqual([60, 47, 115, 62]); // text is never parsed for specials
    expect(tok.decode([0xe2, 0x82])).toBe("\ufffd"); // a partial character
    expect(() => tok.decode([259])).toThrow(/259 is not an id in \[0, 259\)/);
  });

  test("property: decode(encode(s)) === s for any string of valid UTF-16", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => tok.decode(tok.encode(s)) === s), { numRuns: 300 });
  });

  test("chat special tokens get ids of their own", () => {
    const chat = new ByteTokenizer({ specialTokens: BYTE_CHAT_SPECIAL_TOKENS });
    expect(chat.vocabSize).toBe(263);
    expect(chat.specialTokenId("<|assistant|>")).toBe(261);
    expect(chat.isSpecial(261) && !chat.isSpecial(255)).toBe(true);
    expect(() => new ByteTokenizer({ specialTokens: ["<s>"], eosToken: "</s>" })).toThrow(/eosToken "<\/s>" is not among the special tokens/);
    expect(new ByteTokenizer({ specialTokens: ["<s>"] }).eosTokenId).toBeNull();
  });
});

describe("HfTokenizer (tokenizer.json through @huggingface/tokenizers)", () => {
  const expected = JSON.parse(readFileSync(join(TOK, "expected.json"), "utf8")) as Record<string, Array<{ text: string; ids: number[] }>>;
  for (const name of ["bytelevel", "llama"]) {
    test(`${name}: ids of every probe equal the reference BPE of scripts/make_tokenizers.py`, () => {
      const tok = HfTokenizer.fromDirectory(join(TOK, name));
      for (const { text, ids } of expected[name]!) expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
    });
  }

  test("byte-level BPE (GPT-2 / Qwen style): merges apply, decode is lossless, specials from tokenizer_config.json", () => {
    const tok = HfTokenizer.fromDirectory(join(TOK, "bytelevel"));
    expect(tok.vocabSize).toBe(319);
    expect(tok.bosTokenId).toBe(tok.specialTokenId("<|endoftext|>"));
    expect(tok.eosTokenId).toBe(314);
    expect(tok.padTokenId).toBe(315);
    expect(tok.encode("the the the").length).toBeLessThan("the the the".length); // merged
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => tok.decode(tok.encode(s)) === s), { numRuns: 200 });
    const ids = tok.encode("hi", { addBos: true, addEos: true });
    expect(ids[0]).toBe(314);
    expect(ids.at(-1)).toBe(314);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hi");
    expect(tok.decode([])).toBe("");
    expect(tok.encode("<|user|>x")[0]).toBe(tok.specialTokenId("<|user|>")); // added tokens in text are recognised
  });

  test("LLaMA style (U+2581, byte fallback): BOS from the config, unknown characters as bytes", () => {
    const tok = HfTokenizer.fromDirectory(join(TOK, "llama"));
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId]).toEqual([1, 2, null]);
    const ids = tok.encode("Hello \u4e2d", { addBos: true });
    expect(ids[0]).toBe(1);
    expect(ids.slice(-3).map((i) => tok.idToToken(i))).toEqual(["<0xE4>", "<0xB8>", "<0xAD>"]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("Hello \u4e2d");
    expect(tok.decode(tok.encode("café naïve"))).toBe("café naïve");
  });

  test("errors: missing files, bad special token names", () => {
    expect(() => HfTokenizer.fromDirectory(join(TOK, "nope"))).toThrow(/tokenizer.json not found/);
    expect(() => HfTokenizer.fromDirectory(join(TOK, "llama"), { padToken: "<nothing>" })).toThrow(/pad_token "<nothing>" is not in the vocabulary/);
    expect(() => new HfTokenizer({})).toThrow(/'model' field/);
  });
});

describe("prompt templates and answer-only labels", () => {
  const tok = new ByteTokenizer({ specialTokens: BYTE_CHAT_SPECIAL_TOKENS });

  test("plain: [BOS] prompt answer [EOS]; labels mask the prompt", () => {
    const e = encodeExample(tok, { prompt: "Q:", answer: "ok" });
    expect(e.ids).toEqual([256, 81, 58, 111, 107, 257]);
    expect(e.promptLength).toBe(3);
    expect(e.labels).toEqual([-100, -100, -100, 111, 107, 257]);
    expect(encodePrompt(tok, "Q:")).toEqual([256, 81, 58]);
  });

  test("chat: role markers are special tokens where the tokenizer has them, text otherwise", () => {
    const e = encodeExample(tok, { prompt: "hi", answer: "yo" }, { template: CHAT_TEMPLATE });
    const u = tok.specialTokenId("<|user|>")!, a = tok.specialTokenId("<|assistant|>")!, end = tok.specialTokenId("<|end|>")!;
    expect(e.ids).toEqual([256, u, 10, 104, 105, end, 10, a, 10, 121, 111, end, 257]);
    expect(e.labels.filter((l) => l !== -100)).toEqual([121, 111, end, 257]);
    const plainTok = new ByteTokenizer();
    expect(plainTok.decode(encodeExample(plainTok, { prompt: "hi", answer: "yo" }, { template: CHAT_TEMPLATE }).ids)).toBe(
      "<s><|user|>\nhi<|end|>\n<|assistant|>\nyo<|end|></s>",
    );
    const chat = encodeSegments(tok, CHAT_TEMPLATE.chat([{ role: "system", content: "s" }, { role: "user", content: "u" }], { addGenerationPrompt: true }));
    expect(tok.decode(chat)).toBe("<s><|system|>\ns<|end|>\n<|user|>\nu<|end|>\n<|assistant|>\n");
    expect(tok.decode(encodeSegments(tok, PLAIN_TEMPLATE.chat([{ role: "user", content: "u" }], { addGenerationPrompt: true })))).toBe("<s>user: u\nassistant: ");
  });

  test("maxLength truncates the prompt's start (BOS kept) before the answer's end", () => {
    const e = encodeExample(tok, { prompt: "abcdef", answer: "XY" }, { maxLength: 6 });
    // [BOS] a..f (7) + X Y </s> (3) > 6: the prompt keeps BOS and its last 2 tokens
    expect(tok.decode(e.ids)).toBe("<s>efXY</s>");
    expect(e.labels).toEqual([-100, -100, -100, 88, 89, 257]);
    const f = encodeExample(tok, { prompt: "abc", answer: "0123456789" }, { maxLength: 5 });
    expect(f.ids.length).toBe(5);
    expect(f.promptLength).toBe(2);
  });

  test("answerOnlyLabels", () => {
    expect(answerOnlyLabels([5, 6, 7], 2)).toEqual([-100, -100, 7]);
    expect(() => answerOnlyLabels([5], 2)).toThrow(/promptLength 2/);
  });
});

describe("batching", () => {
  test("left and right padding with masks and labels", () => {
    const r = padArrays([[1, 2, 3], [4]], { side: "right", padId: 9, labels: [[-100, 2, 3], [4]] });
    expect([...r.ids]).toEqual([1, 2, 3, 4, 9, 9]);
    expect([...r.mask]).toEqual([1, 1, 1, 1, 0, 0]);
    expect([...r.labels!]).toEqual([-100, 2, 3, 4, -100, -100]);
    const l = padBatch([[1, 2, 3], [4]], { side: "left", padId: 9 });
    expect(l.ids.toArray()).toEqual([[1, 2, 3], [9, 9, 4]]);
    expect(l.attentionMask.toArray()).toEqual([[1, 1, 1], [0, 0, 1]]);
    expect(l.lengths).toEqual([3, 1]);
    for (const t of [l.ids, l.attentionMask]) t.dispose();
    expect([...padArrays([[1, 2, 3, 4]], { maxLength: 2, side: "left" }).ids]).toEqual([3, 4]);
    expect([...padArrays([[1, 2, 3, 4]], { maxLength: 2 }).ids]).toEqual([1, 2]);
    expect(padArrays([[1]], { padToMultipleOf: 8 }).T).toBe(8);
  });

  test("property: padding keeps every row's tokens in order and the mask counts them", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 0, maxLength: 9 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (rows, left) => {
        const r = padArrays(rows, { side: left ? "left" : "right", padId: -1 });
        rows.forEach((row, b) => {
          const ids = [...r.ids.subarray(b * r.T, (b + 1) * r.T)];
          const mask = [...r.mask.subarray(b * r.T, (b + 1) * r.T)];
          expect(ids.filter((_, i) => mask[i])).toEqual(row);
          expect(mask.reduce((a, x) => a + x, 0)).toBe(row.length);
          const firstReal = mask.indexOf(1);
          if (row.length) expect(left ? firstReal === r.T - row.length : firstReal === 0).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  test("encodeBatch pads with the tokenizer's PAD", () => {
    const tok = new ByteTokenizer();
    const b = encodeBatch(tok, ["ab", "c"], { addBos: true, side: "left" });
    expect(b.ids.toArray()).toEqual([[256, 97, 98], [258, 256, 99]]);
    b.ids.dispose();
    b.attentionMask.dispose();
  });
});
