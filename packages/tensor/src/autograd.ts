// Reverse-mode autograd: recording ops on a graph of GradNodes, backward(), noGrad scopes, grad helpers.
import { Tensor, type GradNode, emptyDetached, ones, shapeStr } from "./tensor.js";
import { sameShape } from "./shape.js";
import { type DType, isFloatDType } from "./dtype.js";
import * as scope from "./scope.js";
import { native } from "@seekr/native";

let gradEnabled = true;
/** > 0 while backward() runs: nodes are then released by backward itself, in order. */
let backwardDepth = 0;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off (no graph is built). */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== "function") throw new Error(`noGrad: expected a function, got ${fn === null ? "null" : typeof fn}`);
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}
/** Runs fn with gradient recording on (inside a noGrad, say). */
export function enableGrad<T>(fn: () => T): T {
  if (typeof fn !== "function") throw new Error(`enableGrad: expected a function, got ${fn === null ? "null" : typeof fn}`);
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** A new tensor sharing t's buffer, untracked by scopes: kept alive for a backward pass. */
function saveForBackward(t: Tensor): Tensor {
  const s = t._viewAs(t.shape, true);
  s.kept = true;
  return s;
}

/**
 * What a backward function may ask of the engine while it runs (its third argument).
 * `pending(i)`: the gradient accumulated so far for input i by the nodes that ran before — a buffer of its own with
 * input i's shape and dtype — or null (none yet, or the input needs no gradient). A backward function may add its
 * contribution for input i into that buffer in place (a GEMM with beta = 1, a kernel's accumulate flag) and return
 * that very tensor as input i's gradient: the engine then knows it was added and skips its own accumulation pass.
 */
export interface GradContext {
  pending(i: number): Tensor | null;
  /**
   * `final(i)`: true when no node after this one adds to input i's gradient in this backward pass, so that what this
   * backward function returns for input i (added into pending(i) when there is one) completes that gradient. A
   * backward function may then derive more from the complete gradient in the same pass (a rounded copy for the op
   * that produced input i, say). False when unknown; always false outside backward().
   */
  final(i: number): boolean;
  /**
   * `accumulated(i)`: true when nodes that ran before this one have already given input i a gradient (pending(i)
   * lends it only when it is a buffer of its own; this says whether there is one at all).
   */
  accumulated(i: number): boolean;
}

export interface RecordOptions {
  /** Tensors the backward function needs (kept alive until the graph is released). */
  save?: readonly Tensor[];
}

/**
 * Attaches a GradNode to `out` when recording is on and an input requires grad.
 * `backward(grad, saved)` returns one gradient per input (null when none); intermediates it creates are freed.
 */
export function record(
  op: string,
  out: Tensor,
  inputs: readonly Tensor[],
  backward: (grad: Tensor, saved: readonly Tensor[], ctx: GradContext) => Array<Tensor | null>,
  opts: RecordOptions = {},
): Tensor {
  if (typeof op !== "string") throw new Error("record: op must be a string");
  if (!scope.isTensorLike(out)) throw new Error(`record(${op}): out must be a Tensor`);
  if (!Array.isArray(inputs)) throw new Error(`record(${op}): inputs must be an array of Tensors`);
  let anyGrad = false;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (!(t instanceof Tensor) && !scope.isTensorLike(t)) throw new Error(`record(${op}): inputs must be an array of Tensors`);
    if (t.requiresGrad) anyGrad = true;
  }
  if (typeof backward !== "function") throw new Error(`record(${op}): backward must be a function`);
  const save = opts === null || typeof opts !== "object" ? null : opts.save;
  if (save === null || (save !== undefined && !(Array.isArray(save) && save.every((t) => t instanceof Tensor || scope.isTensorLike(t)))))
    throw new Error(`record(${op}): options.save must be an array of Tensors`);
  if (!gradEnabled || !anyGrad) return out;
  const saved: Tensor[] = [];
  if (save) for (let i = 0; i < save.length; i++) saved.push(saveForBackward(save[i]!));
  let released = false;
  const ins = [...inputs];
  for (const t of ins) t._consumers++;
  const node: GradNode = {
    op,
    inputs: ins,
    backward(grad: Tensor, ctx: GradContext = NO_PENDING) {
      if (released)
        throw new Error(
          `backward through '${op}' a second time: its saved tensors were freed after the first backward (use backward({ retainGraph: true }))`,
        );
      return backward(grad, saved, ctx);
    },
    release() {
      if (released) return;
      released = true;
      for (const s of saved) s.dispose();
      // An input that was disposed and that no other node reads can let go of its own graph (outside backward,
      // which releases every node it passes itself).
      for (const t of ins) {
        t._consumers--;
        if (t._consumers === 0 && t.isDisposed && t.node && backwardDepth === 0) t.node.release();
      }
    },
  };
  out.node = node;
  out.requiresGrad = true;
  return out;
}

