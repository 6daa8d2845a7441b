// JSON values: the type of replay records and metadata, and a strict check that a value round-trips.

import { formatValue } from "./format.js";

/** A value that survives JSON.stringify → JSON.parse unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws an Error naming the path (e.g. `tasks[0].samples[3].record.answer`) unless `value` is plain
 * JSON that round-trips exactly: null, booleans, finite numbers (not -0), strings, arrays, and plain
 * objects without `toJSON`, with no cycles. Undefined, functions, symbols, bigints, NaN, Infinity,
 * typed arrays, Dates, Maps and class instances are rejected.
 */
export function checkJson(value: unknown, path: string, ancestors: object[] = []): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value) || Object.is(value, -0)) {
        throw new Error(`${path}: ${formatValue(value)} does not survive JSON (expected a finite number, not -0)`);
      }
      return;
    case "object": {
      if (value === null) return;
      if (ancestors.includes(value)) throw new Error(`${path}: cyclic reference`);
      const isArray = Array.isArray(value);
      if (!isArray && !isPlainObject(value)) {
        const name = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
        throw new Error(`${path}: expected plain JSON, got a ${name}`);
      }
      ancestors.push(value);
      if (isArray) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new Error(`${path}[${i}]: holes in arrays are not JSON`);
          checkJson(value[i], `${path}[${i}]`, ancestors);
        }
      } else {
        for (const key of Object.keys(value)) {
          if (key === "toJSON") throw new Error(`${path}.toJSON: objects with toJSON do not round-trip`);
          checkJson((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
        }
      }
      ancestors.pop();
      return;
    }
    default:
      throw new Error(`${path}: ${typeof value} is not JSON`);
  }
}
