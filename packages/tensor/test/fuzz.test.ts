// Fuzz: no input from JavaScript may crash the process — random garbage at every native binding and every public op.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import fc from "fast-check";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { native, type Handle, type NativeAddon } from "@seekr/native";
import * as st from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const NATIVE_JS = join(here, "..", "..", "..", "native", "index.js");
/** Runs per native binding / per TS op; FUZZ_RUNS scales them (e.g. FUZZ_RUNS=2000 for a long soak). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
/** A fixed seed by default so CI is reproducible; FUZZ_SEED=<n> replays a run, FUZZ_SEED=random explores. */
const SEED = process.env.FUZZ_SEED === "random" ? undefined : Number(process.env.FUZZ_SEED ?? 20251126);
const fcParams = (numRuns = RUNS) => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });

type Fn = (...args: unknown[]) => unknown;
const N = native as unknown as Record<string, Fn>;
const DEFAULT_THREADS = native.backendInfo().threads;

// =================================================================================================================
// Known crash / hang bugs. Each is reproduced in a child process (a segfault there cannot take the test runner down).
// The in-process fuzz below skips exactly these triggers only while the child still crashes or hangs, so the skip
// disappears by itself once the engine is fixed.

interface KnownBug {
  id: string;
  op: string; // the binding; the child must see an Error "seekr.<op...>:"
  what: string;
  /** JS module source run as `node --input-type=module -e`; `n` is the addon. It must throw a seekr.* Error. */
  repro: string;
  hang?: boolean;
  /** Does this in-process call hit the bug's trigger? */
  trigger: (fn: string, args: unknown[], w: World) => boolean;
}

const I64 = 2n ** 63n;
const isInt = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x);
/** True when the bounds check's int64 arithmetic (stride * (dim - 1), summed) would overflow. */
function spanOverflows(shapeArg: unknown, stridesArg: unknown, offset: unknown = 0): boolean {
  if (!Array.isArray(shapeArg) || !Array.isArray(stridesArg)) return false;
  const shape = Array.from(shapeArg as unknown[]); // holes become undefined (every() would skip them)
  const strides = Array.from(stridesArg as unknown[]);
  if (!shape.every(isInt) || !strides.every(isInt)) return false;
  if (shape.some((d) => d === 0)) return false;
  let lo = BigInt(isInt(offset) ? offset : 0), hi = lo;
  for (let i = 0; i < Math.min(shape.length, strides.length); i++) {
    const span = BigInt(strides[i] as number) * BigInt((shape[i] as number) - 1);
    if (span >= I64 || span < -I64) return true;
    if (span > 0n) hi += span; else lo += span;
    if (hi >= I64 || lo < -I64) return true;
  }
  return false;
}
const num = (x: unknown) => (typeof x === "number" ? x : NaN);

const KNOWN_BUGS: KnownBug[] = [
  {
    id: "binary-stride-overflow", op: "add",
    what: "binary: strided_in_bounds computes stride*(dim-1) in int64 without overflow checks; 2^52*4096 wraps to 0, the view passes and the kernel reads 2^52 elements past the buffer",
    repro: "const a = n.alloc(0,0,0,4097), b = n.alloc(0,0,0,4097), o = n.alloc(0,0,0,4097); n.binary(0, a, [2**52], b, [1], o, [4097]);",
    trigger: (fn, a) => fn === "binary" && (spanOverflows(a[6], a[2]) || spanOverflows(a[6], a[4])),
  },
  {
    id: "where-stride-overflow", op: "where",
    what: "where: same int64 overflow in the strided bounds check",
    repro: "const c = n.alloc(0,0,0,4097), o = n.alloc(0,0,0,4097); n.where(c, [1], c, [2**52], c, [1], o, [4097]);",
    trigger: (fn, a) => fn === "where" && [1, 3, 5].some((i) => spanOverflows(a[7], a[i])),
  },
  {
    id: "stridedCopy-stride-overflow", op: "stridedCopy",
    what: "stridedCopy: same int64 overflow in the strided bounds check (source side)",
    repro: "const a = n.alloc(0,0,0,4097), o = n.alloc(0,0,0,4097); n.stridedCopy(a, 0, [2**52], o, 0, [1], [4097]);",
    trigger: (fn, a) => fn === "stridedCopy" && (spanOverflows(a[6], a[2], a[1]) || spanOverflows(a[6], a[5], a[4])),
  },
  {
    id: "matmul-batch-stride-overflow", op: "matmul",
    what: "matmul: strideA*(batch-1)+M*K is computed in size_t and wraps (2^52*4096 = 2^64 -> 0), so a 1-element 'a' passes require_at_least and the GEMM reads far outside it",
    repro: "const a = n.alloc(0,0,0,1), b = n.alloc(0,0,0,1), c = n.alloc(0,0,0,4097); n.matmul(a, b, c, 4097, 1, 1, 1, false, false, 2**52, 0, 1, 0);",
    trigger: (fn, a) => {
      if (fn !== "matmul" || !isInt(a[3]) || a[3] < 2) return false;
      return [9, 10].some((i) => isInt(a[i]) && BigInt(a[i] as number) * BigInt((a[3] as number) - 1) >= 2n ** 62n);
    },
  },
  {
    id: "binary-getter-dispose", op: "add",
    what: "binary: the tensor handle is validated (alive) first, then reading the strides array runs a JS getter that disposes it; the kernel then dereferences the freed buffer (ptr == nullptr)",
    repro: "const a = n.alloc(0,0,0,1024), b = n.alloc(0,0,0,1024), o = n.alloc(0,0,0,1024); const s = [1]; Object.defineProperty(s, 0, { get() { n.dispose(a); return 1; } }); n.binary(0, a, s, b, [1], o, [1024]);",
    trigger: () => false, // the fuzz never builds arrays with getters
  },
  {
    id: "where-getter-dispose", op: "where",
    what: "where: the same use-after-dispose through a getter on a strides/shape array",
    repro: "const c = n.alloc(0,0,0,1024), o = n.alloc(0,0,0,1024); const s = [1024]; Object.defineProperty(s, 0, { get() { n.dispose(c); return 1024; } }); n.where(c, [1], c, [1], c, [1], o, s);",
    trigger: () => false,
  },
  {
    id: "stridedCopy-getter-dispose", op: "stridedCopy",
    what: "stridedCopy: the destination is disposed by a getter on dstStrides after it was validated; the copy writes through a null pointer",
    repro: "const a = n.alloc(0,0,0,1024), o = n.alloc(0,0,0,1024); const s = [1]; Object.defineProperty(s, 0, { get() { n.dispose(o); return 1; } }); n.stridedCopy(a, 0, [1], o, 0, s, [1024]);",
    trigger: () => false,
  },
  {
    id: "crossEntropy-lse-dtype", op: "crossEntropy",
    what: "crossEntropy: 'loss' and 'lse' dtypes are never checked; a bfloat16 lse of `rows` elements (2 bytes each) receives rows*4 bytes: heap overflow (segfault, or 'free(): invalid size' abort)",
    repro: "const rows = 4096; const x = n.alloc(0,0,0,rows*2); n.fill(x, 0); const t = n.alloc(0,0,1,rows); n.fill(t, 0); const lse = n.alloc(0,0,2,rows); const pad = []; for (let i = 0; i < 100; i++) pad.push(n.alloc(0,0,0,2048)); try { n.crossEntropy(x, t, n.alloc(0,0,0,1), lse, rows, 2, -100); } finally { for (const p of pad) n.dispose(p); n.dispose(lse); n.releaseCache?.(); }",
    trigger: (fn, a, w) => fn === "crossEntropy" && [2, 3].some((i) => { const m = w.meta.get(a[i]); return !!m && m.dtype >= 2; }),
  },
  {
    id: "softmax-rows-hang", op: "softmax", hang: true,
    what: "softmax: rows*cols is checked, but with cols = 0 rows may be up to 2^48 with 0-element buffers; the kernel then loops over 2^48 empty rows (hang)",
    repro: "const z = n.alloc(0,0,0,0); n.softmax(z, z, 2**48, 0, false);",
    trigger: (fn, a) => fn === "softmax" && num(a[2]) > 1e6 && num(a[3]) === 0,
  },
  {
    id: "softmaxBackward-rows-hang", op: "softmaxBackward", hang: true,
    what: "softmaxBackward: the same unbounded loop over empty rows",
    repro: "const z = n.alloc(0,0,0,0); n.softmaxBackward(z, z, z, 2**48, 0, true);",
    trigger: (fn, a) => fn === "softmaxBackward" && num(a[3]) > 1e6 && num(a[4]) === 0,
  },
  {
    id: "matmul-batch-hang", op: "matmul", hang: true,
    what: "matmul: with M = 0 every size check passes for any batch <= 2^48 and the batched GEMM loops over all of them (hang)",
    repro: "const z = n.alloc(0,0,0,0); n.matmul(z, z, z, 2**47, 0, 0, 0, false, false, 0, 0, 1, 0);",
    trigger: (fn, a) => fn === "matmul" && num(a[3]) > 1e6,
  },
  {
    id: "rope-huge-dim-hang", op: "rope", hang: true,
    what: "rope: with rows = 0 every buffer is empty, yet the kernel first builds a dim/2-entry inv_freq table (std::pow each): dim = 2^30 takes ~16 s and 4 GiB, larger dims exhaust memory",
    repro: "const z = n.alloc(0,0,0,0), p = n.alloc(0,0,1,0); n.rope(z, p, z, 0, 1, 2**30, 10000, 1);",
    trigger: (fn, a) => fn === "rope" && num(a[5]) > 1e6,
  },
  {
    id: "attention-reference-hang", op: "attention", hang: true,
    what: "attention (variant 1, reference): D = 0 makes q/k/v empty, B*Tq*Tk = 2^31 passes the checks with a 1-element lse, and the kernel loops/allocates over all 2^31 keys (hang, GiBs of scratch)",
    repro: "const z = n.alloc(0,0,0,0), l = n.alloc(0,0,0,1); n.attention(z, z, z, z, l, 1, 1, 2**31, 1, 1, 0, false, 1, null, null, null, null, 1);",
    trigger: (fn, a) => fn === "attention" && a[17] === 1 && [5, 6, 7, 8, 9].some((i) => num(a[i]) > 1e5),
  },
  {
    id: "attentionBackward-heads-hang", op: "attentionBackward", hang: true,
    what: "attentionBackward: with Tq = 0 and D = 0 all buffers are empty for any head count; H = Hkv = 2^40 passes the checks and the kernel loops over B*Hkv = 2^40 tasks (hang; both variants)",
    repro: "const z = n.alloc(0,0,0,0); n.attentionBackward(z, z, z, z, z, z, z, z, z, 1, 0, 5, 2**40, 2**40, 0, false, 1, null, null, false, 0);",
    trigger: (fn, a) => fn === "attentionBackward" && [9, 10, 11, 12, 13].some((i) => num(a[i]) > 1e5),
  },
  {
    id: "stridedCopy-zero-stride-hang", op: "stridedCopy", hang: true,
    what: "stridedCopy: zero strides keep a huge shape 'in bounds' of 1-element buffers; the copy loops 2^40 times (hang)",
    repro: "const a = n.alloc(0,0,0,1); n.stridedCopy(a, 0, [0], a, 0, [0], [2**40]);",
    trigger: (fn, a) => fn === "stridedCopy" && Array.isArray(a[6]) && Array.from(a[6] as unknown[]).every(isInt) && (a[6] as number[]).reduce((p, d) => p * d, 1) > 1e7,
  },
];

interface ChildResult { status: number | null; signal: string | null; timedOut: boolean; stdout: string; stderr: string }
function runChild(src: string, timeoutMs: number): Promise<ChildResult> {
  const script = `import { native as n } from ${JSON.stringify(NATIVE_JS)};
try { ${src} console.log("RETURNED"); } catch (e) { console.log("THREW:" + (e instanceof Error ? e.message : String(e))); }`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", timedOut = false;
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => { timedOut = true; p.kill("SIGKILL"); }, timeoutMs);
    p.on("close", (status, signal) => { clearTimeout(timer); resolve({ status, signal, timedOut, stdout, stderr }); });
  });
}

const childResults = new Map<string, ChildResult>();
/** Bugs whose repro still crashes or hangs: their triggers are skipped in process. */
const activeBugs = new Set<string>();
const skipped = new Map<string, number>();
beforeAll(async () => {
  const results = await Promise.all(KNOWN_BUGS.map((b) => runChild(b.repro, b.hang ? 2500 : 20_000)));
  KNOWN_BUGS.forEach((b, i) => {
    const r = results[i]!;
    childResults.set(b.id, r);
    if (r.timedOut || r.signal !== null || r.status !== 0 || !r.stdout.includes("THREW:seekr.")) activeBugs.add(b.id);
  });
}, 60_000);
afterAll(() => {
  if (skipped.size) console.log("in-process fuzz calls skipped because they hit a still-reproducing known bug:", Object.fromEntries(skipped));
});

