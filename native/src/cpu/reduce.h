// Reductions over the middle axis of an [outer, mid, inner] view; softmax and log-softmax over rows.
#pragma once
#include <cstdint>

namespace seekr {
namespace cpu {

void reduce_sum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner, float scale);
void reduce_max(const float* x, float* vals, int32_t* idx, int64_t outer, int64_t mid, int64_t inner);
// gx (zeroed here) receives gy at the argmax positions.
void max_backward(const float* gy, const int32_t* idx, float* gx, int64_t outer, int64_t mid, int64_t inner);
void softmax(const float* x, float* y, int64_t rows, int64_t cols, bool log);
// gx = softmax'(y) gy (log: gx = gy - exp(y) * sum(gy)); overwrites gx.
void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols, bool log);
// Sum of squares in double, summed in a fixed order (independent of the thread count).
double sum_squares(const float* x, int64_t n);

}  // namespace cpu
}  // namespace seekr
