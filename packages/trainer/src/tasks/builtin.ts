// The built-in byte-level tasks: short lowercase-string transformations, key-value recall, addition, counting.

import type { Example } from "../data/types.js";
import { createRng, type Rng, shuffled } from "./rng.js";
import type { TaskDefinition } from "./task.js";

export const LOWERCASE = "abcdefghijklmnopqrstuvwxyz";
const LETTERS = [...LOWERCASE];

/** A random lowercase string of length in [min, max]. */
function word(rng: Rng, min: number, max: number): string {
  const n = rng.range(min, max);
  let s = "";
  for (let i = 0; i < n; i++) s += rng.pick(LETTERS);
  return s;
}

interface Spec {
  name: string;
  description: string;
  instruction: string;
  maxPromptBytes: number;
  maxAnswerBytes: number;
  /** The text after the instruction (before the "=" cue) and the answer. */
  body(rng: Rng): { input: string; answer: string };
}

/** Prompts are `instruction + input + "="`; the answer follows the "=". */
function define(spec: Spec): TaskDefinition {
  return {
    name: spec.name,
    description: spec.description,
    instruction: spec.instruction,
    metric: "exact_match",
    maxPromptBytes: spec.maxPromptBytes,
    maxAnswerBytes: spec.maxAnswerBytes,
    sample(rng: Rng): Example {
      const { input, answer } = spec.body(rng);
      return { prompt: `${spec.instruction}${input}=`, answer };
    },
  };
}

/** Reverse a lowercase string of 3–8 letters: "reverse: abcde=" → "edcba". */
export const reverseTask = define({
  name: "reverse",
  description: "reverse a lowercase string of 3-8 letters",
  instruction: "reverse: ",
  maxPromptBytes: 9 + 8 + 1,
  maxAnswerBytes: 8,
  body(rng) {
    const s = word(rng, 3, 8);
    return { input: s, answer: [...s].reverse().join("") };
  },
});

/** Sort the letters of a lowercase string of 3–8 letters: "sort: banana=" → "aaabnn". */
export const sortTask = define({
  name: "sort",
  description: "sort the letters of a lowercase string of 3-8 letters",
  instruction: "sort: ",
  maxPromptBytes: 6 + 8 + 1,
  maxAnswerBytes: 8,
  body(rng) {
    const s = word(rng, 3, 8);
    return { input: s, answer: [...s].sort().join("") };
  },
});

/** Uppercase copy of a lowercase string of 3–10 letters: "upper: hello=" → "HELLO". */
export const upperTask = define({
  name: "upper",
  description: "copy a lowercase string of 3-10 letters in uppercase",
  instruction: "upper: ",
  maxPromptBytes: 7 + 10 + 1,
  maxAnswerBytes: 10,
  body(rng) {
    const s = word(rng, 3, 10);
    return { input: s, answer: s.toUpperCase() };
  },
});

/**
 * A substitution-cipher key: a permutation of a–z with no fixed point (no letter maps to itself),
 * a pure function of `keySeed`. Returned as the 26 cipher letters for a, b, ..., z.
 */
export function cipherKey(keySeed: number): string {
  const rng = createRng(keySeed);
  for (;;) {
    const perm = shuffled(LETTERS, rng);
    if (perm.every((c, i) => c !== LETTERS[i])) return perm.join("");
  }
}

/** The default cipher task's key seed (fixed, so "cipher" means the same mapping in every run). */
export const DEFAULT_CIPHER_KEY_SEED = 0x5eed;

/**
 * A task that maps each of 3–8 lowercase letters through `table` (the 26 images of a, b, ..., z):
 * `${instruction}abc=` → table[a] table[b] table[c].
 */
function letterMapTask(o: { name: string; description: string; instruction: string; table: string }): TaskDefinition {
  return define({
    name: o.name,
    description: o.description,
    instruction: o.instruction,
    maxPromptBytes: Buffer.byteLength(o.instruction) + 8 + 1,
    maxAnswerBytes: 8,
    body(rng) {
      const s = word(rng, 3, 8);
      return { input: s, answer: [...s].map((c) => o.table[c.charCodeAt(0) - 97]).join("") };
    },
  });
}

