// Hierarchical head selection (SEEKR §5): layer budget, then head budget, plus random/all ablations.

import { type Budget, resolveBudget } from "./budget.js";
import { formatValue, isCount } from "./format.js";
import { checkKvHeads } from "./gqa.js";
import { type CheckedImportance, type ImportanceInput, layerScoresOf, toImportanceMatrix } from "./importance.js";
import { createRng, sampleDistinct } from "./rng.js";

/**
 * How heads are chosen:
 * - "importance" (default): hierarchical — the `layerBudget` layers with the largest summed importance,
 *   then the `headBudget` most important heads among those layers;
 * - "random": ablation — `headBudget` heads uniformly at random among all heads (seeded); `layerBudget`
 *   is validated but not used;
 * - "all": every head of every layer (no budget).
 */
export type Strategy = "importance" | "random" | "all";

/**
 * The unit of selection: single query heads ("query", default) or whole key/value groups ("kv"; needs
 * `kvHeads`). A kv group's importance is the sum of its query heads' importances.
 */
export type GroupBy = "query" | "kv";

export interface SelectHeadsOptions {
  /** B_L: layers kept in stage 1 — a count or `{ fraction }` of the layers. Required for "importance". */
  readonly layerBudget?: Budget;
  /**
   * B_H: query heads kept — a count or `{ fraction }` of all heads (layers × heads). Required for
   * "importance" and "random". With `groupBy: "kv"` it is converted to whole kv groups, see
   * {@link resolveBudgets}.
   */
  readonly headBudget?: Budget;
  /** Default "importance". */
  readonly strategy?: Strategy;
  /** Integer seed for "random" (default 0). */
  readonly seed?: number;
  /** Number of key/value heads per layer (grouped-query attention); must divide the number of heads. */
  readonly kvHeads?: number;
  /** Default "query". "kv" requires `kvHeads`. */
  readonly groupBy?: GroupBy;
}

export interface SelectedHead {
  readonly layer: number;
  readonly head: number;
  readonly importance: number;
  /** The kv group of the head; present when `kvHeads` was given. */
  readonly kvGroup?: number;
}

export interface SelectedGroup {
  readonly layer: number;
  readonly group: number;
  /** Sum of the importances of the group's query heads. */
  readonly importance: number;
  /** The group's query heads, ascending. */
  readonly heads: readonly number[];
}

/** Budgets resolved to counts, as {@link selectHeads} uses them. */
export interface ResolvedBudgets {
  /** Layers eligible for head selection (B_L for "importance"; every layer for "random" and "all"). */
  readonly layers: number;
  /** Query heads budget B_H, clamped to the number of heads of the model. */
  readonly heads: number;
  /** With `groupBy: "kv"`: the number of kv groups to keep. */
  readonly kvGroups?: number;
}

export interface HeadSelection {
  readonly strategy: Strategy;
  readonly groupBy: GroupBy;
  /**
   * Selected layers, ascending. For "importance" these are the top-B_L layers (stage 1), which may
   * include a layer none of whose heads made the head budget; for "random" the layers holding a chosen
   * head; for "all" every layer. {@link headsByLayer} lists only the layers that hold selected heads.
   */
  readonly layers: readonly number[];
  /** Selected heads, by importance descending; ties: lower layer first, then lower head. */
  readonly heads: readonly SelectedHead[];
  /** With `groupBy: "kv"`: the selected groups, by importance descending (ties: lower layer, lower group). */
  readonly kvGroups?: readonly SelectedGroup[];
  /** Σ_h I[l][h] for every layer of the model (not only the selected ones). */
  readonly layerScores: readonly number[];
  /** The budgets in force, resolved to counts. */
  readonly budget: ResolvedBudgets;
}

/** The shape of a model: layers and query heads per layer. */
export interface ModelShape {
  readonly layers: number;
  readonly heads: number;
}

const STRATEGIES: readonly Strategy[] = ["importance", "random", "all"];
const GROUP_BYS: readonly GroupBy[] = ["query", "kv"];

interface Plan {
  readonly strategy: Strategy;
  readonly groupBy: GroupBy;
  readonly kvHeads: number | undefined;
  readonly groupSize: number;
  readonly budget: ResolvedBudgets;
}

