// Types of the raw addon surface. @seekr/tensor is the public API; this layer is unchecked in shape semantics
// but every function validates its arguments and throws a JS Error naming the op.
export type Handle = { readonly __seekrBuffer: unique symbol };

export interface BackendInfo {
  threads: number;
  blas: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaReason: string;
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  /** The GEMM behind CUDA matmuls (cuBLAS loaded at run time, or Seekr's kernels and why). */
  cudaGemm: string;
  cudaDevices: Array<{ device: string; name: string; computeCapability: string; totalMemory: number; multiprocessors: number }>;
}
export interface MemoryRow { device: string; bytes: number; buffers: number; peakBytes: number }

export interface NativeAddon {
  alloc(deviceType: number, deviceIndex: number, dtype: number, numel: number): Handle;
  dispose(h: Handle): void;
  isAlive(h: Handle): boolean;
  upload(h: Handle, data: Float32Array | Int32Array | Uint16Array): void;
  download(h: Handle): Float32Array | Int32Array | Uint16Array;
  copy(dst: Handle, src: Handle): void;
  fill(h: Handle, value: number): void;
  /** Any pair of float32 / int32 / bfloat16 / float16 (floats round to nearest even). */
  cast(dst: Handle, src: Handle): void;
  randomUniform(h: Handle, seed: number, offset: number, low: number, high: number): void;
  randomNormal(h: Handle, seed: number, offset: number, mean: number, std: number): void;
  memory(): MemoryRow[];
  resetPeakMemory(): void;
  backendInfo(): BackendInfo;
  setThreads(n: number): void;
  synchronize(deviceType: number, deviceIndex: number): void;
  /** Starts timing every native call: host time, and device time (CUDA events) once a GPU is in use. */
  profileStart(): void;
  /** sumSquares of each float32 buffer (all on one device), with one device read-back. */
  sumSquaresMany(xs: Handle[]): number[];
  /** adamw over many float32 parameters (one device) in one call. */
  /** copies: per parameter null or a bfloat16 / float16 buffer that also receives the updated parameter, rounded once. */
  adamwMany(params: Handle[], grads: Handle[], expAvgs: Handle[], expAvgSqs: Handle[], lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, copies?: Array<Handle | null> | null): void;
  /** scaleInPlace over many float32 buffers in one call. */
  scaleMany(xs: Handle[], scale: number): void;
  /** Ends the profile: per op, its calls, host milliseconds and device milliseconds (waits for the GPU). */
  profileStop(): Array<{ op: string; calls: number; hostMs: number; deviceMs: number; deviceCalls: number }>;

  binary(op: number, a: Handle, aStrides: number[], b: Handle, bStrides: number[], out: Handle, shape: number[]): void;
  unary(op: number, x: Handle, out: Handle, p: number): void;
  unaryGrad(op: number, x: Handle, gy: Handle, gx: Handle, p: number): void;
  where(c: Handle, cs: number[], a: Handle, as: number[], b: Handle, bs: number[], out: Handle, shape: number[]): void;
  /** out = silu(gate) * up over same-size buffers (the ops of silu then mul, so their bits). */
  swiglu(gate: Handle, up: Handle, out: Handle): void;
  /** Overwrites ggate = silu'(gate) * (gy * up) and gup = gy * silu(gate); outputs must not alias inputs or each other. */
  swigluBackward(gate: Handle, up: Handle, gy: Handle, ggate: Handle, gup: Handle): void;

  reduceSum(x: Handle, out: Handle, outer: number, mid: number, inner: number, scale: number): void;
  reduceMax(x: Handle, vals: Handle, idx: Handle, outer: number, mid: number, inner: number): void;
  maxBackward(gy: Handle, idx: Handle, gx: Handle, outer: number, mid: number, inner: number): void;
  softmax(x: Handle, y: Handle, rows: number, cols: number, log: boolean): void;
  softmaxBackward(y: Handle, gy: Handle, gx: Handle, rows: number, cols: number, log: boolean): void;
  sumSquares(x: Handle): number;

  stridedCopy(src: Handle, srcOffset: number, srcStrides: number[], dst: Handle, dstOffset: number, dstStrides: number[], shape: number[]): void;
  /** idsHost: the ids' values on the host (validated there instead of downloading a device buffer). */
  gatherRows(table: Handle, ids: Handle, out: Handle, cols: number, idsHost?: Int32Array | null): void;
  scatterAddRows(src: Handle, ids: Handle, out: Handle, cols: number, idsHost?: Int32Array | null): void;

