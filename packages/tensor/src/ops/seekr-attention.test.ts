// SEEKR attention kernels: the fast blocked kernel, the plain reference kernel and the eager composite ops compared
// with each other and with float64 JavaScript references (testing/attention-ref.ts), forward and backward:
// attention output and gradients, probability taps, the per-head sensitivity of dL/dP, the KL(teacher || student)
// attention-distillation loss and its gradients, and argument checking. Shapes cross the 64-row query block, cover
// GQA ratios 1/2/4, KV-cache layouts (Tq < Tk), key masks with left padding, holes and fully masked rows.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  Generator, Tensor, tensor, tidy, dispose, memory, resetPeakMemory, valueAndGrad, backward, noGrad,
  add, mul, where, sum, logSoftmax, matmul, permute, reshape, broadcastTo,
  attention, attentionTapped, attentionDistill, attentionEager, attentionEagerProbs,
  f32ToBf16Bits, bf16BitsToF32,
} from "../index.js";
import { native } from "@seekr/native";
import { expectGradClose } from "../testing/gradcheck.js";
import {
  type AttnDims, type AttnRefOptions, type MaskMode,
  attentionProbsRef, attentionOutRef, attentionGradsRef, sensitivityRef, distillRef, makeKeyMask, visibleCounts, isVisible, prng,
} from "../testing/attention-ref.js";

// ---- helpers -----------------------------------------------------------------------------------------------------

type F64 = Float64Array;
const f64 = (t: Tensor): F64 => Float64Array.from(t.toFloatArray());
const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

/** |actual - expected| <= atol + rtol * |expected| elementwise (no NaN allowed); throws naming the worst element. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { rtol?: number; atol?: number }, label: string): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} vs expected ${expected.length}`);
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ratio = Number.isFinite(a) ? Math.abs(a - e) / (atol + rtol * Math.abs(e)) : Infinity;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worst >= 0)
    throw new Error(`${label}: element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
}
/** Gradient-style comparison: tolerance relative to the larger of the two tensors' largest entries. */
function expectGradsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, rel = 2e-4): void {
  const mag = Math.max(maxAbs(expected), 0.05);
  expectClose(actual, expected, { rtol: rel, atol: rel * mag }, label);
}

/** SEEKR_ATTENTION_RUNS=k multiplies every property's runs (a longer local fuzz). */
const RUNS = Math.max(1, Number(process.env.SEEKR_ATTENTION_RUNS ?? 1));

/** Runs a fast-check property inside tidy and checks that no tensor or buffer leaked. */
function prop<T>(arb: fc.Arbitrary<T>, body: (v: T) => void, numRuns: number): void {
  const before = memory();
  fc.assert(fc.property(arb, (v) => void tidy(() => void body(v))), { numRuns: numRuns * RUNS });
  expect(memory().tensors).toBe(before.tensors);
  expect(memory().buffers).toBe(before.buffers);
}

const seedArb = fc.integer({ min: 0, max: 2 ** 30 });
const KERNELS = ["fast", "reference"] as const;

// ---- random cases ------------------------------------------------------------------------------------------------

interface CaseSpec {
  B: number;
  Tq: number;
  causal: boolean;
  extra: number; // causal: Tk = Tq + extra (a KV cache when extra > 0)
  tkFree: number; // non-causal: any Tk
  Hkv: number;
  ratio: number;
  halfD: number;
  scale: number | undefined;
  masks: MaskMode[] | null;
  maskInt: boolean;
  maskOn: number;
  seed: number;
}
/** Tq either small or across the 64-row block. */
const tArb = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 60, max: 70 }));
const caseArb = (maxHalfD = 8): fc.Arbitrary<CaseSpec> =>
  fc.record({
    B: fc.integer({ min: 1, max: 3 }),
    Tq: tArb,
    causal: fc.boolean(),
    extra: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 8 })),
    tkFree: tArb,
    Hkv: fc.integer({ min: 1, max: 2 }),
    ratio: fc.constantFrom(1, 2, 4),
    halfD: fc.integer({ min: 1, max: maxHalfD }),
    scale: fc.constantFrom<number | undefined>(undefined, undefined, 0.4),
    masks: fc.option(fc.array(fc.constantFrom<MaskMode>("none", "left", "holes", "all", "left", "holes"), { minLength: 1, maxLength: 3 }), { freq: 3 }),
    maskInt: fc.boolean(),
    maskOn: fc.constantFrom(1, 1, 0.5, -2),
    seed: seedArb,
  });

interface Built {
  d: AttnDims;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  w: Tensor;
  Q: F64;
  K: F64;
  V: F64;
  W: F64;
  keyMask: Tensor | undefined;
  ref: AttnRefOptions;
  opts: { causal: boolean; scale?: number; keyMask?: Tensor };
  label: string;
}
function build(c: CaseSpec): Built {
  const H = c.Hkv * c.ratio;
  const D = 2 * c.halfD;
  const Tk = c.causal ? c.Tq + c.extra : c.tkFree;
  const d: AttnDims = { B: c.B, Tq: c.Tq, Tk, H, Hkv: c.Hkv, D };
  const q = new Generator(c.seed).normal([c.B, c.Tq, H, D]);
  const k = new Generator(c.seed + 1).normal([c.B, Tk, c.Hkv, D]);
  const v = new Generator(c.seed + 2).normal([c.B, Tk, c.Hkv, D]);
  const w = new Generator(c.seed + 3).normal([c.B, c.Tq, H, D]);
  let keyMask: Tensor | undefined;
  let maskData: Float32Array | null = null;
  if (c.masks) {
    const on = c.maskInt ? (c.maskOn === 0.5 ? 1 : c.maskOn) : c.maskOn;
    maskData = makeKeyMask(c.B, Tk, c.masks, c.seed + 4, on);
    keyMask = c.maskInt ? tensor(Int32Array.from(maskData), { shape: [c.B, Tk] }) : tensor(maskData, { shape: [c.B, Tk] });
  }
  const scale = c.scale ?? 1 / Math.sqrt(D);
  const opts = { causal: c.causal, ...(c.scale !== undefined ? { scale: c.scale } : {}), ...(keyMask ? { keyMask } : {}) };
  const label = `B${c.B} Tq${c.Tq} Tk${Tk} H${H} Hkv${c.Hkv} D${D} causal=${c.causal} scale=${c.scale} masks=${c.masks?.join(",") ?? "-"}${keyMask ? `(${keyMask.dtype}, on=${maskData!.find((x) => x !== 0)})` : ""} seed=${c.seed}`;
  return { d, q, k, v, w, Q: f64(q), K: f64(k), V: f64(v), W: f64(w), keyMask, ref: { causal: c.causal, scale, mask: maskData }, opts, label };
}

/** Query rows [B, R] drawn from [0, Tq), with a repeated row in every batch entry when R > 1 and `dup`. */
function makeRows(B: number, R: number, Tq: number, seed: number, dup: boolean): Int32Array {
  const rnd = prng(seed);
  const rows = new Int32Array(B * R);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < R; r++) rows[b * R + r] = dup && r > 0 && r === R - 1 ? rows[b * R]! : Math.floor(rnd() * Tq);
  return rows;
}
/** A random non-empty set of distinct heads in [0, H), in random order. */
function distinctHeads(H: number, seed: number): number[] {
  const rnd = prng(seed);
  const all = [...Array(H).keys()].sort(() => rnd() - 0.5);
  return all.slice(0, 1 + Math.floor(rnd() * H));
}
/** The (b, t) rows with no visible key. */
function deadRows(d: AttnDims, ref: AttnRefOptions): Array<[number, number]> {
  const n = visibleCounts(d, ref);
  const out: Array<[number, number]> = [];
  for (let b = 0; b < d.B; b++) for (let t = 0; t < d.Tq; t++) if (n[b * d.Tq + t] === 0) out.push([b, t]);
  return out;
}

