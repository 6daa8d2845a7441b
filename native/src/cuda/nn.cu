// CUDA fused nn kernels: cross-entropy with log-softmax (+ backward), RMSNorm (+ backward with the cpu's fixed
// weight-gradient order), RoPE (+ inverse). Formulas are cpu/nn.cpp's, operation for operation. Tensor operands are
// float32, bfloat16 or float16 (kernels.h): typed kernels when they share one dtype, AnyF ones otherwise; lse, loss,
// rstd and gy (cross-entropy) stay float32.
#include <cuda_runtime.h>

#include <cmath>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

// A row per warp (WARP, 8 rows per block) or per block.
template <bool WARP, typename T>
__device__ __forceinline__ T gsum(T v, T* red) {
  if (WARP) return warp_sum(v);
  return block_sum(v, red);
}
template <bool WARP>
__device__ __forceinline__ float gmax(float v, float* red) {
  if (WARP) return warp_max(v);
  return block_max(v, red);
}
#define SEEKR_ROW_LOOP_SETUP                                                                   \
  const int gsize = WARP ? 32 : blockDim.x;                                                   \
  const int t = WARP ? (threadIdx.x & 31) : threadIdx.x;                                      \
  const int64_t per_block = WARP ? (blockDim.x >> 5) : 1;                                     \
  const int64_t first = (int64_t)blockIdx.x * per_block + (WARP ? (threadIdx.x >> 5) : 0);    \
  const int64_t stride = (int64_t)gridDim.x * per_block;

// f(std::true_type{}) when vec, else f(std::false_type{}): the VEC variant of a kernel, instantiated for typed T only.
template <typename T, typename F>
void with_vec(bool vec, F&& f) {
  if constexpr (!std::is_same_v<T, AnyF>) {
    if (vec) return f(std::true_type{});
  }
  f(std::false_type{});
}

unsigned rows_grid(int64_t rows, int64_t per_block) {
  int64_t b = (rows + per_block - 1) / per_block;
  if (b > 65535 * 16) b = 65535 * 16;
  return (unsigned)(b < 1 ? 1 : b);
}

