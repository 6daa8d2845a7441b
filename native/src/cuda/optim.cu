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

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                             float* __restrict__ v, int64_t n, float beta1, float beta2, float eps, float step_size,
                             float bc2_sqrt, float decay) {
  const float ob1 = fsub(1.f, beta1), ob2 = fsub(1.f, beta2);
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float pi = fmul(p[i], decay);
    const float gi = g[i];
    const float mi = fadd(fmul(m[i], beta1), fmul(ob1, gi));
    const float vi = fadd(fmul(v[i], beta2), fmul(fmul(ob2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    const float denom = fadd(fdiv(fsqrt(vi), bc2_sqrt), eps);
    p[i] = fsub(pi, fmul(step_size, fdiv(mi, denom)));
  }
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

__global__ void scale_kernel(float* __restrict__ x, int64_t n, float s) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    x[i] = fmul(x[i], s);
}
__global__ void axpy_kernel(float* y, const float* x, int64_t n, float alpha) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = fadd(y[i], fmul(alpha, x[i]));
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
  adamw_kernel<<<grid_for(n), kThreads>>>(p, g, m, v, n, beta1, beta2, eps, step_size, bc2_sqrt, decay);
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
  scale_kernel<<<grid_for(n), kThreads>>>(x, n, s);
  check_launch("scaleInPlace");
}

void axpy_inplace(int device, float* y, const float* x, int64_t n, float alpha) {
  if (n == 0) return;
  use_device(device);
  axpy_kernel<<<grid_for(n), kThreads>>>(y, x, n, alpha);
  check_launch("axpyInPlace");
}

}  // namespace cuda
}  // namespace seekr
