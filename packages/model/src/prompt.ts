// Prompt templates for instruction data and chats, and answer-only labels (prompt tokens → -100) for tuning.
import type { Tokenizer } from "./tokenizer.js";

/** A piece of a rendered prompt: plain text, or a special token named by its text (or "bos" / "eos"). */
export type Segment = { text: string } | { special: string };

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/**
 * How instruction examples and chats become token sequences. A special segment resolves to the tokenizer's special
 * token of that text; when the tokenizer has none (say a byte tokenizer without chat markers) it is encoded as text.
 */
export interface PromptTemplate {
  readonly name: string;
  /** Segments of the prompt part (everything the model is conditioned on). */
  prompt(prompt: string): Segment[];
  /** Segments of the answer part (what the model learns to produce). */
  answer(answer: string): Segment[];
  /** Segments of a whole chat; with addGenerationPrompt, ends where the assistant's reply begins. */
  chat(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): Segment[];
}

/**
 * "plain": [BOS] prompt answer [EOS] — the prompt is used verbatim (TRACE-style data carries its own instruction
 * text). Chats render as "role: content\n" lines.
 */
export const PLAIN_TEMPLATE: PromptTemplate = {
  name: "plain",
  prompt: (prompt) => [{ special: "bos" }, { text: prompt }],
  answer: (answer) => [{ text: answer }, { special: "eos" }],
  chat(messages, opts = {}) {
    const out: Segment[] = [{ special: "bos" }];
    for (const m of messages) out.push({ text: `${m.role}: ${m.content}\n` });
    if (opts.addGenerationPrompt) out.push({ text: "assistant: " });
    return out;
  },
};

/**
 * "chat": [BOS]<|user|>\n{prompt}<|end|>\n<|assistant|>\n{answer}<|end|>[EOS], with <|system|> likewise for system
 * messages. <|user|>, <|assistant|>, <|system|> and <|end|> are special tokens where the tokenizer has them
 * (`new ByteTokenizer({ specialTokens: BYTE_CHAT_SPECIAL_TOKENS })` does).
 */
export const CHAT_TEMPLATE: PromptTemplate = {
  name: "chat",
  prompt: (prompt) => [{ special: "bos" }, { special: "<|user|>" }, { text: `\n${prompt}` }, { special: "<|end|>" }, { text: "\n" }, { special: "<|assistant|>" }, { text: "\n" }],
  answer: (answer) => [{ text: answer }, { special: "<|end|>" }, { special: "eos" }],
  chat(messages, opts = {}) {
    const out: Segment[] = [{ special: "bos" }];
    for (const m of messages) out.push({ special: `<|${m.role}|>` }, { text: `\n${m.content}` }, { special: "<|end|>" }, { text: "\n" });
    if (opts.addGenerationPrompt) out.push({ special: "<|assistant|>" }, { text: "\n" });
    return out;
  },
};

/** Token ids of rendered segments. "bos" / "eos" are skipped when the tokenizer has no such token. */
export function encodeSegments(tokenizer: Tokenizer, segments: readonly Segment[]): number[] {
  const ids: number[] = [];
  for (const s of segments) {
    if ("text" in s) {
      if (s.text.length) ids.push(...tokenizer.encode(s.text));
      continue;
    }
    if (s.special === "bos" || s.special === "eos") {
      const id = s.special === "bos" ? tokenizer.bosTokenId : tokenizer.eosTokenId;
      if (id !== null) ids.push(id);
      continue;
    }
    const id = tokenizer.specialTokenId(s.special);
    if (id !== undefined) ids.push(id);
    else ids.push(...tokenizer.encode(s.special));
  }
  return ids;
}

export interface EncodedExample {
  /** prompt ids followed by answer ids */
  ids: number[];
  /** ids with the prompt positions set to -100 (Hugging Face alignment: the model shifts) */
  labels: number[];
  /** number of prompt tokens (ids[promptLength] is the first answer token) */
  promptLength: number;
}

export interface EncodeExampleOptions {
  template?: PromptTemplate;
  /**
   * Longest sequence: when prompt + answer is longer, the prompt loses tokens from its start (its first token, BOS,
   * is kept) and then, if the answer alone is too long, the answer loses tokens from its end.
   */
  maxLength?: number;
}

/**
 * One instruction example for tuning: prompt and answer are encoded separately (so the boundary is exact) and the
 * labels mask the prompt, so the loss covers the answer tokens only (SEEKR's L_task / L_replay).
 */
export function encodeExample(tokenizer: Tokenizer, example: { prompt: string; answer: string }, opts: EncodeExampleOptions = {}): EncodedExample {
  const template = opts.template ?? PLAIN_TEMPLATE;
  let p = encodeSegments(tokenizer, template.prompt(example.prompt));
  let a = encodeSegments(tokenizer, template.answer(example.answer));
  const max = opts.maxLength;
  if (max !== undefined) {
    if (!Number.isInteger(max) || max < 2) throw new Error(`encodeExample: maxLength must be an integer >= 2, got ${max}`);
    if (p.length + a.length > max) {
      const keepHead = p.length > 0 && p[0] === tokenizer.bosTokenId ? 1 : 0;
      const room = Math.max(keepHead + 1, max - a.length);
      if (p.length > room) p = [...p.slice(0, keepHead), ...p.slice(p.length - (room - keepHead))];
      if (p.length + a.length > max) a = a.slice(0, max - p.length);
    }
  }
  const ids = [...p, ...a];
  return { ids, labels: answerOnlyLabels(ids, p.length), promptLength: p.length };
}

/** The prompt part only (for generation): template.prompt(prompt) encoded. */
export function encodePrompt(tokenizer: Tokenizer, prompt: string, template: PromptTemplate = PLAIN_TEMPLATE): number[] {
  return encodeSegments(tokenizer, template.prompt(prompt));
}

/** Labels for ids where the first `promptLength` positions are -100 and the rest copy the ids (HF alignment). */
export function answerOnlyLabels(ids: readonly number[], promptLength: number): number[] {
  if (!Number.isInteger(promptLength) || promptLength < 0 || promptLength > ids.length)
    throw new Error(`answerOnlyLabels: promptLength ${promptLength} is not in [0, ${ids.length}]`);
  return ids.map((id, i) => (i < promptLength ? -100 : id));
}