describe("former crash/hang bugs stay fixed (each in a child process)", () => {
  test.each(KNOWN_BUGS.map((b) => [b.id, b] as const))("%s", (_id, bug) => {
    const r = childResults.get(bug.id)!;
    const how = r.timedOut ? "hung (killed after the timeout)" : r.signal ? `died with ${r.signal}` : `exited with status ${r.status}`;
    const detail = `${bug.what}\nrepro: ${bug.repro}\nchild ${how}; stdout: ${r.stdout.trim()} stderr: ${r.stderr.trim().slice(0, 300)}`;
    expect(r.timedOut, detail).toBe(false);
    expect(r.signal, detail).toBeNull();
    expect(r.status, detail).toBe(0);
    // Fixed: the call now either completes (empty work) or throws a JS Error from a Seekr binding.
    expect(r.stdout, detail).toMatch(/^(RETURNED|THREW:seekr\.[A-Za-z]+:)/);
  });
});

// =================================================================================================================
// A world of native buffers for one call; everything it allocates is freed afterwards.

const DT = { f32: 0, i32: 1, bf16: 2, f16: 3 } as const;
class World {
  readonly meta = new Map<unknown, { dtype: number; numel: number }>();
  private readonly owned: Handle[] = [];
  private seed = 1;
  /** A buffer with deterministic contents (f32: N(0,1); i32: `ints` or 0..n-1; half: small values). */
  buf(dtype: number, numel: number, ints?: readonly number[]): Handle {
    numel = Math.max(0, numel);
    const h = native.alloc(0, 0, dtype, numel);
    this.owned.push(h);
    this.meta.set(h, { dtype, numel });
    if (dtype === DT.f32) native.randomNormal(h, 7, this.seed++ * 1000, 0, 1);
    else if (dtype === DT.i32) native.upload(h, Int32Array.from({ length: numel }, (_, i) => (ints && ints.length ? ints[i % ints.length]! : i)));
    else native.upload(h, Uint16Array.from({ length: numel }, (_, i) => 0x3c00 + (i % 64)));
    return h;
  }
  f(n: number): Handle {
    return this.buf(DT.f32, n);
  }
  i(n: number, vals?: readonly number[]): Handle {
    return this.buf(DT.i32, n, vals);
  }
  disposed(): Handle {
    const h = native.alloc(0, 0, DT.f32, 4);
    native.dispose(h);
    this.meta.set(h, { dtype: DT.f32, numel: 4 });
    return h;
  }
  /** Takes ownership of a handle the binding under test returned (alloc). */
  adopt(h: unknown): void {
    if (h !== null && (typeof h === "object" || typeof h === "function")) this.owned.push(h as Handle);
  }
  close(): void {
    for (const h of this.owned) {
      try { native.dispose(h); } catch { /* not ours */ }
    }
  }
}

// Values no binding should accept where it expects something else (and must reject without crashing).
const hostile = {
  valueOf() { throw new Error("hostile valueOf must not be called"); },
  toString() { throw new Error("hostile toString must not be called"); },
};
const GARBAGE: readonly unknown[] = [
  undefined, null, NaN, Infinity, -Infinity, -1, -0, 0.5, -7.25, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 40, 2 ** 47, 2 ** 53 - 1, 2 ** 53,
  -(2 ** 53), 1e300, Number.MAX_VALUE, Number.MIN_VALUE, "", "3", "cuda:0", true, false, {}, [], [1, 2], [NaN], [-1], ["1"],
  [2 ** 53], [1.5], new Array(65).fill(1), [, 1], Symbol("x"), 10n, () => 1, new Float32Array(3), new Int32Array(2), new Uint8Array(4),
  new Float64Array(2), new ArrayBuffer(8), Buffer.from("ab"), new DataView(new ArrayBuffer(4)), new Date(0), /re/, new Map(),
  Promise.resolve(1), new Proxy({}, {}), new Proxy([1, 2], {}), { __seekrBuffer: 1 }, Object.create(null), hostile,
  { length: 3, 0: 1, 1: 2, 2: 3 },
];

// ---- plausible native calls ---------------------------------------------------------------------------------------

interface Desc { r: number[]; x: number[]; b: boolean[]; v: number[] }
const descArb: fc.Arbitrary<Desc> = fc.record({
  r: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 10, maxLength: 10 }),
  x: fc.array(fc.oneof({ arbitrary: fc.integer({ min: -3, max: 12 }), weight: 8 }, { arbitrary: fc.constantFrom(-100, 2 ** 31 - 1, -(2 ** 31), 64, 1000), weight: 1 }), { minLength: 10, maxLength: 10 }),
  b: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  v: fc.array(fc.oneof({ arbitrary: fc.double({ min: -4, max: 4, noNaN: true }), weight: 6 }, { arbitrary: fc.constantFrom(0, 1, -1, NaN, Infinity, -Infinity, 1e-8, 1e30), weight: 2 }), { minLength: 6, maxLength: 6 }),
});

const contiguous = (shape: number[]) => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]!; }
  return s;
};
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
/** A shape of rank r[0] % 4 from r[1..]. */
const shapeOf = (d: Desc, at = 0) => Array.from({ length: d.r[at]! % 4 }, (_, i) => d.r[at + 1 + i]! % 5);
/** A strided view over `shape`: strides in [-3, 3] (0 = broadcast); offset and buffer size exactly cover it (minus one when `short`). */
function view(d: Desc, shape: number[], k: number, short: boolean): { strides: number[]; offset: number; numel: number } {
  const strides = shape.map((_, i) => ((d.x[(k + i) % 10]! % 7) + 7) % 7 - 3);
  let lo = 0, hi = 0;
  shape.forEach((n, i) => { if (n > 0) { const sp = strides[i]! * (n - 1); if (sp > 0) hi += sp; else lo += sp; } });
  const empty = shape.some((n) => n === 0);
  return { strides, offset: -lo, numel: empty ? d.r[9]! : Math.max(0, hi - lo + 1 - (short ? 1 : 0)) };
}
/** Broadcast operand over `shape`: each dim kept or set to 1 by the bits of `bits`. */
function operand(shape: number[], bits: number): { shape: number[]; strides: number[] } {
  const s = shape.map((n, i) => ((bits >> i) & 1 ? 1 : n));
  const cs = contiguous(s);
  return { shape: s, strides: s.map((n, i) => (n === 1 ? 0 : cs[i]!)) };
}
const ALL_DTYPES = [DT.f32, DT.i32, DT.bf16, DT.f16];

/** Attention geometry: B in 0..2, Tq, Tk (often equal), H a multiple of Hkv (sometimes not), D. */
function attnGeom(d: Desc) {
  const B = d.r[0]! % 3, Tq = d.r[1]!, Tk = d.b[3] ? Tq : d.r[2]!, Hkv = 1 + (d.r[3]! % 2);
  const H = Hkv * (1 + (d.r[4]! % 2)) + (d.x[5]! === 0 ? 1 : 0);
  return { B, Tq, Tk, H, Hkv, D: d.r[5]! };
}
/** (heads, rows, probabilities) lists for taps / distillation: indices mostly in range, sometimes not. */
function tapArgs(d: Desc, w: World, g: ReturnType<typeof attnGeom>): [Handle, Handle, Handle] {
  const nh = d.r[6]! % 3, nr = d.r[7]! % 3;
  const heads = w.i(nh, d.b[2] ? [0, g.H - 1] : d.x);
  const rows = w.i(g.B * nr + (d.x[6]! === 1 ? 1 : 0), d.b[1] ? [0, Math.max(g.Tq - 1, 0)] : d.x);
  return [heads, rows, w.f(g.B * nh * nr * g.Tk)];
}