// ---- 1. attention output and gradients ---------------------------------------------------------------------------

describe("attention: fast vs reference kernel vs eager composite vs float64 JS", () => {
  it("out, loss and dq / dk / dv agree (key masks, GQA, Tq < Tk, rows with no visible key, across the 64-row block)", () => {
    prop(caseArb(), (c) => {
      const { d, q, k, v, w, Q, K, V, W, ref, opts, label } = build(c);
      const P = attentionProbsRef(Q, K, d, ref);
      const outRef = attentionOutRef(P, V, d);
      const gRef = attentionGradsRef(Q, K, V, W, d, ref);
      const lossRef = outRef.reduce((a, x, i) => a + x * W[i]!, 0);
      const dead = deadRows(d, ref);
      const impls: Record<string, (a: Tensor, b: Tensor, cc: Tensor) => Tensor> = {
        fast: (a, b, cc) => attention(a, b, cc, { ...opts, kernel: "fast" }),
        reference: (a, b, cc) => attention(a, b, cc, { ...opts, kernel: "reference" }),
        eager: (a, b, cc) => attentionEager(a, b, cc, opts),
      };
      const outs: Record<string, F64> = {};
      for (const [name, fn] of Object.entries(impls)) {
        const out = noGrad(() => fn(q, k, v));
        expect([...out.shape], `${name} ${label}`).toEqual([d.B, d.Tq, d.H, d.D]);
        const O = f64(out);
        outs[name] = O;
        expectClose(O, outRef, { rtol: 1e-4, atol: 2e-5 }, `${name} out ${label}`);
        // rows that see no key output exactly 0
        for (const [b, t] of dead)
          for (let h = 0; h < d.H; h++)
            for (let i = 0; i < d.D; i++) expect(O[((b * d.Tq + t) * d.H + h) * d.D + i], `${name} dead row b${b} t${t} ${label}`).toBe(0);
        const r = valueAndGrad((a, b, cc) => sum(mul(fn(a, b, cc), w)))(q, k, v);
        expectClose([r.value.item()], [lossRef], { rtol: 1e-4, atol: 1e-4 * Math.max(1, maxAbs(outRef) * d.D) }, `${name} loss ${label}`);
        const [dq, dk, dv] = r.grads.map(f64) as [F64, F64, F64];
        expectGradsClose(dq, gRef.dq, `${name} dq ${label}`);
        expectGradsClose(dk, gRef.dk, `${name} dk ${label}`);
        expectGradsClose(dv, gRef.dv, `${name} dv ${label}`);
        for (const [b, t] of dead)
          for (let h = 0; h < d.H; h++)
            for (let i = 0; i < d.D; i++) expect(dq[((b * d.Tq + t) * d.H + h) * d.D + i], `${name} dq of dead row ${label}`).toBe(0);
        dispose(r.grads);
      }
      // The two kernels agree with each other more tightly than with the float64 reference.
      expectClose(outs.fast!, outs.reference!, { rtol: 2e-5, atol: 2e-6 }, `fast vs reference out ${label}`);
    }, 25);
  });

  it("causal with Tq > Tk is defined: the first Tq - Tk rows see no key and output 0 (all three implementations)", () => {
    tidy(() => {
      for (const [B, Tq, Tk, H, Hkv, D] of [[2, 5, 3, 2, 1, 4], [1, 70, 9, 4, 2, 6], [1, 66, 1, 1, 1, 2]] as const) {
        const d: AttnDims = { B, Tq, Tk, H, Hkv, D };
        const q = new Generator(Tq).normal([B, Tq, H, D]);
        const k = new Generator(Tq + 1).normal([B, Tk, Hkv, D]);
        const v = new Generator(Tq + 2).normal([B, Tk, Hkv, D]);
        const w = new Generator(Tq + 3).normal([B, Tq, H, D]);
        const ref: AttnRefOptions = { causal: true, scale: 1 / Math.sqrt(D), mask: null };
        const outRef = attentionOutRef(attentionProbsRef(f64(q), f64(k), d, ref), f64(v), d);
        const g = attentionGradsRef(f64(q), f64(k), f64(v), f64(w), d, ref);
        const label = `B${B} Tq${Tq} Tk${Tk}`;
        for (const [name, fn] of [
          ["fast", (a: Tensor, b: Tensor, c: Tensor) => attention(a, b, c, { kernel: "fast" })],
          ["reference", (a: Tensor, b: Tensor, c: Tensor) => attention(a, b, c, { kernel: "reference" })],
          ["eager", (a: Tensor, b: Tensor, c: Tensor) => attentionEager(a, b, c)],
        ] as const) {
          const O = f64(noGrad(() => fn(q, k, v)));
          expectClose(O, outRef, { rtol: 1e-4, atol: 2e-5 }, `${name} ${label}`);
          const firstLive = (Tq - Tk) * H * D;
          expect(Array.from(O.subarray(0, firstLive)).every((x) => x === 0), `${name} dead rows are 0 ${label}`).toBe(true);
          expect(Array.from(O.subarray(firstLive, firstLive + H * D)).some((x) => x !== 0), `${name} row Tq-Tk is live ${label}`).toBe(true);
          const r = valueAndGrad((a, b, c) => sum(mul(fn(a, b, c), w)))(q, k, v);
          expectGradsClose(f64(r.grads[0]!), g.dq, `${name} dq ${label}`);
          expectGradsClose(f64(r.grads[1]!), g.dk, `${name} dk ${label}`);
          expectGradsClose(f64(r.grads[2]!), g.dv, `${name} dv ${label}`);
          expect(Array.from(f64(r.grads[0]!).subarray(0, firstLive)).every((x) => x === 0), `${name} dq of dead rows ${label}`).toBe(true);
          dispose(r.grads);
        }
        // taps of a dead row are all zero, of a live row sum to 1; the visible sensitivity counts only live entries
        for (const kernel of KERNELS) {
          const rows = tensor(Int32Array.from({ length: B * 2 }, (_, i) => (i % 2 === 0 ? 0 : Tq - 1)), { shape: [B, 2] });
          const qq = tensor(Float32Array.from(q.dataSync() as Float32Array), { shape: q.shape, requiresGrad: true });
          const r = attentionTapped(qq, k, v, { kernel, taps: { heads: [H - 1], rows }, sensitivity: "visible" });
          const T = f64(r.taps!);
          for (let b = 0; b < B; b++) {
            expect(Array.from(T.subarray((b * 2) * Tk, (b * 2 + 1) * Tk)).every((x) => x === 0), `${kernel} dead tap ${label}`).toBe(true);
            expect(T.subarray((b * 2 + 1) * Tk, (b * 2 + 2) * Tk).reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
          }
          backward(sum(mul(r.out, w)));
          const want = sensitivityRef(f64(w), f64(v), d, ref, "visible");
          expect(Array.from(r.sensitivityCount!.dataSync())).toEqual(Array(B).fill((Tk * (Tk + 1)) / 2));
          expectClose(f64(r.sensitivity!), want.sens, { rtol: 1e-4, atol: 1e-5 }, `${kernel} sensitivity ${label}`);
        }
      }
    });
  });
});

describe("attention: three query blocks with padding, GQA and a KV cache", () => {
  it("Tq = 130, Tk = 137: out, gradients, taps and both sensitivities, fast = reference = float64", () => {
    tidy(() => {
      const d: AttnDims = { B: 2, Tq: 130, Tk: 137, H: 4, Hkv: 2, D: 8 };
      const mask = makeKeyMask(d.B, d.Tk, ["left", "holes"], 77);
      const keyMask = tensor(mask, { shape: [d.B, d.Tk] });
      const shapeQ = [d.B, d.Tq, d.H, d.D];
      const shapeK = [d.B, d.Tk, d.Hkv, d.D];
      const [Q, K, V, W] = [shapeQ, shapeK, shapeK, shapeQ].map((sh, i) => f64(new Generator(900 + i).normal(sh)));
      const ref: AttnRefOptions = { causal: true, scale: 1 / Math.sqrt(d.D), mask };
      const P = attentionProbsRef(Q!, K!, d, ref);
      const outRef = attentionOutRef(P, V!, d);
      const g = attentionGradsRef(Q!, K!, V!, W!, d, ref);
      const rowsData = Int32Array.from([0, 63, 64, 65, 127, 128, 129, 64, 1, 129, 100, 64, 63, 2]);
      const rows = tensor(rowsData, { shape: [d.B, 7] });
      const w = tensor(Float32Array.from(W!), { shape: shapeQ });
      for (const mode of ["all", "visible"] as const) {
        const sensRef = sensitivityRef(W!, V!, d, ref, mode);
        for (const kernel of KERNELS) {
          const leaves = [Q, K, V].map((x, i) => tensor(Float32Array.from(x!), { shape: i === 0 ? shapeQ : shapeK, requiresGrad: true }));
          const [q, k, v] = leaves as [Tensor, Tensor, Tensor];
          const r = attentionTapped(q, k, v, { keyMask, kernel, taps: { heads: [3, 0], rows }, sensitivity: mode });
          const label = `${kernel} ${mode}`;
          expectClose(f64(r.out), outRef, { rtol: 1e-4, atol: 2e-5 }, `out ${label}`);
          const T = f64(r.taps!);
          for (let b = 0; b < d.B; b++)
            [3, 0].forEach((h, i) => {
              for (let rr = 0; rr < 7; rr++) {
                const po = ((b * d.H + h) * d.Tq + rowsData[b * 7 + rr]!) * d.Tk;
                const o = ((b * 2 + i) * 7 + rr) * d.Tk;
                expectClose(T.subarray(o, o + d.Tk), P.subarray(po, po + d.Tk), { rtol: 1e-4, atol: 2e-6 }, `taps b${b} h${h} r${rr} ${label}`);
              }
            });
          backward(sum(mul(r.out, w)));
          expectGradsClose(f64(q.grad!), g.dq, `dq ${label}`);
          expectGradsClose(f64(k.grad!), g.dk, `dk ${label}`);
          expectGradsClose(f64(v.grad!), g.dv, `dv ${label}`);
          expect(Array.from(r.sensitivityCount!.dataSync())).toEqual(Array.from(sensRef.count));
          expectClose(f64(r.sensitivity!), sensRef.sens, { rtol: 1e-4, atol: 1e-4 }, `sensitivity ${label}`);
        }
      }
    });
  });
});

describe("attention: empty key sets and empty row budgets are defined", () => {
  it("Tk = 0 outputs zeros with zero gradients; R = 0 gives empty taps and a zero distillation loss", () => {
    tidy(() => {
      const q = new Generator(1).normal([2, 3, 2, 4]);
      const k = new Generator(2).normal([2, 4, 1, 4]);
      const k0 = new Generator(3).normal([2, 0, 1, 4]);
      for (const kernel of KERNELS) {
        const out = attention(q, k0, k0, { kernel, causal: false });
        expect([...out.shape]).toEqual([2, 3, 2, 4]);
        expect(maxAbs(out.toFloatArray())).toBe(0);
        const g = valueAndGrad((a, b, c) => sum(mul(attention(a, b, c, { kernel, causal: false }), q)))(q, k0, k0);
        expect(maxAbs(g.grads[0]!.toFloatArray()), kernel).toBe(0);
        expect([...g.grads[1]!.shape]).toEqual([2, 0, 1, 4]);
        dispose(g.grads);
        const rows0 = tensor(new Int32Array(0), { shape: [2, 0] });
        expect([...attentionTapped(q, k, k, { kernel, taps: { heads: [1, 0], rows: rows0 } }).taps!.shape]).toEqual([2, 2, 0, 4]);
      }
      expect(maxAbs(attentionEager(q, k0, k0, { causal: false }).toFloatArray())).toBe(0);
      const rows0 = tensor(new Int32Array(0), { shape: [2, 0] });
      const t0 = tensor(new Float32Array(0), { shape: [2, 1, 0, 4] });
      for (const reduction of ["mean", "batchmean", "sum"] as const) {
        const g = valueAndGrad((a, b) => attentionDistill(a, b, { heads: [0], rows: rows0, teacher: t0, reduction }))(q, k);
        expect(g.value.item(), reduction).toBe(0);
        expect(maxAbs(g.grads[0]!.toFloatArray())).toBe(0);
        expect(maxAbs(g.grads[1]!.toFloatArray())).toBe(0);
        dispose(g.grads);
      }
    });
  });
});

// ---- 2. taps -----------------------------------------------------------------------------------------------------

describe("attentionTapped: probability taps", () => {
  const tapArb = fc.record({ c: caseArb(), R: fc.integer({ min: 1, max: 6 }), dup: fc.boolean(), pick: seedArb });
  it("taps[b, i, r, :] = probs[b, heads[i], rows[b, r], :] (eager and float64), zeros at masked / future keys, rows sum to 1 or 0", () => {
    prop(tapArb, ({ c, R, dup, pick }) => {
      const { d, q, k, v, Q, K, ref, opts, label } = build(c);
      const heads = distinctHeads(d.H, pick);
      const rowsData = makeRows(d.B, R, d.Tq, pick + 1, dup);
      const rows = tensor(rowsData, { shape: [d.B, R] });
      const P = attentionProbsRef(Q, K, d, ref);
      const eagerP = f64(attentionEagerProbs(q, k, v, opts).probs);
      const nvis = visibleCounts(d, ref);
      const lab = `${label} heads=[${heads}] rows=[${Array.from(rowsData)}]`;
      const tapsBy: Record<string, F64> = {};
      for (const kernel of KERNELS) {
        const plain = f64(attention(q, k, v, { ...opts, kernel }));
        const r = attentionTapped(q, k, v, { ...opts, kernel, taps: { heads, rows } });
        const taps = r.taps!;
        // memory proportional to the rows asked for
        expect([...taps.shape], `${kernel} ${lab}`).toEqual([d.B, heads.length, R, d.Tk]);
        expect(taps.dtype).toBe("float32");
        expect(taps.requiresGrad).toBe(false);
        expect(r.sensitivity).toBeNull();
        expect(r.sensitivityCount).toBeNull();
        // asking for taps does not change the output
        expect(Array.from(f64(r.out)), `${kernel} out unchanged by taps ${lab}`).toEqual(Array.from(plain));
        const T = f64(taps);
        tapsBy[kernel] = T;
        for (let b = 0; b < d.B; b++)
          heads.forEach((h, i) => {
            for (let rr = 0; rr < R; rr++) {
              const t = rowsData[b * R + rr]!;
              const o = ((b * heads.length + i) * R + rr) * d.Tk;
              const po = ((b * d.H + h) * d.Tq + t) * d.Tk;
              const where_ = `${kernel} b${b} head ${h} row ${t} ${lab}`;
              const row = T.subarray(o, o + d.Tk);
              expectClose(row, eagerP.subarray(po, po + d.Tk), { rtol: 1e-4, atol: 2e-6 }, `vs eager ${where_}`);
              expectClose(row, P.subarray(po, po + d.Tk), { rtol: 1e-4, atol: 2e-6 }, `vs float64 ${where_}`);
              let s = 0;
              for (let j = 0; j < d.Tk; j++) {
                if (!isVisible(d, ref, b, t, j)) expect(row[j], `invisible key ${j} ${where_}`).toBe(0);
                else expect(row[j]! >= 0, `p >= 0 at ${j} ${where_}`).toBe(true);
                s += row[j]!;
              }
              if (nvis[b * d.Tq + t] === 0) expect(s, `no visible key ${where_}`).toBe(0);
              else expect(Math.abs(s - 1), `row sum ${where_}`).toBeLessThan(1e-5);
            }
          });
      }
      expectClose(tapsBy.fast!, tapsBy.reference!, { rtol: 2e-5, atol: 1e-6 }, `fast vs reference taps ${lab}`);
    }, 30);
  });

  // BUG (found by this file): with a head repeated in taps.heads, only the first slot of that head is written; the
  // other slot keeps whatever the uninitialised buffer held (zeros or garbage; the reference kernel has shown NaN).
  // Both kernels look the head up with tap_index(), which returns the first match only (native/src/cpu/attention.cpp).
  it("a head repeated in taps.heads fills every slot (heads [1, 1, 0])", () => {
    tidy(() => {
      const q = new Generator(1).normal([1, 5, 2, 4]);
      const k = new Generator(2).normal([1, 5, 1, 4]);
      const v = new Generator(3).normal([1, 5, 1, 4]);
      const rows = tensor(Int32Array.from([1, 3, 3]), { shape: [1, 3] });
      const probs = f64(attentionEagerProbs(q, k, v).probs); // [1, 2, 5, 5]
      const failures: string[] = [];
      for (const kernel of KERNELS) {
        const taps = f64(attentionTapped(q, k, v, { kernel, taps: { heads: [1, 1, 0], rows } }).taps!); // [1, 3, 3, 5]
        [1, 1, 0].forEach((h, i) =>
          [1, 3, 3].forEach((t, r) => {
            const o = (i * 3 + r) * 5;
            try {
              expectClose(taps.subarray(o, o + 5), probs.subarray((h * 5 + t) * 5, (h * 5 + t + 1) * 5), { rtol: 1e-4, atol: 1e-6 }, `${kernel} slot ${i} (head ${h}) row ${t}`);
            } catch (e) {
              failures.push(`${(e as Error).message}; slot = [${Array.from(taps.subarray(o, o + 5), (x) => x.toPrecision(4))}]`);
            }
          }),
        );
      }
      expect(failures).toEqual([]);
    });
  });

  it("taps allocate memory proportional to the rows asked for, never the Tq x Tk maps", () => {
    tidy(() => {
      const [B, T, H, D] = [1, 256, 8, 8];
      const q = new Generator(1).normal([B, T, H, D]);
      const k = new Generator(2).normal([B, T, 2, D]);
      const v = new Generator(3).normal([B, T, 2, D]);
      const fullMaps = B * H * T * T * 4;
      const peaks: number[] = [];
      for (const R of [4, 8]) {
        const rows = tensor(Int32Array.from({ length: B * R }, (_, i) => (i * 37) % T), { shape: [B, R] });
        for (const kernel of KERNELS) {
          const cpu = () => Object.values(memory().devices).reduce((a, x) => a + x.peakBytes, 0);
          const now = () => Object.values(memory().devices).reduce((a, x) => a + x.bytes, 0);
          const before = now();
          resetPeakMemory();
          const r = attentionTapped(q, k, v, { kernel, taps: { heads: [0, 5], rows } });
          const peak = cpu() - before;
          expect([...r.taps!.shape]).toEqual([B, 2, R, T]);
          const needed = r.out.bytes + B * H * T * 4 /* lse */ + r.taps!.bytes;
          expect(peak, `${kernel} R=${R}: peak ${peak} bytes`).toBeLessThanOrEqual(needed + 4096);
          expect(peak).toBeLessThan(fullMaps / 8);
          if (kernel === "fast") peaks.push(r.taps!.bytes);
          dispose([r.out, r.taps]);
        }
      }
      expect(peaks[1]).toBe(2 * peaks[0]!);
      // the distillation loss and its backward never allocate the maps either
      const rows = tensor(Int32Array.from([5, 200, 255]), { shape: [B, 3] });
      const teacher = attentionTapped(q, k, v, { taps: { heads: [1, 6], rows } }).taps!;
      const qq = tensor(Float32Array.from(q.dataSync() as Float32Array), { shape: q.shape, requiresGrad: true });
      const total = () => Object.values(memory().devices).reduce((a, x) => a + x.bytes, 0);
      const before = total();
      resetPeakMemory();
      const loss = attentionDistill(qq, k, { heads: [1, 6], rows, teacher });
      backward(loss);
      const peak = Object.values(memory().devices).reduce((a, x) => a + x.peakBytes, 0) - before;
      expect(peak, `distill peak ${peak} bytes`).toBeLessThanOrEqual(2 * qq.bytes + k.bytes + 4096);
      expect(peak).toBeLessThan(fullMaps / 8);
    });
  });
});

// ---- 3. sensitivity ----------------------------------------------------------------------------------------------

describe("attentionTapped: sensitivity = sum of (dL/dP)^2 per (batch, head)", () => {
  const sensArb = fc.record({
    c: caseArb(),
    mode: fc.constantFrom<"all" | "visible">("all", "visible"),
    leaves: fc.constantFrom("qkv", "q", "v"),
  });
  it("matches (dO V^T)^2 summed in JS, counts the entries summed, is zero before backward and accumulates over two backward passes", () => {
    prop(sensArb, ({ c, mode, leaves }) => {
      const { d, Q, K, V, W, w, ref, opts, label } = build(c);
      const want = sensitivityRef(W, V, d, ref, mode);
      const lab = `${label} mode=${mode} leaves=${leaves}`;
      const by: Record<string, F64> = {};
      for (const kernel of KERNELS) {
        const leaf = (x: F64, shape: number[], name: string) =>
          tensor(Float32Array.from(x), { shape, requiresGrad: leaves.includes(name) });
        const q = leaf(Q, [d.B, d.Tq, d.H, d.D], "q");
        const k = leaf(K, [d.B, d.Tk, d.Hkv, d.D], "k");
        const v = leaf(V, [d.B, d.Tk, d.Hkv, d.D], "v");
        const heads = distinctHeads(d.H, c.seed + 9);
        const rowsData = makeRows(d.B, 3, d.Tq, c.seed + 10, true);
        const r = attentionTapped(q, k, v, { ...opts, kernel, sensitivity: mode, taps: { heads, rows: tensor(rowsData, { shape: [d.B, 3] }) } });
        // taps requested in the same call stay right
        const P = attentionProbsRef(Q, K, d, ref);
        const T = f64(r.taps!);
        for (let b = 0; b < d.B; b++)
          heads.forEach((h, i) => {
            for (let rr = 0; rr < 3; rr++) {
              const po = ((b * d.H + h) * d.Tq + rowsData[b * 3 + rr]!) * d.Tk;
              const o = ((b * heads.length + i) * 3 + rr) * d.Tk;
              expectClose(T.subarray(o, o + d.Tk), P.subarray(po, po + d.Tk), { rtol: 1e-4, atol: 2e-6 }, `${kernel} taps with sensitivity ${lab}`);
            }
          });
        const s = r.sensitivity!;
        const n = r.sensitivityCount!;
        expect([...s.shape], lab).toEqual([d.B, d.H]);
        expect([...n.shape], lab).toEqual([d.B]);
        expect(n.dtype).toBe("float32");
        expect(Array.from(n.dataSync()), `${kernel} count ${lab}`).toEqual(Array.from(want.count));
        if (mode === "all") expect(Array.from(n.dataSync())).toEqual(Array(d.B).fill(d.Tq * d.Tk));
        expect(Array.from(s.dataSync()).every((x) => x === 0), `${kernel} zeros before backward ${lab}`).toBe(true);
        const L = sum(mul(r.out, w));
        backward(L, { retainGraph: true });
        const once = f64(s);
        expectClose(once, want.sens, { rtol: 1e-4, atol: 1e-5 * Math.max(1, maxAbs(want.sens)) }, `${kernel} sensitivity ${lab}`);
        backward(L, { retainGraph: true });
        expectClose(f64(s), Array.from(want.sens, (x) => 2 * x), { rtol: 1e-4, atol: 2e-5 * Math.max(1, maxAbs(want.sens)) }, `${kernel} accumulated ${lab}`);
        by[kernel] = once;
      }
      expectClose(by.fast!, by.reference!, { rtol: 2e-5, atol: 1e-6 * Math.max(1, maxAbs(want.sens)) }, `fast vs reference ${lab}`);
    }, 20);
  });

  it("'visible' ignores dL/dP at masked and future keys; 'all' includes them", () => {
    tidy(() => {
      const d: AttnDims = { B: 2, Tq: 4, Tk: 6, H: 2, Hkv: 1, D: 4 };
      const mask = Float32Array.from([1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1]);
      const keyMask = tensor(mask, { shape: [2, 6] });
      const q = new Generator(5).normal([2, 4, 2, 4], 0, 1, { requiresGrad: true });
      const k = new Generator(6).normal([2, 6, 1, 4]);
      const v = new Generator(7).normal([2, 6, 1, 4]);
      const w = new Generator(8).normal([2, 4, 2, 4]);
      const ref = { causal: true, mask };
      const all = sensitivityRef(f64(w), f64(v), d, ref, "all");
      const vis = sensitivityRef(f64(w), f64(v), d, ref, "visible");
      // visible entries: b0 rows see keys 0..t+2 minus key 2 -> 2+3+4+5 = 14; b1 keys 2.. -> 1+2+3+4 = 10
      expect(Array.from(vis.count)).toEqual([14, 10]);
      for (const kernel of KERNELS) {
        const ra = attentionTapped(q, k, v, { keyMask, kernel, sensitivity: "all" });
        const rv = attentionTapped(q, k, v, { keyMask, kernel, sensitivity: "visible" });
        backward(add(sum(mul(ra.out, w)), sum(mul(rv.out, w))));
        expect(Array.from(ra.sensitivityCount!.dataSync())).toEqual([24, 24]);
        expect(Array.from(rv.sensitivityCount!.dataSync())).toEqual([14, 10]);
        expectClose(f64(ra.sensitivity!), all.sens, { rtol: 1e-5, atol: 1e-6 }, `${kernel} all`);
        expectClose(f64(rv.sensitivity!), vis.sens, { rtol: 1e-5, atol: 1e-6 }, `${kernel} visible`);
        for (let i = 0; i < 4; i++) expect(all.sens[i]!).toBeGreaterThan(vis.sens[i]! * 1.01);
        q.grad?.dispose();
        q.grad = null;
      }
    });
  });
});

// ---- 4. attention distillation -----------------------------------------------------------------------------------

type Teacher = "self" | "perturbed" | "unmasked" | "bf16" | "raw";
type Reduction = "mean" | "batchmean" | "sum";

const bf16 = (x: number) => bf16BitsToF32(f32ToBf16Bits(x));

/**
 * Teacher rows [B, heads, R, Tk]: "self" = the student's own taps; "perturbed" = taps of a perturbed (q, k);
 * "unmasked" = perturbed without causal rule and key mask (mass on keys the student cannot see); "bf16" = perturbed
 * rounded to bfloat16 (rows no longer sum to 1); "raw" = unnormalised non-negative values with zeros.
 */
function makeTeacher(kind: Teacher, b: Built, heads: number[], rows: Tensor, seed: number): Tensor {
  const { d, q, k, opts } = b;
  const R = rows.shape[1]!;
  if (kind === "raw") {
    const u = f64(new Generator(seed).uniform([d.B, heads.length, R, d.Tk]));
    return tensor(Float32Array.from(u, (x) => (x < 0.3 ? 0 : x)), { shape: [d.B, heads.length, R, d.Tk] });
  }
  let tq = q;
  let tk = k;
  if (kind !== "self") {
    tq = add(q, mul(new Generator(seed).normal(q.shape), 0.8));
    tk = add(k, mul(new Generator(seed + 1).normal(k.shape), 0.8));
  }
  const topts = kind === "unmasked" ? { causal: false, scale: opts.scale } : opts;
  // Tap each distinct head once and expand in JS (a head repeated in taps.heads is a known kernel bug, tested above).
  const uniq = [...new Set(heads)];
  const U = f64(attentionTapped(tq, tk, tk, { ...topts, taps: { heads: uniq, rows } }).taps!);
  const T = new Float32Array(d.B * heads.length * R * d.Tk);
  for (let bb = 0; bb < d.B; bb++)
    heads.forEach((h, i) => {
      const u = uniq.indexOf(h);
      const src = U.subarray((bb * uniq.length + u) * R * d.Tk, (bb * uniq.length + u + 1) * R * d.Tk);
      T.set(kind === "bf16" ? Array.from(src, bf16) : src, (bb * heads.length + i) * R * d.Tk);
    });
  return tensor(T, { shape: [d.B, heads.length, R, d.Tk] });
}

/**
 * The composite reference: log-softmax of the eager scores (blocked keys set to -1e9 so that rows with no visible key
 * stay finite) and -Σ C * logps, where C [B, H, Tq, Tk] scatters the teacher rows (duplicates add) onto the visible
 * keys of the selected (b, head, row). Differs from Σ pt (log pt − log ps) by a constant; times the reduction factor.
 */
function compositeDistill(b: Built, heads: number[], rowsData: Int32Array, R: number, teacher: F64, factor: number) {
  const { d, ref } = b;
  const C = new Float32Array(d.B * d.H * d.Tq * d.Tk);
  const blocked = new Float32Array(d.B * d.Tq * d.Tk);
  for (let bb = 0; bb < d.B; bb++)
    for (let t = 0; t < d.Tq; t++) for (let j = 0; j < d.Tk; j++) if (!isVisible(d, ref, bb, t, j)) blocked[(bb * d.Tq + t) * d.Tk + j] = 1;
  for (let bb = 0; bb < d.B; bb++)
    heads.forEach((h, i) => {
      for (let r = 0; r < R; r++) {
        const t = rowsData[bb * R + r]!;
        for (let j = 0; j < d.Tk; j++) {
          if (!isVisible(d, ref, bb, t, j)) continue;
          const ci = ((bb * d.H + h) * d.Tq + t) * d.Tk + j;
          C[ci] = C[ci]! + teacher[((bb * heads.length + i) * R + r) * d.Tk + j]!;
        }
      }
    });
  const coef = tensor(C, { shape: [d.B, d.H, d.Tq, d.Tk] });
  const block = tensor(blocked, { shape: [d.B, 1, d.Tq, d.Tk] });
  const group = d.H / d.Hkv;
  return (q: Tensor, k: Tensor): Tensor => {
    const qh = permute(q, [0, 2, 1, 3]);
    let kh = permute(k, [0, 2, 1, 3]);
    if (group > 1) kh = reshape(broadcastTo(reshape(kh, [d.B, d.Hkv, 1, d.Tk, d.D]), [d.B, d.Hkv, group, d.Tk, d.D]), [d.B, d.H, d.Tk, d.D]);
    const scores = mul(matmul(qh, kh, { transB: true }), ref.scale);
    const logps = logSoftmax(where(block, -1e9, scores), -1);
    return mul(sum(mul(coef, logps)), -factor);
  };
}

interface DistillSpec {
  c: CaseSpec;
  headPicks: number[];
  R: number;
  dup: boolean;
  teacher: Teacher;
  reduction: Reduction | undefined;
  pick: number;
}
/** One case of the main distillation property. */
function distillCase({ c, headPicks, R, dup, teacher: kind, reduction, pick }: DistillSpec): void {
  const b = build(c);
  const { d, q, k, ref, opts, label } = b;
  const heads = headPicks.map((x) => x % d.H);
  const rowsData = makeRows(d.B, R, d.Tq, pick, dup);
  const rows = tensor(rowsData, { shape: [d.B, R] });
  const teacher = makeTeacher(kind, b, heads, rows, pick + 7);
  const Tt = f64(teacher);
  const red = reduction ?? "mean";
  const lab = `${label} heads=[${heads}] rows=[${Array.from(rowsData)}] teacher=${kind} reduction=${red}`;
  const dopts = { heads, rows, teacher, causal: opts.causal, ...(opts.scale !== undefined ? { scale: opts.scale } : {}), ...(opts.keyMask ? { keyMask: opts.keyMask } : {}), ...(reduction ? { reduction } : {}) };

  const Ps = f64(attentionEagerProbs(q, k, k, opts).probs);
  const want = distillRef(Ps, Tt, heads, rowsData, R, d, ref, red);
  const loss = attentionDistill(q, k, dopts);
  expect([...loss.shape]).toEqual([]);
  const L = loss.item();
  expect(Number.isFinite(L), lab).toBe(true);
  expect(Math.abs(L - want.loss), `loss ${L} vs JS ${want.loss} ${lab}`).toBeLessThanOrEqual(2e-5 * want.absSum + 1e-6);
  const nRows = d.B * heads.length * R;
  if (kind === "self") expect(Math.abs(L), `own taps ${lab}`).toBeLessThanOrEqual(1e-5 * Math.max(1, red === "mean" ? 1 : nRows));
  if (kind === "perturbed" && want.sum > 1e-5) expect(L, `perturbed teacher ${lab}`).toBeGreaterThan(0);

  // gradients: the fused kernel vs autograd through the eager composite
  const factor = red === "mean" ? 1 / nRows : red === "batchmean" ? 1 / d.B : 1;
  const comp = compositeDistill(b, heads, rowsData, R, Tt, factor);
  const gk = valueAndGrad((a, bb) => attentionDistill(a, bb, dopts))(q, k);
  const ge = valueAndGrad(comp)(q, k);
  expectGradsClose(f64(gk.grads[0]!), f64(ge.grads[0]!), `dq ${lab}`, 5e-4);
  expectGradsClose(f64(gk.grads[1]!), f64(ge.grads[1]!), `dk ${lab}`, 5e-4);
  if (kind === "self") {
    const mag = Math.max(maxAbs(gk.grads[0]!.toFloatArray()), maxAbs(gk.grads[1]!.toFloatArray()));
    expect(mag, `gradient of KL at its minimum ${lab}`).toBeLessThan(1e-4 * Math.max(1, red === "mean" ? 1 : nRows));
  }
  // padded keys get no gradient
  if (ref.mask) {
    const dk = f64(gk.grads[1]!);
    for (let bb = 0; bb < d.B; bb++)
      for (let j = 0; j < d.Tk; j++)
        if (ref.mask[bb * d.Tk + j] === 0)
          for (let i = 0; i < d.Hkv * d.D; i++) expect(dk[(bb * d.Tk + j) * d.Hkv * d.D + i], `dk at padded key ${j} ${lab}`).toBe(0);
  }
  dispose([gk.grads, ge.grads]);
}

describe("attentionDistill: KL(teacher || student) on selected heads and rows", () => {
  const distillArb = fc.record({
    c: caseArb(),
    headPicks: fc.array(fc.nat(63), { minLength: 1, maxLength: 5 }),
    R: fc.integer({ min: 1, max: 6 }),
    dup: fc.boolean(),
    teacher: fc.constantFrom<Teacher>("self", "perturbed", "unmasked", "bf16", "raw"),
    reduction: fc.constantFrom<Reduction | undefined>(undefined, "mean", "batchmean", "sum"),
    pick: seedArb,
  });
  it("loss = JS KL over the eager student probabilities under each reduction; ~0 for its own taps, > 0 otherwise; gradients = autograd through the eager composite", () => {
    prop(distillArb, distillCase, 25);
  });

  const smallArb = fc.record({
    B: fc.integer({ min: 1, max: 2 }),
    Tq: fc.integer({ min: 1, max: 6 }),
    causal: fc.boolean(),
    extra: fc.integer({ min: 0, max: 3 }),
    tkFree: fc.integer({ min: 1, max: 7 }),
    Hkv: fc.integer({ min: 1, max: 2 }),
    ratio: fc.constantFrom(1, 2, 4),
    halfD: fc.integer({ min: 1, max: 2 }),
    scale: fc.constantFrom<number | undefined>(undefined, 0.4),
    masks: fc.option(fc.array(fc.constantFrom<MaskMode>("none", "left", "holes", "all"), { minLength: 1, maxLength: 2 }), { freq: 2 }),
    maskInt: fc.boolean(),
    maskOn: fc.constant(1),
    seed: seedArb,
  });
  it("gradients into q and k match float64 finite differences (bf16 / unnormalised / unmasked teachers, duplicates, masks)", () => {
    prop(
      fc.record({
        c: smallArb,
        headPicks: fc.array(fc.nat(63), { minLength: 1, maxLength: 3 }),
        R: fc.integer({ min: 1, max: 4 }),
        dup: fc.boolean(),
        teacher: fc.constantFrom<Teacher>("perturbed", "unmasked", "bf16", "raw"),
        reduction: fc.constantFrom<Reduction>("mean", "batchmean", "sum"),
        pick: seedArb,
      }),
      ({ c, headPicks, R, dup, teacher: kind, reduction, pick }) => {
        const b = build(c);
        const { d, q, k, opts, label } = b;
        const heads = headPicks.map((x) => x % d.H);
        const rowsData = makeRows(d.B, R, d.Tq, pick, dup);
        const rows = tensor(rowsData, { shape: [d.B, R] });
        const teacher = makeTeacher(kind, b, heads, rows, pick + 7);
        const dopts = { heads, rows, teacher, reduction, causal: opts.causal, ...(opts.scale !== undefined ? { scale: opts.scale } : {}), ...(opts.keyMask ? { keyMask: opts.keyMask } : {}) };
        const rep = expectGradClose((a, bb) => attentionDistill(a, bb, dopts), [q, k], {
          label: `${label} heads=[${heads}] rows=[${Array.from(rowsData)}] teacher=${kind} reduction=${reduction}`,
          atol: 1e-3,
          rtol: 1e-2,
        });
        expect(rep.checked).toBe(q.size + k.size);
      },
      15,
    );
  });

  it("teacher rows that do not sum to 1 (bf16-rounded): the gradient is that of Σ pt (log pt − log ps), not p_s − p_t", () => {
    tidy(() => {
      const d: AttnDims = { B: 1, Tq: 5, Tk: 5, H: 2, Hkv: 1, D: 4 };
      const q = new Generator(11).normal([1, 5, 2, 4], 0, 1.5);
      const k = new Generator(12).normal([1, 5, 1, 4], 0, 1.5);
      const rows = tensor(Int32Array.from([4, 2, 4]), { shape: [1, 3] });
      const heads = [1, 0];
      const exact = attentionTapped(new Generator(13).normal([1, 5, 2, 4]), new Generator(14).normal([1, 5, 1, 4]), k, { taps: { heads, rows } }).taps!;
      const T = Float32Array.from(exact.dataSync() as Float32Array, (x) => bf16(x) * 1.01);
      const teacher = tensor(T, { shape: exact.shape });
      // the rounded rows really are off 1
      for (let r = 0; r < 6; r++) {
        const s = T.subarray(r * 5, r * 5 + 5).reduce((a, x) => a + x, 0);
        expect(Math.abs(s - 1)).toBeGreaterThan(1e-3);
      }
      const ref: AttnRefOptions = { causal: true, scale: 0.5, mask: null };
      const want = distillRef(attentionProbsRef(f64(q), f64(k), d, ref), f64(teacher), heads, Int32Array.from([4, 2, 4]), 3, d, ref, "sum");
      expect(attentionDistill(q, k, { heads, rows, teacher, reduction: "sum" }).item()).toBeCloseTo(want.loss, 5);
      expectGradClose((a, b) => attentionDistill(a, b, { heads, rows, teacher, reduction: "sum" }), [q, k], { atol: 5e-4, rtol: 5e-3, label: "bf16 teacher" });
    });
  });

  it("reductions: mean = sum / (B * heads * R), batchmean = sum / B; keyMask changes the loss; masked-key teacher mass is ignored", () => {
    tidy(() => {
      const [B, T, H, Hkv, D] = [2, 7, 4, 2, 4];
      const q = new Generator(21).normal([B, T, H, D]);
      const k = new Generator(22).normal([B, T, Hkv, D]);
      const heads = [3, 0, 3];
      const R = 4;
      const rows = tensor(Int32Array.from([6, 1, 6, 3, 0, 5, 2, 6]), { shape: [B, R] });
      const teacher = attentionTapped(new Generator(23).normal([B, T, H, D]), new Generator(24).normal([B, T, Hkv, D]), k, { causal: false, taps: { heads, rows } }).taps!;
      const s = attentionDistill(q, k, { heads, rows, teacher, reduction: "sum" }).item();
      expect(s).toBeGreaterThan(0);
      expect(attentionDistill(q, k, { heads, rows, teacher }).item()).toBeCloseTo(s / (B * heads.length * R), 6);
      expect(attentionDistill(q, k, { heads, rows, teacher, reduction: "mean" }).item()).toBeCloseTo(s / (B * heads.length * R), 6);
      expect(attentionDistill(q, k, { heads, rows, teacher, reduction: "batchmean" }).item()).toBeCloseTo(s / B, 6);
      const maskData = Float32Array.from([0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1]);
      const keyMask = tensor(maskData, { shape: [B, T] });
      const sm = attentionDistill(q, k, { heads, rows, teacher, keyMask, reduction: "sum" }).item();
      expect(Math.abs(sm - s)).toBeGreaterThan(1e-3);
      const d: AttnDims = { B, Tq: T, Tk: T, H, Hkv, D };
      const ref: AttnRefOptions = { causal: true, scale: 0.5, mask: maskData };
      const want = distillRef(attentionProbsRef(f64(q), f64(k), d, ref), f64(teacher), heads, Int32Array.from([6, 1, 6, 3, 0, 5, 2, 6]), R, d, ref, "sum");
      expect(sm).toBeCloseTo(want.loss, 4);
      // int32 masks give the same loss
      expect(attentionDistill(q, k, { heads, rows, teacher, keyMask: tensor(Int32Array.from(maskData), { shape: [B, T] }), reduction: "sum" }).item()).toBe(sm);
      // changing k at padded keys changes nothing
      const kd = f64(k);
      for (const [bb, j] of [[0, 0], [0, 1], [1, 1], [1, 4]]) for (let i = 0; i < Hkv * D; i++) kd[(bb! * T + j!) * Hkv * D + i] = 100;
      expect(attentionDistill(q, tensor(Float32Array.from(kd), { shape: k.shape }), { heads, rows, teacher, keyMask, reduction: "sum" }).item()).toBe(sm);
    });
  });

  it("rows of a causal Tq > Tk layout with no visible key contribute 0 loss and 0 gradient", () => {
    tidy(() => {
      const q = new Generator(31).normal([1, 6, 2, 4]);
      const k = new Generator(32).normal([1, 3, 1, 4]);
      const heads = [0, 1];
      const rows = tensor(Int32Array.from([0, 1, 2]), { shape: [1, 3] }); // rows 0..2 see no key (t + (3 - 6) < 0)
      const teacher = tensor(Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => [0.2, 0.3, 0.5][i % 3]!), { shape: [1, 2, 3, 3] });
      const g = valueAndGrad((a, b) => attentionDistill(a, b, { heads, rows, teacher, reduction: "sum" }))(q, k);
      expect(g.value.item()).toBe(0);
      expect(maxAbs(g.grads[0]!.toFloatArray())).toBe(0);
      expect(maxAbs(g.grads[1]!.toFloatArray())).toBe(0);
      dispose(g.grads);
      // rows 3, 4, 5 see 1, 2, 3 keys: compare with the float64 reference (teacher mass on unseen keys ignored)
      const liveRows = Int32Array.from([3, 4, 5]);
      const live = tensor(liveRows, { shape: [1, 3] });
      const d: AttnDims = { B: 1, Tq: 6, Tk: 3, H: 2, Hkv: 1, D: 4 };
      const ref: AttnRefOptions = { causal: true, scale: 0.5, mask: null };
      const want = distillRef(attentionProbsRef(f64(q), f64(k), d, ref), f64(teacher), heads, liveRows, 3, d, ref, "sum");
      expect(attentionDistill(q, k, { heads, rows: live, teacher, reduction: "sum" }).item()).toBeCloseTo(want.loss, 5);
      expectGradClose((a, b) => attentionDistill(a, b, { heads, rows: live, teacher, reduction: "sum" }), [q, k], { atol: 5e-4, rtol: 5e-3, label: "Tq > Tk live rows" });
    });
  });
});

