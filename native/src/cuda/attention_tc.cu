// Tensor-core flash attention (FlashAttention-2 style) for sm_80 / sm_90. Operands are bf16 or f16 in shared memory,
// read with ldmatrix into mma.sync.m16n8k16 fragments (f32 accumulators); softmax statistics stay in f32 registers.
// - Forward: one block per (b, h, 128 query rows): 4 warps of 32 rows (D <= 64) or 8 warps of 16 rows (D = 128). A warp
//   keeps its Q fragments, output accumulators and running max / sum in registers. K / V tiles of 64 keys stream
//   through shared memory, double-buffered with cp.async; exp2 with the scale folded in; P is rounded to the operand
//   type for P V. Key tiles past the causal limit of the block are not loaded; warps skip tiles none of their rows see.
// - Backward, deterministic (no atomics): D_i = rowsum(dO * O) per row; a dK / dV kernel with one block per
//   (b, kv head, key tile), each warp owning 16 keys and looping over the query tiles of every head of the group
//   (S^T = K Q^T, dP^T = V dO^T, P^T from the lse, dV += P^T dO, dS^T = P^T (dP^T - D_i), dK += dS^T Q); a dQ kernel
//   with one block per (b, h, 64 query rows) over the key tiles (dQ += dS K).
// - Inputs stored as f32 (or 16-bit storage not 16-byte aligned) are converted through registers instead of cp.async;
//   f32 is rounded to bf16.
// Semantics of cpu/attention.cpp: masked or padded keys get probability exactly 0; a row with no visible key gets
// output 0 and lse +inf, so its backward probabilities are 0 too.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <string>

#include "cuda/attention_tc.h"
#include "cuda/common.cuh"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {
using cpu::AttnShape;

// ---- primitives: inline PTX and conversions ---------------------------------------------------------------------
struct OpBF16 {
  static constexpr int kDType = (int)DType::BF16;
};
struct OpF16 {
  static constexpr int kDType = (int)DType::F16;
};

__device__ __forceinline__ unsigned char* dyn_smem() {
  extern __shared__ __align__(128) unsigned char attn_tc_smem[];
  return attn_tc_smem;
}
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Two floats rounded to the operand type, `lo` in the low 16 bits (the lower column of an mma fragment pair).
template <class Op> __device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t pack2<OpBF16>(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}
template <> __device__ __forceinline__ uint32_t pack2<OpF16>(float lo, float hi) {
  __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// d += A (16 x 16, row) * B (16 x 8, col), f32 accumulators.
template <class Op>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<OpBF16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<OpF16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8 x 8 b16 matrices; lane l gives the address of row l & 7 of matrix l >> 3.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const uint16_t* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const uint16_t* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// 16-byte global -> shared copy; zero-fills the destination when !valid (src is then not read).
__device__ __forceinline__ void cp_async16(uint16_t* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void sts128(uint16_t* p, uint4 v) { *reinterpret_cast<uint4*>(p) = v; }
__device__ __forceinline__ float lds_f32(const float* p) { return *p; }
__device__ __forceinline__ void sts_f32(float* p, float v) { *p = v; }
__device__ __forceinline__ float shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }

// Global memory: element i of a buffer of dtype dt, as float; stores round to nearest even.
__device__ __forceinline__ float ldg_f(const void* p, int64_t i, int dt) {
  if (dt == (int)DType::F32) return __ldg(static_cast<const float*>(p) + i);
  const unsigned short u = __ldg(static_cast<const unsigned short*>(p) + i);
  return dt == (int)DType::BF16 ? __bfloat162float(__ushort_as_bfloat16(u)) : __half2float(__ushort_as_half(u));
}
__device__ __forceinline__ float4 ldg_f4(const void* p, int64_t i) {
  return __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(p) + i));
}
__device__ __forceinline__ void stg_f(void* p, int64_t i, float v, int dt) {
  if (dt == (int)DType::F32) static_cast<float*>(p)[i] = v;
  else if (dt == (int)DType::BF16) static_cast<__nv_bfloat16*>(p)[i] = to_bf16(v);
  else static_cast<__half*>(p)[i] = to_f16(v);
}

// ---- kernels ----------------------------------------------------------------------------------------------------
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

struct FwdArgs {
  int64_t B, Tq, Tk, H, Hkv;
  bool causal;
  float c2;  // scale * log2(e)
  const void *q, *k, *v;
  int in_dt;
  bool vq, vk, vv;  // base pointer 16-byte aligned
  void* out;
  int out_dt;
  float* lse;
  const float* mask;
};

struct BwdArgs {
  int64_t B, Tq, Tk, H, Hkv;
  bool causal;
  float scale, c2;
  const void *q, *k, *v, *dout;
  int in_dt, dout_dt;
  bool vq, vk, vv, vdo;
  const void* out;
  int out_dt;
  const float* lse;
  float* di;  // [B, H, Tq] scratch
  void *dq, *dk, *dv;
  int grad_dt;
  const float* mask;
};

// Tile shapes. Shared-memory rows are D + 8 elements (16 bytes of padding), so the 8 rows of an ldmatrix fall in
// distinct banks. Forward: MT 16-row blocks per warp share each K / V fragment (two halve the shared-memory reads per
// mma; at D = 128 the Q fragments and O accumulators of one fill the registers).
template <int D> struct FwdCfg {
  static constexpr int MT = D >= 128 ? 1 : 2, NW = 8 / MT, NT = NW * 32, BQ = NW * 16 * MT, BN = 64, LDS = D + 8;
  static constexpr int TILE = BN * LDS;                          // elements of one K or V tile
  static constexpr size_t SMEM = 4 * TILE * 2 + 2 * BN * 4;      // K, V double-buffered + key bias
  static_assert(BQ * LDS <= 4 * TILE, "the Q staging tile fits in the K / V buffers");
};
template <int D> struct DqCfg {
  static constexpr int NW = 4, NT = NW * 32, BQ = NW * 16, BN = D >= 128 ? 32 : 64, LDS = D + 8;
  static constexpr int TILE = BN * LDS;
  static constexpr int AREA = 4 * TILE > 2 * BQ * LDS ? 4 * TILE : 2 * BQ * LDS;  // K / V buffers or Q + dO staging
  static constexpr size_t SMEM = AREA * 2 + 2 * BN * 4;
};
template <int D> struct DkvCfg {
  static constexpr int NW = D >= 128 ? 4 : 8, NT = NW * 32, BN = NW * 16, BM = D >= 128 ? 32 : 64, LDS = D + 8;
  static constexpr int KT = BN * LDS, QT = BM * LDS;
  static constexpr size_t SMEM = (2 * KT + 4 * QT) * 2 + 4 * BM * 4;  // K, V; Q, dO double-buffered; lse, D_i
};

// Eight consecutive elements from global memory (dtype dt) rounded to Op; vec: 16-byte aligned rows.
template <class Op>
__device__ __forceinline__ uint4 load8(const void* src, int dt, bool vec, int64_t e) {
  float f[8];
  if (dt == (int)DType::F32 && vec) {
    const float4 x = ldg_f4(src, e), y = ldg_f4(src, e + 4);
    f[0] = x.x; f[1] = x.y; f[2] = x.z; f[3] = x.w;
    f[4] = y.x; f[5] = y.y; f[6] = y.z; f[7] = y.w;
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i) f[i] = ldg_f(src, e + i, dt);
  }
  uint4 r;
  r.x = pack2<Op>(f[0], f[1]);
  r.y = pack2<Op>(f[2], f[3]);
  r.z = pack2<Op>(f[4], f[5]);
  r.w = pack2<Op>(f[6], f[7]);
  return r;
}
// Copies rows [row0, row0 + ROWS) of an operand whose row r starts at element base + r * stride of src (dtype dt)
// into shared memory as Op, row stride D + 8; rows >= nrows become zeros. Storage already of the operand type with a
// 16-byte aligned base (vec) goes through cp.async; anything else is converted through registers.
template <class Op, int D, int ROWS, int NT>
__device__ __forceinline__ void load_rows(uint16_t* dst, const void* src, int dt, bool vec, int64_t base,
                                          int64_t stride, int64_t row0, int64_t nrows) {
  constexpr int CPR = D / 8, LDS = D + 8, N = ROWS * CPR;
  if (vec && dt == Op::kDType) {
#pragma unroll
    for (int c0 = 0; c0 < N; c0 += NT) {
      const int c = c0 + (int)threadIdx.x;
      if (N % NT != 0 && c >= N) break;
      const int r = c / CPR, col = (c % CPR) * 8;
      const int64_t gr = row0 + r;
      const bool ok = gr < nrows;
      const uint16_t* p = static_cast<const uint16_t*>(src) + (base + gr * stride + col);  // not read when !ok
      cp_async16(dst + r * LDS + col, ok ? static_cast<const void*>(p) : src, ok);
    }
  } else {
    // One chunk at a time: this path runs while the caller's accumulators are live.
#pragma unroll 1
    for (int c = (int)threadIdx.x; c < N; c += NT) {
      const int r = c / CPR, col = (c % CPR) * 8;
      const int64_t gr = row0 + r;
      uint4 v;
      v.x = v.y = v.z = v.w = 0u;
      if (gr < nrows) v = load8<Op>(src, dt, vec, base + gr * stride + col);
      sts128(dst + r * LDS + col, v);
    }
  }
}