type Builder = (d: Desc, w: World) => unknown[];
const BUILD: Record<keyof NativeAddon, Builder> = {
  alloc: (d) => [d.b[0] ? 0 : 1, d.b[0] ? 0 : d.x[0], d.r[0]! % 5, d.r[1]! * d.r[2]!],
  dispose: (d, w) => [d.b[0] ? w.f(d.r[0]!) : w.disposed()],
  isAlive: (d, w) => [d.b[0] ? w.f(d.r[0]!) : w.disposed()],
  upload: (d, w) => {
    const dt = d.r[0]! % 4, n = d.r[1]!, len = d.b[1] ? n : n + (d.x[0]! % 3);
    const type = d.b[0] ? dt : d.r[2]! % 4;
    const arr = type === DT.f32 ? new Float32Array(Math.max(0, len)) : type === DT.i32 ? new Int32Array(Math.max(0, len)) : new Uint16Array(Math.max(0, len));
    return [w.buf(dt, n), arr];
  },
  download: (d, w) => [w.buf(d.r[0]! % 4, d.r[1]!)],
  copy: (d, w) => [w.buf(d.r[0]! % 4, d.r[1]!), w.buf(d.b[0] ? d.r[0]! % 4 : d.r[2]! % 4, d.b[1] ? d.r[1]! : d.r[3]!)],
  fill: (d, w) => [w.buf(d.r[0]! % 4, d.r[1]!), d.v[0]],
  cast: (d, w) => [w.buf(d.r[0]! % 4, d.r[1]!), w.buf(d.r[2]! % 4, d.b[0] ? d.r[1]! : d.r[3]!)],
  randomUniform: (d, w) => [w.buf(d.b[0] ? DT.f32 : d.r[0]! % 4, d.r[1]!), Math.abs(d.x[0]!), Math.abs(d.x[1]!), d.v[0], d.v[1]],
  randomNormal: (d, w) => [w.buf(d.b[0] ? DT.f32 : d.r[0]! % 4, d.r[1]!), Math.abs(d.x[0]!), Math.abs(d.x[1]!), d.v[0], d.v[1]],
  memory: () => [],
  releaseCache: () => [],
  cacheBytes: () => [],
  resetPeakMemory: () => [],
  profileStart: () => [],
  profileStop: () => [],
  backendInfo: () => [],
  setThreads: (d) => [1 + d.r[0]!],
  synchronize: (d) => [d.b[0] ? 0 : 1, d.b[1] ? 0 : d.x[0]],
  fmaPeak: (d) => [d.b[0] ? 1e-4 : d.v[0]],
  gemmInfo: () => [],
  binary: (d, w) => {
    const shape = shapeOf(d), a = operand(shape, d.x[8]!), b = operand(shape, d.x[9]!);
    const asStrided = d.b[2] ? view(d, shape, 0, d.b[3]!) : null;
    return [
      (d.r[8]! + 7 * d.r[7]!) % 14, asStrided ? w.f(asStrided.numel) : w.f(prod(a.shape)), asStrided ? asStrided.strides : a.strides,
      w.f(prod(b.shape)), b.strides, w.buf(d.b[4] ? DT.f32 : DT.i32, prod(shape)), shape,
    ];
  },
  unary: (d, w) => { const n = d.r[0]! * d.r[1]!; return [d.x[0]! + 3 + (d.r[9]! * 3) % 16, w.f(n), w.f(d.b[0] ? n : d.r[2]!), d.v[0]]; },
  unaryGrad: (d, w) => { const n = d.r[0]! * d.r[1]!; return [d.x[0]! + 3 + (d.r[9]! * 3) % 16, w.f(n), w.f(n), w.f(d.b[0] ? n : d.r[2]!), d.v[0]]; },
  where: (d, w) => {
    const shape = shapeOf(d), c = operand(shape, d.x[7]!), a = operand(shape, d.x[8]!), b = operand(shape, d.x[9]!);
    const v = d.b[2] ? view(d, shape, 3, d.b[3]!) : null;
    return [w.f(prod(c.shape)), c.strides, v ? w.f(v.numel) : w.f(prod(a.shape)), v ? v.strides : a.strides, w.f(prod(b.shape)), b.strides, w.f(prod(shape)), shape];
  },
  swiglu: (d, w) => { const n = d.r[0]! * d.r[1]!; return [w.f(n), w.f(d.b[0] ? n : d.r[2]!), w.buf(d.b[1] ? DT.f32 : d.r[3]! % 4, n)]; },
  swigluBackward: (d, w) => {
    const n = d.r[0]! * d.r[1]!, g = w.f(n);
    return [g, w.f(n), w.f(d.b[0] ? n : d.r[2]!), d.b[2] ? g : w.f(n), w.buf(d.b[1] ? DT.f32 : d.r[3]! % 4, n)];
  },
  reduceSum: (d, w) => { const [o, m, i] = [d.r[0]!, d.r[1]!, d.r[2]!]; return [w.f(o * m * i), w.f(d.b[0] ? o * i : d.r[3]!), o, m, i, d.v[0]]; },
  reduceMax: (d, w) => { const [o, m, i] = [d.r[0]!, d.r[1]!, d.r[2]!]; return [w.f(o * m * i), w.f(o * i), w.buf(d.b[0] ? DT.i32 : DT.f32, o * i), o, m, i]; },
  maxBackward: (d, w) => {
    const [o, m, i] = [d.r[0]!, d.r[1]!, d.r[2]!];
    return [w.f(o * i), w.i(o * i, d.b[0] ? [0] : d.x), w.f(d.b[1] ? o * m * i : d.r[3]!), o, m, i];
  },
  softmax: (d, w) => { const [r, c] = [d.r[0]!, d.r[1]!]; return [w.f(r * c), w.f(d.b[1] ? r * c : d.r[2]!), r, c, d.b[0]]; },
  softmaxBackward: (d, w) => { const [r, c] = [d.r[0]!, d.r[1]!]; return [w.f(r * c), w.f(r * c), w.f(d.b[1] ? r * c : d.r[2]!), r, c, d.b[0]]; },
  sumSquares: (d, w) => [w.buf(d.b[0] ? DT.f32 : d.r[1]! % 4, d.r[0]! * d.r[2]!)],
  sumSquaresMany: (d, w) => [d.b[1] ? [] : [w.buf(d.b[0] ? DT.f32 : d.r[1]! % 4, d.r[0]!), w.f(d.r[2]!)]],
  stridedCopy: (d, w) => {
    const shape = shapeOf(d), src = view(d, shape, 0, !d.b[0]), dst = view(d, shape, 5, !d.b[1]);
    const dt = d.b[2] ? DT.f32 : ALL_DTYPES[d.r[8]! % 4]!;
    return [w.buf(dt, src.numel), src.offset, src.strides, w.buf(d.b[3] ? dt : DT.f32, dst.numel), dst.offset, dst.strides, shape];
  },
  gatherRows: (d, w) => {
    const [rows, cols, n] = [d.r[0]!, d.r[1]!, d.r[2]!];
    return [w.f(rows * cols), w.i(n, d.b[0] ? [Math.min(rows - 1, 0)] : d.x), w.f(d.b[1] ? n * cols : d.r[3]!), cols];
  },
  scatterAddRows: (d, w) => {
    const [rows, cols, n] = [d.r[0]!, d.r[1]!, d.r[2]!];
    return [w.f(d.b[1] ? n * cols : d.r[3]!), w.i(n, d.b[0] ? [0] : d.x), w.f(rows * cols), cols];
  },
  matmul: (d, w) => {
    const [batch, M, Nn, K] = [d.r[0]! % 3, d.r[1]!, d.r[2]!, d.r[3]!];
    const sA = d.b[2] ? 0 : M * K, sB = d.b[3] ? 0 : K * Nn;
    const args: unknown[] = [
      w.f(batch > 0 ? sA * (batch - 1) + M * K - (d.b[4] ? 0 : 1) : d.r[4]!), w.f(batch > 0 ? sB * (batch - 1) + K * Nn : 0), w.f(batch * M * Nn),
      batch, M, Nn, K, d.b[0], d.b[1], sA, sB, d.v[0], d.b[5] ? 0 : d.v[1],
    ];
    if (d.r[9]! > 0) args.push(d.r[9]! - 1); // backend 0..5 (4, 5 invalid)
    return args;
  },
  crossEntropy: (d, w) => {
    const [rows, cols] = [d.r[0]!, d.r[1]!];
    const tg = d.b[0] ? Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? -100 : i % Math.max(cols, 1))) : d.x;
    return [w.f(rows * cols), w.i(rows, tg), w.f(1), w.f(d.b[1] ? rows : d.r[2]!), rows, cols, d.b[2] ? -100 : d.x[9]];
  },
  crossEntropyBackward: (d, w) => {
    const [rows, cols] = [d.r[0]!, d.r[1]!];
    const tg = d.b[0] ? Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? -100 : i % Math.max(cols, 1))) : d.x;
    return [w.f(rows * cols), w.i(rows, tg), w.f(rows), w.f(d.b[1] ? 1 : 2), w.f(rows * cols), rows, cols, d.b[2] ? -100 : d.x[9], d.x[8]];
  },
  rmsNorm: (d, w) => { const [r, c] = [d.r[0]!, d.r[1]!]; return [w.f(r * c), w.f(d.b[0] ? c : d.r[2]!), w.f(r * c), w.f(r), r, c, d.b[1] ? 1e-5 : d.v[0]]; },
  rmsNormBackward: (d, w) => { const [r, c] = [d.r[0]!, d.r[1]!]; return [w.f(r * c), w.f(c), w.f(r), w.f(r * c), w.f(d.b[0] ? r * c : d.r[2]!), w.f(c), r, c]; },
  rope: (d, w) => {
    const [rows, heads, dim] = [d.r[0]!, d.r[1]!, d.b[0] ? 2 * d.r[2]! : d.r[2]!];
    const positions = d.b[4] ? null : w.i(rows, d.b[1] ? [0, 1, 2, 3] : d.x);
    return [w.f(rows * heads * dim), positions, w.f(rows * heads * dim), rows, heads, dim, d.b[2] ? 10000 : d.v[0], d.b[3] ? 1 : d.v[1], d.b[5] ? Math.max(1, rows) : d.x[0], d.b[6] ? 0 : d.x[1]];
  },
  attention: (d, w) => {
    const g = attnGeom(d), { B, Tq, Tk, H, Hkv, D } = g;
    const taps = d.b[4] ? tapArgs(d, w, g) : [null, null, null];
    return [w.f(B * Tq * H * D), w.f(B * Tk * Hkv * D), w.f(B * Tk * Hkv * D), w.f(B * Tq * H * D), w.f(d.b[1] ? B * H * Tq : d.r[6]!),
      B, Tq, Tk, H, Hkv, D, d.b[0], d.b[2] ? 0.5 : d.v[0], d.b[5] ? w.f(B * Tk) : null, ...taps, d.r[8]! % 3];
  },
  attentionBackward: (d, w) => {
    const { B, Tq, Tk, H, Hkv, D } = attnGeom(d), q = B * Tq * H * D, k = B * Tk * Hkv * D;
    return [w.f(q), w.f(k), w.f(k), w.f(q), w.f(B * H * Tq), w.f(q), w.f(q), w.f(d.b[1] ? k : d.r[6]!), w.f(k), B, Tq, Tk, H, Hkv, D, d.b[0],
      d.b[2] ? 0.5 : d.v[0], d.b[5] ? w.f(B * Tk) : null, d.b[4] ? w.f(d.b[3] ? B * H : d.r[7]!) : null, d.b[3], d.r[8]! % 3];
  },
  attentionDistill: (d, w) => {
    const g = attnGeom(d), { B, Tq, Tk, H, Hkv, D } = g, [heads, rows, teacher] = tapArgs(d, w, g);
    return [w.f(B * Tq * H * D), w.f(B * Tk * Hkv * D), d.b[5] ? w.f(B * Tk) : null, heads, rows, teacher, B, Tq, Tk, H, Hkv, D, d.b[0], d.b[2] ? 0.5 : d.v[0],
      0, d.b[6] ? w.f(d.b[7] ? 1 : d.r[8]! % 3) : null, d.b[7] ? 0.25 : d.v[1]];
  },
  attentionDistillBackward: (d, w) => {
    const g = attnGeom(d), { B, Tq, Tk, H, Hkv, D } = g, [heads, rows, teacher] = tapArgs(d, w, g);
    const q = B * Tq * H * D, k = B * Tk * Hkv * D;
    return [w.f(q), w.f(k), d.b[5] ? w.f(B * Tk) : null, heads, rows, teacher, w.f(d.b[1] ? 1 : 2), d.v[1], w.f(q), w.f(d.b[3] ? k : d.r[6]!),
      B, Tq, Tk, H, Hkv, D, d.b[0], d.b[2] ? 0.5 : d.v[0]];
  },
  adamw: (d, w) => { const n = d.r[0]! * d.r[1]!; return [w.f(n), w.f(n), w.f(n), w.f(d.b[0] ? n : d.r[2]!), d.v[0], 0.9, d.b[1] ? 0.95 : d.v[1], 1e-8, d.v[2], d.b[2] ? 1 + d.r[3]! : d.x[0]]; },
  sgd: (d, w) => { const n = d.r[0]! * d.r[1]!; return [w.f(n), w.f(n), w.f(d.b[0] ? n : d.r[2]!), d.v[0], d.v[1], d.v[2], d.v[3], d.b[1], d.b[2]]; },
  scaleInPlace: (d, w) => [w.buf(d.b[0] ? DT.f32 : d.r[1]! % 4, d.r[0]!), d.v[0]],
  adamwMany: (d, w) => {
    const sizes = d.b[3] ? [] : [d.r[0]! * d.r[1]!, d.r[2]!];
    const list = (short: boolean) => sizes.map((n, i) => w.f(short && i === 1 ? d.r[3]! : n));
    return [list(false), list(false), list(false), list(!d.b[0]), d.v[0], 0.9, d.b[1] ? 0.95 : d.v[1], 1e-8, d.v[2], d.b[2] ? 1 + d.r[3]! : d.x[0]];
  },
  scaleMany: (d, w) => [d.b[1] ? [] : [w.buf(d.b[0] ? DT.f32 : d.r[1]! % 4, d.r[0]!), w.f(d.r[2]!)], d.v[0]],
  axpyInPlace: (d, w) => [w.f(d.r[0]!), w.f(d.b[0] ? d.r[0]! : d.r[1]!), d.v[0]],
};

const BIN_NAMES = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "gt", "le", "ge", "ne"];
const UN_NAMES = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "silu", "gelu", "relu", "abs", "powScalar", "addScalar",
  "mulScalar", "sin", "cos", "square", "reciprocal", "geluTanh"];
/** Besides the binding's own name ("seekr.<binding>: ..."), the finer op names its errors may carry. */
const ERROR_NAMES: Partial<Record<keyof NativeAddon, string[]>> = {
  binary: BIN_NAMES, unary: UN_NAMES, unaryGrad: UN_NAMES, reduceSum: ["sum"], reduceMax: ["max"], gatherRows: ["gather"], scatterAddRows: ["scatterAdd"],
};
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const errorRe = (fn: string) => new RegExp(`^seekr\\.(${[fn, ...(ERROR_NAMES[fn as keyof NativeAddon] ?? [])].map(escapeRe).join("|")}): \\S`);

/** What a successful call must have returned. */
function checkReturn(fn: string, ret: unknown, args: unknown[], w: World): void {
  switch (fn) {
    case "alloc":
      w.adopt(ret);
      expect(native.isAlive(ret as Handle)).toBe(true);
      break;
    case "isAlive":
      expect(typeof ret).toBe("boolean");
      break;
    case "download": {
      const m = w.meta.get(args[0])!;
      expect(ArrayBuffer.isView(ret)).toBe(true);
      expect((ret as Float32Array).length).toBe(m.numel);
      expect(ret).toBeInstanceOf(m.dtype === DT.f32 ? Float32Array : m.dtype === DT.i32 ? Int32Array : Uint16Array);
      break;
    }
    case "sumSquaresMany":
      expect(Array.isArray(ret) && (ret as unknown[]).length === (args[0] as unknown[]).length && (ret as unknown[]).every((x) => typeof x === "number")).toBe(true);
      break;
    case "profileStop":
      expect(Array.isArray(ret) && (ret as Array<{ op: unknown; calls: unknown }>).every((r) => typeof r.op === "string" && typeof r.calls === "number")).toBe(true);
      break;
    case "sumSquares":
    case "cacheBytes":
    case "fmaPeak":
    case "crossEntropy":
      expect(typeof ret).toBe("number");
      break;
    case "attentionDistill": // a number, or nothing when the loss went to an `out` buffer
      expect(ret === undefined || typeof ret === "number").toBe(true);
      break;
    case "memory":
      expect(Array.isArray(ret) && (ret as Array<{ device: string }>)[0]!.device).toBe("cpu");
      break;
    case "backendInfo":
      expect(typeof (ret as { threads: number }).threads).toBe("number");
      break;
    case "gemmInfo":
      expect(typeof (ret as { avx2: boolean }).avx2).toBe("boolean");
      break;
    case "gatherRows": {
      // Functional check: out[i] == table[ids[i]].
      const [table, ids, out, cols] = args as [Handle, Handle, Handle, number];
      const T = native.download(table), I = native.download(ids), O = native.download(out);
      for (let i = 0; i < I.length; i++) for (let c = 0; c < cols; c++) expect(O[i * cols + c]).toBe(T[I[i]! * cols + c]);
      break;
    }
    default:
      expect(ret === undefined || typeof ret === "number", `${fn} returned ${String(ret)}`).toBe(true);
  }
}

/** Calls a binding; it must return normally or throw an Error named "seekr.<op>: ...". */
function callNative(fn: string, args: unknown[], w: World): "ok" | "threw" | "skipped" {
  for (const bug of KNOWN_BUGS)
    if (activeBugs.has(bug.id) && bug.trigger(fn, args, w)) {
      skipped.set(bug.id, (skipped.get(bug.id) ?? 0) + 1);
      return "skipped";
    }
  if (fn === "fmaPeak" && typeof args[0] === "number" && args[0] > 0.01 && args[0] <= 10) return "skipped"; // a timed benchmark by design
  let ret: unknown;
  try {
    ret = N[fn]!(...args);
  } catch (e) {
    expect(e, `${fn}: threw a non-Error ${String(e)}`).toBeInstanceOf(Error);
    expect((e as Error).message, `${fn}(${describeArgs(args, w)})`).toMatch(errorRe(fn));
    return "threw";
  } finally {
    if (fn === "setThreads") native.setThreads(DEFAULT_THREADS);
  }
  checkReturn(fn, ret, args, w);
  return "ok";
}

function describeArgs(args: unknown[], w: World): string {
  return args
    .map((a) => {
      const m = w.meta.get(a);
      if (m) return `<${["f32", "i32", "bf16", "f16"][m.dtype]}[${m.numel}]${native.isAlive(a as Handle) ? "" : " disposed"}>`;
      if (typeof a === "symbol" || typeof a === "bigint") return String(a);
      if (typeof a === "function") return "<function>";
      try { return JSON.stringify(a) ?? String(a); } catch { return "<object>"; }
    })
    .join(", ");
}

// ---- mutations ------------------------------------------------------------------------------------------------------

