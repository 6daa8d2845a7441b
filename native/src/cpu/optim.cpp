// CPU optimizer kernels; the arithmetic follows torch.optim's single-tensor (foreach=False) code paths.
#include "cpu/optim.h"

#include <cmath>

#include "common/threadpool.h"

namespace seekr {
namespace cpu {

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int64_t step) {
  const double bc1 = 1.0 - std::pow((double)beta1, (double)step);
  const double bc2 = 1.0 - std::pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)std::sqrt(bc2);
  const float decay = 1.f - lr * weight_decay;
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float pi = p[i] * decay;
      const float gi = g[i];
      const float mi = m[i] * beta1 + (1.f - beta1) * gi;
      const float vi = v[i] * beta2 + (1.f - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const float denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = pi - step_size * (mi / denom);
    }
  });
}

void sgd(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening, float weight_decay,
         bool nesterov, bool first_step) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float d = g[i];
      if (weight_decay != 0.f) d += weight_decay * p[i];
      if (momentum != 0.f) {
        float bi = first_step ? d : momentum * buf[i] + (1.f - dampening) * d;
        buf[i] = bi;
        d = nesterov ? d + momentum * bi : bi;
      }
      p[i] -= lr * d;
    }
  });
}

void scale_inplace(float* x, int64_t n, float s) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] *= s;
  });
}
void axpy_inplace(float* y, const float* x, int64_t n, float alpha) {
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] += alpha * x[i];
  });
}

}  // namespace cpu
}  // namespace seekr
