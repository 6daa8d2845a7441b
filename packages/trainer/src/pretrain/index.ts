// The base model: generic pre-training corpus, pre-training loop, cached base checkpoints.

export { corpusDocument, corpusLine, corpusStream } from "./corpus.js";
export {
  type BaseModel,
  baseModelKey,
  baseModelSpec,
  cacheRoot,
  ensureBaseModel,
  loadBaseModel,
  modelConfigFor,
  PRETRAIN_RECIPE,
  pretrain,
  pretrainLr,
  type PretrainOptions,
  type PretrainProgress,
} from "./base.js";
