// Tests of JSON error location: line/column of the first syntax error, agreement with JSON.parse on validity.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lineColumn, locateJsonError, parseJson } from "./json.js";

describe("locateJsonError", () => {
  const cases: [string, number, number, RegExp][] = [
    ['[\n  {"prompt": "a" "answer": "b"}\n]', 2, 18, /expected ',' or '}' after a property value, got "\\""/],
    ['[{"prompt": "a",}]', 1, 17, /expected a double-quoted property name, got "}"/],
    ["[1, 2,]", 1, 7, /trailing comma/],
    ["[1, 2", 1, 6, /expected ',' or '\]' after an array element, got end of input/],
    ["", 1, 1, /unexpected end of input/],
    ["abc", 1, 1, /unexpected "a", expected a value/],
    ["[1] x", 1, 5, /unexpected "x" after the JSON value/],
    ['"a\\qb"', 1, 3, /bad escape "\\\\q"/],
    ['"a\nb"', 1, 3, /unescaped control character/],
    ['"\\u12G4"', 1, 2, /bad \\u escape/],
    ["[-]", 1, 3, /expected a digit/],
    ["[1.]", 1, 4, /after the decimal point/],
    ["[1e+]", 1, 5, /in the exponent/],
    ["{'a': 1}", 1, 2, /double-quoted property name/],
    ['"unterminated', 1, 14, /unterminated string/],
  ];
  for (const [text, line, column, message] of cases) {
    it(`locates the error in ${JSON.stringify(text)}`, () => {
      expect(() => JSON.parse(text)).toThrow();
      const e = locateJsonError(text);
      expect(e).toBeDefined();
      expect(e?.message).toMatch(message);
      expect([e?.line, e?.column]).toEqual([line, column]);
    });
  }

  it("accepts what JSON.parse accepts", () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(locateJsonError(text)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("rejects what JSON.parse rejects (random corruptions)", () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), fc.constantFrom("", ",", "}", "]", "{", "[", '"', "x", "\\", "\n", "-", "."), (text, pos, ins) => {
        const at = pos % (text.length + 1);
        const broken = text.slice(0, at) + ins + text.slice(at + (ins === "" ? 1 : 0));
        let valid = true;
        try {
          JSON.parse(broken);
        } catch {
          valid = false;
        }
        expect(locateJsonError(broken) === undefined).toBe(valid);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("parseJson", () => {
  it("parses, ignoring a byte-order mark", () => {
    expect(parseJson('\ufeff[{"a": 1}]')).toEqual({ ok: true, value: [{ a: 1 }] });
  });

  it("returns the located error", () => {
    const r = parseJson('[\n{"a": 1,,}\n]');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ line: 2, column: 9 });
  });

  it("lineColumn counts lines from 1", () => {
    expect(lineColumn("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn("ab", 0)).toEqual({ line: 1, column: 1 });
  });
});
