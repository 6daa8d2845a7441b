// Hugging Face checkpoints: config.json + model.safetensors or sharded model-0000i-of-0000n.safetensors with an index;
// float32 / bfloat16 / float16 storage, streamed tensor-by-tensor loading, atomic writes, errors naming tensor and file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type DeviceLike, type Tensor, f16BitsToF32, f32ToF16Bits, readSafetensorsHeader, tensor, type SafetensorsEntry, shapeStr } from "@seekr/tensor";
import { type LlamaConfig, fromHfConfig, parameterShapes, toHfConfig } from "./config.js";
import { LlamaModel } from "./model.js";

/** Storage dtypes of checkpoint weights (the model always computes in float32). */
export type StorageDType = "float32" | "bfloat16" | "float16";

const ST_NAME: Record<StorageDType, string> = { float32: "F32", bfloat16: "BF16", float16: "F16" };
const ELEM_BYTES: Record<StorageDType, number> = { float32: 4, bfloat16: 2, float16: 2 };

export const CONFIG_FILE = "config.json";
export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";
const SHARD_RE = /^model-(\d{5})-of-(\d{5})\.safetensors$/;

export interface SaveOptions {
  /** Storage dtype of the weights (default "float32"; bfloat16 / float16 round to nearest even). */
  dtype?: StorageDType;
  /**
   * Largest shard in bytes: when the weights exceed it they are split into model-00001-of-0000N.safetensors files
   * plus model.safetensors.index.json (transformers' layout). Default: one model.safetensors.
   */
  maxShardBytes?: number;
  /** Extra safetensors metadata (strings); "format": "pt" is always written (transformers requires it). */
  metadata?: Record<string, string>;
}

export interface SavedCheckpoint {
  /** Weight files written, relative to the directory. */
  files: string[];
  /** Total bytes of tensor data. */
  totalBytes: number;
}

// ---------------------------------------------------------------------------------------------------------------
// dtype conversion (host side, one tensor at a time)

/** float32 values → bfloat16 bits (round to nearest even; NaN stays a quiet NaN), as torch's .to(bfloat16). */
export function toBf16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) {
    const bits = u[i]!;
    if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) out[i] = ((bits >>> 16) | 0x40) & 0xffff;
    else out[i] = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** bfloat16 bits → float32 (exact). */
export function fromBf16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) u[i] = src[i]! << 16;
  return out;
}

function toF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

