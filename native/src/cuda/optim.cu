// CUDA optimizer updates (in place): AdamW, SGD, scale, axpy. Same float operations as cpu/optim.cpp (the bias
// corrections are computed on the host exactly as there), so the results match bit for bit.
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

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

// ---- many tensors per launch ----------------------------------------------------------------------------------------
// Block b of a launch over a table of tensors works on kChunk elements of the tensor whose block range holds it (the
// last entry with first_block <= b). Chunks start at multiples of kChunk, so 16-byte aligned buffers stay aligned.
constexpr int64_t kChunk = 4096;
struct AdamWEntry {
  AdamWTensor t;
  int64_t first_block;
};
struct ScaleEntry {
  float* x;
  int64_t n;
  int64_t first_block;
};
template <typename E>
__device__ __forceinline__ const E& entry_of(const E* __restrict__ es, int count, int64_t b) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (es[mid].first_block <= b) lo = mid;
    else hi = mid - 1;
  }
  return es[lo];
}
// Every buffer of the table is 16-byte aligned (checked on the host); a copy (low) is a 16-bit dtype.
__global__ void adamw_many_kernel(const AdamWEntry* __restrict__ es, int count, AdamWConst c) {
  const AdamWEntry& e = entry_of(es, count, (int64_t)blockIdx.x);
  const AdamWTensor t = e.t;
  const int64_t start = ((int64_t)blockIdx.x - e.first_block) * kChunk;
  const int64_t end = t.n < start + kChunk ? t.n : start + kChunk;
  const int64_t end4 = start + ((end - start) / 4) * 4;
  for (int64_t i = start + 4 * (int64_t)threadIdx.x; i < end4; i += 4 * (int64_t)blockDim.x) {
    float4 P = reinterpret_cast<float4*>(t.p)[i / 4], M = reinterpret_cast<float4*>(t.m)[i / 4],
           V = reinterpret_cast<float4*>(t.v)[i / 4];
    const float4 G = reinterpret_cast<const float4*>(t.g)[i / 4];
    adamw_one(P.x, G.x, M.x, V.x, c);
    adamw_one(P.y, G.y, M.y, V.y, c);
    adamw_one(P.z, G.z, M.z, V.z, c);
    adamw_one(P.w, G.w, M.w, V.w, c);
    reinterpret_cast<float4*>(t.p)[i / 4] = P;
    reinterpret_cast<float4*>(t.m)[i / 4] = M;
    reinterpret_cast<float4*>(t.v)[i / 4] = V;
    if (t.low) {  // the parameter's 16-bit copy, rounded from the new value (what a cast of it gives): 8 bytes
      ushort4 h;
      if (t.lt == DType::BF16)
        h = make_ushort4(__bfloat16_as_ushort(to_bf16(P.x)), __bfloat16_as_ushort(to_bf16(P.y)),
                         __bfloat16_as_ushort(to_bf16(P.z)), __bfloat16_as_ushort(to_bf16(P.w)));
      else
        h = make_ushort4(__half_as_ushort(to_f16(P.x)), __half_as_ushort(to_f16(P.y)), __half_as_ushort(to_f16(P.z)),
                         __half_as_ushort(to_f16(P.w)));
      reinterpret_cast<ushort4*>(t.low)[i / 4] = h;
    }
  }
  for (int64_t i = end4 + threadIdx.x; i < end; i += blockDim.x) {
    adamw_one(t.p[i], t.g[i], t.m[i], t.v[i], c);
    if (t.low) stf(static_cast<AnyF*>(t.low), (int)t.lt, i, t.p[i]);
  }
}
__global__ void scale_many_kernel(const ScaleEntry* __restrict__ es, int count, float s) {
  const ScaleEntry& e = entry_of(es, count, (int64_t)blockIdx.x);
  float* x = e.x;
  const int64_t start = ((int64_t)blockIdx.x - e.first_block) * kChunk;
  const int64_t end = e.n < start + kChunk ? e.n : start + kChunk;
  const int64_t end4 = start + ((end - start) / 4) * 4;
  for (int64_t i = start + 4 * (int64_t)threadIdx.x; i < end4; i += 4 * (int64_t)blockDim.x) {
    float4 X = reinterpret_cast<float4*>(x)[i / 4];
    X.x = fmul(X.x, s), X.y = fmul(X.y, s), X.z = fmul(X.z, s), X.w = fmul(X.w, s);
    reinterpret_cast<float4*>(x)[i / 4] = X;
  }
  for (int64_t i = end4 + threadIdx.x; i < end; i += blockDim.x) x[i] = fmul(x[i], s);
}
// Uploads the table (staged: the host does not wait) into scratch and launches kernel(table, count) over `blocks`.
template <typename E, typename Launch>
void launch_table(int device, const std::vector<E>& es, int64_t blocks, const char* op, Launch&& launch) {
  if (blocks > INT32_MAX || es.size() > (size_t)INT32_MAX)
    throw Error(std::string(op) + ": too many blocks (" + std::to_string(blocks) + ")");
  Scratch table(device, es.size() * sizeof(E));
  copy_h2d(device, table.ptr, es.data(), es.size() * sizeof(E));
  launch(table.as<E>(), (int)es.size(), (unsigned)blocks);
  check_launch(op);
}

