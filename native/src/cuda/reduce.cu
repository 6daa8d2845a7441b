// CUDA reductions over the middle axis of [outer, mid, inner] (sum in double like the cpu, max with the cpu's
// first-max and NaN rules), max backward, softmax / log-softmax and their backward, and the deterministic sum of
// squares. Every launch configuration depends on the sizes only, so results are the same run to run. reduce_sum and
// softmax take float32, bfloat16 or float16 operands (kernels.h): typed kernels when the operands share one dtype,
// AnyF ones otherwise.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

// ---- reduce_sum ---------------------------------------------------------------------------------------------------
// dx, dout: DType codes (read by AnyF only; likewise every int d* argument below).
// inner == 1, short rows: one warp per row.
template <typename T>
__global__ void sum_rows_warp(const T* __restrict__ x, int dx, T* __restrict__ out, int dout, int64_t outer,
                              int64_t mid, float scale) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t o = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); o < outer; o += warps) {
    const int64_t p = o * mid;
    double acc = 0;
    for (int64_t m = lane; m < mid; m += 32) acc += (double)ldf(x, dx, p + m);
    acc = warp_sum(acc);
    if (lane == 0) stf(out, dout, o, (float)(acc * (double)scale));
  }
}
// inner == 1, long rows: block (o, chunk) sums its chunk of row o; nch == 1 writes the output directly.
template <typename T>
__global__ void sum_rows_chunk(const T* __restrict__ x, int dx, double* __restrict__ part, T* __restrict__ out,
                               int dout, int64_t mid, int64_t chunk, int64_t nch, float scale) {
  __shared__ double red[32];
  const int64_t o = blockIdx.y, c = blockIdx.x;
  const int64_t m0 = c * chunk, m1 = m0 + chunk < mid ? m0 + chunk : mid;
  const int64_t p = o * mid;
  double acc = 0;
  for (int64_t m = m0 + threadIdx.x; m < m1; m += blockDim.x) acc += (double)ldf(x, dx, p + m);
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) {
    if (nch == 1) stf(out, dout, o, (float)(acc * (double)scale));
    else part[o * nch + c] = acc;
  }
}
// inner > 1: thread per (o, chunk, i) sums m over its chunk (coalesced over i).
template <typename T>
__global__ void sum_mid_chunk(const T* __restrict__ x, int dx, double* __restrict__ part, T* __restrict__ out, int dout,
                              int64_t outer, int64_t mid, int64_t inner, int64_t chunk, int64_t nch, float scale) {
  const int64_t total = outer * nch * inner;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t % inner, oc = t / inner, c = oc % nch, o = oc / nch;
    const int64_t m0 = c * chunk, m1 = m0 + chunk < mid ? m0 + chunk : mid;
    const int64_t p = o * mid * inner + i;
    double acc = 0;
    for (int64_t m = m0; m < m1; ++m) acc += (double)ldf(x, dx, p + m * inner);
    if (nch == 1) stf(out, dout, o * inner + i, (float)(acc * (double)scale));
    else part[t] = acc;  // layout [outer, nch, inner]
  }
}
// Sums the nch partials of each output in order: part[(o * nch + c) * stride_c_inner ...].
template <typename T>
__global__ void sum_partials(const double* __restrict__ part, T* __restrict__ out, int dout, int64_t outer, int64_t nch,
                             int64_t inner, float scale) {
  const int64_t total = outer * inner;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = t / inner, i = t % inner;
    double acc = 0;
    for (int64_t c = 0; c < nch; ++c) acc += part[(o * nch + c) * inner + i];
    stf(out, dout, t, (float)(acc * (double)scale));
  }
}

