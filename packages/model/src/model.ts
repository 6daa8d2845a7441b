// LlamaModel: a LLaMA-style decoder (Hugging Face names and conventions) with attention taps, per-head sensitivity,
// attention distillation, masks with left or right padding, labels with the HF shift, and a KV cache.
import {
  type Device, type DeviceLike, type Tensor, Generator, add, attention, attentionDistill, attentionTapped, concat, copyTo, crossEntropy, deviceName,
  embedding, full, isGradEnabled, linear, mul, parseDevice, reshape, rmsNorm, rope, swiglu, slice, tensor, tidy, shapeStr,
  addRmsNorm, autocastDType,
} from "@seekr/tensor";
import { type LlamaConfig, parameterShapes, validateConfig } from "./config.js";
import { KVCache } from "./cache.js";
import { hostValues, mirroredTensor } from "./host.js";

/** Attention rows to capture in one layer: probabilities P[b, heads[i], rows[b, r], :]. */
export interface LayerTap {
  layer: number;
  /** Query heads (with GQA these are query-head indices). */
  heads: readonly number[];
  /** int32 [B, R]: query positions (0-based, within this forward's tokens) per batch entry. */
  rows: Tensor;
}

/** SEEKR attention distillation in one layer: KL(teacher || student) on the selected (head, row) pairs. */
export interface LayerDistill extends LayerTap {
  /** float32 [B, heads.length, R, Tk]: the teacher's probability rows (e.g. taps of the old model). */
  teacher: Tensor;
  /** Per-layer reduction (default "mean": sum of KL / (B * heads * R), the reference normalisation). */
  reduction?: "mean" | "batchmean" | "sum";
}

/** "all": sum of (dL/dP)^2 over every Tq x Tk entry (the reference code's dense map); "visible": causal, unmasked only. */
export type SensitivityMode = "all" | "visible";

export interface ForwardOptions {
  /**
   * [B, T] int32 or float32, 1 = real token, 0 = padding (left or right). RoPE positions are derived from it (the
   * real tokens of a row get 0, 1, 2, ... as in transformers' generate), padded keys are never attended to, and label
   * positions whose target token is padding are ignored. With a KV cache it may also be [B, past + T].
   */
  attentionMask?: Tensor;
  /**
   * int32 [B, T] labels aligned like Hugging Face's: the loss compares logits[:, t] with labels[:, t + 1] (the model
   * shifts), -100 is ignored, and so is every pair whose input or target position is padding (attentionMask 0);
   * mean cross-entropy over the kept positions (NaN when none is kept).
   */
  labels?: Tensor;
  /** Return logits [B, T, vocab] (default true), or only the last position's [B, 1, vocab] with "last". */
  returnLogits?: boolean | "last";
  /** Attention probability rows to capture (one entry per layer). */
  taps?: readonly LayerTap[];
  /** Per-head sensitivity (sum of (dL/dP)^2, filled in by backward): true = "all" in every layer. */
  sensitivity?: boolean | SensitivityMode | { mode?: SensitivityMode; layers?: readonly number[] };
  /** Attention distillation terms (one entry per layer). */
  distill?: readonly LayerDistill[];
  /** Incremental decoding: past keys/values are read from and the new ones appended to this cache (inference only). */
  kvCache?: KVCache;
  /** int32 [B, T] explicit RoPE positions (overrides the ones derived from the mask and the cache). */
  positions?: Tensor;
}

export interface ForwardResult {
  /** Mean next-token cross-entropy (when labels were given). */
  loss: Tensor | null;
  /** float32 [B, T, vocab] (or [B, 1, vocab] with returnLogits "last"); null when not requested. */
  logits: Tensor | null;
  /** Per tapped layer: float32 [B, heads.length, R, Tk] (not differentiable). */
  taps: Map<number, Tensor>;
  /** Per layer with sensitivity: float32 [B, numAttentionHeads] sum of (dL/dP)^2, zeros until backward() runs. */
  sensitivity: Map<number, Tensor>;
  /** Per layer with sensitivity: float32 [B], the number of entries summed (divide to get the mean). */
  sensitivityCount: Map<number, Tensor>;
  /** Mean over the distilled layers of each layer's reduced loss (the reference normalisation); null without distill. */
  distillLoss: Tensor | null;
  /** Each distilled layer's reduced loss. */
  distillLosses: Map<number, Tensor>;
}

