// Checks the emulator itself (selftest.cu's kernels) against what CUDA documents: shuffle sources per lane and width,
// barriers, fresh shared memory per block, 2-D indices, partial warps, atomics, ex2; and the tensor-core PTX against the
// PTX ISA's layouts (ldmatrix registers against a direct read of the shared tile, mma against a plain matmul on small
// integers, exact in bf16 / f16 and in any summation order, so bit for bit), ldmatrix + mma as attention_tc.cu combines
// them, cp.async's zero fill. Built and run by run.mjs selftest.
#include <cmath>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "emu.h"

namespace selftest {
void run_shuffles(int* out, double* dout, int threads);
void run_reverse(const float* in, float* out, int blocks, int n);
void run_tree_sum(const float* in, float* out, int blocks, int n);
void run_uneven(int* out, int blocks, int n);
void run_fresh(unsigned* seen, int blocks);
void run_grid2d(int* out, int* counts);
void run_partial(const int* in, int* out);
void run_dynamic(const float* in, float* out, unsigned* seen, int blocks, int n);
void run_atomics(float* f, double* d, int n);
void run_ex2(const float* x, float* y, int n);
void run_ldmatrix(const uint16_t* src, const int* perm, uint32_t* out);
void run_mma(bool bf16, const float* A, const float* B, const float* C, float* D);
void run_ldmatrix_mma(bool bf16, const float* A, const float* B, float* D1, float* D2);
void run_cp_async(const uint16_t* src, const uint16_t* src2, uint16_t* out);
}  // namespace selftest

static int failures = 0;
static void expect(bool ok, const char* what, long long at, double got, double want) {
  if (ok) return;
  if (failures++ < 20) printf("FAIL %s at %lld: %.17g, expected %.17g\n", what, at, got, want);
}