// ---- reduce_max -----------------------------------------------------------------------------------------------------
// A partial argmax: the cpu scans m in order, takes the first NaN (and stops), else the first strict maximum.
struct ArgMax {
  float v;
  int32_t i;     // INT_MAX: empty
  bool nan;
};
__device__ __forceinline__ ArgMax am_combine(ArgMax a, ArgMax b) {
  if (a.i == INT_MAX) return b;
  if (b.i == INT_MAX) return a;
  if (a.nan || b.nan) {
    if (a.nan && b.nan) return a.i < b.i ? a : b;
    return a.nan ? a : b;
  }
  if (a.v > b.v) return a;
  if (b.v > a.v) return b;
  return a.i < b.i ? a : b;
}
__device__ __forceinline__ ArgMax am_shfl(ArgMax a, int o) {
  ArgMax r;
  r.v = __shfl_xor_sync(0xffffffffu, a.v, o);
  r.i = __shfl_xor_sync(0xffffffffu, a.i, o);
  r.nan = __shfl_xor_sync(0xffffffffu, (int)a.nan, o) != 0;
  return r;
}
// inner == 1: one warp per row; each lane scans its elements in increasing m, then the lanes combine.
__global__ void max_rows_warp(const float* __restrict__ x, float* __restrict__ vals, int32_t* __restrict__ idx,
                              int64_t outer, int64_t mid) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t o = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); o < outer; o += warps) {
    const float* p = x + o * mid;
    ArgMax a{-INFINITY, INT_MAX, false};
    for (int64_t m = lane; m < mid; m += 32) {
      const float v = p[m];
      if (v != v) { a = {v, (int32_t)m, true}; break; }
      if (a.i == INT_MAX || v > a.v) a = {v, (int32_t)m, false};
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) a = am_combine(a, am_shfl(a, off));
    if (lane == 0) {
      vals[o] = a.v;
      idx[o] = a.i;
    }
  }
}
// inner > 1: one thread per (o, i), the cpu's loop.
__global__ void max_mid(const float* __restrict__ x, float* __restrict__ vals, int32_t* __restrict__ idx, int64_t outer,
                        int64_t mid, int64_t inner) {
  const int64_t total = outer * inner;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < total; r += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = r / inner, i = r % inner;
    const float* p = x + o * mid * inner + i;
    float best = -INFINITY;
    int32_t bi = 0;
    for (int64_t m = 0; m < mid; ++m) {
      const float v = p[m * inner];
      if (v != v) { best = v; bi = (int32_t)m; break; }
      if (v > best || m == 0) { best = v; bi = (int32_t)m; }
    }
    vals[r] = best;
    idx[r] = bi;
  }
}

__global__ void max_backward_kernel(const float* __restrict__ gy, const int32_t* __restrict__ idx, float* __restrict__ gx,
                                    int64_t outer, int64_t mid, int64_t inner) {
  const int64_t total = outer * inner;
  for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < total; r += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = r / inner, i = r % inner;
    gx[o * mid * inner + (int64_t)idx[r] * inner + i] = gy[r];
  }
}

// ---- softmax ----------------------------------------------------------------------------------------------------
// One "group" per row: a warp (WARP = true, 8 rows per block) or the whole block (long rows).
template <bool WARP>
__device__ __forceinline__ float group_sum(float v, float* red) {
  if (WARP) return warp_sum(v);
  return block_sum(v, red);
}
template <bool WARP>
__device__ __forceinline__ float group_max(float v, float* red) {
  if (WARP) return warp_max(v);
  return block_max(v, red);
}

template <bool WARP, typename T>
__global__ void softmax_kernel(const T* __restrict__ x, int dx, T* __restrict__ y, int dy, int64_t rows, int64_t cols,
                               bool log) {
  __shared__ float red[32];
  const int gsize = WARP ? 32 : blockDim.x;
  const int t = WARP ? (threadIdx.x & 31) : threadIdx.x;
  const int64_t per_block = WARP ? (blockDim.x >> 5) : 1;
  const int64_t first = (int64_t)blockIdx.x * per_block + (WARP ? (threadIdx.x >> 5) : 0);
  const int64_t stride = (int64_t)gridDim.x * per_block;
  for (int64_t r = first; r < rows; r += stride) {  // uniform per group (block-wide when !WARP)
    const int64_t p = r * cols;
    float mx = -INFINITY;
    for (int64_t c = t; c < cols; c += gsize) mx = fmaxf(mx, ldf(x, dx, p + c));  // NaN is skipped, like std::max
    mx = group_max<WARP>(mx, red);
    if (mx == -INFINITY) mx = 0.f;  // fully masked row
    float sum = 0.f;
    for (int64_t c = t; c < cols; c += gsize) sum = fadd(sum, fexp(fsub(ldf(x, dx, p + c), mx)));
    sum = group_sum<WARP>(sum, red);
    if (log) {
      const float lse = fadd(mx, flog(sum));
      for (int64_t c = t; c < cols; c += gsize) stf(y, dy, p + c, fsub(ldf(x, dx, p + c), lse));
    } else {
      const float inv = fdiv(1.f, sum);
      for (int64_t c = t; c < cols; c += gsize) stf(y, dy, p + c, fmul(fexp(fsub(ldf(x, dx, p + c), mx)), inv));
    }
  }
}

