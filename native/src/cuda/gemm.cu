// CUDA GEMM: C = alpha * op(A) op(B) + beta * C, batched with element strides between matrices (0 = broadcast).
// cuBLAS when it was loaded at run time (cuda/cublas.h), otherwise Seekr's own kernels:
// - f32: 64 x 64 output tiles per block of 256 threads, 16-deep K slices staged in shared memory, 4 x 4 outputs per
//   thread (rows ty + 16r, columns tx + 16c, so shared-memory reads are broadcasts / consecutive). f32 FMA accumulation.
// - bf16 / f16: WMMA tensor cores (16x16x16 fragments, f32 accumulators), 128 x 128 x 32 tiles per block of 8 warps,
//   double-buffered in shared memory with the next slice prefetched into registers.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/cublas.h"
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

// ---- bf16 / f16 tensor-core GEMM ----------------------------------------------------------------------------------
// Launches launch(grid, batch0, tile_m0) over tiles of bm x bn output elements for every batch entry, in chunks of at
// most 65535 along the grid's y (row tiles) and z (batch) axes, the hardware limit there.
template <typename F>
void for_each_grid(const cpu::GemmBatch& g, int64_t bm, int64_t bn, F&& launch) {
  const int64_t tiles_m = (g.M + bm - 1) / bm, tiles_n = (g.N + bn - 1) / bn;
  if (tiles_n > 0x7fffffff) throw Error("matmul: N is too large for the CUDA kernel (" + std::to_string(g.N) + ")");
  for (int64_t b0 = 0; b0 < g.batch; b0 += 65535) {
    const int64_t nb = g.batch - b0 < 65535 ? g.batch - b0 : 65535;
    for (int64_t m0 = 0; m0 < tiles_m; m0 += 65535) {
      const int64_t nm = tiles_m - m0 < 65535 ? tiles_m - m0 : 65535;
      launch(dim3((unsigned)tiles_n, (unsigned)nm, (unsigned)nb), b0, m0);
      check_launch("matmul");
    }
  }
}

