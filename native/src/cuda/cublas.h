// cuBLAS loaded at run time (dlopen): the build machine has no cuBLAS headers, so the few declarations GEMM needs are
// written out in cublas.cu. Tried in order: $SEEKR_CUBLAS_PATH, libcublas.so.13, libcublas.so.12, libcublas.so;
// SEEKR_CUBLAS=off disables it. The library is never unloaded and the handles (one per device) are never destroyed.
//
// f32 GEMMs use CUBLAS_DEFAULT_MATH: FP32 inputs and FP32 arithmetic (no TF32) unless SEEKR_TF32=1 selects
// CUBLAS_TF32_TENSOR_OP_MATH. Reductions never run in a narrower output type
// (CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION).
#pragma once
#include <string>

#include "common/core.h"
#include "cpu/gemm.h"

namespace seekr {
namespace cuda {
namespace cublas {

// Loads the library on first use (thread-safe). Needs no GPU.
bool available();
// "cuBLAS 13.0.2 (/path/libcublas.so.13)" when loaded; otherwise why not (the dlopen error, "disabled by
// SEEKR_CUBLAS=off", a missing symbol, a version below 11).
std::string status();
// True when f32 GEMMs may use TF32 tensor cores (SEEKR_TF32=1).
bool tf32();
// Why the last attempt to create this device's handle failed; "" when it did not fail (or was not tried).
std::string device_error(int device);

// Row-major C[M,N] = alpha * op(A) op(B) + beta * C per batch entry (strides in elements, 0 = broadcast), on the
// legacy default stream of `device` (the caller has selected it). Return false, doing nothing, when cuBLAS is not
// loaded or a size does not fit cuBLAS's int parameters; throw seekr::Error when cuBLAS reports a failure.
// K must be > 0 (the caller handles K == 0).
bool sgemm(int device, const cpu::GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C);
// A, B: both BF16 or both F16; C: F32 or the same dtype as A/B (cuBLAS has no bf16 x bf16 -> f16 or f16 x f16 ->
// bf16 with CUBLAS_COMPUTE_32F); false for other combinations. f32 accumulation.
bool gemm_ex(int device, const cpu::GemmBatch& g, float alpha, DType ab, const void* A, const void* B, float beta,
             DType tc, void* C);

}  // namespace cublas
}  // namespace cuda
}  // namespace seekr
