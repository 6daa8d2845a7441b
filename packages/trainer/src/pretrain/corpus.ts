// The generic pre-training corpus: seeded byte-level text (English-like sentences, numbers, copying), none of the stream's tasks.

import { createRng, type Rng } from "../tasks/rng.js";

const NOUNS = ["cat", "dog", "bird", "fish", "tree", "house", "car", "book", "ball", "river", "hill", "road", "boat", "child", "farmer", "king", "cup", "lamp", "door", "garden"];
const ADJECTIVES = ["small", "big", "red", "green", "old", "new", "happy", "quiet", "fast", "slow", "dark", "bright", "warm", "cold", "tall"];
const VERBS = ["sees", "finds", "likes", "moves", "holds", "opens", "paints", "follows", "helps", "watches", "carries", "builds"];
const INTRANSITIVE = ["sleeps", "runs", "waits", "sings", "falls", "grows", "stops", "smiles", "works", "rests"];
const PLACES = ["in the garden", "by the river", "on the hill", "at home", "near the road", "under the tree", "in the morning", "at night"];
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

function nounPhrase(rng: Rng): string {
  const det = rng.pick(["the", "a", "this", "one"]);
  return rng.int(2) === 0 ? `${det} ${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}` : `${det} ${rng.pick(NOUNS)}`;
}

function sentence(rng: Rng): string {
  let s: string;
  switch (rng.int(3)) {
    case 0:
      s = `${nounPhrase(rng)} ${rng.pick(VERBS)} ${nounPhrase(rng)}`;
      break;
    case 1:
      s = `${nounPhrase(rng)} ${rng.pick(INTRANSITIVE)} ${rng.pick(PLACES)}`;
      break;
    default:
      s = `${nounPhrase(rng)} is ${rng.pick(ADJECTIVES)} and ${nounPhrase(rng)} ${rng.pick(INTRANSITIVE)}`;
  }
  const text = rng.int(2) === 0 ? s[0]!.toUpperCase() + s.slice(1) : s;
  return `${text}.`;
}

function randomWord(rng: Rng, min: number, max: number): string {
  let w = "";
  const n = rng.range(min, max);
  for (let i = 0; i < n; i++) w += LETTERS[rng.int(26)];
  return w;
}

/** Numbers: counting runs and arithmetic progressions ("7 8 9 10", "4, 8, 12, 16"). */
function numbers(rng: Rng): string {
  const start = rng.int(200);
  const step = rng.int(2) === 0 ? 1 : rng.range(2, 9);
  const n = rng.range(4, 8);
  const sep = step === 1 ? " " : ", ";
  return Array.from({ length: n }, (_, i) => String(start + i * step)).join(sep);
}

/** Copying: a random string repeated after a separator (in-context copying, induction). */
function copying(rng: Rng): string {
  const words = Array.from({ length: rng.range(1, 3) }, () => randomWord(rng, 2, 6)).join(" ");
  return `${words} | ${words}`;
}

/** Alphabet runs: consecutive letters from a random start ("d e f g h"). */
function alphabet(rng: Rng): string {
  const start = rng.int(20);
  const n = rng.range(4, 7);
  return [...LETTERS.slice(start, start + n)].join(" ");
}

const GENERATORS: ((rng: Rng) => string)[] = [sentence, sentence, sentence, numbers, copying, copying, alphabet];

/** One line of the corpus. */
export function corpusLine(rng: Rng): string {
  return rng.pick(GENERATORS)(rng);
}

/**
 * A document of whole lines joined by "\n", at least `minChars` long (the caller truncates to the sequence
 * length). Deterministic in the generator's state.
 */
export function corpusDocument(rng: Rng, minChars: number): string {
  let doc = corpusLine(rng);
  while (doc.length < minChars) doc += `\n${corpusLine(rng)}`;
  return doc;
}

/** A seeded generator of corpus documents. */
export function corpusStream(seed: number): { next(minChars: number): string } {
  const rng = createRng(seed);
  return { next: (minChars) => corpusDocument(rng, minChars) };
}
