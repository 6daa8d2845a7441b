// safetensors: save/load round trips for every dtype, metadata, atomic writes, precise errors on corrupt files, fixtures.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Tensor, bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, loadSafetensors, memory, readSafetensorsHeader,
  saveSafetensors, tensor,
} from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "seekr-st-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const file = (name: string) => join(dir, name);

function bytesOf(t: Tensor): Buffer {
  const d = t.dataSync();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}
function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** Writes a raw safetensors file from a header object and a data section. */
function writeRaw(path: string, header: unknown, data: Uint8Array, opts: { headerText?: string; lengthOverride?: bigint } = {}): void {
  let h = opts.headerText ?? JSON.stringify(header);
  h += " ".repeat((8 - (Buffer.byteLength(h) % 8)) % 8);
  const hb = Buffer.from(h, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(opts.lengthOverride ?? BigInt(hb.length));
  writeFileSync(path, Buffer.concat([len, hb, Buffer.from(data)]));
}

/** The error thrown by fn; fails if fn does not throw an Error. */
function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  throw new Error("expected an error, none was thrown");
}

describe("safetensors round trip", () => {
  test("f32, i32, bf16, f16, scalar and empty tensors keep dtype, shape and exact bytes", () => {
    const before = memory();
    const f32 = tensor([[1.5, -2.25, 3e-38], [Infinity, -0, 1e30]]);
    const nan = tensor(new Float32Array([NaN, -Infinity]));
    const i32 = tensor(new Int32Array([0, -1, 2147483647, -2147483648, 42, 7]), { shape: [3, 2] });
    const bf16 = tensor([1, -2.5, 3.140625, 65280, 1e-3, 0], { dtype: "bfloat16", shape: [2, 3] });
    const f16 = tensor([1, -2.5, 65504, 6.1e-5, 0.333, -0], { dtype: "float16", shape: [3, 2] });
    const sc = tensor(new Float32Array([7.25]), { shape: [] });
    const empty1 = tensor(new Float32Array(0), { shape: [0] });
    const empty2 = tensor(new Int32Array(0), { shape: [2, 0, 3] });
    const all: Record<string, Tensor> = { f32, nan, i32, bf16, f16, scalar: sc, empty1, empty2 };
    const path = file("roundtrip.safetensors");
    saveSafetensors(path, all);

    const { tensors, metadata } = loadSafetensors(path);
    expect(metadata).toEqual({});
    expect([...tensors.keys()]).toEqual(Object.keys(all));
    for (const [name, t] of Object.entries(all)) {
      const u = tensors.get(name)!;
      expect(u.dtype, name).toBe(t.dtype);
      expect(u.shape, name).toEqual(t.shape);
      expect(Buffer.compare(bytesOf(u), bytesOf(t)), `${name}: bytes differ`).toBe(0);
    }
    expect(tensors.get("scalar")!.item()).toBe(7.25);
    expect(tensors.get("scalar")!.shape).toEqual([]);
    expect(tensors.get("empty2")!.size).toBe(0);
    expect(Array.from(tensors.get("i32")!.dataSync())).toEqual([0, -1, 2147483647, -2147483648, 42, 7]);
    expect(Object.is(tensors.get("f32")!.toFloatArray()[4], -0)).toBe(true);
    expect(Number.isNaN(tensors.get("nan")!.toFloatArray()[0])).toBe(true);
    // Half types decode to the values they encode.
    expect(Array.from(tensors.get("bf16")!.toFloatArray())).toEqual([1, -2.5, 3.140625, 65280, bf16BitsToF32(f32ToBf16Bits(1e-3)), 0]);
    expect(Array.from(tensors.get("f16")!.toFloatArray())).toEqual(
      [1, -2.5, 65504, 6.1e-5, 0.333, -0].map((x) => f16BitsToF32(f32ToF16Bits(x))),
    );

    // The header on disk is the documented format: 8-byte length, space-padded JSON, offsets in order without gaps.
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(header.f32).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
    expect(header.bf16!.dtype).toBe("BF16");
    expect(header.f16!.dtype).toBe("F16");
    expect(header.i32!.dtype).toBe("I32");
    expect(header.scalar!.shape).toEqual([]);
    let pos = 0;
    for (const name of Object.keys(all)) {
      const [b, e] = header[name]!.data_offsets;
      expect(b, name).toBe(pos);
      pos = e;
    }
    expect(buf.length).toBe(8 + n + pos);

    disposeAll(tensors);
    for (const t of Object.values(all)) t.dispose();
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().devices.cpu!.bytes).toBe(before.devices.cpu!.bytes);
  });

  test("a Map keeps insertion order; metadata round-trips; names filter", () => {
    const path = file("meta.safetensors");
    const m = new Map<string, Tensor>([["z.last", tensor([1, 2])], ["a.first", tensor([3])], ["ünï/cødé name", tensor([4, 5, 6])]]);
    const meta = { format: "pt", config: JSON.stringify({ a: 1, nested: { b: [1, 2] } }), empty: "", "ключ": "значение" };
    saveSafetensors(path, m, meta);
    const h = readSafetensorsHeader(path);
    expect(h.entries.map((e) => e.name)).toEqual(["z.last", "a.first", "ünï/cødé name"]);
    expect(h.metadata).toEqual(meta);
    expect(h.dataStart % 8).toBe(0);
    const { tensors, metadata } = loadSafetensors(path, { names: ["ünï/cødé name"] });
    expect(metadata).toEqual(meta);
    expect([...tensors.keys()]).toEqual(["ünï/cødé name"]);
    expect(Array.from(tensors.get("ünï/cødé name")!.dataSync())).toEqual([4, 5, 6]);
    // Loaded tensors are kept (tidy must not free them) and independent of the originals.
    expect(tensors.get("ünï/cødé name")!.kept).toBe(true);
    disposeAll(tensors);
    for (const t of m.values()) t.dispose();
  });

  test("non-string metadata and disposed tensors are rejected before anything is written", () => {
    const path = file("rejected.safetensors");
    const t = tensor([1]);
    const e1 = errorOf(() => saveSafetensors(path, { t }, { n: 5 as unknown as string }));
    expect(e1.message).toMatch(/saveSafetensors: metadata 'n' must be a string/);
    const d = tensor([2]);
    d.dispose();
    const e2 = errorOf(() => saveSafetensors(path, { t, d }));
    expect(e2.message).toMatch(/saveSafetensors: tensor 'd' was disposed/);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes("rejected"))).toEqual([]);
    t.dispose();
  });
});

