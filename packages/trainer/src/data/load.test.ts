// Tests of the TRACE and JSON-lines loaders on temporary folders: happy paths, order, caps, and aggregated errors.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataError, MAX_LISTED_ISSUES } from "./issues.js";
import { discoverTasks, loadTaskStream, TRACE_ORDER_1 } from "./load.js";
import { loadStream } from "./stream.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "seekr-data-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const ex = (i: number) => ({ prompt: `p${i}`, answer: `a${i}` });

/** Writes a task folder; `files` maps file name to raw content (objects are JSON-encoded). */
function task(name: string, files: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return dir;
}

const traceTask = (name: string, n = 3) => task(name, { "train.json": [ex(0), ex(1), ex(2)].slice(0, n), "eval.json": [ex(3)], "test.json": [ex(4), ex(5)] });
const jsonl = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

/** Runs `f`, expecting a DataError; returns it. */
function dataError(f: () => unknown): DataError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error("expected a DataError");
}

describe("TRACE format", () => {
  it("loads every split of every task, alphabetically by default", () => {
    traceTask("b-task");
    traceTask("a-task");
    const stream = loadTaskStream(root);
    expect(stream.map((t) => t.name)).toEqual(["a-task", "b-task"]);
    expect(stream[0]).toEqual({ name: "a-task", metric: "accuracy", train: [ex(0), ex(1), ex(2)], eval: [ex(3)], test: [ex(4), ex(5)], source: join(root, "a-task") });
  });

  it("follows the configured order and uses TRACE's metrics", () => {
    traceTask("Py150");
    traceTask("20Minuten");
    traceTask("custom");
    const stream = loadTaskStream(root, { tasks: ["20Minuten", "Py150", "custom"], metrics: { custom: "rougeL" } });
    expect(stream.map((t) => [t.name, t.metric])).toEqual([
      ["20Minuten", "sari"],
      ["Py150", "edit_similarity"],
      ["custom", "rougeL"],
    ]);
  });

  it("uses TRACE order 1 when the folder holds exactly TRACE's eight tasks", () => {
    for (const t of TRACE_ORDER_1) traceTask(t, 1);
    expect(loadTaskStream(root).map((t) => t.name)).toEqual([...TRACE_ORDER_1]);
    expect(discoverTasks(root)).toEqual([...TRACE_ORDER_1].sort());
  });

  it("caps splits with samplesPerTask (a number caps train)", () => {
    traceTask("t");
    expect(loadTaskStream(root, { samplesPerTask: 2 })[0]?.train).toEqual([ex(0), ex(1)]);
    const capped = loadTaskStream(root, { samplesPerTask: { test: 1 } })[0];
    expect([capped?.train.length, capped?.test.length]).toEqual([3, 1]);
  });

  it("ignores a byte-order mark and extra fields", () => {
    task("t", { "train.json": `\ufeff${JSON.stringify([{ prompt: "p", answer: "a", id: 7 }])}`, "eval.json": [ex(1)], "test.json": [ex(2)] });
    expect(loadTaskStream(root)[0]?.train).toEqual([{ prompt: "p", answer: "a" }]);
  });

  it("reports every problem of every file at once, with paths, lines and indices", () => {
    task("good", { "train.json": [ex(0)], "eval.json": [ex(1)], "test.json": [ex(2)] });
    const bad = task("bad", {
      "train.json": '[\n  {"prompt": "a", "answer": "b"},\n  {"prompt": "c" "answer": "d"}\n]',
      "eval.json": [ex(0), { prompt: "x" }, { prompt: 3, answer: "y" }, "text", { prompt: "q", answer: "" }, null],
      "test.json": [],
    });
    const empty = task("empty", { "train.json": { prompt: "a", answer: "b" }, "test.json": [ex(0)] });
    const e = dataError(() => loadTaskStream(root, { tasks: ["good", "bad", "empty", "ghost"] }));
    const lines = e.message.split("\n");
    expect(lines[0]).toBe(`Invalid data in ${root}: 10 problems found before training`);
    expect(e.message).toContain(`${join(bad, "train.json")}:3:18: malformed JSON: expected ',' or '}' after a property value, got "\\""`);
    expect(e.message).toContain(`${join(bad, "eval.json")} [index 1]: missing "answer"`);
    expect(e.message).toContain(`${join(bad, "eval.json")} [index 2]: "prompt" must be a string, got number 3`);
    expect(e.message).toContain(`${join(bad, "eval.json")} [index 3]: expected an object with string "prompt" and "answer", got string "text"`);
    expect(e.message).toContain(`${join(bad, "eval.json")} [index 4]: "answer" is empty`);
    expect(e.message).toContain(`${join(bad, "eval.json")} [index 5]: expected an object with string "prompt" and "answer", got null`);
    expect(e.message).toContain(`${join(bad, "test.json")}: empty split (the array has no examples)`);
    expect(e.message).toContain(`${join(empty, "train.json")}: expected a JSON array of {"prompt", "answer"} objects, got an object`);
    expect(e.message).toContain(`${join(empty, "eval.json")}: missing split file`);
    expect(e.message).toContain(`${join(root, "ghost")}: task folder not found (found: bad, empty, good)`);
    expect(e.issues).toHaveLength(10);
    expect(e.issues.find((i) => i.line !== undefined)).toMatchObject({ line: 3, column: 18 });
  });

  it("rejects bad task lists, metrics and caps", () => {
    traceTask("t");
    expect(dataError(() => loadTaskStream(root, { tasks: ["t", "t"] })).message).toContain('task "t" is listed twice');
    expect(dataError(() => loadTaskStream(root, { tasks: [] })).message).toContain("the task list is empty");
    expect(dataError(() => loadTaskStream(root, { metrics: { t: "bleu" } })).message).toContain('unknown metric "bleu"');
    expect(dataError(() => loadTaskStream(root, { metrics: { other: "sari" } })).message).toContain('task "other", which is not in the stream');
    expect(dataError(() => loadTaskStream(root, { samplesPerTask: 0 })).message).toContain("samplesPerTask: expected a positive integer, got 0");
    expect(dataError(() => loadTaskStream(join(root, "nope"))).message).toContain("data folder not found");
    const emptyRoot = join(root, "t", "sub");
    mkdirSync(emptyRoot);
    expect(dataError(() => loadTaskStream(emptyRoot)).message).toContain("no task folders with train.json / eval.json / test.json files found");
  });

  it("lists at most MAX_LISTED_ISSUES issues in the message but keeps all", () => {
    const records = Array.from({ length: MAX_LISTED_ISSUES + 7 }, () => ({ prompt: 1, answer: "x" }));
    task("t", { "train.json": records, "eval.json": [ex(0)], "test.json": [ex(0)] });
    const e = dataError(() => loadTaskStream(root));
    expect(e.issues).toHaveLength(MAX_LISTED_ISSUES + 7);
    expect(e.message).toContain("... and 7 more");
  });
});