// ---- cross-entropy ------------------------------------------------------------------------------------------------
// dl: the DType code of logits (read by AnyF only; likewise every int d* argument below).
template <bool WARP, typename T>
__global__ void ce_rows_kernel(const T* __restrict__ logits, int dl, const int32_t* __restrict__ targets,
                               float* __restrict__ lse, double* __restrict__ row_loss, int64_t rows, int64_t cols,
                               int32_t ignore) {
  __shared__ float redf[32];
  __shared__ double redd[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    float mx = -INFINITY;
    for (int64_t c = t; c < cols; c += gsize) mx = fmaxf(mx, ldf(logits, dl, p + c));
    mx = gmax<WARP>(mx, redf);
    double s = 0;
    for (int64_t c = t; c < cols; c += gsize) s += ::exp((double)fsub(ldf(logits, dl, p + c), mx));
    s = gsum<WARP, double>(s, redd);
    if (t == 0) {
      const float l = fadd(mx, (float)::log(s));
      lse[r] = l;
      const int32_t tg = targets[r];
      row_loss[r] = tg == ignore ? 0.0 : __dsub_rn((double)l, (double)ldf(logits, dl, p + tg));
    }
  }
}
// Sums the row losses of kept rows in a fixed order (one block) and writes the mean (NaN when no row is kept).
__global__ void ce_final_kernel(const double* __restrict__ row_loss, int64_t rows, int64_t count, float* __restrict__ loss) {
  __shared__ double red[32];
  double acc = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) acc += row_loss[r];
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) loss[0] = count > 0 ? (float)(acc / (double)count) : __int_as_float(0x7fc00000);
}
// gx = softmax(logits) * scale, minus scale at the target column, 0 in ignored rows. A row per group of 2^gshift
// threads (32 .. blockDim.x; blockDim.x >> gshift rows per block, grid-stride over rows), its columns over the group:
// no division per element. VEC (typed T, logits and gx at the same address mod 16 bytes): the row's elements from its
// first 16-byte aligned one go in 16-byte chunks (kVec16<T> per thread and step), the few before and after it one by
// one. Every element gets the same arithmetic whichever loop takes it.
template <bool VEC, typename T>
__global__ void ce_backward_kernel(const T* __restrict__ logits, int dl, const int32_t* __restrict__ targets,
                                   const float* __restrict__ lse, const float* __restrict__ gy, int64_t count,
                                   T* __restrict__ gx, int dgx, int64_t rows, int64_t cols, int32_t ignore, int gshift) {
  const float scale = count > 0 ? fdiv(gy[0], (float)count) : 0.f;
  const int gsize = 1 << gshift;
  const int t = threadIdx.x & (gsize - 1);
  const int64_t per_block = blockDim.x >> gshift;
  const int64_t first = (int64_t)blockIdx.x * per_block + (threadIdx.x >> gshift);
  const int64_t stride = (int64_t)gridDim.x * per_block;
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    const int32_t tg = targets[r];
    const bool skip = tg == ignore;
    const float l = skip ? 0.f : lse[r];
    const auto elem = [&](int64_t c) {
      float g = 0.f;
      if (!skip) {
        g = fmul(fexp(fsub(ldf(logits, dl, p + c), l)), scale);
        if (c == tg) g = fsub(g, scale);
      }
      stf(gx, dgx, p + c, g);
    };
    int64_t c0 = 0, c1 = 0;  // [c0, c1): the row's whole 16-byte chunks (none for the scalar kernel)
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
      const int64_t head = (int64_t)((16 - (reinterpret_cast<uintptr_t>(logits + p) & 15)) & 15) / (int64_t)sizeof(T);
      c0 = head < cols ? head : cols;
      c1 = c0 + (cols - c0) / V * V;
      for (int64_t c = c0 + (int64_t)t * V; c < c1; c += (int64_t)gsize * V) {
        float v[V];
        if (skip) {
#pragma unroll
          for (int j = 0; j < V; ++j) v[j] = 0.f;
        } else {
          ldf_vec(logits, p + c, v);
#pragma unroll
          for (int j = 0; j < V; ++j) {
            float g = fmul(fexp(fsub(v[j], l)), scale);
            if (c + j == tg) g = fsub(g, scale);
            v[j] = g;
          }
        }
        stf_vec(gx, p + c, v);
      }
    }
    for (int64_t c = t; c < c0; c += gsize) elem(c);
    for (int64_t c = c1 + t; c < cols; c += gsize) elem(c);
  }
}