/** What the attention of one layer is asked for (passed to `attend`). */
export interface AttendContext {
  /** float32 [B, Tk] key mask (1 attend, 0 padding), or null when nothing is padded. */
  keyMask: Tensor | null;
  tap: LayerTap | null;
  sensitivity: SensitivityMode | null;
}

export interface AttendResult {
  out: Tensor;
  taps: Tensor | null;
  sensitivity: Tensor | null;
  sensitivityCount: Tensor | null;
}

export interface InitOptions {
  /** Seed of the initialiser (default 0). */
  seed?: number;
  /** Std of the normal init of every matrix (default config.initializerRange). */
  std?: number;
  /** Device of the parameters (default "cpu"); the values are drawn on the host, so they are the same on every device. */
  device?: DeviceLike;
}

/**
 * A LLaMA-style causal decoder: token embedding, numHiddenLayers × (RMSNorm → grouped-query self-attention with
 * rotary embeddings → residual → RMSNorm → SwiGLU MLP → residual), final RMSNorm, lm_head (optionally tied to the
 * embedding). Parameter names, layouts and numerics follow transformers' LlamaForCausalLM.
 */
export class LlamaModel {
  readonly config: LlamaConfig;
  private readonly params: Map<string, Tensor>;
  private dev: Device;
  private disposed = false;