template <bool WARP, typename T>
__global__ void softmax_backward_kernel(const T* __restrict__ y, int dy, const T* __restrict__ gy, int dgy,
                                        T* __restrict__ gx, int dgx, int64_t rows, int64_t cols, bool log) {
  __shared__ float red[32];
  const int gsize = WARP ? 32 : blockDim.x;
  const int t = WARP ? (threadIdx.x & 31) : threadIdx.x;
  const int64_t per_block = WARP ? (blockDim.x >> 5) : 1;
  const int64_t first = (int64_t)blockIdx.x * per_block + (WARP ? (threadIdx.x >> 5) : 0);
  const int64_t stride = (int64_t)gridDim.x * per_block;
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    float dot = 0.f;
    if (log) {
      for (int64_t c = t; c < cols; c += gsize) dot = fadd(dot, ldf(gy, dgy, p + c));
      dot = group_sum<WARP>(dot, red);
      for (int64_t c = t; c < cols; c += gsize)
        stf(gx, dgx, p + c, fsub(ldf(gy, dgy, p + c), fmul(fexp(ldf(y, dy, p + c)), dot)));
    } else {
      for (int64_t c = t; c < cols; c += gsize) dot = fadd(dot, fmul(ldf(gy, dgy, p + c), ldf(y, dy, p + c)));
      dot = group_sum<WARP>(dot, red);
      for (int64_t c = t; c < cols; c += gsize)
        stf(gx, dgx, p + c, fmul(ldf(y, dy, p + c), fsub(ldf(gy, dgy, p + c), dot)));
    }
  }
}

// ---- sum of squares ---------------------------------------------------------------------------------------------
constexpr int kSsqThreads = 256;
constexpr int kSsqMaxBlocks = 1024;
__global__ void ssq_partial(const float* __restrict__ x, int64_t n, double* __restrict__ part) {
  __shared__ double red[32];
  double acc = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const double v = (double)x[i];
    acc += v * v;
  }
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) part[blockIdx.x] = acc;
}
__global__ void ssq_final(const double* __restrict__ part, int nparts, double* __restrict__ out) {
  __shared__ double red[32];
  double acc = 0;
  for (int i = threadIdx.x; i < nparts; i += blockDim.x) acc += part[i];
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) out[0] = acc;
}

// sumSquaresMany in two launches for any number of tensors: block b of ssq_many_partial works on the tensor whose
// block range holds b (binary search over first_block), with that tensor's own grid as if launched alone, so every
// partial sum is the one ssq_partial gives; ssq_many_final sums each tensor's parts with ssq_final's reduction.
struct SsqItem {
  const float* x;
  int64_t n;
  int64_t first_block;
  int64_t blocks;
};
__global__ void ssq_many_partial(const SsqItem* __restrict__ items, int count, double* __restrict__ part) {
  __shared__ double red[32];
  const int64_t b = blockIdx.x;
  int lo = 0, hi = count - 1;  // the last item with first_block <= b (items with 0 blocks never own one)
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (items[mid].first_block <= b) lo = mid;
    else hi = mid - 1;
  }
  const SsqItem it = items[lo];
  const int64_t lb = b - it.first_block;
  double acc = 0;
  for (int64_t i = lb * blockDim.x + threadIdx.x; i < it.n; i += it.blocks * blockDim.x) {
    const double v = (double)it.x[i];
    acc += v * v;
  }
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) part[b] = acc;
}
__global__ void ssq_many_final(const SsqItem* __restrict__ items, const double* __restrict__ part,
                               double* __restrict__ out) {
  __shared__ double red[32];
  const SsqItem it = items[blockIdx.x];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < it.blocks; i += blockDim.x) acc += part[it.first_block + i];
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

unsigned rows_grid(int64_t rows, int64_t per_block) {
  int64_t b = (rows + per_block - 1) / per_block;
  if (b > 65535 * 16) b = 65535 * 16;
  return (unsigned)(b < 1 ? 1 : b);
}

