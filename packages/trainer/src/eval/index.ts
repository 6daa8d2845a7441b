// Evaluation: greedy generation and task metrics.

export { AbortError, type EvaluateOptions, evaluateTask, predict, type TaskEvaluation, yieldToEventLoop } from "./evaluate.js";
