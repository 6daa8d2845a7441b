// CUDA fused nn kernels: cross-entropy with log-softmax (+ backward), RMSNorm (+ backward), RoPE (+ inverse).
// Formulas are cpu/nn.cpp's, operation for operation, except where a comment says otherwise: cross-entropy's
// exponentials (float32, exp_f32 below, where the cpu sums double exponentials) and the order of the sums (row sums
// per thread then across the row; the fast RMSNorm backward's weight gradient over per-block row chunks). Tensor
// operands are float32, bfloat16 or float16 (kernels.h): typed kernels when they share one dtype, AnyF ones otherwise;
// lse, loss, rstd and gy (cross-entropy) stay float32.
#include <cuda_runtime.h>

#include <algorithm>
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
// e^d in float32: 2^(d log2 e) by ex2.approx.ftz.f32, with the rounding error of the product d * log2 e put back to
// first order. __expf (the same ex2 of the rounded product) is documented at 2 + floor(|1.173 d|) ulp (CUDA C
// Programming Guide, intrinsic functions); the |d| term is that product's rounding (2^t with t off by up to
// ulp(t) / 2), which e below restores (e = d log2 e - t to about 2^-48 relative, and 2^e = 1 + e ln 2 to ~e^2), so
// about 2 ulp plus the final rounding are left, whatever d. NaN -> NaN, -inf -> 0, results below 2^-126 flush to 0.
__device__ __forceinline__ float exp_f32(float d) {
  constexpr float kL2E = 1.44269502162933349609375f;  // float nearest log2(e)
  constexpr float kL2ELo = 1.925963033500011e-08f;    // log2(e) - kL2E
  constexpr float kLn2 = 0.693147180559945309f;
  const float t = __fmul_rn(d, kL2E);
  const float dc = fminf(fmaxf(d, -128.f), 128.f);  // finite (NaN -> -128): feeds the correction only; t keeps NaN, inf
  const float tc = __fmul_rn(dc, kL2E);              // == t for |d| <= 128
  const float e = __fmaf_rn(dc, kL2ELo, __fmaf_rn(dc, kL2E, -tc));
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(t));
  return __fmul_rn(y, __fmaf_rn(e, kLn2, 1.f));
}
// The reference point r of a running sum: r, or 0 while r is -inf (no finite element yet).
__device__ __forceinline__ float ce_ref(float r) { return r == -INFINITY ? 0.f : r; }
// How far a chunk's maximum may pass the reference before the sum moves to a new one: terms stay below e^32 (a float
// chunk sum of them far from overflow), and a thread rarely rescales (in double, on a divergent path) after its first
// chunk, which sets the reference without one (the sum is still 0).
constexpr float kCeSlack = 32.f;
// Online softmax denominator of one thread: m = the maximum of the elements seen (NaN elements leave it alone, as the
// cpu's max does), s = sum of e^(v - ce_ref(r)) over them (NaN elements make it NaN), r <= m a reference that follows
// the maximum lazily (a value seen, moved to the chunk maximum when that passes it by more than kCeSlack; s is then
// rescaled by e^(old - new) in double). The N terms of a chunk are summed in float32 (relative error <= (N - 1)
// 2^-24 for these positive terms), the chunk sums in double.
template <int N>
__device__ __forceinline__ void ce_online(float& m, float& r, double& s, const float (&v)[N]) {
  float cm = v[0];
#pragma unroll
  for (int j = 1; j < N; ++j) cm = fmaxf(cm, v[j]);
  m = fmaxf(m, cm);
  if (cm > r + kCeSlack) {  // also r == -inf and cm finite or +inf; never for NaN
    if (s != 0.0) s *= ::exp((double)ce_ref(r) - (double)cm);
    r = cm;
  }
  const float ref = ce_ref(r);
  float cs = 0.f;
#pragma unroll
  for (int j = 0; j < N; ++j) cs = __fadd_rn(cs, exp_f32(__fsub_rn(v[j], ref)));
  s += (double)cs;
}
// lse[r] = max + log(sum e^(x - max)) and the row's loss lse - x[target] (0 when ignored), a row per warp (WARP, 8 rows
// per block) or per block, in one read of the row: every thread keeps a running maximum, reference and sum
// (ce_online), then the group combines them in double: S = sum_t s_t e^(r_t - M), M = max_t m_t (>= every r_t).
// VEC (typed T): the row's elements from its first 16-byte aligned one go in 16-byte chunks, two per thread and step;
// the few before and after it one by one.
// Error against the cpu (double exponentials of float differences from the maximum, summed in double): exp_f32's
// ~2 ulp per term (of differences from r_t, not M: exact rescaling in double), the chunks' float sums (<= 7 * 2^-24
// for bfloat16's 8-element chunks) and the double rest (negligible) bound the relative error of S near
// 2.5 * 2^-23 + 7 * 2^-24 (7e-7): |lse - cpu lse| <= 7e-7 plus the two float roundings (max + log S, as on the cpu);
// relative to |lse| (about log(cols) or more for real logits) well within 1e-6.
// Special values as on the cpu: a row whose maximum is -inf (all -inf / NaN) or that holds NaN or +inf gets NaN.
template <bool WARP, bool VEC, typename T>
__global__ void ce_rows_kernel(const T* __restrict__ logits, int dl, const int32_t* __restrict__ targets,
                               float* __restrict__ lse, double* __restrict__ row_loss, int64_t rows, int64_t cols,
                               int32_t ignore) {
  __shared__ float redf[32];
  __shared__ double redd[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    float m = -INFINITY, ref = -INFINITY;
    double s = 0.0;
    int64_t c0 = 0, c1 = 0;  // [c0, c1): the row's whole 16-byte chunks (none for the scalar kernel)
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
      const int64_t head = (int64_t)((16 - (reinterpret_cast<uintptr_t>(logits + p) & 15)) & 15) / (int64_t)sizeof(T);
      c0 = head < cols ? head : cols;
      c1 = c0 + (cols - c0) / V * V;
      const int64_t step = (int64_t)gsize * V;
      int64_t c = c0 + (int64_t)t * V;
      for (; c + step < c1; c += 2 * step) {  // chunks c and c + step, both whole (chunk starts are c0 + k V)
        float a[V], b[V];
        ldf_vec(logits, p + c, a);
        ldf_vec(logits, p + c + step, b);
        ce_online(m, ref, s, a);
        ce_online(m, ref, s, b);
      }
      if (c < c1) {
        float a[V];
        ldf_vec(logits, p + c, a);
        ce_online(m, ref, s, a);
      }
    }
    for (int64_t c = t; c < c0; c += gsize) {
      const float v[1] = {ldf(logits, dl, p + c)};
      ce_online(m, ref, s, v);
    }
    for (int64_t c = c1 + t; c < cols; c += gsize) {
      const float v[1] = {ldf(logits, dl, p + c)};
      ce_online(m, ref, s, v);
    }
    const float mx = gmax<WARP>(m, redf);
    // A thread without terms (s == 0) adds nothing; NaN stays NaN. e^(r_t - M) <= 1 for finite r_t; r_t == -inf with
    // s != 0 means s is NaN; M == +inf leaves only the NaN of the thread that saw it.
    const double part = s == 0.0 ? 0.0 : s * ::exp((double)ce_ref(ref) - (double)ce_ref(mx));
    double sum = gsum<WARP, double>(part, redd);
    if (t == 0) {
      if (mx == -INFINITY) sum = __longlong_as_double(0x7ff8000000000000LL);  // the cpu: -inf - -inf, NaN
      const float l = fadd(mx, (float)::log(sum));
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
// gx = softmax(logits) * scale, minus scale at the target column, 0 in ignored rows. e^(x - lse) by exp_f32 (about
// 2 ulp from the cpu's correctly rounded expf; the cpu's formula otherwise). A row per group of 2^gshift
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
        g = fmul(exp_f32(fsub(ldf(logits, dl, p + c), l)), scale);
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
            float g = fmul(exp_f32(fsub(v[j], l)), scale);
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
// VEC (typed T, every operand 16-byte aligned and cols a multiple of kVec16<T>): every pass moves 16-byte chunks (the
// sums ss and dot then add a thread's chunks in chunk order: another float32 order than the scalar loop's, and the
// cpu's sequential one differs from both anyway). The second pass re-reads the row (from L1 / L2).
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
// RES: the fused residual add, sum = x + res written first (then read back: the stored, rounded values are normalised).
template <bool WARP, bool VEC, bool RES, typename T>
__global__ void rms_norm_kernel(const T* __restrict__ x, int dx, const T* __restrict__ res, int dr, T* __restrict__ sum,
                                int ds, const T* __restrict__ w, int dw, T* __restrict__ y, int dy,
                                float* __restrict__ rstd, int64_t rows, int64_t cols, float eps) {
  __shared__ float red[32];
  SEEKR_ROW_LOOP_SETUP
  const T* src = RES ? sum : x;  // what is normalised
  const int dsrc = RES ? ds : dx;
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    float ss = 0.f;
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
#pragma unroll 2
      for (int64_t c = (int64_t)t * V; c < cols; c += (int64_t)gsize * V) {
        float xv[V];
        ldf_vec(x, p + c, xv);
        if constexpr (RES) {
          float rv[V];
          ldf_vec(res, p + c, rv);
#pragma unroll
          for (int j = 0; j < V; ++j) xv[j] = fadd(xv[j], rv[j]);
          stf_vec(sum, p + c, xv);
          ldf_vec(sum, p + c, xv);
        }
#pragma unroll
        for (int j = 0; j < V; ++j) ss = fadd(ss, fmul(xv[j], xv[j]));
      }
    } else {
      for (int64_t c = t; c < cols; c += gsize) {
        float v = ldf(x, dx, p + c);
        if constexpr (RES) {
          stf(sum, ds, p + c, fadd(v, ldf(res, dr, p + c)));
          v = ldf(sum, ds, p + c);
        }
        ss = fadd(ss, fmul(v, v));
      }
    }
    ss = gsum<WARP, float>(ss, red);
    const float rs = fdiv(1.f, fsqrt(fadd(fdiv(ss, (float)cols), eps)));
    if (t == 0) rstd[r] = rs;
    // The second pass reads back what this thread wrote to sum in the first (the same columns).
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
      for (int64_t c = (int64_t)t * V; c < cols; c += (int64_t)gsize * V) {
        float xv[V], wv[V];
        ldf_vec(src, p + c, xv);
        ldf_vec(w, c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) xv[j] = fmul(fmul(xv[j], rs), wv[j]);
        stf_vec(y, p + c, xv);
      }
    } else {
      for (int64_t c = t; c < cols; c += gsize) stf(y, dy, p + c, fmul(fmul(ldf(src, dsrc, p + c), rs), ldf(w, dw, c)));
    }
  }
}
// Elements per 16-byte chunk of the narrowest of the types: 4 when all are float32, 8 with a 16-bit one. A chunk of V
// elements of a wider type is then several 16-byte loads (ldf_vec / stf_vec).
template <typename A, typename B>
constexpr int kVec2 = kVec16<A> > kVec16<B> ? kVec16<A> : kVec16<B>;
// The chunk of rms_norm_rows_kernel: 16 bytes of the narrowest of x, y and (RES) res.
template <bool RES, typename TX, typename TR, typename TY>
constexpr int kRowsVec = RES ? (kVec2<TX, TR> > kVec16<TY> ? kVec2<TX, TR> : kVec16<TY>) : kVec2<TX, TY>;
// v as a T buffer stores it (rounded to T, widened back).
template <typename T>
__device__ __forceinline__ float stored(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else {
    T e[1];
    stf(e, 0, 0, v);
    return ldf(e, 0, 0);
  }
}
// rms_norm_kernel's VEC warp variant for cols <= 1024 (NC chunks of V per lane, NC * V * 32 >= cols): the row is
// read once into registers (every chunk's load in flight together), then y is written from them. Lane l takes chunks
// l, l + 32, ...: the order of rms_norm_kernel's VEC loop run by a warp (that variant is not built: this one serves).
// x, sum and w are TX; y is TY and res TR (RES), so that a float32 residual stream can take bfloat16 branch outputs
// and give the bfloat16 operand of the next matrix products, without a cast kernel on either side.
template <int NC, bool RES, typename TX, typename TR, typename TY>
__global__ void __launch_bounds__(kThreads) rms_norm_rows_kernel(const TX* __restrict__ x, const TR* __restrict__ res,
                                                                 TX* __restrict__ sum, const TX* __restrict__ w,
                                                                 TY* __restrict__ y, float* __restrict__ rstd,
                                                                 int64_t rows, int64_t cols, float eps) {
  constexpr int V = kRowsVec<RES, TX, TR, TY>;
  const int lane = threadIdx.x & 31;
  const int64_t per_block = kThreads / 32;
  const int64_t stride = (int64_t)gridDim.x * per_block;
  for (int64_t r = (int64_t)blockIdx.x * per_block + (threadIdx.x >> 5); r < rows; r += stride) {
    const int64_t p = r * cols;
    float xv[NC][V];
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int64_t c = (int64_t)(lane + 32 * k) * V;
      if (c < cols) {
        ldf_vec(x, p + c, xv[k]);
        if constexpr (RES) {
          float rv[V];
          ldf_vec(res, p + c, rv);
#pragma unroll
          for (int j = 0; j < V; ++j) xv[k][j] = stored<TX>(fadd(xv[k][j], rv[j]));
          stf_vec(sum, p + c, xv[k]);
        }
      }
    }
    float ss = 0.f;
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int64_t c = (int64_t)(lane + 32 * k) * V;
      if (c < cols) {
#pragma unroll
        for (int j = 0; j < V; ++j) ss = fadd(ss, fmul(xv[k][j], xv[k][j]));
      }
    }
    ss = warp_sum(ss);
    const float rs = fdiv(1.f, fsqrt(fadd(fdiv(ss, (float)cols), eps)));
    if (lane == 0) rstd[r] = rs;
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int64_t c = (int64_t)(lane + 32 * k) * V;
      if (c < cols) {
        float wv[V];
        ldf_vec(w, c, wv);
#pragma unroll
        for (int j = 0; j < V; ++j) xv[k][j] = fmul(fmul(xv[k][j], rs), wv[j]);
        stf_vec(y, p + c, xv[k]);
      }
    }
  }
}
template <bool WARP, bool VEC, typename T>
__global__ void rms_norm_backward_kernel(const T* __restrict__ x, int dx, const T* __restrict__ w, int dw,
                                         const float* __restrict__ rstd, const T* __restrict__ gy, int dgy,
                                         T* __restrict__ gx, int dgx, int64_t rows, int64_t cols, bool acc) {
  __shared__ float red[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const int64_t p = r * cols;
    const float rs = rstd[r];
    float dot = 0.f;
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
#pragma unroll 2
      for (int64_t c = (int64_t)t * V; c < cols; c += (int64_t)gsize * V) {
        float wv[V], gv[V], xv[V];
        ldf_vec(w, c, wv);
        ldf_vec(gy, p + c, gv);
        ldf_vec(x, p + c, xv);
#pragma unroll
        for (int j = 0; j < V; ++j) dot = fadd(dot, fmul(fmul(gv[j], wv[j]), xv[j]));
      }
    } else {
      for (int64_t c = t; c < cols; c += gsize)
        dot = fadd(dot, fmul(fmul(ldf(gy, dgy, p + c), ldf(w, dw, c)), ldf(x, dx, p + c)));
    }
    dot = gsum<WARP, float>(dot, red);
    const float k = fdiv(fmul(fmul(fmul(dot, rs), rs), rs), (float)cols);
    if constexpr (VEC) {
      constexpr int V = kVec16<T>;
      for (int64_t c = (int64_t)t * V; c < cols; c += (int64_t)gsize * V) {
        float wv[V], gv[V], xv[V], ov[V] = {};
        ldf_vec(w, c, wv);
        ldf_vec(gy, p + c, gv);
        ldf_vec(x, p + c, xv);
        if (acc) ldf_vec(gx, p + c, ov);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const float g = fsub(fmul(fmul(rs, wv[j]), gv[j]), fmul(xv[j], k));
          ov[j] = acc ? fadd(ov[j], g) : g;
        }
        stf_vec(gx, p + c, ov);
      }
    } else {
      for (int64_t c = t; c < cols; c += gsize) {
        const float g = fsub(fmul(fmul(rs, ldf(w, dw, c)), ldf(gy, dgy, p + c)), fmul(ldf(x, dx, p + c), k));
        stf(gx, dgx, p + c, acc ? fadd(ldf(gx, dgx, p + c), g) : g);
      }
    }
  }
}
// The fast backward (typed T, VEC conditions, cols <= 1024): gx and the weight gradient in one read of x and gy.
// Block b (kRmsWarps warps) takes rows [b rpb, (b + 1) rpb), warp w of it rows b rpb + w, + kRmsWarps, ...; lane l owns
// the columns of chunks l, l + 32, ... (NC chunks of V, NC * V * 32 >= cols), and keeps w, its gw sums over its rows
// and the current row (x, gy) in registers. part[b, c] = the warps' sums added in warp order. The order is fixed by
// (rows, cols) alone: deterministic run to run (and from GPU to GPU), not the cpu's. gx: the generic kernel's
// arithmetic (the dot in per-lane chunk order, then the warp's butterfly sum).
constexpr int kRmsWarps = 8;
constexpr int kRmsMaxBlocks = 256;  // partial rows (about 2 blocks per SM on an H100: one wave)
// gy may be TG, a 16-bit dtype with float32 x / w / gx (the gradient of a bfloat16 norm output, see rms_norm_rows_kernel).
// copy (a float32 T only; else nullptr): gx's final values also stored there, rounded to dtype ct.
template <int NC, typename T, typename TG>
__global__ void __launch_bounds__(kRmsWarps * 32) rms_norm_backward_fused_kernel(
    const T* __restrict__ x, const T* __restrict__ w, const float* __restrict__ rstd, const TG* __restrict__ gy,
    T* __restrict__ gx, float* __restrict__ part, int64_t rows, int64_t cols, int64_t rpb, bool acc,
    AnyF* __restrict__ copy, int ct) {
  constexpr int V = kVec2<T, TG>;
  __shared__ float wsum[kRmsWarps][NC * V * 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float wv[NC][V], gw[NC][V];
#pragma unroll
  for (int k = 0; k < NC; ++k) {
    const int64_t c = (int64_t)(lane + 32 * k) * V;
#pragma unroll
    for (int j = 0; j < V; ++j) wv[k][j] = gw[k][j] = 0.f;
    if (c < cols) ldf_vec(w, c, wv[k]);
  }
  const int64_t r0 = (int64_t)blockIdx.x * rpb;
  const int64_t r1 = r0 + rpb < rows ? r0 + rpb : rows;
  for (int64_t r = r0 + warp; r < r1; r += kRmsWarps) {
    const int64_t p = r * cols;
    const float rs = rstd[r];
    float xv[NC][V], gv[NC][V];
    float dot = 0.f;
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int64_t c = (int64_t)(lane + 32 * k) * V;
      if (c < cols) {
        ldf_vec(x, p + c, xv[k]);
        ldf_vec(gy, p + c, gv[k]);
      }
    }
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int64_t c = (int64_t)(lane + 32 * k) * V;
      if (c < cols) {
#pragma unroll
        for (int j = 0; j < V; ++j) dot = fadd(dot, fmul(fmul(gv[k][j], wv[k][j]), xv[k][j]));
      }
    }
    dot = warp_sum(dot);
    const float kk = fdiv(fmul(fmul(fmul(dot, rs), rs), rs), (float)cols);
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int64_t c = (int64_t)(lane + 32 * k) * V;
      if (c < cols) {
        float ov[V] = {};
        if (acc) ldf_vec(gx, p + c, ov);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const float g = fsub(fmul(fmul(rs, wv[k][j]), gv[k][j]), fmul(xv[k][j], kk));
          ov[j] = acc ? fadd(ov[j], g) : g;
          gw[k][j] = fadd(gw[k][j], fmul(fmul(gv[k][j], xv[k][j]), rs));  // the cpu's term: gy * x * rstd
        }
        stf_vec(gx, p + c, ov);
        if (copy) {
#pragma unroll
          for (int j = 0; j < V; ++j) stf(copy, ct, p + c + j, ov[j]);
        }
      }
    }
  }