describe("safetensors atomic write", () => {
  test("no temporary files are left and the target is complete", () => {
    const sub = mkdtempSync(join(dir, "atomic-"));
    const path = join(sub, "model.safetensors");
    const big = tensor(new Float32Array(50_000).map((_, i) => i));
    saveSafetensors(path, { big });
    expect(readdirSync(sub)).toEqual(["model.safetensors"]);
    expect(statSync(path).size).toBe(readSafetensorsHeader(path).dataStart + 200_000);
    // Overwrite in place: still one file, new contents.
    const small = tensor([1, 2, 3]);
    saveSafetensors(path, { small });
    expect(readdirSync(sub)).toEqual(["model.safetensors"]);
    const { tensors } = loadSafetensors(path);
    expect([...tensors.keys()]).toEqual(["small"]);
    disposeAll(tensors);
    big.dispose();
    small.dispose();
  });

  test("a write that fails midway leaves the previous file intact and no temporary file", () => {
    const sub = mkdtempSync(join(dir, "atomic-fail-"));
    const path = join(sub, "ckpt.safetensors");
    const good = tensor([1, 2, 3, 4]);
    saveSafetensors(path, { good });
    const original = readFileSync(path);
    // A tensor whose data read fails after the header and the first tensor were written to the temporary file.
    const failing = {
      isDisposed: false, dtype: "float32", shape: [1_000], bytes: 4_000,
      dataSync() { throw new Error("simulated device failure"); },
    } as unknown as Tensor;
    const e = errorOf(() => saveSafetensors(path, { good, failing }));
    expect(e.message).toContain("simulated device failure");
    expect(readdirSync(sub)).toEqual(["ckpt.safetensors"]);
    expect(Buffer.compare(readFileSync(path), original)).toBe(0);
    good.dispose();
  });

  test("saving into a missing directory throws and creates nothing", () => {
    const path = join(dir, "no-such-dir", "x.safetensors");
    const t = tensor([1]);
    const e = errorOf(() => saveSafetensors(path, { t }));
    expect(e.message).toContain("no-such-dir");
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
    t.dispose();
  });
});

