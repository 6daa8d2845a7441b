// The file layout: header fields, manifest (JSON) construction and payload placement of typed arrays.

import { checkJson, type JsonValue } from "./json.js";
import type { ReplayMemory } from "./memory.js";

/** The 8 bytes every memory file starts with. */
export const MAGIC = "SEEKRMEM";
/** The format version this library writes and reads. */
export const FORMAT_VERSION = 1;
/** Size of the fixed header in bytes. */
export const HEADER_BYTES = 96;
/** Alignment (bytes) of the manifest end and of every array in the payload. */
export const ALIGN = 8;

/** Element type of a stored array. */
export type ArrayDType = "f32" | "i32" | "u16";

/** Where a typed array lies: byte offset from the payload start, element count and type. */
export interface ArrayRef {
  dtype: ArrayDType;
  offset: number;
  length: number;
}

export const BYTES_PER: Record<ArrayDType, number> = { f32: 4, i32: 4, u16: 2 };

export function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/** The manifest's JSON shape (written by {@link planLayout}, read back by loadMemory). */
export interface Manifest {
  format: "seekr-replay-memory";
  meta?: JsonValue;
  tasks: Array<{
    id: string;
    name: string;
    meta?: JsonValue;
    samples: Array<{
      record: JsonValue;
      index?: number;
      logits?:
        | { kind: "full"; positions: number; vocab: number; logits: ArrayRef }
        | { kind: "topk"; positions: number; vocab: number; k: number; indices: ArrayRef; values: ArrayRef; logsumexp: ArrayRef };
      attention?: { dtype: "f32" | "f16" | "bf16"; keyLength: number; heads: Array<[number, number]>; queryRows: ArrayRef; rows: ArrayRef };
    }>;
  }>;
}

export interface Layout {
  /** UTF-8 JSON manifest, space-padded so that header + manifest is a multiple of {@link ALIGN}. */
  manifest: Uint8Array;
  /** Payload arrays in file order with their byte offsets from the payload start. */
  arrays: Array<{ offset: number; data: Float32Array | Int32Array | Uint16Array }>;
  payloadBytes: number;
  fileBytes: number;
}

const DTYPE_OF = (a: Float32Array | Int32Array | Uint16Array): ArrayDType =>
  a instanceof Float32Array ? "f32" : a instanceof Int32Array ? "i32" : "u16";

/**
 * Builds the manifest and places every typed array of `memory` in the payload, each at an offset
 * that is a multiple of {@link ALIGN} (zero padding in between). Re-checks that records and
 * metadata are plain JSON (they are opaque to the memory and may have been changed since addTask).
 */
export function planLayout(memory: ReplayMemory<unknown>): Layout {
  const arrays: Layout["arrays"] = [];
  let cursor = 0;
  const place = (data: Float32Array | Int32Array | Uint16Array): ArrayRef => {
    const ref: ArrayRef = { dtype: DTYPE_OF(data), offset: cursor, length: data.length };
    arrays.push({ offset: cursor, data });
    cursor = align(cursor + data.byteLength);
    return ref;
  };
  if (memory.meta !== undefined) checkJson(memory.meta, "meta");
  const manifest: Manifest = { format: "seekr-replay-memory", tasks: [] };
  if (memory.meta !== undefined) manifest.meta = memory.meta;
  for (const info of memory.tasks()) {
    const task = memory.task(info.position);
    if (task === undefined) continue;
    const out: Manifest["tasks"][number] = { id: task.id, name: task.name, samples: [] };
    if (task.meta !== undefined) {
      checkJson(task.meta, `tasks[${task.position}].meta`);
      out.meta = task.meta;
    }
    task.samples.forEach((sample, i) => {
      checkJson(sample.record, `tasks[${task.position}].samples[${i}].record`);
      const s: Manifest["tasks"][number]["samples"][number] = { record: sample.record as JsonValue };
      if (sample.index !== undefined) s.index = sample.index;
      const lg = sample.logits;
      if (lg !== undefined) {
        s.logits =
          lg.kind === "full"
            ? { kind: "full", positions: lg.positions, vocab: lg.vocab, logits: place(lg.logits) }
            : {
                kind: "topk",
                positions: lg.positions,
                vocab: lg.vocab,
                k: lg.k,
                indices: place(lg.indices),
                values: place(lg.values),
                logsumexp: place(lg.logsumexp),
              };
      }
      const at = sample.attention;
      if (at !== undefined) {
        s.attention = {
          dtype: at.dtype,
          keyLength: at.keyLength,
          heads: at.heads.map(([l, h]) => [l, h]),
          queryRows: place(at.queryRows),
          rows: place(at.rows),
        };
      }
      out.samples.push(s);
    });
    manifest.tasks.push(out);
  }
  const json = Buffer.from(JSON.stringify(manifest), "utf8");
  const padded = new Uint8Array(align(HEADER_BYTES + json.length) - HEADER_BYTES).fill(0x20);
  padded.set(json);
  return { manifest: padded, arrays, payloadBytes: cursor, fileBytes: HEADER_BYTES + padded.length + cursor };
}

/** Exact size in bytes of the file that saveMemory writes for `memory`. */
export function encodedFileSize(memory: ReplayMemory<unknown>): number {
  return planLayout(memory).fileBytes;
}