/**
 * A fixed substitution cipher on 3–8 lowercase letters: "encode: abc=" → key[a] key[b] key[c]. The key
 * comes from `keySeed`, not from the run's seed; give several cipher tasks different names and key
 * seeds for maximally interfering tasks.
 */
export function createCipherTask(options: { name?: string; keySeed?: number } = {}): TaskDefinition {
  const key = cipherKey(options.keySeed ?? DEFAULT_CIPHER_KEY_SEED);
  return letterMapTask({ name: options.name ?? "cipher", description: `substitution cipher on 3-8 lowercase letters (key ${key})`, instruction: "encode: ", table: key });
}

export const cipherTask = createCipherTask();

/**
 * The inverse of a substitution cipher on 3–8 lowercase letters: "decode: xyz=" → the letters whose cipher
 * images are x, y, z. With the same key as "cipher" it asks for exactly the opposite mapping, so the two
 * tasks interfere as strongly as two tasks can.
 */
export function createDecodeTask(options: { name?: string; keySeed?: number } = {}): TaskDefinition {
  const key = cipherKey(options.keySeed ?? DEFAULT_CIPHER_KEY_SEED);
  const inverse = new Array<string>(26);
  for (let i = 0; i < 26; i++) inverse[key.charCodeAt(i) - 97] = LOWERCASE[i] as string;
  return letterMapTask({ name: options.name ?? "decode", description: `inverse substitution cipher on 3-8 lowercase letters (key ${key})`, instruction: "decode: ", table: inverse.join("") });
}

export const decodeTask = createDecodeTask();

/** Caesar shift by 3 on 3–8 lowercase letters, wrapping z → c: "shift: xyz=" → "abc". */
export const shiftTask = letterMapTask({
  name: "shift",
  description: "shift each of 3-8 lowercase letters three places along the alphabet (z wraps to c)",
  instruction: "shift: ",
  table: LOWERCASE.slice(3) + LOWERCASE.slice(0, 3),
});

/**
 * Key-value recall from the prompt: 3–4 pairs of a distinct letter key and a two-digit value, then
 * a query key: "recall: q:07,b:52,x:33 ?b=" → "52".
 */
export const kvTask = define({
  name: "kv",
  description: "recall the two-digit value of a key listed in the prompt (3-4 pairs)",
  instruction: "recall: ",
  maxPromptBytes: 8 + (4 * 5 - 1) + 3 + 1,
  maxAnswerBytes: 2,
  body(rng) {
    const n = rng.range(3, 4);
    const keys = shuffled(LETTERS, rng).slice(0, n);
    const values = keys.map(() => String(rng.int(100)).padStart(2, "0"));
    const q = rng.int(n);
    return { input: `${keys.map((k, i) => `${k}:${values[i]}`).join(",")} ?${keys[q]}`, answer: values[q] as string };
  },
});

/** Addition of two numbers with 2–3 digits each: "add: 347+58=" → "405". */
export const addTask = define({
  name: "add",
  description: "add two numbers of 2-3 digits",
  instruction: "add: ",
  maxPromptBytes: 5 + 7 + 1,
  maxAnswerBytes: 4,
  body(rng) {
    const a = rng.range(10, 999);
    const b = rng.range(10, 999);
    return { input: `${a}+${b}`, answer: String(a + b) };
  },
});

/**
 * Count a letter in a word of 4–10 letters, in decimal: "count: a in banana=" → "3". Each position
 * holds the queried letter with probability 1/3, so counts spread over 0..10.
 */
export const countTask = define({
  name: "count",
  description: "count how often a letter occurs in a lowercase word of 4-10 letters",
  instruction: "count: ",
  maxPromptBytes: 7 + 1 + 4 + 10 + 1,
  maxAnswerBytes: 2,
  body(rng) {
    const letter = rng.pick(LETTERS);
    const n = rng.range(4, 10);
    let s = "";
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (rng.int(3) === 0) {
        s += letter;
        count++;
      } else {
        let c = rng.pick(LETTERS);
        while (c === letter) c = rng.pick(LETTERS);
        s += c;
      }
    }
    return { input: `${letter} in ${s}`, answer: String(count) };
  },
});