  matmul(a: Handle, b: Handle, out: Handle, batch: number, M: number, N: number, K: number, transA: boolean, transB: boolean,
    strideA: number, strideB: number, alpha: number, beta: number, backend?: number): void;
  /** CPU GEMM capabilities: OpenBLAS linked, AVX2/FMA kernel, AVX512-BF16 kernel for bf16 products. */
  gemmInfo(): { blas: boolean; avx2: boolean; bf16: boolean };
  fmaPeak(seconds: number): number;
  releaseCache(): void;
  cacheBytes(): number;

  /** targetsHost: the targets' values on the host (for targets on a GPU: validated and counted without a download). */
  crossEntropy(logits: Handle, targets: Handle, loss: Handle, lse: Handle, rows: number, cols: number, ignoreIndex: number, targetsHost?: Int32Array | null): number;
  crossEntropyBackward(logits: Handle, targets: Handle, lse: Handle, gy: Handle, gx: Handle, rows: number, cols: number,
    ignoreIndex: number, count: number, targetsHost?: Int32Array | null): void;
  /** With residual and sum: sum = x + residual (rounded to sum's dtype) is written and normalised (a fused residual add). */
  rmsNorm(x: Handle, w: Handle, y: Handle, rstd: Handle, rows: number, cols: number, eps: number, residual?: Handle | null, sum?: Handle | null): void;
  /** accumulate: gx += the input gradient instead of gx = ... (gw is overwritten either way). */
  /** gxCopy (float32 gx): also receives gx's final values, rounded once to gxCopy's dtype. */
  rmsNormBackward(x: Handle, w: Handle, rstd: Handle, gy: Handle, gx: Handle, gw: Handle, rows: number, cols: number, accumulate?: boolean, gxCopy?: Handle | null): void;
  /** positions null: row r is at offset + r % period. */
  rope(x: Handle, positions: Handle | null, out: Handle, rows: number, heads: number, dim: number, theta: number, sign: number, period?: number, offset?: number): void;

  attention(q: Handle, k: Handle, v: Handle, out: Handle, lse: Handle, B: number, Tq: number, Tk: number, H: number, Hkv: number,
    D: number, causal: boolean, scale: number, keyMask: Handle | null, tapHeads: Handle | null, tapRows: Handle | null,
    taps: Handle | null, variant: number, tapHeadsHost?: Int32Array | null, tapRowsHost?: Int32Array | null): void;
  attentionBackward(q: Handle, k: Handle, v: Handle, out: Handle, lse: Handle, dout: Handle, dq: Handle, dk: Handle, dv: Handle,
    B: number, Tq: number, Tk: number, H: number, Hkv: number, D: number, causal: boolean, scale: number,
    keyMask: Handle | null, sensitivity: Handle | null, sensitivityAll: boolean, variant: number): void;
  attentionDistill(q: Handle, k: Handle, keyMask: Handle | null, heads: Handle, rows: Handle, teacher: Handle, B: number,
    Tq: number, Tk: number, H: number, Hkv: number, D: number, causal: boolean, scale: number, variant: number,
    out?: Handle | null, factor?: number, headsHost?: Int32Array | null, rowsHost?: Int32Array | null): number | undefined;
  attentionDistillBackward(q: Handle, k: Handle, keyMask: Handle | null, heads: Handle, rows: Handle, teacher: Handle,
    gy: Handle, factor: number, dq: Handle, dk: Handle, B: number, Tq: number, Tk: number, H: number, Hkv: number,
    D: number, causal: boolean, scale: number, variant: number, headsHost?: Int32Array | null, rowsHost?: Int32Array | null): void;

  adamw(p: Handle, g: Handle, m: Handle, v: Handle, lr: number, beta1: number, beta2: number, eps: number, wd: number, step: number): void;
  sgd(p: Handle, g: Handle, buf: Handle, lr: number, momentum: number, dampening: number, wd: number, nesterov: boolean, firstStep: boolean): void;
  scaleInPlace(x: Handle, s: number): void;
  axpyInPlace(y: Handle, x: Handle, alpha: number): void;
}

export declare const native: NativeAddon;
export declare const addonPath: string;
declare const _default: NativeAddon;
export default _default;
