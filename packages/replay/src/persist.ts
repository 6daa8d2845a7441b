// saveMemory / loadMemory: one binary file (header, JSON manifest, typed-array payload), checksummed, atomic.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { formatValue } from "./format.js";
import type { JsonValue } from "./json.js";
import {
  ALIGN,
  type ArrayDType,
  type ArrayRef,
  BYTES_PER,
  FORMAT_VERSION,
  HEADER_BYTES,
  MAGIC,
  type Manifest,
  planLayout,
} from "./layout.js";
import { ReplayMemory, type ReplaySample, type TaskMemoryInit } from "./memory.js";
import type { AttentionSignal, LogitSignal } from "./signals.js";

/** File name used when saveMemory / loadMemory are given a directory. */
export const MEMORY_FILE_NAME = "replay-memory.seekr";

const MAGIC_BYTES = Buffer.from(MAGIC, "latin1");
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const CHUNK = 1 << 20;

function checkPlatform(): void {
  if (!LITTLE_ENDIAN) throw new Error("replay memory files are little-endian; big-endian platforms are not supported");
}

/**
 * The file a path names: `path` itself, or `path/replay-memory.seekr` when `path` is an existing
 * directory or ends with a path separator.
 */
export function memoryFilePath(path: string): string {
  if (typeof path !== "string" || path.length === 0) throw new Error(`path: expected a non-empty string, got ${formatValue(path)}`);
  if (/[\\/]$/.test(path)) return resolve(path, MEMORY_FILE_NAME);
  try {
    if (fs.statSync(path).isDirectory()) return resolve(path, MEMORY_FILE_NAME);
  } catch {
    // does not exist yet: a file path
  }
  return resolve(path);
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeAll(fd: number, data: Uint8Array, position: number | null): void {
  let done = 0;
  while (done < data.length) {
    done += fs.writeSync(fd, data, done, data.length - done, position === null ? null : position + done);
  }
}

/** Result of {@link saveMemory}. */
export interface SaveResult {
  /** Absolute path of the file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
}

/**
 * Writes `memory` to one file, atomically: the bytes go to a temporary file in the same directory
 * (`.<name>.<pid>.<random>.tmp`), which is fsynced, closed and renamed over the target; then the
 * directory is fsynced. An error or a crash mid-write never leaves a partial target: the previous
 * file (if any) stays intact. On an error the temporary file is removed (a crash may leave it behind;
 * it is never read). `path` is a file, or a directory (see {@link memoryFilePath}); missing parent
 * directories are created.
 */
export function saveMemory(path: string, memory: ReplayMemory<unknown>): SaveResult {
  checkPlatform();
  if (!(memory instanceof ReplayMemory)) throw new Error(`memory: expected a ReplayMemory, got ${formatValue(memory)}`);
  const file = memoryFilePath(path);
  const layout = planLayout(memory); // validates records before anything touches the disk
  const dir = dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = fs.openSync(temp, "wx", 0o644);
  let closed = false;
  try {
    writeAll(fd, new Uint8Array(HEADER_BYTES), 0); // placeholder, rewritten once the digests are known
    writeAll(fd, layout.manifest, HEADER_BYTES);
    const payloadStart = HEADER_BYTES + layout.manifest.length;
    const hash = createHash("sha256");
    let cursor = 0;
    const pad = new Uint8Array(ALIGN);
    for (const { offset, data } of layout.arrays) {
      if (offset > cursor) {
        const gap = pad.subarray(0, offset - cursor);
        hash.update(gap);
        writeAll(fd, gap, payloadStart + cursor);
      }
      const bytes = bytesOf(data);
      hash.update(bytes);
      writeAll(fd, bytes, payloadStart + offset);
      cursor = offset + bytes.length;
    }
    if (layout.payloadBytes > cursor) {
      const gap = pad.subarray(0, layout.payloadBytes - cursor);
      hash.update(gap);
      writeAll(fd, gap, payloadStart + cursor);
    }
    const header = encodeHeader(layout.manifest, layout.payloadBytes, hash.digest());
    writeAll(fd, header, 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    fs.renameSync(temp, file);
  } catch (error) {
    if (!closed) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing
      }
    }
    try {
      fs.unlinkSync(temp);
    } catch {
      // best effort: a leftover temp file is never read
    }
    throw error;
  }
  syncDirectory(dir);
  return { path: file, bytes: layout.fileBytes };
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // not supported on every platform (e.g. Windows); the rename itself is atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function encodeHeader(manifest: Uint8Array, payloadBytes: number, payloadDigest: Uint8Array): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  header.set(MAGIC_BYTES, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, HEADER_BYTES, true);
  view.setBigUint64(16, BigInt(manifest.length), true);
  view.setBigUint64(24, BigInt(payloadBytes), true);
  header.set(createHash("sha256").update(manifest).digest(), 32);
  header.set(payloadDigest, 64);
  return header;
}

function readAll(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/**
 * Reads a memory written by {@link saveMemory}. Checks, in order, and throws an Error naming the file:
 * the magic string, the format version (an unknown one names it and the supported one), the header,
 * the file size against the header (a truncated file names what is missing), the manifest's SHA-256,
 * the manifest's structure and shapes, and the payload's SHA-256. Typed arrays come back
 * bit-identical (each in its own buffer), records deep-equal.
 */
export function loadMemory<T = unknown>(path: string): ReplayMemory<T> {
  checkPlatform();
  const file = memoryFilePath(path);
  const fd = fs.openSync(file, "r");
  try {
    return readMemory<T>(fd, file);
  } finally {
    fs.closeSync(fd);
  }
}

function readMemory<T>(fd: number, file: string): ReplayMemory<T> {
  const where = `replay memory ${file}`;
  const size = fs.fstatSync(fd).size;
  const head = new Uint8Array(Math.min(size, HEADER_BYTES));
  readAll(fd, head, 0);
  const magicPart = head.subarray(0, Math.min(head.length, MAGIC_BYTES.length));
  if (!Buffer.from(magicPart).equals(MAGIC_BYTES.subarray(0, magicPart.length))) {
    throw new Error(`${where}: not a replay memory file (magic ${JSON.stringify(Buffer.from(magicPart).toString("latin1"))}, expected ${JSON.stringify(MAGIC)})`);
  }
  if (size < 12) {
    throw new Error(`${where}: file is truncated: ${size} bytes, the ${HEADER_BYTES}-byte header is incomplete (the format version is missing)`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    const why = version > FORMAT_VERSION ? "a newer format" : "an unknown format";
    throw new Error(`${where}: format version ${version} is not supported (${why}); this reader supports version ${FORMAT_VERSION}`);
  }
  if (size < HEADER_BYTES) {
    throw new Error(`${where}: file is truncated: ${size} bytes, the ${HEADER_BYTES}-byte header is incomplete (${HEADER_BYTES - size} bytes missing)`);
  }
  const headerBytes = view.getUint32(12, true);
  if (headerBytes !== HEADER_BYTES) throw new Error(`${where}: corrupt header: header length ${headerBytes}, expected ${HEADER_BYTES}`);
  const manifestBig = view.getBigUint64(16, true);
  const payloadBig = view.getBigUint64(24, true);
  const expectedBig = BigInt(HEADER_BYTES) + manifestBig + payloadBig;
  if (expectedBig > BigInt(Number.MAX_SAFE_INTEGER) || manifestBig % BigInt(ALIGN) !== 0n || payloadBig % BigInt(ALIGN) !== 0n) {
    throw new Error(`${where}: corrupt header: manifest length ${manifestBig}, payload length ${payloadBig}`);
  }
  const manifestBytes = Number(manifestBig);
  const payloadBytes = Number(payloadBig);
  const payloadStart = HEADER_BYTES + manifestBytes;
  const expected = payloadStart + payloadBytes;
  if (size < expected) {
    const part =
      size < payloadStart
        ? `the manifest (bytes ${HEADER_BYTES}..${payloadStart}) ends at byte ${size} and the payload (${payloadBytes} bytes) is missing`
        : `the payload (bytes ${payloadStart}..${expected}) ends at byte ${size}`;
    throw new Error(`${where}: file is truncated: ${size} of ${expected} bytes (${expected - size} bytes missing): ${part}`);
  }
  if (size > expected) throw new Error(`${where}: ${size - expected} unexpected bytes after the payload (file ${size} bytes, header says ${expected})`);

  const manifestRaw = new Uint8Array(manifestBytes);
  readAll(fd, manifestRaw, HEADER_BYTES);
  const manifestDigest = createHash("sha256").update(manifestRaw).digest();
  if (!manifestDigest.equals(head.subarray(32, 64))) {
    throw new Error(`${where}: manifest checksum mismatch (SHA-256 ${hex(manifestDigest)}, header says ${hex(head.subarray(32, 64))}): the file is corrupt`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(Buffer.from(manifestRaw).toString("utf8")) as Manifest;
  } catch (error) {
    throw new Error(`${where}: manifest is not valid JSON (${(error as Error).message})`);
  }

  const reader = new PayloadReader(fd, payloadStart, payloadBytes, where);
  const invalid = (error: unknown): Error =>
    error instanceof PayloadError ? error : new Error(`${where}: invalid manifest: ${(error as Error).message}`);
  let parsed: ParsedManifest<T>;
  try {
    parsed = parseManifest<T>(manifest, reader);
  } catch (error) {
    throw invalid(error);
  }
  reader.finish(head.subarray(64, 96)); // fills the arrays, then checks the payload digest
  try {
    const memory = new ReplayMemory<T>(parsed.meta === undefined ? {} : { meta: parsed.meta });
    parsed.tasks.forEach((task, t) => {
      try {
        memory.addTask(task);
      } catch (error) {
        throw new Error(`tasks[${t}].${(error as Error).message}`);
      }
    });
    return memory;
  } catch (error) {
    throw invalid(error);
  }
}

interface ParsedManifest<T> {
  meta: JsonValue | undefined;
  tasks: Array<TaskMemoryInit<T>>;
}

class PayloadError extends Error {}

/** Reads the arrays of the payload in increasing offset order, hashing every payload byte once. */
class PayloadReader {
  private readonly hash = createHash("sha256");
  private cursor = 0;
  private readonly refs: Array<{ ref: ArrayRef; field: string; target: Float32Array | Int32Array | Uint16Array }> = [];

  constructor(
    private readonly fd: number,
    private readonly start: number,
    private readonly length: number,
    private readonly where: string,
  ) {}

  /** Allocates the array a manifest entry refers to (filled by {@link finish}). */
  array(ref: unknown, dtype: "f32", field: string): Float32Array;
  array(ref: unknown, dtype: "i32", field: string): Int32Array;
  array(ref: unknown, dtype: "u16", field: string): Uint16Array;
  array(ref: unknown, dtype: ArrayDType, field: string): Float32Array | Int32Array | Uint16Array {
    const r = ref as Partial<ArrayRef> | null;
    if (typeof r !== "object" || r === null || r.dtype !== dtype || !Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length)) {
      throw new Error(`${field}: expected an array reference {dtype: "${dtype}", offset, length}, got ${formatValue(ref)}`);
    }
    const offset = r.offset as number;
    const length = r.length as number;
    const bytes = length * BYTES_PER[dtype];
    if (offset < 0 || length < 0 || offset % ALIGN !== 0 || offset + bytes > this.length) {
      throw new Error(`${field}: array (offset ${offset}, ${length} × ${dtype}) lies outside the ${this.length}-byte payload or is misaligned`);
    }
    const target = dtype === "f32" ? new Float32Array(length) : dtype === "i32" ? new Int32Array(length) : new Uint16Array(length);
    this.refs.push({ ref: { dtype, offset, length }, field, target });
    return target;
  }

  /** Reads every referenced array and the gaps, then checks the payload digest. */
  finish(expectedDigest: Uint8Array): void {
    const sorted = [...this.refs].sort((a, b) => a.ref.offset - b.ref.offset);
    for (const { ref, field, target } of sorted) {
      if (ref.offset < this.cursor) throw new PayloadError(`${this.where}: invalid manifest: ${field} overlaps another array`);
      this.skipTo(ref.offset);
      const bytes = bytesOf(target);
      this.read(bytes);
    }
    this.skipTo(this.length);
    const digest = this.hash.digest();
    if (!digest.equals(expectedDigest)) {
      throw new PayloadError(`${this.where}: payload checksum mismatch (SHA-256 ${hex(digest)}, header says ${hex(expectedDigest)}): the file is corrupt`);
    }
  }

  private skipTo(offset: number): void {
    const scratch = new Uint8Array(Math.min(CHUNK, Math.max(0, offset - this.cursor)));
    while (this.cursor < offset) {
      this.read(scratch.subarray(0, Math.min(scratch.length, offset - this.cursor)));
    }
  }

  private read(into: Uint8Array): void {
    const n = readAll(this.fd, into, this.start + this.cursor);
    if (n !== into.length) throw new PayloadError(`${this.where}: file is truncated while reading the payload at byte ${this.start + this.cursor + n}`);
    this.hash.update(into);
    this.cursor += into.length;
  }
}

function obj(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${field}: expected an object, got ${formatValue(value)}`);
  return value as Record<string, unknown>;
}

function parseManifest<T>(manifest: Manifest, reader: PayloadReader): ParsedManifest<T> {
  const m = obj(manifest, "manifest");
  if (m.format !== "seekr-replay-memory") throw new Error(`format: expected "seekr-replay-memory", got ${formatValue(m.format)}`);
  if (!Array.isArray(m.tasks)) throw new Error(`tasks: expected an array, got ${formatValue(m.tasks)}`);
  const tasks = (m.tasks as unknown[]).map((taskValue, t): TaskMemoryInit<T> => {
    const task = obj(taskValue, `tasks[${t}]`);
    if (!Array.isArray(task.samples)) throw new Error(`tasks[${t}].samples: expected an array, got ${formatValue(task.samples)}`);
    const samples = (task.samples as unknown[]).map((sampleValue, i): ReplaySample<T> => {
      const field = `tasks[${t}].samples[${i}]`;
      const s = obj(sampleValue, field);
      const out: { record: T; index?: number; logits?: LogitSignal; attention?: AttentionSignal } = { record: s.record as T };
      if (s.index !== undefined) out.index = s.index as number;
      if (s.logits !== undefined) {
        const l = obj(s.logits, `${field}.logits`);
        const shape = { positions: l.positions as number, vocab: l.vocab as number };
        out.logits =
          l.kind === "full"
            ? { kind: "full", ...shape, logits: reader.array(l.logits, "f32", `${field}.logits.logits`) }
            : {
                kind: l.kind as "topk",
                ...shape,
                k: l.k as number,
                indices: reader.array(l.indices, "i32", `${field}.logits.indices`),
                values: reader.array(l.values, "f32", `${field}.logits.values`),
                logsumexp: reader.array(l.logsumexp, "f32", `${field}.logits.logsumexp`),
              };
      }
      if (s.attention !== undefined) {
        const a = obj(s.attention, `${field}.attention`);
        const base = {
          keyLength: a.keyLength as number,
          heads: a.heads as Array<[number, number]>,
          queryRows: reader.array(a.queryRows, "i32", `${field}.attention.queryRows`),
        };
        out.attention =
          a.dtype === "f32"
            ? { ...base, dtype: "f32", rows: reader.array(a.rows, "f32", `${field}.attention.rows`) }
            : { ...base, dtype: a.dtype as "f16" | "bf16", rows: reader.array(a.rows, "u16", `${field}.attention.rows`) };
      }
      return out;
    });
    const init: TaskMemoryInit<T> = { id: task.id as string, samples };
    if (task.name !== undefined) init.name = task.name as string;
    if (task.meta !== undefined) init.meta = task.meta as JsonValue;
    return init;
  });
  return { meta: m.meta as JsonValue | undefined, tasks };
}
