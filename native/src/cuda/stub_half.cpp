// CUDA stubs of the kernels that take float32 / bfloat16 / float16 operands (kernels.h), for builds without nvcc:
// every use throws "built without CUDA" (not_built() is stub.cpp's).
#include "common/core.h"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

Error not_built();

void binary(int, int, const void*, DType, const std::vector<int64_t>&, const void*, DType, const std::vector<int64_t>&,
            void*, DType, const std::vector<int64_t>&) { throw not_built(); }
void unary(int, int, const void*, DType, void*, DType, int64_t, float) { throw not_built(); }
void unary_grad(int, int, const void*, DType, const void*, DType, void*, DType, int64_t, float) { throw not_built(); }
void where(int, const void*, DType, const std::vector<int64_t>&, const void*, DType, const std::vector<int64_t>&,
           const void*, DType, const std::vector<int64_t>&, void*, DType, const std::vector<int64_t>&) {
  throw not_built();
}
void swiglu(int, const void*, DType, const void*, DType, void*, DType, int64_t) { throw not_built(); }
void swiglu_backward(int, const void*, DType, const void*, DType, const void*, DType, void*, DType, void*, DType,
                     int64_t) {
  throw not_built();
}
void reduce_sum(int, const void*, DType, void*, DType, int64_t, int64_t, int64_t, float) { throw not_built(); }
void softmax(int, const void*, DType, void*, DType, int64_t, int64_t, bool) { throw not_built(); }
void softmax_backward(int, const void*, DType, const void*, DType, void*, DType, int64_t, int64_t, bool) {
  throw not_built();
}
void gather_rows(int, const void*, DType, const int32_t*, void*, DType, int64_t, int64_t) { throw not_built(); }
void scatter_add_rows(int, const void*, DType, const int32_t*, float*, int64_t, int64_t) { throw not_built(); }
void cross_entropy(int, const void*, DType, const int32_t*, float*, float*, int64_t, int64_t, int32_t, int64_t) {
  throw not_built();
}
void cross_entropy_backward(int, const void*, DType, const int32_t*, const float*, const float*, int64_t, void*, DType,
                            int64_t, int64_t, int32_t) { throw not_built(); }
void rms_norm(int, const void*, DType, const void*, DType, void*, DType, const void*, DType, void*, DType, float*, int64_t,
              int64_t, float) {
  throw not_built();
}
void rms_norm_backward(int, const void*, DType, const void*, DType, const float*, const void*, DType, void*, DType,
                       void*, DType, int64_t, int64_t, bool, void*, DType) { throw not_built(); }
void rope(int, const void*, DType, const int32_t*, void*, DType, int64_t, int64_t, int64_t, float, float, int64_t,
          int64_t) {
  throw not_built();
}

}  // namespace cuda
}  // namespace seekr
