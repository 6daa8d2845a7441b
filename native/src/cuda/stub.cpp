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
void copy_h2d(int, void*, const void*, size_t) { throw not_built(); }
void copy_d2h(int, void*, const void*, size_t) { throw not_built(); }
void copy_d2d(int, void*, int, const void*, size_t) { throw not_built(); }
void memset_zero(int, void*, size_t) { throw not_built(); }
void synchronize(int) { throw not_built(); }

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
void attention_distill_backward(int, const cpu::AttnShape&, const float*, const float*, const float*, const int32_t*,
                                int64_t, const int32_t*, int64_t, const float*, const float*, float, float*, float*) {
  throw not_built();
}

}  // namespace cuda
}  // namespace seekr