// S (16 x 8 * NTILES) = A (16 x D, fragments in registers) * B^T, B rows [n0, n0 + 8 * NTILES) of a row-major
// shared tile with row stride LDS (keys of K or V, or queries of Q or dO).
template <class Op, int D, int NTILES, int LDS>
__device__ __forceinline__ void mma_abt(float (&s)[NTILES][4], const uint32_t (&af)[D / 16][4], const uint16_t* bs,
                                        int lane) {
#pragma unroll
  for (int n = 0; n < NTILES; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int np = 0; np < NTILES / 2; ++np) {
      uint32_t r[4];
      ldsm_x4(r, bs + (np * 16 + (lane & 7) + (lane >> 4) * 8) * LDS + kk * 16 + ((lane >> 3) & 1) * 8);
      mma16816<Op>(s[2 * np], af[kk], r[0], r[1]);
      mma16816<Op>(s[2 * np + 1], af[kk], r[2], r[3]);
    }
}
// Same with the A rows [r0, r0 + 16) read from a row-major shared tile, one 16-column slice at a time.
template <class Op, int D, int NTILES, int LDS>
__device__ __forceinline__ void mma_abt_ss(float (&s)[NTILES][4], const uint16_t* as, int r0, const uint16_t* bs,
                                           int lane) {
#pragma unroll
  for (int n = 0; n < NTILES; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t af[4];
    ldsm_x4(af, as + (r0 + (lane & 15)) * LDS + kk * 16 + (lane >> 4) * 8);
#pragma unroll
    for (int np = 0; np < NTILES / 2; ++np) {
      uint32_t r[4];
      ldsm_x4(r, bs + (np * 16 + (lane & 7) + (lane >> 4) * 8) * LDS + kk * 16 + ((lane >> 3) & 1) * 8);
      mma16816<Op>(s[2 * np], af, r[0], r[1]);
      mma16816<Op>(s[2 * np + 1], af, r[2], r[3]);
    }
  }
}
// acc (16 x D) += P (16 x 16 * KSTEPS, accumulator layout in p) * V, V a row-major shared tile [16 * KSTEPS][LDS].
template <class Op, int D, int KSTEPS, int LDS>
__device__ __forceinline__ void mma_pv(float (&acc)[D / 8][4], const float (&p)[2 * KSTEPS][4], const uint16_t* vs,
                                       int lane) {
#pragma unroll
  for (int kk = 0; kk < KSTEPS; ++kk) {
    const uint32_t pa[4] = {pack2<Op>(p[2 * kk][0], p[2 * kk][1]), pack2<Op>(p[2 * kk][2], p[2 * kk][3]),
                            pack2<Op>(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                            pack2<Op>(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t r[4];
      ldsm_x4_t(r, vs + (kk * 16 + (lane & 15)) * LDS + dp * 16 + (lane >> 4) * 8);
      mma16816<Op>(acc[2 * dp], pa, r[0], r[1]);
      mma16816<Op>(acc[2 * dp + 1], pa, r[2], r[3]);
    }
  }
}
// MT blocks of 16 A rows sharing every B fragment: S[mt] = A[mt] B^T, then acc[mt] += P[mt] V.
template <class Op, int D, int MT, int NTILES, int LDS>
__device__ __forceinline__ void mma_abt_m(float (&s)[MT][NTILES][4], const uint32_t (&af)[MT][D / 16][4],
                                          const uint16_t* bs, int lane) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < NTILES; ++n) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int np = 0; np < NTILES / 2; ++np) {
      uint32_t r[4];
      ldsm_x4(r, bs + (np * 16 + (lane & 7) + (lane >> 4) * 8) * LDS + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma16816<Op>(s[mt][2 * np], af[mt][kk], r[0], r[1]);
        mma16816<Op>(s[mt][2 * np + 1], af[mt][kk], r[2], r[3]);
      }
    }
}
template <class Op, int D, int MT, int KSTEPS, int LDS>
__device__ __forceinline__ void mma_pv_m(float (&acc)[MT][D / 8][4], const float (&p)[MT][2 * KSTEPS][4],
                                         const uint16_t* vs, int lane) {
#pragma unroll
  for (int kk = 0; kk < KSTEPS; ++kk) {
    uint32_t pa[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      pa[mt][0] = pack2<Op>(p[mt][2 * kk][0], p[mt][2 * kk][1]);
      pa[mt][1] = pack2<Op>(p[mt][2 * kk][2], p[mt][2 * kk][3]);
      pa[mt][2] = pack2<Op>(p[mt][2 * kk + 1][0], p[mt][2 * kk + 1][1]);
      pa[mt][3] = pack2<Op>(p[mt][2 * kk + 1][2], p[mt][2 * kk + 1][3]);
    }
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t r[4];
      ldsm_x4_t(r, vs + (kk * 16 + (lane & 15)) * LDS + dp * 16 + (lane >> 4) * 8);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma16816<Op>(acc[mt][2 * dp], pa[mt], r[0], r[1]);
        mma16816<Op>(acc[mt][2 * dp + 1], pa[mt], r[2], r[3]);
      }
    }
  }
}
// A fragments (16 x D) of rows [r0, r0 + 16) of a row-major shared tile.
template <int D, int LDS>
__device__ __forceinline__ void load_afrag(uint32_t (&af)[D / 16][4], const uint16_t* s, int r0, int lane) {
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) ldsm_x4(af[kk], s + (r0 + (lane & 15)) * LDS + kk * 16 + (lane >> 4) * 8);
}

__device__ __forceinline__ bool key_on(const float* mask, int64_t b, int64_t Tk, int64_t j) {
  return j < Tk && (mask == nullptr || mask[b * Tk + j] != 0.f);
}

inline int64_t fwd_blocks(const FwdArgs& a, int bq) { return a.B * a.H * ((a.Tq + bq - 1) / bq); }
inline int64_t dq_blocks(const BwdArgs& a, int bq) { return a.B * a.H * ((a.Tq + bq - 1) / bq); }
inline int64_t dkv_blocks(const BwdArgs& a, int bn) { return a.B * a.Hkv * ((a.Tk + bn - 1) / bn); }
inline int64_t di_blocks(const BwdArgs& a) { return (a.B * a.Tq * a.H + 7) / 8; }

template <class Op, int D>
__global__ void __launch_bounds__(FwdCfg<D>::NT, 1) fwd_tc_kernel(FwdArgs a) {
  using C = FwdCfg<D>;
  constexpr int LDS = C::LDS, BN = C::BN, BQ = C::BQ, NT = C::NT, MT = C::MT, WR = 16 * MT;
  uint16_t* const sm = reinterpret_cast<uint16_t*>(dyn_smem());
  float* const bias0 = reinterpret_cast<float*>(sm + 4 * C::TILE);  // [2][BN]: 0 = key on, -inf = off
  const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  // The last query tiles (most keys under causal masking) are scheduled first.
  const int64_t nbh = a.B * a.H, nqt = (a.Tq + BQ - 1) / BQ;
  const int64_t bh = (int64_t)blockIdx.x % nbh, qt = nqt - 1 - (int64_t)blockIdx.x / nbh;
  const int64_t b = bh / a.H, h = bh % a.H, kh = h / (a.H / a.Hkv);
  const int64_t t0 = qt * BQ, off = a.Tk - a.Tq;
  const int64_t wr0 = t0 + warp * WR, wr1 = imin(wr0 + WR - 1, a.Tq - 1);  // this warp's rows (none if wr0 >= Tq)
  const int64_t kend = a.causal ? imax(0, imin(a.Tk, imin(t0 + BQ, a.Tq) + off)) : a.Tk;
  const int ntiles = (int)((kend + BN - 1) / BN);

  // Q rows, staged through the K / V buffers, then held as A fragments.
  load_rows<Op, D, BQ, NT>(sm, a.q, a.in_dt, a.vq, (b * a.Tq * a.H + h) * D, a.H * D, t0, a.Tq);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[MT][D / 16][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) load_afrag<D, LDS>(qf[mt], sm, warp * WR + mt * 16, lane);
  __syncthreads();

  const int64_t kv_base = (b * a.Tk * a.Hkv + kh) * D, kv_stride = a.Hkv * D;
  auto load_kv = [&](int it, int buf) {
    const int64_t j0 = (int64_t)it * BN;
    uint16_t* ks = sm + buf * 2 * C::TILE;
    load_rows<Op, D, BN, NT>(ks, a.k, a.in_dt, a.vk, kv_base, kv_stride, j0, a.Tk);
    load_rows<Op, D, BN, NT>(ks + C::TILE, a.v, a.in_dt, a.vv, kv_base, kv_stride, j0, a.Tk);
    if (tid < BN) sts_f32(bias0 + buf * BN + tid, key_on(a.mask, b, a.Tk, j0 + tid) ? 0.f : -INFINITY);
  };

  // Lane rows: wr0 + 16 mt + g + 8 r for accumulator elements 2 r, 2 r + 1.
  float o[MT][D / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < D / 8; ++n) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.f;
  float m[MT][2], l[MT][2];  // running max (log2 units), per-lane partial sums
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.f;

  if (ntiles > 0) load_kv(0, 0);
  cp_async_commit();
  for (int it = 0; it < ntiles; ++it) {
    const int buf = it & 1;
    cp_async_wait<0>();
    __syncthreads();  // tile `it` visible; every warp is done with tile it - 1, whose buffer is refilled below
    if (it + 1 < ntiles) load_kv(it + 1, buf ^ 1);
    cp_async_commit();
    const int64_t j0 = (int64_t)it * BN;
    if (wr0 >= a.Tq || (a.causal && j0 > wr1 + off)) continue;  // warp-uniform: no row of this warp sees the tile
    const uint16_t* ks = sm + buf * 2 * C::TILE;
    const float* bias = bias0 + buf * BN;

    float s[MT][BN / 8][4];
    mma_abt_m<Op, D, MT, BN / 8, LDS>(s, qf, ks, lane);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const int64_t mr0 = wr0 + mt * 16;
      const bool need_mask = a.mask != nullptr || j0 + BN > a.Tk || (a.causal && j0 + BN - 1 > mr0 + off);
      // Row r sees tile columns c <= cmax[r] (causal), clamped to [-1, BN].
      int cmax[2] = {BN, BN};
      if (a.causal)
#pragma unroll
        for (int r = 0; r < 2; ++r) cmax[r] = (int)imax(-1, imin(BN, mr0 + g + 8 * r + off - j0));
#pragma unroll
      for (int n = 0; n < BN / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x = s[mt][n][e] * a.c2;
          if (need_mask) {
            const int c = n * 8 + 2 * tg + (e & 1);
            x = (lds_f32(bias + c) == 0.f && c <= cmax[e >> 1]) ? x : -INFINITY;
          }
          s[mt][n][e] = x;
        }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int n = 0; n < BN / 8; ++n) mx = fmaxf(mx, fmaxf(s[mt][n][2 * r], s[mt][n][2 * r + 1]));
        mx = fmaxf(mx, shfl_xor(mx, 1));
        mx = fmaxf(mx, shfl_xor(mx, 2));
        const float mnew = fmaxf(m[mt][r], mx);
        const float mu = mnew == -INFINITY ? 0.f : mnew;  // all keys so far masked: p = 0, no NaN
        const float corr = exp2f(m[mt][r] - mu);
        m[mt][r] = mnew;
        float sum = 0.f;
#pragma unroll
        for (int n = 0; n < BN / 8; ++n) {
          s[mt][n][2 * r] = exp2f(s[mt][n][2 * r] - mu);
          s[mt][n][2 * r + 1] = exp2f(s[mt][n][2 * r + 1] - mu);
          sum += s[mt][n][2 * r] + s[mt][n][2 * r + 1];
        }
        l[mt][r] = l[mt][r] * corr + sum;
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
          o[mt][n][2 * r] *= corr;
          o[mt][n][2 * r + 1] *= corr;
        }
      }
    }
    mma_pv_m<Op, D, MT, BN / 16, LDS>(o, s, ks + C::TILE, lane);
  }