interface Mutation { kind: "garbage" | "perturb" | "handle" | "disposed" | "alias" | "truncate" | "extra" | "array"; at: number; pick: number }
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("garbage", "perturb", "handle", "disposed", "alias", "truncate", "extra", "array"),
  at: fc.nat(20),
  pick: fc.nat(10_000),
});
const PERTURB = [1, -1, 2, -2, 0.5, -0.5, 2 ** 31, -(2 ** 31), 2 ** 40, 2 ** 52, 2 ** 53, -(2 ** 53), NaN, Infinity];
const BIG_INTS = [-1, 2 ** 31, -(2 ** 31), 2 ** 32 + 1, 2 ** 40, 2 ** 52, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, NaN, Infinity];

function mutate(args: unknown[], muts: Mutation[], w: World): unknown[] {
  const a = [...args];
  for (const m of muts) {
    const i = a.length ? m.at % a.length : 0;
    switch (m.kind) {
      case "garbage": a[i] = GARBAGE[m.pick % GARBAGE.length]; break;
      case "perturb": if (typeof a[i] === "number") a[i] = (a[i] as number) + PERTURB[m.pick % PERTURB.length]!; else a[i] = PERTURB[m.pick % PERTURB.length]; break;
      case "handle": a[i] = w.buf(ALL_DTYPES[m.pick % 4]!, m.pick % 7); break;
      case "disposed": a[i] = w.disposed(); break;
      case "alias": { const hs = a.filter((x) => w.meta.has(x)); if (hs.length) a[i] = hs[m.pick % hs.length]; break; }
      case "truncate": a.length = m.pick % (a.length + 1); break;
      case "extra": a.push(GARBAGE[m.pick % GARBAGE.length]); break;
      case "array": {
        const arrs = a.map((x, k) => (Array.isArray(x) ? k : -1)).filter((k) => k >= 0);
        if (!arrs.length) break;
        const k = arrs[m.pick % arrs.length]!;
        const arr = [...(a[k] as unknown[])];
        const op = m.pick % 4;
        if (op === 0 || !arr.length) arr.push(BIG_INTS[m.pick % BIG_INTS.length]);
        else if (op === 1) arr.pop();
        else arr[m.pick % arr.length] = BIG_INTS[m.pick % BIG_INTS.length];
        if (op === 3) arr[(m.pick >> 3) % arr.length] = 0;
        a[k] = arr;
        break;
      }
    }
  }
  return a;
}

const NATIVE_KEYS = Object.keys(native).sort();

describe("native addon fuzz", () => {
  test("every binding of the addon has a fuzz builder (a new binding without one fails here)", () => {
    expect(NATIVE_KEYS.length).toBeGreaterThan(30);
    for (const k of NATIVE_KEYS) expect(typeof N[k], k).toBe("function");
    expect(NATIVE_KEYS).toEqual(Object.keys(BUILD).sort());
    expect(NATIVE_KEYS).toEqual(Object.keys(NASTY).sort());
  });

  const outcomes: Record<string, Record<string, number>> = {};
  afterAll(() => console.table(outcomes));

  test.each(NATIVE_KEYS)("%s: random plausible-then-mutated calls", (fn) => {
    const counts = { ok: 0, threw: 0, skipped: 0 };
    const before = native.memory()[0]!;
    fc.assert(
      fc.property(descArb, fc.oneof({ arbitrary: fc.constant<Mutation[]>([]), weight: 1 }, { arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }), weight: 3 }), (d, muts) => {
        const w = new World();
        try {
          counts[callNative(fn, mutate(BUILD[fn as keyof NativeAddon](d, w), muts, w), w)]++;
        } finally {
          w.close();
        }
      }),
      fcParams(RUNS * 2),
    );
    outcomes[fn] = counts;
    expect(counts.ok + counts.threw, `${fn}: every call was skipped`).toBeGreaterThan(0);
    // Neither success nor error paths leak native buffers.
    const after = native.memory()[0]!;
    expect(after.buffers, `${fn}: leaked buffers`).toBe(before.buffers);
    expect(after.bytes, `${fn}: leaked bytes`).toBe(before.bytes);
  });

  test.each(NATIVE_KEYS)("%s: pure garbage argument lists", (fn) => {
    const before = native.memory()[0]!;
    const argArb = fc.array(fc.oneof({ arbitrary: fc.nat(GARBAGE.length - 1).map((i) => ({ g: i })), weight: 3 }, { arbitrary: fc.nat(9).map((i) => ({ h: i })), weight: 2 }), { maxLength: 17 });
    fc.assert(
      fc.property(argArb, (spec) => {
        const w = new World();
        try {
          const args = spec.map((s) => ("g" in s ? GARBAGE[s.g] : s.h === 0 ? w.disposed() : w.buf(ALL_DTYPES[s.h % 4]!, s.h)));
          callNative(fn, args, w);
        } finally {
          w.close();
        }
      }),
      fcParams(RUNS),
    );
    const after = native.memory()[0]!;
    expect(after.buffers, `${fn}: leaked buffers`).toBe(before.buffers);
  });
});

// ---- hand-picked nasty cases, per binding -----------------------------------------------------------------------------