// No buffer twice (blocks of one launch run in any order; the same buffer twice must be updated twice, in order).
bool distinct(std::vector<const void*> ptrs) {
  std::sort(ptrs.begin(), ptrs.end());
  return std::adjacent_find(ptrs.begin(), ptrs.end()) == ptrs.end();
}

AdamWConst adamw_const(float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  // Host-side constants exactly as cpu::adamw computes them.
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)std::sqrt(bc2);
  const float decay = 1.f - lr * weight_decay;
  // 1 - beta in float on the host: the same IEEE subtraction the kernel did per element before.
  return AdamWConst{beta1, beta2, 1.f - beta1, 1.f - beta2, eps, step_size, bc2_sqrt, decay};
}

}  // namespace

void adamw_many(int device, const std::vector<AdamWTensor>& ts, float lr, float beta1, float beta2, float eps,
                float weight_decay, int64_t step) {
  bool aligned = true;
  for (const AdamWTensor& t : ts)
    aligned = aligned && aligned16(t.p) && aligned16(t.g) && aligned16(t.m) && aligned16(t.v) && (!t.low || aligned16(t.low));
  std::vector<const void*> ptrs;
  for (const AdamWTensor& t : ts) {
    ptrs.insert(ptrs.end(), {t.p, t.m, t.v});
    if (t.low) ptrs.push_back(t.low);
  }
  if (!aligned || !distinct(ptrs)) {  // views at odd offsets, or a buffer updated twice: one launch each, in order
    for (const AdamWTensor& t : ts) {
      adamw(device, t.p, t.g, t.m, t.v, t.n, lr, beta1, beta2, eps, weight_decay, step);
      if (t.low && t.n > 0) convert(device, t.p, DType::F32, t.low, t.lt, t.n);
    }
    return;
  }
  std::vector<AdamWEntry> es;
  int64_t blocks = 0;
  for (const AdamWTensor& t : ts) {
    if (t.n == 0) continue;
    es.push_back({t, blocks});
    blocks += (t.n + kChunk - 1) / kChunk;
  }
  if (es.empty()) return;
  use_device(device);
  const AdamWConst c = adamw_const(lr, beta1, beta2, eps, weight_decay, step);
  launch_table(device, es, blocks, "adamwMany", [&](const AdamWEntry* t, int count, unsigned grid) {
    adamw_many_kernel<<<grid, kThreads, 0, SEEKR_STREAM>>>(t, count, c);
  });
}

void scale_many(int device, const std::vector<std::pair<float*, int64_t>>& xs, float s) {
  bool aligned = true;
  std::vector<const void*> ptrs;
  for (const auto& x : xs) {
    aligned = aligned && aligned16(x.first);
    ptrs.push_back(x.first);
  }
  if (!aligned || !distinct(ptrs)) {
    for (const auto& x : xs) scale_inplace(device, x.first, x.second, s);
    return;
  }
  std::vector<ScaleEntry> es;
  int64_t blocks = 0;
  for (const auto& x : xs) {
    if (x.second == 0) continue;
    es.push_back({x.first, x.second, blocks});
    blocks += (x.second + kChunk - 1) / kChunk;
  }
  if (es.empty()) return;
  use_device(device);
  launch_table(device, es, blocks, "scaleMany", [&](const ScaleEntry* t, int count, unsigned grid) {
    scale_many_kernel<<<grid, kThreads, 0, SEEKR_STREAM>>>(t, count, s);
  });
}

void adamw(int device, float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step) {
  if (n == 0) return;
  use_device(device);
  const AdamWConst c = adamw_const(lr, beta1, beta2, eps, weight_decay, step);
  if (aligned16(p) && aligned16(g) && aligned16(m) && aligned16(v))
    adamw_kernel<true><<<grid_for((n + 3) / 4), kThreads, 0, SEEKR_STREAM>>>(p, g, m, v, n, c);
  else
    adamw_kernel<false><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(p, g, m, v, n, c);
  check_launch("adamw");
}

void sgd(int device, float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
         float weight_decay, bool nesterov, bool first_step) {
  if (n == 0) return;
  use_device(device);
  sgd_kernel<<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(p, g, buf, n, lr, momentum, dampening, weight_decay, nesterov, first_step);
  check_launch("sgd");
}

void scale_inplace(int device, float* x, int64_t n, float s) {
  if (n == 0) return;
  use_device(device);
  if (aligned16(x)) scale_kernel<true><<<grid_for((n + 3) / 4), kThreads, 0, SEEKR_STREAM>>>(x, n, s);
  else scale_kernel<false><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(x, n, s);
  check_launch("scaleInPlace");
}

void axpy_inplace(int device, float* y, const float* x, int64_t n, float alpha) {
  if (n == 0) return;
  use_device(device);
  if (aligned16(y) && aligned16(x)) axpy_kernel<true><<<grid_for((n + 3) / 4), kThreads, 0, SEEKR_STREAM>>>(y, x, n, alpha);
  else axpy_kernel<false><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(y, x, n, alpha);
  check_launch("axpyInPlace");
}

}  // namespace cuda
}  // namespace seekr
