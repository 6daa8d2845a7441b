// CPU fused attention. Per (batch, head) the head's Q, K, V rows are gathered into contiguous panels and
// processed in blocks of query rows: scores for one row block against the visible keys (memory O(block x T),
// never the full T x T map of all heads), softmax with the log-sum-exp kept per row, then P V.
// Backward recomputes P from the log-sum-exp; each task owns one (batch, kv head) so dK/dV need no atomics.
// All products go through Seekr's packed GEMM, single-threaded inside a task; tasks run in parallel.
#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/threadpool.h"
#include "cpu/gemm.h"

namespace seekr {
namespace cpu {

namespace {
constexpr int64_t QBLOCK = 64;

// rows of head `h` from a [B, T, heads, D] tensor into a contiguous [T, D] panel (scaled).
void gather_head(const float* src, int64_t b, int64_t h, int64_t T, int64_t heads, int64_t D, float scale, float* dst) {
  for (int64_t t = 0; t < T; ++t) {
    const float* s = src + ((b * T + t) * heads + h) * D;
    float* d = dst + t * D;
    if (scale == 1.f) std::memcpy(d, s, sizeof(float) * (size_t)D);
    else for (int64_t i = 0; i < D; ++i) d[i] = s[i] * scale;
  }
}
void scatter_head(const float* src, int64_t b, int64_t h, int64_t T, int64_t heads, int64_t D, float* dst) {
  for (int64_t t = 0; t < T; ++t) std::memcpy(dst + ((b * T + t) * heads + h) * D, src + t * D, sizeof(float) * (size_t)D);
}
}  // namespace

void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse) {
  const int64_t B = s.B, T = s.T, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  if (B * T * H == 0) return;
  if (D == 0) {
    for (int64_t i = 0; i < B * H * T; ++i) lse[i] = std::log((float)(s.causal ? (i % T) + 1 : T));
    return;
  }
  parallel_chunks(B * H, [&](int64_t task) {
    const int64_t b = task / H, h = task % H, kh = h / group;
    std::vector<float> Q((size_t)(T * D)), K((size_t)(T * D)), V((size_t)(T * D)), O((size_t)(QBLOCK * D));
    std::vector<float> S((size_t)(QBLOCK * T));
    gather_head(q, b, h, T, H, D, s.scale, Q.data());
    gather_head(k, b, kh, T, Hkv, D, 1.f, K.data());
    gather_head(v, b, kh, T, Hkv, D, 1.f, V.data());
    for (int64_t i0 = 0; i0 < T; i0 += QBLOCK) {
      const int64_t mb = std::min(QBLOCK, T - i0);
      const int64_t nk = s.causal ? i0 + mb : T;  // keys visible to the block's last row
      gemm_own(false, true, mb, nk, D, 1.f, Q.data() + i0 * D, K.data(), 0.f, S.data(), false);
      for (int64_t r = 0; r < mb; ++r) {
        float* row = S.data() + r * nk;
        const int64_t vis = s.causal ? i0 + r + 1 : nk;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < vis; ++j) mx = std::max(mx, row[j]);
        float sum = 0.f;
        for (int64_t j = 0; j < vis; ++j) {
          const float p = std::exp(row[j] - mx);
          row[j] = p;
          sum += p;
        }
        const float inv = 1.f / sum;
        for (int64_t j = 0; j < vis; ++j) row[j] *= inv;
        for (int64_t j = vis; j < nk; ++j) row[j] = 0.f;
        lse[(b * H + h) * T + i0 + r] = mx + std::log(sum);
      }
      gemm_own(false, false, mb, D, nk, 1.f, S.data(), V.data(), 0.f, O.data(), false);
      for (int64_t r = 0; r < mb; ++r)
        std::memcpy(out + ((b * T + i0 + r) * H + h) * D, O.data() + r * D, sizeof(float) * (size_t)D);
    }
  });
}

void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  const int64_t B = s.B, T = s.T, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  if (B * T * H == 0) return;
  parallel_chunks(B * Hkv, [&](int64_t task) {
    const int64_t b = task / Hkv, kh = task % Hkv;
    const size_t td = (size_t)(T * D);
    std::vector<float> K(td), V(td), dK(td, 0.f), dV(td, 0.f), Q(td), dO(td), dQ(td);
    std::vector<float> P((size_t)(QBLOCK * T)), dP((size_t)(QBLOCK * T)), Di((size_t)T);
    gather_head(k, b, kh, T, Hkv, D, 1.f, K.data());
    gather_head(v, b, kh, T, Hkv, D, 1.f, V.data());
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      gather_head(q, b, h, T, H, D, 1.f, Q.data());
      gather_head(dout, b, h, T, H, D, 1.f, dO.data());
      for (int64_t t = 0; t < T; ++t) {
        const float* o = out + ((b * T + t) * H + h) * D;
        const float* g = dO.data() + t * D;
        float acc = 0.f;
        for (int64_t i = 0; i < D; ++i) acc += o[i] * g[i];
        Di[(size_t)t] = acc;
      }
      for (int64_t i0 = 0; i0 < T; i0 += QBLOCK) {
        const int64_t mb = std::min(QBLOCK, T - i0);
        const int64_t nk = s.causal ? i0 + mb : T;
        // P = exp(scale * Q K^T - lse), masked
        gemm_own(false, true, mb, nk, D, s.scale, Q.data() + i0 * D, K.data(), 0.f, P.data(), false);
        for (int64_t r = 0; r < mb; ++r) {
          float* row = P.data() + r * nk;
          const int64_t vis = s.causal ? i0 + r + 1 : nk;
          const float l = lse[(b * H + h) * T + i0 + r];
          for (int64_t j = 0; j < vis; ++j) row[j] = std::exp(row[j] - l);
          for (int64_t j = vis; j < nk; ++j) row[j] = 0.f;
        }
        // dV += P^T dO
        gemm_own(true, false, nk, D, mb, 1.f, P.data(), dO.data() + i0 * D, 1.f, dV.data(), false);
        // dP = dO V^T ; dS = P * (dP - Di) * scale  (stored in dP)
        gemm_own(false, true, mb, nk, D, 1.f, dO.data() + i0 * D, V.data(), 0.f, dP.data(), false);
        for (int64_t r = 0; r < mb; ++r) {
          float* dp = dP.data() + r * nk;
          const float* p = P.data() + r * nk;
          const float di = Di[(size_t)(i0 + r)];
          for (int64_t j = 0; j < nk; ++j) dp[j] = p[j] * (dp[j] - di) * s.scale;
        }
        // dQ = dS K ; dK += dS^T Q
        gemm_own(false, false, mb, D, nk, 1.f, dP.data(), K.data(), 0.f, dQ.data() + i0 * D, false);
        gemm_own(true, false, nk, D, mb, 1.f, dP.data(), Q.data() + i0 * D, 1.f, dK.data(), false);
      }
      scatter_head(dQ.data(), b, h, T, H, D, dq);
    }
    scatter_head(dK.data(), b, kh, T, Hkv, D, dk);
    scatter_head(dV.data(), b, kh, T, Hkv, D, dv);
  });
}

}  // namespace cpu
}  // namespace seekr