#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      l[mt][r] += shfl_xor(l[mt][r], 1);
      l[mt][r] += shfl_xor(l[mt][r], 2);
      const int64_t row = wr0 + mt * 16 + g + 8 * r;
      if (row >= a.Tq) continue;
      const float inv = l[mt][r] > 0.f ? 1.f / l[mt][r] : 0.f;
      const int64_t base = ((b * a.Tq + row) * a.H + h) * D + 2 * tg;
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        stg_f(a.out, base + n * 8, o[mt][n][2 * r] * inv, a.out_dt);
        stg_f(a.out, base + n * 8 + 1, o[mt][n][2 * r + 1] * inv, a.out_dt);
      }
      if (tg == 0)
        a.lse[(b * a.H + h) * a.Tq + row] = l[mt][r] > 0.f ? m[mt][r] * kLn2 + __logf(l[mt][r]) : INFINITY;
    }
}

// D_i = sum_d dO * O per row (b, t, h), one warp per row, into di[b, h, t].
template <int D>
__global__ void __launch_bounds__(256) di_tc_kernel(BwdArgs a) {
  const int64_t row = (int64_t)blockIdx.x * 8 + (threadIdx.x >> 5);
  const int lane = (int)threadIdx.x & 31;
  if (row >= a.B * a.Tq * a.H) return;  // warp-uniform
  float acc = 0.f;
#pragma unroll
  for (int d = lane; d < D; d += 32) acc += ldg_f(a.out, row * D + d, a.out_dt) * ldg_f(a.dout, row * D + d, a.dout_dt);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) acc += shfl_xor(acc, o);
  const int64_t h = row % a.H, t = (row / a.H) % a.Tq, b = row / (a.H * a.Tq);
  if (lane == 0) a.di[(b * a.H + h) * a.Tq + t] = acc;
}

template <class Op, int D>
__global__ void __launch_bounds__(DqCfg<D>::NT, 1) dq_tc_kernel(BwdArgs a) {
  using C = DqCfg<D>;
  constexpr int LDS = C::LDS, BN = C::BN, BQ = C::BQ, NT = C::NT;
  uint16_t* const sm = reinterpret_cast<uint16_t*>(dyn_smem());
  float* const bias0 = reinterpret_cast<float*>(sm + C::AREA);
  const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int64_t nbh = a.B * a.H, nqt = (a.Tq + BQ - 1) / BQ;
  const int64_t bh = (int64_t)blockIdx.x % nbh, qt = nqt - 1 - (int64_t)blockIdx.x / nbh;
  const int64_t b = bh / a.H, h = bh % a.H, kh = h / (a.H / a.Hkv);
  const int64_t t0 = qt * BQ, off = a.Tk - a.Tq;
  const int64_t wr0 = t0 + warp * 16, wr1 = imin(wr0 + 15, a.Tq - 1);
  const int64_t row0 = wr0 + g, row1 = row0 + 8;
  const int64_t kend = a.causal ? imax(0, imin(a.Tk, imin(t0 + BQ, a.Tq) + off)) : a.Tk;
  const int ntiles = (int)((kend + BN - 1) / BN);

  const int64_t q_base = (b * a.Tq * a.H + h) * D, q_stride = a.H * D;
  load_rows<Op, D, BQ, NT>(sm, a.q, a.in_dt, a.vq, q_base, q_stride, t0, a.Tq);
  load_rows<Op, D, BQ, NT>(sm + BQ * LDS, a.dout, a.dout_dt, a.vdo, q_base, q_stride, t0, a.Tq);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[D / 16][4], gf[D / 16][4];
  load_afrag<D, LDS>(qf, sm, warp * 16, lane);
  load_afrag<D, LDS>(gf, sm + BQ * LDS, warp * 16, lane);
  __syncthreads();

  float lse2[2], dI[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = r ? row1 : row0;
    const bool ok = row < a.Tq;
    lse2[r] = ok ? a.lse[(b * a.H + h) * a.Tq + row] * kLog2e : INFINITY;
    dI[r] = ok ? a.di[(b * a.H + h) * a.Tq + row] : 0.f;
  }

  const int64_t kv_base = (b * a.Tk * a.Hkv + kh) * D, kv_stride = a.Hkv * D;
  auto load_kv = [&](int it, int buf) {
    const int64_t j0 = (int64_t)it * BN;
    uint16_t* ks = sm + buf * 2 * C::TILE;
    load_rows<Op, D, BN, NT>(ks, a.k, a.in_dt, a.vk, kv_base, kv_stride, j0, a.Tk);
    load_rows<Op, D, BN, NT>(ks + C::TILE, a.v, a.in_dt, a.vv, kv_base, kv_stride, j0, a.Tk);
    if (tid < BN) sts_f32(bias0 + buf * BN + tid, key_on(a.mask, b, a.Tk, j0 + tid) ? 0.f : -INFINITY);
  };

  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;

  if (ntiles > 0) load_kv(0, 0);
  cp_async_commit();
  for (int it = 0; it < ntiles; ++it) {
    const int buf = it & 1;
    cp_async_wait<0>();
    __syncthreads();
    if (it + 1 < ntiles) load_kv(it + 1, buf ^ 1);
    cp_async_commit();
    const int64_t j0 = (int64_t)it * BN;
    if (wr0 >= a.Tq || (a.causal && j0 > wr1 + off)) continue;
    const uint16_t* ks = sm + buf * 2 * C::TILE;
    const float* bias = bias0 + buf * BN;

    float s[BN / 8][4], dp[BN / 8][4];
    mma_abt<Op, D, BN / 8, LDS>(s, qf, ks, lane);
    mma_abt<Op, D, BN / 8, LDS>(dp, gf, ks + C::TILE, lane);
    const bool need_mask = a.mask != nullptr || j0 + BN > a.Tk || (a.causal && j0 + BN - 1 > wr0 + off);
    int cmax[2] = {BN, BN};
    if (a.causal)
#pragma unroll
      for (int r = 0; r < 2; ++r) cmax[r] = (int)imax(-1, imin(BN, (r ? row1 : row0) + off - j0));
#pragma unroll
    for (int n = 0; n < BN / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        bool on = true;
        if (need_mask) {
          const int c = n * 8 + 2 * tg + (e & 1);
          on = lds_f32(bias + c) == 0.f && c <= cmax[e >> 1];
        }
        const float p = on ? exp2f(s[n][e] * a.c2 - lse2[e >> 1]) : 0.f;
        dp[n][e] = p * (dp[n][e] - dI[e >> 1]);  // dS / scale
      }
    mma_pv<Op, D, BN / 16, LDS>(acc, dp, ks, lane);  // dQ += dS K
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = r ? row1 : row0;
    if (row >= a.Tq) continue;
    const int64_t base = ((b * a.Tq + row) * a.H + h) * D + 2 * tg;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      stg_f(a.dq, base + n * 8, acc[n][2 * r] * a.scale, a.grad_dt);
      stg_f(a.dq, base + n * 8 + 1, acc[n][2 * r + 1] * a.scale, a.grad_dt);
    }
  }
}

