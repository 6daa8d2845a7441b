// CUDA attention kernels (same semantics and arguments as cpu/attention.h, device pointers, device index first).
#pragma once
#include "cpu/attention.h"

namespace seekr {
namespace cuda {

// tensor_cores: the tensor-core kernels of attention_tc.h on bf16-rounded operands (head dims 16, 32, 64, 128); else
// the f32 kernel.
void attention_forward(int device, const cpu::AttnShape& s, const float* q, const float* k, const float* v, float* out,
                       float* lse, const cpu::AttnExtras& x, bool tensor_cores);
void attention_backward(int device, const cpu::AttnShape& s, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                        const cpu::AttnExtras& x);
double attention_distill_forward(int device, const cpu::AttnShape& s, const float* q, const float* k,
                                 const float* key_mask, const int32_t* heads, int64_t n_heads, const int32_t* rows,
                                 int64_t n_rows, const float* teacher);
// The same loss times factor, written as a float to out (a device buffer) without leaving the device: no read-back,
// no synchronisation (the row terms are summed in one block, in a fixed order).
void attention_distill_forward_device(int device, const cpu::AttnShape& s, const float* q, const float* k,
                                      const float* key_mask, const int32_t* heads, int64_t n_heads,
                                      const int32_t* rows, int64_t n_rows, const float* teacher, double factor,
                                      float* out);
// grad_scale_dev: a device float (the upstream gradient); the applied scale is *grad_scale_dev * factor.
void attention_distill_backward(int device, const cpu::AttnShape& s, const float* q, const float* k,
                                const float* key_mask, const int32_t* heads, int64_t n_heads, const int32_t* rows,
                                int64_t n_rows, const float* teacher, const float* grad_scale_dev, float factor,
                                float* dq, float* dk);

}  // namespace cuda
}  // namespace seekr
