// Reverse-mode autograd: recording ops on a graph of GradNodes, backward(), noGrad scopes, grad helpers.
import { Tensor, type GradNode, empty, ones, shapeStr } from "./tensor.js";
import { sameShape } from "./shape.js";
import * as scope from "./scope.js";
import { native } from "@seekr/native";

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off (no graph is built). */
export function noGrad<T>(fn: () => T): T {
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
  const s = t._viewAs(t.shape);
  scope.detachFromScope(s);
  s.kept = true;
  return s;
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
  backward: (grad: Tensor, saved: readonly Tensor[]) => Array<Tensor | null>,
  opts: RecordOptions = {},
): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  const saved = (opts.save ?? []).map(saveForBackward);
  let released = false;
  const node: GradNode = {
    op,
    inputs: [...inputs],
    backward(grad: Tensor) {
      if (released)
        throw new Error(
          `backward through '${op}' a second time: its saved tensors were freed after the first backward (use backward({ retainGraph: true }))`,
        );
      return backward(grad, saved);
    },
    release() {
      if (released) return;
      released = true;
      for (const s of saved) s.dispose();
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

/** A gradient that shares its buffer with another tensor is copied before it may be accumulated into in place. */
function owned(g: Tensor): Tensor {
  if (g.storage.refs === 1) return g;
  const c = empty(g.shape, g.dtype, g.device);
  scope.detachFromScope(c);
  native.copy(c.handle, g.handle);
  g.dispose();
  return c;
}

function accumulateInto(target: Tensor, g: Tensor): void {
  native.axpyInPlace(target.handle, g.handle, 1);
}

/** Computes gradients of `root` w.r.t. every leaf that requires grad, accumulating into leaf.grad. */
export function backward(root: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error(`backward(): the tensor ${shapeStr(root.shape)} does not require grad (no input requires grad, or it was computed under noGrad)`);
  if (!opts.grad && root.size !== 1)
    throw new Error(`backward(): the tensor has shape ${shapeStr(root.shape)}; pass { grad } for a non-scalar output`);
  if (opts.grad && !sameShape(opts.grad.shape, root.shape))
    throw new Error(`backward(): grad shape ${shapeStr(opts.grad.shape)} does not match output shape ${shapeStr(root.shape)}`);
  noGrad(() => {
    const order = topoOrder(root);
    const grads = new Map<Tensor, Tensor>();
    const seed = opts.grad ? opts.grad._viewAs(root.shape) : ones(root.shape, { device: root.device });
    scope.detachFromScope(seed);
    grads.set(root, seed);
    for (const t of order) {
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
      const returned = scope.tidy(() => node.backward(g));
      // Each input gets a tensor object of its own (a backward may return the same tensor, or g, twice).
      const inputGrads = returned.map((r) => {
        if (!r) return null;
        const v = r._viewAs(r.shape);
        scope.detachFromScope(v);
        return v;
      });
      for (const r of new Set(returned)) r?.dispose();
      g.dispose();
      if (!opts.retainGraph) node.release();
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
        if (prev) {
          accumulateInto(prev, gi);
          gi.dispose();
        } else {
          // The gradient buffer may be a view of an upstream gradient: give it a buffer of its own.
          grads.set(inp, owned(gi));
        }
      }
    }
    for (const g of grads.values()) g.dispose();
  });
}

/**
 * valueAndGrad(fn)(...xs): runs fn on leaf copies of xs that require grad and returns the value and d value / d xs.
 * fn must return a one-element tensor.
 */
export function valueAndGrad(fn: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...xs: Tensor[]) => {
    const leaves = xs.map((x) => {
      if (x.dtype !== "float32") throw new Error(`valueAndGrad: inputs must be float32, got ${x.dtype}`);
      const l = x._viewAs(x.shape);
      l.requiresGrad = true;
      return l;
    });
    const value = enableGrad(() => fn(...leaves));
    backward(value);
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
  const vg = valueAndGrad(fn);
  return (...xs: Tensor[]) => {
    const { value, grads } = vg(...xs);
    value.dispose();
    return grads;
  };
}

function zerosLikeNoGrad(t: Tensor): Tensor {
  const z = ones(t.shape, { device: t.device });
  native.fill(z.handle, 0);
  return z;
}
