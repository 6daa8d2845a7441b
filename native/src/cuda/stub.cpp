// CUDA stub: same surface as backend.cu, for builds without nvcc; every use throws "built without CUDA".
#include "common/core.h"
#include "cuda/backend.h"

#ifndef SEEKR_CUDA_REASON
#define SEEKR_CUDA_REASON "nvcc was not found when the addon was built"
#endif

namespace seekr {
namespace cuda {

Error not_built();
Error not_built() {
  return Error(std::string("CUDA is not available: this addon was built without CUDA (") + SEEKR_CUDA_REASON +
               "). Rebuild with nvcc on PATH (SEEKR_CUDA=on npm rebuild @seekr/native).");
}

bool compiled() { return false; }
std::string unavailable_reason() { return std::string("built without CUDA: ") + SEEKR_CUDA_REASON; }
std::vector<DeviceInfo> devices() { return {}; }
int runtime_version() { return 0; }
int driver_version() { return 0; }
void* device_alloc(int, size_t) { throw not_built(); }
void device_free(int, void*) {}
void release_cache() {}
size_t cache_bytes() { return 0; }
void copy_h2d(int, void*, const void*, size_t) { throw not_built(); }
void copy_d2h(int, void*, const void*, size_t) { throw not_built(); }
void copy_d2d(int, void*, int, const void*, size_t) { throw not_built(); }
void memset_zero(int, void*, size_t) { throw not_built(); }
void synchronize(int) { throw not_built(); }
void* profile_mark() { return nullptr; }
double profile_elapsed_ms(void*, void*) { return -1; }
void profile_release(void*) {}

}  // namespace cuda
}  // namespace seekr

#include "cuda/attention.h"

namespace seekr {
namespace cuda {

void attention_forward(int, const cpu::AttnShape&, const float*, const float*, const float*, float*, float*,
                       const cpu::AttnExtras&, bool) { throw not_built(); }
void attention_backward(int, const cpu::AttnShape&, const float*, const float*, const float*, const float*,
                        const float*, const float*, float*, float*, float*, const cpu::AttnExtras&) { throw not_built(); }
double attention_distill_forward(int, const cpu::AttnShape&, const float*, const float*, const float*, const int32_t*,
                                 int64_t, const int32_t*, int64_t, const float*) { throw not_built(); }
void attention_distill_forward_device(int, const cpu::AttnShape&, const float*, const float*, const float*,
                                      const int32_t*, int64_t, const int32_t*, int64_t, const float*, double, float*) {
  throw not_built();
}
void attention_distill_backward(int, const cpu::AttnShape&, const float*, const float*, const float*, const int32_t*,
                                int64_t, const int32_t*, int64_t, const float*, const float*, float, float*, float*) {
  throw not_built();
}

}  // namespace cuda
}  // namespace seekr

#include "cuda/attention_tc.h"

namespace seekr {
namespace cuda {

bool attention_tc_supported(const cpu::AttnShape&) { return false; }
void attention_forward_tc(int, const cpu::AttnShape&, DType, const void*, const void*, const void*, DType, void*, float*,
                          const float*) { throw not_built(); }
void attention_backward_tc(int, const cpu::AttnShape&, DType, const void*, const void*, const void*, const void*, DType,
                           const float*, const void*, DType, DType, void*, void*, void*, const float*) {
  throw not_built();
}
void attention_distill_forward_tc(int, const cpu::AttnShape&, DType, const void*, const void*, const float*,
                                  const int32_t*, int64_t, const int32_t*, int64_t, const float*, double, float*) {
  throw not_built();
}
void attention_distill_backward_tc(int, const cpu::AttnShape&, DType, const void*, const void*, const float*,
                                   const int32_t*, int64_t, const int32_t*, int64_t, const float*, const float*, float,
                                   DType, void*, void*, size_t) {
  throw not_built();
}

}  // namespace cuda
}  // namespace seekr

#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

void fill_f32(int, float*, int64_t, float) { throw not_built(); }
void fill_i32(int, int32_t*, int64_t, int32_t) { throw not_built(); }
void fill_u16(int, uint16_t*, int64_t, uint16_t) { throw not_built(); }
void convert(int, const void*, DType, void*, DType, int64_t) { throw not_built(); }
void gemm_batched_half(int, const cpu::GemmBatch&, float, DType, const void*, const void*, float, DType, void*) { throw not_built(); }
std::string gemm_backend(int) { return std::string("none: built without CUDA (") + SEEKR_CUDA_REASON + ")"; }
void fill_uniform(int, float*, int64_t, uint64_t, uint64_t, float, float) { throw not_built(); }
void fill_normal(int, float*, int64_t, uint64_t, uint64_t, float, float) { throw not_built(); }
void reduce_max(int, const float*, float*, int32_t*, int64_t, int64_t, int64_t) { throw not_built(); }
void max_backward(int, const float*, const int32_t*, float*, int64_t, int64_t, int64_t) { throw not_built(); }
double sum_squares(int, const float*, int64_t) { throw not_built(); }
std::vector<double> sum_squares_many(int, const std::vector<std::pair<const float*, int64_t>>&) { throw not_built(); }
void strided_copy(int, const void*, int64_t, const std::vector<int64_t>&, void*, int64_t, const std::vector<int64_t>&,
                  const std::vector<int64_t>&, size_t) { throw not_built(); }
void gemm_batched(int, const cpu::GemmBatch&, float, const float*, const float*, float, float*) { throw not_built(); }
void adamw(int, float*, const float*, float*, float*, int64_t, float, float, float, float, float, int64_t) {
  throw not_built();
}
void sgd(int, float*, const float*, float*, int64_t, float, float, float, float, bool, bool) { throw not_built(); }
void scale_inplace(int, float*, int64_t, float) { throw not_built(); }
void adamw_many(int, const std::vector<AdamWTensor>&, float, float, float, float, float, int64_t) { throw not_built(); }
void scale_many(int, const std::vector<std::pair<float*, int64_t>>&, float) { throw not_built(); }
void axpy_inplace(int, float*, const float*, int64_t, float) { throw not_built(); }

}  // namespace cuda
}  // namespace seekr
