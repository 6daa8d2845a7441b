// GEMM: BLIS-style packing (KC x MR / KC x NR panels) and a 6x16 AVX2/FMA micro-kernel, threaded over
// row blocks; OpenBLAS's sgemm where the build found it. Partitions are fixed, so results are reproducible.
#include "cpu/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/threadpool.h"

#ifdef SEEKR_WITH_OPENBLAS
#include <cblas.h>
#endif

namespace seekr {
namespace cpu {

namespace {
constexpr int MR = 6, NR = 16;
constexpr int64_t KC = 256, MC = 96, NC = 2048;

inline float at_a(const float* A, bool ta, int64_t M, int64_t K, int64_t i, int64_t k) {
  return ta ? A[k * M + i] : A[i * K + k];
}
inline float at_b(const float* B, bool tb, int64_t K, int64_t N, int64_t k, int64_t j) {
  return tb ? B[j * K + k] : B[k * N + j];
}

// Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into MR-row panels: panel p, step k, row r.
void pack_a(const float* A, bool ta, int64_t M, int64_t K, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* buf) {
  for (int64_t p = 0; p < mc; p += MR) {
    int64_t rows = std::min<int64_t>(MR, mc - p);
    float* dst = buf + p * kc;
    for (int64_t k = 0; k < kc; ++k)
      for (int r = 0; r < MR; ++r) dst[k * MR + r] = r < rows ? at_a(A, ta, M, K, i0 + p + r, k0 + k) : 0.f;
  }
}
// Packs rows [k0, k0+kc) x cols [j0, j0+nc) of op(B) into NR-column panels.
void pack_b(const float* B, bool tb, int64_t K, int64_t N, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* buf) {
  for (int64_t p = 0; p < nc; p += NR) {
    int64_t cols = std::min<int64_t>(NR, nc - p);
    float* dst = buf + p * kc;
    if (!tb && cols == NR) {
      for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * NR, B + (k0 + k) * N + j0 + p, sizeof(float) * NR);
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int c = 0; c < NR; ++c) dst[k * NR + c] = c < cols ? at_b(B, tb, K, N, k0 + k, j0 + p + c) : 0.f;
    }
  }
}

// acc[MR][NR] = sum_k a[k][r] * b[k][c]
__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* a, const float* b, float* acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(b + k * NR), b1 = _mm256_load_ps(b + k * NR + 8);
    const float* ak = a + k * MR;
    __m256 a0 = _mm256_broadcast_ss(ak + 0);
    c00 = _mm256_fmadd_ps(a0, b0, c00); c01 = _mm256_fmadd_ps(a0, b1, c01);
    __m256 a1 = _mm256_broadcast_ss(ak + 1);
    c10 = _mm256_fmadd_ps(a1, b0, c10); c11 = _mm256_fmadd_ps(a1, b1, c11);
    __m256 a2 = _mm256_broadcast_ss(ak + 2);
    c20 = _mm256_fmadd_ps(a2, b0, c20); c21 = _mm256_fmadd_ps(a2, b1, c21);
    __m256 a3 = _mm256_broadcast_ss(ak + 3);
    c30 = _mm256_fmadd_ps(a3, b0, c30); c31 = _mm256_fmadd_ps(a3, b1, c31);
    __m256 a4 = _mm256_broadcast_ss(ak + 4);
    c40 = _mm256_fmadd_ps(a4, b0, c40); c41 = _mm256_fmadd_ps(a4, b1, c41);
    __m256 a5 = _mm256_broadcast_ss(ak + 5);
    c50 = _mm256_fmadd_ps(a5, b0, c50); c51 = _mm256_fmadd_ps(a5, b1, c51);
  }
  _mm256_store_ps(acc + 0, c00); _mm256_store_ps(acc + 8, c01);
  _mm256_store_ps(acc + 16, c10); _mm256_store_ps(acc + 24, c11);
  _mm256_store_ps(acc + 32, c20); _mm256_store_ps(acc + 40, c21);
  _mm256_store_ps(acc + 48, c30); _mm256_store_ps(acc + 56, c31);
  _mm256_store_ps(acc + 64, c40); _mm256_store_ps(acc + 72, c41);
  _mm256_store_ps(acc + 80, c50); _mm256_store_ps(acc + 88, c51);
}