function plan(shape: ModelShape, options: SelectHeadsOptions): Plan {
  if (typeof options !== "object" || options === null) {
    throw new Error(`options: expected an object, got ${formatValue(options)}`);
  }
  const strategy = options.strategy ?? "importance";
  if (!STRATEGIES.includes(strategy)) {
    throw new Error(`strategy: expected "importance", "random" or "all", got ${formatValue(strategy)}`);
  }
  const groupBy = options.groupBy ?? "query";
  if (!GROUP_BYS.includes(groupBy)) {
    throw new Error(`groupBy: expected "query" or "kv", got ${formatValue(groupBy)}`);
  }
  const { layers, heads } = shape;
  const kvHeads = options.kvHeads;
  const groupSize = kvHeads === undefined ? 1 : checkKvHeads(heads, kvHeads);
  if (groupBy === "kv" && kvHeads === undefined) throw new Error(`groupBy: "kv" requires kvHeads`);
  if (options.seed !== undefined) createRng(options.seed); // validates

  const { layerBudget, headBudget } = options;
  if (strategy === "importance" && layerBudget === undefined) {
    throw new Error(`layerBudget: required for strategy "importance" (a count or {fraction})`);
  }
  if (strategy !== "all" && headBudget === undefined) {
    throw new Error(`headBudget: required for strategy "${strategy}" (a count or {fraction})`);
  }
  const totalHeads = layers * heads;
  const bL = layerBudget === undefined ? layers : resolveBudget(layerBudget, layers, "layerBudget");
  const bH = headBudget === undefined ? totalHeads : resolveBudget(headBudget, totalHeads, "headBudget");

  const resolved: { layers: number; heads: number; kvGroups?: number } =
    strategy === "importance" ? { layers: bL, heads: bH } : strategy === "random" ? { layers, heads: bH } : { layers, heads: totalHeads };
  if (groupBy === "kv") {
    const totalGroups = heads === 0 ? 0 : layers * (kvHeads ?? 0);
    resolved.kvGroups =
      resolved.heads === 0 ? 0 : Math.min(totalGroups, Math.max(1, Math.round(resolved.heads / groupSize)));
  }
  return { strategy, groupBy, kvHeads, groupSize, budget: resolved };
}

function shapeOf(input: ModelShape | readonly (readonly number[])[]): ModelShape {
  if (Array.isArray(input)) {
    const rows = input as readonly (readonly number[])[];
    return { layers: rows.length, heads: rows[0]?.length ?? 0 };
  }
  const { layers, heads } = input as ModelShape;
  if (!isCount(layers)) throw new Error(`layers: expected a non-negative integer, got ${formatValue(layers)}`);
  if (!isCount(heads)) throw new Error(`heads: expected a non-negative integer, got ${formatValue(heads)}`);
  return { layers, heads };
}

/**
 * Resolves the budgets of `options` against a model shape (or an importance matrix), exactly as
 * {@link selectHeads} does, so trainers can report the counts. With `groupBy: "kv"` the head budget
 * (in query heads) becomes round(B_H / groupSize) whole groups (halves up), at least 1 when B_H > 0;
 * the selection then holds kvGroups × groupSize query heads, which may differ from B_H by up to half
 * a group.
 */
export function resolveBudgets(
  shape: ModelShape | ImportanceInput,
  options: SelectHeadsOptions,
): ResolvedBudgets {
  return plan(shapeOf(shape), options).budget;
}

/** Orders (score desc, then lower layer, then lower index). Never subtracts, so Infinity is safe. */
function byImportance(
  a: { readonly importance: number; readonly layer: number },
  ai: number,
  b: { readonly importance: number; readonly layer: number },
  bi: number,
): number {
  if (a.importance > b.importance) return -1;
  if (a.importance < b.importance) return 1;
  if (a.layer !== b.layer) return a.layer - b.layer;
  return ai - bi;
}

const headOrder = (a: SelectedHead, b: SelectedHead): number => byImportance(a, a.head, b, b.head);
const groupOrder = (a: SelectedGroup, b: SelectedGroup): number => byImportance(a, a.group, b, b.group);

function topLayers(scores: readonly number[], count: number): number[] {
  const order = scores.map((importance, layer) => ({ importance, layer }));
  order.sort((a, b) => byImportance(a, 0, b, 0));
  return order
    .slice(0, count)
    .map((x) => x.layer)
    .sort((a, b) => a - b);
}