export interface BackwardOptions {
  /** Gradient of the output (defaults to ones for a one-element tensor). */
  grad?: Tensor;
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const inp = inputs[i]!;
      if (inp.requiresGrad && !visited.has(inp)) {
        visited.add(inp);
        stack.push([inp, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

const NO_PENDING: GradContext = { pending: () => null, final: () => false, accumulated: () => false };

/** A gradient that shares its buffer with another tensor is copied before it may be accumulated into in place. */
function owned(g: Tensor): Tensor {
  if (g.storage.refs === 1) return g;
  const c = emptyDetached(g.shape, g.dtype, g.device);
  native.copy(c.handle, g.handle);
  g.dispose();
  return c;
}

/** g converted to dtype in a new buffer of its own (no graph). */
function castRaw(g: Tensor, dtype: DType): Tensor {
  const c = emptyDetached(g.shape, dtype, g.device);
  native.cast(c.handle, g.handle);
  return c;
}

function accumulateInto(target: Tensor, g: Tensor): void {
  native.axpyInPlace(target.handle, g.handle, 1);
}

/** Computes gradients of `root` w.r.t. every leaf that requires grad, accumulating into leaf.grad. */
export function backward(root: Tensor, opts: BackwardOptions = {}): void {
  if (!scope.isTensorLike(root)) throw new Error(`backward: expected a Tensor, got ${root === null ? "null" : typeof root}`);
  if (root.isDisposed) throw new Error(`backward: the tensor ${shapeStr(root.shape)} was disposed`);
  if (opts === null || typeof opts !== "object") throw new Error("backward: options must be an object");
  if (opts.grad !== undefined && !scope.isTensorLike(opts.grad)) throw new Error("backward: { grad } must be a Tensor");
  if (!root.requiresGrad) throw new Error(`backward(): the tensor ${shapeStr(root.shape)} does not require grad (no input requires grad, or it was computed under noGrad)`);
  if (!opts.grad && root.size !== 1)
    throw new Error(`backward(): the tensor has shape ${shapeStr(root.shape)}; pass { grad } for a non-scalar output`);
  if (opts.grad && !sameShape(opts.grad.shape, root.shape))
    throw new Error(`backward(): grad shape ${shapeStr(opts.grad.shape)} does not match output shape ${shapeStr(root.shape)}`);
  backwardDepth++;
  try {
    noGrad(() => backwardImpl(root, opts));
  } finally {
    backwardDepth--;
  }
}

function backwardImpl(root: Tensor, opts: BackwardOptions): void {
  {
    const order = topoOrder(root);
    const grads = new Map<Tensor, Tensor>();
    const seed = opts.grad ? opts.grad._viewAs(root.shape) : ones(root.shape, { device: root.device, dtype: root.dtype });
    scope.detachFromScope(seed);
    grads.set(root, seed);
    // The position in `order` of the last node that reads each tensor (GradContext.final): nodes later in the order
    // run later, so after that one no other node adds to the tensor's gradient. Built on the first final() call.
    let lastReader: Map<Tensor, number> | null = null;
    const lastReaders = (): Map<Tensor, number> => {
      if (!lastReader) {
        lastReader = new Map();
        order.forEach((t, k) => {
          if (t.node) for (const inp of t.node.inputs) lastReader!.set(inp, k);
        });
      }
      return lastReader;
    };
    for (let k = 0; k < order.length; k++) {
      const t = order[k]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (!node) {
        // A leaf: accumulate into .grad.
        if (t.grad && !t.grad.isDisposed) {
          accumulateInto(t.grad, g);
          g.dispose();
        } else {
          const own = owned(g);
          own.kept = true;
          t.grad = own;
        }
        continue;
      }
      // Pending gradients lent to the backward function (GradContext): one it returns as an input's gradient was
      // accumulated into in place.
      let lent: Tensor[] | null = null;
      const ctx: GradContext = {
        pending(i: number): Tensor | null {
          const inp = node.inputs[i];
          if (!inp || !inp.requiresGrad) return null;
          const prev = grads.get(inp);
          if (!prev || prev.isDisposed || prev.storage.refs !== 1) return null;
          (lent ??= []).push(prev);
          return prev;
        },
        final(i: number): boolean {
          const inp = node.inputs[i];
          return !!inp && inp.requiresGrad && lastReaders().get(inp) === k;
        },
        accumulated(i: number): boolean {
          const inp = node.inputs[i];
          return !!inp && grads.has(inp);
        },
      };
      const returned = scope.tidy(() => node.backward(g, ctx));
      const added = (r: Tensor | null | undefined): boolean => !!r && lent !== null && lent.includes(r);
      // A lent buffer comes back only as the gradient of an input whose pending gradient it is (the same tensor may
      // be several inputs); anywhere else it would be counted twice, or freed while the map still holds it.
      if (lent !== null)
        returned.forEach((r, i) => {
          if (added(r) && grads.get(node.inputs[i]!) !== r)
            throw new Error(`record('${node.op}'): backward returned a pending gradient (GradContext.pending) as the gradient of input ${i}, whose pending gradient it is not`);
        });
      // Each input gets a tensor object of its own (a backward may return the same tensor, or g, twice).
      const inputGrads = returned.map((r) => {
        if (!r || added(r)) return null;
        return r._viewAs(r.shape, true);
      });
      for (const r of new Set(returned)) if (!added(r)) r?.dispose();
      g.dispose();
      if (!opts.retainGraph) node.release();
      // Gradients that are cast or accumulated first: each frees its view, so that a gradient kept as it is below
      // (the pass-through of an add, say) is more often the only user of its buffer and needs no copy (owned()).
      const keepAsIs: number[] = [];
      for (let i = 0; i < node.inputs.length; i++) {
        const inp = node.inputs[i]!;
        const gi = inputGrads[i];
        if (!gi) continue;
        if (!inp.requiresGrad) {
          gi.dispose();
          continue;
        }
        if (!sameShape(gi.shape, inp.shape))
          throw new Error(`internal: '${node.op}' produced a gradient of shape ${shapeStr(gi.shape)} for an input of shape ${shapeStr(inp.shape)}`);
        const prev = grads.get(inp);
        if (!prev && gi.dtype !== inp.dtype) {
          // A gradient has its tensor's dtype (PyTorch's rule): ops that promote (bfloat16 + float32) hand float32
          // gradients to bfloat16 inputs; round them once here. Accumulation below converts in the kernel.
          grads.set(inp, castRaw(gi, inp.dtype));
          gi.dispose();
          continue;
        }
        if (prev) {
          accumulateInto(prev, gi);
          gi.dispose();
        } else keepAsIs.push(i);
      }
      for (const i of keepAsIs) {
        const inp = node.inputs[i]!;
        const gi = inputGrads[i]!;
        const prev = grads.get(inp);
        if (prev) {
          // The same tensor is several inputs of this node (mul(x, x)): the first kept its gradient as it is.
          accumulateInto(prev, gi);
          gi.dispose();
        } else {
          // The gradient buffer may be a view of an upstream gradient: give it a buffer of its own.
          grads.set(inp, owned(gi));
        }
      }
    }
    for (const g of grads.values()) g.dispose();
    if (!opts.retainGraph) {
      // Intermediates that were disposed before backward and fed only released nodes can now let go of their graphs.
      for (const t of order) if (t.isDisposed && t._consumers === 0 && t.node) t.node.release();
    }
  }
}

/**
 * valueAndGrad(fn)(...xs): runs fn on leaf copies of xs that require grad and returns the value and d value / d xs.
 * fn must return a one-element tensor.
 */
export function valueAndGrad(fn: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  if (typeof fn !== "function") throw new Error(`valueAndGrad: expected a function, got ${fn === null ? "null" : typeof fn}`);
  return (...xs: Tensor[]) => {
    xs.forEach((x, i) => {
      if (!scope.isTensorLike(x)) throw new Error(`valueAndGrad: argument ${i} must be a Tensor, got ${x === null ? "null" : typeof x}`);
      if (x.isDisposed) throw new Error(`valueAndGrad: argument ${i} ${shapeStr(x.shape)} was disposed`);
    });
    const leaves = xs.map((x) => {
      if (!isFloatDType(x.dtype))
        throw new Error(`valueAndGrad: inputs must be float tensors (float32, bfloat16, float16), got ${x.dtype}`);
      const l = x._viewAs(x.shape);
      l.requiresGrad = true;
      return l;
    });
    let value: Tensor;
    try {
      value = enableGrad(() => fn(...leaves));
      if (!scope.isTensorLike(value)) throw new Error(`valueAndGrad: the function must return a Tensor, got ${value === null ? "null" : typeof value}`);
      if (value.size !== 1) throw new Error(`valueAndGrad: the function returned a non-scalar tensor of shape ${shapeStr(value.shape)}; it must return a one-element tensor`);
      if (!value.requiresGrad) {
        // The value does not depend on the inputs: every gradient is zero.
        const grads = leaves.map((l) => zerosLikeNoGrad(l));
        for (const l of leaves) l.dispose();
        return { value, grads };
      }
      backward(value);
    } catch (err) {
      for (const l of leaves) {
        l.grad?.dispose();
        l.grad = null;
        l.dispose();
      }
      throw err;
    }
    const grads = leaves.map((l) => {
      const g = l.grad ?? zerosLikeNoGrad(l);
      l.grad = null;
      g.kept = false;
      scope.adopt(g);
      return g;
    });
    for (const l of leaves) l.dispose();
    const v = value._viewAs(value.shape);
    value.dispose();
    return { value: v, grads };
  };
}
/** grad(fn)(...xs): the gradients of fn's (one-element) value w.r.t. each x. */
export function grad(fn: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => Tensor[] {
  if (typeof fn !== "function") throw new Error(`grad: expected a function, got ${fn === null ? "null" : typeof fn}`);
  const vg = valueAndGrad(fn);
  return (...xs: Tensor[]) => {
    const { value, grads } = vg(...xs);
    value.dispose();
    return grads;
  };
}

function zerosLikeNoGrad(t: Tensor): Tensor {
  const z = ones(t.shape, { device: t.device, dtype: t.dtype });
  native.fill(z.handle, 0);
  return z;
}
