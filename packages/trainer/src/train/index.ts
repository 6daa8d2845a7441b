// Training building blocks: tokenizer and template, batches with answer-only labels, distillation losses.

export { answerPositions, type BatchRow, ExampleEncoder, flatAnswerPositions, makeBatch, type TrainBatch } from "./batch.js";
export { gatherPositions, klToTeacher, probsAt, scalarValue } from "./losses.js";
export { createTokenizer, padIdOf, promptTemplate } from "./tokenizer.js";