// ---- RMSNorm ------------------------------------------------------------------------------------------------------
// VEC (typed T, every operand 16-byte aligned and cols a multiple of kVec16<T>): the elementwise passes (y, gx) move
// 16-byte chunks. The sums (ss, dot) keep the scalar loop: their per-thread order defines the result.
template <typename T>
bool rms_vec(int64_t cols, std::initializer_list<const void*> ptrs) {
  if constexpr (std::is_same_v<T, AnyF>) {
    return false;
  } else {
    if (cols % kVec16<T> != 0) return false;
    for (const void* p : ptrs)
      if (!aligned16(p)) return false;
    return true;
  }
}
template <bool WARP, bool VEC, typename T>
__global__ void rms_norm_kernel(const T* __restrict__ x, int dx, const T* __restrict__ w, int dw, T* __restrict__ y,
                                int dy, float* __restrict__ rstd, int64_t rows, int64_t cols, float eps) {
  __shared__ float red[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    float ss = 0.f;
    for (int64_t c = t; c < cols; c += gsize) {
      const float v = ldf(x, dx, p + c);
      ss = fadd(ss, fmul(v, v));
    }
    ss = gsum<WARP, float>(ss, red);
    const float rs = fdiv(1.f, fsqrt(fadd(fdiv(ss, (float)cols), eps)));
    if (t == 0) rstd[r] = rs;
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
      for (int64_t c = (int64_t)t * V; c < cols; c += (int64_t)gsize * V) {
        float xv[V], wv[V];
        ldf_vec(x, p + c, xv);
        ldf_vec(w, c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) xv[j] = fmul(fmul(xv[j], rs), wv[j]);
        stf_vec(y, p + c, xv);
      }
    } else {
      for (int64_t c = t; c < cols; c += gsize) stf(y, dy, p + c, fmul(fmul(ldf(x, dx, p + c), rs), ldf(w, dw, c)));
    }
  }
}
template <bool WARP, bool VEC, typename T>
__global__ void rms_norm_backward_kernel(const T* __restrict__ x, int dx, const T* __restrict__ w, int dw,
                                         const float* __restrict__ rstd, const T* __restrict__ gy, int dgy,
                                         T* __restrict__ gx, int dgx, int64_t rows, int64_t cols) {
  __shared__ float red[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    const float rs = rstd[r];
    float dot = 0.f;
    for (int64_t c = t; c < cols; c += gsize)
      dot = fadd(dot, fmul(fmul(ldf(gy, dgy, p + c), ldf(w, dw, c)), ldf(x, dx, p + c)));
    dot = gsum<WARP, float>(dot, red);
    const float k = fdiv(fmul(fmul(fmul(dot, rs), rs), rs), (float)cols);
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
      for (int64_t c = (int64_t)t * V; c < cols; c += (int64_t)gsize * V) {
        float wv[V], gv[V], xv[V];
        ldf_vec(w, c, wv);
        ldf_vec(gy, p + c, gv);
        ldf_vec(x, p + c, xv);
#pragma unroll
        for (int j = 0; j < V; ++j) wv[j] = fsub(fmul(fmul(rs, wv[j]), gv[j]), fmul(xv[j], k));
        stf_vec(gx, p + c, wv);
      }
    } else {
      for (int64_t c = t; c < cols; c += gsize)
        stf(gx, dgx, p + c, fsub(fmul(fmul(rs, ldf(w, dw, c)), ldf(gy, dgy, p + c)), fmul(ldf(x, dx, p + c), k)));
    }
  }
}
constexpr int64_t kGwBlock = 64;  // rows per partial, as on the cpu
// The gw sums are sequential chains (a thread per sum); their terms are loaded kGwBatch at a time, so that a thread
// has many loads in flight, and then added in the same order.
constexpr int kGwBatch = 16;
constexpr int kGwThreads = 128;  // smaller blocks: the few threads spread over more SMs
// part[bi, c] = sum over the rows of block bi, in row order.
template <typename T>
__global__ void rms_gw_partial(const T* __restrict__ x, int dx, const float* __restrict__ rstd, const T* __restrict__ gy,
                               int dgy, float* __restrict__ part, int64_t rows, int64_t cols, int64_t nb) {
  const int64_t total = nb * cols;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t bi = t / cols, c = t - bi * cols;
    const int64_t r1 = (bi + 1) * kGwBlock < rows ? (bi + 1) * kGwBlock : rows;
    float acc = 0.f;
    int64_t r = bi * kGwBlock;
    for (; r + kGwBatch <= r1; r += kGwBatch) {
      float v[kGwBatch];
#pragma unroll
      for (int k = 0; k < kGwBatch; ++k)
        v[k] = fmul(fmul(ldf(gy, dgy, (r + k) * cols + c), ldf(x, dx, (r + k) * cols + c)), rstd[r + k]);
#pragma unroll
      for (int k = 0; k < kGwBatch; ++k) acc = fadd(acc, v[k]);
    }
    for (; r < r1; ++r) acc = fadd(acc, fmul(fmul(ldf(gy, dgy, r * cols + c), ldf(x, dx, r * cols + c)), rstd[r]));
    part[t] = acc;
  }
}
template <typename T>
__global__ void rms_gw_final(const float* __restrict__ part, T* __restrict__ gw, int dgw, int64_t cols, int64_t nb) {
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    float acc = 0.f;
    int64_t bi = 0;
    for (; bi + kGwBatch <= nb; bi += kGwBatch) {
      float v[kGwBatch];
#pragma unroll
      for (int k = 0; k < kGwBatch; ++k) v[k] = part[(bi + k) * cols + c];
#pragma unroll
      for (int k = 0; k < kGwBatch; ++k) acc = fadd(acc, v[k]);
    }
    for (; bi < nb; ++bi) acc = fadd(acc, part[bi * cols + c]);
    stf(gw, dgw, c, acc);
  }
}

