// Packed bf16 GEMM: B is packed once per product into 32-column panels of k-pairs (the layout vdpbf16ps reads: lane c
// of a zmm holds (B[k][c], B[k+1][c])), A per 64-row block into 8-row tiles of k-pairs (one 32-bit broadcast per row
// and pair). The 8 x 32 micro-kernel keeps 16 zmm accumulators. Edges are zero-padded in the packed copies and only
// the valid part of a tile is written. Denormal bf16 inputs count as zero (the instruction's DAZ); products of bf16
// values are exact in float32, so only the accumulation order differs from the float32 kernels.
#include "cpu/gemm_bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/threadpool.h"

namespace seekr {
namespace cpu {

namespace {
constexpr int MR = 8, NR = 32, MC = 64;

bool detect() {
  const char* env = std::getenv("SEEKR_BF16_GEMM");
  if (env && (std::strcmp(env, "off") == 0 || std::strcmp(env, "0") == 0)) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}
const bool kBf16 = detect();

__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"))) void micro(int64_t kp, const uint32_t* a, const uint16_t* b,
                                                                         float* out) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * 2 * NR);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * 2 * NR + 32);
    const uint32_t* ap = a + p * MR;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(out + r * NR, acc[r][0]);
    _mm512_storeu_ps(out + r * NR + 16, acc[r][1]);
  }
}

// op(X)[i][k] for X stored [rows, K] (trans false) or [K, rows] (trans true).
inline uint16_t at(const uint16_t* x, bool trans, int64_t rows, int64_t K, int64_t i, int64_t k) {
  return trans ? x[k * rows + i] : x[i * K + k];
}

void one(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, const uint16_t* B,
         float beta, float* C, std::vector<uint16_t>& bpack) {
  const int64_t kp = (K + 1) / 2, panels = (N + NR - 1) / NR;
  bpack.assign((size_t)(panels * kp * 2 * NR), 0);
  parallel_for(panels, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      uint16_t* dst = bpack.data() + q * kp * 2 * NR;
      const int64_t j0 = q * NR, jn = std::min<int64_t>(NR, N - j0);
      for (int64_t p = 0; p < kp; ++p)
        for (int64_t c = 0; c < jn; ++c) {
          dst[p * 2 * NR + 2 * c] = at(B, !tb, N, K, j0 + c, 2 * p);  // op(B)[k][j] = B^T[j][k]
          if (2 * p + 1 < K) dst[p * 2 * NR + 2 * c + 1] = at(B, !tb, N, K, j0 + c, 2 * p + 1);
        }
    }
  });
  const int64_t blocks = (M + MC - 1) / MC;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    std::vector<uint32_t> apack((size_t)(MC / MR) * kp * MR);
    alignas(64) float tile[MR * NR];
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * MC, mrows = std::min<int64_t>(MC, M - i0), tiles = (mrows + MR - 1) / MR;
      std::fill(apack.begin(), apack.end(), 0u);
      for (int64_t t = 0; t < tiles; ++t)
        for (int r = 0; r < MR; ++r) {
          const int64_t i = i0 + t * MR + r;
          if (i >= M) break;
          uint32_t* dst = apack.data() + t * kp * MR + r;
          for (int64_t p = 0; p < kp; ++p) {
            const uint32_t lo = at(A, ta, M, K, i, 2 * p);
            const uint32_t hi = 2 * p + 1 < K ? at(A, ta, M, K, i, 2 * p + 1) : 0u;
            dst[p * MR] = lo | (hi << 16);
          }
        }
      for (int64_t t = 0; t < tiles; ++t)
        for (int64_t q = 0; q < (N + NR - 1) / NR; ++q) {
          micro(kp, apack.data() + t * kp * MR, bpack.data() + q * kp * 2 * NR, tile);
          const int64_t rn = std::min<int64_t>(MR, M - (i0 + t * MR)), cn = std::min<int64_t>(NR, N - q * NR);
          for (int64_t r = 0; r < rn; ++r) {
            float* c = C + (i0 + t * MR + r) * N + q * NR;
            const float* s = tile + r * NR;
            // The float32 kernels' epilogue: beta 0 ignores C (NaN there too), beta 1 accumulates.
            if (beta == 0.f) for (int64_t j = 0; j < cn; ++j) c[j] = alpha * s[j];
            else if (beta == 1.f) for (int64_t j = 0; j < cn; ++j) c[j] = c[j] + alpha * s[j];
            else for (int64_t j = 0; j < cn; ++j) c[j] = beta * c[j] + alpha * s[j];
          }
        }
    }
  });
}
}  // namespace

bool have_bf16_gemm() { return kBf16; }

void gemm_bf16_batched(const GemmBatch& g, float alpha, const uint16_t* A, const uint16_t* B, float beta, float* C) {
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {
    for (int64_t b = 0; b < g.batch; ++b) {
      float* c = C + b * g.stride_c;
      for (int64_t i = 0; i < g.M * g.N; ++i) c[i] = beta == 0.f ? 0.f : beta * c[i];
    }
    return;
  }
  std::vector<uint16_t> bpack;
  for (int64_t b = 0; b < g.batch; ++b)
    one(g.trans_a, g.trans_b, g.M, g.N, g.K, alpha, A + b * g.stride_a, B + b * g.stride_b, beta, C + b * g.stride_c, bpack);
}

}  // namespace cpu
}  // namespace seekr
