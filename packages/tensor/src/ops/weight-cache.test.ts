// autocast's kept weight casts (AutocastOptions.cacheWeights): a parameter is cast once, the copy reused while the
// parameter is unchanged and rewritten by AdamW's step in the same pass; training is bit-identical to casting every
// step; any other update (SGD) makes the copy stale; a graph that still holds a copy keeps its values; memory is freed
// with the parameter.
import { describe, expect, it } from "vitest";
import { native } from "@seekr/native";
import {
  AdamW, GradScaler, Generator, SGD, autocast, cast, linear, memory, mul, profile, rmsNorm, sum, tidy,
} from "../index.js";
import type { Tensor } from "../index.js";
import type { FloatDType } from "../dtype.js";

const bits = (t: Tensor): number[] => Array.from(new Uint32Array((t.toFloatArray() as Float32Array).slice().buffer));
const castCalls = (ops: { op: string; calls: number }[]): number => ops.find((o) => o.op === "cast")?.calls ?? 0;

function makeParams(seed: number): Tensor[] {
  const g = new Generator(seed);
  const ps = [g.normal([24, 16], 0, 0.3), g.normal([24], 1, 0.1), g.normal([8, 24], 0, 0.3)];
  for (const p of ps) {
    p.requiresGrad = true;
    p.keep();
  }
  return ps;
}
const input = (): Tensor => new Generator(99).normal([5, 16]).keep();
/** linear -> rmsNorm -> linear: two weights cast by autocast, the input and the norm's output cast per call. */
function net(ps: Tensor[], x: Tensor): Tensor {
  const [w1, n, w2] = ps as [Tensor, Tensor, Tensor];
  return sum(mul(linear(rmsNorm(linear(x, w1), n), w2), 0.1));
}

/** Three AdamW steps under autocast; returns the losses, the params' bits and the cast calls of each step. */
function train(dtype: FloatDType, cacheWeights: boolean, steps = 3) {
  const ps = makeParams(7);
  const x = input();
  const opt = new AdamW(ps, { lr: 0.05 });
  const losses: number[][] = [];
  const casts: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { ops } = profile(() =>
      tidy(() => {
        opt.zeroGrad();
        const l = autocast(dtype, () => net(ps, x), { cacheWeights });
        losses.push(bits(l));
        l.backward();
        opt.step();
      }),
    );
    casts.push(castCalls(ops));
  }
  const out = { losses, params: ps.map(bits), casts, ps, x, opt };
  return out;
}
function free(r: { ps: Tensor[]; x: Tensor; opt: AdamW }): void {
  r.opt.dispose();
  for (const p of r.ps) p.dispose();
  r.x.dispose();
}