// ---- RoPE -----------------------------------------------------------------------------------------------------------
// The cpu's inverse frequencies: 1 / theta^(2i / dim) in double, rounded to float where they are used.
__global__ void rope_freq_kernel(float* __restrict__ inv_freq, int64_t half, double theta, int64_t dim) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < half; i += (int64_t)gridDim.x * blockDim.x)
    inv_freq[i] = (float)__ddiv_rn(1.0, ::pow(theta, __ddiv_rn((double)(2 * i), (double)dim)));
}
template <typename T>
__global__ void rope_kernel(const T* x, int dx, const int32_t* __restrict__ positions,
                            const float* __restrict__ inv_freq, T* out, int dout, int64_t rows, int64_t heads,
                            int64_t dim, float sign, int64_t period, int64_t offset) {
  const int64_t half = dim / 2;
  const int64_t total = rows * heads * half;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t % half, rh = t / half, r = rh / heads;
    // Angle in float32 like the cpu (and PyTorch): (float)pos * (float)inv_freq, then cos / sin.
    const int32_t pos = positions ? positions[r] : (int32_t)(offset + r % period);
    const float ang = fmul((float)pos, inv_freq[i]);
    const float cs = fcos(ang);
    const float sn = fmul(sign, fsin(ang));
    const int64_t p = rh * dim;
    const float a = ldf(x, dx, p + i), b = ldf(x, dx, p + i + half);
    stf(out, dout, p + i, fsub(fmul(a, cs), fmul(b, sn)));
    stf(out, dout, p + i + half, fadd(fmul(b, cs), fmul(a, sn)));
  }
}

// cos / sin of every (position, frequency) of positions offset .. offset + period - 1: the angles and functions of
// rope_kernel, computed once for the rows that follow the [batch, time] layout.
__global__ void rope_table_kernel(const float* __restrict__ inv_freq, int64_t period, int64_t offset, int64_t half,
                                  float* __restrict__ cos_t, float* __restrict__ sin_t) {
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < period * half;
       t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t % half, p = t / half;
    const float ang = fmul((float)(int32_t)(offset + p), inv_freq[i]);
    cos_t[t] = fcos(ang);
    sin_t[t] = fsin(ang);
  }
}
template <typename T>
__global__ void rope_apply_kernel(const T* x, int dx, const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                  T* out, int dout, int64_t rows, int64_t heads, int64_t dim, int64_t period,
                                  float sign) {
  const int64_t half = dim / 2;
  const int64_t total = rows * heads * half;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t % half, rh = t / half, r = rh / heads;
    const int64_t k = (r % period) * half + i;
    const float cs = cos_t[k];
    const float sn = fmul(sign, sin_t[k]);
    const int64_t p = rh * dim;
    const float a = ldf(x, dx, p + i), b = ldf(x, dx, p + i + half);
    stf(out, dout, p + i, fsub(fmul(a, cs), fmul(b, sn)));
    stf(out, dout, p + i + half, fadd(fmul(b, cs), fmul(a, sn)));
  }
}

// Cached tables for the position layout of a training step (offset + r % period): a model calls rope twice per layer
// with the same table, every step. A few MiB at most, in plain cudaMalloc memory (an internal cache, like cuBLAS's
// workspace: not a tensor, not in memory()); the oldest table goes when more than kRopeTables are cached.
struct RopeTable {
  int device;
  int64_t period, offset, dim;
  float theta;
  float* cos_sin;  // cos [period, dim/2], then sin
};
constexpr int kRopeTables = 16;
constexpr int64_t kRopeTableMaxEntries = int64_t(1) << 20;  // period * dim / 2
std::mutex g_rope_mu;
std::vector<RopeTable> g_rope_tables;

