// Optimizers with fused in-place kernels: AdamW (decoupled weight decay, bias correction), SGD; global-norm clipping.
import { native } from "@seekr/native";
import { Tensor, zerosLike, shapeStr } from "./tensor.js";
import { deviceName } from "./device.js";
import { noGrad } from "./autograd.js";
import { checkFinite, checkTensor } from "./ops/check.js";
import { mulScalar } from "./ops/elementwise.js";
import { lowCopyToRefresh, markUpdated } from "./ops/cast.js";

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

function checkParams(op: string, params: readonly Tensor[]): void {
  if (!Array.isArray(params) || params.length === 0) throw new Error(`${op}: needs a non-empty array of parameters`);
  params.forEach((p, i) => {
    if (p.isDisposed) throw new Error(`${op}: parameter ${i} ${shapeStr(p.shape)} was disposed`);
    if (p.dtype !== "float32")
      throw new Error(`${op}: parameter ${i} must be float32, got ${p.dtype} (keep float32 master weights and train with autocast for mixed precision)`);
    if (!p.requiresGrad) throw new Error(`${op}: parameter ${i} ${shapeStr(p.shape)} does not require grad`);
  });
}

/** Clears .grad of every parameter (frees the gradient buffers). */
function zeroGrad(params: readonly Tensor[]): void {
  for (const p of params) {
    if (p.grad) {
      p.grad.dispose();
      p.grad = null;
    }
  }
}

/** AdamW as in torch.optim.AdamW (single-tensor path): p -= lr*wd*p; Adam update with bias correction. */
export class AdamW {
  readonly params: readonly Tensor[];
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private m: Tensor[] | null = null;
  private v: Tensor[] | null = null;
  stepCount = 0;

  constructor(params: readonly Tensor[], opts: AdamWOptions = {}) {
    checkParams("AdamW", params);
    this.params = [...params];
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 1e-2;
    checkFinite(this.lr, "AdamW", "lr");
    checkFinite(this.eps, "AdamW", "eps");
    checkFinite(this.weightDecay, "AdamW", "weightDecay");
    for (const b of this.betas) if (!(b >= 0 && b < 1)) throw new Error(`AdamW: betas must be in [0, 1), got [${this.betas.join(", ")}]`);
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      if (!this.m) {
        this.m = this.params.map((p) => zerosLike(p).keep());
        this.v = this.params.map((p) => zerosLike(p).keep());
      }
      this.stepCount++;
      const live = this.params.flatMap((p, i) => (p.grad ? [i] : []));
      const { groups, rest } = float32Groups(live.map((i) => this.params[i]!.grad!));
      // float32 gradients: one native call per device (the kernels are the same as one call per parameter).
      for (const g of groups) {
        const idx = g.map((k) => live[k]!);
        // Parameters with a kept autocast cast (a bf16 / f16 copy) get it rewritten in the same pass.
        const copies = idx.map((i) => lowCopyToRefresh(this.params[i]!));
        native.adamwMany(idx.map((i) => this.params[i]!.handle), idx.map((i) => this.params[i]!.grad!.handle),
          idx.map((i) => this.m![i]!.handle), idx.map((i) => this.v![i]!.handle), this.lr, this.betas[0], this.betas[1], this.eps, this.weightDecay, this.stepCount,
          copies.some((c) => c) ? copies.map((c) => c?.handle ?? null) : null);
        idx.forEach((i, k) => markUpdated(this.params[i]!, copies[k]));
      }
      for (const k of rest) {
        const i = live[k]!;
        const p = this.params[i]!;
        native.adamw(p.handle, p.grad!.handle, this.m![i]!.handle, this.v![i]!.handle, this.lr, this.betas[0], this.betas[1], this.eps, this.weightDecay, this.stepCount);
        markUpdated(p);
      }
    });
  }
  zeroGrad(): void {
    zeroGrad(this.params);
  }
  /** Optimizer state (moments and step) for checkpoints; tensors are views of the live state. */
  state(): { step: number; expAvg: Tensor[]; expAvgSq: Tensor[] } {
    return { step: this.stepCount, expAvg: this.m ?? [], expAvgSq: this.v ?? [] };
  }
  loadState(s: { step: number; expAvg: Tensor[]; expAvgSq: Tensor[] }): void {
    if (s.expAvg.length !== this.params.length || s.expAvgSq.length !== this.params.length)
      throw new Error(`AdamW.loadState: state has ${s.expAvg.length} moments for ${this.params.length} parameters`);
    this.dispose();
    this.m = s.expAvg.map((t, i) => copyLike(t, this.params[i]!));
    this.v = s.expAvgSq.map((t, i) => copyLike(t, this.params[i]!));
    this.stepCount = s.step;
  }
  dispose(): void {
    this.m?.forEach((t) => t.dispose());
    this.v?.forEach((t) => t.dispose());
    this.m = this.v = null;
  }
}

