// Method factories by config name; registerMethod adds a method (its name must also pass the config, or build the config in code).

import { createEWC } from "./ewc.js";
import { createLwF } from "./lwf.js";
import { createDerpp, createReplay } from "./replay.js";
import { createSeekr } from "./seekr.js";
import { createSeqFT } from "./seqft.js";
import type { Method, MethodEnv, MethodFactory } from "./types.js";

const FACTORIES = new Map<string, MethodFactory>([
  ["seqft", createSeqFT],
  ["multitask", createSeqFT], // trained once on the union of the tasks by the loop
  ["replay", createReplay],
  ["derpp", createDerpp],
  ["lwf", createLwF],
  ["ewc", createEWC],
  ["seekr", createSeekr],
]);

/** Adds (or replaces) the factory of a method name. */
export function registerMethod(name: string, factory: MethodFactory): void {
  if (typeof name !== "string" || name.length === 0) throw new Error(`registerMethod: name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (typeof factory !== "function") throw new Error(`registerMethod: factory of ${JSON.stringify(name)} must be a function`);
  FACTORIES.set(name, factory);
}

/** Names with a factory. */
export function methodNames(): string[] {
  return [...FACTORIES.keys()];
}

/** Creates the method `env.method.name`. */
export function createMethod(env: MethodEnv): Method {
  const f = FACTORIES.get(env.method.name);
  if (!f) throw new Error(`methods[${JSON.stringify(env.method.label)}]: unknown method ${JSON.stringify(env.method.name)} (known: ${methodNames().join(", ")})`);
  return f(env);
}
