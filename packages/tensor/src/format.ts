// Printing tensors the way PyTorch does: nested brackets, aligned columns, 4 decimals, summarised when large.
const EDGE = 3;
const THRESHOLD = 1000;

function fmtNumber(x: number, intLike: boolean, sci: boolean): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (intLike) return String(x);
  if (sci) return x.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
  return x.toFixed(4);
}

export function formatTensor(
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: string,
  device: string,
  requiresGrad: boolean,
): string {
  const n = data.length;
  const summarize = n > THRESHOLD;
  const isInt = dtype === "int32";
  let maxAbs = 0;
  let minAbs = Infinity;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(data[i]!);
    if (Number.isFinite(a)) {
      maxAbs = Math.max(maxAbs, a);
      if (a > 0) minAbs = Math.min(minAbs, a);
    }
  }
  const sci = !isInt && (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs !== Infinity));
  // Like PyTorch: floats that are all whole numbers print as "1.", others with 4 decimals.
  let whole = !isInt && !sci;
  for (let i = 0; i < n && whole; i++) {
    const x = data[i]!;
    if (Number.isFinite(x) && !Number.isInteger(x)) whole = false;
  }
  const strs: string[] = new Array(n);
  let width = 0;
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    strs[i] = whole && Number.isFinite(x) ? `${Object.is(x, -0) ? "-0" : String(x)}.` : fmtNumber(x, isInt, sci);
    if (Number.isFinite(x)) width = Math.max(width, strs[i]!.length);  // like PyTorch: nan/inf do not widen columns
  }
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i]!;
  }
  const indent = "tensor(".length;
  const rec = (dim: number, off: number): string => {
    if (dim === shape.length) return strs[off]!.padStart(width);
    const len = shape[dim]!;
    const idx: Array<number | null> = [];
    if (summarize && len > 2 * EDGE) {
      for (let i = 0; i < EDGE; i++) idx.push(i);
      idx.push(null);
      for (let i = len - EDGE; i < len; i++) idx.push(i);
    } else for (let i = 0; i < len; i++) idx.push(i);
    const parts = idx.map((i) => (i === null ? "..." : rec(dim + 1, off + i * strides[dim]!)));
    if (dim === shape.length - 1) return "[" + parts.join(", ") + "]";
    const sep = "," + "\n".repeat(shape.length - dim - 1) + " ".repeat(indent + dim + 1);
    return "[" + parts.join(sep) + "]";
  };
  const body = shape.length === 0 ? strs[0]! : n === 0 ? "[]" : rec(0, 0);
  const extras: string[] = [];
  if (n === 0 && shape.length !== 1) extras.push(`size=(${shape.join(", ")})`);
  else if (summarize) extras.push(`shape=[${shape.join(", ")}]`);
  if (dtype !== "float32") extras.push(`dtype=${dtype}`);
  if (device !== "cpu") extras.push(`device='${device}'`);
  if (requiresGrad) extras.push("requires_grad=True");
  return `tensor(${body}${extras.length ? ", " + extras.join(", ") : ""})`;
}