function copyLike(src: Tensor, p: Tensor): Tensor {
  if (src.size !== p.size) throw new Error(`optimizer state ${shapeStr(src.shape)} does not match parameter ${shapeStr(p.shape)}`);
  const t = zerosLike(p).keep();
  native.copy(t.handle, src.handle);
  return t;
}

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** SGD as in torch.optim.SGD (momentum, dampening, weight decay, Nesterov). */
export class SGD {
  readonly params: readonly Tensor[];
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private buf: Tensor[] | null = null;
  private first = true;

  constructor(params: readonly Tensor[], opts: SGDOptions = {}) {
    checkParams("SGD", params);
    this.params = [...params];
    this.lr = opts.lr ?? 1e-2;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    checkFinite(this.lr, "SGD", "lr");
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new Error("SGD: Nesterov momentum requires a momentum and zero dampening");
  }
  step(): void {
    noGrad(() => {
      this.buf ??= this.params.map((p) => zerosLike(p).keep());
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        native.sgd(p.handle, p.grad.handle, this.buf![i]!.handle, this.lr, this.momentum, this.dampening, this.weightDecay, this.nesterov, this.first);
        markUpdated(p);
      });
      this.first = false;
    });
  }
  zeroGrad(): void {
    zeroGrad(this.params);
  }
  dispose(): void {
    this.buf?.forEach((t) => t.dispose());
    this.buf = null;
  }
}

/**
 * Sum of squares of each tensor (float64, in order): the float32 ones of each device with one native call (one device
 * read-back on a GPU instead of one per tensor), the rest one by one.
 */
function sumSquaresEach(ts: readonly Tensor[]): number[] {
  const out = new Array<number>(ts.length).fill(0);
  const { groups, rest } = float32Groups(ts);
  for (const i of rest) out[i] = native.sumSquares(ts[i]!.handle);
  for (const idx of groups) {
    const sums = native.sumSquaresMany(idx.map((i) => ts[i]!.handle));
    idx.forEach((i, k) => (out[i] = sums[k]!));
  }
  return out;
}

/** x *= s for each tensor: the float32 ones of each device in one native call, the rest one by one. */
function scaleEach(ts: readonly Tensor[], s: number): void {
  const { groups, rest } = float32Groups(ts);
  for (const idx of groups) native.scaleMany(idx.map((i) => ts[i]!.handle), s);
  for (const i of rest) native.scaleInPlace(ts[i]!.handle, s);
}

/** Positions of the float32 tensors grouped by device (for the multi-tensor native calls), and of the others. */
function float32Groups(ts: readonly Tensor[]): { groups: number[][]; rest: number[] } {
  const byDevice = new Map<string, number[]>();
  const rest: number[] = [];
  ts.forEach((t, i) => {
    if (t.dtype !== "float32") return void rest.push(i);
    const key = deviceName(t.device);
    const g = byDevice.get(key);
    if (g) g.push(i);
    else byDevice.set(key, [i]);
  });
  return { groups: [...byDevice.values()], rest };
}

/**
 * Scales all gradients in place so that their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_:
 * factor maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  checkFinite(maxNorm, "clipGradNorm", "maxNorm");
  let sq = 0;
  for (const s of sumSquaresEach(params.flatMap((p) => (p.grad ? [p.grad] : [])))) sq += s;
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) scaleEach(params.flatMap((p) => (p.grad ? [p.grad] : [])), coef);
  return norm;
}

export interface GradScalerOptions {
  /** Starting loss scale (PyTorch: 2^16). */
  initScale?: number;
  /** Factor the scale grows by after growthInterval steps without overflow (2). */
  growthFactor?: number;
  /** Factor the scale shrinks by after a step whose gradients overflowed (0.5). */
  backoffFactor?: number;
  /** Overflow-free steps before the scale grows (2000). */
  growthInterval?: number;
  /** false: scale() returns the loss unchanged and step() always steps (for float32 / bfloat16 runs). */
  enabled?: boolean;
}