type Nasty = Array<[string, (w: World) => unknown[]]>;
const f = (w: World, n: number) => w.f(n);
const NASTY: Record<keyof NativeAddon, Nasty> = {
  alloc: [
    ["cuda:0 without a GPU", () => [1, 0, 0, 4]], ["cuda:99", () => [1, 99, 0, 4]], ["cuda:-1", () => [1, -1, 0, 4]],
    ["device type 2", () => [2, 0, 0, 4]], ["cpu index 1", () => [0, 1, 0, 4]], ["dtype 4", () => [0, 0, 4, 4]], ["dtype -1", () => [0, 0, -1, 4]],
    ["negative numel", () => [0, 0, 0, -1]], ["fractional numel", () => [0, 0, 0, 2.5]], ["NaN numel", () => [0, 0, 0, NaN]],
    ["numel 2^41", () => [0, 0, 0, 2 ** 41]], ["numel 2^40 f32 (4 TiB)", () => [0, 0, 0, 2 ** 40]], ["numel as string", () => [0, 0, 0, "4"]],
    ["no arguments", () => []], ["zero elements", () => [0, 0, 0, 0]],
  ],
  dispose: [["twice", (w) => { const h = f(w, 2); native.dispose(h); return [h]; }], ["plain object", () => [{}]], ["nothing", () => []], ["fake handle", () => [{ __seekrBuffer: 1 }]]],
  isAlive: [["disposed", (w) => [w.disposed()]], ["number", () => [5]], ["nothing", () => []]],
  upload: [
    ["Float64Array", (w) => [f(w, 2), new Float64Array(2)]], ["Int32Array into f32", (w) => [f(w, 2), new Int32Array(2)]], ["one too long", (w) => [f(w, 2), new Float32Array(3)]],
    ["subarray view at an offset", (w) => [f(w, 2), new Float32Array(8).subarray(5, 7)]], ["plain array", (w) => [f(w, 2), [1, 2]]], ["DataView", (w) => [f(w, 1), new DataView(new ArrayBuffer(4))]],
    ["Uint16Array into bf16", (w) => [w.buf(DT.bf16, 3), new Uint16Array(3)]], ["Uint16Array into i32", (w) => [w.i(2), new Uint16Array(2)]], ["disposed", (w) => [w.disposed(), new Float32Array(4)]],
    ["detached buffer", (w) => { const ta = new Float32Array(2); structuredClone(ta.buffer, { transfer: [ta.buffer] }); return [f(w, 2), ta]; }],
  ],
  download: [["disposed", (w) => [w.disposed()]], ["empty", (w) => [f(w, 0)]], ["bf16", (w) => [w.buf(DT.bf16, 3)]], ["string", () => ["h"]]],
  copy: [["dtype mismatch", (w) => [f(w, 2), w.i(2)]], ["size mismatch", (w) => [f(w, 2), f(w, 3)]], ["self", (w) => { const h = f(w, 3); return [h, h]; }], ["disposed src", (w) => [f(w, 4), w.disposed()]]],
  fill: [["bf16", (w) => [w.buf(DT.bf16, 2), 1]], ["NaN into i32", (w) => [w.i(2), NaN]], ["1e300 into i32", (w) => [w.i(2), 1e300]], ["-Infinity into i32", (w) => [w.i(2), -Infinity]], ["string value", (w) => [f(w, 2), "1"]]],
  cast: [["bf16 <- f32", (w) => [w.buf(DT.bf16, 2), f(w, 2)]], ["size mismatch", (w) => [w.i(2), f(w, 3)]], ["i32 <- NaN/huge floats", (w) => { const s = f(w, 3); native.upload(s, new Float32Array([NaN, 1e30, -1e30])); return [w.i(3), s]; }], ["same buffer", (w) => { const h = f(w, 2); return [h, h]; }]],
  randomUniform: [["i32 buffer", (w) => [w.i(2), 1, 0, 0, 1]], ["negative seed", (w) => [f(w, 2), -1, 0, 0, 1]], ["seed 2^53", (w) => [f(w, 2), 2 ** 53, 0, 0, 1]], ["low > high, NaN", (w) => [f(w, 4), 1, 0, 5, NaN]]],
  randomNormal: [["bf16 buffer", (w) => [w.buf(DT.bf16, 2), 1, 0, 0, 1]], ["fractional offset", (w) => [f(w, 2), 1, 0.5, 0, 1]], ["std Infinity", (w) => [f(w, 4), 1, 0, 0, Infinity]]],
  memory: [["extra arguments", () => [1, "x", null]]],
  releaseCache: [["extra arguments", () => [{}]], ["twice in a row", () => { native.releaseCache(); return []; }]],
  cacheBytes: [["extra arguments", () => [1]]],
  resetPeakMemory: [["extra arguments", () => [undefined]]],
  backendInfo: [["extra arguments", () => [1, 2, 3]]],
  setThreads: [["0", () => [0]], ["1025", () => [1025]], ["-1", () => [-1]], ["1.5", () => [1.5]], ["NaN", () => [NaN]], ["1", () => [1]], ["string", () => ["4"]]],
  synchronize: [["cuda:0", () => [1, 0]], ["cuda:99", () => [1, 99]], ["cpu:3", () => [0, 3]], ["cpu", () => [0, 0]], ["missing index", () => [0]]],
  fmaPeak: [["0 seconds", () => [0]], ["negative", () => [-1]], ["11 seconds", () => [11]], ["NaN", () => [NaN]], ["Infinity", () => [Infinity]], ["tiny", () => [1e-4]], ["string", () => ["0.1"]]],
  gemmInfo: [["extra arguments", () => [null]]],
  binary: [
    ["op code 13", (w) => [13, f(w, 1), [], f(w, 1), [], f(w, 1), []]], ["op code -1", (w) => [-1, f(w, 1), [], f(w, 1), [], f(w, 1), []]], ["op code 1.5", (w) => [1.5, f(w, 1), [], f(w, 1), [], f(w, 1), []]],
    ["stride one past the end", (w) => [0, f(w, 4), [2], f(w, 4), [1], f(w, 3), [3]]], ["negative stride without offset", (w) => [0, f(w, 4), [-1], f(w, 4), [1], f(w, 4), [4]]],
    ["strides rank mismatch", (w) => [0, f(w, 4), [1, 1], f(w, 4), [1], f(w, 4), [4]]], ["out too small", (w) => [0, f(w, 4), [1], f(w, 4), [1], f(w, 3), [4]]],
    ["negative dim", (w) => [0, f(w, 4), [1], f(w, 4), [1], f(w, 4), [-4]]], ["shape 2^24 x 2^24 x 2^24 (product overflow)", (w) => [0, f(w, 1), [0, 0, 0], f(w, 1), [0, 0, 0], f(w, 1), [2 ** 24, 2 ** 24, 2 ** 24]]],
    ["int32 operand", (w) => [0, w.i(4), [1], f(w, 4), [1], f(w, 4), [4]]], ["int32 out", (w) => [0, f(w, 4), [1], f(w, 4), [1], w.i(4), [4]]],
    ["stride 2^53 on a dim of 2", (w) => [0, f(w, 2), [2 ** 53 - 1], f(w, 2), [1], f(w, 2), [2]]], ["65 dimensions", (w) => [0, f(w, 1), new Array(65).fill(0), f(w, 1), new Array(65).fill(0), f(w, 1), new Array(65).fill(1)]],
    ["empty shape with huge strides", (w) => [0, f(w, 0), [2 ** 53 - 1, 0], f(w, 0), [0, 0], f(w, 0), [0, 2 ** 20]]], ["out aliases an input", (w) => { const h = f(w, 4); return [2, h, [1], h, [1], h, [4]]; }],
  ],
  unary: [["op 19", (w) => [19, f(w, 2), f(w, 2), 0]], ["size mismatch", (w) => [1, f(w, 2), f(w, 3), 0]], ["i32 in", (w) => [1, w.i(2), f(w, 2), 0]], ["p NaN", (w) => [11, f(w, 2), f(w, 2), NaN]], ["missing p", (w) => [1, f(w, 2), f(w, 2)]], ["in place", (w) => { const h = f(w, 4); return [2, h, h, 0]; }]],
  unaryGrad: [["op -3", (w) => [-3, f(w, 2), f(w, 2), f(w, 2), 0]], ["gy too short", (w) => [1, f(w, 2), f(w, 1), f(w, 2), 0]], ["gx bf16", (w) => [1, f(w, 2), f(w, 2), w.buf(DT.bf16, 2), 0]]],
  swiglu: [["up too short", (w) => [f(w, 3), f(w, 2), f(w, 3)]], ["i32 out", (w) => [f(w, 2), f(w, 2), w.i(2)]], ["not handles", () => [1, 2, 3]]],
  swigluBackward: [
    ["ggate is gup", (w) => { const g = f(w, 2); return [f(w, 2), f(w, 2), f(w, 2), g, g]; }],
    ["gup is gy", (w) => { const g = f(w, 2); return [f(w, 2), f(w, 2), g, f(w, 2), g]; }],
    ["gy too long", (w) => [f(w, 2), f(w, 2), f(w, 3), f(w, 2), f(w, 2)]],
  ],
  where: [["cond reaches outside", (w) => [f(w, 2), [1], f(w, 3), [1], f(w, 3), [1], f(w, 3), [3]]], ["i32 cond", (w) => [w.i(3), [1], f(w, 3), [1], f(w, 3), [1], f(w, 3), [3]]], ["negative stride", (w) => [f(w, 3), [-1], f(w, 3), [1], f(w, 3), [1], f(w, 3), [3]]], ["strides not arrays", (w) => [f(w, 3), 1, f(w, 3), 1, f(w, 3), 1, f(w, 3), 3]]],
  reduceSum: [["x too short", (w) => [f(w, 5), f(w, 2), 2, 3, 1, 1]], ["negative mid", (w) => [f(w, 0), f(w, 4), 2, -1, 2, 1]], ["outer*inner wraps 2^64 with mid 0", (w) => [f(w, 0), f(w, 0), 2 ** 16, 0, 2 ** 48, 1]], ["huge product", (w) => [f(w, 1), f(w, 1), 2 ** 30, 2 ** 30, 1, 1]], ["i32 out", (w) => [f(w, 6), w.i(2), 2, 3, 1, 1]]],
  reduceMax: [["empty axis", (w) => [f(w, 0), f(w, 2), w.i(2), 2, 0, 1]], ["indices f32", (w) => [f(w, 6), f(w, 2), f(w, 2), 2, 3, 1]], ["values too small", (w) => [f(w, 6), f(w, 1), w.i(2), 2, 3, 1]]],
  maxBackward: [
    ["index out of range", (w) => [f(w, 2), w.i(2, [0, 3]), f(w, 6), 2, 3, 1]], ["negative index", (w) => [f(w, 2), w.i(2, [-1, 0]), f(w, 6), 2, 3, 1]],
    ["index INT32_MAX", (w) => [f(w, 2), w.i(2, [2 ** 31 - 1]), f(w, 6), 2, 3, 1]], ["mid 0 with indices", (w) => [f(w, 2), w.i(2, [0]), f(w, 0), 2, 0, 1]], ["indices as f32", (w) => [f(w, 2), f(w, 2), f(w, 6), 2, 3, 1]],
  ],
  softmax: [["cols 0, rows 5", (w) => [f(w, 0), f(w, 0), 5, 0, false]], ["log not a boolean", (w) => [f(w, 4), f(w, 4), 2, 2, 1]], ["rows*cols overflow", (w) => [f(w, 1), f(w, 1), 2 ** 40, 2 ** 40, false]], ["in place", (w) => { const h = f(w, 6); return [h, h, 2, 3, true]; }]],
  softmaxBackward: [["gx too short", (w) => [f(w, 4), f(w, 4), f(w, 3), 2, 2, false]], ["negative rows", (w) => [f(w, 4), f(w, 4), f(w, 4), -2, -2, false]]],
  sumSquares: [["i32", (w) => [w.i(3)]], ["empty", (w) => [f(w, 0)]], ["disposed", (w) => [w.disposed()]]],
  sumSquaresMany: [["not an array", (w) => [f(w, 3)]], ["an i32 element", (w) => [[f(w, 2), w.i(3)]]], ["a disposed element", (w) => [[w.disposed()]]], ["a number element", () => [[3]]]],
  profileStart: [["extra arguments", () => [1]]],
  profileStop: [["extra arguments", () => [1]]],
  stridedCopy: [
    ["source one past the end", (w) => [f(w, 4), 1, [1], f(w, 4), 0, [1], [4]]], ["negative offset", (w) => [f(w, 4), -1, [1], f(w, 4), 0, [1], [4]]],
    ["negative stride within bounds", (w) => [f(w, 4), 3, [-1], f(w, 4), 0, [1], [4]]], ["negative stride one too far", (w) => [f(w, 4), 2, [-1], f(w, 4), 0, [1], [4]]],
    ["dtype mismatch", (w) => [w.i(4), 0, [1], f(w, 4), 0, [1], [4]]], ["rank mismatch", (w) => [f(w, 4), 0, [1, 1], f(w, 4), 0, [1], [4]]],
    ["offset 2^53", (w) => [f(w, 4), 2 ** 53 - 1, [1], f(w, 4), 0, [1], [1]]], ["dst overlapping src", (w) => { const h = f(w, 8); return [h, 0, [1], h, 1, [1], [7]]; }],
    ["bf16 copy", (w) => [w.buf(DT.bf16, 4), 0, [1], w.buf(DT.bf16, 4), 0, [1], [4]]], ["offset past an empty view", (w) => [f(w, 0), 5, [1], f(w, 0), 0, [1], [0]]],
  ],
  gatherRows: [
    ["id out of range", (w) => [f(w, 6), w.i(2, [0, 3]), f(w, 4), 2]], ["negative id", (w) => [f(w, 6), w.i(1, [-1]), f(w, 2), 2]], ["id INT32_MIN", (w) => [f(w, 6), w.i(1, [-(2 ** 31)]), f(w, 2), 2]],
    ["cols 0", (w) => [f(w, 6), w.i(1), f(w, 0), 0]], ["cols not dividing table", (w) => [f(w, 7), w.i(1), f(w, 2), 2]], ["cols 2^53 with no ids", (w) => [f(w, 0), w.i(0), f(w, 0), 2 ** 53 - 1]], ["ids as f32", (w) => [f(w, 6), f(w, 2), f(w, 4), 2]],
  ],
  scatterAddRows: [["id out of range", (w) => [f(w, 4), w.i(2, [1, 5]), f(w, 6), 2]], ["negative cols", (w) => [f(w, 4), w.i(2), f(w, 6), -2]], ["src too short", (w) => [f(w, 3), w.i(2), f(w, 6), 2]]],
  matmul: [
    ["a too small", (w) => [f(w, 5), f(w, 6), f(w, 4), 1, 2, 2, 3, false, false, 6, 6, 1, 0]], ["b too small for its batch stride", (w) => [f(w, 12), f(w, 6), f(w, 8), 2, 2, 2, 3, false, false, 6, 6, 1, 0]],
    ["negative stride", (w) => [f(w, 6), f(w, 6), f(w, 4), 1, 2, 2, 3, false, false, -6, 6, 1, 0]], ["backend 4", (w) => [f(w, 6), f(w, 6), f(w, 4), 1, 2, 2, 3, false, false, 6, 6, 1, 0, 4]],
    ["M 2^31", (w) => [f(w, 1), f(w, 1), f(w, 1), 1, 2 ** 31, 1, 1, false, false, 0, 0, 1, 0]], ["i32 out", (w) => [f(w, 6), f(w, 6), w.i(4), 1, 2, 2, 3, false, false, 6, 6, 1, 0]],
    ["transposed flags as numbers", (w) => [f(w, 6), f(w, 6), f(w, 4), 1, 2, 2, 3, 0, 1, 6, 6, 1, 0]], ["batch 0 with tiny buffers", (w) => [f(w, 0), f(w, 0), f(w, 0), 0, 5, 5, 5, false, false, 25, 25, 1, 0]],
    ["K 0 with beta NaN", (w) => [f(w, 0), f(w, 0), f(w, 4), 1, 2, 2, 0, false, false, 0, 0, 1, NaN]], ["out aliases a", (w) => { const h = f(w, 4); return [h, f(w, 4), h, 1, 2, 2, 2, false, false, 4, 4, 1, 0]; }],
    ["reference backend", (w) => [f(w, 6), f(w, 6), f(w, 4), 1, 2, 2, 3, true, true, 6, 6, 1, 0, 3]],
  ],
  crossEntropy: [
    ["target out of range", (w) => [f(w, 6), w.i(2, [0, 3]), f(w, 1), f(w, 2), 2, 3, -100]], ["negative target (not ignored)", (w) => [f(w, 6), w.i(2, [-1, 0]), f(w, 1), f(w, 2), 2, 3, -100]],
    ["all ignored", (w) => [f(w, 6), w.i(2, [-100]), f(w, 1), f(w, 2), 2, 3, -100]], ["ignore index 2^40", (w) => [f(w, 6), w.i(2, [0]), f(w, 1), f(w, 2), 2, 3, 2 ** 40]],
    ["cols 0", (w) => [f(w, 0), w.i(2), f(w, 1), f(w, 2), 2, 0, -100]], ["targets f32", (w) => [f(w, 6), f(w, 2), f(w, 1), f(w, 2), 2, 3, -100]], ["loss with 2 elements", (w) => [f(w, 6), w.i(2, [0]), f(w, 2), f(w, 2), 2, 3, -100]],
  ],
  crossEntropyBackward: [["target out of range", (w) => [f(w, 6), w.i(2, [5]), f(w, 2), f(w, 1), f(w, 6), 2, 3, -100, 2]], ["count 0", (w) => [f(w, 6), w.i(2, [0]), f(w, 2), f(w, 1), f(w, 6), 2, 3, -100, 0]], ["count -5", (w) => [f(w, 6), w.i(2, [0]), f(w, 2), f(w, 1), f(w, 6), 2, 3, -100, -5]], ["gy bf16", (w) => [f(w, 6), w.i(2, [0]), f(w, 2), w.buf(DT.bf16, 1), f(w, 6), 2, 3, -100, 2]]],
  rmsNorm: [["weight wrong size", (w) => [f(w, 6), f(w, 2), f(w, 6), f(w, 2), 2, 3, 1e-5]], ["cols 0", (w) => [f(w, 0), f(w, 0), f(w, 0), f(w, 4), 4, 0, 1e-5]], ["eps NaN", (w) => [f(w, 6), f(w, 3), f(w, 6), f(w, 2), 2, 3, NaN]], ["rstd i32", (w) => [f(w, 6), f(w, 3), f(w, 6), w.i(2), 2, 3, 1e-5]], ["residual without sum", (w) => [f(w, 6), f(w, 3), f(w, 6), f(w, 2), 2, 3, 1e-5, f(w, 6)]], ["residual too short", (w) => [f(w, 6), f(w, 3), f(w, 6), f(w, 2), 2, 3, 1e-5, f(w, 5), f(w, 6)]], ["sum i32", (w) => [f(w, 6), f(w, 3), f(w, 6), f(w, 2), 2, 3, 1e-5, f(w, 6), w.i(6)]]],
  rmsNormBackward: [["gw missing", (w) => [f(w, 6), f(w, 3), f(w, 2), f(w, 6), f(w, 6)]], ["rstd too long", (w) => [f(w, 6), f(w, 3), f(w, 3), f(w, 6), f(w, 6), f(w, 3), 2, 3]]],
  rope: [
    ["odd head dim", (w) => [f(w, 6), w.i(2), f(w, 6), 2, 1, 3, 10000, 1]], ["theta 0", (w) => [f(w, 4), w.i(2), f(w, 4), 2, 1, 2, 0, 1]], ["theta NaN", (w) => [f(w, 4), w.i(2), f(w, 4), 2, 1, 2, NaN, 1]],
    ["positions INT32_MIN/MAX", (w) => [f(w, 4), w.i(2, [-(2 ** 31), 2 ** 31 - 1]), f(w, 4), 2, 1, 2, 10000, 1]],
    ["no positions, period 0", (w) => [f(w, 4), null, f(w, 4), 2, 1, 2, 10000, 1, 0, 0]], ["no positions, offset past int32", (w) => [f(w, 4), null, f(w, 4), 2, 1, 2, 10000, 1, 2, 2 ** 31 - 1]],
    ["no positions, period missing", (w) => [f(w, 4), null, f(w, 4), 2, 1, 2, 10000, 1]], ["positions f32", (w) => [f(w, 4), f(w, 2), f(w, 4), 2, 1, 2, 10000, 1]], ["dim 0", (w) => [f(w, 0), w.i(2), f(w, 0), 2, 1, 0, 10000, 1]],
  ],
  attention: [
    ["H not a multiple of Hkv", (w) => [f(w, 3), f(w, 2), f(w, 2), f(w, 3), f(w, 3), 1, 1, 1, 3, 2, 1, true, 1, null, null, null, null, 0]],
    ["Hkv 0", (w) => [f(w, 0), f(w, 0), f(w, 0), f(w, 0), f(w, 0), 1, 1, 1, 2, 0, 1, true, 1, null, null, null, null, 0]],
    ["lse too small", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 3), 1, 2, 2, 2, 2, 2, true, 1, null, null, null, null, 0]],
    ["scale NaN, reference variant", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, false, NaN, null, null, null, null, 1]],
    ["B*Tq*H*D overflow", (w) => [f(w, 1), f(w, 1), f(w, 1), f(w, 1), f(w, 1), 2 ** 20, 2 ** 20, 2 ** 20, 2 ** 20, 1, 1, true, 1, null, null, null, null, 0]],
    ["variant 2", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1, null, null, null, null, 2]],
    ["missing variant", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1]],
    ["Tq != Tk, causal", (w) => [f(w, 4), f(w, 12), f(w, 12), f(w, 4), f(w, 2), 1, 1, 3, 2, 2, 2, true, 1, null, null, null, null, 0]],
    ["key mask all zero", (w) => { const m = f(w, 2); native.fill(m, 0); return [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, false, 1, m, null, null, null, 0]; }],
    ["key mask wrong size", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, false, 1, f(w, 3), null, null, null, 0]],
    ["taps without tapRows", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1, null, w.i(1), null, f(w, 2), 0]],
    ["tap head out of range", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1, null, w.i(1, [2]), w.i(1, [0]), f(w, 2), 0]],
    ["tap row negative", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1, null, w.i(1, [0]), w.i(1, [-1]), f(w, 2), 0]],
    ["taps output too small", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1, null, w.i(1, [1]), w.i(1, [1]), f(w, 1), 0]],
    ["tapRows not divisible by B", (w) => [f(w, 16), f(w, 16), f(w, 16), f(w, 16), f(w, 8), 2, 2, 2, 2, 2, 2, true, 1, null, w.i(1, [0]), w.i(3, [0]), f(w, 6), 0]],
    ["taps as i32", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), 1, 2, 2, 2, 2, 2, true, 1, null, w.i(1, [0]), w.i(1, [0]), w.i(2), 0]],
    ["out aliases q", (w) => { const q = f(w, 16); return [q, f(w, 16), f(w, 16), q, f(w, 8), 1, 4, 4, 2, 2, 2, true, 0.5, null, null, null, null, 0]; }],
  ],
  attentionBackward: [
    ["dk wrong size", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), f(w, 8), f(w, 8), f(w, 7), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1, null, null, false, 0]],
    ["missing sensitivityAll", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), f(w, 8), f(w, 8), f(w, 8), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1, null, null]],
    ["sensitivity wrong size", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), f(w, 8), f(w, 8), f(w, 8), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1, null, f(w, 3), true, 0]],
    ["sensitivity bf16", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), f(w, 8), f(w, 8), f(w, 8), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1, null, w.buf(DT.bf16, 2), true, 1]],
    ["disposed key mask", (w) => [f(w, 8), f(w, 8), f(w, 8), f(w, 8), f(w, 4), f(w, 8), f(w, 8), f(w, 8), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1, w.disposed(), null, false, 0]],
    ["empty everything", (w) => [f(w, 0), f(w, 0), f(w, 0), f(w, 0), f(w, 0), f(w, 0), f(w, 0), f(w, 0), f(w, 0), 0, 0, 0, 1, 1, 0, true, 1, null, null, false, 1]],
  ],
  attentionDistill: [
    ["head out of range", (w) => [f(w, 8), f(w, 8), null, w.i(1, [2]), w.i(1, [0]), f(w, 2), 1, 2, 2, 2, 2, 2, true, 1]],
    ["row out of range", (w) => [f(w, 8), f(w, 8), null, w.i(1, [0]), w.i(1, [2]), f(w, 2), 1, 2, 2, 2, 2, 2, true, 1]],
    ["teacher too small", (w) => [f(w, 8), f(w, 8), null, w.i(1, [0]), w.i(1, [0]), f(w, 1), 1, 2, 2, 2, 2, 2, true, 1]],
    ["heads as f32", (w) => [f(w, 8), f(w, 8), null, f(w, 1), w.i(1, [0]), f(w, 2), 1, 2, 2, 2, 2, 2, true, 1]],
    ["rows not divisible by B", (w) => [f(w, 16), f(w, 16), null, w.i(1, [0]), w.i(3, [0]), f(w, 6), 2, 2, 2, 2, 2, 2, true, 1]],
    ["teacher of zeros (log 0)", (w) => { const t = f(w, 2); native.fill(t, 0); return [f(w, 8), f(w, 8), null, w.i(1, [1]), w.i(1, [1]), t, 1, 2, 2, 2, 2, 2, true, 1]; }],
    ["no selected heads", (w) => [f(w, 8), f(w, 8), null, w.i(0), w.i(1, [0]), f(w, 0), 1, 2, 2, 2, 2, 2, false, 1]],
  ],
  attentionDistillBackward: [
    ["gy with 2 elements", (w) => [f(w, 8), f(w, 8), null, w.i(1, [0]), w.i(1, [0]), f(w, 2), f(w, 2), 1, f(w, 8), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1]],
    ["dk wrong size", (w) => [f(w, 8), f(w, 8), null, w.i(1, [0]), w.i(1, [0]), f(w, 2), f(w, 1), 1, f(w, 8), f(w, 7), 1, 2, 2, 2, 2, 2, true, 1]],
    ["factor NaN", (w) => [f(w, 8), f(w, 8), null, w.i(1, [0]), w.i(1, [0]), f(w, 2), f(w, 1), NaN, f(w, 8), f(w, 8), 1, 2, 2, 2, 2, 2, true, 1]],
    ["dq aliases q", (w) => { const q = f(w, 8); return [q, f(w, 8), null, w.i(1, [0]), w.i(1, [0]), f(w, 2), f(w, 1), 1, q, f(w, 8), 1, 2, 2, 2, 2, 2, true, 1]; }],
  ],
  adamw: [["step 0", (w) => [f(w, 2), f(w, 2), f(w, 2), f(w, 2), 0.1, 0.9, 0.95, 1e-8, 0, 0]], ["step 2^53", (w) => [f(w, 2), f(w, 2), f(w, 2), f(w, 2), 0.1, 0.9, 0.95, 1e-8, 0, 2 ** 53 - 1]], ["beta 1", (w) => [f(w, 2), f(w, 2), f(w, 2), f(w, 2), 0.1, 1, 1, 0, 0, 1]], ["m too short", (w) => [f(w, 2), f(w, 2), f(w, 1), f(w, 2), 0.1, 0.9, 0.95, 1e-8, 0, 1]]],
  sgd: [["buf i32", (w) => [f(w, 2), f(w, 2), w.i(2), 0.1, 0.9, 0, 0, false, true]], ["nesterov as number", (w) => [f(w, 2), f(w, 2), f(w, 2), 0.1, 0.9, 0, 0, 1, true]], ["all aliased", (w) => { const h = f(w, 3); return [h, h, h, 0.1, 0.9, 0, 0, true, false]; }]],
  scaleInPlace: [["i32", (w) => [w.i(2), 2]], ["Infinity", (w) => [f(w, 2), Infinity]], ["disposed", (w) => [w.disposed(), 2]]],
  adamwMany: [["lists of different lengths", (w) => [[f(w, 2)], [f(w, 2)], [], [f(w, 2)], 0.1, 0.9, 0.95, 1e-8, 0, 1]], ["step 0", (w) => [[f(w, 2)], [f(w, 2)], [f(w, 2)], [f(w, 2)], 0.1, 0.9, 0.95, 1e-8, 0, 0]], ["not arrays", (w) => [f(w, 2), f(w, 2), f(w, 2), f(w, 2), 0.1, 0.9, 0.95, 1e-8, 0, 1]], ["m too short", (w) => [[f(w, 2)], [f(w, 2)], [f(w, 1)], [f(w, 2)], 0.1, 0.9, 0.95, 1e-8, 0, 1]]],
  scaleMany: [["an i32 element", (w) => [[f(w, 2), w.i(2)], 2]], ["not an array", (w) => [f(w, 2), 2]], ["a disposed element", (w) => [[w.disposed()], 2]]],
  axpyInPlace: [["size mismatch", (w) => [f(w, 2), f(w, 3), 1]], ["bf16 x", (w) => [f(w, 2), w.buf(DT.bf16, 2), 1]], ["self", (w) => { const h = f(w, 3); return [h, h, -1]; }]],
};

