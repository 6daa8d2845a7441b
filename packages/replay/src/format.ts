// Validation helpers: how offending values are quoted in error messages, and common checks.

/** Renders a value the way error messages quote it: `-3`, `NaN`, `"abc"`, `[1,2]`. */
export function formatValue(value: unknown): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || value === undefined || typeof value === "boolean") return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length})`;
  if (typeof value === "object") {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) return json.length > 80 ? `${json.slice(0, 77)}...` : json;
    } catch {
      // fall through (cyclic structures, throwing toJSON)
    }
  }
  return Object.prototype.toString.call(value);
}

/** True for integers n with 0 <= n <= Number.MAX_SAFE_INTEGER. */
export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Returns `value` (normalising -0 to 0) if it is a non-negative safe integer, else throws naming `field`. */
export function checkCount(value: unknown, field: string): number {
  if (!isCount(value)) throw new Error(`${field}: expected a non-negative integer, got ${formatValue(value)}`);
  return value + 0;
}

/** Returns `value` if it is a positive safe integer, else throws naming `field`. */
export function checkPositive(value: unknown, field: string): number {
  if (!isCount(value) || value === 0) throw new Error(`${field}: expected a positive integer, got ${formatValue(value)}`);
  return value;
}

/** Returns `value` if it is a safe integer (a seed), else throws naming `field`. */
export function checkSeed(value: unknown, field = "seed"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new Error(`${field}: expected a safe integer, got ${formatValue(value)}`);
  }
  return value + 0;
}
