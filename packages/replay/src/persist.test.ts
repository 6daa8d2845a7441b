// Tests for saveMemory / loadMemory: exact round trips, the header layout, atomic writes, corruption detection.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FORMAT_VERSION, HEADER_BYTES, MAGIC } from "./layout.js";
import { ReplayMemory } from "./memory.js";
import { loadMemory, MEMORY_FILE_NAME, memoryFilePath, saveMemory } from "./persist.js";
import { expectSameMemory, memoryArb, smallMemory } from "./testing.js";

const root = mkdtempSync(join(tmpdir(), "seekr-replay-persist-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = (): string => {
  const dir = join(root, `case-${counter++}`);
  return dir;
};

describe("round trips", () => {
  it("loads back exactly what was saved (random memories, shapes, dtypes, top-k and full logits)", () => {
    const dir = freshDir();
    fc.assert(
      fc.property(memoryArb, (memory) => {
        const file = join(dir, "m.seekr");
        const result = saveMemory(file, memory);
        expect(result).toEqual({ path: file, bytes: statSync(file).size });
        expect(result.bytes).toBe(memory.sizeOnDisk());
        const loaded = loadMemory(file);
        expectSameMemory(loaded, memory);
        expect(loaded.sampleCount).toBe(memory.sampleCount);
        expect(loaded.sizeInMemory()).toEqual(memory.sizeInMemory());
      }),
      { numRuns: 150 },
    );
    expect(readdirSync(dir)).toEqual(["m.seekr"]); // no temporary files left behind
  });

  it("loads arrays into their own buffers, so they can be modified independently", () => {
    const file = join(freshDir(), "m.seekr");
    saveMemory(file, smallMemory());
    const a = loadMemory(file);
    const b = loadMemory(file);
    const la = a.task(0)?.samples[0]?.logits;
    const lb = b.task(0)?.samples[0]?.logits;
    if (la?.kind !== "full" || lb?.kind !== "full") throw new Error("expected full logits");
    expect(la.logits.buffer).not.toBe(lb.logits.buffer);
    expect(la.logits.byteOffset).toBe(0);
    expect(la.logits.buffer.byteLength).toBe(la.logits.byteLength);
  });

  it("accepts a directory and writes replay-memory.seekr inside it, creating missing parents", () => {
    const dir = join(freshDir(), "nested", "run");
    const result = saveMemory(`${dir}/`, smallMemory());
    expect(result.path).toBe(join(dir, MEMORY_FILE_NAME));
    expect(memoryFilePath(dir)).toBe(join(dir, MEMORY_FILE_NAME)); // now an existing directory
    expectSameMemory(loadMemory(dir), smallMemory());
    expect(readdirSync(dir)).toEqual([MEMORY_FILE_NAME]);
  });

  it("round-trips an empty memory", () => {
    const file = join(freshDir(), "empty.seekr");
    saveMemory(file, new ReplayMemory());
    const loaded = loadMemory(file);
    expect(loaded.taskCount).toBe(0);
    expect(loaded.meta).toBeUndefined();
  });

  it("writes the documented header", () => {
    const file = join(freshDir(), "m.seekr");
    const memory = smallMemory();
    saveMemory(file, memory);
    const buf = readFileSync(file);
    expect(buf.subarray(0, 8).toString("latin1")).toBe(MAGIC);
    expect(MAGIC).toBe("SEEKRMEM");
    expect(buf.readUInt32LE(8)).toBe(FORMAT_VERSION);
    expect(buf.readUInt32LE(12)).toBe(HEADER_BYTES);
    const manifestBytes = Number(buf.readBigUInt64LE(16));
    const payloadBytes = Number(buf.readBigUInt64LE(24));
    expect(HEADER_BYTES + manifestBytes + payloadBytes).toBe(buf.length);
    expect((HEADER_BYTES + manifestBytes) % 8).toBe(0);
    const manifest = JSON.parse(buf.subarray(HEADER_BYTES, HEADER_BYTES + manifestBytes).toString("utf8"));
    expect(manifest.format).toBe("seekr-replay-memory");
    expect(manifest.tasks.map((t: { id: string }) => t.id)).toEqual(["C-STANCE", "FOMC"]);
    expect(manifest.tasks[0].samples[0].logits.logits).toEqual({ dtype: "f32", offset: 0, length: 48 });
    expect(manifest.tasks[0].samples[0].attention.queryRows).toEqual({ dtype: "i32", offset: 192, length: 2 });
    // the first array's bytes sit at the payload start
    const first = new Float32Array(buf.buffer.slice(buf.byteOffset + HEADER_BYTES + manifestBytes, buf.byteOffset + HEADER_BYTES + manifestBytes + 192));
    const logits = memory.task(0)?.samples[0]?.logits;
    if (logits?.kind !== "full") throw new Error("expected full logits");
    expect(Array.from(first)).toEqual(Array.from(logits.logits));
  });
});

describe("atomic writes", () => {
  it("replaces an existing file and leaves no temporary files", () => {
    const dir = freshDir();
    const file = join(dir, "m.seekr");
    saveMemory(file, new ReplayMemory());
    saveMemory(file, smallMemory());
    expect(readdirSync(dir)).toEqual(["m.seekr"]);
    expect(loadMemory(file).taskCount).toBe(2);
  });

  it("keeps the previous file intact when serialising a record throws", () => {
    const dir = freshDir();
    const file = join(dir, "m.seekr");
    saveMemory(file, smallMemory());
    const before = readFileSync(file);
    const memory = smallMemory();
    const record = memory.task(1)?.samples[1]?.record as Record<string, unknown>;
    Object.defineProperty(record, "answer", {
      enumerable: true,
      get() {
        throw new Error("record exploded");
      },
    });
    expect(() => saveMemory(file, memory)).toThrow("record exploded");
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["m.seekr"]);
    expectSameMemory(loadMemory(file), smallMemory());
  });

  it("rejects records that stopped being JSON after they were added, before touching the disk", () => {
    const dir = freshDir();
    const memory = smallMemory();
    (memory.task(0)?.samples[0]?.record as Record<string, unknown>).extra = Number.NaN;
    expect(() => saveMemory(join(dir, "m.seekr"), memory)).toThrow("tasks[0].samples[0].record.extra: NaN does not survive JSON");
    expect(() => readdirSync(dir)).toThrow(); // not even the directory was created
  });
});