describe("native addon: hand-picked nasty cases", () => {
  const rows = Object.entries(NASTY).flatMap(([fn, cases]) => cases.map(([label, build]) => [fn, label, build] as const));
  test("every binding has at least one hand-picked case", () => {
    for (const k of NATIVE_KEYS) expect(NASTY[k as keyof NativeAddon]?.length ?? 0, k).toBeGreaterThan(0);
  });
  test.each(rows)("%s: %s", (fn, _label, build) => {
    const w = new World();
    try {
      const r = callNative(fn, build(w), w);
      expect(r).not.toBe("skipped");
    } finally {
      w.close();
    }
  });
  test("functional spot checks after the fuzz (the addon still computes correctly)", () => {
    const w = new World();
    try {
      const a = w.f(4), b = w.f(4), o = w.f(4);
      native.upload(a, new Float32Array([1, 2, 3, 4]));
      native.upload(b, new Float32Array([10, 20, 30, 40]));
      native.binary(0, a, [1], b, [1], o, [4]);
      expect(Array.from(native.download(o))).toEqual([11, 22, 33, 44]);
      native.stridedCopy(a, 3, [-1], o, 0, [1], [4]);
      expect(Array.from(native.download(o))).toEqual([4, 3, 2, 1]);
      expect(native.sumSquares(a)).toBe(30);
      const i = w.i(3);
      native.cast(i, (() => { const s = w.f(3); native.upload(s, new Float32Array([NaN, 1e30, -2.7])); return s; })());
      expect(Array.from(native.download(i))).toEqual([0, 2147483647, -2]);
    } finally {
      w.close();
    }
  });
});

// =================================================================================================================
// Public TypeScript API fuzz: every exported op gets random (often wrong) arguments inside tidy(); each call must
// return or throw an Error whose message names the op (or the primitive it is built from), and nothing may leak.

type Kind = "t" | "tn" | "n" | "int" | "axes" | "shape" | "o" | "ts" | "fn" | "str" | "data" | "any";
interface TsSpec {
  kinds: Kind[];
  /** Names an error message may contain (default: the export's name). */
  names?: string[];
  /** For helpers that take the op's name as an argument: the names, from the arguments. */
  namesFrom?: (args: unknown[]) => string[];
  /** Custom call (classes, higher-order functions); default: the export called with the args. */
  run?: (args: unknown[], pool: unknown[]) => unknown;
  /** Restores global state after each call. */
  after?: () => void;
}

const S = st as unknown as Record<string, Fn>;
const u = (...names: string[]) => names;
const UNARY_TS = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "silu", "gelu", "geluTanh", "relu", "abs", "sin", "cos", "square", "reciprocal"];
const BINARY_TS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"];

