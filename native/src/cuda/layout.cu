// CUDA data movement: N-d strided copies of 4- or 2-byte elements (offsets, negative and zero strides, up to 16
// merged dims), row gather (bit copies of 4- or 2-byte rows, or conversions between float dtypes) and row scatter-add
// (float32 atomics, float32 / bfloat16 / float16 sources).
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

template <typename T>
__global__ void strided_copy_kernel(Strided<2> s, const T* src, T* dst, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[2];
    strided_offsets(s, i, off);
    dst[off[1]] = src[off[0]];
  }
}
template <typename T>
__global__ void contiguous_copy_kernel(const T* src, T* dst, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = src[i];
}

template <typename T>
__global__ void gather_kernel(const T* __restrict__ table, const int32_t* __restrict__ ids, T* __restrict__ out,
                              int64_t n, int64_t cols) {
  const int64_t total = n * cols;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t / cols, c = t - i * cols;
    out[t] = table[(int64_t)ids[i] * cols + c];
  }
}
// A float table gathered into another float dtype (dtable, dout: DType codes).
__global__ void gather_convert_kernel(const AnyF* __restrict__ table, int dtable, const int32_t* __restrict__ ids,
                                      AnyF* __restrict__ out, int dout, int64_t n, int64_t cols) {
  const int64_t total = n * cols;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t / cols, c = t - i * cols;
    stf(out, dout, t, ldf(table, dtable, (int64_t)ids[i] * cols + c));
  }
}

template <typename T>
__global__ void scatter_add_kernel(const T* __restrict__ src, const int32_t* __restrict__ ids, float* __restrict__ out,
                                   int64_t n, int64_t cols) {
  const int64_t total = n * cols;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = t / cols, c = t - i * cols;
    atomicAdd(out + (int64_t)ids[i] * cols + c, ldf(src, 0, t));
  }
}

template <typename T>
void copy_t(const void* src, void* dst, const Strided<2>& s, int64_t n) {
  const T* sp = static_cast<const T*>(src);
  T* dp = static_cast<T*>(dst);
  if (s.contiguous[0] && s.contiguous[1])
    contiguous_copy_kernel<T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(sp + s.base[0], dp + s.base[1], n);
  else
    strided_copy_kernel<T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(s, sp, dp, n);
  check_launch("stridedCopy");
}

}  // namespace

void strided_copy(int device, const void* src, int64_t src_off, const std::vector<int64_t>& src_strides, void* dst,
                  int64_t dst_off, const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& shape,
                  size_t elem) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n == 0) return;
  use_device(device);
  const std::vector<int64_t>* st[2] = {&src_strides, &dst_strides};
  const int64_t base[2] = {src_off, dst_off};
  Strided<2> s = make_strided<2>("stridedCopy", shape, st, base);
  if (elem == 4) copy_t<uint32_t>(src, dst, s, n);
  else if (elem == 2) copy_t<uint16_t>(src, dst, s, n);
  else throw Error("stridedCopy: unsupported element size " + std::to_string(elem));
}

void gather_rows(int device, const void* table, DType tt, const int32_t* ids, void* out, DType ot, int64_t n,
                 int64_t cols) {
  if (n * cols == 0) return;
  use_device(device);
  const unsigned g = grid_for(n * cols);
  if (tt != ot)
    gather_convert_kernel<<<g, kThreads, 0, SEEKR_STREAM>>>(static_cast<const AnyF*>(table), (int)tt, ids, static_cast<AnyF*>(out), (int)ot,
                                           n, cols);
  else if (dtype_size(tt) == 4)
    gather_kernel<uint32_t><<<g, kThreads, 0, SEEKR_STREAM>>>(static_cast<const uint32_t*>(table), ids, static_cast<uint32_t*>(out), n, cols);
  else
    gather_kernel<uint16_t><<<g, kThreads, 0, SEEKR_STREAM>>>(static_cast<const uint16_t*>(table), ids, static_cast<uint16_t*>(out), n, cols);
  check_launch("gather");
}

void scatter_add_rows(int device, const void* src, DType st, const int32_t* ids, float* out, int64_t n, int64_t cols) {
  if (n * cols == 0) return;
  use_device(device);
  with_dtype(st, [&](auto e) {
    using T = typename decltype(e)::type;
    scatter_add_kernel<T><<<grid_for(n * cols), kThreads, 0, SEEKR_STREAM>>>(static_cast<const T*>(src), ids, out, n, cols);
  });
  check_launch("scatterAdd");
}

}  // namespace cuda
}  // namespace seekr
