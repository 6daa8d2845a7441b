// Seeded random tensors: counter-based (seed, offset) draws, identical on every device and run.
import { native } from "@seekr/native";
import { Tensor, empty, type TensorOptions } from "./tensor.js";
import { checkShape } from "./shape.js";

/** A random stream: each draw advances the offset by the number of elements drawn. */
export class Generator {
  private offset = 0;
  constructor(readonly seed: number) {
    if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`Generator: seed must be a non-negative safe integer, got ${typeof seed === "number" ? seed : typeof seed}`);
  }
  /** The stream position (save it with a checkpoint to resume the same draws). */
  get state(): { seed: number; offset: number } {
    return { seed: this.seed, offset: this.offset };
  }
  set state(s: { seed: number; offset: number }) {
    if (s.seed !== this.seed) throw new Error(`Generator: state is for seed ${s.seed}, this generator has seed ${this.seed}`);
    this.offset = s.offset;
  }
  private take(n: number): number {
    const o = this.offset;
    this.offset += n;
    return o;
  }
  uniform(shape: readonly number[], low = 0, high = 1, opts: TensorOptions = {}): Tensor {
    checkShape(shape, "uniform");
    const t = empty(shape, "float32", opts.device);
    native.randomUniform(t.handle, this.seed, this.take(t.size), low, high);
    if (opts.requiresGrad) t.requiresGrad = true;
    return t;
  }
  normal(shape: readonly number[], mean = 0, std = 1, opts: TensorOptions = {}): Tensor {
    checkShape(shape, "normal");
    const t = empty(shape, "float32", opts.device);
    native.randomNormal(t.handle, this.seed, this.take(t.size), mean, std);
    if (opts.requiresGrad) t.requiresGrad = true;
    return t;
  }
  /** Integers in [low, high) as int32. */
  randint(shape: readonly number[], low: number, high: number, opts: TensorOptions = {}): Tensor {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new Error(`randint: need integers low < high, got ${low}, ${high}`);
    const u = this.uniform(shape, 0, 1);
    const data = u.dataSync() as Float32Array;
    u.dispose();
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Math.min(high - 1, low + Math.floor(data[i]! * (high - low)));
    const t = empty(shape, "int32", opts.device);
    native.upload(t.handle, out);
    return t;
  }
}

let defaultGen = new Generator(0);
/** Re-seeds the default generator used by randn / rand. */
export function manualSeed(seed: number): void {
  defaultGen = new Generator(seed);
}
export function randn(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return defaultGen.normal(shape, 0, 1, opts);
}
export function rand(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return defaultGen.uniform(shape, 0, 1, opts);
}
