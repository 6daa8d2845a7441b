// Devices: a model lives on one device (init, load, to()), its inputs must be there too (clear errors otherwise), and
// on CUDA (when this machine has it) forward / backward / generation agree with the CPU.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { type Device, type Tensor, add, deviceName, devices, memory, noGrad, parseDevice, tensor, tidy } from "@seekr/tensor";
import { LlamaModel } from "./model.js";
import { padBatch } from "./batch.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { generate } from "./generate.js";
import { hostValues, mirroredTensor } from "./host.js";
import { compare, tiny } from "./test-utils.js";

const cuda = devices().cuda;
const tmp = mkdtempSync(join(tmpdir(), "seekr-model-device-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const rows = [[1, 7, 8, 9, 10, 11], [1, 12, 13], [1, 4, 5, 6]];
const labelRows = [[-100, -100, 8, 9, 10, 11], [-100, 12, 13], [-100, -100, -100, 6]];

/** A CPU tensor that claims to be on `device` (stands in for a device tensor on a machine without one). */
function elsewhere(t: Tensor, device: string): Tensor {
  return Object.create(t, { device: { value: parseDevice(device) } }) as Tensor;
}

/** Loss, logits and every gradient of one training forward/backward on the model's device, read back to the host. */
function step(model: LlamaModel): { loss: number; logits: Float32Array; grads: Map<string, Float32Array> } {
  const out = tidy(() => {
    const b = padBatch(rows, { labels: labelRows, padId: 0, device: model.device });
    const r = model.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels! });
    r.loss!.backward();
    return { loss: r.loss!.item(), logits: r.logits!.toFloatArray() as Float32Array };
  });
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.parameters()) {
    grads.set(name, p.grad!.toFloatArray() as Float32Array);
    p.grad!.dispose();
    p.grad = null;
  }
  return { ...out, grads };
}

const bits = (a: ArrayLike<number>): Buffer => Buffer.from(Float32Array.from(a).buffer);

describe("a model on the CPU", () => {
  test('{ device: "cpu" } is the default: same weights, logits, loss and gradients bit for bit', () => {
    const a = LlamaModel.init(tiny(), { seed: 5, std: 0.3 });
    const b = LlamaModel.init(tiny(), { seed: 5, std: 0.3, device: "cpu" });
    expect(deviceName(a.device)).toBe("cpu");
    expect(deviceName(b.device)).toBe("cpu");
    for (const [n, t] of a.parameters()) expect(bits(t.toFloatArray()).equals(bits(b.parameter(n).toFloatArray())), n).toBe(true);
    const sa = step(a);
    const sb = step(b);
    expect(sb.loss).toBe(sa.loss);
    expect(bits(sb.logits).equals(bits(sa.logits))).toBe(true);
    for (const [n, g] of sa.grads) expect(bits(sb.grads.get(n)!).equals(bits(g)), n).toBe(true);
    a.dispose();
    b.dispose();
  });

  test("to(cpu) keeps the parameters, their values and gradients; training still works", () => {
    const m = LlamaModel.init(tiny(), { seed: 6, std: 0.3 });
    const before = step(m);
    const params = m.parameterList();
    expect(m.to("cpu")).toBe(m);
    expect(m.to({ type: "cpu", index: 0 } as Device)).toBe(m);
    expect(m.parameterList().every((p, i) => p === params[i])).toBe(true);
    const after = step(m);
    expect(after.loss).toBe(before.loss);
    for (const [n, g] of before.grads) expect(bits(after.grads.get(n)!).equals(bits(g)), n).toBe(true);
    for (const p of m.parameterList()) expect(p.requiresGrad && p.kept).toBe(true);
    m.dispose();
  });

  test("checkpoints load onto a device (cpu here) and createCache carries the model's device", () => {
    const m = LlamaModel.init(tiny(), { seed: 7 });
    saveCheckpoint(m, join(tmp, "ckpt"));
    const l = loadCheckpoint(join(tmp, "ckpt"), { device: "cpu" });
    expect(deviceName(l.device)).toBe("cpu");
    for (const [n, t] of m.parameters()) expect(bits(t.toFloatArray()).equals(bits(l.parameter(n).toFloatArray())), n).toBe(true);
    const cache = l.createCache(2);
    expect(deviceName(cache.device!)).toBe("cpu");
    cache.dispose();
    m.dispose();
    l.dispose();
  });

  test("a batch on another device is refused, naming both devices", () => {
    const m = LlamaModel.init(tiny(), { seed: 8 });
    noGrad(() =>
      tidy(() => {
        const b = padBatch(rows, { labels: labelRows, padId: 0 });
        expect(() => m.forward(elsewhere(b.ids, "cuda:7"))).toThrow(/ids is on cuda:7 but the model is on cpu/);
        expect(() => m.forward(b.ids, { attentionMask: elsewhere(b.attentionMask, "cuda:0") })).toThrow(/attentionMask is on cuda:0 but the model is on cpu/);
        expect(() => m.forward(b.ids, { attentionMask: b.attentionMask, labels: elsewhere(b.labels!, "cuda:1") })).toThrow(/labels is on cuda:1 but the model is on cpu/);
        const r = elsewhere(tensor([[0], [1], [2]], { dtype: "int32" }), "cuda:0");
        expect(() => m.forward(b.ids, { attentionMask: b.attentionMask, taps: [{ layer: 0, heads: [0], rows: r }] })).toThrow(/taps\[layer 0\]\.rows is on cuda:0 but the model is on cpu/);
        const cache = m.createCache(3);
        (cache as { device: Device | null }).device = parseDevice("cuda:0");
        expect(() => m.forward(b.ids, { kvCache: cache })).toThrow(/kvCache is on cuda:0 but the model is on cpu/);
        cache.dispose();
      }),
    );
    m.dispose();
  });

  test("parameters on two devices are refused", () => {
    const m = LlamaModel.init(tiny(), { seed: 9 });
    const params = m.parameters();
    const name = "model.norm.weight";
    params.set(name, elsewhere(params.get(name)!, "cuda:0"));
    expect(() => new LlamaModel(m.config, params)).toThrow(/parameter 'model\.norm\.weight' is on cuda:0, 'model\.embed_tokens\.weight' on cpu/);
    m.dispose();
  });

  test("padBatch keeps host copies (forward reads them without a download); plain tensors give the same results", () => {
    const m = LlamaModel.init(tiny(), { seed: 10, std: 0.3 });
    noGrad(() =>
      tidy(() => {
        const b = padBatch(rows, { labels: labelRows, padId: 0 });
        expect(hostValues(b.ids)).toBeInstanceOf(Int32Array);
        const plain = (t: Tensor) => tensor(t.toFloatArray() as Int32Array, { shape: t.shape, dtype: "int32" });
        const r1 = m.forward(b.ids, { attentionMask: b.attentionMask, labels: b.labels! });
        const r2 = m.forward(plain(b.ids), { attentionMask: plain(b.attentionMask), labels: plain(b.labels!) });
        expect(r1.loss!.item()).toBe(r2.loss!.item());
        expect(bits(r1.logits!.toFloatArray()).equals(bits(r2.logits!.toFloatArray()))).toBe(true);
        const t = mirroredTensor(new Int32Array([1, 2, 3]), { shape: [1, 3] });
        t.dispose();
        expect(() => hostValues(t)).toThrow(/disposed/); // a disposed tensor's copy is never used
      }),
    );
    m.dispose();
  });
});

