// Per-op timing of native calls: where a training step spends its host and device time.
import { native } from "@seekr/native";

export interface OpProfile {
  /** The native op (matmul, attention, cast, ...). */
  op: string;
  calls: number;
  /** Host milliseconds inside the native calls (launching kernels, or running them on the CPU). */
  hostMs: number;
  /** GPU milliseconds between events recorded around each call (0 while no GPU is in use). */
  deviceMs: number;
}

let active = false;

/**
 * Runs fn with every native call timed and returns its result with the time per op, most device time first (host time
 * on the CPU). The device times need the GPU to finish: profile() waits for it at the end. Not nestable.
 */
export function profile<T>(fn: () => T): { result: T; ops: OpProfile[]; wallMs: number } {
  if (typeof fn !== "function") throw new Error(`profile: expected a function, got ${fn === null ? "null" : typeof fn}`);
  if (active) throw new Error("profile: already profiling (profile() calls do not nest)");
  active = true;
  native.profileStart();
  const t0 = performance.now();
  let result: T;
  let rows: ReturnType<typeof native.profileStop> = [];
  try {
    result = fn();
    if (result instanceof Promise) throw new Error("profile: fn must be synchronous (it returned a Promise)");
  } finally {
    rows = native.profileStop(); // waits for the GPU: the wall time below includes the queued kernels
    active = false;
  }
  const wallMs = performance.now() - t0;
  const ops = rows.map((r) => ({ op: r.op, calls: r.calls, hostMs: r.hostMs, deviceMs: r.deviceMs }));
  ops.sort((a, b) => b.deviceMs - a.deviceMs || b.hostMs - a.hostMs);
  return { result, ops, wallMs };
}
