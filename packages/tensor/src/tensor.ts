// The Tensor: shape, dtype, device, a ref-counted native buffer, autograd links; creation, read-back, printing.
import { native, type Handle } from "@seekr/native";
import { DTYPE_CODE, DTYPE_SIZE, f32ToBf16Bits as encodeBf16, f32ToF16Bits as encodeF16, type DType } from "./dtype.js";
import { CPU, deviceName, parseDevice, sameDevice, type Device, type DeviceLike } from "./device.js";
import { formatTensor } from "./format.js";
import { shapeSize, checkShape } from "./shape.js";
import * as scope from "./scope.js";

/** A native buffer shared by tensors that are views of the same data (reshape); freed when the last ref goes. */
export class Storage {
  refs = 1;
  /**
   * @internal Bumped by every in-place update of the buffer through @seekr/tensor (optimizer steps): a cached cast of
   * the buffer (lowCopies) is current while its version matches.
   */
  version = 0;
  /** @internal autocast's kept casts of this buffer (a parameter's bfloat16 / float16 copy), by dtype. */
  lowCopies: Map<string, { copy: Tensor; version: number }> | null = null;
  constructor(
    readonly handle: Handle,
    readonly numel: number,
    readonly dtype: DType,
    readonly device: Device,
  ) {}
  retain(): this {
    if (this.refs <= 0) throw new Error("internal: retain of a freed buffer");
    this.refs++;
    return this;
  }
  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      native.dispose(this.handle);
      scope.liveBuffers.size--;
      if (this.lowCopies) {
        for (const e of this.lowCopies.values()) e.copy.dispose();
        this.lowCopies = null;
      }
    }
  }
  get bytes(): number {
    return this.numel * DTYPE_SIZE[this.dtype];
  }
}

/** A node of the autograd graph: how to turn the output's gradient into its inputs' gradients. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Returns one gradient per input (null where the input needs none). Must not dispose `grad`. */
  backward(grad: Tensor, ctx?: { pending(i: number): Tensor | null }): Array<Tensor | null>;
  /** Frees tensors saved for backward. */
  release(): void;
}

let nextId = 1;

export type NestedArray = number | NestedArray[];
export type TensorData = NestedArray | Float32Array | Int32Array | Uint16Array | number[];

export interface TensorOptions {
  dtype?: DType;
  device?: DeviceLike;
  requiresGrad?: boolean;
  shape?: readonly number[];
}

export class Tensor {
  readonly [scope.TENSOR_BRAND] = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  /** Gradient accumulated by backward() on leaves that require it. */
  grad: Tensor | null = null;
  /** The op that produced this tensor (null for leaves and under noGrad). */
  node: GradNode | null = null;
  requiresGrad: boolean;
  /** @internal Number of live graph nodes that read this tensor (a disposed tensor keeps its graph while > 0). */
  _consumers = 0;
  /** Set for parameters and other tensors that scopes must not free. */
  kept = false;
  private _storage: Storage | null;
  name: string | undefined;
  /** @internal The scope (tidy) that tracks this tensor, or null (see scope.ts). */
  _scope: Set<Tensor> | null = null;
  /** @internal Whether the finalization registry knows this tensor (see scope.ts). */
  _registered = false;

  /**
   * @internal Use the creation functions (tensor, zeros, ...) instead. `detached`: not tracked by any scope (tidy),
   * as if detachFromScope() had been called on it right away; its owner disposes it.
   */
  constructor(storage: Storage, shape: readonly number[], requiresGrad = false, detached = false) {
    this._storage = storage;
    // A frozen shape (another tensor's) can be shared as it is; anything else is copied and frozen.
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.dtype = storage.dtype;
    this.device = storage.device;
    this.requiresGrad = requiresGrad;
    if (detached) scope.trackDetached(this);
    else scope.track(this);
  }