const TS_SPECS: Record<string, TsSpec> = {
  // creation
  tensor: { kinds: ["data", "o"] },
  empty: { kinds: ["shape", "str", "str"] },
  zeros: { kinds: ["shape", "o"], names: u("zeros", "full", "empty") },
  ones: { kinds: ["shape", "o"], names: u("ones", "full", "empty") },
  full: { kinds: ["shape", "n", "o"], names: u("full", "empty") },
  scalar: { kinds: ["n", "o"], names: u("scalar", "full", "empty") },
  zerosLike: { kinds: ["t"], names: u("zerosLike", "full", "empty") },
  onesLike: { kinds: ["t"], names: u("onesLike", "full", "empty") },
  arange: { kinds: ["int", "o"], names: u("arange", "tensor") },
  copyTo: { kinds: ["t", "str"], names: u("copyTo", "device") },
  // elementwise
  ...Object.fromEntries(BINARY_TS.map((k) => [k, { kinds: ["tn", "tn"] as Kind[], names: k === "pow" ? u("pow", "powScalar") : undefined }])),
  binaryRaw: { kinds: ["str", "t", "t"], namesFrom: (a) => ["binaryRaw", String(a[0])] },
  ...Object.fromEntries(UNARY_TS.map((k) => [k, { kinds: ["t"] as Kind[] }])),
  powScalar: { kinds: ["t", "n"] },
  addScalar: { kinds: ["t", "n"] },
  mulScalar: { kinds: ["t", "n"] },
  where: { kinds: ["t", "tn", "tn"] },
  swiglu: { kinds: ["t", "t"] },
  maskedFill: { kinds: ["t", "t", "n"], names: u("maskedFill", "where") },
  assertSameShape: { kinds: ["str", "t", "t"], namesFrom: (a) => ["assertSameShape", String(a[0])] },
  // reductions
  sum: { kinds: ["t", "axes", "o"] },
  mean: { kinds: ["t", "axes", "o"] },
  max: { kinds: ["t", "int", "o"] },
  maxWithIndices: { kinds: ["t", "int", "o"], names: u("max") },
  argmax: { kinds: ["t", "int", "o"], names: u("argmax", "max") },
  softmax: { kinds: ["t", "int"] },
  logSoftmax: { kinds: ["t", "int"] },
  sumToShape: { kinds: ["t", "shape"], names: u("sumToShape", "sum", "reshape") },
  // layout
  reshape: { kinds: ["t", "shape"] },
  view: { kinds: ["t", "shape"], names: u("view", "reshape") },
  flatten: { kinds: ["t"], names: u("flatten", "reshape") },
  unsqueeze: { kinds: ["t", "int"], names: u("unsqueeze", "reshape") },
  squeeze: { kinds: ["t", "int"], names: u("squeeze", "reshape") },
  permute: { kinds: ["t", "shape"] },
  transpose: { kinds: ["t", "int", "int"], names: u("transpose", "permute") },
  slice: { kinds: ["t", "shape", "shape"] },
  narrow: { kinds: ["t", "int", "int", "int"], names: u("narrow", "slice") },
  concat: { kinds: ["ts", "int"] },
  stack: { kinds: ["ts", "int"], names: u("stack", "concat", "unsqueeze", "reshape") },
  broadcastTo: { kinds: ["t", "shape"] },
  expand: { kinds: ["t", "shape"], names: u("expand", "broadcastTo") },
  clone: { kinds: ["t"] },
  detach: { kinds: ["t"] },
  embedding: { kinds: ["t", "t"] },
  indexSelect: { kinds: ["t", "t"], names: u("indexSelect", "reshape", "embedding") },
  // matmul
  matmul: { kinds: ["t", "t", "o"] },
  linear: { kinds: ["t", "t", "t"], names: u("linear", "matmul", "add") },
  setGemmBackend: { kinds: ["str"], after: () => st.setGemmBackend("auto") },
  // nn
  crossEntropy: { kinds: ["t", "t", "o"] },
  rmsNorm: { kinds: ["t", "t", "n", "o"] },
  addRmsNorm: { kinds: ["t", "t", "t", "n", "o"], names: u("addRmsNorm", "rmsNorm") },
  rope: { kinds: ["t", "o"] },
  attention: { kinds: ["t", "t", "t", "o"] },
  attentionEager: { kinds: ["t", "t", "t", "o"] },
  attentionTapped: { kinds: ["t", "t", "t", "o"], names: u("attentionTapped", "attention") },
  attentionEagerProbs: { kinds: ["t", "t", "t", "o"], names: u("attentionEagerProbs", "attentionEager") },
  attentionDistill: { kinds: ["t", "t", "o"] },
  // optimizers
  AdamW: {
    kinds: ["ts", "o"],
    run: (a) => { const o = new st.AdamW(a[0] as st.Tensor[], a[1] as st.AdamWOptions); try { o.step(); o.step(); o.zeroGrad(); } finally { o.dispose(); } },
  },
  SGD: {
    kinds: ["ts", "o"],
    run: (a) => { const o = new st.SGD(a[0] as st.Tensor[], a[1] as st.SGDOptions); try { o.step(); o.zeroGrad(); } finally { o.dispose(); } },
  },
  clipGradNorm: { kinds: ["ts", "n"] },
  GradScaler: {
    kinds: ["o", "t", "ts"],
    names: u("GradScaler", "GradScaler.scaleLoss", "GradScaler.unscale", "mulScalar"),
    run: (a) => { const s = new st.GradScaler(a[0] as st.GradScalerOptions); s.scaleLoss(a[1] as st.Tensor); s.unscale(a[2] as st.Tensor[]); s.update(); },
  },
  cast: { kinds: ["t", "str"] },
  autocast: { kinds: ["str", "fn"] },
  autocastDType: { kinds: [] },
  promoteTypes: { kinds: ["str", "str"] },
  isFloatDType: { kinds: ["any"] },
  // random
  Generator: {
    kinds: ["int", "shape", "n", "n", "o"],
    names: u("Generator", "normal", "uniform", "randint", "empty"),
    run: (a) => {
      const g = new st.Generator(a[0] as number);
      g.normal(a[1] as number[], a[2] as number, a[3] as number, a[4] as st.TensorOptions);
      g.uniform(a[1] as number[], a[2] as number, a[3] as number);
      g.randint(a[1] as number[], a[2] as number, a[3] as number);
    },
  },
  manualSeed: { kinds: ["int"], names: u("manualSeed", "Generator"), after: () => st.manualSeed(0) },
  randn: { kinds: ["shape", "o"], names: u("randn", "normal", "empty") },
  rand: { kinds: ["shape", "o"], names: u("rand", "uniform", "empty") },
  // dtypes and devices
  f32ToBf16Bits: { kinds: ["n"] },
  bf16BitsToF32: { kinds: ["n"] },
  f32ToF16Bits: { kinds: ["n"] },
  f16BitsToF32: { kinds: ["n"] },
  parseDevice: { kinds: ["str"], names: u("parseDevice", "device") },
  resolveDevice: { kinds: ["str"], names: u("resolveDevice", "device") },
  deviceName: { kinds: ["any"] },
  shapeStr: { kinds: ["any"] },
  devices: { kinds: [] },
  setThreads: { kinds: ["int"], after: () => st.setThreads(DEFAULT_THREADS) },
  // scopes and autograd
  tidy: { kinds: ["fn"] },
  profile: { kinds: ["fn"] },
  rememberHostCopy: { kinds: ["t", "any"] },
  hostCopy: { kinds: ["any"] },
  dispose: { kinds: ["any"] },
  memory: { kinds: [] },
  resetPeakMemory: { kinds: [] },
  noGrad: { kinds: ["fn"] },
  enableGrad: { kinds: ["fn"] },
  isGradEnabled: { kinds: [] },
  backward: { kinds: ["t", "o"] },
  grad: { kinds: ["fn", "t", "t"], run: (a) => st.grad(a[0] as (...x: st.Tensor[]) => st.Tensor)(a[1] as st.Tensor, a[2] as st.Tensor) },
  valueAndGrad: { kinds: ["fn", "t"], run: (a) => st.valueAndGrad(a[0] as (...x: st.Tensor[]) => st.Tensor)(a[1] as st.Tensor) },
  record: { kinds: ["str", "t", "ts", "fn", "o"] },
};
/** Exports that are not fuzzed here, and why. */
const TS_NOT_FUZZED: Record<string, string> = {
  CPU: "a constant",
  DTYPES: "a constant",
  Tensor: "a class: its methods are fuzzed below",
  Storage: "an internal buffer class (constructed by empty())",
  loadSafetensors: "file I/O: its error contract (path + problem) is tested in safetensors.test.ts",
  saveSafetensors: "file I/O that writes to the given path (garbage paths would litter the disk); tested in safetensors.test.ts",
  readSafetensorsHeader: "file I/O: tested in safetensors.test.ts",
};

// ---- argument recipes ------------------------------------------------------------------------------------------------

/** Tensors built fresh for every call (inside tidy), all tiny. Index 11 is disposed. Nothing in the recipes may make an
 * op really allocate more than ~1 MB (sizes like 2^41 are there to be rejected). */
function makePool(): unknown[] {
  const t = (data: number[] | Float32Array, opts: st.TensorOptions = {}) => st.tensor(data, opts);
  const seq = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  const disposed = t([1, 2, 3]);
  disposed.dispose();
  return [
    t(seq(6), { shape: [2, 3] }), t(seq(3), { shape: [3] }), t([0.5], { shape: [] }), t(seq(0), { shape: [0] }),
    t(seq(24), { shape: [2, 3, 4] }), t(seq(12), { shape: [4, 3] }), t(seq(6), { shape: [2, 3], requiresGrad: true }),
    t([0, 1, 2, 1, 0, 2], { dtype: "int32", shape: [2, 3] }), t([1, 9, -100], { dtype: "int32" }), t([1, 2, 3, 4], { dtype: "bfloat16", shape: [2, 2] }),
    t([1, 2, 3], { dtype: "float16" }), disposed, t(seq(16), { shape: [1, 2, 2, 4], requiresGrad: true }), t(seq(8), { shape: [1, 2, 1, 4] }),
    t(seq(6), { shape: [3, 2], requiresGrad: true }), t([1, 0, 1], { shape: [3] }), t([0, 2], { dtype: "int32" }), t(seq(9), { shape: [3, 3] }),
    // For attention (q = 12 [1,2,2,4], k = v = 13 [1,2,1,4]): rows int32 [1,1], teacher [1,1,1,2], key mask [1,2].
    t([1], { dtype: "int32", shape: [1, 1] }), t([0.25, 0.75], { shape: [1, 1, 1, 2] }), t([1, 0], { shape: [1, 2] }),
  ];
}
const POOL_SIZE = 21;
const [ROWS, TEACHER, KEYMASK] = [18, 19, 20];

const TS_GARBAGE: readonly unknown[] = [
  undefined, null, NaN, Infinity, -Infinity, -1, 0, 1, 2.5, -0, 2 ** 41, 2 ** 53, 1e300, "", "2", "cuda:0", "cuda:99", "float64", true,
  {}, [], [1, 2], [-1], [2.5], [NaN], ["a"], [[1], [2, 3]], new Float32Array(3), new Int32Array(2), new Uint16Array(2), () => 1,
  Symbol("s"), 10n, { type: "cuda", index: 0 }, { type: "cpu", index: -1 }, new Map([["a", 1]]), Object.create(null), new Proxy([], {}),
];
const NUMS = [0, 1, -1, 0.5, 2, 3, -2, NaN, Infinity, -Infinity, 1e30, -0, 1e-40, 2 ** 31, 0.1];
const INTS = [0, 1, 2, -1, -2, 3, 4, 5, -3, 100, 2 ** 53, 1.5, NaN, -Infinity]; // no 2^31: arange would really allocate 8 GiB
const SHAPES: unknown[] = [[], [2, 3], [3, 2], [6], [-1], [2, -1], [-1, -1], [0], [1, 2, 3], [3], [2, 3, 4], [4, 6], [1, 0, 2], [2.5],
  [NaN], [-2, 3], [2 ** 41], [2 ** 21, 2 ** 21], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0, 1], [1, 0], [2, 0, 1], ["2"], [null], [2, 2, 2, 4]];
const STRS = ["cpu", "cuda", "cuda:0", "cuda:99", "cuda:-1", "auto", "float32", "int32", "bfloat16", "float16", "float64", "", "own", "blas",
  "reference", "add", "gpu", "cpu:0", "CUDA:0", "cuda:1e3"];
const OPTS: unknown[] = [
  {}, { dtype: "int32" }, { dtype: "bfloat16" }, { dtype: "bogus" }, { device: "cuda:0" }, { device: "cuda:99" }, { device: "tpu" },
  { requiresGrad: true }, { requiresGrad: true, dtype: "int32" }, { shape: [-1] }, { shape: [6] }, { shape: [2, 2] }, { keepDims: true },
  { keepDims: 1 }, { transA: true }, { transB: true }, { transA: true, transB: true }, { transA: "yes" }, { ignoreIndex: 0 }, { ignoreIndex: 2.5 },
  { ignoreIndex: -100 }, { theta: -1 }, { theta: NaN }, { offset: 3 }, { offset: -3 }, { offset: 2 ** 40 }, { positions: 5 },
  { causal: false }, { causal: true, scale: NaN }, { scale: 0 }, { grad: 5 }, { retainGraph: true }, { lr: NaN }, { lr: 0.1, weightDecay: -1 },
  { betas: [2, 3] }, { betas: [0.9] }, { momentum: 0.9, nesterov: true }, { nesterov: true }, { eps: Infinity }, { save: "x" }, { names: ["a"] },
  { kernel: "reference" }, { kernel: "bogus" }, { sensitivity: "visible" }, { sensitivity: "bogus" }, { reduction: "sum" }, { reduction: "bogus" },
  { taps: { heads: [0] } }, { taps: 5 }, { heads: [0] }, { heads: "all", rows: 1, teacher: 2 },
];

type Recipe = { p: number } | { v: unknown } | { ts: number[] } | { fnr: number } | { optT: number; optK: number };
const pick = <T>(xs: readonly T[]) => fc.nat(xs.length - 1).map((i) => xs[i]!);
const poolArb = fc.nat(POOL_SIZE - 1).map((p): Recipe => ({ p }));
const valueArb = (xs: readonly unknown[]) => pick(xs).map((v): Recipe => ({ v }));
/** Callbacks for tidy/noGrad/grad/record: well-behaved ones and hostile ones. */
const FNS: Array<(pool: unknown[]) => unknown> = [
  (pool) => () => st.sum(pool[6] as st.Tensor),
  (pool) => (x: st.Tensor) => st.sum(st.mul(x ?? (pool[0] as st.Tensor), 2)),
  () => () => 1,
  () => (x: unknown) => x,
  () => () => { throw new Error("user callback error"); },
  () => () => Promise.resolve(1),
  (pool) => () => [pool[0], { a: pool[1] }, new Map([["k", pool[2]]])],
  (pool) => (g: st.Tensor) => [g, g, pool[0]],
];
const kindArb: Record<Kind, fc.Arbitrary<Recipe>> = {
  t: poolArb,
  tn: fc.oneof(poolArb, valueArb(NUMS)),
  n: valueArb(NUMS),
  int: valueArb(INTS),
  axes: fc.oneof(valueArb([undefined, 0, 1, -1, 2, 5, -4]), valueArb([[0], [1, 0], [0, 0], [-1], [0, 1, 2], [3], [0.5]])),
  shape: valueArb(SHAPES),
  o: fc.oneof({ arbitrary: valueArb(OPTS), weight: 3 }, { arbitrary: fc.record({ optT: fc.nat(POOL_SIZE - 1), optK: fc.nat(14) }), weight: 2 }),
  ts: fc.array(fc.oneof({ arbitrary: fc.nat(POOL_SIZE - 1), weight: 5 }, { arbitrary: fc.constant(-1), weight: 1 }), { maxLength: 4 }).map((ts): Recipe => ({ ts })),
  fn: fc.nat(FNS.length - 1).map((fnr): Recipe => ({ fnr })),
  str: valueArb(STRS),
  data: valueArb([[1, 2, 3], [[1, 2], [3, 4]], [[1, 2], [3]], [], [[]], [[[1]]], 5, [1, "a"], [1, [2]], [NaN, Infinity], [2.5, 3],
    new Float32Array([1, 2, 3, 4]), new Int32Array([1, -1]), new Uint16Array([0x3c00]), new Float64Array(2), "abc", { length: 2 }, [1e40]]),
  any: fc.oneof(poolArb, valueArb(TS_GARBAGE)),
};
function materialize(r: Recipe, pool: unknown[]): unknown {
  if ("p" in r) return pool[r.p];
  if ("ts" in r) return r.ts.map((i) => (i < 0 ? "not a tensor" : pool[i]));
  if ("fnr" in r) return FNS[r.fnr]!(pool);
  if ("optT" in r) {
    const t = pool[r.optT];
    const [rows, teacher, keyMask] = [pool[ROWS], pool[TEACHER], pool[KEYMASK]];
    return [
      { grad: t }, { positions: t }, { grad: t, retainGraph: true }, { save: [t] }, { shape: (t as st.Tensor).shape }, { keyMask: t },
      { keyMask, kernel: "reference", causal: false }, { taps: { heads: [0], rows: t } }, { taps: { heads: [0, 1], rows }, sensitivity: "all" },
      { taps: { heads: [2], rows } }, { heads: [0], rows: t, teacher }, { heads: [0], rows, teacher: t },
      { heads: [1], rows, teacher, reduction: "sum", kernel: "reference", keyMask }, { heads: [7], rows, teacher }, { heads: [], rows, teacher },
    ][r.optK % 15];
  }
  return r.v;
}
interface Call { recipes: Recipe[]; wellTyped: boolean }
/** Arguments of the expected kinds (wellTyped), sometimes with garbage substituted, missing or extra arguments. */
function callArb(kinds: Kind[]): fc.Arbitrary<Call> {
  const arg = (k: Kind) =>
    fc.oneof(
      { arbitrary: kindArb[k].map((r) => ({ r, ok: k !== "any" && !("ts" in r && r.ts.includes(-1)) })), weight: 5 },
      { arbitrary: valueArb(TS_GARBAGE).map((r) => ({ r, ok: false })), weight: 1 },
    );
  const args = fc.tuple(...kinds.map(arg)).map((xs) => ({ recipes: xs.map((x) => x.r), wellTyped: xs.every((x) => x.ok) }));
  return fc.oneof(
    { arbitrary: args, weight: 8 },
    { arbitrary: fc.tuple(args, fc.nat(Math.max(kinds.length - 1, 0))).map(([a, n]) => ({ recipes: a.recipes.slice(0, n), wellTyped: false })), weight: 1 }, // too few
    { arbitrary: fc.tuple(args, valueArb(TS_GARBAGE)).map(([a, extra]) => ({ recipes: [...a.recipes, extra], wellTyped: false })), weight: 1 }, // too many
  );
}

