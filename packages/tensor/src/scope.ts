// Memory scopes: tidy() frees the tensors a function created (except what it returns), a FinalizationRegistry
// frees buffers of tensors dropped without dispose(), and memory() reports live tensors and bytes per device.
import { native } from "@seekr/native";
import type { Storage, Tensor } from "./tensor.js";

/** Native buffers held by tensors: a count (Storage adds and removes itself; memory() reports it). */
export const liveBuffers = { size: 0 };
let liveTensors = 0;
const scopes: Array<Set<Tensor>> = [];

// A tensor inside a scope is held by the scope's set until the scope ends, so the registry below only needs to know
// about tensors that are outside every scope: a tensor is registered when it is created outside a scope or when it
// leaves scope tracking alive (kept or returned past the outermost tidy, detached for autograd), and unregistered when
// it is disposed. Registering every tensor at creation cost more than the rest of a small op.
const registry = new FinalizationRegistry<Storage>((storage) => {
  // A tensor was garbage-collected without dispose(): give its reference back.
  liveTensors--;
  storage.release();
});

function register(t: Tensor): void {
  if (t._registered) return;
  t._registered = true;
  registry.register(t, t.storage, t);
}

function leaveScope(t: Tensor): void {
  t._scope = null;
  if (!t.isDisposed) register(t);
}

/** @internal called by the Tensor constructor. */
export function track(t: Tensor): void {
  liveTensors++;
  const top = scopes.length === 0 ? undefined : scopes[scopes.length - 1];
  if (top) {
    top.add(t);
    t._scope = top;
  } else register(t);
}

/** @internal called by the Tensor constructor for a tensor that starts outside every scope (its owner disposes it). */
export function trackDetached(t: Tensor): void {
  liveTensors++;
  register(t);
}

/** @internal called by Tensor.dispose(). */
export function untrack(t: Tensor): void {
  liveTensors--;
  if (t._registered) {
    t._registered = false;
    registry.unregister(t);
  }
  const s = t._scope;
  if (s) {
    s.delete(t);
    t._scope = null;
  }
}

/** @internal Puts a tensor (not tracked by any scope) into the innermost scope, if any. */
export function adopt(t: Tensor): void {
  const top = scopes.length === 0 ? undefined : scopes[scopes.length - 1];
  if (top && !t._scope) {
    top.add(t);
    t._scope = top;
  }
}

/** @internal Removes a tensor from scope tracking (it must be disposed by its owner). */
export function detachFromScope(t: Tensor): void {
  const s = t._scope;
  if (s) {
    s.delete(t);
    leaveScope(t);
  }
}

function collectTensors(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value === null || typeof value !== "object") return;
  if (isTensorLike(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
}

/** Brand set on every Tensor (works across copies of the module). */
export const TENSOR_BRAND: unique symbol = Symbol.for("seekr.tensor") as never;

export function isTensorLike(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[TENSOR_BRAND] === true;
}

/**
 * Runs fn and disposes every tensor it created, except the tensors it returns (in an array, a plain object or a Map)
 * and tensors marked with keep(). Returned tensors move to the enclosing scope. Autograd graphs that no returned
 * tensor needs any more are released too.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== "function") throw new Error(`tidy: expected a function, got ${fn === null ? "null" : typeof fn}`);
  const mine = new Set<Tensor>();
  scopes.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of [...mine]) {
      if (!t.kept) t.dispose();
      else if (t._scope === mine) leaveScope(t);
    }
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error("tidy(): the function must be synchronous (it returned a Promise)");
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  // Nodes still reachable from what survives keep their saved tensors.
  const survivors = [...keep];
  for (const t of mine) if (t.kept && !keep.has(t)) survivors.push(t);
  const reachable = reachableNodes(survivors);
  const parent = scopes.length === 0 ? undefined : scopes[scopes.length - 1];
  // Disposing removes a tensor from `mine` (untrack), so iterate over a copy.
  for (const t of [...mine]) {
    if (keep.has(t) || t.kept) {
      mine.delete(t);
      if (parent && !t.kept) {
        parent.add(t);
        t._scope = parent;
      } else leaveScope(t);
      continue;
    }
    const node = t.node;
    t.dispose();
    if (node && !reachable.has(node)) node.release();
  }
  return result;
}

type GradNodeLike = NonNullable<Tensor["node"]>;

const NO_NODES: ReadonlySet<object> = new Set<object>();

function reachableNodes(roots: Tensor[]): ReadonlySet<object> {
  const stack: GradNodeLike[] = [];
  for (const t of roots) if (t.node) stack.push(t.node);
  if (stack.length === 0) return NO_NODES;
  const seen = new Set<object>();
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const i of n.inputs) if (i.node && !seen.has(i.node)) stack.push(i.node);
  }
  return seen;
}

/** Disposes every tensor found in value (arrays, plain objects, Maps). */
export function dispose(value: unknown): void {
  const all = new Set<Tensor>();
  collectTensors(value, all);
  for (const t of all) t.dispose();
}

export interface MemoryInfo {
  /** Tensor objects not yet disposed (views count separately). */
  tensors: number;
  /** Native buffers held by tensors. */
  buffers: number;
  /** Bytes per device, as counted by the native allocator. */
  devices: Record<string, { bytes: number; buffers: number; peakBytes: number }>;
  /** Total bytes on all devices. */
  bytes: number;
}

/** Live tensors and bytes per device (the addon counts every buffer it allocated and has not freed). */
export function memory(): MemoryInfo {
  const rows = native.memory();
  const devices: MemoryInfo["devices"] = {};
  let bytes = 0;
  for (const r of rows) {
    devices[r.device] = { bytes: r.bytes, buffers: r.buffers, peakBytes: r.peakBytes };
    bytes += r.bytes;
  }
  return { tensors: liveTensors, buffers: liveBuffers.size, devices, bytes };
}

export function resetPeakMemory(): void {
  native.resetPeakMemory();
}
