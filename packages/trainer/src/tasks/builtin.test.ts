// Tests of the built-in tasks: answers re-derived independently from the prompt, byte bounds, determinism.

import { describe, expect, it } from "vitest";
import { cipherKey, cipherTask, createCipherTask, DEFAULT_CIPHER_KEY_SEED, LOWERCASE } from "./builtin.js";
import { BUILTIN_TASKS } from "./registry.js";
import { generateExamples, type TaskDefinition } from "./task.js";

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** Parses a prompt with `re` and recomputes the answer without using the task's code. */
type Solver = (prompt: string) => string;

function matching(re: RegExp, f: (m: RegExpExecArray) => string): Solver {
  return (prompt) => {
    const m = re.exec(prompt);
    if (m === null) throw new Error(`prompt ${JSON.stringify(prompt)} does not match ${re}`);
    return f(m);
  };
}

const KEY = cipherKey(DEFAULT_CIPHER_KEY_SEED);

const SOLVERS: Record<string, Solver> = {
  reverse: matching(/^reverse: ([a-z]{3,8})=$/, (m) => {
    const s = m[1] as string;
    let out = "";
    for (let i = s.length - 1; i >= 0; i--) out += s[i];
    return out;
  }),
  sort: matching(/^sort: ([a-z]{3,8})=$/, (m) => {
    const s = m[1] as string;
    let out = "";
    for (const c of LOWERCASE) out += c.repeat(s.split(c).length - 1); // counting sort
    return out;
  }),
  upper: matching(/^upper: ([a-z]{3,10})=$/, (m) =>
    String.fromCharCode(...[...(m[1] as string)].map((c) => c.charCodeAt(0) - 32)),
  ),
  cipher: matching(/^encode: ([a-z]{3,8})=$/, (m) => [...(m[1] as string)].map((c) => KEY[LOWERCASE.indexOf(c)]).join("")),
  // decode: search the key for the letter that encodes to each input letter.
  decode: matching(/^decode: ([a-z]{3,8})=$/, (m) => [...(m[1] as string)].map((c) => LOWERCASE[KEY.indexOf(c)]).join("")),
  shift: matching(/^shift: ([a-z]{3,8})=$/, (m) => {
    const alphabet = LOWERCASE + LOWERCASE.slice(0, 3);
    return [...(m[1] as string)].map((c) => alphabet[alphabet.indexOf(c) + 3]).join("");
  }),
  kv: matching(/^recall: ((?:[a-z]:\d\d,){2,3}[a-z]:\d\d) \?([a-z])=$/, (m) => {
    const pairs = (m[1] as string).split(",").map((p) => p.split(":") as [string, string]);
    const keys = pairs.map(([k]) => k);
    if (new Set(keys).size !== keys.length) throw new Error(`duplicate key in ${m[0]}`);
    const hit = pairs.find(([k]) => k === m[2]);
    if (hit === undefined) throw new Error(`query key not listed in ${m[0]}`);
    return hit[1];
  }),
  add: matching(/^add: (\d{2,3})\+(\d{2,3})=$/, (m) => (BigInt(m[1] as string) + BigInt(m[2] as string)).toString()),
  count: matching(/^count: ([a-z]) in ([a-z]{4,10})=$/, (m) => {
    let n = 0;
    for (const c of m[2] as string) if (c === m[1]) n++;
    return String(n);
  }),
};

