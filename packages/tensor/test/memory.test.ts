// Memory: no leaks over repeated training/inference steps, dispose semantics, shared views, the GC safety net.
import { describe, expect, test, vi } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

// bench/llama.ts imports "@seekr/tensor" (the dist/ build, a second module instance with its own scopes and
// counters). Point it at the sources under test so tidy() and memory() see the model's tensors.
vi.mock("@seekr/tensor", async () => await import("../src/index.js"));

import {
  AdamW, Generator, type MemoryInfo, type Tensor, add, argmax, clipGradNorm, dispose, exp, linear, matmul, memory, mul, noGrad, sum, tensor,
  tidy, zeros,
} from "../src/index.js";
import * as llamaModule from "../bench/llama.js";
import type { LlamaConfig } from "../bench/llama.js";

// bench/llama.ts is typed against the package's dist/ declarations; at run time (vi.mock above) it uses these sources.
type SrcTensor = import("../src/index.js").Tensor;
const llama = llamaModule as unknown as {
  forward(c: LlamaConfig, params: Map<string, SrcTensor>, ids: SrcTensor): SrcTensor;
  loss(c: LlamaConfig, params: Map<string, SrcTensor>, ids: SrcTensor, targets: SrcTensor): SrcTensor;
  initParams(c: LlamaConfig, seed: number, std?: number): Map<string, SrcTensor>;
};
const { forward, initParams, loss } = llama;


const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = join(here, "..");

const TINY: LlamaConfig = {
  vocabSize: 32, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 24, rmsNormEps: 1e-5, ropeTheta: 10000,
};

interface Snap { tensors: number; buffers: number; bytes: number; nativeBuffers: number }
function snap(m: MemoryInfo = memory()): Snap {
  const cpu = m.devices.cpu!;
  return { tensors: m.tensors, buffers: m.buffers, bytes: cpu.bytes, nativeBuffers: cpu.buffers };
}

function batch(seed: number, B = 2, T = 8): { ids: Tensor; targets: Tensor } {
  const g = new Generator(seed);
  const ids = g.randint([B, T], 0, TINY.vocabSize).keep();
  const t = ids.dataSync() as Int32Array;
  const tg = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) tg[b * T + i] = i + 1 < T ? t[b * T + i + 1]! : -100;
  return { ids, targets: tensor(tg, { shape: [B, T], dtype: "int32" }).keep() };
}

describe("no leaks over repeated steps", () => {
  test("20 full training steps (forward, loss, backward, clip, AdamW, zeroGrad) return to the post-step-1 baseline", () => {
    const start = snap();
    const params = initParams(TINY, 7);
    const list = [...params.values()];
    const { ids, targets } = batch(1);
    const opt = new AdamW(list, { lr: 1e-2, betas: [0.9, 0.95], weightDecay: 0.1 });
    const step = (): number =>
      tidy(() => {
        opt.zeroGrad();
        const l = loss(TINY, params, ids, targets);
        const v = l.item();
        l.backward();
        const norm = clipGradNorm(list, 1.0);
        expect(Number.isFinite(norm) && norm > 0).toBe(true);
        opt.step();
        opt.zeroGrad();
        return v;
      });
    const losses = [step()];
    const base = snap(); // the optimizer allocated its moments during step 1
    expect(base.tensors).toBe(start.tensors + list.length * 3 + 2); // params, m, v, ids, targets
    const paramBytes = list.reduce((n, p) => n + p.bytes, 0);
    expect(base.bytes - start.bytes).toBe(3 * paramBytes + ids.bytes + targets.bytes);
    for (let i = 0; i < 20; i++) {
      losses.push(step());
      expect(snap(), `after step ${i + 2}`).toEqual(base);
    }
    // It trained (so the steps did real work), and no gradient survived zeroGrad.
    expect(losses[20]!).toBeLessThan(losses[0]!);
    for (const p of list) expect(p.grad).toBeNull();
    opt.dispose();
    dispose([...list, ids, targets]);
    expect(snap()).toEqual(start);
  });

  test("forward under noGrad inside tidy leaves nothing behind (30 runs)", () => {
    const params = initParams(TINY, 3);
    const { ids, targets } = batch(2);
    const base = snap();
    let first: number[] | null = null;
    for (let i = 0; i < 30; i++) {
      const row = tidy(() => noGrad(() => Array.from(forward(TINY, params, ids).toFloatArray().subarray(0, 4))));
      first ??= row;
      expect(row).toEqual(first);
      expect(snap(), `after forward ${i + 1}`).toEqual(base);
    }
    dispose([...params.values(), ids, targets]);
  });

  test("a recorded forward that never runs backward is freed by tidy (graph and saved tensors)", () => {
    const params = initParams(TINY, 4);
    const { ids, targets } = batch(3);
    try {
      const base = snap();
      for (let i = 0; i < 10; i++) {
        const v = tidy(() => loss(TINY, params, ids, targets).item());
        expect(Number.isFinite(v)).toBe(true);
        expect(snap()).toEqual(base);
      }
    } finally {
      dispose([...params.values(), ids, targets]);
    }
  });

  test("a loss returned from tidy keeps its graph: a later backward reaches every parameter, then frees it", () => {
    // tidy() promises: "Autograd graphs that no returned tensor needs any more are released" — the returned loss still
    // needs its graph. Minimal form: const l = tidy(() => sum(mul(exp(w), 2))); l.backward(); // w.grad must be set
    const params = initParams(TINY, 4);
    const { ids, targets } = batch(3);
    try {
      const base = snap();
      const l = tidy(() => loss(TINY, params, ids, targets));
      expect(l.requiresGrad).toBe(true);
      l.backward();
      l.dispose();
      const missing = [...params].filter(([, p]) => p.grad === null).map(([n]) => n);
      expect(missing, "parameters that received no gradient").toEqual([]);
      for (const p of params.values()) {
        p.grad!.dispose();
        p.grad = null;
      }
      expect(snap()).toEqual(base);
    } finally {
      for (const p of params.values()) p.grad?.dispose();
      dispose([...params.values(), ids, targets]);
    }
  });

  test("an op that throws inside tidy frees what the scope created", () => {
    const base = snap();
    expect(() =>
      tidy(() => {
        const a = zeros([4, 3]);
        const b = add(a, 1);
        return matmul(b, zeros([4, 3])); // inner dimensions differ
      }),
    ).toThrow(/matmul: inner dimensions differ/);
    expect(snap()).toEqual(base);
  });
});

