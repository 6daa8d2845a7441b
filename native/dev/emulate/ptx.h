// The inline PTX of the kernel files, on the host (prelude.h includes this; run.mjs rewrites each asm statement into a
// call of emu_ptx_<instruction, dots as underscores>(operands in PTX order), outputs as lvalues). Layouts as the PTX ISA
// documents them (docs.nvidia.com/cuda/parallel-thread-execution; section numbers move between releases, the anchors
// do not):
// - mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32: "Matrix Fragments for mma.m16n8k16 with floating
//   point type" (#warp-level-matrix-fragment-mma-16816-float; 9.7.14.5.8 in PTX ISA 9.0);
// - ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{.trans}.shared.b16: "Warp-level matrix load instruction: ldmatrix"
//   (#warp-level-matrix-instructions-ldmatrix; 9.7.14.5.15 in 9.0) and its Figure "ldmatrix fragment layout for one
//   8x8 Matrix with 16-bit elements";
// - cp.async.{ca,cg}.shared.global, cp.async.commit_group / wait_group / wait_all: "Data Movement and Conversion
//   Instructions: cp.async" (#data-movement-and-conversion-instructions-cp-async).
// The warp-level ones (mma, ldmatrix) are collectives: every lane publishes its operands, and the last lane of the warp
// to reach the instruction executes it for the whole warp (".sync: the executing thread waits until all threads in the
// warp execute the same instruction"), so its shared-memory reads see every write the warp made before the
// instruction and none made after; then each lane takes the registers the ISA assigns it.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "emu.h"

// ex2.approx.ftz.f32 d, a (prelude.h's emu_ex2_approx_ftz_f32).
inline void emu_ptx_ex2_approx_ftz_f32(float& d, float a) { d = emu_ex2_approx_ftz_f32(a); }

// ---- the shared state space -------------------------------------------------------------------------------------
// A shared-memory address is the offset in the block's shared storage (emu::shared_addr); a generic pointer outside it
// is an error (on the GPU the result is undefined).
inline size_t __cvta_generic_to_shared(const void* p) { return ::emu::shared_addr(p, "__cvta_generic_to_shared"); }

// ---- warp collectives ---------------------------------------------------------------------------------------------
// Lane operands `in` go into the lane's slot of the warp's exchange buffer; the last lane to arrive runs all(slots),
// which reads every lane's operands and overwrites each slot with that lane's results; after the warp sync each lane
// gets its slot back. Lanes of the warp that meet at another warp sync instead (a shuffle) are an error.
template <class In, class F>
inline const unsigned char* emu_collective(const char* what, const In& in, F&& all) {
  static_assert(sizeof(In) <= ::emu::kSlot && std::is_trivially_copyable<In>::value, "collective operands: one slot");
  emu_full_warp(0xffffffffu, what);
  ::emu::Thread* t = ::emu::g_cur;
  ::emu::Warp& w = ::emu::g_warps[t->warp];
  const unsigned p = w.par;
  std::memcpy(w.buf[p][t->lane], &in, sizeof(In));
  if (++w.arrived_at[p] == 32) {
    all(w.buf[p]);
    w.arrived_at[p] = 0;
  }
  ::emu::sync_warp();
  if (w.arrived_at[p] != 0)
    ::emu::fail("%s: %u lanes of warp %u reached it while the others met at another warp sync (divergent warp)", what,
                w.arrived_at[p], t->warp);
  return w.buf[p][t->lane];
}

// ---- ldmatrix.sync.aligned.m8n8.xNUM{.trans}.shared.b16 {r0, ..}, [addr] ------------------------------------------
// Threads 8i .. 8i + 7 give the addresses of rows 0 .. 7 of matrix i (16 bytes each, 16-byte aligned; the other
// threads' addresses are not used). Register i of lane l holds, from matrix i, the pair at row l / 4, columns
// 2 (l % 4) and 2 (l % 4) + 1 (the lower column in the low 16 bits); with .trans the matrix is read column-major: the
// pair at column l / 4 of rows 2 (l % 4) and 2 (l % 4) + 1.
template <int NUM, bool TRANS>
inline void emu_ldmatrix(uint32_t* r, uint32_t addr, const char* what) {
  const unsigned char* got = emu_collective(what, addr, [&](unsigned char (*slot)[::emu::kSlot]) {
    unsigned char rows[8 * NUM][16];
    for (int l = 0; l < 8 * NUM; ++l) {
      uint32_t a;
      std::memcpy(&a, slot[l], 4);
      if (a % 16) ::emu::fail("%s: lane %d's row address %#x is not 16-byte aligned", what, l, a);
      std::memcpy(rows[l], ::emu::shared_ptr(a, 16, what), 16);
    }
    for (int l = 0; l < 32; ++l) {
      uint32_t out[NUM];
      for (int i = 0; i < NUM; ++i) {
        if (!TRANS) {
          std::memcpy(&out[i], rows[8 * i + l / 4] + 4 * (l % 4), 4);
        } else {
          uint16_t lo, hi;
          std::memcpy(&lo, rows[8 * i + 2 * (l % 4)] + 2 * (l / 4), 2);
          std::memcpy(&hi, rows[8 * i + 2 * (l % 4) + 1] + 2 * (l / 4), 2);
          out[i] = (uint32_t)lo | (uint32_t)hi << 16;
        }
      }
      std::memcpy(slot[l], out, sizeof out);
    }
  });
  std::memcpy(r, got, NUM * 4);
}
#define EMU_LDMATRIX(FN, N, TRANS, NAME)                                                                           \
  inline void FN(uint32_t& r0, uint32_t addr) {                                                                    \
    static_assert(N == 1, "");                                                                                     \
    emu_ldmatrix<N, TRANS>(&r0, addr, NAME);                                                                       \
  }
