// Stable JSON (sorted keys) and short SHA-256 hashes of settings (cache keys, config identity on resume).

import { createHash } from "node:crypto";

/** JSON with object keys sorted at every level (undefined members dropped), for hashing. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : stableJson(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** The first `chars` hex digits of the SHA-256 of the stable JSON of `v`. */
export function hashOf(v: unknown, chars = 16): string {
  return createHash("sha256").update(stableJson(v)).digest("hex").slice(0, chars);
}