  get storage(): Storage {
    if (!this._storage) throw new Error(`tensor #${this.id} ${shapeStr(this.shape)} was disposed`);
    return this._storage;
  }
  /** @internal The native handle (throws if disposed). */
  get handle(): Handle {
    const s = this._storage;
    if (!s) throw new Error(`tensor #${this.id} ${shapeStr(this.shape)} was disposed`);
    return s.handle;
  }
  get isDisposed(): boolean {
    return this._storage === null;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    // Every tensor's shape covers its whole buffer (views share a buffer only with tensors of the same size).
    return this._storage ? this._storage.numel : shapeSize(this.shape);
  }
  get bytes(): number {
    return this.size * DTYPE_SIZE[this.dtype];
  }
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** Frees the buffer (shared views keep it alive until they are disposed too). Idempotent. */
  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    // The graph node stays while a node of another tensor reads this one (a later backward() through that tensor
    // needs it); otherwise nothing can reach it any more and it is released now, with what it saved.
    if (this.node && this._consumers === 0) this.node.release();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    scope.untrack(this);
  }

  /** Marks the tensor as kept: scopes (tidy) will not dispose it. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /** A copy of the data as a typed array (synchronous; copies from the device). */
  dataSync(): Float32Array | Int32Array | Uint16Array {
    return native.download(this.handle);
  }
  /** The data as (nested) JavaScript arrays; bf16/f16 are decoded to numbers. */
  toArray(): NestedArray {
    const data = this.toFloatArray();
    return nest(data, this.shape, 0, 0) as NestedArray;
  }
  /** Values as numbers (bf16/f16 decoded) in a flat array. */
  toFloatArray(): Float32Array | Int32Array {
    const d = this.dataSync();
    if (d instanceof Uint16Array) {
      return decodeHalf(d, this.dtype);
    }
    return d;
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements ${shapeStr(this.shape)}, expected 1`);
    return this.toFloatArray()[0]!;
  }
  toString(): string {
    if (this.isDisposed) return `tensor(<disposed>, shape=${shapeStr(this.shape)})`;
    return formatTensor(this.toFloatArray(), this.shape, this.dtype, deviceName(this.device), this.requiresGrad);
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  /**
   * @internal A new tensor sharing this one's buffer with another shape of the same size (no autograd link).
   * `detached`: the view is tracked by no scope (autograd's saved tensors and gradients; see the constructor).
   */
  _viewAs(shape: readonly number[], detached = false): Tensor {
    return new Tensor(this.storage.retain(), shape, false, detached);
  }
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function nest(data: ArrayLike<number>, shape: readonly number[], dim: number, offset: number): NestedArray {
  if (dim === shape.length) return data[offset]!;
  const n = shape[dim]!;
  let stride = 1;
  for (let i = dim + 1; i < shape.length; i++) stride *= shape[i]!;
  const out: NestedArray[] = [];
  for (let i = 0; i < n; i++) out.push(nest(data, shape, dim + 1, offset + i * stride));
  return out;
}

function decodeHalf(d: Uint16Array, dtype: DType): Float32Array {
  // Lazy import avoidance: small inline decoders.
  const out = new Float32Array(d.length);
  const u = new Uint32Array(out.buffer);
  if (dtype === "bfloat16") {
    for (let i = 0; i < d.length; i++) u[i] = d[i]! << 16;
  } else {
    for (let i = 0; i < d.length; i++) {
      const h = d[i]!;
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >>> 10) & 0x1f;
      const mant = h & 0x3ff;
      out[i] = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Allocation and creation

/** @internal An uninitialised tensor. */
export function empty(shape: readonly number[], dtype: DType = "float32", device: DeviceLike = CPU): Tensor {
  return alloc(shape, dtype, device, "empty", false);
}

/** @internal empty() for a tensor that no scope tracks (as if detachFromScope() were called on it): its owner
 * (autograd) disposes it. */
export function emptyDetached(shape: readonly number[], dtype: DType, device: DeviceLike): Tensor {
  return alloc(shape, dtype, device, "empty", true);
}

function alloc(shape: readonly number[], dtype: DType, device: DeviceLike, op: string, detached: boolean): Tensor {
  const n = checkShape(shape, op);
  const code = DTYPE_CODE[dtype];
  if (typeof dtype !== "string" || typeof code !== "number") throw new Error(`${op}: unknown dtype ${JSON.stringify(dtype)}`);
  const dev = device === CPU ? CPU : parseDevice(device);
  const handle = native.alloc(dev.type === "cpu" ? 0 : 1, dev.index, code, n);
  const s = new Storage(handle, n, dtype, dev);
  scope.liveBuffers.size++;
  return new Tensor(s, shape, false, detached);
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], out: number[], dim: number, path: string): void {
  if (dim === shape.length) {
    if (typeof data !== "number") throw new Error(`tensor(): expected a number at ${path || "top level"}, got ${Array.isArray(data) ? "an array" : typeof data}`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim])
    throw new Error(`tensor(): ragged nested array at ${path || "top level"}: expected length ${shape[dim]}, got ${Array.isArray(data) ? data.length : typeof data}`);
  for (let i = 0; i < data.length; i++) flatten(data[i]!, shape, out, dim + 1, `${path}[${i}]`);
}

/** Creates a tensor from nested arrays or a typed array (with `shape`). */
export function tensor(data: TensorData, opts: TensorOptions = {}): Tensor {
  let shape: number[];
  let flat: ArrayLike<number>;
  let dtype: DType | undefined = opts.dtype;
  if (data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint16Array) {
    shape = opts.shape ? [...opts.shape] : [data.length];
    flat = data;
    if (!dtype) dtype = data instanceof Int32Array ? "int32" : data instanceof Float32Array ? "float32" : undefined;
    if (!dtype) throw new Error("tensor(): a Uint16Array needs dtype 'bfloat16' or 'float16'");
  } else {
    const nested = data as NestedArray;
    shape = inferShape(nested);
    const out: number[] = [];
    flatten(nested, shape, out, 0, "");
    flat = out;
    if (opts.shape) {
      if (shapeSize(opts.shape) !== out.length)
        throw new Error(`tensor(): data has ${out.length} values but shape ${shapeStr(opts.shape)} needs ${shapeSize(opts.shape)}`);
      shape = [...opts.shape];
    }
  }
  dtype ??= "float32";
  checkShape(shape, "tensor");
  if (shapeSize(shape) !== flat.length)
    throw new Error(`tensor(): data has ${flat.length} values but shape ${shapeStr(shape)} needs ${shapeSize(shape)}`);
  const t = empty(shape, dtype, opts.device);
  let host: Float32Array | Int32Array | Uint16Array;
  if (dtype === "float32") host = flat instanceof Float32Array ? flat : Float32Array.from(flat);
  else if (dtype === "int32") {
    if (!(flat instanceof Int32Array)) {
      for (let i = 0; i < flat.length; i++)
        if (!Number.isInteger(flat[i]!)) throw new Error(`tensor(): int32 data must be integers, got ${flat[i]} at index ${i}`);
    }
    host = flat instanceof Int32Array ? flat : Int32Array.from(flat);
  } else {
    if (flat instanceof Uint16Array) host = flat;
    else {
      const enc = dtype === "bfloat16" ? encodeBf16 : encodeF16;
      host = new Uint16Array(flat.length);
      for (let i = 0; i < flat.length; i++) host[i] = enc(flat[i]!);
    }
  }
  native.upload(t.handle, host);
  if (opts.requiresGrad) requireGradOn(t);
  return t;
}

function requireGradOn(t: Tensor): void {
  if (t.dtype !== "float32") throw new Error(`requiresGrad needs a float32 tensor, got ${t.dtype}`);
  t.requiresGrad = true;
}

export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  if (typeof value !== "number") throw new Error(`full(): value must be a number, got ${typeof value}`);
  if (opts.dtype === "int32" && !(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647))
    throw new Error(`full(): int32 value must be an integer in the int32 range, got ${value}`);
  const t = empty(shape, opts.dtype ?? "float32", opts.device);
  // Filled where it lives (a kernel on a GPU: no host array, no upload); half dtypes take value rounded to nearest even.
  native.fill(t.handle, value);
  if (opts.requiresGrad) requireGradOn(t);
  return t;
}
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}
export function scalar(value: number, opts: TensorOptions = {}): Tensor {
  return full([], value, opts);
}
export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, { dtype: t.dtype, device: t.device });
}
export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, device: t.device });
}
/** 0, 1, ..., n-1 (int32 unless dtype says otherwise). */
export function arange(n: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new Error(`arange: n must be a non-negative integer, got ${n}`);
  const dtype = opts.dtype ?? "int32";
  const data = dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = i;
  return tensor(data, { ...opts, dtype, shape: [n] });
}

/** Copies a tensor to another device (or returns a clone when already there). Not differentiable across devices. */
export function copyTo(t: Tensor, device: DeviceLike): Tensor {
  const dev = parseDevice(device);
  const out = empty(t.shape, t.dtype, dev);
  native.copy(out.handle, t.handle);
  return out;
}
export function isSameDevice(a: Tensor, b: Tensor): boolean {
  return sameDevice(a.device, b.device);
}