describe("graphs that are never backpropagated are freed", () => {
  // Since Tensor.dispose() keeps the graph node (so backward still works after tidy), every path that disposes a
  // recorded result without backward must release its node, or the tensors saved for backward (views that pin their
  // inputs' buffers) stay alive until garbage collection.
  test("dispose() of an op result frees what the op saved for backward", () => {
    const base = snap();
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = exp(x); // saves a view of x
    y.dispose();
    x.dispose();
    expect(snap(), "x's buffer is still pinned by exp's saved view").toEqual(base);
  });

  test("an exception inside tidy releases the graph recorded before it", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const w = tensor(new Float32Array(6).fill(1), { shape: [2, 3], requiresGrad: true });
    try {
      const base = snap();
      expect(() => tidy(() => { exp(x); throw new Error("boom"); })).toThrow("boom");
      expect(snap(), "after exp + throw").toEqual(base);
      // The same through an op that records its matmul, then rejects its bias.
      expect(() => tidy(() => linear(tensor([[1, 2, 3]]), w, tensor([1, 2, 3])))).toThrow(/linear: bias must be \[2\]/);
      expect(snap(), "after linear with a bad bias").toEqual(base);
    } finally {
      dispose([x, w]);
    }
  });

  test("argmax of a tensor that requires grad leaves nothing behind inside tidy", () => {
    const x = tensor([[1, 5, 2], [7, 0, 3]], { requiresGrad: true });
    try {
      const base = snap();
      const idx = tidy(() => Array.from(argmax(x, 1).dataSync()));
      expect(idx).toEqual([1, 0]);
      expect(snap(), "argmax disposes its recorded values itself; the saved indices leak").toEqual(base);
    } finally {
      x.dispose();
    }
  });
});

describe("dispose semantics", () => {
  test("dispose() twice is harmless and frees exactly once", () => {
    const base = snap();
    const t = tensor([1, 2, 3, 4]);
    const u = tensor([5, 6]);
    expect(snap().tensors).toBe(base.tensors + 2);
    t.dispose();
    const once = snap();
    expect(once).toEqual({ tensors: base.tensors + 1, buffers: base.buffers + 1, bytes: base.bytes + 8, nativeBuffers: base.nativeBuffers + 1 });
    t.dispose();
    dispose([t, t]);
    expect(snap()).toEqual(once);
    expect(t.isDisposed).toBe(true);
    expect(Array.from(u.dataSync())).toEqual([5, 6]); // the other tensor is untouched
    u.dispose();
    expect(snap()).toEqual(base);
  });

  test("using a disposed tensor throws an Error naming the tensor (op, argument, shape)", () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    const id = t.id;
    t.dispose();
    const cases: Array<[string, () => unknown, RegExp]> = [
      ["dataSync", () => t.dataSync(), new RegExp(`tensor #${id} \\[2, 3\\] was disposed`)],
      ["item", () => t.item(), /\[2, 3\]/],
      ["toArray", () => t.toArray(), new RegExp(`#${id} \\[2, 3\\] was disposed`)],
      ["add", () => add(t, 1), /^add: '(a|input)' \[2, 3\] was disposed/],
      ["mul (rhs)", () => mul(tensor([1]), t), /^mul: 'b' \[2, 3\] was disposed/],
      ["matmul", () => matmul(t, t, { transB: true }), /^matmul: 'a' \[2, 3\] was disposed/],
      ["sum", () => sum(t), /^sum: 'x' \[2, 3\] was disposed/],
      ["reshape", () => t.reshape([3, 2]), /^reshape: 'x' \[2, 3\] was disposed/],
      ["exp", () => t.exp(), /^exp: 'x' \[2, 3\] was disposed/],
      ["clone", () => t.clone(), /^clone: 'x' \[2, 3\] was disposed/],
    ];
    for (const [what, fn, re] of cases) {
      let err: unknown = null;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(Error);
      expect((err as Error).message, what).toMatch(re);
    }
    expect(t.toString()).toMatch(/disposed/);
  });

  test("views (reshape) share the buffer and keep it alive until every view is disposed", () => {
    const base = snap();
    const x = tensor(new Float32Array(12).map((_, i) => i), { shape: [3, 4] });
    const v1 = x.reshape([4, 3]);
    const v2 = v1.reshape([12]);
    expect(snap()).toEqual({ tensors: base.tensors + 3, buffers: base.buffers + 1, bytes: base.bytes + 48, nativeBuffers: base.nativeBuffers + 1 });
    x.dispose();
    expect(snap().bytes).toBe(base.bytes + 48);
    expect(Array.from(v2.dataSync())).toEqual([...Array(12).keys()]);
    v2.dispose();
    expect(snap().bytes).toBe(base.bytes + 48);
    expect((v1.toArray() as number[][])[3]).toEqual([9, 10, 11]);
    v1.dispose();
    expect(snap()).toEqual(base);
  });

  test("detach shares the buffer the same way; tidy keeps returned views alive", () => {
    const base = snap();
    const kept = tidy(() => {
      const a = tensor([1, 2, 3, 4]);
      const d = a.detach();
      return d.reshape([2, 2]); // a and d are disposed by tidy, the returned view keeps the buffer
    });
    expect(snap()).toEqual({ tensors: base.tensors + 1, buffers: base.buffers + 1, bytes: base.bytes + 16, nativeBuffers: base.nativeBuffers + 1 });
    expect(kept.toArray()).toEqual([[1, 2], [3, 4]]);
    kept.dispose();
    expect(snap()).toEqual(base);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The FinalizationRegistry safety net: tensors dropped without dispose() are freed after garbage collection.

/** Awaits a few macrotasks so FinalizationRegistry callbacks get a chance to run. */
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 5));
};

