// Formatting of offending values for error messages (shared by metrics, tasks, data and config).

/** Renders a value the way error messages quote it: `-3`, `NaN`, `"abc"`, `[0.9,0.95]`, `{fraction: 1.5}`. */
export function formatValue(value: unknown): string {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || value === undefined || typeof value === "boolean") return String(value);
  if (typeof value === "object") {
    if (!Array.isArray(value) && "fraction" in value && Object.keys(value).length === 1) {
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

/** A short description of a value's JSON type: `number 5`, `string "x"`, `null`, `array`, `object`. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (value === undefined) return "nothing";
  return `${typeof value} ${formatValue(value)}`;
}