/** The scaler's state, for checkpoints. */
export interface GradScalerState {
  scale: number;
  growthTracker: number;
}

/**
 * Dynamic loss scaling for float16 mixed precision, as torch.cuda.amp.GradScaler: multiply the loss by `scale` before
 * backward so small gradients survive float16; unscale() divides the gradients back (before clipping) and checks them
 * for inf / NaN; step() skips the optimizer step when they overflowed; update() halves the scale after an overflow and
 * doubles it after growthInterval clean steps. One scaler per optimizer.
 */
export class GradScaler {
  scale: number;
  growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  private unscaled = false;
  private foundInf = false;

  constructor(opts: GradScalerOptions = {}) {
    if (opts === null || typeof opts !== "object") throw new Error(`GradScaler: options must be an object, got ${opts === null ? "null" : typeof opts}`);
    this.scale = opts.initScale ?? 2 ** 16;
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    this.enabled = opts.enabled ?? true;
    if (!(Number.isFinite(this.scale) && this.scale > 0)) throw new Error(`GradScaler: initScale must be a positive finite number, got ${this.scale}`);
    if (!(this.growthFactor > 1 && Number.isFinite(this.growthFactor))) throw new Error(`GradScaler: growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) throw new Error(`GradScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval >= 1))
      throw new Error(`GradScaler: growthInterval must be a positive integer, got ${this.growthInterval}`);
  }

  /** loss * scale (a new tensor in the graph), or loss itself when disabled. */
  scaleLoss(loss: Tensor): Tensor {
    checkTensor(loss, "GradScaler.scaleLoss", "loss");
    if (!this.enabled) return loss;
    return mulScalar(loss, this.scale);
  }

  /**
   * Divides every gradient by the scale, in place, once per step, and records whether any is inf or NaN. Call it
   * before clipGradNorm; step() calls it when you did not. Returns true when the gradients overflowed.
   */
  unscale(params: readonly Tensor[]): boolean {
    if (!Array.isArray(params)) throw new Error(`GradScaler.unscale: params must be an array of tensors, got ${params === null ? "null" : typeof params}`);
    params.forEach((p, i) => checkTensor(p, "GradScaler.unscale", `params[${i}]`));
    if (!this.enabled || this.unscaled) return this.foundInf;
    const inv = 1 / this.scale;
    const grads = params.flatMap((p) => (p.grad ? [p.grad] : []));
    scaleEach(grads, inv);
    const bad = sumSquaresEach(grads).some((s) => !Number.isFinite(s));
    this.unscaled = true;
    this.foundInf = bad;
    return bad;
  }

  /** Unscales (when not done yet) and runs optimizer.step() unless the gradients overflowed; true when it stepped. */
  step(optimizer: { params: readonly Tensor[]; step(): void }): boolean {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    const bad = this.unscale(optimizer.params);
    if (!bad) optimizer.step();
    return !bad;
  }

  /** Adjusts the scale after a step (backoff on overflow, growth after growthInterval clean steps). */
  update(): void {
    if (!this.enabled) return;
    if (this.foundInf) {
      this.scale *= this.backoffFactor;
      this.growthTracker = 0;
    } else if (++this.growthTracker >= this.growthInterval) {
      this.scale *= this.growthFactor;
      this.growthTracker = 0;
    }
    this.unscaled = false;
    this.foundInf = false;
  }

  state(): GradScalerState {
    return { scale: this.scale, growthTracker: this.growthTracker };
  }
  load(s: GradScalerState): void {
    if (!s || !(Number.isFinite(s.scale) && s.scale > 0) || !(Number.isInteger(s.growthTracker) && s.growthTracker >= 0))
      throw new Error(`GradScaler.load: expected { scale > 0, growthTracker >= 0 integer }, got ${JSON.stringify(s)}`);
    this.scale = s.scale;
    this.growthTracker = s.growthTracker;
  }
}