describe("autocast's kept weight casts", () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    it(`${dtype}: training is bit-identical to casting every step, and only the first step casts the weights`, () => {
      const kept = train(dtype, true);
      const plain = train(dtype, false);
      expect(kept.losses).toEqual(plain.losses);
      expect(kept.params).toEqual(plain.params);
      // Without the cache every step casts the two weights and the (kept) input again; with it only the first does.
      expect(plain.casts[1]).toBe(plain.casts[0]);
      expect(kept.casts[0]).toBe(plain.casts[0]);
      expect(kept.casts.slice(1)).toEqual([plain.casts[1]! - 3, plain.casts[2]! - 3]);
      free(kept);
      free(plain);
    });
  }

  it("the copy AdamW writes is the cast of the updated parameter, bit for bit", () => {
    const r = train("bfloat16", true, 2);
    for (const p of [r.ps[0]!, r.ps[2]!]) {
      const e = p.storage.lowCopies!.get("bfloat16")!;
      expect(e.version).toBe(p.storage.version);
      tidy(() => expect(Array.from(e.copy.dataSync() as Uint16Array)).toEqual(Array.from(cast(p, "bfloat16").dataSync() as Uint16Array)));
    }
    free(r);
  });

  it("an update the copy does not follow (SGD) makes it stale: the next autocast call casts again", () => {
    const ps = makeParams(8);
    const x = input();
    const sgd = new SGD(ps, { lr: 0.1 });
    const run = () => profile(() => tidy(() => {
      sgd.zeroGrad();
      const l = autocast("bfloat16", () => net(ps, x));
      l.backward();
      sgd.step();
      return bits(l);
    }));
    const first = run();
    const second = run();
    // The weights changed: cast again (into the same copies); the kept input is current.
    expect(castCalls(second.ops)).toBe(castCalls(first.ops) - 1);
    // The same values as without the cache.
    const ps2 = makeParams(8);
    const sgd2 = new SGD(ps2, { lr: 0.1 });
    const ref = [0, 1].map(() => tidy(() => {
      sgd2.zeroGrad();
      const l = autocast("bfloat16", () => net(ps2, x), { cacheWeights: false });
      l.backward();
      sgd2.step();
      return bits(l);
    }));
    expect([first.result, second.result]).toEqual(ref);
    expect(ps.map(bits)).toEqual(ps2.map(bits));
    for (const p of [...ps, ...ps2]) p.dispose();
    x.dispose();
  });

  it("a graph that still holds a copy keeps its values: AdamW leaves that copy alone, the next call gets a new one", () => {
    const ps = makeParams(9);
    const x = input();
    const opt = new AdamW(ps, { lr: 0.05 });
    // Linear layers only: the graph saves nothing but the casts (a saved float32 parameter would see the update).
    const lin = (a: Tensor) => sum(mul(linear(linear(a, ps[0]!), ps[2]!), 0.1));
    tidy(() => {
      const l = autocast("bfloat16", () => lin(x));
      l.backward({ retainGraph: true });
      const used = [ps[0]!, ps[2]!];
      const g1 = used.map((p) => bits(p.grad!));
      const copy0 = ps[0]!.storage.lowCopies!.get("bfloat16")!.copy;
      opt.step(); // the retained graph holds views of the copies: they are not rewritten
      expect(ps[0]!.storage.lowCopies!.get("bfloat16")!.version).not.toBe(ps[0]!.storage.version);
      // The next forward casts the updated weights into new copies; the old graph's backward gives the same gradients.
      const l2 = autocast("bfloat16", () => lin(x));
      expect(ps[0]!.storage.lowCopies!.get("bfloat16")!.copy).not.toBe(copy0);
      opt.zeroGrad();
      l.backward();
      expect(used.map((p) => bits(p.grad!))).toEqual(g1);
      l2.dispose();
    });
    opt.dispose();
    for (const p of ps) p.dispose();
    x.dispose();
  });

  it("the copies are freed with their parameters", () => {
    const before = memory().bytes;
    const r = train("bfloat16", true, 2);
    expect(r.ps[0]!.storage.lowCopies?.size).toBe(1);
    free(r);
    expect(memory().bytes).toBe(before);
  });

  it("float16 with GradScaler: a skipped step leaves the copies current; results match casting every step", () => {
    const once = (cacheWeights: boolean) => {
      const ps = makeParams(10);
      const x = input();
      const opt = new AdamW(ps, { lr: 0.05 });
      const scaler = new GradScaler({ initScale: 2 ** 30 }); // the first step overflows and is skipped
      const out: boolean[] = [];
      for (let s = 0; s < 3; s++)
        tidy(() => {
          opt.zeroGrad();
          const l = autocast("float16", () => net(ps, x), { cacheWeights });
          scaler.scaleLoss(l).backward();
          scaler.unscale(ps);
          out.push(scaler.step(opt));
          scaler.update();
        });
      const res = { stepped: out, params: ps.map(bits) };
      opt.dispose();
      for (const p of ps) p.dispose();
      x.dispose();
      return res;
    };
    const a = once(true);
    const b = once(false);
    expect(a).toEqual(b);
    expect(a.stepped[0]).toBe(false);
  });

  it("native adamwMany's copies are the updated parameters rounded once; wrong copies are errors", () => {
    const n = 37;
    const h = (vals: number[], dt = 0) => { const b = native.alloc(0, 0, dt, vals.length); if (dt === 0) native.upload(b, Float32Array.from(vals)); return b; };
    const rnd = (k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + k) * 0.5);
    const p = h(rnd(1)), g = h(rnd(2)), m = h(rnd(3).map(Math.abs)), v = h(rnd(4).map(Math.abs));
    const c = h(new Array(n).fill(0), 2);
    native.adamwMany([p], [g], [m], [v], 0.01, 0.9, 0.999, 1e-8, 0.01, 3, [c]);
    const pb = native.alloc(0, 0, 2, n);
    native.cast(pb, p);
    expect(Array.from(native.download(c) as Uint16Array)).toEqual(Array.from(native.download(pb) as Uint16Array));
    expect(() => native.adamwMany([p], [g], [m], [v], 0.01, 0.9, 0.999, 1e-8, 0.01, 3, [p])).toThrow(/copies\[0\]' has dtype float32, expected bfloat16 or float16/);
    expect(() => native.adamwMany([p], [g], [m], [v], 0.01, 0.9, 0.999, 1e-8, 0.01, 3, [c, c])).toThrow(/copies has 2 entries for 1 params/);
    for (const b of [p, g, m, v, c, pb]) native.dispose(b);
  });
});