const float* rope_table_find(int device, int64_t period, int64_t offset, int64_t dim, float theta) {
  std::lock_guard<std::mutex> lk(g_rope_mu);
  for (const RopeTable& t : g_rope_tables)
    if (t.device == device && t.period == period && t.offset == offset && t.dim == dim && t.theta == theta)
      return t.cos_sin;
  return nullptr;
}
const float* rope_table_build(int device, int64_t period, int64_t offset, int64_t dim, float theta,
                              const float* inv_freq) {
  const int64_t half = dim / 2;
  if (period * half > kRopeTableMaxEntries) return nullptr;
  std::lock_guard<std::mutex> lk(g_rope_mu);
  float* p = nullptr;
  if (cudaMalloc(&p, (size_t)(2 * period * half) * sizeof(float)) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;  // no room for a table: the direct kernel runs
  }
  rope_table_kernel<<<grid_for(period * half), kThreads>>>(inv_freq, period, offset, half, p, p + period * half);
  check_launch("rope");
  if ((int)g_rope_tables.size() >= kRopeTables) {
    cudaFree(g_rope_tables.front().cos_sin);  // waits for the kernels that read it
    g_rope_tables.erase(g_rope_tables.begin());
  }
  g_rope_tables.push_back({device, period, offset, dim, theta, p});
  return p;
}

}  // namespace

void cross_entropy(int device, const void* logits, DType lt, const int32_t* targets, float* loss, float* lse,
                   int64_t rows, int64_t cols, int32_t ignore, int64_t count) {
  use_device(device);
  Scratch row_loss(device, (size_t)(rows > 0 ? rows : 1) * sizeof(double));
  if (rows > 0) {
    with_dtype(lt, [&](auto e) {
      using T = typename decltype(e)::type;
      const T* x = static_cast<const T*>(logits);
      if (cols <= 1024)
        ce_rows_kernel<true, T><<<rows_grid(rows, kThreads / 32), kThreads>>>(x, (int)lt, targets, lse,
                                                                               row_loss.as<double>(), rows, cols, ignore);
      else
        ce_rows_kernel<false, T><<<rows_grid(rows, 1), kThreads>>>(x, (int)lt, targets, lse, row_loss.as<double>(), rows,
                                                                   cols, ignore);
    });
    check_launch("crossEntropy");
  }
  ce_final_kernel<<<1, 1024>>>(row_loss.as<double>(), rows, count, loss);
  check_launch("crossEntropy");
}

void cross_entropy_backward(int device, const void* logits, DType lt, const int32_t* targets, const float* lse,
                            const float* gy, int64_t count, void* gx, DType gxt, int64_t rows, int64_t cols,
                            int32_t ignore) {
  if (rows * cols == 0) return;
  use_device(device);
  with_elem(lt == gxt, gxt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* x = static_cast<const T*>(logits);
    T* g = static_cast<T*>(gx);
    // 16-byte chunks when logits and gx are aligned alike (every row's head then has the same length in both).
    bool vec = false;
    int per_thread = 1;  // columns a thread takes per step
    if constexpr (!std::is_same_v<T, AnyF>) {
      const uintptr_t xa = reinterpret_cast<uintptr_t>(x), ga = reinterpret_cast<uintptr_t>(g);
      vec = xa % sizeof(T) == 0 && (xa & 15) == (ga & 15);
      if (vec) per_thread = kVec16<T>;
    }
    // Threads per row: the smallest power of two from 32 to kThreads that covers the row in one step.
    int gshift = 5;
    while ((1 << gshift) < kThreads && (int64_t(1) << gshift) * per_thread < cols) ++gshift;
    with_vec<T>(vec, [&](auto v) {
      ce_backward_kernel<decltype(v)::value, T><<<rows_grid(rows, kThreads >> gshift), kThreads>>>(
          x, (int)lt, targets, lse, gy, count, g, (int)gxt, rows, cols, ignore, gshift);
    });
  });
  check_launch("crossEntropyBackward");
}

void rms_norm(int device, const void* x, DType xt, const void* w, DType wt, void* y, DType yt, float* rstd, int64_t rows,
              int64_t cols, float eps) {
  if (rows == 0) return;
  use_device(device);
  with_elem(xt == wt && wt == yt, yt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* xp = static_cast<const T*>(x);
    const T* wp = static_cast<const T*>(w);
    T* yp = static_cast<T*>(y);
    with_vec<T>(rms_vec<T>(cols, {xp, wp, yp}), [&](auto v) {
      constexpr bool V = decltype(v)::value;
      if (cols <= 1024)
        rms_norm_kernel<true, V, T><<<rows_grid(rows, kThreads / 32), kThreads>>>(xp, (int)xt, wp, (int)wt, yp, (int)yt,
                                                                                  rstd, rows, cols, eps);
      else
        rms_norm_kernel<false, V, T><<<rows_grid(rows, 1), kThreads>>>(xp, (int)xt, wp, (int)wt, yp, (int)yt, rstd, rows,
                                                                       cols, eps);
    });
  });
  check_launch("rmsNorm");
}

