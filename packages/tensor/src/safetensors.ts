// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header, raw tensor bytes.
// Reads stream tensor by tensor from a file descriptor; writes go to a temporary file renamed into place (atomic).
import { closeSync, fsyncSync, openSync, readSync, renameSync, statSync, writeSync, unlinkSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { Tensor, tensor } from "./tensor.js";
import type { DType } from "./dtype.js";
import type { DeviceLike } from "./device.js";
import { shapeSize } from "./shape.js";

const TO_ST: Record<DType, string> = { float32: "F32", int32: "I32", bfloat16: "BF16", float16: "F16" };
const FROM_ST: Record<string, DType> = { F32: "float32", I32: "int32", BF16: "bfloat16", F16: "float16" };
const ELEM: Record<string, number> = { F32: 4, I32: 4, BF16: 2, F16: 2 };

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte range in the data section. */
  begin: number;
  end: number;
}
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute file offset of the data section. */
  dataStart: number;
}

function readExactly(fd: number, buf: Uint8Array, pos: number, path: string, what: string): void {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n === 0) throw new Error(`${path}: file is truncated while reading ${what} (needed ${buf.length} bytes at offset ${pos}, got ${got})`);
    got += n;
  }
}

/** Parses and validates the header of a safetensors file (no tensor data is read). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    if (size < 8) throw new Error(`${path}: not a safetensors file (only ${size} bytes)`);
    const lenBuf = new Uint8Array(8);
    readExactly(fd, lenBuf, 0, path, "the header length");
    const n = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
    if (n <= 0 || n > 100_000_000 || 8 + n > size) throw new Error(`${path}: invalid header length ${n} (file has ${size} bytes)`);
    const hb = new Uint8Array(n);
    readExactly(fd, hb, 8, path, "the header");
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(new TextDecoder().decode(hb)) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${path}: header is not valid JSON (${(e as Error).message})`);
    }
    if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error(`${path}: header is not a JSON object`);
    const rawMeta = json.__metadata__ ?? {};
    if (rawMeta === null || typeof rawMeta !== "object" || Array.isArray(rawMeta)) throw new Error(`${path}: __metadata__ must be an object of strings`);
    for (const [k, v] of Object.entries(rawMeta)) if (typeof v !== "string") throw new Error(`${path}: __metadata__ value '${k}' must be a string, got ${typeof v}`);
    const metadata = rawMeta as Record<string, string>;
    const entries: SafetensorsEntry[] = [];
    const dataSize = size - 8 - n;
    for (const [name, v] of Object.entries(json)) {
      if (name === "__metadata__") continue;
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${path}: header entry for tensor '${name}' must be an object, got ${v === null ? "null" : typeof v}`);
      const e = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      const dtype = e.dtype ? FROM_ST[e.dtype] : undefined;
      if (!dtype) throw new Error(`${path}: tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)} (supported: F32, I32, BF16, F16)`);
      if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${path}: tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
      const [begin, end] = e.data_offsets ?? [NaN, NaN];
      const want = shapeSize(e.shape) * ELEM[e.dtype!]!;
      if (!Number.isInteger(begin) || !Number.isInteger(end) || end - begin !== want)
        throw new Error(`${path}: tensor '${name}' ${e.dtype}[${e.shape.join(", ")}] needs ${want} bytes, data_offsets ${JSON.stringify(e.data_offsets)} give ${end - begin}`);
      if (begin < 0 || end > dataSize)
        throw new Error(`${path}: tensor '${name}' lies outside the file (bytes ${begin}..${end} of a ${dataSize}-byte data section): the file is truncated`);
      entries.push({ name, dtype, shape: e.shape, begin, end });
    }
    return { entries, metadata, dataStart: 8 + n };
  } finally {
    closeSync(fd);
  }
}

export interface LoadOptions {
  device?: DeviceLike;
  /** Only these tensor names (default: all). */
  names?: readonly string[];
}

/** Loads tensors one at a time (a single tensor's bytes are in memory at once besides the result). */
export function loadSafetensors(path: string, opts: LoadOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(path);
  const want = opts.names ? new Set(opts.names) : null;
  if (want) for (const n of want) if (!header.entries.some((e) => e.name === n)) throw new Error(`${path}: no tensor named '${n}'`);
  const fd = openSync(path, "r");
  const tensors = new Map<string, Tensor>();
  try {
    for (const e of header.entries) {
      if (want && !want.has(e.name)) continue;
      const bytes = new Uint8Array(e.end - e.begin);
      readExactly(fd, bytes, header.dataStart + e.begin, path, `tensor '${e.name}'`);
      const data = e.dtype === "float32" ? new Float32Array(bytes.buffer) : e.dtype === "int32" ? new Int32Array(bytes.buffer) : new Uint16Array(bytes.buffer);
      tensors.set(e.name, tensor(data, { dtype: e.dtype, shape: e.shape, device: opts.device }).keep());
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  } finally {
    closeSync(fd);
  }
  return { tensors, metadata: header.metadata };
}

/** Writes tensors to `path` atomically (temporary file, fsync, rename). */
export function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new Error(`saveSafetensors: metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    if (t.isDisposed) throw new Error(`saveSafetensors: tensor '${name}' was disposed`);
    header[name] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  let hjson = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(hjson) % 8)) % 8;
  hjson += " ".repeat(pad);
  const hbytes = Buffer.from(hjson, "utf8");
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hbytes.length));
    writeSync(fd, len);
    writeSync(fd, hbytes);
    for (const [, t] of list) {
      const d = t.dataSync();
      writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw err;
  }
}
