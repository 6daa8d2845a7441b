// Shape arithmetic: sizes, strides, axis normalisation, broadcasting, with errors that name the op and shapes.
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** A short, side-effect-free description of any value for error messages (never calls user toString/valueOf). */
export function describeValue(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "undefined") return String(x);
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? x.slice(0, 40) + "…" : x);
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  return typeof x === "object" ? "an object" : typeof x;
}

/** Throws unless shape is an array of at most 16 non-negative integers with a product of at most 2^40; returns
 * the product (the element count). */
export function checkShape(shape: readonly number[], op: string): number {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of non-negative integers, got ${describeValue(shape)}`);
  const rank = shape.length;
  if (rank > 16) throw new Error(`${op}: rank ${rank} exceeds the maximum of 16`);
  let n = 1;
  for (let i = 0; i < rank; i++) {
    const d = shape[i];
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0)
      throw new Error(`${op}: shape has an invalid dimension ${describeValue(d)} at index ${i}`);
    n *= d;
  }
  if (n > 2 ** 40) throw new Error(`${op}: shape [${shape.join(", ")}] is too large`);
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function normAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis)) throw new Error(`${op}: axis must be an integer, got ${axis}`);
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function normAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === "number" ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normAxis(a, rank, op)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new Error(`${op}: repeated axis in [${list.join(", ")}]`);
  return out;
}

export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1)
      throw new Error(`${op}: shapes [${a.join(", ")}] and [${b.join(", ")}] cannot be broadcast (dimension ${i}: ${x} vs ${y})`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Element strides that read `shape` (contiguous) as if broadcast to `target` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const n = target.length;
  const off = n - shape.length;
  const out = new Array<number>(n);
  let acc = 1;
  for (let i = n - 1; i >= 0; i--) {
    const j = i - off;
    if (j < 0) {
      out[i] = 0;
      continue;
    }
    const d = shape[j]!;
    out[i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
