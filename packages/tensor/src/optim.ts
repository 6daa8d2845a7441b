// Optimizers with fused in-place kernels: AdamW (decoupled weight decay, bias correction), SGD; global-norm clipping.
import { native } from "@seekr/native";
import { Tensor, zerosLike, shapeStr } from "./tensor.js";
import { noGrad } from "./autograd.js";
import { checkFinite } from "./ops/check.js";

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
    if (p.dtype !== "float32") throw new Error(`${op}: parameter ${i} must be float32, got ${p.dtype}`);
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
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        native.adamw(p.handle, p.grad.handle, this.m![i]!.handle, this.v![i]!.handle, this.lr, this.betas[0], this.betas[1], this.eps, this.weightDecay, this.stepCount);
      });
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
 * Scales all gradients in place so that their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_:
 * factor maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  checkFinite(maxNorm, "clipGradNorm", "maxNorm");
  let sq = 0;
  for (const p of params) if (p.grad) sq += native.sumSquares(p.grad.handle);
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const p of params) if (p.grad) native.scaleInPlace(p.grad.handle, coef);
  return norm;
}