// reduce_sum with T the element type of x and out (xt, ot their dtypes); outer * inner > 0.
template <typename T>
void reduce_sum_t(int device, const void* xv, DType xt, void* ov, DType ot, int64_t outer, int64_t mid, int64_t inner,
                  float scale) {
  const T* x = static_cast<const T*>(xv);
  T* out = static_cast<T*>(ov);
  const int dx = (int)xt, dout = (int)ot;
  if (inner == 1) {
    if (mid <= 4096) {
      sum_rows_warp<T><<<rows_grid(outer, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(x, dx, out, dout, outer, mid, scale);
      check_launch("sum");
      return;
    }
    const int64_t chunk = 16384;
    const int64_t nch = (mid + chunk - 1) / chunk;
    for (int64_t o0 = 0; o0 < outer; o0 += 65535) {  // grid.y limit
      const int64_t no = outer - o0 < 65535 ? outer - o0 : 65535;
      const T* xo = static_cast<const T*>(elem_offset(xv, xt, o0 * mid));
      T* oo = static_cast<T*>(elem_offset(ov, ot, o0));
      if (nch == 1) {
        sum_rows_chunk<T><<<dim3((unsigned)nch, (unsigned)no), kThreads, 0, SEEKR_STREAM>>>(xo, dx, nullptr, oo, dout, mid, chunk, nch, scale);
        check_launch("sum");
      } else {
        Scratch part(device, (size_t)(no * nch) * sizeof(double));
        sum_rows_chunk<T><<<dim3((unsigned)nch, (unsigned)no), kThreads, 0, SEEKR_STREAM>>>(xo, dx, part.as<double>(), oo, dout, mid, chunk,
                                                                           nch, scale);
        check_launch("sum");
        sum_partials<T><<<grid_for(no), kThreads, 0, SEEKR_STREAM>>>(part.as<double>(), oo, dout, no, nch, 1, scale);
        check_launch("sum");
      }
    }
    return;
  }
  // inner > 1: split mid into chunks when there are too few outputs to fill the device.
  int64_t nch = 1;
  const int64_t outputs = outer * inner;
  if (outputs < (int64_t(1) << 16) && mid > 64) {
    nch = (int64_t(1) << 16) / outputs;
    const int64_t max_ch = (mid + 31) / 32;  // at least 32 terms per chunk
    if (nch > max_ch) nch = max_ch;
    if (nch < 1) nch = 1;
  }
  const int64_t chunk = (mid + nch - 1) / nch > 0 ? (mid + nch - 1) / nch : 1;
  if (mid > 0) nch = (mid + chunk - 1) / chunk;
  if (nch <= 1) {
    sum_mid_chunk<T><<<grid_for(outputs), kThreads, 0, SEEKR_STREAM>>>(x, dx, nullptr, out, dout, outer, mid, inner, mid > 0 ? mid : 1, 1, scale);
    check_launch("sum");
    return;
  }
  Scratch part(device, (size_t)(outputs * nch) * sizeof(double));
  sum_mid_chunk<T><<<grid_for(outputs * nch), kThreads, 0, SEEKR_STREAM>>>(x, dx, part.as<double>(), out, dout, outer, mid, inner, chunk,
                                                          nch, scale);
  check_launch("sum");
  sum_partials<T><<<grid_for(outputs), kThreads, 0, SEEKR_STREAM>>>(part.as<double>(), out, dout, outer, nch, inner, scale);
  check_launch("sum");
}

}  // namespace

void reduce_sum(int device, const void* xv, DType xt, void* ov, DType ot, int64_t outer, int64_t mid, int64_t inner,
                float scale) {
  if (outer * inner == 0) return;
  use_device(device);
  with_elem(xt == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    reduce_sum_t<T>(device, xv, xt, ov, ot, outer, mid, inner, scale);
  });
}

