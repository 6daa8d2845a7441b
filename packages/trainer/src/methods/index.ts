// Continual-learning methods: SeqFT, Replay, DER++, LwF, EWC, SEEKR (and multitask via the loop), and the Method interface.

export { lmLoss, type ReplayTerms, replayTerms, splitBySource } from "./common.js";
export { createEWC } from "./ewc.js";
export { createLwF } from "./lwf.js";
export { copyParameters, frozenCopy } from "./params.js";
export { createMethod, methodNames, registerMethod } from "./registry.js";
export { createDerpp, createReplay } from "./replay.js";
export { headKey, pickReplay, ReplayStore, replaySeed } from "./replay-store.js";
export { createSeekr, queryRowsFor, type Selection } from "./seekr.js";
export { createSeqFT } from "./seqft.js";
export { computeTeacherSignals, groupHeads, logitStorage, type TeacherRequest, type TeacherSignals } from "./teacher.js";
export type { ImportanceRecord, LossResult, Method, MethodEnv, MethodFactory, MethodState, StepContext, TaskContext, TaskReport } from "./types.js";