namespace hg {
using namespace nvcuda;

constexpr int BM = 128, BN = 128, BK = 32, PAD = 8, NT = 256;
constexpr int WM = 64, WN = 32;                   // warp tile: 2 x 4 warps, 4 x 2 fragments each
constexpr int TILE = (BM > BN ? BM : BN) * (BK + PAD);  // 16-bit elements per operand tile, either layout
constexpr int CHUNKS = BM * BK / 8 / NT;          // 16-byte chunks per thread per operand tile (2)
static_assert(BM == BN && BM * BK % (8 * NT) == 0, "tile shape");
constexpr size_t SMEM = 2 * 2 * TILE * sizeof(uint16_t);  // two buffers of A and B tiles
static_assert(SMEM >= 8 * 256 * sizeof(float), "epilogue staging reuses the tile buffers");

// C's dtype in the epilogue.
enum CKind { C_F32 = 0, C_BF16 = 1, C_F16 = 2 };

__device__ __forceinline__ float load_c(const void* c, int64_t i, int kind) {
  if (kind == C_F32) return static_cast<const float*>(c)[i];
  if (kind == C_BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(c)[i]);
  return __half2float(static_cast<const __half*>(c)[i]);
}
__device__ __forceinline__ void store_c(void* c, int64_t i, float v, int kind) {
  if (kind == C_F32) static_cast<float*>(c)[i] = v;
  else if (kind == C_BF16) static_cast<__nv_bfloat16*>(c)[i] = to_bf16(v);
  else static_cast<__half*>(c)[i] = to_f16(v);
}

// Loads a ROWS x COLS tile (COLS contiguous in memory, leading dimension ld) starting at (row0, col0) into registers,
// 8 elements per chunk; elements outside nrows x ncols read as zero. vec: ld, the batch stride and the base are
// multiples of 8 elements / 16 bytes, so whole in-range chunks load as one 16-byte access.
template <int ROWS, int COLS>
__device__ __forceinline__ void load_tile(uint4 (&r)[CHUNKS], const uint16_t* __restrict__ g, int64_t ld, int64_t row0,
                                          int64_t col0, int64_t nrows, int64_t ncols, bool vec) {
  static_assert(ROWS * COLS / 8 == CHUNKS * NT, "tile / thread count mismatch");
  constexpr int CPR = COLS / 8;
#pragma unroll
  for (int i = 0; i < CHUNKS; ++i) {
    const int ch = threadIdx.x + i * NT;
    const int64_t gr = row0 + ch / CPR, gc = col0 + (ch % CPR) * 8;
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (gr < nrows && gc < ncols) {
      const uint16_t* p = g + gr * ld + gc;
      if (vec && gc + 8 <= ncols) {
        v = __ldg(reinterpret_cast<const uint4*>(p));
      } else {
        uint32_t w[4] = {0u, 0u, 0u, 0u};
#pragma unroll
        for (int q = 0; q < 8; ++q)
          if (gc + q < ncols) w[q >> 1] |= (uint32_t)p[q] << (16 * (q & 1));
        v = make_uint4(w[0], w[1], w[2], w[3]);
      }
    }
    r[i] = v;
  }
}

template <int ROWS, int COLS>
__device__ __forceinline__ void store_tile(uint16_t* s, const uint4 (&r)[CHUNKS]) {
  constexpr int CPR = COLS / 8;
#pragma unroll
  for (int i = 0; i < CHUNKS; ++i) {
    const int ch = threadIdx.x + i * NT;
    *reinterpret_cast<uint4*>(s + (ch / CPR) * (COLS + PAD) + (ch % CPR) * 8) = r[i];
  }
}

// Shared-memory layouts mirror global memory: A is [BM][BK] (row_major fragments) or, transposed, [BK][BM]
// (col_major fragments); B is [BK][BN] (row_major) or [BN][BK] (col_major). Rows are padded by PAD elements.
template <typename T, bool TA, bool TB>
__global__ void __launch_bounds__(NT) hgemm_kernel(const uint16_t* __restrict__ A, const uint16_t* __restrict__ B,
                                                   void* __restrict__ C, int64_t M, int64_t N, int64_t K, int64_t sa,
                                                   int64_t sb, int64_t sc, float alpha, float beta, int c_kind,
                                                   bool vec_a, bool vec_b, int64_t batch0, int64_t tile_m0) {
  using LayoutA = typename std::conditional<TA, wmma::col_major, wmma::row_major>::type;
  using LayoutB = typename std::conditional<TB, wmma::col_major, wmma::row_major>::type;
  constexpr int LDA = TA ? BM + PAD : BK + PAD;
  constexpr int LDB = TB ? BK + PAD : BN + PAD;
  __shared__ __align__(128) uint16_t smem[2 * 2 * TILE];

  const int64_t bz = batch0 + blockIdx.z;
  const uint16_t* a = A + bz * sa;
  const uint16_t* b = B + bz * sb;
  const int64_t i0 = (tile_m0 + blockIdx.y) * BM, j0 = (int64_t)blockIdx.x * BN;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wm = (warp >> 2) * WM, wn = (warp & 3) * WN;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[WM / 16][WN / 16];
#pragma unroll
  for (int x = 0; x < WM / 16; ++x)
#pragma unroll
    for (int y = 0; y < WN / 16; ++y) wmma::fill_fragment(acc[x][y], 0.f);

  uint4 ra[CHUNKS], rb[CHUNKS];
  auto fetch = [&](int64_t k0) {
    if (TA) load_tile<BK, BM>(ra, a, M, k0, i0, K, M, vec_a);
    else load_tile<BM, BK>(ra, a, K, i0, k0, M, K, vec_a);
    if (TB) load_tile<BN, BK>(rb, b, K, j0, k0, N, K, vec_b);
    else load_tile<BK, BN>(rb, b, N, k0, j0, K, N, vec_b);
  };
  auto put = [&](int buf) {
    uint16_t* sa_ = smem + buf * 2 * TILE;
    uint16_t* sb_ = sa_ + TILE;
    if (TA) store_tile<BK, BM>(sa_, ra);
    else store_tile<BM, BK>(sa_, ra);
    if (TB) store_tile<BN, BK>(sb_, rb);
    else store_tile<BK, BN>(sb_, rb);
  };

  const int64_t nk = (K + BK - 1) / BK;
  fetch(0);
  put(0);
  __syncthreads();
  for (int64_t t = 0; t < nk; ++t) {
    const int buf = (int)(t & 1);
    if (t + 1 < nk) fetch((t + 1) * BK);  // global loads in flight during the MMAs below
    const T* as = reinterpret_cast<const T*>(smem + buf * 2 * TILE);
    const T* bs = reinterpret_cast<const T*>(smem + buf * 2 * TILE + TILE);
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LayoutA> fa[WM / 16];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LayoutB> fb[WN / 16];
#pragma unroll
      for (int x = 0; x < WM / 16; ++x) {
        const int m = wm + x * 16;
        wmma::load_matrix_sync(fa[x], TA ? as + kk * LDA + m : as + m * LDA + kk, LDA);
      }
#pragma unroll
      for (int y = 0; y < WN / 16; ++y) {
        const int n = wn + y * 16;
        wmma::load_matrix_sync(fb[y], TB ? bs + n * LDB + kk : bs + kk * LDB + n, LDB);
      }
#pragma unroll
      for (int x = 0; x < WM / 16; ++x)
#pragma unroll
        for (int y = 0; y < WN / 16; ++y) wmma::mma_sync(acc[x][y], fa[x], fb[y], acc[x][y]);
    }
    if (t + 1 < nk) put(buf ^ 1);  // that buffer was last read in iteration t - 1, before the barrier
    __syncthreads();
  }

