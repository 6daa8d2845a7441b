// Walking the zod schema by field path: the schema of a field, its default, the known keys of an object.

import type * as z from "zod";
import type { PathSegment } from "./errors.js";

type Schema = z.core.$ZodType;
interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  items?: Schema[];
  valueType?: Schema;
  options?: Schema[];
  defaultValue?: unknown;
}

const defOf = (s: Schema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Strips default / prefault / optional / nullable / readonly / pipe wrappers. */
export function unwrap(s: Schema): Schema {
  for (;;) {
    const d = defOf(s);
    if (d.innerType !== undefined && ["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"].includes(d.type)) s = d.innerType;
    else if (d.type === "pipe" && d.in !== undefined) s = d.in;
    else return s;
  }
}

/** The kind of the unwrapped schema: "object", "array", "number", "string", "enum", "union", ... */
export function kindOf(s: Schema): string {
  return defOf(unwrap(s)).type;
}

/** The schema of a child field or element, or undefined if the schema has no such child. */
export function childSchema(s: Schema, seg: PathSegment): Schema | undefined {
  const d = defOf(unwrap(s));
  switch (d.type) {
    case "object":
      return typeof seg === "string" && d.shape !== undefined && Object.hasOwn(d.shape, seg) ? d.shape[seg] : undefined;
    case "array":
      return /^\d+$/.test(String(seg)) ? d.element : undefined;
    case "tuple":
      return /^\d+$/.test(String(seg)) ? d.items?.[Number(seg)] : undefined;
    case "record":
      return d.valueType;
    case "union":
      for (const o of d.options ?? []) {
        const c = childSchema(o, seg);
        if (c !== undefined) return c;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** The schema at a path, or undefined if the path leaves the schema. */
export function schemaAt(root: Schema, path: readonly PathSegment[]): Schema | undefined {
  let s: Schema | undefined = root;
  for (const seg of path) {
    if (s === undefined) return undefined;
    s = childSchema(s, seg);
  }
  return s;
}

/** The default value of a field (a fresh copy), if its schema declares one. */
export function defaultOf(s: Schema): unknown {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if ((d.type === "default" || d.type === "prefault") && d.innerType !== undefined) return structuredClone(d.defaultValue);
    if (d.innerType !== undefined && ["optional", "nullable", "readonly"].includes(d.type)) cur = d.innerType;
    else return undefined;
  }
}

/** Field names of the object schema at a path (for "did you mean" hints). */
export function knownKeysAt(root: Schema, path: readonly PathSegment[]): string[] {
  const s = schemaAt(root, path);
  if (s === undefined) return [];
  const collect = (x: Schema): string[] => {
    const d = defOf(unwrap(x));
    if (d.type === "object") return Object.keys(d.shape ?? {});
    if (d.type === "union") return (d.options ?? []).flatMap(collect);
    return [];
  };
  return collect(s);
}

/** The option schemas of a union (unwrapped), or [] for anything else. */
export function unionOptions(s: Schema): Schema[] {
  const d = defOf(unwrap(s));
  return d.type === "union" ? (d.options ?? []).map(unwrap) : [];
}
