// Public API of @seekr/budget: hierarchical budget allocation for SEEKR attention distillation.

export { type Budget, checkQueryBudget, resolveBudget } from "./budget.js";
export { checkKvHeads, kvGroupHeads, kvGroupOf } from "./gqa.js";
export {
  type CheckedImportance,
  type ImportanceInput,
  type ImportanceMatrix,
  layerScoresOf,
  toImportanceMatrix,
} from "./importance.js";
export { type QueryRowSource, selectQueryRows } from "./query.js";
export { createRng, type Rng, sampleDistinct } from "./rng.js";
export {
  type GroupBy,
  type HeadSelection,
  headsByLayer,
  type ModelShape,
  type ResolvedBudgets,
  resolveBudgets,
  type SelectedGroup,
  type SelectedHead,
  type SelectHeadsOptions,
  selectHeads,
  type Strategy,
} from "./select.js";