describe("JSON-lines format", () => {
  it("loads one record per non-blank line (CRLF tolerated)", () => {
    task("t", {
      "train.jsonl": jsonl([ex(0), ex(1)]).replaceAll("\n", "\r\n") + "\n\n",
      "eval.jsonl": jsonl([ex(2)]),
      "test.jsonl": jsonl([ex(3)]),
    });
    const [t] = loadTaskStream(root, { format: "jsonl" });
    expect(t?.train).toEqual([ex(0), ex(1)]);
    expect(t?.eval).toEqual([ex(2)]);
  });

  it("reports bad lines with their line (and column for syntax errors)", () => {
    const dir = task("t", {
      "train.jsonl": `${JSON.stringify(ex(0))}\n\n{"prompt": "a", "answer": }\n[1, 2]\n{"prompt": "b"}\n`,
      "eval.jsonl": "\n  \n",
      "test.jsonl": jsonl([ex(0)]),
    });
    const e = dataError(() => loadTaskStream(root, { format: "jsonl" }));
    expect(e.issues.map((i) => [i.line, i.column])).toEqual([
      [3, 27],
      [4, undefined],
      [5, undefined],
      [undefined, undefined],
    ]);
    expect(e.message).toContain(`${join(dir, "train.jsonl")}:3:27: malformed JSON: unexpected "}", expected a value`);
    expect(e.message).toContain(`${join(dir, "train.jsonl")}:4: expected an object with string "prompt" and "answer", got an array`);
    expect(e.message).toContain(`${join(dir, "train.jsonl")}:5: missing "answer"`);
    expect(e.message).toContain(`${join(dir, "eval.jsonl")}: empty split (no records)`);
  });

  it("does not mix formats: .json files are not JSON-lines tasks", () => {
    traceTask("t");
    expect(discoverTasks(root, "jsonl")).toEqual([]);
  });
});

describe("loadStream", () => {
  it("builds the built-in stream with samplesPerTask as the train size", () => {
    const stream = loadStream({ source: "builtin", tasks: ["add", "kv"], samplesPerTask: 7 }, 3);
    expect(stream.map((t) => [t.name, t.train.length, t.test.length])).toEqual([
      ["add", 7, 200],
      ["kv", 7, 200],
    ]);
    expect(loadStream({ source: "builtin", tasks: ["add"], samplesPerTask: { train: 2, eval: 3, test: 4 } }, 3).map((t) => [t.train.length, t.eval.length, t.test.length])).toEqual([[2, 3, 4]]);
  });

  it("loads folders for trace and jsonl, and needs a path", () => {
    traceTask("t");
    expect(loadStream({ source: "trace", path: root }, 0).map((t) => t.name)).toEqual(["t"]);
    expect(() => loadStream({ source: "jsonl" }, 0)).toThrow(/data.path: required when data.source is "jsonl"/);
  });
});
