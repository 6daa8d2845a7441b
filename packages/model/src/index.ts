// @seekr/model: a LLaMA-style decoder with attention taps, tokenizers, Hugging Face checkpoints and generation.

export { type LlamaConfig, type LlamaConfigInput, HF_FIELD, llamaConfig, validateConfig, fromHfConfig, toHfConfig, eosIds, parameterShapes, parameterCount } from "./config.js";
export {
  LlamaModel, meanSensitivity,
  type LayerTap, type LayerDistill, type SensitivityMode, type ForwardOptions, type ForwardResult, type AttendContext, type AttendResult, type InitOptions,
} from "./model.js";
export { KVCache } from "./cache.js";
export { mirroredTensor } from "./host.js";
export {
  saveCheckpoint, loadCheckpoint, loadConfig, checkpointFiles, toBf16, fromBf16, CONFIG_FILE, SINGLE_FILE, INDEX_FILE,
  type StorageDType, type SaveOptions, type SavedCheckpoint, type LoadCheckpointOptions,
} from "./checkpoint.js";
export {
  type Tokenizer, type EncodeOptions, type DecodeOptions, type ByteTokenizerOptions, ByteTokenizer, BYTE_SPECIAL_TOKENS, BYTE_CHAT_SPECIAL_TOKENS,
} from "./tokenizer.js";
export { HfTokenizer, type HfTokenizerOptions } from "./hf-tokenizer.js";
export {
  type Segment, type ChatMessage, type PromptTemplate, type EncodedExample, type EncodeExampleOptions,
  PLAIN_TEMPLATE, CHAT_TEMPLATE, encodeSegments, encodeExample, encodePrompt, answerOnlyLabels,
} from "./prompt.js";
export { type PaddingSide, type PadOptions, type PaddedBatch, padArrays, padBatch, encodeBatch } from "./batch.js";
export { type SamplingOptions, createRandom, selectToken, argmaxRow } from "./sampling.js";
export { type GenerateOptions, type GenerateResult, type FinishReason, generate, generateText } from "./generate.js";
