// Atomic-write tests with a mocked node:fs: failures and crashes at every write never corrupt the target.

import * as realFs from "node:fs"; // the mocked module: only writeSync, fsyncSync, renameSync, unlinkSync differ
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { loadMemory, saveMemory } from "./persist.js";
import { expectSameMemory, smallMemory } from "./testing.js";

const control = vi.hoisted(() => ({
  /** Fail the n-th writeSync call (0-based) after writing half of its bytes; -1: never. */
  failWrite: -1,
  writes: 0,
  failFsync: false,
  failRename: false,
  /** Simulate a crash: the cleanup (unlink of the temp file) never happens. */
  crash: false,
}));

vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  const enospc = (): Error => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  return {
    ...actual,
    writeSync(fd: number, data: Uint8Array, offset: number, length: number, position: number | null): number {
      if (control.failWrite >= 0 && control.writes++ === control.failWrite) {
        actual.writeSync(fd, data, offset, Math.floor(length / 2), position);
        throw enospc();
      }
      return actual.writeSync(fd, data, offset, length, position);
    },
    fsyncSync(fd: number): void {
      if (control.failFsync) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
      actual.fsyncSync(fd);
    },
    renameSync(from: string, to: string): void {
      if (control.failRename) throw Object.assign(new Error("EXDEV: rename failed"), { code: "EXDEV" });
      actual.renameSync(from, to);
    },
    unlinkSync(path: string): void {
      if (control.crash) return;
      actual.unlinkSync(path);
    },
  };
});

const root = realFs.mkdtempSync(join(tmpdir(), "seekr-replay-crash-"));
afterAll(() => realFs.rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  Object.assign(control, { failWrite: -1, writes: 0, failFsync: false, failRename: false, crash: false });
});
let counter = 0;

/** A directory holding a saved one-task memory (the "previous" file) at m.seekr. */
function previous(): { dir: string; file: string; bytes: Buffer } {
  const dir = join(root, `case-${counter++}`);
  const file = join(dir, "m.seekr");
  const memory = smallMemory();
  saveMemory(file, memory);
  return { dir, file, bytes: realFs.readFileSync(file) };
}

function biggerMemory(): ReturnType<typeof smallMemory> {
  const memory = smallMemory();
  memory.addTask({ id: "MeetingBank", samples: [{ record: { prompt: "Summarise", answer: "..." } }] });
  return memory;
}

describe("failures mid-write", () => {
  it("keep the previous file intact and loadable, and remove the temporary file, at every write", () => {
    const { dir, file, bytes } = previous();
    let failures = 0;
    for (let n = 0; ; n++) {
      control.failWrite = n;
      control.writes = 0;
      try {
        saveMemory(file, biggerMemory());
      } catch (error) {
        expect((error as Error).message).toMatch(/ENOSPC/);
        failures++;
        expect(realFs.readFileSync(file).equals(bytes)).toBe(true);
        expect(realFs.readdirSync(dir)).toEqual(["m.seekr"]);
        expectSameMemory(loadMemory(file), smallMemory());
        continue;
      }
      break; // n is past the last write: the save went through
    }
    expect(failures).toBeGreaterThanOrEqual(4); // header placeholder, manifest, arrays, final header
    expect(loadMemory(file).taskCount).toBe(3);
  });

  it("crashes (no cleanup) leave the target intact; the leftover temporary file never loads", () => {
    const { dir, file, bytes } = previous();
    control.crash = true;
    for (let n = 0; ; n++) {
      control.failWrite = n;
      control.writes = 0;
      try {
        saveMemory(file, biggerMemory());
      } catch {
        expect(realFs.readFileSync(file).equals(bytes)).toBe(true);
        expectSameMemory(loadMemory(file), smallMemory());
        const temps = realFs.readdirSync(dir).filter((name) => name !== "m.seekr");
        expect(temps).toHaveLength(1);
        const temp = join(dir, temps[0] as string);
        expect(temps[0]).toMatch(/^\.m\.seekr\.\d+\.[0-9a-f]{12}\.tmp$/);
        expect(() => loadMemory(temp)).toThrow(/not a replay memory file|truncated|checksum/);
        realFs.rmSync(temp); // (unlinkSync is the mocked, crashing one)
        continue;
      }
      break;
    }
  });

  it("a failed fsync or rename leaves the previous file and no temporary file", () => {
    for (const failure of ["failFsync", "failRename"] as const) {
      const { dir, file, bytes } = previous();
      control[failure] = true;
      expect(() => saveMemory(file, biggerMemory())).toThrow(failure === "failFsync" ? /EIO/ : /EXDEV/);
      control[failure] = false;
      expect(realFs.readFileSync(file).equals(bytes)).toBe(true);
      expect(realFs.readdirSync(dir)).toEqual(["m.seekr"]);
    }
  });

  it("a failed first save leaves no file at all", () => {
    const dir = join(root, `case-${counter++}`);
    control.failWrite = 2;
    expect(() => saveMemory(join(dir, "m.seekr"), smallMemory())).toThrow(/ENOSPC/);
    expect(realFs.readdirSync(dir)).toEqual([]);
  });
});
