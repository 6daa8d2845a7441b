// Evaluation: batched greedy generation with a KV cache on a task's split, scored with the task's metric.

import { encodePrompt, generate, type LlamaModel, type PromptTemplate, type Tokenizer } from "@seekr/model";
import type { Example, TaskData } from "../data/types.js";
import { type ScoredItem, scoreCorpus } from "../metrics/registry.js";

export interface EvaluateOptions {
  tokenizer: Tokenizer;
  template: PromptTemplate;
  /** Generated tokens per prompt at most. */
  maxNewTokens: number;
  /** Prompts per generation batch. */
  batchSize: number;
  /** Longest prompt + generation in tokens: longer prompts lose tokens from their start (BOS kept). */
  maxLength?: number;
  split?: "test" | "eval";
  /** Checked between batches; when aborted, evaluation throws an AbortError. */
  signal?: AbortSignal;
}

export interface TaskEvaluation {
  task: string;
  metric: string;
  /** Corpus score in points (0..100). */
  score: number;
  items: number;
  predictions: string[];
}

/** An abort observed during a long operation. */
export class AbortError extends Error {
  constructor(what = "run") {
    super(`${what} aborted`);
    this.name = "AbortError";
  }
}

/** Resolves after pending I/O and timers had a turn (the engine is synchronous; signals need the event loop). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function promptIds(tok: Tokenizer, template: PromptTemplate, prompt: string, room: number | undefined): number[] {
  const ids = encodePrompt(tok, prompt, template);
  if (room === undefined || ids.length <= room) return ids;
  const keepHead = ids[0] === tok.bosTokenId ? 1 : 0;
  return [...ids.slice(0, keepHead), ...ids.slice(ids.length - (room - keepHead))];
}

/**
 * Greedy predictions for examples, in their order. Prompts are grouped by length (fewer pad tokens)
 * into batches of `batchSize`; generation stops at EOS or after `maxNewTokens`.
 */
export async function predict(model: LlamaModel, examples: readonly Example[], opts: EvaluateOptions): Promise<string[]> {
  const room = opts.maxLength === undefined ? undefined : Math.max(2, opts.maxLength - opts.maxNewTokens);
  const encoded = examples.map((e) => promptIds(opts.tokenizer, opts.template, e.prompt, room));
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length || a - b);
  const out = new Array<string>(examples.length);
  for (let s = 0; s < order.length; s += opts.batchSize) {
    await yieldToEventLoop(); // lets a SIGINT handler run and abort the signal
    if (opts.signal?.aborted) throw new AbortError("evaluation");
    const idx = order.slice(s, s + opts.batchSize);
    const r = generate(
      model,
      idx.map((i) => encoded[i]!),
      {
        maxNewTokens: opts.maxNewTokens,
        tokenizer: opts.tokenizer,
        ...(opts.tokenizer.eosTokenId !== null ? { eosTokenId: opts.tokenizer.eosTokenId } : {}),
        ...(opts.tokenizer.padTokenId !== null ? { padTokenId: opts.tokenizer.padTokenId } : {}),
      },
    );
    idx.forEach((i, j) => {
      out[i] = r.text![j]!;
    });
  }
  return out;
}

/** Scores the model on one task's split with the task's metric. */
export async function evaluateTask(model: LlamaModel, task: TaskData, opts: EvaluateOptions): Promise<TaskEvaluation> {
  const examples = task[opts.split ?? "test"];
  if (examples.length === 0) throw new Error(`evaluate: task ${JSON.stringify(task.name)} has an empty ${opts.split ?? "test"} split`);
  const predictions = await predict(model, examples, opts);
  const items: ScoredItem[] = examples.map((e, i) => ({ prompt: e.prompt, prediction: predictions[i]!, references: e.answer }));
  return { task: task.name, metric: task.metric, score: scoreCorpus(task.metric, items), items: items.length, predictions };
}