#pragma unroll
  for (int k = 0; k < NC; ++k) {
    const int c = (lane + 32 * k) * V;
#pragma unroll
    for (int j = 0; j < V; ++j) wsum[warp][c + j] = gw[k][j];  // columns >= cols hold 0, unused
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float acc_w = 0.f;
#pragma unroll
    for (int i = 0; i < kRmsWarps; ++i) acc_w = fadd(acc_w, wsum[i][c]);
    part[(int64_t)blockIdx.x * cols + c] = acc_w;
  }
}
// gw[c] = sum over b < nb of part[b, c] in a fixed order, in double: 32 columns per block, warp i summing rows
// i, i + 8, ... of its column, then the 8 warp sums in order.
template <typename T>
__global__ void __launch_bounds__(256) rms_gw_sum_kernel(const float* __restrict__ part, T* __restrict__ gw, int dgw,
                                                          int64_t cols, int64_t nb) {
  __shared__ double red[8][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t c = (int64_t)blockIdx.x * 32 + lane;
  double s = 0.0;
  if (c < cols) {
#pragma unroll 4
    for (int64_t b = warp; b < nb; b += 8) s += (double)part[b * cols + c];
  }
  red[warp][lane] = s;
  __syncthreads();
  if (warp == 0 && c < cols) {
    double tot = 0.0;
#pragma unroll
    for (int i = 0; i < 8; ++i) tot += red[i][lane];
    stf(gw, dgw, c, (float)tot);
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

// rope_apply_kernel in 16-byte chunks (typed T, x and out 16-byte aligned, half % kVec16<T> == 0): a thread takes V
// pairs (i .. i + V - 1 with their partners i + half ..), one chunk of each half, and V cos / sin entries (16-byte
// aligned too: half is a multiple of 4 and the table comes from cudaMalloc). Same arithmetic per pair. x may be out.
template <typename T>
__global__ void rope_apply_vec_kernel(const T* x, const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                                      T* out, int64_t rows, int64_t heads, int64_t half, int64_t period, float sign) {
  constexpr int V = kVec16<T>;
  const int64_t hv = half / V;  // chunks per half row
  const int64_t total = rows * heads * hv;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t rh = t / hv, i = (t - rh * hv) * V, r = rh / heads;
    const int64_t k = (r % period) * half + i;
    const int64_t p = rh * 2 * half + i;
    float a[V], b[V], cs[V], sn[V];
    ldf_vec(x, p, a);
    ldf_vec(x, p + half, b);
    ldf_vec(cos_t, k, cs);
    ldf_vec(sin_t, k, sn);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float s = fmul(sign, sn[j]);
      const float lo = fsub(fmul(a[j], cs[j]), fmul(b[j], s));
      const float hi = fadd(fmul(b[j], cs[j]), fmul(a[j], s));
      a[j] = lo;
      b[j] = hi;
    }
    stf_vec(out, p, a);
    stf_vec(out, p + half, b);
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
  rope_table_kernel<<<grid_for(period * half), kThreads, 0, SEEKR_STREAM>>>(inv_freq, period, offset, half, p, p + period * half);
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
      // 16-byte chunks whenever the buffer holds whole elements (each row finds its own first aligned one).
      with_vec<T>(reinterpret_cast<uintptr_t>(x) % sizeof(T) == 0, [&](auto v) {
        constexpr bool V = decltype(v)::value;
        if (cols <= 1024)
          ce_rows_kernel<true, V, T><<<rows_grid(rows, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(
              x, (int)lt, targets, lse, row_loss.as<double>(), rows, cols, ignore);
        else
          ce_rows_kernel<false, V, T><<<rows_grid(rows, 1), kThreads, 0, SEEKR_STREAM>>>(x, (int)lt, targets, lse,
                                                                        row_loss.as<double>(), rows, cols, ignore);
      });
    });
    check_launch("crossEntropy");
  }
  ce_final_kernel<<<1, 1024, 0, SEEKR_STREAM>>>(row_loss.as<double>(), rows, count, loss);
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

namespace {
// launch(std::integral_constant<int, NC>{}) for a row of cols <= 1024 held in registers: NC = q U chunks per lane
// (U chunks per lane cover 256 columns), q = ceil(cols / 256) in 1 .. 4.
template <int U, typename F>
void with_row_chunks(int64_t cols, F&& launch) {
  const int64_t q = (cols + 255) / 256;
  if (q == 1) launch(std::integral_constant<int, U>{});
  else if (q == 2) launch(std::integral_constant<int, 2 * U>{});
  else if (q == 3) launch(std::integral_constant<int, 3 * U>{});
  else launch(std::integral_constant<int, 4 * U>{});
}
// rms_norm_rows_kernel for these types when the operands qualify (16-byte aligned, cols a multiple of the chunk, at
// most 1024); false when they do not (the caller falls back to rms_norm_kernel).
template <bool RES, typename TX, typename TR, typename TY>
bool rms_rows_launch(const void* x, const void* res, void* sum, const void* w, void* y, float* rstd, int64_t rows,
                     int64_t cols, float eps) {
  constexpr int V = kRowsVec<RES, TX, TR, TY>;
  if (cols > 1024 || cols % V != 0) return false;
  for (const void* p : {x, w, (const void*)y})
    if (!aligned16(p)) return false;
  if (RES && !(aligned16(res) && aligned16(sum))) return false;
  constexpr int U = 8 / V;  // chunks per lane per 256 columns
  const auto launch = [&](auto nc) {
    rms_norm_rows_kernel<decltype(nc)::value, RES, TX, TR, TY><<<rows_grid(rows, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(
        static_cast<const TX*>(x), static_cast<const TR*>(res), static_cast<TX*>(sum), static_cast<const TX*>(w),
        static_cast<TY*>(y), rstd, rows, cols, eps);
  };
  with_row_chunks<U>(cols, launch);
  return true;
}
// The typed register-row forward: one dtype throughout, or float32 x / sum / w with a 16-bit y (res: y's dtype or
// float32), or float32 x / sum / w / y with a 16-bit res.
bool rms_rows(DType xt, const void* x, DType rt, const void* res, DType st, void* sum, DType wt, const void* w, DType yt,
              void* y, float* rstd, int64_t rows, int64_t cols, float eps) {
  if (cols > 1024 || wt != xt || (res && st != xt)) return false;
  bool done = false;
  with_dtype(xt, [&](auto ex) {
    using TX = typename decltype(ex)::type;
    with_dtype(yt, [&](auto ey) {
      using TY = typename decltype(ey)::type;
      constexpr bool wide = std::is_same_v<TX, float>;
      if constexpr (wide || std::is_same_v<TY, TX>) {
        if (!res) {
          done = rms_rows_launch<false, TX, TX, TY>(x, nullptr, nullptr, w, y, rstd, rows, cols, eps);
          return;
        }
        with_dtype(rt, [&](auto er) {
          using TR = typename decltype(er)::type;
          if constexpr (std::is_same_v<TR, TY> || (wide && std::is_same_v<TY, float>))
            done = rms_rows_launch<true, TX, TR, TY>(x, res, sum, w, y, rstd, rows, cols, eps);
        });
      }
    });
  });
  return done;
}
}  // namespace

void rms_norm(int device, const void* x, DType xt, const void* res, DType rt, void* sum, DType st, const void* w,
              DType wt, void* y, DType yt, float* rstd, int64_t rows, int64_t cols, float eps) {
  if (rows == 0) return;
  use_device(device);
  if (!rms_rows(xt, x, rt, res, st, sum, wt, w, yt, y, rstd, rows, cols, eps)) {
    const bool same = xt == wt && wt == yt && (!res || (rt == xt && st == xt));
    with_elem(same, yt, [&](auto e) {
      using T = typename decltype(e)::type;
      const T* xp = static_cast<const T*>(x);
      const T* rp = static_cast<const T*>(res);
      T* sp = static_cast<T*>(sum);
      const T* wp = static_cast<const T*>(w);
      T* yp = static_cast<T*>(y);
      const bool vec = res ? rms_vec<T>(cols, {xp, rp, sp, wp, yp}) : rms_vec<T>(cols, {xp, wp, yp});
      with_vec<T>(vec, [&](auto v) {
        constexpr bool V = decltype(v)::value;
        const auto go = [&](auto warp, auto has_res) {
          constexpr bool W = decltype(warp)::value;
          // A typed VEC row of cols <= 1024 is rms_rows' (register-row kernel): the warp VEC variant is not built.
          rms_norm_kernel<W, V && !W, decltype(has_res)::value, T>
              <<<W ? rows_grid(rows, kThreads / 32) : rows_grid(rows, 1), kThreads, 0, SEEKR_STREAM>>>(
                  xp, (int)xt, rp, (int)rt, sp, (int)st, wp, (int)wt, yp, (int)yt, rstd, rows, cols, eps);
        };
        const auto with_res = [&](auto warp) {
          if (res) go(warp, std::true_type{});
          else go(warp, std::false_type{});
        };
        if (cols <= 1024) with_res(std::true_type{});
        else with_res(std::false_type{});
      });
    });
  }
  check_launch("rmsNorm");
}

void rms_norm_backward(int device, const void* x, DType xt, const void* w, DType wt, const float* rstd, const void* gy,
                       DType gyt, void* gx, DType gxt, void* gw, DType gwt, int64_t rows, int64_t cols,
                       bool accumulate, void* copy, DType ct) {
  if (cols == 0) return;
  if (copy && gxt != DType::F32) throw Error("rmsNormBackward: a gx copy needs a float32 gx");
  use_device(device);
  // The fused kernel: x, w, gx and gw of one dtype T; gy of T too, or 16-bit with a float32 T.
  bool fused = false;
  if (rows > 0 && cols <= 1024 && xt == wt && wt == gxt && gxt == gwt &&
      (gyt == xt || xt == DType::F32) && aligned16(x) && aligned16(w) && aligned16(gy) && aligned16(gx)) {
    with_dtype(xt, [&](auto e) {
      using T = typename decltype(e)::type;
      with_dtype(gyt, [&](auto eg) {
        using TG = typename decltype(eg)::type;
        if constexpr (std::is_same_v<TG, T> || std::is_same_v<T, float>) {
          constexpr int V = kVec2<T, TG>;
          if (cols % V != 0) return;
          constexpr int U = 8 / V;  // chunks per lane per 256 columns
          const int64_t nb0 = std::min<int64_t>((rows + kRmsWarps - 1) / kRmsWarps, kRmsMaxBlocks);
          const int64_t rpb = (rows + nb0 - 1) / nb0;
          const int64_t nb = (rows + rpb - 1) / rpb;
          Scratch part(device, (size_t)(nb * cols) * sizeof(float));
          const auto launch = [&](auto nc) {
            rms_norm_backward_fused_kernel<decltype(nc)::value, T, TG><<<(unsigned)nb, kRmsWarps * 32, 0, SEEKR_STREAM>>>(
                static_cast<const T*>(x), static_cast<const T*>(w), rstd, static_cast<const TG*>(gy), static_cast<T*>(gx),
                part.as<float>(), rows, cols, rpb, accumulate, static_cast<AnyF*>(copy), (int)ct);
          };
          with_row_chunks<U>(cols, launch);
          check_launch("rmsNormBackward");
          rms_gw_sum_kernel<T><<<(unsigned)((cols + 31) / 32), 256, 0, SEEKR_STREAM>>>(part.as<float>(), static_cast<T*>(gw),
                                                                                     (int)gwt, cols, nb);
          fused = true;
        }
      });
    });
  }
  if (fused) {
    check_launch("rmsNormBackward");
    return;
  }
  with_elem(xt == wt && wt == gyt && gyt == gxt && gxt == gwt, gxt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* xp = static_cast<const T*>(x);
    const T* wp = static_cast<const T*>(w);
    const T* gp = static_cast<const T*>(gy);
    T* gxp = static_cast<T*>(gx);
    const bool vec = rms_vec<T>(cols, {xp, wp, gp, gxp});
    const int64_t nb = (rows + kGwBlock - 1) / kGwBlock;
    Scratch part(device, (size_t)(nb > 0 ? nb * cols : 1) * sizeof(float));
    if (rows > 0) {
      with_vec<T>(vec, [&](auto v) {
        constexpr bool V = decltype(v)::value;
        // Typed VEC rows of cols <= 1024 take the fused kernel above: the warp VEC variant is not built. (`V && false`,
        // not `false`: the host emulator's g++ does not instantiate a non-dependent specialisation named here.)
        if (cols <= 1024)
          rms_norm_backward_kernel<true, V && false, T><<<rows_grid(rows, kThreads / 32), kThreads, 0, SEEKR_STREAM>>>(
              xp, (int)xt, wp, (int)wt, rstd, gp, (int)gyt, gxp, (int)gxt, rows, cols, accumulate);
        else
          rms_norm_backward_kernel<false, V, T><<<rows_grid(rows, 1), kThreads, 0, SEEKR_STREAM>>>(
              xp, (int)xt, wp, (int)wt, rstd, gp, (int)gyt, gxp, (int)gxt, rows, cols, accumulate);
      });
      check_launch("rmsNormBackward");
    }
    if (nb > 0) {
      rms_gw_partial<T><<<grid_for(nb * cols, kGwThreads), kGwThreads, 0, SEEKR_STREAM>>>(xp, (int)xt, rstd, gp, (int)gyt,
                                                                         part.as<float>(), rows, cols, nb);
      check_launch("rmsNormBackward");
    }
    rms_gw_final<T><<<grid_for(cols, kGwThreads / 2), kGwThreads / 2, 0, SEEKR_STREAM>>>(part.as<float>(), static_cast<T*>(gw), (int)gwt,
                                                                         cols, nb);
  });
  check_launch("rmsNormBackward");
  if (copy && rows > 0) convert(device, gx, gxt, copy, ct, rows * cols);  // the generic kernels: a pass of its own
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
    rope_freq_kernel<<<grid_for(half), kThreads, 0, SEEKR_STREAM>>>(dinv->as<float>(), half, (double)theta, dim);
    check_launch("rope");
    if (!positions) table = rope_table_build(device, period, offset, dim, theta, dinv->as<float>());
  }
  if (table) {
    with_elem(xt == ot, ot, [&](auto e) {
      using T = typename decltype(e)::type;
      if constexpr (!std::is_same_v<T, AnyF>) {
        constexpr int V = kVec16<T>;
        if (half % V == 0 && aligned16(x) && aligned16(out)) {
          rope_apply_vec_kernel<T><<<grid_for(rows * heads * (half / V)), kThreads, 0, SEEKR_STREAM>>>(
              static_cast<const T*>(x), table, table + period * half, static_cast<T*>(out), rows, heads, half, period,
              sign);
          return;
        }
      }
      rope_apply_kernel<T><<<grid_for(rows * heads * half), kThreads, 0, SEEKR_STREAM>>>(static_cast<const T*>(x), (int)xt, table,
                                                                        table + period * half, static_cast<T*>(out),
                                                                        (int)ot, rows, heads, dim, period, sign);
    });
    check_launch("rope");
    return;
  }
  with_elem(xt == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    rope_kernel<T><<<grid_for(rows * heads * half), kThreads, 0, SEEKR_STREAM>>>(static_cast<const T*>(x), (int)xt, positions,
                                                                dinv->as<float>(), static_cast<T*>(out), (int)ot, rows,
                                                                heads, dim, sign, period, offset);
  });
  check_launch("rope");
}

}  // namespace cuda
}  // namespace seekr