EMU_LDMATRIX(emu_ptx_ldmatrix_sync_aligned_m8n8_x1_shared_b16, 1, false, "ldmatrix.sync.aligned.m8n8.x1.shared.b16")
EMU_LDMATRIX(emu_ptx_ldmatrix_sync_aligned_m8n8_x1_trans_shared_b16, 1, true, "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16")
#undef EMU_LDMATRIX
#define EMU_LDMATRIX(FN, N, TRANS, NAME)                                                                           \
  inline void FN(uint32_t& r0, uint32_t& r1, uint32_t addr) {                                                      \
    uint32_t v[2];                                                                                                 \
    emu_ldmatrix<N, TRANS>(v, addr, NAME);                                                                         \
    r0 = v[0], r1 = v[1];                                                                                          \
  }
EMU_LDMATRIX(emu_ptx_ldmatrix_sync_aligned_m8n8_x2_shared_b16, 2, false, "ldmatrix.sync.aligned.m8n8.x2.shared.b16")
EMU_LDMATRIX(emu_ptx_ldmatrix_sync_aligned_m8n8_x2_trans_shared_b16, 2, true, "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16")
#undef EMU_LDMATRIX
#define EMU_LDMATRIX(FN, N, TRANS, NAME)                                                                           \
  inline void FN(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr) {                          \
    uint32_t v[4];                                                                                                 \
    emu_ldmatrix<N, TRANS>(v, addr, NAME);                                                                         \
    r0 = v[0], r1 = v[1], r2 = v[2], r3 = v[3];                                                                    \
  }
EMU_LDMATRIX(emu_ptx_ldmatrix_sync_aligned_m8n8_x4_shared_b16, 4, false, "ldmatrix.sync.aligned.m8n8.x4.shared.b16")
EMU_LDMATRIX(emu_ptx_ldmatrix_sync_aligned_m8n8_x4_trans_shared_b16, 4, true, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16")
#undef EMU_LDMATRIX

// ---- mma.sync.aligned.m16n8k16.row.col.f32.T.T.f32 {d0..d3}, {a0..a3}, {b0, b1}, {c0..c3} ----------------------------
// groupID g = lane >> 2, threadID_in_group t = lane % 4. A (16 x 16, row): element a_i (i = 0..7, register i / 2, low
// half first) at row g + 8 ((i >> 1) & 1), column 2 t + (i & 1) + 8 (i >= 4). B (16 x 8, col): b_i (i = 0..3) at row
// 2 t + (i & 1) + 8 (i >= 2), column g. C and D (16 x 8, f32): c_i at row g + 8 (i >= 2), column 2 t + (i & 1).
// Arithmetic: each product of two bf16 (8-bit significands) or two f16 (11-bit) values is exact in float32; the
// hardware's order and internal precision for the sum of the 16 products and C are not documented. Emulated as
// d = C, then d = d + a_k b_k for k = 0 .. 15 in order, each add rounded to nearest float32 (no FMA: the products are
// exact, so it is the same as fmaf). A GPU may differ in the last bits of a sum; exact sums (small integers) agree.
struct EmuMmaIn {
  uint32_t a[4], b[2];
  float c[4];
};
inline float emu_b16_to_float(uint16_t h, bool bf16) {
  if (bf16) return __uint_as_float((uint32_t)h << 16);
  __half_raw r;
  r.x = h;
  return __half2float(__half(r));
}
template <bool BF16>
inline void emu_mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, const float (&c)[4],
                             const char* what) {
  EmuMmaIn in;
  std::memcpy(in.a, a, sizeof in.a);
  in.b[0] = b0;
  in.b[1] = b1;
  std::memcpy(in.c, c, sizeof in.c);
  const unsigned char* got = emu_collective(what, in, [](unsigned char (*slot)[::emu::kSlot]) {
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
      EmuMmaIn x;
      std::memcpy(&x, slot[l], sizeof x);
      const int g = l >> 2, t = l % 4;
      for (int i = 0; i < 8; ++i)
        A[g + 8 * ((i >> 1) & 1)][2 * t + (i & 1) + 8 * (i >= 4)] = emu_b16_to_float((uint16_t)(x.a[i / 2] >> (16 * (i & 1))), BF16);
      for (int i = 0; i < 4; ++i)
        B[2 * t + (i & 1) + 8 * (i >= 2)][g] = emu_b16_to_float((uint16_t)(x.b[i / 2] >> (16 * (i & 1))), BF16);
      for (int i = 0; i < 4; ++i) C[g + 8 * (i >= 2)][2 * t + (i & 1)] = x.c[i];
    }
    for (int l = 0; l < 32; ++l) {
      const int g = l >> 2, t = l % 4;
      float out[4];
      for (int i = 0; i < 4; ++i) {
        const int row = g + 8 * (i >= 2), col = 2 * t + (i & 1);
        float acc = C[row][col];
        for (int k = 0; k < 16; ++k) acc = __fadd_rn(acc, A[row][k] * B[k][col]);  // the product is exact
        out[i] = acc;
      }
      std::memcpy(slot[l], out, sizeof out);
    }
  });
  std::memcpy(d, got, sizeof d);
}
inline void emu_ptx_mma_sync_aligned_m16n8k16_row_col_f32_bf16_bf16_f32(float& d0, float& d1, float& d2, float& d3,
                                                                         uint32_t a0, uint32_t a1, uint32_t a2,
                                                                         uint32_t a3, uint32_t b0, uint32_t b1,
                                                                         float c0, float c1, float c2, float c3) {
  float d[4];
  emu_mma_m16n8k16<true>(d, {a0, a1, a2, a3}, b0, b1, {c0, c1, c2, c3}, "mma.m16n8k16.row.col.f32.bf16.bf16.f32");
  d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
}
inline void emu_ptx_mma_sync_aligned_m16n8k16_row_col_f32_f16_f16_f32(float& d0, float& d1, float& d2, float& d3,
                                                                       uint32_t a0, uint32_t a1, uint32_t a2,
                                                                       uint32_t a3, uint32_t b0, uint32_t b1,
                                                                       float c0, float c1, float c2, float c3) {
  float d[4];
  emu_mma_m16n8k16<false>(d, {a0, a1, a2, a3}, b0, b1, {c0, c1, c2, c3}, "mma.m16n8k16.row.col.f32.f16.f16.f32");
  d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
}