template <class Op, int D>
__global__ void __launch_bounds__(DkvCfg<D>::NT, 1) dkv_tc_kernel(BwdArgs a) {
  using C = DkvCfg<D>;
  constexpr int LDS = C::LDS, BN = C::BN, BM = C::BM, NT = C::NT;
  uint16_t* const sm = reinterpret_cast<uint16_t*>(dyn_smem());
  uint16_t* const Ks = sm;
  uint16_t* const Vs = sm + C::KT;
  float* const stat0 = reinterpret_cast<float*>(sm + 2 * C::KT + 4 * C::QT);  // [2][lse * log2e (BM), D_i (BM)]
  const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int64_t nbk = a.B * a.Hkv;
  const int64_t bk = (int64_t)blockIdx.x % nbk, kt = (int64_t)blockIdx.x / nbk;
  const int64_t b = bk / a.Hkv, kh = bk % a.Hkv, group = a.H / a.Hkv;
  const int64_t j0 = kt * BN, off = a.Tk - a.Tq;
  // Query tiles from the first row that sees key j0, for every head of the group.
  const int64_t qt0 = (a.causal ? imax(0, j0 - off) : 0) / BM, nqt = (a.Tq + BM - 1) / BM;
  const int64_t per = nqt > qt0 ? nqt - qt0 : 0;
  const int nit = (int)(group * per);

  auto load_q = [&](int it, int buf) {
    const int64_t h = kh * group + it / per, i0 = (qt0 + it % per) * BM;
    uint16_t* qs = sm + 2 * C::KT + buf * 2 * C::QT;
    const int64_t base = (b * a.Tq * a.H + h) * D, stride = a.H * D;
    load_rows<Op, D, BM, NT>(qs, a.q, a.in_dt, a.vq, base, stride, i0, a.Tq);
    load_rows<Op, D, BM, NT>(qs + C::QT, a.dout, a.dout_dt, a.vdo, base, stride, i0, a.Tq);
    if (tid < BM) {
      const int64_t t = i0 + tid;
      float* st = stat0 + buf * 2 * BM;
      sts_f32(st + tid, t < a.Tq ? a.lse[(b * a.H + h) * a.Tq + t] * kLog2e : INFINITY);
      sts_f32(st + BM + tid, t < a.Tq ? a.di[(b * a.H + h) * a.Tq + t] : 0.f);
    }
  };
  if (nit > 0) {  // nit == 0 (Tq == 0): dK = dV = 0
    load_rows<Op, D, BN, NT>(Ks, a.k, a.in_dt, a.vk, (b * a.Tk * a.Hkv + kh) * D, a.Hkv * D, j0, a.Tk);
    load_rows<Op, D, BN, NT>(Vs, a.v, a.in_dt, a.vv, (b * a.Tk * a.Hkv + kh) * D, a.Hkv * D, j0, a.Tk);
    load_q(0, 0);
  }
  cp_async_commit();

  const int64_t wk0 = j0 + warp * 16;  // this warp's first key
  const int64_t key0 = wk0 + g, key1 = key0 + 8;
  const bool kon[2] = {key_on(a.mask, b, a.Tk, key0), key_on(a.mask, b, a.Tk, key1)};
  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[n][e] = dv[n][e] = 0.f;

  for (int it = 0; it < nit; ++it) {
    const int buf = it & 1;
    cp_async_wait<0>();
    __syncthreads();
    if (it + 1 < nit) load_q(it + 1, buf ^ 1);
    cp_async_commit();
    const int64_t i0 = (qt0 + it % per) * BM, tl = imin(i0 + BM, a.Tq) - 1;
    if (wk0 >= a.Tk || (a.causal && tl + off < wk0)) continue;  // warp-uniform: no row of the tile sees its keys
    const uint16_t* qs = sm + 2 * C::KT + buf * 2 * C::QT;
    const uint16_t* gs = qs + C::QT;
    const float* st = stat0 + buf * 2 * BM;

    float s[BM / 8][4], dp[BM / 8][4];
    mma_abt_ss<Op, D, BM / 8, LDS>(s, Ks, warp * 16, qs, lane);   // S^T = K Q^T
    mma_abt_ss<Op, D, BM / 8, LDS>(dp, Vs, warp * 16, gs, lane);  // dP^T = V dO^T
    // Query column c sees key r when c >= key_r - i0 - off (clamped to [0, BM]).
    int cmin[2] = {0, 0};
    if (a.causal)
#pragma unroll
      for (int r = 0; r < 2; ++r) cmin[r] = (int)imax(0, imin(BM, (r ? key1 : key0) - i0 - off));
#pragma unroll
    for (int n = 0; n < BM / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = n * 8 + 2 * tg + (e & 1);
        const bool on = kon[e >> 1] && c >= cmin[e >> 1];
        const float p = on ? exp2f(s[n][e] * a.c2 - lds_f32(st + c)) : 0.f;
        s[n][e] = p;
        dp[n][e] = p * (dp[n][e] - lds_f32(st + BM + c));  // dS^T / scale
      }
    mma_pv<Op, D, BM / 16, LDS>(dv, s, gs, lane);   // dV += P^T dO
    mma_pv<Op, D, BM / 16, LDS>(dk, dp, qs, lane);  // dK += dS^T Q
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t key = r ? key1 : key0;
    if (key >= a.Tk) continue;
    const int64_t base = ((b * a.Tk + key) * a.Hkv + kh) * D + 2 * tg;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      stg_f(a.dk, base + n * 8, dk[n][2 * r] * a.scale, a.grad_dt);
      stg_f(a.dk, base + n * 8 + 1, dk[n][2 * r + 1] * a.scale, a.grad_dt);
      stg_f(a.dv, base + n * 8, dv[n][2 * r], a.grad_dt);
      stg_f(a.dv, base + n * 8 + 1, dv[n][2 * r + 1], a.grad_dt);
    }
  }
}

// ---- attention distillation -------------------------------------------------------------------------------------
// KL(teacher || student) on the selected (head i, query row r) pairs, the student rows recomputed from bf16 / f16 q and
// k (cpu::attention_distill_forward_reference / backward_reference). Deterministic: no float atomics anywhere.
// - Row kernel (forward and backward): one block of 4 warps per (b, i, 64 of the R rows); each warp gathers 16 rows
//   q[b, rows[b, r], heads[i], :] as A fragments and streams the K tiles (64 keys, double-buffered) up to the last key
//   any of its rows sees. Pass 1: the online max / sum, and the teacher mass on the visible keys. Forward, in the same
//   pass: sum pt ln pt and sum pt s (double), so KL = sum pt ln pt - (sum pt s scale - mass lse) once the lse is
//   known (log p = s scale - lse, never log(exp)); one double per row to scratch, then a fixed-order sum writes
//   out[0] = factor * total. Backward, pass 2 re-streams K for p = exp2(s c2 - lse2): g = p * mass - pt on the
//   visible keys (0 elsewhere) rounded to the operand type into a scratch [rows, Tkp] (Tkp: Tk rounded up to the key
//   tile, every column written), and dq_sel += g K on the tensor cores into a float32 scratch [rows, D] (times c =
//   gy * factor * scale: g stays in [-1, 1], so its f16 rounding does not underflow when the factor is small).
// - dQ scatter: dq zeroed, then one thread per (b, d, first occurrence of a head) adds the dq_sel rows of that head's
//   occurrences in order (rows in order) into dq[b, rows[b, r], heads[i], d], rounding to the gradient dtype per add.
// - dK: one block of 4 warps per (b, kv head, 64 keys), each warp 16 keys; the g rows of the heads the kv head serves
//   stream through shared memory with their gathered q rows, 64 rows at a time (double-buffered): dK += g^T Q, g^T's
//   A fragments read with ldmatrix .trans from the row-major g tile. Every key of the tile written (0 where no row).
struct DistArgs {
  int64_t B, Tq, Tk, H, Hkv, n_heads, R, Tkp;
  bool causal;
  float scale, c2, factor;
  const void *q, *k;
  int in_dt;
  bool vq, vk;
  const float* mask;
  const int32_t *heads, *rows;  // device: [n_heads], [B, R]
  const float* teacher;         // [B, n_heads, R, Tk]
  const float* gy;              // backward: the upstream gradient of the loss (1 float)
  double* kl;                   // forward: one KL per row (b, i, r)
  uint16_t* g;                  // backward: [B * n_heads * R, Tkp], operand type
  float* dq_sel;                // backward: [B * n_heads * R, D]
  void *dq, *dk;
  int grad_dt;
};

template <int D> struct DistCfg {
  static constexpr int NW = 4, NT = NW * 32, BR = NW * 16, BN = 64, LDS = D + 8, TILE = BN * LDS;
  static constexpr size_t SMEM = 2 * TILE * 2 + 2 * BN * 4 + BR * 8;  // K double-buffered, key bias, rows' key ends
  static_assert(BR * LDS <= 2 * TILE, "the Q staging tile fits in the K buffers");
};
template <int D> struct DistDkCfg {
  static constexpr int NW = 4, NT = NW * 32, BN = NW * 16, BM = 64, LDG = BN + 8, LDS = D + 8;
  static constexpr int GT = BM * LDG, QT = BM * LDS;  // one g tile [BM rows][BN keys], one Q tile [BM rows][D]
  static constexpr size_t SMEM = 2 * (GT + QT) * 2;   // double-buffered
};

