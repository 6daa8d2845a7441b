// Matrix multiply: C = alpha * op(A) op(B) + beta * C, batched; OpenBLAS or Seekr's packed AVX2/FMA kernel.
#pragma once
#include <cstdint>

namespace seekr {
namespace cpu {

struct GemmBatch {
  int64_t batch, M, N, K;
  bool trans_a, trans_b;
  int64_t stride_a, stride_b, stride_c;  // elements between batch entries (0 = broadcast)
};

// Seekr's own kernel (always available). Single matrix.
void gemm_own(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, const float* B,
              float beta, float* C, bool parallel);
// Plain triple loop in double precision: the reference the tests compare against.
void gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, const float* B,
                    float beta, float* C);
// Batched entry point used by the binding; picks the backend (`backend`: 0 auto, 1 own, 2 blas, 3 reference).
void gemm_batched(const GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C, int backend);
bool have_blas();
// Keeps OpenBLAS's own thread pool the same size as Seekr's.
void set_blas_threads(int n);
bool have_avx2();
// Measured single-thread FMA peak in GFLOP/s (0 without AVX2/FMA).
double fma_peak_gflops(double seconds);

}  // namespace cpu
}  // namespace seekr