  // Epilogue: each warp stages one 16 x 16 accumulator at a time (the tile buffers are free after the barrier above)
  // and writes it with the cpu's alpha / beta rules, rounding to C's dtype (round to nearest even).
  float* stage = reinterpret_cast<float*>(smem) + warp * 256;
  const int64_t cz = bz * sc;
#pragma unroll
  for (int x = 0; x < WM / 16; ++x)
#pragma unroll
    for (int y = 0; y < WN / 16; ++y) {
      wmma::store_matrix_sync(stage, acc[x][y], 16, wmma::mem_row_major);
      __syncwarp();
      const int e0 = lane * 8, r = e0 >> 4, c0 = e0 & 15;
      const int64_t gi = i0 + wm + x * 16 + r;
      if (gi < M) {
#pragma unroll
        for (int q = 0; q < 8; ++q) {
          const int64_t gj = j0 + wn + y * 16 + c0 + q;
          if (gj >= N) break;
          const int64_t ci = cz + gi * N + gj;
          const float v = fmul(alpha, stage[e0 + q]);
          // beta 0 ignores C (NaN there too), beta 1 accumulates.
          float out;
          if (beta == 0.f) out = v;
          else if (beta == 1.f) out = fadd(load_c(C, ci, c_kind), v);
          else out = fadd(fmul(beta, load_c(C, ci, c_kind)), v);
          store_c(C, ci, out, c_kind);
        }
      }
      __syncwarp();
    }
}

// K == 0: C = beta == 0 ? 0 : beta * C, rounded to C's dtype.
__global__ void scale_c_kernel(void* __restrict__ c, int64_t n, float beta, int c_kind) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    store_c(c, i, beta == 0.f ? 0.f : fmul(beta, load_c(c, i, c_kind)), c_kind);
}

template <typename T, bool TA, bool TB>
void launch(const cpu::GemmBatch& g, float alpha, const uint16_t* A, const uint16_t* B, float beta, int c_kind,
            void* C, bool vec_a, bool vec_b) {
  for_each_grid(g, BM, BN, [&](dim3 grid, int64_t b0, int64_t m0) {
    hgemm_kernel<T, TA, TB><<<grid, NT, 0, SEEKR_STREAM>>>(A, B, C, g.M, g.N, g.K, g.stride_a, g.stride_b, g.stride_c, alpha, beta,
                                          c_kind, vec_a, vec_b, b0, m0);
  });
}