  /**
   * Wraps existing parameters (the model takes ownership: they are kept and made to require grad). Every name of
   * `parameterShapes(config)` must be present with its shape; with tied embeddings lm_head.weight must be absent.
   * All must be on one device, which becomes the model's.
   */
  constructor(config: LlamaConfig, params: Map<string, Tensor>) {
    validateConfig(config);
    this.config = Object.freeze({ ...config, eosTokenId: Array.isArray(config.eosTokenId) ? [...config.eosTokenId] : config.eosTokenId });
    const ordered = new Map<string, Tensor>();
    for (const [name, shape] of parameterShapes(config)) {
      const t = params.get(name);
      if (!t) throw new Error(`LlamaModel: missing parameter '${name}' (expected float32 ${shapeStr(shape)})`);
      if (t.dtype !== "float32") throw new Error(`LlamaModel: parameter '${name}' must be float32, got ${t.dtype}`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
        throw new Error(`LlamaModel: parameter '${name}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)}`);
      if (t.isDisposed) throw new Error(`LlamaModel: parameter '${name}' was disposed`);
      const first = ordered.values().next().value;
      if (first && deviceName(first.device) !== deviceName(t.device))
        throw new Error(`LlamaModel: parameter '${name}' is on ${deviceName(t.device)}, '${first.name}' on ${deviceName(first.device)}: a model's parameters must be on one device`);
      t.keep();
      t.requiresGrad = true;
      t.name = name;
      ordered.set(name, t);
    }
    for (const name of params.keys())
      if (!ordered.has(name))
        throw new Error(`LlamaModel: unexpected parameter '${name}'${name === "lm_head.weight" ? " (tie_word_embeddings is true: lm_head is the embedding)" : ""}`);
    this.params = ordered;
    this.dev = ordered.values().next().value!.device;
  }

  /**
   * A freshly initialised model, as transformers' _init_weights does it: every matrix (embedding, projections,
   * lm_head) ~ Normal(0, initializerRange) drawn in `parameterShapes` order from one seeded Generator, the padding
   * token's embedding row (padTokenId) zeroed, RMSNorm weights 1. Same seed, same config → same weights on every run.
   */
  static init(config: LlamaConfig, opts: InitOptions = {}): LlamaModel {
    validateConfig(config);
    const seed = opts.seed ?? 0;
    const std = opts.std ?? config.initializerRange;
    const device = parseDevice(opts.device);
    const gen = new Generator(seed);
    const params = new Map<string, Tensor>();
    try {
      for (const [name, shape] of parameterShapes(config)) {
        let t: Tensor;
        if (shape.length === 1) t = full(shape, 1, { device });
        else if (name === "model.embed_tokens.weight" && config.padTokenId !== null) {
          const w = gen.normal(shape, 0, std);
          const data = w.dataSync() as Float32Array;
          w.dispose();
          data.fill(0, config.padTokenId * config.hiddenSize, (config.padTokenId + 1) * config.hiddenSize);
          t = tensor(data, { shape, device });
        } else {
          t = gen.normal(shape, 0, std); // drawn on the host: the same values whatever the device
          if (device.type !== "cpu") {
            const d = copyTo(t, device);
            t.dispose();
            t = d;
          }
        }
        params.set(name, t.keep());
      }
    } catch (err) {
      for (const t of params.values()) t.dispose();
      throw err;
    }
    return new LlamaModel(config, params);
  }

  /** Unique parameters by Hugging Face name in checkpoint order (a tied lm_head is not listed separately). */
  parameters(): Map<string, Tensor> {
    this.checkAlive();
    return new Map(this.params);
  }

  /** The parameters as an array (for optimizers and clipGradNorm), in checkpoint order. */
  parameterList(): Tensor[] {
    this.checkAlive();
    return [...this.params.values()];
  }

  /** One parameter by Hugging Face name; "lm_head.weight" resolves to the embedding when tied. */
  parameter(name: string): Tensor {
    this.checkAlive();
    const t = this.params.get(name) ?? (name === "lm_head.weight" && this.config.tieWordEmbeddings ? this.params.get("model.embed_tokens.weight") : undefined);
    if (!t) throw new Error(`LlamaModel: no parameter named '${name}'`);
    return t;
  }

  /** The output projection [vocab, hidden] (the embedding when tied). */
  get lmHead(): Tensor {
    return this.parameter("lm_head.weight");
  }

  /** Total number of parameter values (a tied embedding counted once). */
  get numParameters(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The device of the parameters, where forward computes (its inputs must be there too). */
  get device(): Device {
    return this.dev;
  }

  /**
   * Moves the parameters (and gradients) to `device`, in place: new kept tensors that require grad replace the old
   * ones, which are freed. Tensors taken from the model before (parameterList(), an optimizer's) are then stale:
   * create optimizers after moving. A no-op when the model is already there.
   */
  to(device: DeviceLike): this {
    this.checkAlive();
    const dev = parseDevice(device);
    if (deviceName(dev) === deviceName(this.dev)) return this;
    const moved = new Map<string, Tensor>();
    try {
      for (const [name, t] of this.params) {
        const c = copyTo(t, dev).keep();
        moved.set(name, c);
        c.requiresGrad = t.requiresGrad;
        c.name = name;
        if (t.grad && !t.grad.isDisposed) c.grad = copyTo(t.grad, dev).keep();
      }
    } catch (err) {
      for (const t of moved.values()) t.dispose();
      throw err;
    }
    for (const t of this.params.values()) t.dispose();
    for (const [name, t] of moved) this.params.set(name, t);
    this.dev = dev;
    return this;
  }

  /** A new KV cache sized for this model and a batch of `batchSize` rows. */
  createCache(batchSize: number): KVCache {
    return new KVCache(this.config.numHiddenLayers, batchSize, this.dev);
  }

  /** Frees every parameter (and its gradient). */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error("LlamaModel: used after dispose()");
  }

  /** Refuses an input on another device than the model's. */
  private checkDevice(what: string, t: Tensor): void {
    if (deviceName(t.device) !== deviceName(this.dev))
      throw new Error(
        `LlamaModel.forward: ${what} is on ${deviceName(t.device)} but the model is on ${deviceName(this.dev)}; create the batch on the model's device (e.g. padBatch(..., { device: model.device })) or move the model with model.to("${deviceName(t.device)}")`,
      );
  }

  private P(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`LlamaModel: missing parameter '${name}'`);
    return t;
  }

  /**
   * The forward pass. Everything it allocates besides the returned tensors is freed before it returns (the autograd
   * graph keeps what backward needs), so `forward(...).loss.backward()` works directly; wrap a training step in
   * `tidy` to free the results too.
   */
  forward(ids: Tensor, opts: ForwardOptions = {}): ForwardResult {
    this.checkAlive();
    return tidy(() => this.forwardImpl(ids, opts));
  }

