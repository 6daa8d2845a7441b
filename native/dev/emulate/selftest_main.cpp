// Checks the emulator itself (selftest.cu's kernels) against what CUDA documents: shuffle sources per lane and width,
// barriers, fresh shared memory per block, 2-D indices, partial warps, atomics, ex2. Built and run by run.mjs selftest.
#include <cmath>
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
  printf("selftest: shuffles (xor / down / up / idx, widths, ballot / any / all, double), barriers (reverse, tree sum, "
         "uneven warps; 32 / 256 / 1024 threads), fresh static and dynamic shared memory, 2-D grid and block, partial warp, atomics, ex2: "
         "%d launches, %llu blocks, %llu warp syncs, %llu __syncthreads\n",
         emu::launches, (unsigned long long)emu::stats.blocks, (unsigned long long)emu::stats.warp_syncs,
         (unsigned long long)emu::stats.block_syncs);
  printf("%s (%d failures)\n", failures ? "FAILED" : "all as CUDA documents", failures);
  return failures ? 1 : 0;
}
