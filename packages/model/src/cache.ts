// The key/value cache of incremental decoding: per-layer past keys and values, the past key mask and positions.
import type { Device, Tensor } from "@seekr/tensor";

/**
 * Past keys and values of every layer, for decoding without recomputing the prompt. `LlamaModel.forward` with
 * `kvCache` appends the new tokens' rotated keys and values (concatenated along time) and advances `length`; a
 * one-token step then runs attention with Tq = 1 against Tk = length + 1 keys. The cache owns its tensors (they are
 * kept, so `tidy` leaves them alone): call `dispose()` when done. Inference only (forward refuses it with grad on).
 */
export class KVCache {
  /** Number of cached positions (keys per row), padding included. */
  length = 0;
  /** Per layer: [B, length, kvHeads, headDim] or null before the first forward. */
  readonly keys: Array<Tensor | null>;
  readonly values: Array<Tensor | null>;
  /** Host copy of the key mask of the cached positions, row-major [B, length] (1 real, 0 padding). */
  mask: Int32Array = new Int32Array(0);
  /** Real tokens seen per row: the RoPE position of the row's next real token. */
  readonly seen: Int32Array;
  private disposed = false;

  constructor(
    readonly numLayers: number,
    readonly batchSize: number,
    /** The device of the model that fills it (set by `LlamaModel.createCache`; forward refuses another model's device). */
    readonly device: Device | null = null,
  ) {
    if (!Number.isInteger(numLayers) || numLayers <= 0) throw new Error(`KVCache: numLayers must be a positive integer, got ${numLayers}`);
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`KVCache: batchSize must be a positive integer, got ${batchSize}`);
    this.keys = new Array<Tensor | null>(numLayers).fill(null);
    this.values = new Array<Tensor | null>(numLayers).fill(null);
    this.seen = new Int32Array(batchSize);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal Replaces a layer's keys and values (the previous tensors are freed). */
  setLayer(layer: number, k: Tensor, v: Tensor): void {
    if (this.disposed) throw new Error("KVCache: used after dispose()");
    const pk = this.keys[layer];
    const pv = this.values[layer];
    this.keys[layer] = k.keep();
    this.values[layer] = v.keep();
    if (pk && pk !== k) pk.dispose();
    if (pv && pv !== v) pv.dispose();
  }

  /** Bytes held by the cached keys and values. */
  get bytes(): number {
    let n = 0;
    for (const t of [...this.keys, ...this.values]) if (t && !t.isDisposed) n += t.bytes;
    return n;
  }

  /** Frees every cached tensor. Idempotent. */
  dispose(): void {
    for (const list of [this.keys, this.values])
      for (let i = 0; i < list.length; i++) {
        list[i]?.dispose();
        list[i] = null;
      }
    this.disposed = true;
    this.length = 0;
    this.mask = new Int32Array(0);
  }
}