// load_rows for gathered rows: row r (of [row0, row0 + ROWS)) is row t = rows[row0 + r] of an operand whose row t
// starts at element base + t * stride; rows >= nrows become zeros.
template <class Op, int D, int ROWS, int NT>
__device__ __forceinline__ void gather_rows(uint16_t* dst, const void* src, int dt, bool vec, int64_t base,
                                            int64_t stride, const int32_t* rows, int64_t row0, int64_t nrows) {
  constexpr int CPR = D / 8, LDS = D + 8, N = ROWS * CPR;
  if (vec && dt == Op::kDType) {
#pragma unroll
    for (int c0 = 0; c0 < N; c0 += NT) {
      const int c = c0 + (int)threadIdx.x;
      if (N % NT != 0 && c >= N) break;
      const int r = c / CPR, col = (c % CPR) * 8;
      const bool ok = row0 + r < nrows;
      const int64_t t = ok ? (int64_t)__ldg(rows + row0 + r) : 0;
      const uint16_t* p = static_cast<const uint16_t*>(src) + (base + t * stride + col);  // not read when !ok
      cp_async16(dst + r * LDS + col, ok ? static_cast<const void*>(p) : src, ok);
    }
  } else {
#pragma unroll 1
    for (int c = (int)threadIdx.x; c < N; c += NT) {
      const int r = c / CPR, col = (c % CPR) * 8;
      uint4 v;
      v.x = v.y = v.z = v.w = 0u;
      if (row0 + r < nrows) v = load8<Op>(src, dt, vec, base + (int64_t)__ldg(rows + row0 + r) * stride + col);
      sts128(dst + r * LDS + col, v);
    }
  }
}

__device__ __forceinline__ double shfl_xor_d(double v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }

// Keys a query row t sees: [0, end) (causal: t + Tk - Tq + 1, clamped to [0, Tk]).
__device__ __forceinline__ int64_t key_end(const DistArgs& a, int64_t t) {
  return a.causal ? imax(0, imin(a.Tk, t + a.Tk - a.Tq + 1)) : a.Tk;
}