describe("every built-in task", () => {
  it("has a solver in this test", () => {
    expect(Object.keys(SOLVERS).sort()).toEqual(Object.keys(BUILTIN_TASKS).sort());
  });

  for (const [name, task] of Object.entries(BUILTIN_TASKS) as [string, TaskDefinition][]) {
    describe(name, () => {
      const examples = generateExamples(task, 1234, 1500);

      it("answers are correct (re-derived from the prompt)", () => {
        const solve = SOLVERS[name] as Solver;
        for (const ex of examples) expect(ex.answer, ex.prompt).toBe(solve(ex.prompt));
      });

      it("prompts and answers are short ASCII within the task's bounds", () => {
        expect(task.maxPromptBytes).toBeLessThanOrEqual(40);
        expect(task.maxAnswerBytes).toBeLessThanOrEqual(12);
        for (const ex of examples) {
          expect(bytes(ex.prompt)).toBe(ex.prompt.length); // ASCII: one byte per character
          expect(bytes(ex.prompt)).toBeLessThanOrEqual(task.maxPromptBytes);
          expect(bytes(ex.answer)).toBeLessThanOrEqual(task.maxAnswerBytes);
          expect(ex.answer.length).toBeGreaterThan(0);
          expect(ex.prompt.startsWith(task.instruction)).toBe(true);
          expect(ex.prompt.endsWith("=")).toBe(true);
        }
        // the bounds are attained (they are not loose guesses)
        expect(Math.max(...examples.map((e) => bytes(e.prompt)))).toBe(task.maxPromptBytes);
      });

      it("prompts are distinct, deterministic under the seed, and seed-dependent", () => {
        expect(new Set(examples.map((e) => e.prompt)).size).toBe(examples.length);
        expect(generateExamples(task, 1234, 40)).toEqual(examples.slice(0, 40));
        expect(generateExamples(task, 1235, 40)).not.toEqual(examples.slice(0, 40));
      });

      it("uses exact match", () => {
        expect(task.metric).toBe("exact_match");
      });
    });
  }

  it("instruction prefixes are distinct", () => {
    const prefixes = Object.values(BUILTIN_TASKS).map((t) => t.instruction);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });
});

describe("task details", () => {
  it("the cipher key is a fixed-point-free permutation fixed by its key seed", () => {
    expect([...KEY].sort().join("")).toBe(LOWERCASE);
    for (let i = 0; i < 26; i++) expect(KEY[i]).not.toBe(LOWERCASE[i]);
    expect(cipherKey(DEFAULT_CIPHER_KEY_SEED)).toBe(KEY);
    expect(cipherKey(7)).not.toBe(KEY);
    expect(cipherTask.description).toContain(KEY);
  });

  it("decode undoes cipher: decoding a cipher answer gives back the cipher's input", () => {
    const dec = BUILTIN_TASKS.decode as TaskDefinition;
    for (const ex of generateExamples(cipherTask, 50, 9)) {
      const input = /^encode: ([a-z]+)=$/.exec(ex.prompt)![1] as string;
      const back = SOLVERS.decode!(`${dec.instruction}${ex.answer}=`);
      expect(back).toBe(input);
    }
  });

  it("a second cipher task with another key seed gives other answers to the same prompts", () => {
    const other = createCipherTask({ name: "cipher2", keySeed: 99 });
    expect(other.name).toBe("cipher2");
    const a = generateExamples(cipherTask, 5, 50);
    const b = generateExamples(other, 5, 50);
    expect(b.map((e) => e.prompt)).toEqual(a.map((e) => e.prompt));
    expect(b.filter((e, i) => e.answer !== a[i]?.answer).length).toBeGreaterThan(40);
  });

  it("count answers spread over several values, kv queries every position", () => {
    const counts = new Set(generateExamples(BUILTIN_TASKS.count as TaskDefinition, 1, 500).map((e) => e.answer));
    expect(counts.size).toBeGreaterThanOrEqual(6);
    expect(counts.has("0")).toBe(true);
    const kv = generateExamples(BUILTIN_TASKS.kv as TaskDefinition, 1, 500);
    const positions = new Set(
      kv.map((e) => {
        const m = /^recall: (.*) \?([a-z])=$/.exec(e.prompt) as RegExpExecArray;
        return (m[1] as string).split(",").findIndex((p) => p.startsWith(`${m[2]}:`));
      }),
    );
    expect([...positions].sort()).toEqual([0, 1, 2, 3]);
  });
});
