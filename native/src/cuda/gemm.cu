// CUDA SGEMM: C = alpha * op(A) op(B) + beta * C, batched with element strides between matrices (0 = broadcast).
// 64 x 64 output tiles per block of 256 threads, 16-deep K slices staged in shared memory, 4 x 4 outputs per thread
// (rows ty + 16r, columns tx + 16c, so shared-memory reads are broadcasts / consecutive). f32 FMA accumulation.
// cuBLAS (loaded at run time) is a later step; this kernel stays as the fallback.
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

constexpr int BM = 64, BN = 64, BK = 16, NT = 256;

__global__ void __launch_bounds__(NT) sgemm_kernel(const float* __restrict__ A, const float* __restrict__ B,
                                                   float* __restrict__ C, int64_t M, int64_t N, int64_t K, bool ta,
                                                   bool tb, int64_t sa, int64_t sb, int64_t sc, float alpha, float beta,
                                                   int64_t batch0, int64_t tile_m0) {
  __shared__ float As[BK][BM + 4];
  __shared__ float Bs[BK][BN + 4];
  const int64_t bz = batch0 + blockIdx.z;
  const float* a = A + bz * sa;
  const float* b = B + bz * sb;
  float* c = C + bz * sc;
  const int64_t i0 = (tile_m0 + blockIdx.y) * BM, j0 = (int64_t)blockIdx.x * BN;
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  float acc[4][4];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int q = 0; q < 4; ++q) acc[r][q] = 0.f;

  for (int64_t k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int e = tid + r * NT;
      int ii, kk;
      if (!ta) { ii = e / BK; kk = e % BK; }   // consecutive threads read consecutive k of a row of A
      else { kk = e / BM; ii = e % BM; }       // A stored [K, M]: consecutive threads read consecutive i
      const int64_t gi = i0 + ii, gk = k0 + kk;
      float v = 0.f;
      if (gi < M && gk < K) v = ta ? a[gk * M + gi] : a[gi * K + gk];
      As[kk][ii] = v;
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int e = tid + r * NT;
      int jj, kk;
      if (!tb) { kk = e / BN; jj = e % BN; }   // B stored [K, N]
      else { jj = e / BK; kk = e % BK; }       // B stored [N, K]
      const int64_t gj = j0 + jj, gk = k0 + kk;
      float v = 0.f;
      if (gj < N && gk < K) v = tb ? b[gj * K + gk] : b[gk * N + gj];
      Bs[kk][jj] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float ar[4], br[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) ar[r] = As[kk][ty + 16 * r];
#pragma unroll
      for (int q = 0; q < 4; ++q) br[q] = Bs[kk][tx + 16 * q];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[r][q] = fmaf(ar[r], br[q], acc[r][q]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t gi = i0 + ty + 16 * r;
    if (gi >= M) continue;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int64_t gj = j0 + tx + 16 * q;
      if (gj >= N) continue;
      float* pc = c + gi * N + gj;
      const float v = fmul(alpha, acc[r][q]);
      // The cpu's epilogue: beta 0 ignores C (NaN there too), beta 1 accumulates.
      if (beta == 0.f) *pc = v;
      else if (beta == 1.f) *pc = fadd(*pc, v);
      else *pc = fadd(fmul(beta, *pc), v);
    }
  }
}

// K == 0: C = beta == 0 ? 0 : beta * C (alpha unused), like the cpu.
__global__ void scale_c_kernel(float* __restrict__ c, int64_t n, float beta) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    c[i] = beta == 0.f ? 0.f : fmul(beta, c[i]);
}

}  // namespace

void gemm_batched(int device, const cpu::GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C) {
  if (g.batch == 0 || g.M == 0 || g.N == 0) return;
  use_device(device);
  if (g.K == 0) {
    const int64_t n = g.batch * g.stride_c;
    scale_c_kernel<<<grid_for(n), kThreads>>>(C, n, beta);
    check_launch("matmul");
    return;
  }
  const int64_t tiles_m = (g.M + BM - 1) / BM, tiles_n = (g.N + BN - 1) / BN;
  if (tiles_n > 0x7fffffff) throw Error("matmul: N is too large for the CUDA kernel (" + std::to_string(g.N) + ")");
  for (int64_t b0 = 0; b0 < g.batch; b0 += 65535) {
    const int64_t nb = g.batch - b0 < 65535 ? g.batch - b0 : 65535;
    for (int64_t m0 = 0; m0 < tiles_m; m0 += 65535) {
      const int64_t nm = tiles_m - m0 < 65535 ? tiles_m - m0 : 65535;
      dim3 grid((unsigned)tiles_n, (unsigned)nm, (unsigned)nb);
      sgemm_kernel<<<grid, NT>>>(A, B, C, g.M, g.N, g.K, g.trans_a, g.trans_b, g.stride_a, g.stride_b, g.stride_c, alpha,
                                 beta, b0, m0);
      check_launch("matmul");
    }
  }
}

}  // namespace cuda
}  // namespace seekr
