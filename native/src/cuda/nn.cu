// CUDA fused nn kernels: cross-entropy with log-softmax (+ backward), RMSNorm (+ backward with the cpu's fixed
// weight-gradient order), RoPE (+ inverse). Formulas are cpu/nn.cpp's, operation for operation.
#include <cuda_runtime.h>

#include <cmath>
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

unsigned rows_grid(int64_t rows, int64_t per_block) {
  int64_t b = (rows + per_block - 1) / per_block;
  if (b > 65535 * 16) b = 65535 * 16;
  return (unsigned)(b < 1 ? 1 : b);
}

// ---- cross-entropy ------------------------------------------------------------------------------------------------
template <bool WARP>
__global__ void ce_rows_kernel(const float* __restrict__ logits, const int32_t* __restrict__ targets,
                               float* __restrict__ lse, double* __restrict__ row_loss, int64_t rows, int64_t cols,
                               int32_t ignore) {
  __shared__ float redf[32];
  __shared__ double redd[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const float* p = logits + r * cols;
    float mx = -INFINITY;
    for (int64_t c = t; c < cols; c += gsize) mx = fmaxf(mx, p[c]);
    mx = gmax<WARP>(mx, redf);
    double s = 0;
    for (int64_t c = t; c < cols; c += gsize) s += ::exp((double)fsub(p[c], mx));
    s = gsum<WARP, double>(s, redd);
    if (t == 0) {
      const float l = fadd(mx, (float)::log(s));
      lse[r] = l;
      const int32_t tg = targets[r];
      row_loss[r] = tg == ignore ? 0.0 : __dsub_rn((double)l, (double)p[tg]);
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
__global__ void ce_backward_kernel(const float* __restrict__ logits, const int32_t* __restrict__ targets,
                                   const float* __restrict__ lse, const float* __restrict__ gy, int64_t count,
                                   float* __restrict__ gx, int64_t rows, int64_t cols, int32_t ignore) {
  const float scale = count > 0 ? fdiv(gy[0], (float)count) : 0.f;
  const int64_t total = rows * cols;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / cols, c = i - r * cols;
    const int32_t tg = targets[r];
    if (tg == ignore) {
      gx[i] = 0.f;
      continue;
    }
    float g = fmul(fexp(fsub(logits[i], lse[r])), scale);
    if (c == tg) g = fsub(g, scale);
    gx[i] = g;
  }
}

// ---- RMSNorm ------------------------------------------------------------------------------------------------------
template <bool WARP>
__global__ void rms_norm_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                float* __restrict__ rstd, int64_t rows, int64_t cols, float eps) {
  __shared__ float red[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const float* px = x + r * cols;
    float ss = 0.f;
    for (int64_t c = t; c < cols; c += gsize) ss = fadd(ss, fmul(px[c], px[c]));
    ss = gsum<WARP, float>(ss, red);
    const float rs = fdiv(1.f, fsqrt(fadd(fdiv(ss, (float)cols), eps)));
    if (t == 0) rstd[r] = rs;
    float* py = y + r * cols;
    for (int64_t c = t; c < cols; c += gsize) py[c] = fmul(fmul(px[c], rs), w[c]);
  }
}
template <bool WARP>
__global__ void rms_norm_backward_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ rstd, const float* __restrict__ gy,
                                         float* __restrict__ gx, int64_t rows, int64_t cols) {
  __shared__ float red[32];
  SEEKR_ROW_LOOP_SETUP
  for (int64_t r = first; r < rows; r += stride) {
    const float* px = x + r * cols;
    const float* pg = gy + r * cols;
    float* po = gx + r * cols;
    const float rs = rstd[r];
    float dot = 0.f;
    for (int64_t c = t; c < cols; c += gsize) dot = fadd(dot, fmul(fmul(pg[c], w[c]), px[c]));
    dot = gsum<WARP, float>(dot, red);
    const float k = fdiv(fmul(fmul(fmul(dot, rs), rs), rs), (float)cols);
    for (int64_t c = t; c < cols; c += gsize) po[c] = fsub(fmul(fmul(rs, w[c]), pg[c]), fmul(px[c], k));
  }
}
constexpr int64_t kGwBlock = 64;  // rows per partial, as on the cpu
// part[bi, c] = sum over the rows of block bi, in row order.
__global__ void rms_gw_partial(const float* __restrict__ x, const float* __restrict__ rstd, const float* __restrict__ gy,
                               float* __restrict__ part, int64_t rows, int64_t cols, int64_t nb) {
  const int64_t total = nb * cols;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t bi = t / cols, c = t - bi * cols;
    const int64_t r1 = (bi + 1) * kGwBlock < rows ? (bi + 1) * kGwBlock : rows;
    float acc = 0.f;
    for (int64_t r = bi * kGwBlock; r < r1; ++r) acc = fadd(acc, fmul(fmul(gy[r * cols + c], x[r * cols + c]), rstd[r]));
    part[t] = acc;
  }
}
__global__ void rms_gw_final(const float* __restrict__ part, float* __restrict__ gw, int64_t cols, int64_t nb) {
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    float acc = 0.f;
    for (int64_t bi = 0; bi < nb; ++bi) acc = fadd(acc, part[bi * cols + c]);
    gw[c] = acc;
  }
}

