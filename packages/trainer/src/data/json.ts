// JSON parsing with a precise error location (line, column) that does not depend on the Node version's messages.

/** Where and why a text is not valid JSON. Line and column are 1-based (columns in UTF-16 units). */
export interface JsonSyntaxError {
  message: string;
  offset: number;
  line: number;
  column: number;
}

export type JsonParseResult = { ok: true; value: unknown } | { ok: false; error: JsonSyntaxError };

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

class Fail extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 4000;

/**
 * A validating scan of RFC 8259 JSON (the grammar JSON.parse accepts) that reports the first error's
 * offset and a plain message. Returns undefined for valid JSON.
 */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  let i = 0;
  const ch = (): string => text[i] as string;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const show = (): string => (i >= n ? "end of input" : JSON.stringify(ch()));
  const fail = (message: string, at = i): never => {
    throw new Fail(message, at);
  };
  const digits = (): number => {
    const s = i;
    while (i < n && ch() >= "0" && ch() <= "9") i++;
    return i - s;
  };
  const str = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x5c) {
        const backslash = i;
        i++;
        const e = text[i];
        if (e === "u") {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) {
              fail("bad \\u escape: expected 4 hex digits", backslash);
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail(`bad escape ${e === undefined ? "at end of input" : JSON.stringify(`\\${e}`)}`, backslash);
        continue;
      }
      if (c < 0x20) fail("unescaped control character in string (newlines and tabs must be written \\n, \\t)");
      i++;
    }
  };
  const num = (): void => {
    if (ch() === "-") i++;
    if (ch() === "0") i++;
    else if (digits() === 0) fail(`expected a digit, got ${show()}`);
    if (ch() === ".") {
      i++;
      if (digits() === 0) fail(`expected a digit after the decimal point, got ${show()}`);
    }
    if (ch() === "e" || ch() === "E") {
      i++;
      if (ch() === "+" || ch() === "-") i++;
      if (digits() === 0) fail(`expected a digit in the exponent, got ${show()}`);
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail("nesting too deep");
    ws();
    if (i >= n) fail("unexpected end of input, expected a value");
    const c = ch();
    if (c === "{") {
      i++;
      ws();
      if (ch() === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (ch() !== '"') fail(`expected a double-quoted property name, got ${show()}`);
        str();
        ws();
        if (ch() !== ":") fail(`expected ':' after the property name, got ${show()}`);
        i++;
        value(depth + 1);
        ws();
        if (ch() === ",") {
          i++;
          continue;
        }
        if (ch() === "}") {
          i++;
          return;
        }
        fail(`expected ',' or '}' after a property value, got ${show()}`);
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (ch() === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (ch() === ",") {
          i++;
          ws();
          if (ch() === "]") fail("trailing comma before ']'");
          continue;
        }
        if (ch() === "]") {
          i++;
          return;
        }
        fail(`expected ',' or ']' after an array element, got ${show()}`);
      }
    }
    if (c === '"') return str();
    if (c === "-" || (c >= "0" && c <= "9")) return num();
    for (const lit of ["true", "false", "null"]) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    fail(`unexpected ${show()}, expected a value`);
  };
  try {
    value(0);
    ws();
    if (i < n) fail(`unexpected ${show()} after the JSON value`);
    return undefined;
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    return { message: e.message, offset: e.offset, ...lineColumn(text, e.offset) };
  }
}

/** JSON.parse (a leading byte-order mark is ignored) with a located error instead of an exception. */
export function parseJson(text: string): JsonParseResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (e) {
    const located = locateJsonError(body);
    if (located !== undefined) return { ok: false, error: located };
    return { ok: false, error: { message: (e as Error).message, offset: 0, line: 1, column: 1 } };
  }
}