void micro_scalar(int64_t kc, const float* a, const float* b, float* acc) {
  for (int i = 0; i < MR * NR; ++i) acc[i] = 0.f;
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < MR; ++r) {
      float av = a[k * MR + r];
      for (int c = 0; c < NR; ++c) acc[r * NR + c] += av * b[k * NR + c];
    }
}

bool detect_avx2() {
  if (std::getenv("SEEKR_NO_AVX2")) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kAvx2 = detect_avx2();

struct AlignedBuf {
  float* p = nullptr;
  size_t n = 0;
  float* get(size_t want) {
    if (want > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, ((want * sizeof(float) + 63) / 64) * 64));
      n = want;
    }
    return p;
  }
  ~AlignedBuf() { std::free(p); }
};
thread_local AlignedBuf tl_a;
thread_local AlignedBuf tl_b;

// One (kc, nc) slab of B already packed; computes rows [i0, i1) of C.
void compute_rows(bool ta, int64_t M, int64_t K, int64_t N, const float* A, const float* bpack, int64_t k0, int64_t kc,
                  int64_t j0, int64_t nc, float alpha, float beta_eff, float* C, int64_t i0, int64_t i1) {
  alignas(64) float acc[MR * NR];
  for (int64_t ic = i0; ic < i1; ic += MC) {
    int64_t mc = std::min<int64_t>(MC, i1 - ic);
    float* apack = tl_a.get((size_t)(((mc + MR - 1) / MR) * MR * kc));
    pack_a(A, ta, M, K, ic, mc, k0, kc, apack);
    for (int64_t jr = 0; jr < nc; jr += NR) {
      int64_t nr = std::min<int64_t>(NR, nc - jr);
      const float* bp = bpack + jr * kc;
      for (int64_t ir = 0; ir < mc; ir += MR) {
        int64_t mr = std::min<int64_t>(MR, mc - ir);
        if (kAvx2) micro_avx2(kc, apack + ir * kc, bp, acc);
        else micro_scalar(kc, apack + ir * kc, bp, acc);
        for (int64_t r = 0; r < mr; ++r) {
          float* crow = C + (ic + ir + r) * N + j0 + jr;
          const float* arow = acc + r * NR;
          if (beta_eff == 0.f) for (int64_t c = 0; c < nr; ++c) crow[c] = alpha * arow[c];
          else if (beta_eff == 1.f) for (int64_t c = 0; c < nr; ++c) crow[c] += alpha * arow[c];
          else for (int64_t c = 0; c < nr; ++c) crow[c] = beta_eff * crow[c] + alpha * arow[c];
        }
      }
    }
  }
}
}  // namespace

bool have_avx2() { return kAvx2; }
void set_blas_threads(int n) {
#ifdef SEEKR_WITH_OPENBLAS
  openblas_set_num_threads(n);
#else
  (void)n;
#endif
}
bool have_blas() {
#ifdef SEEKR_WITH_OPENBLAS
  return true;
#else
  return false;
#endif
}