int main() {
  using namespace selftest;
  {  // shuffles: lane l of warp w holds 100 w + l
    const int T = 64;
    std::vector<int> out(T * 12);
    std::vector<double> dout(T);
    run_shuffles(out.data(), dout.data(), T);
    for (int t = 0; t < T; ++t) {
      const int l = t & 31, base = 100 * (t >> 5);
      const auto val = [&](int src) { return base + src; };
      const int* o = &out[t * 12];
      const int want[12] = {
          val(l ^ 1), val(l ^ 16), val(l ^ 4),
          val(l + 3 < 32 ? l + 3 : l),                        // down 3
          val(l % 16 + 3 < 16 ? l + 3 : l),                   // down 3 within 16-lane groups
          val(l >= 5 ? l - 5 : l),                            // up 5
          val(l % 8 >= 2 ? l - 2 : l),                        // up 2 within 8-lane groups
          val(7),                                             // lane 7
          val((l & ~7) | ((l ^ 3) & 7)),                      // lane l ^ 3 of the 8-lane group
          (int)0x49249249u,                                   // ballot(l % 3 == 0)
          32 * base + 496,                                    // the warp's sum
          (t >> 5) == 1 ? 3 : 2,                              // any(lane 31 of warp 1) + 2 all(true)
      };
      for (int k = 0; k < 12; ++k) expect(o[k] == want[k], "shuffle", t * 12 + k, o[k], want[k]);
      expect(dout[t] == 32 * (base + 0.5) + 496, "double xor butterfly", t, dout[t], 32 * (base + 0.5) + 496);
    }
  }
  {  // barriers through shared memory, 1024-thread blocks included
    for (int n : {32, 256, 1024}) {
      const int blocks = 5;
      std::vector<float> in(blocks * n), out(blocks * n), sums(blocks);
      for (int i = 0; i < blocks * n; ++i) in[i] = (float)(i % 97);
      run_reverse(in.data(), out.data(), blocks, n);
      for (int b = 0; b < blocks; ++b)
        for (int t = 0; t < n; ++t) expect(out[b * n + t] == in[b * n + n - 1 - t], "reverse", b * n + t, out[b * n + t], in[b * n + n - 1 - t]);
      run_tree_sum(in.data(), sums.data(), blocks, n);
      for (int b = 0; b < blocks; ++b) {
        double s = 0;
        for (int t = 0; t < n; ++t) s += in[b * n + t];
        expect(sums[b] == s, "tree sum", b, sums[b], s);
      }
      std::vector<int> u(blocks * n);
      run_uneven(u.data(), blocks, n);
      long long want = 0;
      for (int w = 0; w < n / 32; ++w)
        for (int k = 0; k <= w; ++k) want += 496 + 32 * k;
      for (int i = 0; i < blocks * n; ++i) expect(u[i] == want, "uneven warps then a barrier", i, u[i], (double)want);
    }
  }
  {  // fresh shared memory in every block
    std::vector<unsigned> seen(6);
    run_fresh(seen.data(), 6);
    for (int b = 0; b < 6; ++b) expect(seen[b] == 0xffffffffu, "shared memory at block start", b, seen[b], 0xffffffffu);
  }
  {  // 2-D grid (3, 2) of 2-D blocks (16, 4)
    std::vector<int> out(6 * 64), counts(6);
    run_grid2d(out.data(), counts.data());
    for (int by = 0; by < 2; ++by)
      for (int bx = 0; bx < 3; ++bx)
        for (int ty = 0; ty < 4; ++ty)
          for (int tx = 0; tx < 16; ++tx) {
            const int i = (by * 3 + bx) * 64 + ty * 16 + tx, want = (by << 24) | (bx << 16) | (ty << 8) | tx;
            expect(out[i] == want, "2-D indices", i, out[i], want);
          }
    for (int b = 0; b < 6; ++b) expect(counts[b] == 64, "shared atomicAdd count", b, counts[b], 64);
  }
  {  // 48 threads
    std::vector<int> in(48), out(48);
    for (int i = 0; i < 48; ++i) in[i] = 1000 + i;
    run_partial(in.data(), out.data());
    for (int i = 0; i < 48; ++i) expect(out[i] == in[(i + 17) % 48], "partial warp barrier", i, out[i], in[(i + 17) % 48]);
  }
  {  // dynamic shared memory
    const int blocks = 4, n = 96;
    std::vector<float> in(blocks * n), out(blocks * n);
    std::vector<unsigned> seen(blocks);
    for (int i = 0; i < blocks * n; ++i) in[i] = (float)i;
    run_dynamic(in.data(), out.data(), seen.data(), blocks, n);
    for (int b = 0; b < blocks; ++b) {
      expect(seen[b] == 0xffffffffu, "dynamic shared memory at block start", b, seen[b], 0xffffffffu);
      for (int t = 0; t < n; ++t) {
        const float want = in[b * n + (t + 1) % n] + 100.f * (t % 4);
        expect(out[b * n + t] == want, "dynamic shared memory", b * n + t, out[b * n + t], want);
      }
    }
  }
  {  // atomics over 3 blocks
    float f = 0;
    double d = 0;
    run_atomics(&f, &d, 700);
    expect(f == 700.f, "atomicAdd float", 0, f, 700);
    expect(d == 350.0, "atomicAdd double", 0, d, 350);
  }
  {  // ex2.approx.ftz.f32: 2^x, results below 2^-126 flushed to 0, NaN / infinities kept
    const float x[] = {0.f, 1.f, 3.f, -1.f, 0.5f, -126.f, -127.f, -149.f, 128.f, -INFINITY, INFINITY, NAN, 1e-40f};
    const int n = sizeof x / sizeof x[0];
    std::vector<float> y(n);
    run_ex2(x, y.data(), n);
    const float want[] = {1.f, 2.f, 8.f, 0.5f, std::sqrt(2.f), std::ldexp(1.f, -126), 0.f, 0.f, INFINITY, 0.f, INFINITY, NAN, 1.f};
    for (int i = 0; i < n; ++i)
      expect(y[i] == want[i] || (std::isnan(y[i]) && std::isnan(want[i])), "ex2.approx.ftz", i, y[i], want[i]);
  }
  {  // ldmatrix: register i of lane l from matrix i (rows 8 i .. 8 i + 7 at the addresses of lanes 8 i .. 8 i + 7)
    std::vector<uint16_t> src(32 * 8);
    std::vector<int> perm(32);
    for (int i = 0; i < 32 * 8; ++i) src[i] = (uint16_t)(0x100 * (i / 8) + i % 8 + 1);  // row p, column c: 0x100 p + c + 1
    for (int l = 0; l < 32; ++l) perm[l] = (l * 7 + 3) % 32;  // rows in shared memory in another order than the lanes
    std::vector<uint32_t> out(6 * 32 * 4, 0xdeadbeefu);
    run_ldmatrix(src.data(), perm.data(), out.data());
    // element (r, c) of matrix i: shared row perm[8 i + r], column c
    const auto el = [&](int i, int r, int c) { return (uint32_t)src[perm[8 * i + r] * 8 + c]; };
    const int nums[3] = {1, 2, 4};
    for (int v = 0; v < 6; ++v)
      for (int l = 0; l < 32; ++l)
        for (int i = 0; i < nums[v % 3]; ++i) {
          const bool trans = v >= 3;
          // PTX ISA "ldmatrix": lane l holds row l / 4, columns 2 (l % 4), + 1; .trans: column l / 4 of rows 2 (l % 4), + 1
          const uint32_t want = trans ? el(i, 2 * (l % 4), l / 4) | el(i, 2 * (l % 4) + 1, l / 4) << 16
                                      : el(i, l / 4, 2 * (l % 4)) | el(i, l / 4, 2 * (l % 4) + 1) << 16;
          const uint32_t got = out[(v * 32 + l) * 4 + i];
          expect(got == want, trans ? "ldmatrix .trans" : "ldmatrix", (v * 32 + l) * 4 + i, got, want);
        }
  }
  for (bool bf16 : {true, false}) {  // mma.m16n8k16: small integers, exact in the operand type and in float32
    const char* what = bf16 ? "mma bf16" : "mma f16";
    std::vector<float> A(16 * 16), B(16 * 8), C(16 * 8), D(16 * 8, NAN), B2(16 * 16), D1(16 * 16, NAN), D2(16 * 16, NAN);
    for (int i = 0; i < 16 * 16; ++i) A[i] = (float)((i * 37 + 11) % 17 - 8);
    for (int i = 0; i < 16 * 8; ++i) B[i] = (float)((i * 53 + 5) % 15 - 7), C[i] = (float)((i * 29) % 41 - 20) * 0.5f;
    for (int i = 0; i < 16 * 16; ++i) B2[i] = (float)((i * 23 + 7) % 13 - 6);
    run_mma(bf16, A.data(), B.data(), C.data(), D.data());
    for (int r = 0; r < 16; ++r)
      for (int n = 0; n < 8; ++n) {
        float want = C[r * 8 + n];
        for (int k = 0; k < 16; ++k) want += A[r * 16 + k] * B[k * 8 + n];
        expect(std::memcmp(&D[r * 8 + n], &want, 4) == 0, what, r * 8 + n, D[r * 8 + n], want);
      }
    run_ldmatrix_mma(bf16, A.data(), B2.data(), D1.data(), D2.data());
    for (int r = 0; r < 16; ++r)
      for (int n = 0; n < 16; ++n) {
        float want = 0;
        for (int k = 0; k < 16; ++k) want += A[r * 16 + k] * B2[k * 16 + n];
        expect(std::memcmp(&D1[r * 16 + n], &want, 4) == 0, bf16 ? "ldmatrix + mma (B^T) bf16" : "ldmatrix + mma (B^T) f16",
               r * 16 + n, D1[r * 16 + n], want);
        expect(std::memcmp(&D2[r * 16 + n], &want, 4) == 0, bf16 ? "ldmatrix.trans + mma bf16" : "ldmatrix.trans + mma f16",
               r * 16 + n, D2[r * 16 + n], want);
      }
  }
  {  // cp.async: src-size 16, 8, 4, 0 by lane % 4, the rest of the 16 bytes zero; cp.async.ca of 8 bytes
    std::vector<uint16_t> src(32 * 8), src2(32 * 4), out(32 * 16, 0xbeef);
    for (int i = 0; i < 32 * 8; ++i) src[i] = (uint16_t)(i + 1);
    for (int i = 0; i < 32 * 4; ++i) src2[i] = (uint16_t)(0x8000 + i);
    run_cp_async(src.data(), src2.data(), out.data());
    for (int l = 0; l < 32; ++l) {
      const int o = (l + 1) % 32, bytes = o % 4 == 3 ? 0 : 16 >> (o % 4);
      for (int c = 0; c < 8; ++c) {
        const uint16_t want = 2 * c < bytes ? src[o * 8 + c] : 0;
        expect(out[16 * l + c] == want, "cp.async.cg zero fill", 16 * l + c, out[16 * l + c], want);
      }
      for (int c = 0; c < 4; ++c) expect(out[16 * l + 8 + c] == src2[o * 4 + c], "cp.async.ca", 16 * l + 8 + c, out[16 * l + 8 + c], src2[o * 4 + c]);
    }
  }
  printf("selftest: shuffles (xor / down / up / idx, widths, ballot / any / all, double), barriers (reverse, tree sum, "
         "uneven warps; 32 / 256 / 1024 threads), fresh static and dynamic shared memory, 2-D grid and block, partial warp, atomics, ex2, ldmatrix (x1 / x2 / x4, .trans), mma.m16n8k16 (bf16, f16; alone and fed by ldmatrix), cp.async: "
         "%d launches, %llu blocks, %llu warp syncs, %llu __syncthreads\n",
         emu::launches, (unsigned long long)emu::stats.blocks, (unsigned long long)emu::stats.warp_syncs,
         (unsigned long long)emu::stats.block_syncs);
  printf("%s (%d failures)\n", failures ? "FAILED" : "all as CUDA documents", failures);
  return failures ? 1 : 0;
}
