// CPU fused attention: per query row, scores against the visible keys in an O(T) scratch row, softmax,
// weighted sum of values; backward recomputes probabilities from the saved log-sum-exp.
#include "cpu/attention.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/threadpool.h"

namespace seekr {
namespace cpu {

#define SEEKR_HOT __attribute__((target_clones("avx2", "default")))

SEEKR_HOT static float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}
SEEKR_HOT static void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse) {
  const int64_t B = s.B, T = s.T, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  const int64_t rows = B * H * T;
  parallel_for(rows, std::max<int64_t>(1, 2048 / std::max<int64_t>(1, T)), [&](int64_t rb, int64_t re) {
    std::vector<float> sc((size_t)T);
    for (int64_t r = rb; r < re; ++r) {
      const int64_t t = r % T, h = (r / T) % H, b = r / (T * H);
      const int64_t kh = h / group;
      const float* qr = q + ((b * T + t) * H + h) * D;
      float* orow = out + ((b * T + t) * H + h) * D;
      const int64_t nk = s.causal ? t + 1 : T;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < nk; ++j) {
        float x = s.scale * dot(qr, k + ((b * T + j) * Hkv + kh) * D, D);
        sc[(size_t)j] = x;
        mx = std::max(mx, x);
      }
      float sum = 0.f;
      for (int64_t j = 0; j < nk; ++j) {
        float p = std::exp(sc[(size_t)j] - mx);
        sc[(size_t)j] = p;
        sum += p;
      }
      std::memset(orow, 0, sizeof(float) * (size_t)D);
      const float inv = 1.f / sum;
      for (int64_t j = 0; j < nk; ++j) axpy(sc[(size_t)j] * inv, v + ((b * T + j) * Hkv + kh) * D, orow, D);
      lse[(b * H + h) * T + t] = mx + std::log(sum);
    }
  });
}

void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  const int64_t B = s.B, T = s.T, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  // Each task owns one (batch, kv head): its dk/dv rows and the dq rows of its query heads.
  parallel_chunks(B * Hkv, [&](int64_t task) {
    const int64_t b = task / Hkv, kh = task % Hkv;
    std::vector<float> p((size_t)T);
    for (int64_t j = 0; j < T; ++j) {
      std::memset(dk + ((b * T + j) * Hkv + kh) * D, 0, sizeof(float) * (size_t)D);
      std::memset(dv + ((b * T + j) * Hkv + kh) * D, 0, sizeof(float) * (size_t)D);
    }
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        const int64_t qi = ((b * T + t) * H + h) * D;
        const float* qr = q + qi;
        const float* dor = dout + qi;
        float* dqr = dq + qi;
        const float l = lse[(b * H + h) * T + t];
        const float Di = dot(dor, out + qi, D);
        const int64_t nk = s.causal ? t + 1 : T;
        std::memset(dqr, 0, sizeof(float) * (size_t)D);
        for (int64_t j = 0; j < nk; ++j) {
          const int64_t ki = ((b * T + j) * Hkv + kh) * D;
          const float pj = std::exp(s.scale * dot(qr, k + ki, D) - l);
          const float dp = dot(dor, v + ki, D);
          const float ds = pj * (dp - Di) * s.scale;
          axpy(pj, dor, dv + ki, D);
          axpy(ds, k + ki, dqr, D);
          axpy(ds, qr, dk + ki, D);
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace seekr