function fromF16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`);
}

/** Writes `write(fd)` to a temporary file, fsyncs and renames it to `path` (readers see the old or the new file). */
function atomicWrite(path: string, write: (fd: number) => void): void {
  const tmp = tmpName(path);
  const fd = openSync(tmp, "w");
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw err;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Streams one safetensors file: header first, then each tensor converted to `dtype` right before it is written. */
function writeSafetensorsFile(path: string, items: Array<[string, Tensor]>, dtype: StorageDType, metadata: Record<string, string>): number {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of items) {
    const n = t.size * ELEM_BYTES[dtype];
    header[name] = { dtype: ST_NAME[dtype], shape: [...t.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hbytes = Buffer.from(json, "utf8");
  atomicWrite(path, (fd) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hbytes.length));
    writeAll(fd, len);
    writeAll(fd, hbytes);
    for (const [name, t] of items) {
      if (t.isDisposed) throw new Error(`saveCheckpoint: tensor '${name}' was disposed`);
      const f = t.toFloatArray();
      if (!(f instanceof Float32Array)) throw new Error(`saveCheckpoint: tensor '${name}' must be float32, got ${t.dtype}`);
      const data = dtype === "float32" ? f : dtype === "bfloat16" ? toBf16(f) : toF16(f);
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  });
  return offset;
}

function writeJson(path: string, value: unknown): void {
  const bytes = Buffer.from(JSON.stringify(value, null, 2) + "\n", "utf8");
  atomicWrite(path, (fd) => writeAll(fd, bytes));
}

/**
 * Saves a model in Hugging Face's format: config.json (LlamaForCausalLM) and the weights under their HF names
 * (a tied lm_head is not stored, as transformers does). Every file is written to a temporary name, fsynced and renamed
 * into place; weights go first, then the index, then config.json; weight files of an earlier save that the new
 * layout does not use (a single file vs shards) are removed last. Parameters on a device are copied to the host one
 * tensor at a time.
 */
export function saveCheckpoint(model: LlamaModel, dir: string, opts: SaveOptions = {}): SavedCheckpoint {
  const dtype = opts.dtype ?? "float32";
  if (!(dtype in ST_NAME)) throw new Error(`saveCheckpoint: dtype must be "float32", "bfloat16" or "float16", got ${JSON.stringify(dtype)}`);
  const maxShard = opts.maxShardBytes ?? Infinity;
  if (!(maxShard > 0)) throw new Error(`saveCheckpoint: maxShardBytes must be positive, got ${maxShard}`);
  const metadata: Record<string, string> = { ...(opts.metadata ?? {}), format: "pt" };
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new Error(`saveCheckpoint: metadata '${k}' must be a string`);
  mkdirSync(dir, { recursive: true });

  const items = [...model.parameters().entries()];
  const shards: Array<Array<[string, Tensor]>> = [[]];
  let cur = 0;
  for (const it of items) {
    const n = it[1].size * ELEM_BYTES[dtype];
    const last = shards[shards.length - 1]!;
    if (last.length > 0 && cur + n > maxShard) {
      shards.push([it]);
      cur = n;
    } else {
      last.push(it);
      cur += n;
    }
  }
  const files: string[] = [];
  let total = 0;
  if (shards.length === 1) {
    total += writeSafetensorsFile(join(dir, SINGLE_FILE), shards[0]!, dtype, metadata);
    files.push(SINGLE_FILE);
  } else {
    const N = shards.length;
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      const name = `model-${String(i + 1).padStart(5, "0")}-of-${String(N).padStart(5, "0")}.safetensors`;
      total += writeSafetensorsFile(join(dir, name), s, dtype, metadata);
      files.push(name);
      for (const [n] of s) weightMap[n] = name;
    });
    writeJson(join(dir, INDEX_FILE), { metadata: { total_size: total }, weight_map: weightMap });
  }
  writeJson(join(dir, CONFIG_FILE), toHfConfig(model.config, { torchDtype: dtype }));
  // Remove weight files of an earlier save that this layout does not use.
  const keep = new Set(files);
  for (const f of readdirSync(dir)) {
    const stale = (f === SINGLE_FILE || SHARD_RE.test(f) || (f === INDEX_FILE && shards.length === 1)) && !keep.has(f);
    if (stale) unlinkSync(join(dir, f));
  }
  return { files, totalBytes: total };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface LoadCheckpointOptions {
  /** Use this config instead of the directory's config.json. */
  config?: LlamaConfig;
  /**
   * Refuse tensors the model does not use (default true). Always tolerated: rotary_emb.inv_freq buffers of old
   * checkpoints, and lm_head.weight when the embeddings are tied (the embedding is used, as transformers does).
   */
  strict?: boolean;
  /** Device of the model (default "cpu"): each tensor is read on the host, converted, then copied there. */
  device?: DeviceLike;
}

/** The config of a checkpoint directory (config.json parsed and validated). */
export function loadConfig(dir: string): LlamaConfig {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) throw new Error(`loadCheckpoint: ${path} not found (a Hugging Face checkpoint directory needs config.json)`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`loadCheckpoint: ${path} is not valid JSON (${(e as Error).message})`);
  }
  try {
    return fromHfConfig(json);
  } catch (e) {
    throw new Error(`loadCheckpoint: ${path}: ${(e as Error).message}`);
  }
}

/** Which file holds each tensor: from model.safetensors.index.json's weight_map, or every tensor of model.safetensors. */
export function checkpointFiles(dir: string): { files: string[]; weightMap: Map<string, string> | null } {
  const index = join(dir, INDEX_FILE);
  if (existsSync(index)) {
    let json: { weight_map?: Record<string, string> };
    try {
      json = JSON.parse(readFileSync(index, "utf8")) as { weight_map?: Record<string, string> };
    } catch (e) {
      throw new Error(`loadCheckpoint: ${index} is not valid JSON (${(e as Error).message})`);
    }
    if (!json.weight_map || typeof json.weight_map !== "object") throw new Error(`loadCheckpoint: ${index} has no weight_map object`);
    const weightMap = new Map(Object.entries(json.weight_map));
    const files = [...new Set(weightMap.values())];
    for (const f of files) {
      if (typeof f !== "string" || f.includes("/") || f.includes("\\")) throw new Error(`loadCheckpoint: ${index} names an invalid file ${JSON.stringify(f)}`);
      if (!existsSync(join(dir, f))) throw new Error(`loadCheckpoint: ${join(dir, f)} (listed in ${index}) not found`);
    }
    return { files, weightMap };
  }
  if (existsSync(join(dir, SINGLE_FILE))) return { files: [SINGLE_FILE], weightMap: null };
  throw new Error(`loadCheckpoint: no weights in ${dir} (looked for ${SINGLE_FILE} and ${INDEX_FILE})`);
}

const IGNORED = /(^|\.)rotary_emb\.inv_freq$/;

function readExactly(fd: number, buf: Uint8Array, pos: number, path: string, what: () => string): void {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n === 0) throw new Error(`loadCheckpoint: ${path} is truncated: ${what()} needs ${buf.length} bytes at offset ${pos}, only ${got} could be read`);
    got += n;
  }
}

/** One tensor's bytes read straight into a typed array and converted to float32 (no other copy of the file). */
function readTensor(fd: number, path: string, dataStart: number, e: SafetensorsEntry, expected: number[]): Float32Array {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const what = () => `tensor '${e.name}' (${e.dtype} ${shapeStr(e.shape)}, expected float32-convertible ${shapeStr(expected)})`;
  if (e.dtype === "float32") {
    const out = new Float32Array(n);
    readExactly(fd, new Uint8Array(out.buffer), dataStart + e.begin, path, what);
    return out;
  }
  const half = new Uint16Array(n);
  readExactly(fd, new Uint8Array(half.buffer), dataStart + e.begin, path, what);
  return e.dtype === "bfloat16" ? fromBf16(half) : fromF16(half);
}

/**
 * Loads a Hugging Face checkpoint directory (config.json + model.safetensors, or shards + index) into a LlamaModel.
 * All headers are checked before any data is read: a missing tensor, a wrong shape, an unsupported dtype or a
 * truncated file raises an error naming the tensor, the file and what was expected. Tensors are then streamed one
 * at a time (bfloat16 / float16 converted to float32), so the host never holds more than one tensor's bytes besides
 * the model. With `device`, each tensor is copied to that device as it is read.
 */
export function loadCheckpoint(dir: string, opts: LoadCheckpointOptions = {}): LlamaModel {
  const config = opts.config ?? loadConfig(dir);
  const strict = opts.strict ?? true;
  const expected = new Map(parameterShapes(config));
  const { files, weightMap } = checkpointFiles(dir);

  // Plan: (file, entry) for every expected tensor, validated up front.
  const plan = new Map<string, { entries: Array<{ e: SafetensorsEntry; shape: number[] }>; dataStart: number }>();
  const found = new Map<string, string>();
  const unexpected: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    let header;
    try {
      header = readSafetensorsHeader(path);
    } catch (e) {
      throw new Error(`loadCheckpoint: ${(e as Error).message}`);
    }
    const entries: Array<{ e: SafetensorsEntry; shape: number[] }> = [];
    for (const e of header.entries) {
      const shape = expected.get(e.name);
      if (!shape) {
        if (IGNORED.test(e.name) || (e.name === "lm_head.weight" && config.tieWordEmbeddings)) continue;
        unexpected.push(`'${e.name}' in ${path}`);
        continue;
      }
      if (weightMap && weightMap.get(e.name) !== f) continue; // the index points elsewhere
      if (found.has(e.name)) throw new Error(`loadCheckpoint: tensor '${e.name}' appears in both ${found.get(e.name)} and ${path}`);
      if (e.dtype === "int32") throw new Error(`loadCheckpoint: tensor '${e.name}' in ${path} is int32, expected a float tensor (F32, BF16 or F16) of shape ${shapeStr(shape)}`);
      if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i]))
        throw new Error(`loadCheckpoint: tensor '${e.name}' in ${path} has shape ${shapeStr(e.shape)}, expected ${shapeStr(shape)} for this config`);
      found.set(e.name, path);
      entries.push({ e, shape });
    }
    plan.set(path, { entries, dataStart: header.dataStart });
  }
  for (const [name, shape] of expected) {
    if (found.has(name)) continue;
    const where = weightMap
      ? weightMap.has(name)
        ? `${join(dir, weightMap.get(name)!)} (named by ${join(dir, INDEX_FILE)}) does not contain it`
        : `${join(dir, INDEX_FILE)} has no weight_map entry for it`
      : `${join(dir, SINGLE_FILE)} does not contain it`;
    throw new Error(`loadCheckpoint: missing tensor '${name}' (expected float32 ${shapeStr(shape)}): ${where}`);
  }
  if (strict && unexpected.length > 0)
    throw new Error(`loadCheckpoint: unexpected tensors for this config: ${unexpected.slice(0, 8).join(", ")}${unexpected.length > 8 ? `, ... (${unexpected.length} in all)` : ""} (pass strict: false to ignore them)`);

  // Stream the data.
  const params = new Map<string, Tensor>();
  try {
    for (const [path, { entries, dataStart }] of plan) {
      if (entries.length === 0) continue;
      const fd = openSync(path, "r");
      try {
        for (const { e, shape } of entries) {
          const data = readTensor(fd, path, dataStart, e, shape);
          params.set(e.name, tensor(data, { shape, ...(opts.device !== undefined ? { device: opts.device } : {}) }).keep());
        }
      } finally {
        closeSync(fd);
      }
    }
    // Checkpoint order, whatever the file order.
    const ordered = new Map<string, Tensor>();
    for (const name of expected.keys()) ordered.set(name, params.get(name)!);
    return new LlamaModel(config, ordered);
  } catch (err) {
    for (const t of params.values()) t.dispose();
    throw err;
  }
}