void gemm_own(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, const float* B,
              float beta, float* C, bool parallel) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M * N; ++i) C[i] = beta == 0.f ? 0.f : beta * C[i];
    return;
  }
  for (int64_t j0 = 0; j0 < N; j0 += NC) {
    int64_t nc = std::min<int64_t>(NC, N - j0);
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      int64_t kc = std::min<int64_t>(KC, K - k0);
      float* bpack = tl_b.get((size_t)(((nc + NR - 1) / NR) * NR * kc));
      pack_b(B, tb, K, N, k0, kc, j0, nc, bpack);
      float beta_eff = k0 == 0 ? beta : 1.f;
      // Row blocks are multiples of MR and fixed by M alone: the result does not depend on threads.
      int64_t block = std::max<int64_t>(MR, ((M / (4 * num_threads()) + MR - 1) / MR) * MR);
      if (block > MC) block = MC;
      int64_t nblocks = (M + block - 1) / block;
      auto body = [&](int64_t b) {
        int64_t i0 = b * block, i1 = std::min(M, i0 + block);
        compute_rows(ta, M, K, N, A, bpack, k0, kc, j0, nc, alpha, beta_eff, C, i0, i1);
      };
      if (parallel && nblocks > 1 && (double)M * nc * kc > 1e5) parallel_chunks(nblocks, body);
      else for (int64_t b = 0; b < nblocks; ++b) body(b);
    }
  }
}

void gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, const float* B,
                    float beta, float* C) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += (double)at_a(A, ta, M, K, i, k) * (double)at_b(B, tb, K, N, k, j);
      float prev = beta == 0.f ? 0.f : beta * C[i * N + j];
      C[i * N + j] = prev + alpha * (float)acc;
    }
}

void gemm_batched(const GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C, int backend) {
  const double flops_each = 2.0 * (double)g.M * (double)g.N * (double)g.K;
  if (backend == 3) {
    for (int64_t b = 0; b < g.batch; ++b)
      gemm_reference(g.trans_a, g.trans_b, g.M, g.N, g.K, alpha, A + b * g.stride_a, B + b * g.stride_b, beta,
                     C + b * g.stride_c);
    return;
  }
#ifdef SEEKR_WITH_OPENBLAS
  const bool use_blas = backend == 2 || (backend == 0 && flops_each >= 2.0 * 64 * 64 * 64);
#else
  const bool use_blas = false;
#endif
  if (g.batch > 1 && (flops_each < 4e6 || !use_blas)) {
    // Many small products: one per task, each single-threaded with our kernel.
    parallel_chunks(g.batch, [&](int64_t b) {
      gemm_own(g.trans_a, g.trans_b, g.M, g.N, g.K, alpha, A + b * g.stride_a, B + b * g.stride_b, beta,
               C + b * g.stride_c, false);
    });
    return;
  }
  for (int64_t b = 0; b < g.batch; ++b) {
    const float* a = A + b * g.stride_a;
    const float* bb = B + b * g.stride_b;
    float* c = C + b * g.stride_c;
#ifdef SEEKR_WITH_OPENBLAS
    if (use_blas) {
      if (g.M == 0 || g.N == 0) continue;
      cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                  (int)g.M, (int)g.N, (int)g.K, alpha, a, g.trans_a ? (int)g.M : (int)std::max<int64_t>(1, g.K), bb,
                  g.trans_b ? (int)std::max<int64_t>(1, g.K) : (int)g.N, beta, c, (int)g.N);
      continue;
    }
#endif
    gemm_own(g.trans_a, g.trans_b, g.M, g.N, g.K, alpha, a, bb, beta, c, true);
  }
}

}  // namespace cpu
}  // namespace seekr

namespace seekr {
namespace cpu {

// Single-thread FMA throughput: 12 independent 8-lane FMA chains, the machine's peak for one core.
__attribute__((target("avx2,fma"))) static double fma_peak_avx2(int64_t iters) {
  __m256 a[12];
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps((float)i);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return (double)out[0];
}

double fma_peak_gflops(double seconds) {
  if (!kAvx2) return 0.0;
  int64_t iters = 1 << 20;
  volatile double sink = 0;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    sink = sink + fma_peak_avx2(iters);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt >= seconds) return (double)iters * 12.0 * 16.0 / dt / 1e9;
    iters *= 2;
  }
}

}  // namespace cpu
}  // namespace seekr
