// Host stand-ins for the device helpers the emulated .cu files call (cuda/common.cuh, cuda/backend.h): device
// selection, launch checks and synchronisation do nothing; copies are memmove; device_alloc hands out host memory
// (256-byte aligned, as cudaMalloc's, and filled with 0xff bytes: NaN for floats, as a reused block of the caching
// allocator holds stale data).
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

#include "cpu/convert.h"
#include "cuda/backend.h"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {
namespace detail {  // declared in cuda/common.cuh (device code: not included here)
void use_device(int) {}
cudaStream_t cur_stream() { return nullptr; }
void check_launch(const char*) {}
void check_call(cudaError_t, const char*, const char*) {}
}  // namespace detail
void* device_alloc(int, size_t bytes) {
  const size_t n = (bytes + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, n ? n : 256);
  if (p) std::memset(p, 0xff, n);
  return p;
}
void device_free(int, void* p) { std::free(p); }
void copy_h2d(int, void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void copy_d2h(int, void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void copy_d2d(int, void* dst, int, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void memset_zero(int, void* dst, size_t bytes) { std::memset(dst, 0, bytes); }
void synchronize(int) {}
// cuda::convert (fill.cu) for the files that call it, as the cpu's conversion (the same roundings, bit for bit: the GPU
// tests check that). Weak: an emulation of fill.cu itself brings its own.
__attribute__((weak)) void convert(int, const void* src, DType sd, void* dst, DType dd, int64_t n) {
  cpu::convert(src, sd, dst, dd, n);
}
}  // namespace cuda
}  // namespace seekr