describe("GC safety net", () => {
  test("in process: dropped tensors (and dropped views) are freed after gc()", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // Collect garbage other tests left behind first, so the baseline is stable.
    for (let i = 0, prev = -1; i < 20 && snap().bytes !== prev; i++) {
      prev = snap().bytes;
      gc();
      await ticks(2);
    }
    const base = snap();
    (() => {
      for (let i = 0; i < 200; i++) {
        const t = tensor(new Float32Array(256).fill(i)); // 1 KiB each
        t.reshape([16, 16]); // a view that is also dropped
      }
    })();
    const mid = snap();
    expect(mid.bytes - base.bytes).toBe(200 * 1024);
    expect(mid.tensors - base.tensors).toBe(400);
    for (let i = 0; i < 20 && snap().bytes !== base.bytes; i++) {
      gc();
      await ticks(2);
    }
    expect(snap()).toEqual(base);
  });

  test("in process: a dropped tensor whose view is still held keeps the buffer", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const base = snap();
    const view = (() => tensor([1, 2, 3, 4]).reshape([2, 2]))();
    for (let i = 0; i < 5; i++) {
      gc();
      await ticks(2);
    }
    expect(snap().bytes).toBe(base.bytes + 16);
    expect(view.toArray()).toEqual([[1, 2], [3, 4]]);
    view.dispose();
    expect(snap()).toEqual(base);
  });

  test("child `node --expose-gc` against dist/: dropped tensors are freed, the native byte counter returns to 0", () => {
    // dist/ must reflect src/: rebuild it when any source is newer than its output.
    const stale = (): boolean => {
      const walk = (d: string): string[] =>
        readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
      return walk(join(pkgRoot, "src"))
        .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
        .some((f) => {
          const out = f.replace(join(pkgRoot, "src"), join(pkgRoot, "dist")).replace(/\.ts$/, ".js");
          return !existsSync(out) || statSync(out).mtimeMs < statSync(f).mtimeMs;
        });
    };
    if (stale()) execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: pkgRoot, stdio: "pipe", timeout: 60_000 });
    const script = `
      import * as st from ${JSON.stringify(join(pkgRoot, "dist", "index.js"))};
      const snap = () => { const m = st.memory(); return [m.tensors, m.buffers, m.devices.cpu.bytes, m.devices.cpu.buffers]; };
      const out = { before: snap() };
      (() => { for (let i = 0; i < 300; i++) st.tensor(new Float32Array(1024).fill(i)).reshape([32, 32]); })();
      out.dropped = snap();
      const kept = st.tensor([1, 2, 3]);
      for (let i = 0; i < 30; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); if (snap()[2] === 12) break; }
      out.after = snap();
      out.kept = Array.from(kept.dataSync());
      kept.dispose();
      out.final = snap();
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { cwd: pkgRoot, encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number[]>;
    expect(out.before).toEqual([0, 0, 0, 0]);
    expect(out.dropped).toEqual([600, 300, 300 * 4096, 300]);
    expect(out.after).toEqual([1, 1, 12, 1]); // only the tensor still referenced survives
    expect(out.kept).toEqual([1, 2, 3]);
    expect(out.final).toEqual([0, 0, 0, 0]);
  });
});
