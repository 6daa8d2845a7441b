// CUDA fills, float32 <-> int32 casts and the counter-based random fills (cpu/random.h's generator, bit for bit).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

template <typename T>
__global__ void fill_kernel(T* __restrict__ p, int64_t n, T v) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) p[i] = v;
}

__global__ void i32_to_f32(const int32_t* __restrict__ src, float* __restrict__ dst, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = __int2float_rn(src[i]);
}
__global__ void f32_to_i32(const float* __restrict__ src, int32_t* __restrict__ dst, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float f = src[i];
    dst[i] = (f != f) ? 0 : f >= 2147483647.0f ? 2147483647 : f <= -2147483648.0f ? (-2147483647 - 1) : __float2int_rz(f);
  }
}

// cpu/random.h, on the device: the same integer arithmetic, so the same bits.
__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
__device__ __forceinline__ float uniform_at(uint64_t mixed_seed, uint64_t counter) {
  const uint64_t h = mix64(mixed_seed ^ counter);
  return fmul((float)(h >> 40), 1.0f / 16777216.0f);  // exact: 24 bits times a power of two
}

__global__ void uniform_kernel(float* __restrict__ out, int64_t n, uint64_t mseed, uint64_t offset, float low,
                               float high) {
  const float span = fsub(high, low);
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = fadd(low, fmul(span, uniform_at(mseed, offset + (uint64_t)i)));
}

__global__ void normal_kernel(float* __restrict__ out, int64_t n, uint64_t mseed, uint64_t offset, float mean,
                              float std) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const uint64_t c = 2 * (offset + (uint64_t)i);
    const double u1 = __dsub_rn(1.0, (double)uniform_at(mseed, c));  // (0, 1]
    const double u2 = (double)uniform_at(mseed, c + 1);
    const double z = __dmul_rn(::sqrt(__dmul_rn(-2.0, ::log(u1))), ::cos(__dmul_rn(6.283185307179586, u2)));
    out[i] = (float)__dadd_rn((double)mean, __dmul_rn((double)std, z));
  }
}

// Conversions between storage dtypes (codes as DType): floats round to nearest even, float -> int32 truncates.
__device__ __forceinline__ float load_as_float(const void* p, int d, int64_t i) {
  switch (d) {
    case 0: return static_cast<const float*>(p)[i];
    case 1: return (float)static_cast<const int32_t*>(p)[i];
    case 2: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return __half2float(static_cast<const __half*>(p)[i]);
  }
}
__global__ void convert_kernel(const void* __restrict__ src, int sd, void* __restrict__ dst, int dd, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = load_as_float(src, sd, i);
    switch (dd) {
      case 0: static_cast<float*>(dst)[i] = v; break;
      case 1:
        static_cast<int32_t*>(dst)[i] = v != v ? 0 : v >= 2147483647.0f ? 2147483647 : v <= -2147483648.0f ? (-2147483647 - 1) : (int32_t)v;
        break;
      case 2: static_cast<__nv_bfloat16*>(dst)[i] = __float2bfloat16_rn(v); break;
      default: static_cast<__half*>(dst)[i] = __float2half_rn(v); break;
    }
  }
}

uint64_t host_mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void fill_f32(int device, float* p, int64_t n, float v) {
  if (n == 0) return;
  use_device(device);
  fill_kernel<float><<<grid_for(n), kThreads>>>(p, n, v);
  check_launch("fill");
}
void fill_i32(int device, int32_t* p, int64_t n, int32_t v) {
  if (n == 0) return;
  use_device(device);
  fill_kernel<int32_t><<<grid_for(n), kThreads>>>(p, n, v);
  check_launch("fill");
}
void cast_i32_to_f32(int device, const int32_t* src, float* dst, int64_t n) {
  if (n == 0) return;
  use_device(device);
  i32_to_f32<<<grid_for(n), kThreads>>>(src, dst, n);
  check_launch("cast");
}
void cast_f32_to_i32(int device, const float* src, int32_t* dst, int64_t n) {
  if (n == 0) return;
  use_device(device);
  f32_to_i32<<<grid_for(n), kThreads>>>(src, dst, n);
  check_launch("cast");
}
void convert(int device, const void* src, DType sd, void* dst, DType dd, int64_t n) {
  if (n == 0) return;
  use_device(device);
  convert_kernel<<<grid_for(n), kThreads>>>(src, (int)sd, dst, (int)dd, n);
  check_launch("cast");
}
void fill_uniform(int device, float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  if (n == 0) return;
  use_device(device);
  uniform_kernel<<<grid_for(n), kThreads>>>(out, n, host_mix64(seed), offset, low, high);
  check_launch("randomUniform");
}
void fill_normal(int device, float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  if (n == 0) return;
  use_device(device);
  normal_kernel<<<grid_for(n), kThreads>>>(out, n, host_mix64(seed), offset, mean, std);
  check_launch("randomNormal");
}

}  // namespace cuda
}  // namespace seekr