// ---- 5. argument errors ------------------------------------------------------------------------------------------

describe("argument errors name the op", () => {
  it("attention / attentionTapped", () => {
    tidy(() => {
      const q = new Generator(1).normal([2, 4, 4, 2]);
      const k = new Generator(2).normal([2, 5, 2, 2]);
      const v = new Generator(3).normal([2, 5, 2, 2]);
      const rows = tensor(Int32Array.from([0, 1, 2, 3]), { shape: [2, 2] });
      const tap = (heads: number[], r: Tensor = rows) => () => attentionTapped(q, k, v, { taps: { heads, rows: r } });
      expect(tap([4])).toThrow(/^(seekr\.)?attention: .*taps\.heads\[0\].*\[0, 4\)/);
      expect(tap([0, -1])).toThrow(/^(seekr\.)?attention: .*taps\.heads\[1\]/);
      expect(tap([1.5])).toThrow(/^(seekr\.)?attention: /);
      expect(tap([])).toThrow(/^(seekr\.)?attention: .*non-empty/);
      expect(tap([0], tensor(Int32Array.from([0, 1]), { shape: [2] }))).toThrow(/^(seekr\.)?attention: rows must be int32 \[2, R\]/);
      expect(tap([0], tensor(Int32Array.from([0, 1, 2]), { shape: [3, 1] }))).toThrow(/^(seekr\.)?attention: rows must be int32 \[2, R\]/);
      expect(tap([0], tensor(Float32Array.from([0, 1, 2, 3]), { shape: [2, 2] }))).toThrow(/^(seekr\.)?attention: 'rows' must be int32/);
      expect(tap([0], tensor(Int32Array.from([0, 4, 1, 2]), { shape: [2, 2] }))).toThrow(/^(seekr\.)?attention: .*tapRows.*out of range \[0, 4\)/);
      expect(tap([0], tensor(Int32Array.from([0, 1, -1, 2]), { shape: [2, 2] }))).toThrow(/^(seekr\.)?attention: .*out of range/);
      expect(() => attention(q, k, v, { keyMask: tensor(Float32Array.from({ length: 8 }, () => 1), { shape: [2, 4] }) })).toThrow(/^(seekr\.)?attention: keyMask \[2, 4\] must be \[2, 5\]/);
      expect(() => attention(q, k, v, { keyMask: tensor(new Uint16Array(10), { dtype: "bfloat16", shape: [2, 5] }) })).toThrow(/^(seekr\.)?attention: keyMask must be float32 or int32/);
      expect(() => attention(q, k, v, { kernel: "slow" as never })).toThrow(/^(seekr\.)?attention: kernel must be/);
      expect(() => attentionTapped(q, k, v, { sensitivity: "some" as never })).toThrow(/^(seekr\.)?attention: sensitivity must be/);
      expect(() => attention(q, k, v, { scale: NaN })).toThrow(/^(seekr\.)?attention: 'scale'/);
    });
  });

  it("attentionDistill", () => {
    tidy(() => {
      const q = new Generator(1).normal([2, 4, 4, 2]);
      const k = new Generator(2).normal([2, 5, 2, 2]);
      const rows = tensor(Int32Array.from([0, 1, 2, 3]), { shape: [2, 2] });
      const teacher = (h: number, R = 2, Tk = 5) => tensor(new Float32Array(2 * h * R * Tk), { shape: [2, h, R, Tk] });
      const base = { heads: [1, 2], rows, teacher: teacher(2) };
      const call = (o: Record<string, unknown>) => () => attentionDistill(q, k, { ...base, ...o } as never);
      expect(call({})).not.toThrow();
      expect(() => attentionDistill(q, k, undefined as never)).toThrow(/^(seekr\.)?attentionDistill: /);
      expect(call({ heads: [4] })).toThrow(/^(seekr\.)?attentionDistill: .*heads\[0\].*\[0, 4\)/);
      expect(call({ heads: [] })).toThrow(/^(seekr\.)?attentionDistill: .*non-empty/);
      expect(call({ rows: tensor(Int32Array.from([0, 1]), { shape: [1, 2] }) })).toThrow(/^(seekr\.)?attentionDistill: rows must be int32 \[2, R\]/);
      expect(call({ rows: tensor(Float32Array.from([0, 1, 2, 3]), { shape: [2, 2] }) })).toThrow(/^(seekr\.)?attentionDistill: 'rows' must be int32/);
      expect(call({ rows: tensor(Int32Array.from([0, 1, 2, 4]), { shape: [2, 2] }) })).toThrow(/^(seekr\.)?attentionDistill: .*rows.*out of range \[0, 4\)/);
      expect(call({ teacher: teacher(1) })).toThrow(/^(seekr\.)?attentionDistill: teacher \[2, 1, 2, 5\] must be \[2, 2, 2, 5\]/);
      expect(call({ teacher: teacher(2, 2, 4) })).toThrow(/^(seekr\.)?attentionDistill: teacher/);
      expect(call({ teacher: tensor(new Int32Array(40), { shape: [2, 2, 2, 5] }) })).toThrow(/^(seekr\.)?attentionDistill: 'teacher' must be a float tensor/);
      expect(call({ keyMask: tensor(new Float32Array(8), { shape: [2, 4] }) })).toThrow(/^(seekr\.)?attentionDistill: keyMask \[2, 4\] must be \[2, 5\]/);
      expect(call({ reduction: "max" })).toThrow(/^(seekr\.)?attentionDistill: reduction must be/);
      expect(() => attentionDistill(q, new Generator(3).normal([2, 5, 3, 2]), base)).toThrow(/^(seekr\.)?attentionDistill: query heads \(4\) must be a multiple of kv heads \(3\)/);
    });
  });

  it("the host copies of heads / rows (what a GPU call validates instead of downloading) must match their tensors", () => {
    tidy(() => {
      const q = new Generator(1).normal([2, 4, 4, 2]);
      const k = new Generator(2).normal([2, 5, 2, 2]);
      const v = new Generator(3).normal([2, 5, 2, 2]);
      const heads = tensor(Int32Array.from([1, 2]), { shape: [2] });
      const rows = tensor(Int32Array.from([0, 1, 2, 3]), { shape: [2, 2] });
      const teacher = tensor(new Float32Array(2 * 2 * 2 * 5), { shape: [2, 2, 2, 5] });
      const loss = tensor(new Float32Array(1), { shape: [] });
      const fwd = (hh: unknown, rh: unknown) => () =>
        native.attentionDistill(q.handle, k.handle, null, heads.handle, rows.handle, teacher.handle, 2, 4, 5, 4, 2, 2, true, 0.5, 0,
          loss.handle, 1, hh as Int32Array, rh as Int32Array);
      expect(fwd(Int32Array.from([1, 2]), Int32Array.from([0, 1, 2, 3]))).not.toThrow();
      expect(fwd(Int32Array.from([1]), null)).toThrow(/attentionDistill: 'headsHost' holds 1 values for 2 indices/);
      expect(fwd(null, new Float32Array(4))).toThrow(/attentionDistill: 'rowsHost' must be an Int32Array/);
      const dq = tensor(new Float32Array(q.size), { shape: q.shape });
      const dk = tensor(new Float32Array(k.size), { shape: k.shape });
      expect(() => native.attentionDistillBackward(q.handle, k.handle, null, heads.handle, rows.handle, teacher.handle, loss.handle, 1,
        dq.handle, dk.handle, 2, 4, 5, 4, 2, 2, true, 0.5, 0, null, Int32Array.from([0, 1, 2]))).toThrow(/attentionDistillBackward: 'rowsHost' holds 3 values for 4 indices/);
      const out = tensor(new Float32Array(q.size), { shape: q.shape });
      const lse = tensor(new Float32Array(2 * 4 * 4), { shape: [2, 4, 4] });
      const taps = tensor(new Float32Array(2 * 2 * 2 * 5), { shape: [2, 2, 2, 5] });
      expect(() => native.attention(q.handle, k.handle, v.handle, out.handle, lse.handle, 2, 4, 5, 4, 2, 2, true, 0.5, null, heads.handle,
        rows.handle, taps.handle, 0, Int32Array.from([1, 2, 3]), null)).toThrow(/attention: 'tapHeadsHost' holds 3 values for 2 indices/);
    });
  });

  // FINDING (found by this file): the keyMask check compares sizes only (maskF32 in ops/nn.ts), so a transposed
  // [Tk, B] mask is silently read as [B, Tk] data and masks the wrong keys.
  it("a keyMask of the right size but the wrong shape ([Tk, B] instead of [B, Tk]) is rejected", () => {
    tidy(() => {
      const q = new Generator(1).normal([2, 4, 4, 2]);
      const k = new Generator(2).normal([2, 5, 2, 2]);
      const rows = tensor(Int32Array.from([0, 1, 2, 3]), { shape: [2, 2] });
      const keyMask = tensor(Float32Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? 0 : 1)), { shape: [5, 2] });
      expect(() => attention(q, k, k, { keyMask })).toThrow(/^(seekr\.)?attention: keyMask \[5, 2\] must be \[2, 5\]/);
      expect(() => attentionDistill(q, k, { heads: [0], rows, teacher: tensor(new Float32Array(20), { shape: [2, 1, 2, 5] }), keyMask })).toThrow(
        /^(seekr\.)?attentionDistill: keyMask \[5, 2\] must be \[2, 5\]/,
      );
    });
  });
});