describe("corruption detection", () => {
  const dir = freshDir();
  const good = join(dir, "good.seekr");
  const bad = join(dir, "bad.seekr");
  saveMemory(good, smallMemory());
  const original = readFileSync(good);
  const manifestBytes = Number(original.readBigUInt64LE(16));
  const payloadStart = HEADER_BYTES + manifestBytes;

  it("names the file and what is missing when the file is truncated anywhere", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: original.length - 1 }), (length) => {
        writeFileSync(bad, original.subarray(0, length));
        expect(() => loadMemory(bad)).toThrow(new RegExp(`replay memory ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: file is truncated: ${length} `));
      }),
      { numRuns: 200 },
    );
    writeFileSync(bad, original.subarray(0, 50));
    expect(() => loadMemory(bad)).toThrow(/file is truncated: 50 bytes, the 96-byte header is incomplete \(46 bytes missing\)/);
    writeFileSync(bad, original.subarray(0, payloadStart + 10));
    expect(() => loadMemory(bad)).toThrow(
      `file is truncated: ${payloadStart + 10} of ${original.length} bytes (${original.length - payloadStart - 10} bytes missing): the payload (bytes ${payloadStart}..${original.length}) ends at byte ${payloadStart + 10}`,
    );
    writeFileSync(bad, original.subarray(0, HEADER_BYTES + 5));
    expect(() => loadMemory(bad)).toThrow(/the manifest \(bytes 96\.\.\d+\) ends at byte 101 and the payload \(\d+ bytes\) is missing/);
  });

  it("reports a checksum mismatch when a payload byte flips", () => {
    fc.assert(
      fc.property(fc.integer({ min: payloadStart, max: original.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const copy = Buffer.from(original);
        copy[at] = (copy[at] as number) ^ mask;
        writeFileSync(bad, copy);
        expect(() => loadMemory(bad)).toThrow(/payload checksum mismatch \(SHA-256 [0-9a-f]{64}, header says [0-9a-f]{64}\): the file is corrupt/);
      }),
      { numRuns: 100 },
    );
  });

  it("reports a manifest checksum mismatch when a manifest byte flips", () => {
    const copy = Buffer.from(original);
    copy[HEADER_BYTES + 3] = (copy[HEADER_BYTES + 3] as number) ^ 1;
    writeFileSync(bad, copy);
    expect(() => loadMemory(bad)).toThrow(/manifest checksum mismatch/);
  });

  it("detects a flip of any byte of the file", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: original.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const copy = Buffer.from(original);
        copy[at] = (copy[at] as number) ^ mask;
        writeFileSync(bad, copy);
        expect(() => loadMemory(bad)).toThrow(bad);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects a wrong magic string", () => {
    const copy = Buffer.from(original);
    copy.write("NOTSEEKR", 0, "latin1");
    writeFileSync(bad, copy);
    expect(() => loadMemory(bad)).toThrow(`replay memory ${bad}: not a replay memory file (magic "NOTSEEKR", expected "SEEKRMEM")`);
    writeFileSync(bad, "{}");
    expect(() => loadMemory(bad)).toThrow(/not a replay memory file \(magic "\{\}", expected "SEEKRMEM"\)/);
  });

  it("rejects newer and unknown versions, naming both versions", () => {
    const copy = Buffer.from(original);
    copy.writeUInt32LE(2, 8);
    writeFileSync(bad, copy);
    expect(() => loadMemory(bad)).toThrow(`replay memory ${bad}: format version 2 is not supported (a newer format); this reader supports version 1`);
    copy.writeUInt32LE(0, 8);
    writeFileSync(bad, copy);
    expect(() => loadMemory(bad)).toThrow("format version 0 is not supported (an unknown format); this reader supports version 1");
    writeFileSync(bad, copy.subarray(0, 12)); // the version is checked before the size
    expect(() => loadMemory(bad)).toThrow(/format version 0 is not supported/);
  });

  it("rejects trailing bytes and corrupt header fields", () => {
    writeFileSync(bad, Buffer.concat([original, Buffer.alloc(8)]));
    expect(() => loadMemory(bad)).toThrow(`8 unexpected bytes after the payload (file ${original.length + 8} bytes, header says ${original.length})`);
    const copy = Buffer.from(original);
    copy.writeUInt32LE(64, 12);
    writeFileSync(bad, copy);
    expect(() => loadMemory(bad)).toThrow("corrupt header: header length 64, expected 96");
    const huge = Buffer.from(original);
    huge.writeBigUInt64LE(2n ** 60n, 24);
    writeFileSync(bad, huge);
    expect(() => loadMemory(bad)).toThrow(/corrupt header: manifest length \d+, payload length 1152921504606846976/);
  });

  it("fails clearly for a missing file", () => {
    expect(() => loadMemory(join(dir, "missing.seekr"))).toThrow(/ENOENT.*missing\.seekr/);
  });
});