template <typename T>
void launch_t(const cpu::GemmBatch& g, float alpha, const uint16_t* A, const uint16_t* B, float beta, int c_kind,
              void* C, bool vec_a, bool vec_b) {
  if (g.trans_a) {
    if (g.trans_b) launch<T, true, true>(g, alpha, A, B, beta, c_kind, C, vec_a, vec_b);
    else launch<T, true, false>(g, alpha, A, B, beta, c_kind, C, vec_a, vec_b);
  } else {
    if (g.trans_b) launch<T, false, true>(g, alpha, A, B, beta, c_kind, C, vec_a, vec_b);
    else launch<T, false, false>(g, alpha, A, B, beta, c_kind, C, vec_a, vec_b);
  }
}

// 16-byte loads are possible when every row start of every batch entry is 16-byte aligned.
bool vec_ok(const void* p, int64_t ld, int64_t stride) {
  return ld % 8 == 0 && stride % 8 == 0 && reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace hg

}  // namespace

void gemm_batched(int device, const cpu::GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C) {
  if (g.batch == 0 || g.M == 0 || g.N == 0) return;
  use_device(device);
  if (g.K == 0) {
    const int64_t n = g.batch * g.stride_c;
    scale_c_kernel<<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(C, n, beta);
    check_launch("matmul");
    return;
  }
  if (cublas::sgemm(device, g, alpha, A, B, beta, C)) return;
  for_each_grid(g, BM, BN, [&](dim3 grid, int64_t b0, int64_t m0) {
    sgemm_kernel<<<grid, NT, 0, SEEKR_STREAM>>>(A, B, C, g.M, g.N, g.K, g.trans_a, g.trans_b, g.stride_a, g.stride_b, g.stride_c, alpha,
                               beta, b0, m0);
  });
}

void gemm_batched_half(int device, const cpu::GemmBatch& g, float alpha, DType ab, const void* A, const void* B,
                       float beta, DType tc, void* C) {
  if (!is_half(ab))
    throw Error(std::string("matmul: the tensor-core GEMM takes bfloat16 or float16 operands, not ") + dtype_name(ab));
  if (!is_float(tc))
    throw Error(std::string("matmul: the output must be float32, bfloat16 or float16, not ") + dtype_name(tc));
  if (g.batch == 0 || g.M == 0 || g.N == 0) return;
  use_device(device);
  const int c_kind = tc == DType::F32 ? hg::C_F32 : tc == DType::BF16 ? hg::C_BF16 : hg::C_F16;
  if (g.K == 0) {
    const int64_t n = g.batch * g.stride_c;
    hg::scale_c_kernel<<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(C, n, beta, c_kind);
    check_launch("matmul");
    return;
  }
  if (cublas::gemm_ex(device, g, alpha, ab, A, B, beta, tc, C)) return;
  const uint16_t* a = static_cast<const uint16_t*>(A);
  const uint16_t* b = static_cast<const uint16_t*>(B);
  const bool vec_a = hg::vec_ok(A, g.trans_a ? g.M : g.K, g.stride_a);
  const bool vec_b = hg::vec_ok(B, g.trans_b ? g.K : g.N, g.stride_b);
  if (ab == DType::BF16) hg::launch_t<__nv_bfloat16>(g, alpha, a, b, beta, c_kind, C, vec_a, vec_b);
  else hg::launch_t<__half>(g, alpha, a, b, beta, c_kind, C, vec_a, vec_b);
}

std::string gemm_backend(int device_or_minus1) {
  if (!cublas::available()) return "Seekr's tiled kernels (cuBLAS not loaded: " + cublas::status() + ")";
  std::string s = cublas::status();
  if (cublas::tf32()) s += "; f32 on TF32 tensor cores (SEEKR_TF32=1)";
  const std::string err = cublas::device_error(device_or_minus1);
  if (!err.empty()) s += "; " + err;
  return s;
}

}  // namespace cuda
}  // namespace seekr
