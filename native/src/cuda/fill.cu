// CUDA fills, dtype conversions and the counter-based random fills (cpu/random.h's generator, bit for bit).
#include <cuda_runtime.h>

#include <type_traits>

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

// Conversions between storage dtypes (codes as DType): floats through ldf / stf (widen exactly, round to nearest
// even); int32 -> float rounds to nearest, float -> int32 truncates (NaN -> 0, saturating at the int32 range).
__global__ void convert_kernel(const void* __restrict__ src, int sd, void* __restrict__ dst, int dd, int64_t n) {
  constexpr int I32 = (int)DType::I32;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = sd == I32 ? __int2float_rn(static_cast<const int32_t*>(src)[i]) : ldf(static_cast<const AnyF*>(src), sd, i);
    if (dd == I32)
      static_cast<int32_t*>(dst)[i] = v != v ? 0 : v >= 2147483647.0f ? 2147483647 : v <= -2147483648.0f ? (-2147483647 - 1) : __float2int_rz(v);
    else
      stf(static_cast<AnyF*>(dst), dd, i, v);
  }
}

// The fast path of convert_kernel between two float dtypes (S != D) whose buffers start 16-byte aligned: 8 elements
// per thread and step (16 bytes of a half dtype, 2 x 16 of float32), converted by the same ldf / stf, so the same bits.
template <typename S, typename D>
__global__ void convert_vec(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  constexpr int V = 8;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float v[V];
        ldf_vec(src, i, v);
        stf_vec(dst, i, v);
      },
      [&](int64_t i) { stf(dst, 0, i, ldf(src, 0, i)); });
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
  fill_kernel<float><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(p, n, v);
  check_launch("fill");
}
void fill_i32(int device, int32_t* p, int64_t n, int32_t v) {
  if (n == 0) return;
  use_device(device);
  fill_kernel<int32_t><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(p, n, v);
  check_launch("fill");
}
void fill_u16(int device, uint16_t* p, int64_t n, uint16_t v) {
  if (n == 0) return;
  use_device(device);
  fill_kernel<uint16_t><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(p, n, v);
  check_launch("fill");
}
void convert(int device, const void* src, DType sd, void* dst, DType dd, int64_t n) {
  if (n == 0) return;
  use_device(device);
  if (sd == dd) {  // a copy: bit-exact for every dtype (int32 does not survive a float32 round trip)
    check_call(cudaMemcpyAsync(dst, src, (size_t)n * dtype_size(sd), cudaMemcpyDeviceToDevice, SEEKR_STREAM), "cast", "cudaMemcpyAsync");
    return;
  }
  if (is_float(sd) && is_float(dd) && aligned16(src) && aligned16(dst)) {
    with_dtype(sd, [&](auto s) {
      with_dtype(dd, [&](auto d) {
        using S = typename decltype(s)::type;
        using D = typename decltype(d)::type;
        if constexpr (!std::is_same_v<S, D>)  // sd == dd was a copy above
          convert_vec<S, D><<<grid_for_vec(n, 8), kThreads, 0, SEEKR_STREAM>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
      });
    });
  } else {
    convert_kernel<<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(src, (int)sd, dst, (int)dd, n);
  }
  check_launch("cast");
}
void fill_uniform(int device, float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  if (n == 0) return;
  use_device(device);
  uniform_kernel<<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(out, n, host_mix64(seed), offset, low, high);
  check_launch("randomUniform");
}
void fill_normal(int device, float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  if (n == 0) return;
  use_device(device);
  normal_kernel<<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(out, n, host_mix64(seed), offset, mean, std);
  check_launch("randomNormal");
}

}  // namespace cuda
}  // namespace seekr
