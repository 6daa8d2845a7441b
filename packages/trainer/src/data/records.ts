// Validation of {prompt, answer} records from JSON arrays and JSON-lines files, collecting located issues.

import { describeType } from "../format.js";
import type { DataIssue } from "./issues.js";
import { parseJson } from "./json.js";
import type { Example } from "./types.js";

type Where = Pick<DataIssue, "line" | "index">;

/** Checks one record; pushes issues located at `where`; returns the example if valid. */
export function checkRecord(value: unknown, file: string, where: Where, issues: DataIssue[]): Example | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    issues.push({ file, ...where, message: `expected an object with string "prompt" and "answer", got ${describeType(value)}` });
    return undefined;
  }
  const rec = value as Record<string, unknown>;
  let ok = true;
  for (const field of ["prompt", "answer"] as const) {
    const v = rec[field];
    if (!(field in rec)) {
      issues.push({ file, ...where, message: `missing "${field}"` });
      ok = false;
    } else if (typeof v !== "string") {
      issues.push({ file, ...where, message: `"${field}" must be a string, got ${describeType(v)}` });
      ok = false;
    }
  }
  if (ok && rec.answer === "") {
    issues.push({ file, ...where, message: `"answer" is empty (nothing to learn or score)` });
    ok = false;
  }
  return ok ? { prompt: rec.prompt as string, answer: rec.answer as string } : undefined;
}

/** A TRACE split file: one JSON array of {prompt, answer}. Issues carry the array index. */
export function parseJsonArrayFile(text: string, file: string, issues: DataIssue[]): Example[] {
  const parsed = parseJson(text);
  if (!parsed.ok) {
    const { line, column, message } = parsed.error;
    issues.push({ file, line, column, message: `malformed JSON: ${message}` });
    return [];
  }
  if (!Array.isArray(parsed.value)) {
    issues.push({ file, message: `expected a JSON array of {"prompt", "answer"} objects, got ${describeType(parsed.value)}` });
    return [];
  }
  const out: Example[] = [];
  parsed.value.forEach((v, index) => {
    const ex = checkRecord(v, file, { index }, issues);
    if (ex) out.push(ex);
  });
  if (parsed.value.length === 0) issues.push({ file, message: "empty split (the array has no examples)" });
  return out;
}

/** A JSON-lines split file: one {prompt, answer} object per non-blank line. Issues carry the line. */
export function parseJsonLinesFile(text: string, file: string, issues: DataIssue[]): Example[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: Example[] = [];
  let records = 0;
  body.split("\n").forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    records++;
    const parsed = parseJson(line);
    if (!parsed.ok) {
      issues.push({ file, line: i + 1, column: parsed.error.column, message: `malformed JSON: ${parsed.error.message}` });
      return;
    }
    const ex = checkRecord(parsed.value, file, { line: i + 1 }, issues);
    if (ex) out.push(ex);
  });
  if (records === 0) issues.push({ file, message: "empty split (no records)" });
  return out;
}