describe("safetensors errors name the file and the problem", () => {
  const good = (path: string) => {
    const h = { __metadata__: { k: "v" }, a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] }, b: { dtype: "I32", shape: [3], data_offsets: [16, 28] } };
    writeRaw(path, h, new Uint8Array(28));
    return h;
  };

  test("control: the hand-written file loads", () => {
    const path = file("control.safetensors");
    good(path);
    const { tensors, metadata } = loadSafetensors(path);
    expect(metadata).toEqual({ k: "v" });
    expect(tensors.get("b")!.shape).toEqual([3]);
    disposeAll(tensors);
  });

  test("truncated file: names the tensor that does not fit", () => {
    const path = file("truncated.safetensors");
    good(path);
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.length - 5));
    const before = memory();
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toContain("'b'");
    expect(e.message).toMatch(/truncated/);
    expect(memory().tensors).toBe(before.tensors); // nothing half-loaded is left behind
  });

  test("file shorter than the length prefix", () => {
    const path = file("tiny.safetensors");
    writeFileSync(path, Buffer.from([1, 2, 3]));
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/not a safetensors file.*3 bytes/);
  });

  test.each([
    ["zero", 0n],
    ["larger than the file", 1_000n],
    ["absurd (2^63)", 2n ** 63n],
  ])("bad header length: %s", (_label, n) => {
    const path = file(`badlen-${String(n)}.safetensors`);
    writeRaw(path, { a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4), { lengthOverride: n });
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/invalid header length/);
  });

  test("invalid JSON header", () => {
    const path = file("badjson.safetensors");
    writeRaw(path, null, new Uint8Array(4), { headerText: '{"a": {"dtype": "F32", "shape": [1], ' });
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/not valid JSON/);
  });

  test("unsupported dtype names the tensor and the dtype", () => {
    const path = file("dtype.safetensors");
    writeRaw(path, { w: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toContain("'w'");
    expect(e.message).toContain("F64");
  });

  test("invalid shape", () => {
    const path = file("shape.safetensors");
    writeRaw(path, { w: { dtype: "F32", shape: [2, -1], data_offsets: [0, 8] } }, new Uint8Array(8));
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/'w' has an invalid shape/);
  });

  test.each([
    ["too short for the shape", [0, 12]],
    ["too long for the shape", [0, 20]],
    ["missing", undefined],
    ["not numbers", ["0", "16"]],
  ])("data_offsets mismatch: %s", (_label, offsets) => {
    const path = file(`offsets-${String(_label).replace(/ /g, "_")}.safetensors`);
    writeRaw(path, { w: { dtype: "F32", shape: [2, 2], data_offsets: offsets } }, new Uint8Array(20));
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/'w' F32\[2, 2\] needs 16 bytes, data_offsets/);
  });

  test("data_offsets pointing before the data section", () => {
    const path = file("negative-offset.safetensors");
    writeRaw(path, { w: { dtype: "F32", shape: [1], data_offsets: [-4, 0] } }, new Uint8Array(4));
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.message).toContain("'w'");
  });

  test("missing name in names filter", () => {
    const path = file("names.safetensors");
    good(path);
    const e = errorOf(() => loadSafetensors(path, { names: ["a", "nope"] }));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/no tensor named 'nope'/);
  });

  test("missing file", () => {
    const path = file("does-not-exist.safetensors");
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
  });

  // A header entry that is JSON but not an object ({"w": null}, or a top-level array/null) must get the same kind of
  // precise error, naming the file and the entry, instead of a bare TypeError from property access.
  test.each([
    ["entry is null", '{"w": null}'],
    ["entry is a number", '{"w": 5}'],
    ["header is null", "null"],
    ["header is an array", '[{"dtype": "F32"}]'],
    ["__metadata__ is not an object of strings", '{"__metadata__": {"a": 1}}'],
  ])("structurally invalid header: %s", (_label, text) => {
    const path = file(`struct-${String(_label).replace(/[^a-z]/gi, "_")}.safetensors`);
    writeRaw(path, null, new Uint8Array(0), { headerText: text });
    const e = errorOf(() => loadSafetensors(path));
    expect(e.message).toContain(path);
  });
});

