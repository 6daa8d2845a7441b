// Formatting of offending values for error messages.

/** Renders a value the way error messages quote it: `-3`, `NaN`, `"abc"`, `{fraction: 1.5}`. */
export function formatValue(value: unknown): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || value === undefined || typeof value === "boolean") return String(value);
  if (typeof value === "object") {
    if (!Array.isArray(value) && "fraction" in value) {
      return `{fraction: ${formatValue((value as { fraction: unknown }).fraction)}}`;
    }
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) return json.length > 80 ? `${json.slice(0, 77)}...` : json;
    } catch {
      // fall through (cyclic structures)
    }
  }
  return Object.prototype.toString.call(value);
}

/** True for integers n with 0 <= n <= Number.MAX_SAFE_INTEGER. */
export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