describe.skipIf(cuda.available)("CUDA unavailable on this machine", () => {
  test(`asking for a CUDA device fails clearly (${cuda.reason || "no reason given"})`, () => {
    const m = LlamaModel.init(tiny(), { seed: 11 });
    const params = m.parameterList();
    expect(() => m.to("cuda:7")).toThrow(/CUDA is not available/);
    expect(m.parameterList().every((p, i) => p === params[i])).toBe(true); // nothing moved, nothing freed
    expect(params.every((p) => !p.isDisposed)).toBe(true);
    expect(() => padBatch(rows, { device: "cuda:7" })).toThrow(/CUDA is not available/);
    expect(() => LlamaModel.init(tiny(), { device: "cuda" })).toThrow(/CUDA is not available/);
    expect(() => LlamaModel.init(tiny(), { device: "gpu" })).toThrow(/invalid device "gpu"/);
    m.dispose();
  });
});

describe.skipIf(!cuda.available)("on cuda:0 (compared with the CPU)", () => {
  const cfg = tiny({ vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numAttentionHeads: 4, numKeyValueHeads: 2 });

  /** |a − b| ≤ 1e-4 · |b| + 1e-5 · max|b|: relative, with a floor for entries near zero. */
  function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
    let scale = 0;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
    const c = compare(a, b, 1e-5 * scale, 1e-4);
    expect(c.bad, `${what}: max abs err ${c.maxAbs} (scale ${scale})`).toBe(0);
  }

  test("init on cuda:0 draws the CPU's weights; forward / backward agree (logits, loss, every gradient)", () => {
    const cpu = LlamaModel.init(cfg, { seed: 3, std: 0.3 });
    const gpu = LlamaModel.init(cfg, { seed: 3, std: 0.3, device: "cuda:0" });
    expect(deviceName(gpu.device)).toBe("cuda:0");
    for (const [n, t] of cpu.parameters()) {
      expect(deviceName(gpu.parameter(n).device)).toBe("cuda:0");
      expect(bits(gpu.parameter(n).toFloatArray()).equals(bits(t.toFloatArray())), n).toBe(true);
    }
    const a = step(cpu);
    const b = step(gpu);
    expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-4 * Math.abs(a.loss));
    close(b.logits, a.logits, "logits");
    for (const [n, g] of a.grads) close(b.grads.get(n)!, g, `grad ${n}`);
    cpu.dispose();
    gpu.dispose();
  });

  test("taps, sensitivity and distillation on cuda:0 agree with the CPU", () => {
    const cpu = LlamaModel.init(cfg, { seed: 4, std: 0.3 });
    const gpu = LlamaModel.init(cfg, { seed: 4, std: 0.3, device: "cuda:0" });
    const run = (m: LlamaModel) =>
      tidy(() => {
        const b = padBatch(rows, { labels: labelRows, padId: 0, device: m.device });
        const r = mirroredTensor(new Int32Array([5, 1, 2, 0, 3, 3]), { shape: [3, 2], device: m.device });
        const teacher = tensor(new Float32Array(3 * 2 * 2 * 6).fill(1 / 6), { shape: [3, 2, 2, 6], device: m.device });
        const out = m.forward(b.ids, {
          attentionMask: b.attentionMask, labels: b.labels!, returnLogits: false, sensitivity: true,
          taps: [{ layer: 1, heads: [0, 3], rows: r }], distill: [{ layer: 0, heads: [1, 2], rows: r, teacher }],
        });
        const total = add(out.loss!, out.distillLoss!);
        total.backward();
        const res = { total: total.item(), taps: out.taps.get(1)!.toFloatArray(), sens: out.sensitivity.get(0)!.toFloatArray(), gq: m.parameter("model.layers.0.self_attn.q_proj.weight").grad!.toFloatArray() };
        for (const p of m.parameterList()) (p.grad?.dispose(), (p.grad = null));
        return res;
      });
    const a = run(cpu);
    const b = run(gpu);
    expect(Math.abs(b.total - a.total)).toBeLessThanOrEqual(1e-4 * Math.abs(a.total));
    close(b.taps, a.taps, "taps");
    close(b.sens, a.sens, "sensitivity");
    close(b.gq, a.gq, "grad q_proj (LM + distillation)");
    cpu.dispose();
    gpu.dispose();
  });

  test("to() moves cpu → cuda:0 → cpu keeping values and grads; a CPU batch is refused by the CUDA model", () => {
    const m = LlamaModel.init(cfg, { seed: 5, std: 0.3 });
    const want = m.parameterList().map((p) => bits(p.toFloatArray()));
    const before = memory().devices["cuda:0"]?.bytes ?? 0;
    m.to("cuda:0");
    expect(deviceName(m.device)).toBe("cuda:0");
    expect(m.parameterList().every((p) => deviceName(p.device) === "cuda:0" && p.requiresGrad && p.kept)).toBe(true);
    noGrad(() =>
      tidy(() => {
        const b = padBatch(rows, { padId: 0 });
        expect(() => m.forward(b.ids, { attentionMask: b.attentionMask })).toThrow(/ids is on cpu but the model is on cuda:0/);
      }),
    );
    const s = step(m);
    expect(Number.isFinite(s.loss)).toBe(true);
    m.to("cpu");
    expect(m.parameterList().map((p) => bits(p.toFloatArray())).every((x, i) => x.equals(want[i]!))).toBe(true);
    expect(memory().devices["cuda:0"]?.bytes ?? 0).toBe(before); // the device copies were freed
    m.dispose();
  });

  test("generation on cuda:0 runs with the cache and frees every step's tensors; its first logits match the CPU", () => {
    const cpu = LlamaModel.init(cfg, { seed: 6, std: 0.25 });
    const gpu = LlamaModel.init(cfg, { seed: 6, std: 0.25, device: "cuda:0" });
    const prompts = [[1, 5, 6, 7], [1, 9]];
    const first = (m: LlamaModel) =>
      noGrad(() =>
        tidy(() => {
          const b = padBatch(prompts, { side: "left", padId: 0, device: m.device });
          return m.forward(b.ids, { attentionMask: b.attentionMask, returnLogits: "last" }).logits!.toFloatArray();
        }),
      );
    close(first(gpu), first(cpu), "first-step logits");
    const before = memory().devices["cuda:0"]?.bytes ?? 0;
    const r = generate(gpu, prompts, { maxNewTokens: 6, eosTokenId: [] });
    expect(r.tokens.map((t) => t.length)).toEqual([6, 6]);
    expect(memory().devices["cuda:0"]?.bytes ?? 0).toBe(before);
    cpu.dispose();
    gpu.dispose();
  });

  test("checkpoints: save from cuda:0, load onto cuda:0, bit-identical", () => {
    const m = LlamaModel.init(cfg, { seed: 7, device: "cuda:0" });
    saveCheckpoint(m, join(tmp, "gpu"));
    const l = loadCheckpoint(join(tmp, "gpu"), { device: "cuda:0" });
    expect(deviceName(l.device)).toBe("cuda:0");
    for (const [n, t] of m.parameters()) expect(bits(l.parameter(n).toFloatArray()).equals(bits(t.toFloatArray())), n).toBe(true);
    m.dispose();
    l.dispose();
  });
});
