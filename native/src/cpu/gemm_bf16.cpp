// Packed bf16 GEMM: B is packed once per product into 32-column panels of k-pairs (the layout vdpbf16ps reads: lane c
// of a zmm holds (B[k][c], B[k+1][c])), A per 64-row block into 8-row tiles of k-pairs (one 32-bit broadcast per row
// and pair). The 6 x 64 micro-kernel keeps 24 zmm accumulators (4 B loads and 6 broadcasts per 24 vdpbf16ps). Edges are zero-padded in the packed copies and only
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
constexpr int MR = 6, NZ = 4, NR = 16 * NZ, MC = 60;

bool detect() {
  const char* env = std::getenv("SEEKR_BF16_GEMM");
  if (env && (std::strcmp(env, "off") == 0 || std::strcmp(env, "0") == 0)) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}
const bool kBf16 = detect();

__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"))) void micro(int64_t kp, const uint32_t* a, const uint16_t* b,
                                                                         float* out) {
  __m512 acc[MR][NZ];
  for (int r = 0; r < MR; ++r)
    for (int z = 0; z < NZ; ++z) acc[r][z] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; ++p) {
    __m512bh bz[NZ];
    for (int z = 0; z < NZ; ++z) bz[z] = (__m512bh)_mm512_loadu_si512(b + p * 2 * NR + 32 * z);
    const uint32_t* ap = a + p * MR;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r]);
      for (int z = 0; z < NZ; ++z) acc[r][z] = _mm512_dpbf16_ps(acc[r][z], av, bz[z]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int z = 0; z < NZ; ++z) _mm512_storeu_ps(out + r * NR + 16 * z, acc[r][z]);
}

// The pair (op(X)[i][2p], op(X)[i][2p+1]) as one 32-bit word (low half first, as vdpbf16ps reads it); X stored
// [rows, K] (trans false: the pair is adjacent in memory) or [K, rows] (trans true: two rows apart). 0 past K.
inline uint32_t pair_at(const uint16_t* x, bool trans, int64_t rows, int64_t K, int64_t i, int64_t p) {
  const int64_t k = 2 * p;
  if (!trans) {
    const uint16_t* r = x + i * K + k;
    return k + 1 < K ? (uint32_t)r[0] | ((uint32_t)r[1] << 16) : (uint32_t)r[0];
  }
  return k + 1 < K ? (uint32_t)x[k * rows + i] | ((uint32_t)x[(k + 1) * rows + i] << 16) : (uint32_t)x[k * rows + i];
}

void one(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const uint16_t* A, const uint16_t* B,
         float beta, float* C, std::vector<uint32_t>& bpack) {
  const int64_t kp = (K + 1) / 2, panels = (N + NR - 1) / NR;
  bpack.assign((size_t)(panels * kp * NR), 0u);  // [panel][pair][column] words; columns past N stay 0
  parallel_for(panels, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      uint32_t* dst = bpack.data() + q * kp * NR;
      const int64_t j0 = q * NR, jn = std::min<int64_t>(NR, N - j0);
      if (tb) {  // B stored [N, K]: column j's pairs are adjacent along its row
        for (int64_t c = 0; c < jn; ++c)
          for (int64_t p = 0; p < kp; ++p) dst[p * NR + c] = pair_at(B, false, N, K, j0 + c, p);
      } else {   // B stored [K, N]: interleave rows 2p and 2p + 1 (contiguous over the columns)
        for (int64_t p = 0; p < kp; ++p) {
          const uint16_t* r0 = B + 2 * p * N + j0;
          uint32_t* d = dst + p * NR;
          if (2 * p + 1 < K) {
            const uint16_t* r1 = r0 + N;
            for (int64_t c = 0; c < jn; ++c) d[c] = (uint32_t)r0[c] | ((uint32_t)r1[c] << 16);
          } else {
            for (int64_t c = 0; c < jn; ++c) d[c] = (uint32_t)r0[c];
          }
        }
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
          for (int64_t p = 0; p < kp; ++p) dst[p * MR] = pair_at(A, ta, M, K, i, p);
        }
      for (int64_t q = 0; q < (N + NR - 1) / NR; ++q)  // a B panel stays in L2 across the block's row tiles
        for (int64_t t = 0; t < tiles; ++t) {
          micro(kp, apack.data() + t * kp * MR, reinterpret_cast<const uint16_t*>(bpack.data() + q * kp * NR), tile);
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
  std::vector<uint32_t> bpack;
  for (int64_t b = 0; b < g.batch; ++b)
    one(g.trans_a, g.trans_b, g.M, g.N, g.K, alpha, A + b * g.stride_a, B + b * g.stride_b, beta, C + b * g.stride_c, bpack);
}

}  // namespace cpu
}  // namespace seekr