function makeHead(m: CheckedImportance, p: Plan, layer: number, head: number): SelectedHead {
  const importance = m.data[layer * m.heads + head] ?? 0;
  return p.kvHeads === undefined
    ? { layer, head, importance }
    : { layer, head, importance, kvGroup: Math.floor(head / p.groupSize) };
}

function makeGroup(m: CheckedImportance, p: Plan, layer: number, group: number): SelectedGroup {
  const heads: number[] = [];
  let importance = 0;
  for (let i = 0; i < p.groupSize; i++) {
    const head = group * p.groupSize + i;
    heads.push(head);
    importance += m.data[layer * m.heads + head] ?? 0;
  }
  return { layer, group, importance, heads };
}

/**
 * Selects the attention heads to distill (SEEKR §5).
 *
 * "importance" (default): keeps the B_L layers with the largest Σ_h I[l][h] (ties: lower layer), then
 * among the heads of those layers the B_H with the largest I[l][h] (ties: lower layer, then lower
 * head) — exactly min(B_H, heads in the kept layers) heads. With `groupBy: "kv"` stage 2 ranks whole kv
 * groups by summed importance (ties: lower layer, then lower group) and keeps
 * min(kvGroups, groups in the kept layers) of them.
 *
 * Throws an Error naming the offending field for invalid importance, budgets, strategy, kvHeads or seed.
 */
export function selectHeads(importance: ImportanceInput, options: SelectHeadsOptions): HeadSelection {
  const m = toImportanceMatrix(importance);
  const p = plan(m, options);
  const layerScores = layerScoresOf(m);
  const { strategy, groupBy, budget } = p;
  const kvHeads = p.kvHeads ?? 0;
  // A model without heads has no (non-empty) kv groups either.
  const unitsPerLayer = groupBy === "kv" ? (m.heads === 0 ? 0 : kvHeads) : m.heads;
  const unitBudget = groupBy === "kv" ? (budget.kvGroups ?? 0) : budget.heads;

  let layers: number[];
  let units: Array<{ layer: number; index: number }>;
  if (strategy === "all") {
    layers = Array.from({ length: m.layers }, (_, l) => l);
    units = [];
    for (const layer of layers) for (let i = 0; i < unitsPerLayer; i++) units.push({ layer, index: i });
  } else if (strategy === "random") {
    const rng = createRng(options.seed ?? 0);
    const total = m.layers * unitsPerLayer;
    units = sampleDistinct(total, Math.min(unitBudget, total), rng).map((u) => ({
      layer: Math.floor(u / unitsPerLayer),
      index: u % unitsPerLayer,
    }));
    layers = [...new Set(units.map((u) => u.layer))].sort((a, b) => a - b);
  } else {
    layers = topLayers(layerScores, budget.layers);
    units = [];
    for (const layer of layers) for (let i = 0; i < unitsPerLayer; i++) units.push({ layer, index: i });
  }

  if (groupBy === "kv") {
    let groups = units.map((u) => makeGroup(m, p, u.layer, u.index)).sort(groupOrder);
    if (strategy === "importance") groups = groups.slice(0, unitBudget);
    const heads = groups.flatMap((g) => g.heads.map((h) => makeHead(m, p, g.layer, h))).sort(headOrder);
    return { strategy, groupBy, layers, heads, kvGroups: groups, layerScores, budget };
  }
  let heads = units.map((u) => makeHead(m, p, u.layer, u.index)).sort(headOrder);
  if (strategy === "importance") heads = heads.slice(0, unitBudget);
  return { strategy, groupBy, layers, heads, layerScores, budget };
}

/**
 * The selected heads grouped by layer: layers that hold at least one selected head, ascending, each
 * with its heads ascending — the form a trainer needs to gather attention rows layer by layer.
 */
export function headsByLayer(selection: Pick<HeadSelection, "heads">): Array<{ layer: number; heads: number[] }> {
  const byLayer = new Map<number, number[]>();
  for (const { layer, head } of selection.heads) {
    const list = byLayer.get(layer);
    if (list === undefined) byLayer.set(layer, [head]);
    else list.push(head);
  }
  return [...byLayer.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([layer, heads]) => ({ layer, heads: heads.sort((a, b) => a - b) }));
}