// ---- RoPE -----------------------------------------------------------------------------------------------------------
// The cpu's inverse frequencies: 1 / theta^(2i / dim) in double, rounded to float where they are used.
__global__ void rope_freq_kernel(float* __restrict__ inv_freq, int64_t half, double theta, int64_t dim) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < half; i += (int64_t)gridDim.x * blockDim.x)
    inv_freq[i] = (float)__ddiv_rn(1.0, ::pow(theta, __ddiv_rn((double)(2 * i), (double)dim)));
}
__global__ void rope_kernel(const float* x, const int32_t* __restrict__ positions,
                            const float* __restrict__ inv_freq, float* out, int64_t rows, int64_t heads,
                            int64_t dim, float sign) {
  const int64_t half = dim / 2;
  const int64_t total = rows * heads * half;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t % half, rh = t / half, r = rh / heads;
    // Angle in float32 like the cpu (and PyTorch): (float)pos * (float)inv_freq, then cos / sin.
    const float ang = fmul((float)positions[r], inv_freq[i]);
    const float cs = fcos(ang);
    const float sn = fmul(sign, fsin(ang));
    const float* px = x + rh * dim;
    float* po = out + rh * dim;
    const float a = px[i], b = px[i + half];
    po[i] = fsub(fmul(a, cs), fmul(b, sn));
    po[i + half] = fadd(fmul(b, cs), fmul(a, sn));
  }
}

}  // namespace

void cross_entropy(int device, const float* logits, const int32_t* targets, float* loss, float* lse, int64_t rows,
                   int64_t cols, int32_t ignore, int64_t count) {
  use_device(device);
  Scratch row_loss(device, (size_t)(rows > 0 ? rows : 1) * sizeof(double));
  if (rows > 0) {
    if (cols <= 1024)
      ce_rows_kernel<true><<<rows_grid(rows, kThreads / 32), kThreads>>>(logits, targets, lse, row_loss.as<double>(), rows, cols, ignore);
    else
      ce_rows_kernel<false><<<rows_grid(rows, 1), kThreads>>>(logits, targets, lse, row_loss.as<double>(), rows, cols, ignore);
    check_launch("crossEntropy");
  }
  ce_final_kernel<<<1, 1024>>>(row_loss.as<double>(), rows, count, loss);
  check_launch("crossEntropy");
}

void cross_entropy_backward(int device, const float* logits, const int32_t* targets, const float* lse, const float* gy,
                            int64_t count, float* gx, int64_t rows, int64_t cols, int32_t ignore) {
  if (rows * cols == 0) return;
  use_device(device);
  ce_backward_kernel<<<grid_for(rows * cols), kThreads>>>(logits, targets, lse, gy, count, gx, rows, cols, ignore);
  check_launch("crossEntropyBackward");
}

void rms_norm(int device, const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t cols, float eps) {
  if (rows == 0) return;
  use_device(device);
  if (cols <= 1024) rms_norm_kernel<true><<<rows_grid(rows, kThreads / 32), kThreads>>>(x, w, y, rstd, rows, cols, eps);
  else rms_norm_kernel<false><<<rows_grid(rows, 1), kThreads>>>(x, w, y, rstd, rows, cols, eps);
  check_launch("rmsNorm");
}

void rms_norm_backward(int device, const float* x, const float* w, const float* rstd, const float* gy, float* gx,
                       float* gw, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  use_device(device);
  if (rows > 0) {
    if (cols <= 1024)
      rms_norm_backward_kernel<true><<<rows_grid(rows, kThreads / 32), kThreads>>>(x, w, rstd, gy, gx, rows, cols);
    else
      rms_norm_backward_kernel<false><<<rows_grid(rows, 1), kThreads>>>(x, w, rstd, gy, gx, rows, cols);
    check_launch("rmsNormBackward");
  }
  const int64_t nb = (rows + kGwBlock - 1) / kGwBlock;
  Scratch part(device, (size_t)(nb > 0 ? nb * cols : 1) * sizeof(float));
  if (nb > 0) {
    rms_gw_partial<<<grid_for(nb * cols), kThreads>>>(x, rstd, gy, part.as<float>(), rows, cols, nb);
    check_launch("rmsNormBackward");
  }
  rms_gw_final<<<grid_for(cols), kThreads>>>(part.as<float>(), gw, cols, nb);
  check_launch("rmsNormBackward");
}

void rope(int device, const float* x, const int32_t* positions, float* out, int64_t rows, int64_t heads, int64_t dim,
          float theta, float sign) {
  const int64_t half = dim / 2;
  if (rows * heads * half == 0) return;
  use_device(device);
  Scratch dinv(device, (size_t)half * sizeof(float));
  rope_freq_kernel<<<grid_for(half), kThreads>>>(dinv.as<float>(), half, (double)theta, dim);
  check_launch("rope");
  rope_kernel<<<grid_for(rows * heads * half), kThreads>>>(x, positions, dinv.as<float>(), out, rows, heads, dim, sign);
  check_launch("rope");
}

}  // namespace cuda
}  // namespace seekr