template <class Op, int D, bool BWD>
__global__ void __launch_bounds__(DistCfg<D>::NT) distill_rows_tc_kernel(DistArgs a) {
  using C = DistCfg<D>;
  constexpr int LDS = C::LDS, BN = C::BN, BR = C::BR, NT = C::NT;
  uint16_t* const sm = reinterpret_cast<uint16_t*>(dyn_smem());
  float* const bias0 = reinterpret_cast<float*>(sm + 2 * C::TILE);  // [2][BN]: 0 = key on, -inf = off
  int64_t* const vis = reinterpret_cast<int64_t*>(bias0 + 2 * BN);   // [BR]: key end of each of the block's rows
  const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int64_t nch = (a.R + BR - 1) / BR;
  const int64_t chunk = (int64_t)blockIdx.x % nch, bi = (int64_t)blockIdx.x / nch;  // bi = b * n_heads + i
  const int64_t b = bi / a.n_heads, i = bi % a.n_heads;
  const int64_t h = __ldg(a.heads + i), kh = h / (a.H / a.Hkv);
  const int64_t r0 = chunk * BR;                 // the block's first row
  const int32_t* const rows = a.rows + b * a.R;  // this batch entry's row list

  gather_rows<Op, D, BR, NT>(sm, a.q, a.in_dt, a.vq, (b * a.Tq * a.H + h) * D, a.H * D, rows, r0, a.R);
  cp_async_commit();
  if (tid < BR) vis[tid] = r0 + tid < a.R ? key_end(a, __ldg(rows + r0 + tid)) : 0;
  cp_async_wait<0>();
  __syncthreads();
  uint32_t qf[D / 16][4];
  load_afrag<D, LDS>(qf, sm, warp * 16, lane);
  int64_t kend = 0, wend = 0, wmin = a.Tk;  // block's and warp's last key + 1, the warp's smallest row end
  for (int r = 0; r < BR; ++r) {
    const int64_t v = vis[r];
    kend = imax(kend, v);
    if (r >> 4 == warp) wend = imax(wend, v), wmin = imin(wmin, v);
  }
  const int64_t lv[2] = {vis[warp * 16 + g], vis[warp * 16 + g + 8]};  // this lane's two rows
  __syncthreads();  // the Q staging area becomes the K buffers
  const int ntiles = (int)((kend + BN - 1) / BN);

  // This lane's rows: r0 + 16 warp + g + 8 rh, rh = 0, 1 (accumulator elements 2 rh, 2 rh + 1).
  int64_t row[2];
  const float* pt[2];
  bool row_ok[2];
#pragma unroll
  for (int rh = 0; rh < 2; ++rh) {
    row[rh] = r0 + warp * 16 + g + 8 * rh;
    row_ok[rh] = row[rh] < a.R;
    pt[rh] = a.teacher + (bi * a.R + (row_ok[rh] ? row[rh] : 0)) * a.Tk;
  }

  const int64_t kv_base = (b * a.Tk * a.Hkv + kh) * D, kv_stride = a.Hkv * D;
  auto load_k = [&](int it, int buf) {
    const int64_t j0 = (int64_t)it * BN;
    load_rows<Op, D, BN, NT>(sm + buf * C::TILE, a.k, a.in_dt, a.vk, kv_base, kv_stride, j0, a.Tk);
    if (tid < BN) sts_f32(bias0 + buf * BN + tid, key_on(a.mask, b, a.Tk, j0 + tid) ? 0.f : -INFINITY);
  };
  // g rows of this lane (backward): two packed columns per n at row[rh], columns j0 + 8 n + 2 tg.
  auto store_g = [&](int64_t j0, const float (&v)[BN / 8][4]) {
#pragma unroll
    for (int rh = 0; rh < 2; ++rh) {
      if (!row_ok[rh]) continue;
      uint16_t* dst = a.g + (bi * a.R + row[rh]) * a.Tkp + j0 + 2 * tg;
#pragma unroll
      for (int n = 0; n < BN / 8; ++n)
        *reinterpret_cast<uint32_t*>(dst + n * 8) = pack2<Op>(v[n][2 * rh], v[n][2 * rh + 1]);
    }
  };

  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, mass[2] = {0.f, 0.f}, lse2[2];
  // Forward, per row: sum pt ln pt, sum pt x (x = s c2: log2 units) and the mass, over visible keys with pt > 0.
  double kla[2] = {0.0, 0.0}, klb[2] = {0.0, 0.0}, klm[2] = {0.0, 0.0};
  constexpr int NACC = BWD ? D / 8 : 1;  // dq_sel accumulators (backward only)
  float acc[NACC][4];
#pragma unroll
  for (int n = 0; n < NACC; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;

  // Forward: one pass, as KL = sum pt (ln pt - (x - lse2) ln 2) = sum pt ln pt - ln 2 (sum pt x - mass lse2) needs the
  // lse only at the end. Backward: pass 2 needs p (the lse) for every key.
  for (int pass = 0; pass < (BWD ? 2 : 1); ++pass) {
    if (ntiles > 0) load_k(0, 0);
    cp_async_commit();
    for (int it = 0; it < ntiles; ++it) {
      const int buf = it & 1;
      cp_async_wait<0>();
      __syncthreads();  // tile `it` visible; every warp is done with tile it - 1, whose buffer is refilled below
      if (it + 1 < ntiles) load_k(it + 1, buf ^ 1);
      cp_async_commit();
      const int64_t j0 = (int64_t)it * BN;
      float s[BN / 8][4];
      if (j0 >= wend) {  // warp-uniform: no row of this warp sees the tile
        if constexpr (BWD) {
          if (pass == 1) {
#pragma unroll
            for (int n = 0; n < BN / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
            store_g(j0, s);
          }
        }
        continue;
      }
      const uint16_t* ks = sm + buf * C::TILE;
      const float* bias = bias0 + buf * BN;
      mma_abt<Op, D, BN / 8, LDS>(s, qf, ks, lane);
      const bool need_mask = a.mask != nullptr || j0 + BN > wmin;
      if (pass == 0) {
#pragma unroll
        for (int rh = 0; rh < 2; ++rh) {
          float mx = -INFINITY;
#pragma unroll
          for (int n = 0; n < BN / 8; ++n)
#pragma unroll
            for (int e = 2 * rh; e < 2 * rh + 2; ++e) {
              const int c = n * 8 + 2 * tg + (e & 1);
              const bool on = !need_mask || (lds_f32(bias + c) == 0.f && j0 + c < lv[rh]);
              s[n][e] = on ? s[n][e] * a.c2 : -INFINITY;
              if (on) {
                const float t = __ldg(pt[rh] + j0 + c);
                if constexpr (BWD) {
                  mass[rh] += t;
                } else if (t >= FLT_MIN) {
                  // pt > 0 of the reference, less the subnormals: --use_fast_math flushes them to 0 in __logf (ln 0 =
                  // -inf would make the row's sum -inf or NaN); their terms are below 1e-36 each.
                  kla[rh] += (double)t * (double)__logf(t);
                  klb[rh] += (double)t * (double)s[n][e];
                  klm[rh] += (double)t;
                }
              }
              mx = fmaxf(mx, s[n][e]);
            }
          mx = fmaxf(mx, shfl_xor(mx, 1));
          mx = fmaxf(mx, shfl_xor(mx, 2));
          const float mnew = fmaxf(m[rh], mx);
          const float mu = mnew == -INFINITY ? 0.f : mnew;  // all keys so far off: p = 0, no NaN
          float sum = 0.f;
#pragma unroll
          for (int n = 0; n < BN / 8; ++n) sum += exp2f(s[n][2 * rh] - mu) + exp2f(s[n][2 * rh + 1] - mu);
          l[rh] = l[rh] * exp2f(m[rh] - mu) + sum;
          m[rh] = mnew;
        }
        continue;
      }
      if constexpr (BWD) {  // pass 2: g = p * mass - pt on the visible keys
#pragma unroll
        for (int n = 0; n < BN / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int rh = e >> 1, c = n * 8 + 2 * tg + (e & 1);
            const bool on = !need_mask || (lds_f32(bias + c) == 0.f && j0 + c < lv[rh]);
            const float t = on ? __ldg(pt[rh] + j0 + c) : 0.f;
            s[n][e] = on ? exp2f(s[n][e] * a.c2 - lse2[rh]) * mass[rh] - t : 0.f;
          }
        store_g(j0, s);
        mma_pv<Op, D, BN / 16, LDS>(acc, s, ks, lane);  // dq_sel += g K
      }
    }
    if (pass == 0) {
#pragma unroll
      for (int rh = 0; rh < 2; ++rh) {
        l[rh] += shfl_xor(l[rh], 1);
        l[rh] += shfl_xor(l[rh], 2);
        mass[rh] += shfl_xor(mass[rh], 1);
        mass[rh] += shfl_xor(mass[rh], 2);
        lse2[rh] = l[rh] > 0.f ? m[rh] + log2f(l[rh]) : INFINITY;  // +inf: no visible key, p = 0 everywhere
      }
    }
    __syncthreads();  // every warp is done with the K buffers before the next pass refills them
  }

  if constexpr (!BWD) {
#pragma unroll
    for (int rh = 0; rh < 2; ++rh) {
      for (int o = 1; o <= 2; o <<= 1) {
        kla[rh] += shfl_xor_d(kla[rh], o);
        klb[rh] += shfl_xor_d(klb[rh], o);
        klm[rh] += shfl_xor_d(klm[rh], o);
      }
      // No visible key (lse2 = +inf): nothing accumulated, no term.
      const double kl = l[rh] > 0.f ? kla[rh] - (double)kLn2 * (klb[rh] - klm[rh] * (double)lse2[rh]) : 0.0;
      if (tg == 0 && row_ok[rh]) a.kl[bi * a.R + row[rh]] = kl;
    }
  } else {
    // Columns past the block's last visible key: g = 0.
    const int64_t z0 = (int64_t)ntiles * BN, zc = (a.Tkp - z0) / 8;
    for (int64_t c = tid; c < BR * zc; c += NT) {
      const int64_t rr = r0 + c / zc;
      if (rr < a.R) *reinterpret_cast<uint4*>(a.g + (bi * a.R + rr) * a.Tkp + z0 + (c % zc) * 8) = make_uint4(0u, 0u, 0u, 0u);
    }
    const float cs = __ldg(a.gy) * a.factor * a.scale;
#pragma unroll
    for (int rh = 0; rh < 2; ++rh) {
      if (!row_ok[rh]) continue;
      float* dst = a.dq_sel + (bi * a.R + row[rh]) * D + 2 * tg;
#pragma unroll
      for (int n = 0; n < NACC; ++n) {
        dst[n * 8] = acc[n][2 * rh] * cs;
        dst[n * 8 + 1] = acc[n][2 * rh + 1] * cs;
      }
    }
  }
}

// dq[b, rows[b, r], heads[i], d] += dq_sel[(b, i, r), d] in a fixed order: one thread per (b, i, d) whose head heads[i]
// has no earlier occurrence walks every occurrence i2 >= i of that head, rows in order, so duplicates of a head or a
// row add up sequentially (each add rounded to the gradient dtype, as one read-modify-write after another would).
// Eight rows at a time: their dq values are loaded together, a duplicate within the eight takes the earlier one's sum.
__device__ __forceinline__ float ld_f(const void* p, int64_t i, int dt) {  // plain load: dq is written here too
  if (dt == (int)DType::F32) return static_cast<const float*>(p)[i];
  const unsigned short u = static_cast<const unsigned short*>(p)[i];
  return dt == (int)DType::BF16 ? __bfloat162float(__ushort_as_bfloat16(u)) : __half2float(__ushort_as_half(u));
}
__device__ __forceinline__ float round_to(float v, int dt) {
  if (dt == (int)DType::BF16) return __bfloat162float(to_bf16(v));
  if (dt == (int)DType::F16) return __half2float(to_f16(v));
  return v;
}
__global__ void __launch_bounds__(256) distill_dq_scatter_kernel(DistArgs a, int64_t D) {
  constexpr int U = 8;
  const int64_t x = (int64_t)blockIdx.x * 256 + threadIdx.x;
  if (x >= a.B * a.n_heads * D) return;
  const int64_t d = x % D, i = (x / D) % a.n_heads, b = x / (D * a.n_heads);
  const int32_t h = __ldg(a.heads + i);
  for (int64_t j = 0; j < i; ++j)
    if (__ldg(a.heads + j) == h) return;  // that occurrence's thread adds this one's rows
  const int32_t* rw = a.rows + b * a.R;
  const int64_t base = (b * a.Tq * a.H + h) * D + d, stride = a.H * D;
  for (int64_t i2 = i; i2 < a.n_heads; ++i2) {
    if (__ldg(a.heads + i2) != h) continue;
    const float* sel = a.dq_sel + (b * a.n_heads + i2) * a.R * D + d;
    for (int64_t r0 = 0; r0 < a.R; r0 += U) {
      int64_t t[U];
      float cur[U], add[U];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const bool ok = r0 + u < a.R;
        t[u] = ok ? (int64_t)__ldg(rw + r0 + u) : -1;
        cur[u] = ok ? ld_f(a.dq, base + t[u] * stride, a.grad_dt) : 0.f;
        add[u] = ok ? __ldg(sel + (r0 + u) * D) : 0.f;
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        float v = cur[u];
#pragma unroll
        for (int w = 0; w < u; ++w)
          if (t[w] == t[u]) v = cur[w];  // already the sum through row w (the latest such w wins)
        cur[u] = round_to(v + add[u], a.grad_dt);
      }
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (t[u] >= 0) stg_f(a.dq, base + t[u] * stride, cur[u], a.grad_dt);
    }
  }
}

template <class Op, int D>
__global__ void __launch_bounds__(DistDkCfg<D>::NT) distill_dk_tc_kernel(DistArgs a) {
  using C = DistDkCfg<D>;
  constexpr int LDS = C::LDS, LDG = C::LDG, BN = C::BN, BM = C::BM, NT = C::NT;
  uint16_t* const sm = reinterpret_cast<uint16_t*>(dyn_smem());
  const int tid = (int)threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tg = lane & 3;
  const int64_t nkt = (a.Tk + BN - 1) / BN;
  const int64_t kt = (int64_t)blockIdx.x % nkt, bk = (int64_t)blockIdx.x / nkt;
  const int64_t b = bk / a.Hkv, kh = bk % a.Hkv, group = a.H / a.Hkv;
  const int64_t j0 = kt * BN, nch = (a.R + BM - 1) / BM;

  auto next_head = [&](int64_t i) {  // the first distilled head >= i that uses kv head kh (n_heads: none)
    while (i < a.n_heads && __ldg(a.heads + i) / group != kh) ++i;
    return i;
  };
  // Rows [c BM, c BM + BM) of head occurrence i: their g columns [j0, j0 + BN) and their q rows (zeros past R).
  auto stage = [&](int64_t i, int64_t c, int buf) {
    uint16_t* gs = sm + buf * (C::GT + C::QT);
    const int64_t first = (b * a.n_heads + i) * a.R + c * BM;
#pragma unroll
    for (int e0 = 0; e0 < BM * BN / 8; e0 += NT) {
      const int e = e0 + tid, r = e / (BN / 8), col = (e % (BN / 8)) * 8;
      const bool ok = c * BM + r < a.R;
      const uint16_t* p = a.g + (first + r) * a.Tkp + j0 + col;  // Tkp: whole key tiles, 16-byte aligned rows
      cp_async16(gs + r * LDG + col, ok ? static_cast<const void*>(p) : a.g, ok);
    }
    const int64_t h = __ldg(a.heads + i);
    gather_rows<Op, D, BM, NT>(gs + C::GT, a.q, a.in_dt, a.vq, (b * a.Tq * a.H + h) * D, a.H * D, a.rows + b * a.R,
                               c * BM, a.R);
  };

  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  int64_t ci = nch > 0 ? next_head(0) : a.n_heads, cc = 0;
  if (ci < a.n_heads) stage(ci, 0, 0);
  cp_async_commit();
  const int64_t wk0 = j0 + warp * 16;  // this warp's first key
  for (int buf = 0; ci < a.n_heads; buf ^= 1) {
    cp_async_wait<0>();
    __syncthreads();  // chunk in `buf` visible; every warp is done with the other buffer, refilled below
    int64_t ni = ci, nc = cc + 1;
    if (nc == nch) nc = 0, ni = next_head(ci + 1);
    if (ni < a.n_heads) stage(ni, nc, buf ^ 1);
    cp_async_commit();
    ci = ni;
    cc = nc;
    if (wk0 >= a.Tk) continue;  // warp-uniform: no key of this warp
    const uint16_t* gs = sm + buf * (C::GT + C::QT);
    const uint16_t* qs = gs + C::GT;
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      // A = g^T (16 keys x 16 rows): the g tile holds rows x keys, so its 8 x 8 blocks load transposed, in the order
      // (keys 0-7, rows 0-7), (keys 8-15, rows 0-7), (keys 0-7, rows 8-15), (keys 8-15, rows 8-15).
      uint32_t af[4];
      ldsm_x4_t(af, gs + (kk * 16 + (lane >> 4) * 8 + (lane & 7)) * LDG + warp * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t r[4];
        ldsm_x4_t(r, qs + (kk * 16 + (lane & 15)) * LDS + dp * 16 + (lane >> 4) * 8);
        mma16816<Op>(acc[2 * dp], af, r[0], r[1]);
        mma16816<Op>(acc[2 * dp + 1], af, r[2], r[3]);
      }
    }
  }

  const float cs = __ldg(a.gy) * a.factor * a.scale;
#pragma unroll
  for (int rh = 0; rh < 2; ++rh) {
    const int64_t key = wk0 + g + 8 * rh;
    if (key >= a.Tk) continue;
    const int64_t base = ((b * a.Tk + key) * a.Hkv + kh) * D + 2 * tg;
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      stg_f(a.dk, base + n * 8, acc[n][2 * rh] * cs, a.grad_dt);
      stg_f(a.dk, base + n * 8 + 1, acc[n][2 * rh + 1] * cs, a.grad_dt);
    }
  }
}