describe("safetensors fixtures", () => {
  test("llama_step: 69 tensors, config metadata, loss ≈ 4.642482, targets as documented", () => {
    const path = join(here, "fixtures", "llama_step.safetensors");
    const h = readSafetensorsHeader(path);
    expect(h.entries).toHaveLength(69);
    expect(h.dataStart % 8).toBe(0);
    const { tensors, metadata } = loadSafetensors(path, { names: ["loss", "targets", "input_ids", "step_losses", "grad_norms", "model.norm.weight"] });
    const cfg = JSON.parse(metadata.config!) as Record<string, number>;
    expect(cfg.vocab_size).toBe(64);
    expect(cfg.hidden_size).toBe(32);
    expect(JSON.parse(metadata.optimizer!).type).toBe("AdamW");
    const loss = tensors.get("loss")!;
    expect(loss.shape).toEqual([1]);
    expect(loss.item()).toBeCloseTo(4.642482, 5);
    expect(tensors.get("step_losses")!.toFloatArray()[0]).toBe(loss.item());
    for (const g of tensors.get("grad_norms")!.toFloatArray()) expect(g).toBeGreaterThan(1);
    const ids = tensors.get("input_ids")!;
    const tg = tensors.get("targets")!;
    expect(ids.dtype).toBe("int32");
    expect(tg.dtype).toBe("int32");
    const I = ids.dataSync() as Int32Array;
    const Tg = tg.dataSync() as Int32Array;
    for (const v of I) expect(v >= 0 && v < 64).toBe(true);
    const ignored = [...Tg.keys()].filter((i) => Tg[i] === -100);
    expect(ignored).toEqual([0, 1, 2, 7, 8, 9, 15]);
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < 7; t++) if (Tg[b * 8 + t] !== -100) expect(Tg[b * 8 + t]).toBe(I[b * 8 + t + 1]);
    disposeAll(tensors);
  });

  test("ops: 177 tensors, 36 cases, known values", () => {
    const path = join(here, "fixtures", "ops.safetensors");
    const { tensors, metadata } = loadSafetensors(path);
    expect(tensors.size).toBe(177);
    expect(Object.keys(JSON.parse(metadata.cases!))).toHaveLength(36);
    expect(Array.from(tensors.get("embedding.in1")!.dataSync())).toEqual([3, 7, 3, 0, 9, 7]);
    expect(tensors.get("sum_all.out")!.shape).toEqual([]);
    expect(tensors.get("cross_entropy.out")!.shape).toEqual([]);
    const ceT = tensors.get("cross_entropy.in1")!.dataSync();
    expect(ceT[1]).toBe(-100);
    expect(ceT[4]).toBe(-100);
    // sum_all.out is the sum of its input (fp32 reference).
    const x = tensors.get("sum_all.in0")!.toFloatArray();
    expect(tensors.get("sum_all.out")!.item()).toBeCloseTo(Array.from(x).reduce((a, b) => a + b, 0), 4);
    disposeAll(tensors);
  });

  test("fixtures re-saved by us are byte-identical in data and equal in header", () => {
    const src = join(here, "fixtures", "ops.safetensors");
    const { tensors, metadata } = loadSafetensors(src);
    const out = file("ops-resaved.safetensors");
    saveSafetensors(out, tensors, metadata);
    const a = readFileSync(src);
    const b = readFileSync(out);
    const na = Number(a.readBigUInt64LE(0));
    const nb = Number(b.readBigUInt64LE(0));
    expect(JSON.parse(b.subarray(8, 8 + nb).toString())).toEqual(JSON.parse(a.subarray(8, 8 + na).toString()));
    expect(Buffer.compare(a.subarray(8 + na), b.subarray(8 + nb))).toBe(0);
    disposeAll(tensors);
  });
});