/** Errors that do not name their op, per op: collected by the fuzz, asserted empty by the summary tests. */
const unnamed = { wellTyped: new Map<string, string[]>(), illTyped: new Map<string, string[]>() };
/**
 * Hard: a throw is an Error. Soft (collected): its message names the op. A user callback's own error passes through
 * unchanged, and the allocator's device errors ("seekr.alloc: CUDA is not available ...", "... cuda device index out
 * of range") name the failing primitive and the reason (no GPU here).
 */
function checkTsError(op: string, names: string[], e: unknown, args: string, wellTyped: boolean): void {
  expect(e, `${op}(${args}) threw a non-Error: ${String(e)}`).toBeInstanceOf(Error);
  const m = (e as Error).message;
  if (m === "user callback error" || /^seekr\.alloc: (CUDA is not available|cuda device index out of range)/.test(m)) return;
  if (names.some((n) => m.toLowerCase().includes(n.toLowerCase()))) return;
  const map = wellTyped ? unnamed.wellTyped : unnamed.illTyped;
  const list = map.get(op) ?? [];
  if (list.length < 2 && !list.some((x) => x.endsWith(m))) list.push(`${op}(${args}) -> ${(e as Error).name}: ${m}`);
  map.set(op, list);
}
function showArgs(args: unknown[]): string {
  return args
    .map((a) => {
      if (st.Tensor && a instanceof st.Tensor) return a.isDisposed ? `<disposed ${st.shapeStr(a.shape)}>` : `<${a.dtype} ${st.shapeStr(a.shape)}${a.requiresGrad ? " grad" : ""}>`;
      if (typeof a === "symbol" || typeof a === "bigint") return String(a);
      if (typeof a === "function") return "<fn>";
      if (Array.isArray(a) && a.some((x) => x instanceof st.Tensor)) return `[${showArgs(a)}]`;
      try { return JSON.stringify(a) ?? String(a); } catch { return "<object>"; }
    })
    .join(", ");
}

const TS_KEYS = Object.keys(st).sort();
const liveState = () => { const m = st.memory(); return { tensors: m.tensors, buffers: m.buffers, bytes: m.devices.cpu!.bytes }; };

describe("public TS API fuzz", () => {
  test("every export is fuzzed or listed as not fuzzed with a reason (a new op without a fuzz entry fails here)", () => {
    const covered = new Set([...Object.keys(TS_SPECS), ...Object.keys(TS_NOT_FUZZED)]);
    expect(TS_KEYS.filter((k) => !covered.has(k)), "exports with no fuzz entry").toEqual([]);
    expect([...covered].filter((k) => !TS_KEYS.includes(k)), "fuzz entries for names that are not exported").toEqual([]);
  });

  const fuzzed = TS_KEYS.filter((k) => k in TS_SPECS);
  test.each(fuzzed)("%s", (op) => {
    const spec = TS_SPECS[op]!;
    fc.assert(
      fc.property(callArb(spec.kinds), ({ recipes, wellTyped }) => {
        const base = liveState();
        let shown = "";
        let names = spec.names ?? [op];
        try {
          st.tidy(() => {
            const pool = makePool();
            const args = recipes.map((r) => materialize(r, pool));
            shown = showArgs(args);
            if (spec.namesFrom) names = spec.namesFrom(args);
            const ret = spec.run ? spec.run(args, pool) : S[op]!(...args);
            if (ret instanceof Promise) ret.catch(() => {});
            // Results are left to tidy (it also releases their graphs); returning nothing frees everything.
          });
        } catch (e) {
          checkTsError(op, names, e, shown, wellTyped);
        } finally {
          spec.after?.();
        }
        expect(liveState(), `${op}(${shown}) leaked`).toEqual(base);
      }),
      fcParams(),
    );
  });

  const METHODS = Object.getOwnPropertyNames(st.Tensor.prototype).filter((k) => {
    const d = Object.getOwnPropertyDescriptor(st.Tensor.prototype, k)!;
    return k !== "constructor" && !k.startsWith("_") && typeof d.value === "function";
  });
  const METHOD_NAMES: Record<string, string[]> = {
    view: u("view", "reshape"), flatten: u("flatten", "reshape"), squeeze: u("squeeze", "reshape"), unsqueeze: u("unsqueeze", "reshape"),
    transpose: u("transpose", "permute"), to: u("to", "device", "copyTo"), argmax: u("argmax", "max"), item: u("item"), pow: u("pow", "powScalar"),
    backward: u("backward"), dataSync: u("dataSync", "disposed"), toArray: u("toArray", "disposed"), toFloatArray: u("toFloatArray", "disposed"),
  };
  test("Tensor methods cover the prototype", () => {
    expect(METHODS.length).toBeGreaterThan(40);
    expect(METHODS).toEqual(expect.arrayContaining(["add", "reshape", "matmul", "cast", "to", "backward", "item", "dispose", "keep"]));
  });
  test.each(METHODS)("Tensor.prototype.%s", (m) => {
    fc.assert(
      fc.property(poolArb, fc.array(fc.oneof(kindArb.any, kindArb.shape, kindArb.int, kindArb.o, kindArb.str), { maxLength: 3 }), (self, recipes) => {
        const base = liveState();
        let shown = "";
        try {
          st.tidy(() => {
            const pool = makePool();
            const t = materialize(self, pool) as st.Tensor;
            const args = recipes.map((r) => materialize(r, pool));
            shown = `${showArgs([t])}.${m}(${showArgs(args)})`;
            (t as unknown as Record<string, Fn>)[m]!(...args);
            if (m === "keep") t.dispose();
          });
        } catch (e) {
          checkTsError(`Tensor.${m}`, METHOD_NAMES[m] ?? [m], e, shown, false);
        }
        expect(liveState(), `${shown} leaked`).toEqual(base);
      }),
      fcParams(Math.ceil(RUNS / 2)),
    );
  });

  const table = (m: Map<string, string[]>) => [...m].map(([op, ex]) => `  ${op}: ${ex.join("\n      ")}`).join("\n");
  test("summary: errors for arguments of the expected kinds name their op", () => {
    expect(unnamed.wellTyped.size, `ops whose errors do not name them:\n${table(unnamed.wellTyped)}`).toBe(0);
  });
  test("summary: errors for wrongly typed or missing arguments name their op", () => {
    expect(unnamed.illTyped.size, `ops whose errors do not name them:\n${table(unnamed.illTyped)}`).toBe(0);
  });
});

describe("public TS API: hand-picked cases", () => {
  const throwsNamed = (fn: () => unknown, re: RegExp) => {
    let err: unknown = null;
    try {
      st.tidy(() => { fn(); });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(re);
  };

  test.each(["float32", "int32", "bfloat16", "float16"] as const)("zeros / ones / full / zerosLike create %s tensors", (dtype) => {
    st.tidy(() => {
      expect(Array.from(st.zeros([2, 2], { dtype }).toFloatArray())).toEqual([0, 0, 0, 0]);
      expect(Array.from(st.ones([3], { dtype }).toFloatArray())).toEqual([1, 1, 1]);
      expect(Array.from(st.full([2], 2, { dtype }).toFloatArray())).toEqual([2, 2]);
      expect(st.scalar(3, { dtype }).item()).toBe(3);
      const t = st.tensor([1, 2], { dtype });
      expect(Array.from(st.zerosLike(t).toFloatArray())).toEqual([0, 0]);
      expect(st.onesLike(t).dtype).toBe(dtype);
    });
  });

  test.each(["cuda:0", "cuda:99", "cuda"])("device %s without a usable GPU: creation and copies fail with a clear Error", (device) => {
    const cudaUsable = st.devices().cuda.available;
    const re = /seekr\.alloc: (CUDA is not available|cuda device index out of range|cuda:\d+ does not exist)/;
    for (const make of [() => st.tensor([1, 2], { device }), () => st.zeros([2], { device }), () => st.randn([2], { device }), () => st.tensor([1]).to(device)]) {
      if (cudaUsable && device !== "cuda:99") st.tidy(() => { make(); });
      else throwsNamed(make, re);
    }
  });

  test("invalid devices and dtypes are rejected by name", () => {
    throwsNamed(() => st.zeros([2], { device: "tpu" }), /invalid device "tpu"/);
    throwsNamed(() => st.parseDevice("cuda:-1"), /invalid device "cuda:-1"/);
    throwsNamed(() => st.zeros([2], { dtype: "float64" as st.DType }), /unknown dtype "float64"/);
    throwsNamed(() => st.tensor([1, 2], { device: { type: "cuda", index: -1 } as st.Device }), /invalid device/);
  });

  test("out-of-range indices: embedding ids, crossEntropy targets, rope positions", () => {
    throwsNamed(() => st.embedding(st.tensor([[1, 2], [3, 4]]), st.tensor([0, 2], { dtype: "int32" })), /index 2 at position 1 is out of range \[0, 2\)/);
    throwsNamed(() => st.embedding(st.tensor([[1, 2]]), st.tensor([-1], { dtype: "int32" })), /out of range/);
    throwsNamed(() => st.crossEntropy(st.tensor([[1, 2, 3]]), st.tensor([3], { dtype: "int32" })), /target 3 at row 0 is out of range \[0, 3\)/);
    throwsNamed(() => st.crossEntropy(st.tensor([[1, 2, 3]]), st.tensor([0.5])), /crossEntropy: 'targets' must be int32/);
    // Ignored rows only: a NaN loss, not an error (PyTorch's behaviour).
    st.tidy(() => expect(st.crossEntropy(st.tensor([[1, 2, 3]]), st.tensor([-100], { dtype: "int32" })).item()).toBeNaN());
    // Any int32 position is valid for rope (huge angles), and the result stays finite.
    st.tidy(() => {
      const y = st.rope(st.tensor(new Float32Array(8).fill(1), { shape: [1, 2, 1, 4] }), { positions: st.tensor([2 ** 31 - 1, -(2 ** 31)], { dtype: "int32", shape: [1, 2] }) });
      for (const v of y.toFloatArray()) expect(Number.isFinite(v)).toBe(true);
    });
  });

  test("disposed tensors: every op names the op, the argument and the shape", () => {
    const d = st.tensor([[1, 2], [3, 4]]);
    d.dispose();
    const live = st.tensor([[1, 2], [3, 4]]);
    try {
      throwsNamed(() => st.matmul(live, d), /^matmul: 'b' \[2, 2\] was disposed/);
      throwsNamed(() => st.softmax(d), /^softmax: 'x' \[2, 2\] was disposed/);
      throwsNamed(() => st.concat([live, d]), /^concat: 'tensors\[1\]' \[2, 2\] was disposed/);
      throwsNamed(() => st.crossEntropy(d, st.tensor([0, 1], { dtype: "int32" })), /^crossEntropy: 'logits' \[2, 2\] was disposed/);
      throwsNamed(() => st.rmsNorm(live, d), /^rmsNorm: 'weight' \[2, 2\] was disposed/);
      throwsNamed(() => new st.AdamW([d]), /AdamW: parameter 0 \[2, 2\] was disposed/);
    } finally {
      live.dispose();
    }
  });
});
