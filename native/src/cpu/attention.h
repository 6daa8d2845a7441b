// Fused causal multi-head / grouped-query attention on [B, T, H, D] layouts, never materialising the T x T maps
// of all heads, with SEEKR's extras: probability taps for selected (head, query row) pairs, the per-head
// sensitivity statistic of dL/dP accumulated in backward, and the attention-distillation loss (KL teacher||student).
#pragma once
#include <cstdint>

namespace seekr {
namespace cpu {

struct AttnShape {
  int64_t B, Tq, Tk, H, Hkv, D;
  bool causal;  // query t sees keys j <= t + (Tk - Tq)
  float scale;
};

// Optional inputs/outputs; null pointers mean "not requested".
struct AttnExtras {
  const float* key_mask = nullptr;  // [B, Tk], 0 = padding (masked), nonzero = attend
  // taps: probability rows for query heads tap_heads[0..n_tap_heads) at rows tap_rows[b, 0..n_rows)
  const int32_t* tap_heads = nullptr;
  int64_t n_tap_heads = 0;
  const int32_t* tap_rows = nullptr;
  int64_t n_rows = 0;
  float* taps = nullptr;  // [B, n_tap_heads, n_rows, Tk]
  // sensitivity: sens[b, h] += sum over (t, j) of (dL/dP[b,h,t,j])^2; sens_all: over all Tq x Tk entries (the
  // reference code's dense map), else over the visible (causal, unmasked) entries only.
  float* sens = nullptr;
  bool sens_all = true;
};

// out [B,Tq,H,D], lse [B,H,Tq] (log-sum-exp of the scaled scores per row; +inf for a row with no visible key).
void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse,
                       const AttnExtras& x);
// Overwrites dq, dk, dv; accumulates x.sens when given.
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv, const AttnExtras& x);

// Plain references with the same arguments: one query row at a time, double-precision sums.
void attention_forward_reference(const AttnShape& s, const float* q, const float* k, const float* v, float* out,
                                 float* lse, const AttnExtras& x);
void attention_backward_reference(const AttnShape& s, const float* q, const float* k, const float* v,
                                  const float* out, const float* lse, const float* dout, float* dq, float* dk,
                                  float* dv, const AttnExtras& x);

// Attention distillation: for heads[i] and rows[b, r], KL(teacher[b,i,r,:] || softmax(student scores)) summed;
// returns the sum (the binding applies the reduction). Student rows are recomputed from q and k.
double attention_distill_forward(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                 const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                 const float* teacher);
// dq, dk overwritten with grad_scale * d(sum KL)/d(q, k).
void attention_distill_backward(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                const float* teacher, float grad_scale, float* dq, float* dk);

// Plain references of the two above (same arguments): one row at a time in double precision.
double attention_distill_forward_reference(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                           const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                           const float* teacher);
void attention_distill_backward_reference(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                          const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                          const float* teacher, float grad_scale, float* dq, float* dk);

}  // namespace cpu
}  // namespace seekr
