// Tensor-core flash attention for sm_80 and newer (A100, H100): bf16 / f16 operands on mma.sync with f32
// accumulation and f32 softmax statistics. Same semantics as cpu::attention_forward / attention_backward (causal
// offset Tk - Tq, GQA, optional key mask) without taps or the sensitivity statistic; device pointers, device first.
#pragma once
#include "common/core.h"
#include "cpu/attention.h"

namespace seekr {
namespace cuda {

// Head dims 16, 32, 64, 128 with H a positive multiple of Hkv. Other shapes belong to the f32 kernels.
bool attention_tc_supported(const cpu::AttnShape& s);

// q [B, Tq, H, D], k / v [B, Tk, Hkv, D] stored as in_dtype (BF16 or F16; F32 is rounded to bf16 while loading),
// contiguous. out [B, Tq, H, D] in out_dtype (F32, BF16 or F16); lse f32 [B, H, Tq] (+inf for a row with no visible
// key, whose output is 0). key_mask: f32 [B, Tk] or null, 0 = padding.
void attention_forward_tc(int device, const cpu::AttnShape& s, DType in_dtype, const void* q, const void* k,
                          const void* v, DType out_dtype, void* out, float* lse, const float* key_mask);

// Overwrites dq [B, Tq, H, D], dk / dv [B, Tk, Hkv, D] (grad_dtype: F32, BF16 or F16) from the forward's inputs, its
// out (out_dtype) and lse, and dout (dout_dtype: in_dtype or F32). Deterministic (no atomics).
void attention_backward_tc(int device, const cpu::AttnShape& s, DType in_dtype, const void* q, const void* k,
                           const void* v, const void* out, DType out_dtype, const float* lse, const void* dout,
                           DType dout_dtype, DType grad_dtype, void* dq, void* dk, void* dv, const float* key_mask);

// Attention distillation (cpu::attention_distill_forward / backward) for bf16 / f16 q [B, Tq, H, D] and k
// [B, Tk, Hkv, D] of in_dtype; heads (int32 [n_heads]), rows (int32 [B, n_rows]), teacher (f32 [B, n_heads, n_rows,
// Tk]) and key_mask (f32 [B, Tk] or null) on the device. Forward: out[0] = factor * (sum of the KL terms), on the
// device (no read-back). Backward: dq / dk (grad_dtype: F32, BF16 or F16) overwritten with gy[0] * factor * the
// gradient of that sum (gy: one device float). Deterministic (no atomics). The backward's scratch (B * n_heads * n_rows
// rows of Tk rounded up to 64 operand-type values and D floats) is taken for groups of batch entries that fit in
// scratch_bytes (at least one entry at a time).
void attention_distill_forward_tc(int device, const cpu::AttnShape& s, DType in_dtype, const void* q, const void* k,
                                  const float* key_mask, const int32_t* heads, int64_t n_heads, const int32_t* rows,
                                  int64_t n_rows, const float* teacher, double factor, float* out);
void attention_distill_backward_tc(int device, const cpu::AttnShape& s, DType in_dtype, const void* q, const void* k,
                                   const float* key_mask, const int32_t* heads, int64_t n_heads, const int32_t* rows,
                                   int64_t n_rows, const float* teacher, const float* gy, float factor,
                                   DType grad_dtype, void* dq, void* dk, size_t scratch_bytes = size_t(256) << 20);

}  // namespace cuda
}  // namespace seekr