// out[0] = factor * the sum of the n row terms: per thread in index order, then a fixed tree over the block.
__global__ void __launch_bounds__(256) distill_sum_tc_kernel(const double* kl, int64_t n, double factor, float* out) {
  __shared__ double part[256];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += 256) acc += kl[i];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = (float)(part[0] * factor);
}

// ---- host -------------------------------------------------------------------------------------------------------
std::string shape_str(const AttnShape& s) {
  return "B=" + std::to_string(s.B) + " Tq=" + std::to_string(s.Tq) + " Tk=" + std::to_string(s.Tk) +
         " H=" + std::to_string(s.H) + " Hkv=" + std::to_string(s.Hkv) + " D=" + std::to_string(s.D) +
         (s.causal ? " causal" : "");
}

void check_common(const char* op, int device, const AttnShape& s, DType in_dtype) {
  if (!attention_tc_supported(s))
    throw Error(std::string(op) + ": the tensor-core kernels take head dims 16, 32, 64 or 128 with H a multiple of "
                "Hkv and non-negative sizes (" + shape_str(s) + ")");
  if (!is_float(in_dtype))
    throw Error(std::string(op) + ": the tensor-core kernels take bfloat16, float16 or float32 inputs, not " +
                dtype_name(in_dtype) + " (" + shape_str(s) + ")");
  int major = 0;
  check_call(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), op, "device attribute");
  if (major < 8)
    throw Error(std::string(op) + ": the tensor-core kernels need compute capability 8.0 or newer, cuda:" +
                std::to_string(device) + " has " + std::to_string(major) + ".x (" + shape_str(s) + ")");
}
void check_float_dtype(const char* op, const char* what, DType d, const AttnShape& s) {
  if (!is_float(d))
    throw Error(std::string(op) + ": " + what + " must be float32, bfloat16 or float16, not " + dtype_name(d) + " (" +
                shape_str(s) + ")");
}
unsigned grid_1d(const char* op, int64_t blocks, const AttnShape& s) {
  if (blocks > 0x7fffffffLL) throw Error(std::string(op) + ": too many blocks for one launch (" + shape_str(s) + ")");
  return (unsigned)blocks;
}

template <class K>
void set_smem(K kernel, size_t bytes, const char* op) {
  check_call(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), op,
             "shared memory size");
}

// Launch failures name the op, the kernel and the shape.
template <class Op, int D>
void launch_fwd(const FwdArgs& a, const AttnShape& s) {
  using C = FwdCfg<D>;
  const std::string where = "attention (tensor cores, " + shape_str(s) + ")";
  set_smem(fwd_tc_kernel<Op, D>, C::SMEM, where.c_str());
  fwd_tc_kernel<Op, D><<<grid_1d("attention", fwd_blocks(a, C::BQ), s), C::NT, C::SMEM, SEEKR_STREAM>>>(a);
  check_launch(where.c_str());
}

template <class Op, int D>
void launch_bwd(const BwdArgs& a, const AttnShape& s) {
  const char* op = "attentionBackward";
  const std::string shape = shape_str(s);
  if (a.Tq > 0) {
    di_tc_kernel<D><<<grid_1d(op, di_blocks(a), s), 256, 0, SEEKR_STREAM>>>(a);
    check_launch(("attentionBackward (tensor cores, D_i, " + shape + ")").c_str());
  }
  if (a.Tk > 0) {
    using C = DkvCfg<D>;
    const std::string where = "attentionBackward (tensor cores, dK / dV, " + shape + ")";
    set_smem(dkv_tc_kernel<Op, D>, C::SMEM, where.c_str());
    dkv_tc_kernel<Op, D><<<grid_1d(op, dkv_blocks(a, C::BN), s), C::NT, C::SMEM, SEEKR_STREAM>>>(a);
    check_launch(where.c_str());
  }
  if (a.Tq > 0) {
    using C = DqCfg<D>;
    const std::string where = "attentionBackward (tensor cores, dQ, " + shape + ")";
    set_smem(dq_tc_kernel<Op, D>, C::SMEM, where.c_str());
    dq_tc_kernel<Op, D><<<grid_1d(op, dq_blocks(a, C::BQ), s), C::NT, C::SMEM, SEEKR_STREAM>>>(a);
    check_launch(where.c_str());
  }
}

template <class Op>
void dispatch_fwd(const FwdArgs& a, const AttnShape& s) {
  switch (s.D) {
    case 16: launch_fwd<Op, 16>(a, s); break;
    case 32: launch_fwd<Op, 32>(a, s); break;
    case 64: launch_fwd<Op, 64>(a, s); break;
    default: launch_fwd<Op, 128>(a, s); break;
  }
}
template <class Op>
void dispatch_bwd(const BwdArgs& a, const AttnShape& s) {
  switch (s.D) {
    case 16: launch_bwd<Op, 16>(a, s); break;
    case 32: launch_bwd<Op, 32>(a, s); break;
    case 64: launch_bwd<Op, 64>(a, s); break;
    default: launch_bwd<Op, 128>(a, s); break;
  }
}

DistArgs distill_args(const AttnShape& s, DType in_dtype, const void* q, const void* k, const float* key_mask,
                      const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows, const float* teacher) {
  DistArgs a{};
  a.B = s.B; a.Tq = s.Tq; a.Tk = s.Tk; a.H = s.H; a.Hkv = s.Hkv;
  a.n_heads = n_heads; a.R = n_rows;
  a.Tkp = (s.Tk + 63) / 64 * 64;
  a.causal = s.causal;
  a.scale = s.scale;
  a.c2 = s.scale * kLog2e;
  a.q = q; a.k = k;
  a.in_dt = (int)in_dtype;
  a.vq = aligned16(q); a.vk = aligned16(k);
  a.mask = key_mask;
  a.heads = heads; a.rows = rows;
  a.teacher = teacher;
  return a;
}
void check_distill(const char* op, int device, const AttnShape& s, DType in_dtype) {
  check_common(op, device, s, in_dtype);
  if (!is_half(in_dtype))
    throw Error(std::string(op) + ": the tensor-core distillation takes bfloat16 or float16 q and k, not " +
                dtype_name(in_dtype) + " (" + shape_str(s) + ")");
}