// ---- cp.async.{ca,cg}.shared.global [dst], [src], cp-size{, src-size} ----------------------------------------------
// Copies src-size bytes (default cp-size; at most cp-size) from global src to shared dst and fills the rest of the
// cp-size bytes with zeros; src is not read when src-size is 0. Done at once, in the issuing thread: the copy is not
// asynchronous here, so commit_group / wait_group / wait_all are no-ops and a kernel that reads a destination before
// waiting for it (or refills a buffer a copy in flight still targets) is not caught. .cg takes cp-size 16 only; both
// addresses must be aligned to cp-size.
inline void emu_cp_async(const char* what, uint32_t dst, const void* src, int cp_size, int src_size) {
  if (cp_size != 4 && cp_size != 8 && cp_size != 16) ::emu::fail("%s: cp-size %d (4, 8 or 16)", what, cp_size);
  if (src_size < 0 || src_size > cp_size) ::emu::fail("%s: src-size %d, cp-size %d", what, src_size, cp_size);
  if (dst % (unsigned)cp_size || reinterpret_cast<uintptr_t>(src) % (unsigned)cp_size)
    ::emu::fail("%s: shared %#x or global %p not aligned to %d bytes", what, dst, src, cp_size);
  unsigned char* d = static_cast<unsigned char*>(::emu::shared_ptr(dst, (size_t)cp_size, what));
  if (src_size > 0) std::memcpy(d, src, (size_t)src_size);
  std::memset(d + src_size, 0, (size_t)(cp_size - src_size));
}
inline void emu_ptx_cp_async_ca_shared_global(uint32_t dst, const void* src, int cp_size, int src_size) {
  emu_cp_async("cp.async.ca.shared.global", dst, src, cp_size, src_size);
}
inline void emu_ptx_cp_async_ca_shared_global(uint32_t dst, const void* src, int cp_size) {
  emu_cp_async("cp.async.ca.shared.global", dst, src, cp_size, cp_size);
}
inline void emu_ptx_cp_async_cg_shared_global(uint32_t dst, const void* src, int cp_size, int src_size) {
  if (cp_size != 16) ::emu::fail("cp.async.cg.shared.global: cp-size %d (.cg takes 16)", cp_size);
  emu_cp_async("cp.async.cg.shared.global", dst, src, cp_size, src_size);
}
inline void emu_ptx_cp_async_cg_shared_global(uint32_t dst, const void* src, int cp_size) {
  emu_ptx_cp_async_cg_shared_global(dst, src, cp_size, cp_size);
}
inline void emu_ptx_cp_async_commit_group() {}
inline void emu_ptx_cp_async_wait_group(int) {}
inline void emu_ptx_cp_async_wait_all() {}