void rms_norm_backward(int device, const void* x, DType xt, const void* w, DType wt, const float* rstd, const void* gy,
                       DType gyt, void* gx, DType gxt, void* gw, DType gwt, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  use_device(device);
  const int64_t nb = (rows + kGwBlock - 1) / kGwBlock;
  Scratch part(device, (size_t)(nb > 0 ? nb * cols : 1) * sizeof(float));
  with_elem(xt == wt && wt == gyt && gyt == gxt && gxt == gwt, gxt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* xp = static_cast<const T*>(x);
    const T* wp = static_cast<const T*>(w);
    const T* gp = static_cast<const T*>(gy);
    T* gxp = static_cast<T*>(gx);
    if (rows > 0) {
      with_vec<T>(rms_vec<T>(cols, {xp, wp, gp, gxp}), [&](auto v) {
        constexpr bool V = decltype(v)::value;
        if (cols <= 1024)
          rms_norm_backward_kernel<true, V, T><<<rows_grid(rows, kThreads / 32), kThreads>>>(
              xp, (int)xt, wp, (int)wt, rstd, gp, (int)gyt, gxp, (int)gxt, rows, cols);
        else
          rms_norm_backward_kernel<false, V, T><<<rows_grid(rows, 1), kThreads>>>(
              xp, (int)xt, wp, (int)wt, rstd, gp, (int)gyt, gxp, (int)gxt, rows, cols);
      });
      check_launch("rmsNormBackward");
    }
    if (nb > 0) {
      rms_gw_partial<T><<<grid_for(nb * cols, kGwThreads), kGwThreads>>>(xp, (int)xt, rstd, gp, (int)gyt,
                                                                         part.as<float>(), rows, cols, nb);
      check_launch("rmsNormBackward");
    }
    rms_gw_final<T><<<grid_for(cols, kGwThreads / 2), kGwThreads / 2>>>(part.as<float>(), static_cast<T*>(gw), (int)gwt,
                                                                         cols, nb);
  });
  check_launch("rmsNormBackward");
}

void rope(int device, const void* x, DType xt, const int32_t* positions, void* out, DType ot, int64_t rows,
          int64_t heads, int64_t dim, float theta, float sign, int64_t period, int64_t offset) {
  const int64_t half = dim / 2;
  if (rows * heads * half == 0) return;
  use_device(device);
  const float* table = positions ? nullptr : rope_table_find(device, period, offset, dim, theta);
  std::optional<Scratch> dinv;  // the inverse frequencies, only when no cached table serves
  if (!table) {
    dinv.emplace(device, (size_t)half * sizeof(float));
    rope_freq_kernel<<<grid_for(half), kThreads>>>(dinv->as<float>(), half, (double)theta, dim);
    check_launch("rope");
    if (!positions) table = rope_table_build(device, period, offset, dim, theta, dinv->as<float>());
  }
  if (table) {
    with_elem(xt == ot, ot, [&](auto e) {
      using T = typename decltype(e)::type;
      rope_apply_kernel<T><<<grid_for(rows * heads * half), kThreads>>>(static_cast<const T*>(x), (int)xt, table,
                                                                        table + period * half, static_cast<T*>(out),
                                                                        (int)ot, rows, heads, dim, period, sign);
    });
    check_launch("rope");
    return;
  }
  with_elem(xt == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    rope_kernel<T><<<grid_for(rows * heads * half), kThreads>>>(static_cast<const T*>(x), (int)xt, positions,
                                                                dinv->as<float>(), static_cast<T*>(out), (int)ot, rows,
                                                                heads, dim, sign, period, offset);
  });
  check_launch("rope");
}

}  // namespace cuda
}  // namespace seekr