  /**
   * Attention of one layer: q [B, Tq, H, D], k and v [B, Tk, Hkv, D] (rotated, past included). Override in a subclass
   * to substitute a reference implementation (tests compare against eager attention this way).
   */
  protected attend(_layer: number, q: Tensor, k: Tensor, v: Tensor, ctx: AttendContext): AttendResult {
    const keyMask = ctx.keyMask ?? undefined;
    if (!ctx.tap && !ctx.sensitivity) return { out: attention(q, k, v, { causal: true, keyMask }), taps: null, sensitivity: null, sensitivityCount: null };
    const r = attentionTapped(q, k, v, {
      causal: true,
      keyMask,
      ...(ctx.tap ? { taps: { heads: ctx.tap.heads, rows: ctx.tap.rows } } : {}),
      ...(ctx.sensitivity ? { sensitivity: ctx.sensitivity } : {}),
    });
    return r;
  }

  private forwardImpl(ids: Tensor, opts: ForwardOptions): ForwardResult {
    const c = this.config;
    if (!ids || typeof ids !== "object" || ids.dtype !== "int32" || ids.rank !== 2)
      throw new Error(`LlamaModel.forward: ids must be an int32 [batch, time] tensor, got ${ids?.dtype} ${ids ? shapeStr(ids.shape) : ids}`);
    const [B, T] = ids.shape as [number, number];
    if (B === 0 || T === 0) throw new Error(`LlamaModel.forward: ids ${shapeStr(ids.shape)} is empty`);
    this.checkDevice("ids", ids);
    // Checked here when the values are on the host; on a device without a host copy the embedding kernel checks them.
    const idData = hostValues(ids, true);
    if (idData)
      for (let i = 0; i < idData.length; i++) {
        const v = idData[i]!;
        if (v < 0 || v >= c.vocabSize)
          throw new Error(`LlamaModel.forward: ids[${Math.floor(i / T)}, ${i % T}] = ${v} is not a token id in [0, ${c.vocabSize}) (vocab_size)`);
      }
    const cache = opts.kvCache ?? null;
    if (cache) {
      if (cache.isDisposed) throw new Error("LlamaModel.forward: kvCache was disposed");
      if (cache.device && deviceName(cache.device) !== deviceName(this.dev))
        throw new Error(`LlamaModel.forward: kvCache is on ${deviceName(cache.device)} but the model is on ${deviceName(this.dev)}`);
      if (cache.batchSize !== B) throw new Error(`LlamaModel.forward: kvCache is for batch size ${cache.batchSize}, ids ${shapeStr(ids.shape)} has ${B}`);
      if (cache.numLayers !== c.numHiddenLayers) throw new Error(`LlamaModel.forward: kvCache has ${cache.numLayers} layers, the model ${c.numHiddenLayers}`);
      if (isGradEnabled()) throw new Error("LlamaModel.forward: kvCache is for inference; call forward inside noGrad()");
    }
    const past = cache ? cache.length : 0;
    const Tk = past + T;

    // Masks, positions and targets: built on the host (small), uploaded before any kernel of this pass is queued.
    const dev = this.dev;
    const newMask = this.newTokenMask(opts.attentionMask, B, T, past);
    const fullMask = new Int32Array(B * Tk);
    let anyPad = false;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < past; j++) fullMask[b * Tk + j] = cache!.mask[b * past + j]!;
      for (let t = 0; t < T; t++) fullMask[b * Tk + past + t] = newMask[b * T + t]!;
    }
    for (let i = 0; i < fullMask.length; i++) if (fullMask[i] === 0) anyPad = true;
    let positions: Tensor;
    const seenAfter = new Int32Array(B);
    if (opts.positions) {
      const p = opts.positions;
      if (p.dtype !== "int32" || p.size !== B * T) throw new Error(`LlamaModel.forward: positions must be int32 [${B}, ${T}], got ${p.dtype} ${shapeStr(p.shape)}`);
      this.checkDevice("positions", p);
      positions = p;
      for (let b = 0; b < B; b++) {
        let s = cache ? cache.seen[b]! : 0;
        for (let t = 0; t < T; t++) if (newMask[b * T + t]) s++;
        seenAfter[b] = s;
      }
    } else {
      const pos = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        let s = cache ? cache.seen[b]! : 0;
        for (let t = 0; t < T; t++) {
          if (newMask[b * T + t]) pos[b * T + t] = s++;
          else pos[b * T + t] = 1; // transformers' convention for padding (never attended to)
        }
        seenAfter[b] = s;
      }
      positions = tensor(pos, { shape: [B, T], dtype: "int32", device: dev });
    }
    const keyMask = anyPad ? tensor(Float32Array.from(fullMask), { shape: [B, Tk], device: dev }) : null;
    const targets = opts.labels ? this.shiftedTargets(opts.labels, B, T, newMask) : null;

    // Per-layer requests.
    const L = c.numHiddenLayers;
    const H = c.numAttentionHeads;
    const taps = this.byLayer("taps", opts.taps, B, T);
    const distill = this.byLayer("distill", opts.distill, B, T) as Map<number, LayerDistill>;
    const sens = this.sensitivityLayers(opts.sensitivity);
    const returnLogits = opts.returnLogits ?? true;
    const needLogits = returnLogits !== false || !!opts.labels;
    let lastLayer = L - 1;
    if (!needLogits && !cache) {
      lastLayer = Math.max(-1, ...taps.keys(), ...distill.keys(), ...sens.keys());
    }

    const result: ForwardResult = {
      loss: null,
      logits: null,
      taps: new Map(),
      sensitivity: new Map(),
      sensitivityCount: new Map(),
      distillLoss: null,
      distillLosses: new Map(),
    };

    const D = c.headDim;
    const Hkv = c.numKeyValueHeads;
    let x = embedding(this.P("model.embed_tokens.weight"), ids); // [B, T, hidden]
    // The residual stream is x plus `branch` (the output of the last attention or MLP block, not yet added): each
    // add is fused with the RMSNorm that reads the sum (addRmsNorm). Under autocast the norms write the autocast
    // dtype straight away, the operand of the projections after them (the values of a float32 norm and a cast).
    let branch: Tensor | null = null;
    const normOpts = { dtype: autocastDType() ?? undefined };
    const norm = (name: string): Tensor => {
      const w = this.P(name);
      if (!branch) return rmsNorm(x, w, c.rmsNormEps, normOpts);
      const r = addRmsNorm(x, branch, w, c.rmsNormEps, normOpts);
      x = r.sum;
      branch = null;
      return r.out;
    };
    for (let i = 0; i <= lastLayer; i++) {
      const p = `model.layers.${i}`;
      const h = norm(`${p}.input_layernorm.weight`);
      const q = rope(reshape(linear(h, this.P(`${p}.self_attn.q_proj.weight`)), [B, T, H, D]), { theta: c.ropeTheta, positions });
      let k = rope(reshape(linear(h, this.P(`${p}.self_attn.k_proj.weight`)), [B, T, Hkv, D]), { theta: c.ropeTheta, positions });
      let v = reshape(linear(h, this.P(`${p}.self_attn.v_proj.weight`)), [B, T, Hkv, D]);
      if (cache) {
        const pk = cache.keys[i];
        const pv = cache.values[i];
        if (past > 0 && (!pk || !pv)) throw new Error(`LlamaModel.forward: kvCache has no keys for layer ${i}`);
        if (past > 0) {
          k = concat([pk!, k], 1);
          v = concat([pv!, v], 1);
        }
        cache.setLayer(i, k, v);
      }
      const tap = taps.get(i) ?? null;
      const a = this.attend(i, q, k, v, { keyMask, tap, sensitivity: sens.get(i) ?? null });
      if (tap) {
        if (!a.taps) throw new Error(`LlamaModel: attend() of layer ${i} returned no taps`);
        result.taps.set(i, a.taps);
      }
      if (a.sensitivity) {
        result.sensitivity.set(i, a.sensitivity);
        if (a.sensitivityCount) result.sensitivityCount.set(i, a.sensitivityCount);
      }
      const dl = distill.get(i);
      if (dl) {
        result.distillLosses.set(
          i,
          attentionDistill(q, k, { heads: dl.heads, rows: dl.rows, teacher: dl.teacher, causal: true, reduction: dl.reduction ?? "mean", ...(keyMask ? { keyMask } : {}) }),
        );
      }
      if (i === lastLayer && !needLogits) break;
      const o = reshape(a.out, [B, T, H * D]);
      branch = linear(o, this.P(`${p}.self_attn.o_proj.weight`));
      const h2 = norm(`${p}.post_attention_layernorm.weight`);
      // SwiGLU MLP: silu(gate) * up fused into one kernel (forward and backward).
      const gate = linear(h2, this.P(`${p}.mlp.gate_proj.weight`));
      const up = linear(h2, this.P(`${p}.mlp.up_proj.weight`));
      branch = linear(swiglu(gate, up), this.P(`${p}.mlp.down_proj.weight`));
    }
    if (cache) {
      const merged = new Int32Array(B * Tk);
      merged.set(fullMask);
      cache.mask = merged;
      cache.length = Tk;
      cache.seen.set(seenAfter);
    }
    if (result.distillLosses.size > 0) {
      let total: Tensor | null = null;
      for (const l of result.distillLosses.values()) total = total ? add(total, l) : l;
      result.distillLoss = result.distillLosses.size === 1 ? total! : mul(total!, 1 / result.distillLosses.size);
    }
    if (!needLogits) return result;

    const lastOnly = returnLogits === "last";
    let hN: Tensor;
    if (lastOnly && !opts.labels) {
      // Only the last position's logits: the norm runs on that row alone.
      if (branch) x = add(x, branch);
      hN = rmsNorm(slice(x, [0, T - 1, 0], [B, T, c.hiddenSize]), this.P("model.norm.weight"), c.rmsNormEps, normOpts);
    } else hN = norm("model.norm.weight");
    const logits = linear(hN, this.lmHead);
    if (targets) {
      result.loss = crossEntropy(reshape(logits, [B * T, c.vocabSize]), reshape(targets, [B * T]), { ignoreIndex: -100 });
    }
    if (returnLogits === true) result.logits = logits;
    else if (lastOnly) result.logits = opts.labels ? slice(logits, [0, T - 1, 0], [B, T, c.vocabSize]) : logits;
    return result;
  }

  /** The key mask of this forward's tokens as host int32 [B*T]. */
  private newTokenMask(m: Tensor | undefined, B: number, T: number, past: number): Int32Array {
    const out = new Int32Array(B * T).fill(1);
    if (!m) return out;
    if (m.dtype !== "int32" && m.dtype !== "float32") throw new Error(`LlamaModel.forward: attentionMask must be int32 or float32, got ${m.dtype}`);
    const full = m.rank === 2 && m.shape[0] === B && m.shape[1] === past + T && past > 0;
    if (!(m.rank === 2 && m.shape[0] === B && (m.shape[1] === T || full)))
      throw new Error(`LlamaModel.forward: attentionMask ${shapeStr(m.shape)} must be [${B}, ${T}]${past > 0 ? ` or [${B}, ${past + T}] (past + new)` : ""}`);
    this.checkDevice("attentionMask", m);
    const d = hostValues(m)!;
    const W = m.shape[1]!;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) {
        const v = d[b * W + (W - T) + t]!;
        if (v !== 0 && v !== 1) throw new Error(`LlamaModel.forward: attentionMask must hold 0 or 1, got ${v} at [${b}, ${W - T + t}]`);
        out[b * T + t] = v;
      }
    return out;
  }

  /** labels [B, T] → targets [B, T] with targets[:, t] = labels[:, t + 1] (-100 at the end and where t or t + 1 is padding). */
  private shiftedTargets(labels: Tensor, B: number, T: number, mask: Int32Array): Tensor {
    if (labels.dtype !== "int32" || labels.rank !== 2 || labels.shape[0] !== B || labels.shape[1] !== T)
      throw new Error(`LlamaModel.forward: labels must be int32 [${B}, ${T}] like ids, got ${labels.dtype} ${shapeStr(labels.shape)}`);
    this.checkDevice("labels", labels);
    const l = hostValues(labels)!;
    const out = new Int32Array(B * T).fill(-100);
    for (let b = 0; b < B; b++)
      for (let t = 0; t + 1 < T; t++) {
        const y = l[b * T + t + 1]!;
        if (y === -100 || !mask[b * T + t + 1] || !mask[b * T + t]) continue;
        if (y < 0 || y >= this.config.vocabSize)
          throw new Error(`LlamaModel.forward: labels[${b}, ${t + 1}] = ${y} is neither -100 nor a token id in [0, ${this.config.vocabSize})`);
        out[b * T + t] = y;
      }
    return mirroredTensor(out, { shape: [B, T], device: this.dev });
  }

  private byLayer(what: string, list: readonly LayerTap[] | undefined, B: number, T: number): Map<number, LayerTap> {
    const m = new Map<number, LayerTap>();
    if (!list) return m;
    if (!Array.isArray(list)) throw new Error(`LlamaModel.forward: ${what} must be an array of { layer, heads, rows }`);
    for (const e of list) {
      const L = this.config.numHiddenLayers;
      if (!Number.isInteger(e.layer) || e.layer < 0 || e.layer >= L) throw new Error(`LlamaModel.forward: ${what}: layer ${e.layer} is not in [0, ${L})`);
      if (m.has(e.layer)) throw new Error(`LlamaModel.forward: ${what}: layer ${e.layer} appears twice`);
      const r = e.rows;
      if (!r || r.dtype !== "int32" || r.rank !== 2 || r.shape[0] !== B)
        throw new Error(`LlamaModel.forward: ${what}[layer ${e.layer}].rows must be int32 [${B}, R], got ${r ? `${r.dtype} ${shapeStr(r.shape)}` : r}`);
      this.checkDevice(`${what}[layer ${e.layer}].rows`, r);
      const teacher = (e as Partial<LayerDistill>).teacher;
      if (teacher && typeof teacher === "object" && "device" in teacher) this.checkDevice(`${what}[layer ${e.layer}].teacher`, teacher);
      // Checked here when the rows are on the host; on a device without a host copy the attention kernels check them.
      const rd = hostValues(r, true);
      if (rd)
        for (let i = 0; i < rd.length; i++)
          if (rd[i]! < 0 || rd[i]! >= T)
            throw new Error(`LlamaModel.forward: ${what}[layer ${e.layer}].rows[${Math.floor(i / r.shape[1]!)}, ${i % r.shape[1]!}] = ${rd[i]} is not a query position in [0, ${T})`);
      m.set(e.layer, e);
    }
    return m;
  }

  private sensitivityLayers(s: ForwardOptions["sensitivity"]): Map<number, SensitivityMode> {
    const m = new Map<number, SensitivityMode>();
    if (s === undefined || s === false) return m;
    const L = this.config.numHiddenLayers;
    let mode: SensitivityMode = "all";
    let layers: readonly number[] = [...Array(L).keys()];
    if (s === "all" || s === "visible") mode = s;
    else if (typeof s === "object" && s !== null) {
      mode = s.mode ?? "all";
      if (s.layers) layers = s.layers;
    } else if (s !== true) throw new Error(`LlamaModel.forward: sensitivity must be a boolean, "all", "visible" or { mode, layers }, got ${JSON.stringify(s)}`);
    if (mode !== "all" && mode !== "visible") throw new Error(`LlamaModel.forward: sensitivity mode must be "all" or "visible", got ${JSON.stringify(mode)}`);
    for (const l of layers) {
      if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`LlamaModel.forward: sensitivity layer ${l} is not in [0, ${L})`);
      m.set(l, mode);
    }
    return m;
  }
}

/**
 * The per-(batch, head) mean of (dL/dP)^2 of one layer after backward(): sensitivity / sensitivityCount, as host
 * rows [B][numAttentionHeads] (SEEKR's per-sample task sensitivity before the per-layer normalisation).
 */
export function meanSensitivity(result: ForwardResult, layer: number): number[][] {
  const s = result.sensitivity.get(layer);
  const c = result.sensitivityCount.get(layer);
  if (!s || !c) throw new Error(`meanSensitivity: layer ${layer} was not run with sensitivity`);
  const [B, H] = s.shape as [number, number];
  const sv = s.dataSync() as Float32Array;
  const cv = c.dataSync() as Float32Array;
  return Array.from({ length: B }, (_, b) => Array.from({ length: H }, (_, h) => (cv[b]! > 0 ? sv[b * H + h]! / cv[b]! : 0)));
}
