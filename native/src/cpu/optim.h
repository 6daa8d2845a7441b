// Fused optimizer updates (in place): AdamW with decoupled weight decay and bias correction, SGD with momentum.
#pragma once
#include <cstdint>

namespace seekr {
namespace cpu {

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int64_t step);
// PyTorch SGD semantics: g += wd*p; buf = momentum*buf + (1-dampening)*g (buf = g on the first step); p -= lr*buf.
void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening, float weight_decay,
         bool nesterov, bool first_step);
void scale_inplace(float* x, int64_t n, float s);
void axpy_inplace(float* y, const float* x, int64_t n, float alpha);

}  // namespace cpu
}  // namespace seekr
