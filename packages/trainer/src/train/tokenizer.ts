// The run's tokenizer and prompt template: the byte tokenizer by default, or a Hugging Face tokenizer.json.

import { existsSync, statSync } from "node:fs";
import { ByteTokenizer, CHAT_TEMPLATE, HfTokenizer, PLAIN_TEMPLATE, type PromptTemplate, type Tokenizer } from "@seekr/model";

/** "byte" → {@link ByteTokenizer}; a tokenizer.json file or a folder holding one → {@link HfTokenizer}. */
export function createTokenizer(spec: string): Tokenizer {
  if (spec === "byte") return new ByteTokenizer();
  if (!existsSync(spec)) throw new Error(`model.tokenizer: ${JSON.stringify(spec)} is neither "byte" nor an existing tokenizer.json or folder`);
  return statSync(spec).isDirectory() ? HfTokenizer.fromDirectory(spec) : HfTokenizer.fromFile(spec);
}

/** The prompt template by name ("plain": [BOS] prompt answer [EOS]; "chat": chat markers). */
export function promptTemplate(name: "plain" | "chat"): PromptTemplate {
  if (name === "plain") return PLAIN_TEMPLATE;
  if (name === "chat") return CHAT_TEMPLATE;
  throw new Error(`template: expected "plain" or "chat", got ${JSON.stringify(name)}`);
}

/** The padding id of a tokenizer (PAD, else EOS, else 0). */
export function padIdOf(tok: Tokenizer): number {
  return tok.padTokenId ?? tok.eosTokenId ?? 0;
}