template <class Op, int D>
void launch_distill_fwd(const DistArgs& a, const AttnShape& s) {
  using C = DistCfg<D>;
  const std::string where = "attentionDistill (tensor cores, rows, " + shape_str(s) + ")";
  const int64_t blocks = a.B * a.n_heads * ((a.R + C::BR - 1) / C::BR);
  set_smem(distill_rows_tc_kernel<Op, D, false>, C::SMEM, where.c_str());
  distill_rows_tc_kernel<Op, D, false><<<grid_1d("attentionDistill", blocks, s), C::NT, C::SMEM, SEEKR_STREAM>>>(a);
  check_launch(where.c_str());
}
template <class Op, int D>
void launch_distill_bwd(const DistArgs& a, const AttnShape& s) {
  const char* op = "attentionDistillBackward";
  const std::string shape = shape_str(s);
  {
    using C = DistCfg<D>;
    const std::string where = "attentionDistillBackward (tensor cores, rows, " + shape + ")";
    const int64_t blocks = a.B * a.n_heads * ((a.R + C::BR - 1) / C::BR);
    set_smem(distill_rows_tc_kernel<Op, D, true>, C::SMEM, where.c_str());
    distill_rows_tc_kernel<Op, D, true><<<grid_1d(op, blocks, s), C::NT, C::SMEM, SEEKR_STREAM>>>(a);
    check_launch(where.c_str());
  }
  {
    const int64_t threads = a.B * a.n_heads * D;
    distill_dq_scatter_kernel<<<grid_1d(op, (threads + 255) / 256, s), 256, 0, SEEKR_STREAM>>>(a, (int64_t)D);
    check_launch(("attentionDistillBackward (tensor cores, dQ scatter, " + shape + ")").c_str());
  }
  {
    using C = DistDkCfg<D>;
    const std::string where = "attentionDistillBackward (tensor cores, dK, " + shape + ")";
    const int64_t blocks = a.B * a.Hkv * ((a.Tk + C::BN - 1) / C::BN);
    set_smem(distill_dk_tc_kernel<Op, D>, C::SMEM, where.c_str());
    distill_dk_tc_kernel<Op, D><<<grid_1d(op, blocks, s), C::NT, C::SMEM, SEEKR_STREAM>>>(a);
    check_launch(where.c_str());
  }
}
template <class Op>
void dispatch_distill(const DistArgs& a, const AttnShape& s, bool bwd) {
  switch (s.D) {
    case 16: bwd ? launch_distill_bwd<Op, 16>(a, s) : launch_distill_fwd<Op, 16>(a, s); break;
    case 32: bwd ? launch_distill_bwd<Op, 32>(a, s) : launch_distill_fwd<Op, 32>(a, s); break;
    case 64: bwd ? launch_distill_bwd<Op, 64>(a, s) : launch_distill_fwd<Op, 64>(a, s); break;
    default: bwd ? launch_distill_bwd<Op, 128>(a, s) : launch_distill_fwd<Op, 128>(a, s); break;
  }
}

}  // namespace

bool attention_tc_supported(const AttnShape& s) {
  const bool dim_ok = s.D == 16 || s.D == 32 || s.D == 64 || s.D == 128;
  return dim_ok && s.B >= 0 && s.Tq >= 0 && s.Tk >= 0 && s.Hkv > 0 && s.H > 0 && s.H % s.Hkv == 0;
}

void attention_forward_tc(int device, const AttnShape& s, DType in_dtype, const void* q, const void* k, const void* v,
                          DType out_dtype, void* out, float* lse, const float* key_mask) {
  const char* op = "attention";
  use_device(device);
  check_common(op, device, s, in_dtype);
  check_float_dtype(op, "the output", out_dtype, s);
  if (s.B == 0 || s.Tq == 0) return;
  FwdArgs a;
  a.B = s.B; a.Tq = s.Tq; a.Tk = s.Tk; a.H = s.H; a.Hkv = s.Hkv;
  a.causal = s.causal;
  a.c2 = s.scale * kLog2e;
  a.q = q; a.k = k; a.v = v;
  a.in_dt = (int)in_dtype;
  a.vq = aligned16(q); a.vk = aligned16(k); a.vv = aligned16(v);
  a.out = out;
  a.out_dt = (int)out_dtype;
  a.lse = lse;
  a.mask = key_mask;
  if (in_dtype == DType::F16) dispatch_fwd<OpF16>(a, s);
  else dispatch_fwd<OpBF16>(a, s);
}

void attention_backward_tc(int device, const AttnShape& s, DType in_dtype, const void* q, const void* k,
                           const void* v, const void* out, DType out_dtype, const float* lse, const void* dout,
                           DType dout_dtype, DType grad_dtype, void* dq, void* dk, void* dv, const float* key_mask) {
  const char* op = "attentionBackward";
  use_device(device);
  check_common(op, device, s, in_dtype);
  check_float_dtype(op, "out", out_dtype, s);
  check_float_dtype(op, "dout", dout_dtype, s);
  check_float_dtype(op, "the gradients", grad_dtype, s);
  if (s.B == 0) return;
  const int64_t rows = s.B * s.H * s.Tq;
  Scratch di(device, (size_t)rows * sizeof(float));
  BwdArgs a;
  a.B = s.B; a.Tq = s.Tq; a.Tk = s.Tk; a.H = s.H; a.Hkv = s.Hkv;
  a.causal = s.causal;
  a.scale = s.scale;
  a.c2 = s.scale * kLog2e;
  a.q = q; a.k = k; a.v = v; a.dout = dout;
  a.in_dt = (int)in_dtype;
  a.dout_dt = (int)dout_dtype;
  a.vq = aligned16(q); a.vk = aligned16(k); a.vv = aligned16(v); a.vdo = aligned16(dout);
  a.out = out;
  a.out_dt = (int)out_dtype;
  a.lse = lse;
  a.di = di.as<float>();
  a.dq = dq; a.dk = dk; a.dv = dv;
  a.grad_dt = (int)grad_dtype;
  a.mask = key_mask;
  if (in_dtype == DType::F16) dispatch_bwd<OpF16>(a, s);
  else dispatch_bwd<OpBF16>(a, s);
}

void attention_distill_forward_tc(int device, const AttnShape& s, DType in_dtype, const void* q, const void* k,
                                  const float* key_mask, const int32_t* heads, int64_t n_heads, const int32_t* rows,
                                  int64_t n_rows, const float* teacher, double factor, float* out) {
  const char* op = "attentionDistill";
  use_device(device);
  check_distill(op, device, s, in_dtype);
  const int64_t n = s.B * n_heads * n_rows;
  if (n == 0 || s.Tk == 0) {  // no row sees a key: the loss is 0
    check_call(cudaMemsetAsync(out, 0, sizeof(float), SEEKR_STREAM), op, "zero the loss");
    return;
  }
  // Scratch from the caching allocator: freed after the launches, reused in stream order.
  Scratch kl(device, (size_t)n * sizeof(double));
  DistArgs a = distill_args(s, in_dtype, q, k, key_mask, heads, n_heads, rows, n_rows, teacher);
  a.kl = kl.as<double>();
  if (in_dtype == DType::F16) dispatch_distill<OpF16>(a, s, false);
  else dispatch_distill<OpBF16>(a, s, false);
  distill_sum_tc_kernel<<<1, 256, 0, SEEKR_STREAM>>>(a.kl, n, factor, out);
  check_launch(("attentionDistill (tensor cores, sum, " + shape_str(s) + ")").c_str());
}

void attention_distill_backward_tc(int device, const AttnShape& s, DType in_dtype, const void* q, const void* k,
                                   const float* key_mask, const int32_t* heads, int64_t n_heads, const int32_t* rows,
                                   int64_t n_rows, const float* teacher, const float* gy, float factor,
                                   DType grad_dtype, void* dq, void* dk, size_t scratch_bytes) {
  const char* op = "attentionDistillBackward";
  use_device(device);
  check_distill(op, device, s, in_dtype);
  check_float_dtype(op, "the gradients", grad_dtype, s);
  const size_t es = dtype_size(grad_dtype);
  // dq: only the distilled rows get a contribution (the scatter adds into zeros); dk: every key is written below.
  check_call(cudaMemsetAsync(dq, 0, (size_t)(s.B * s.Tq * s.H * s.D) * es, SEEKR_STREAM), op, "zero dq");
  const int64_t n = s.B * n_heads * n_rows;
  if (n == 0 || s.Tk == 0) {
    check_call(cudaMemsetAsync(dk, 0, (size_t)(s.B * s.Tk * s.Hkv * s.D) * es, SEEKR_STREAM), op, "zero dk");
    return;
  }
  DistArgs a = distill_args(s, in_dtype, q, k, key_mask, heads, n_heads, rows, n_rows, teacher);
  // Scratch per batch entry: its g rows (operand type, Tkp columns) and dq_sel rows (float32). Every kernel works per
  // batch entry, so the entries go in groups whose scratch fits scratch_bytes (one entry at least).
  const int64_t per_b = n_heads * n_rows * (a.Tkp * 2 + s.D * (int64_t)sizeof(float));
  const int64_t nb = std::max<int64_t>(1, std::min<int64_t>(s.B, (int64_t)(scratch_bytes / (size_t)per_b)));
  Scratch g(device, (size_t)(nb * n_heads * n_rows * a.Tkp) * 2);
  Scratch sel(device, (size_t)(nb * n_heads * n_rows * s.D) * sizeof(float));
  a.gy = gy;
  a.factor = factor;
  a.g = g.as<uint16_t>();
  a.dq_sel = sel.as<float>();
  a.grad_dt = (int)grad_dtype;
  for (int64_t b0 = 0; b0 < s.B; b0 += nb) {
    DistArgs c = a;
    c.B = std::min<int64_t>(nb, s.B - b0);
    c.q = static_cast<const uint16_t*>(q) + b0 * s.Tq * s.H * s.D;
    c.k = static_cast<const uint16_t*>(k) + b0 * s.Tk * s.Hkv * s.D;
    c.vq = aligned16(c.q);
    c.vk = aligned16(c.k);
    c.mask = key_mask ? key_mask + b0 * s.Tk : nullptr;
    c.rows = rows + b0 * n_rows;
    c.teacher = teacher + b0 * n_heads * n_rows * s.Tk;
    c.dq = static_cast<char*>(dq) + (size_t)(b0 * s.Tq * s.H * s.D) * es;
    c.dk = static_cast<char*>(dk) + (size_t)(b0 * s.Tk * s.Hkv * s.D) * es;
    if (in_dtype == DType::F16) dispatch_distill<OpF16>(c, s, true);
    else dispatch_distill<OpBF16>(c, s, true);
  }
}

}  // namespace cuda
}  // namespace seekr
