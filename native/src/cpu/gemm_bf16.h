// bfloat16 GEMM on CPUs with AVX512-BF16 (vdpbf16ps: pairs of bf16 products accumulated in float32):
// C = alpha * op(A) op(B) + beta * C, batched like gemm_batched, A and B bf16 (raw bits), C float32.
#pragma once
#include <cstdint>

#include "cpu/gemm.h"

namespace seekr {
namespace cpu {

// True when this CPU has AVX512-BF16 (and SEEKR_BF16_GEMM is not "off").
bool have_bf16_gemm();
void gemm_bf16_batched(const GemmBatch& g, float alpha, const uint16_t* A, const uint16_t* B, float beta, float* C);

}  // namespace cpu
}  // namespace seekr
