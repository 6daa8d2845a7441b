// Fused neural-net kernels: cross-entropy with log-softmax, RMSNorm, rotary position embedding.
#pragma once
#include <cstdint>

#include "common/core.h"

namespace seekr {
namespace cpu {

// Mean cross-entropy over rows whose target != ignore; lse[r] saved for backward. Returns the count.
int64_t cross_entropy(const float* logits, const int32_t* targets, float* loss, float* lse, int64_t rows, int64_t cols,
                      int32_t ignore);
// gx = (softmax(logits) - onehot(target)) * scale for kept rows, 0 for ignored rows (overwrites gx).
void cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse, float scale, float* gx,
                            int64_t rows, int64_t cols, int32_t ignore);

void rms_norm(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t cols, float eps);
// The residual add fused with the RMSNorm after it: sum = x + res, each element rounded to sum_dtype (the dtype of the
// caller's sum buffer, staged here as float32), then rms_norm of that stored sum. The values of an add followed by
// rms_norm, bit for bit.
void add_rms_norm(const float* x, const float* res, float* sum, DType sum_dtype, const float* w, float* y, float* rstd,
                  int64_t rows, int64_t cols, float eps);
// gx overwritten (accumulate: gx += the input gradient instead); gw overwritten with the weight gradient (summed
// over rows in a fixed order).
void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* gy, float* gx, float* gw,
                       int64_t rows, int64_t cols, bool accumulate = false);

// x viewed as [rows, heads, dim]; row r sits at position positions[r]. Rotate-half (Hugging Face) convention.
// sign = +1 applies the rotation, -1 its inverse (the backward pass).
// positions == nullptr: row r is at offset + r % period.
void rope(const float* x, const int32_t* positions, float* out, int64_t rows, int64_t heads, int64_t dim, float theta,
          float sign, int64_t period = 0, int64_t offset = 0);

}  // namespace cpu
}  // namespace seekr