void reduce_max(int device, const float* x, float* vals, int32_t* idx, int64_t outer, int64_t mid, int64_t inner) {
  if (outer * inner == 0) return;
  use_device(device);
  if (inner == 1 && mid > 32) max_rows_warp<<<rows_grid(outer, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(x, vals, idx, outer, mid);
  else max_mid<<<grid_for(outer * inner), kThreads, 0, SEEKR_STREAM>>>(x, vals, idx, outer, mid, inner);
  check_launch("max");
}

void max_backward(int device, const float* gy, const int32_t* idx, float* gx, int64_t outer, int64_t mid, int64_t inner) {
  const int64_t n = outer * mid * inner;
  if (n == 0) return;
  use_device(device);
  check_call(cudaMemsetAsync(gx, 0, (size_t)n * sizeof(float), SEEKR_STREAM), "maxBackward", "zeroing gx");
  if (outer * inner == 0) return;
  max_backward_kernel<<<grid_for(outer * inner), kThreads, 0, SEEKR_STREAM>>>(gy, idx, gx, outer, mid, inner);
  check_launch("maxBackward");
}

void softmax(int device, const void* x, DType xt, void* y, DType yt, int64_t rows, int64_t cols, bool log) {
  if (rows * cols == 0) return;
  use_device(device);
  with_elem(xt == yt, yt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    if (cols <= 1024)
      softmax_kernel<true, T><<<rows_grid(rows, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(xp, (int)xt, yp, (int)yt, rows, cols, log);
    else
      softmax_kernel<false, T><<<rows_grid(rows, 1), kThreads, 0, SEEKR_STREAM>>>(xp, (int)xt, yp, (int)yt, rows, cols, log);
  });
  check_launch(log ? "logSoftmax" : "softmax");
}

void softmax_backward(int device, const void* y, DType yt, const void* gy, DType gyt, void* gx, DType gxt, int64_t rows,
                      int64_t cols, bool log) {
  if (rows * cols == 0) return;
  use_device(device);
  with_elem(yt == gyt && gyt == gxt, gxt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* yp = static_cast<const T*>(y);
    const T* gp = static_cast<const T*>(gy);
    T* op = static_cast<T*>(gx);
    if (cols <= 1024)
      softmax_backward_kernel<true, T><<<rows_grid(rows, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(yp, (int)yt, gp, (int)gyt, op,
                                                                                     (int)gxt, rows, cols, log);
    else
      softmax_backward_kernel<false, T><<<rows_grid(rows, 1), kThreads, 0, SEEKR_STREAM>>>(yp, (int)yt, gp, (int)gyt, op, (int)gxt, rows,
                                                                          cols, log);
  });
  check_launch("softmaxBackward");
}

double sum_squares(int device, const float* x, int64_t n) {
  if (n == 0) return 0.0;
  use_device(device);
  int64_t blocks = (n + 4 * kSsqThreads - 1) / (4 * kSsqThreads);
  if (blocks > kSsqMaxBlocks) blocks = kSsqMaxBlocks;
  Scratch part(device, (size_t)(blocks + 1) * sizeof(double));
  double* p = part.as<double>();
  ssq_partial<<<(unsigned)blocks, kSsqThreads, 0, SEEKR_STREAM>>>(x, n, p);
  check_launch("sumSquares");
  ssq_final<<<1, 1024, 0, SEEKR_STREAM>>>(p, (int)blocks, p + blocks);
  check_launch("sumSquares");
  double total = 0;
  copy_d2h(device, &total, p + blocks, sizeof(double));  // waits for the stream: the result crosses to the host
  return total;
}

std::vector<double> sum_squares_many(int device, const std::vector<std::pair<const float*, int64_t>>& xs) {
  std::vector<double> out(xs.size(), 0.0);
  if (xs.empty()) return out;
  use_device(device);
  std::vector<SsqItem> items(xs.size());
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const int64_t n = xs[i].second;
    const int64_t blocks = n == 0 ? 0 : std::min<int64_t>((n + 4 * kSsqThreads - 1) / (4 * kSsqThreads), kSsqMaxBlocks);
    items[i] = {xs[i].first, n, total, blocks};
    total += blocks;
  }
  if (total == 0) return out;
  if (total > INT32_MAX) throw Error("sumSquaresMany: too many blocks (" + std::to_string(total) + ")");
  // One scratch buffer: the item table, then the results, then the partial sums (all 8-byte aligned).
  const size_t table = items.size() * sizeof(SsqItem);
  Scratch scratch(device, table + (items.size() + (size_t)total) * sizeof(double));
  SsqItem* d_items = scratch.as<SsqItem>();
  double* results = reinterpret_cast<double*>(scratch.as<char>() + table);
  double* part = results + items.size();
  copy_h2d(device, d_items, items.data(), table);  // staged: queued on the stream, the host goes on
  ssq_many_partial<<<(unsigned)total, kSsqThreads, 0, SEEKR_STREAM>>>(d_items, (int)items.size(), part);
  check_launch("sumSquaresMany");
  ssq_many_final<<<(unsigned)items.size(), 1024, 0, SEEKR_STREAM>>>(d_items, part, results);
  check_launch("sumSquaresMany");
  copy_d2h(device, out.data(), results, items.size() * sizeof(double));  // waits for the stream
  return out;
}

}  // namespace cuda
}  // namespace seekr
