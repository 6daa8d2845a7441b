// Fused causal multi-head / grouped-query attention on [B, T, H, D] layouts, never materialising T x T maps.
#pragma once
#include <cstdint>

namespace seekr {
namespace cpu {

struct AttnShape {
  int64_t B, T, H, Hkv, D;
  bool causal;
  float scale;
};

// out [B,T,H,D], lse [B,H,T] (log-sum-exp of the scaled scores per row, kept for backward).
void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse);
// Overwrites dq, dk, dv.
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv);

}  // namespace cpu
}  // namespace seekr
