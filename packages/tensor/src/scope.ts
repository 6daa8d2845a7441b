// Memory scopes: tidy() frees the tensors a function created (except what it returns), a FinalizationRegistry
// frees buffers of tensors dropped without dispose(), and memory() reports live tensors and bytes per device.
import { native } from "@seekr/native";
import type { Storage, Tensor } from "./tensor.js";

export const liveBuffers = new Set<Storage>();
let liveTensors = 0;
const scopes: Array<Set<Tensor>> = [];
const scopeOf = new WeakMap<Tensor, Set<Tensor>>();

const registry = new FinalizationRegistry<Storage>((storage) => {
  // A tensor was garbage-collected without dispose(): give its reference back.
  liveTensors--;
  storage.release();
});

/** @internal called by the Tensor constructor. */
export function track(t: Tensor): void {
  liveTensors++;
  registry.register(t, t.storage, t);
  const top = scopes[scopes.length - 1];
  if (top) {
    top.add(t);
    scopeOf.set(t, top);
  }
}

/** @internal called by Tensor.dispose(). */
export function untrack(t: Tensor): void {
  liveTensors--;
  registry.unregister(t);
  const s = scopeOf.get(t);
  if (s) {
    s.delete(t);
    scopeOf.delete(t);
  }
}

/** @internal Puts a tensor (not tracked by any scope) into the innermost scope, if any. */
export function adopt(t: Tensor): void {
  const top = scopes[scopes.length - 1];
  if (top && !scopeOf.has(t)) {
    top.add(t);
    scopeOf.set(t, top);
  }
}

/** @internal Removes a tensor from scope tracking (it must be disposed by its owner). */
export function detachFromScope(t: Tensor): void {
  const s = scopeOf.get(t);
  if (s) {
    s.delete(t);
    scopeOf.delete(t);
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
    for (const t of [...mine]) if (!t.kept) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error("tidy(): the function must be synchronous (it returned a Promise)");
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  // Nodes still reachable from what survives keep their saved tensors.
  const survivors = [...keep, ...[...mine].filter((t) => t.kept)];
  const reachable = reachableNodes(survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of [...mine]) {
    if (keep.has(t) || t.kept) {
      mine.delete(t);
      scopeOf.delete(t);
      if (parent && !t.kept) {
        parent.add(t);
        scopeOf.set(t, parent);
      }
      continue;
    }
    const node = t.node;
    t.dispose();
    if (node && !reachable.has(node)) node.release();
  }
  return result;
}

function reachableNodes(roots: Tensor[]): Set<object> {
  const seen = new Set<object>();
  const stack = roots.filter((t) => t.node).map((t) => t.node!);
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
