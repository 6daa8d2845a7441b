// CUDA optimizer updates (in place): AdamW, SGD, scale, axpy. Same float operations as cpu/optim.cpp (the bias
// corrections are computed on the host exactly as there), so the results match bit for bit.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

// The update of one element (shared by the scalar and the float4 loops, so both give the same bits).
struct AdamWConst {
  float beta1, beta2, ob1, ob2, eps, step_size, bc2_sqrt, decay;
};
__device__ __forceinline__ void adamw_one(float& p, float g, float& m, float& v, const AdamWConst& c) {
  const float pi = fmul(p, c.decay);
  const float mi = fadd(fmul(m, c.beta1), fmul(c.ob1, g));
  const float vi = fadd(fmul(v, c.beta2), fmul(fmul(c.ob2, g), g));
  m = mi;
  v = vi;
  const float denom = fadd(fdiv(fsqrt(vi), c.bc2_sqrt), c.eps);
  p = fsub(pi, fmul(c.step_size, fdiv(mi, denom)));
}
// VEC: every pointer is 16-byte aligned, so whole float4s are read and written (n / 4 of them, then the tail).
template <bool VEC>
__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                             float* __restrict__ v, int64_t n, AdamWConst c) {
  const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
  int64_t done = 0;
  if (VEC) {
    const int64_t n4 = n / 4;
    for (int64_t q = tid; q < n4; q += nth) {
      float4 P = reinterpret_cast<float4*>(p)[q], M = reinterpret_cast<float4*>(m)[q], V = reinterpret_cast<float4*>(v)[q];
      const float4 G = reinterpret_cast<const float4*>(g)[q];
      adamw_one(P.x, G.x, M.x, V.x, c);
      adamw_one(P.y, G.y, M.y, V.y, c);
      adamw_one(P.z, G.z, M.z, V.z, c);
      adamw_one(P.w, G.w, M.w, V.w, c);
      reinterpret_cast<float4*>(p)[q] = P;
      reinterpret_cast<float4*>(m)[q] = M;
      reinterpret_cast<float4*>(v)[q] = V;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + tid; i < n; i += nth) adamw_one(p[i], g[i], m[i], v[i], c);
}

__global__ void sgd_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ buf, int64_t n,
                           float lr, float momentum, float dampening, float weight_decay, bool nesterov,
                           bool first_step) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float d = g[i];
    if (weight_decay != 0.f) d = fadd(d, fmul(weight_decay, p[i]));
    if (momentum != 0.f) {
      const float bi = first_step ? d : fadd(fmul(momentum, buf[i]), fmul(fsub(1.f, dampening), d));
      buf[i] = bi;
      d = nesterov ? fadd(d, fmul(momentum, bi)) : bi;
    }
    p[i] = fsub(p[i], fmul(lr, d));
  }
}

template <bool VEC>
__global__ void scale_kernel(float* __restrict__ x, int64_t n, float s) {
  const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
  int64_t done = 0;
  if (VEC) {
    const int64_t n4 = n / 4;
    for (int64_t q = tid; q < n4; q += nth) {
      float4 X = reinterpret_cast<float4*>(x)[q];
      X.x = fmul(X.x, s), X.y = fmul(X.y, s), X.z = fmul(X.z, s), X.w = fmul(X.w, s);
      reinterpret_cast<float4*>(x)[q] = X;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + tid; i < n; i += nth) x[i] = fmul(x[i], s);
}
// y and x may be the same buffer (y += alpha * y): no __restrict__.
template <bool VEC>
__global__ void axpy_kernel(float* y, const float* x, int64_t n, float alpha) {
  const int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, nth = (int64_t)gridDim.x * blockDim.x;
  int64_t done = 0;
  if (VEC) {
    const int64_t n4 = n / 4;
    for (int64_t q = tid; q < n4; q += nth) {
      float4 Y = reinterpret_cast<float4*>(y)[q];
      const float4 X = reinterpret_cast<const float4*>(x)[q];
      Y.x = fadd(Y.x, fmul(alpha, X.x)), Y.y = fadd(Y.y, fmul(alpha, X.y));
      Y.z = fadd(Y.z, fmul(alpha, X.z)), Y.w = fadd(Y.w, fmul(alpha, X.w));
      reinterpret_cast<float4*>(y)[q] = Y;
    }
    done = n4 * 4;
  }
  for (int64_t i = done + tid; i < n; i += nth) y[i] = fadd(y[i], fmul(alpha, x[i]));
}

}  // namespace

void adamw(int device, float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step) {
  if (n == 0) return;
  use_device(device);
  // Host-side constants exactly as cpu::adamw computes them.
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)std::sqrt(bc2);
  const float decay = 1.f - lr * weight_decay;
  // 1 - beta in float on the host: the same IEEE subtraction the kernel did per element before.
  const AdamWConst c{beta1, beta2, 1.f - beta1, 1.f - beta2, eps, step_size, bc2_sqrt, decay};
  if (aligned16(p) && aligned16(g) && aligned16(m) && aligned16(v))
    adamw_kernel<true><<<grid_for((n + 3) / 4), kThreads>>>(p, g, m, v, n, c);
  else
    adamw_kernel<false><<<grid_for(n), kThreads>>>(p, g, m, v, n, c);
  check_launch("adamw");
}

void sgd(int device, float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
         float weight_decay, bool nesterov, bool first_step) {
  if (n == 0) return;
  use_device(device);
  sgd_kernel<<<grid_for(n), kThreads>>>(p, g, buf, n, lr, momentum, dampening, weight_decay, nesterov, first_step);
  check_launch("sgd");
}

void scale_inplace(int device, float* x, int64_t n, float s) {
  if (n == 0) return;
  use_device(device);
  if (aligned16(x)) scale_kernel<true><<<grid_for((n + 3) / 4), kThreads>>>(x, n, s);
  else scale_kernel<false><<<grid_for(n), kThreads>>>(x, n, s);
  check_launch("scaleInPlace");
}

void axpy_inplace(int device, float* y, const float* x, int64_t n, float alpha) {
  if (n == 0) return;
  use_device(device);
  if (aligned16(y) && aligned16(x)) axpy_kernel<true><<<grid_for((n + 3) / 4), kThreads>>>(y, x, n, alpha);
  else axpy_kernel<false><<<grid_for(n), kThreads>>>(y, x, n, alpha);
  check_launch("axpyInPlace");
}

}  // namespace cuda
}  // namespace seekr
