// Host emulation of cuda/optim.cu's AdamW (built and run by run.mjs optim): adamw (float4 and scalar loops) and
// adamw_many (one launch over a table of tensors, chunked by block; the per-tensor fallback for misaligned buffers or a
// buffer listed twice), with and without the parameters' 16-bit copies (bfloat16 / float16 rounded from the updated
// values in the same pass), against cpu::adamw and cpu::convert: the same arithmetic, so bit-exact.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/core.h"
#include "cpu/convert.h"
#include "cpu/optim.h"
#include "cuda/kernels.h"
#include "emu.h"

using namespace seekr;

namespace {
int g_failures = 0;
int64_t g_checked = 0;
std::mt19937_64 rng(42);
std::vector<float> randn(int64_t n, double scale) {
  std::normal_distribution<double> d(0.0, scale);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = (float)d(rng);
  return v;
}
// A float buffer at `off` floats past a 16-byte boundary (0: aligned).
struct FBuf {
  std::vector<float> mem;
  size_t off;
  int64_t n;
  FBuf(const std::vector<float>& v, size_t off_) : mem(v.size() + 8), off(off_), n((int64_t)v.size()) {
    std::memcpy(ptr(), v.data(), v.size() * 4);
  }
  float* ptr() {
    uintptr_t p = reinterpret_cast<uintptr_t>(mem.data());
    p = (p + 15) & ~uintptr_t(15);
    return reinterpret_cast<float*>(p) + off;
  }
};
void same(const std::string& what, const void* a, const void* b, size_t bytes) {
  g_checked += (int64_t)bytes;
  if (std::memcmp(a, b, bytes) != 0) {
    ++g_failures;
    printf("FAIL %s: not bit-identical\n", what.c_str());
  }
}

// ts: sizes of the tensors; mis: float offset of every buffer; dup: list the first tensor twice; copy: the copies' dtype
// (F32: none).
void many_case(const std::vector<int64_t>& sizes, size_t mis, bool dup, DType copy, int64_t step, size_t low_off = 0) {
  const std::string ctx = "sizes " + std::to_string(sizes.size()) + " first " + std::to_string(sizes[0]) + (mis ? " misaligned" : "") +
                          (dup ? " duplicate" : "") + (copy == DType::F32 ? "" : copy == DType::BF16 ? " bf16 copies" : " f16 copies") +
                          " step " + std::to_string(step) + (low_off ? " copies misaligned" : "");
  struct T {
    FBuf p, g, m, v;
    std::vector<uint16_t> low;
  };
  std::vector<T> dev, cpu;
  for (int64_t n : sizes) {
    auto p = randn(n, 1), g = randn(n, 0.1), m = randn(n, 0.01), v = randn(n, 0.001);
    for (auto& x : v) x = std::fabs(x);
    dev.push_back({FBuf(p, mis), FBuf(g, mis), FBuf(m, mis), FBuf(v, mis), std::vector<uint16_t>((size_t)n + 8, 0xffff)});
    cpu.push_back({FBuf(p, 0), FBuf(g, 0), FBuf(m, 0), FBuf(v, 0), std::vector<uint16_t>((size_t)n + 8, 0xffff)});
  }
  std::vector<cuda::AdamWTensor> ts;
  for (auto& t : dev)
    ts.push_back({t.p.ptr(), t.g.ptr(), t.m.ptr(), t.v.ptr(), t.p.n, copy == DType::F32 ? nullptr : t.low.data() + low_off, copy});
  if (dup) ts.push_back(ts[0]);
  const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
  cuda::adamw_many(0, ts, lr, b1, b2, eps, wd, step);
  for (size_t k = 0; k < cpu.size() + (dup ? 1 : 0); ++k) {
    T& t = cpu[k % cpu.size()];
    cpu::adamw(t.p.ptr(), t.g.ptr(), t.m.ptr(), t.v.ptr(), t.p.n, lr, b1, b2, eps, wd, step);
    if (copy != DType::F32) cpu::convert(t.p.ptr(), DType::F32, t.low.data() + low_off, copy, t.p.n);
  }
  for (size_t k = 0; k < cpu.size(); ++k) {
    const size_t bytes = (size_t)cpu[k].p.n * 4;
    same("adamw_many p " + ctx, dev[k].p.ptr(), cpu[k].p.ptr(), bytes);
    same("adamw_many m " + ctx, dev[k].m.ptr(), cpu[k].m.ptr(), bytes);
    same("adamw_many v " + ctx, dev[k].v.ptr(), cpu[k].v.ptr(), bytes);
    if (copy != DType::F32) same("adamw_many copy " + ctx, dev[k].low.data(), cpu[k].low.data(), dev[k].low.size() * 2);
  }
}
}  // namespace

int main() {
  std::map<std::string, int> ran;
  emu::on_launch = [&](const char* k) { ran[k]++; };
  for (DType copy : {DType::F32, DType::BF16, DType::F16}) {
    many_case({1}, 0, false, copy, 1);
    many_case({4096, 4097, 3, 12000, 0, 64}, 0, false, copy, 2);   // chunk edges, tails, an empty tensor
    many_case({768 * 3, 1000}, 1, false, copy, 5);                  // misaligned: the per-tensor fallback
    many_case({5000, 333}, 0, true, copy, 7);                       // a buffer listed twice: the fallback, in order
    if (copy != DType::F32) many_case({4100, 77}, 0, false, copy, 3, 1);  // copies off 16 bytes: the fallback too
  }
  printf("kernels run (instantiation: launches):\n");
  for (const auto& [k, v] : ran) printf("  %s: %d\n", k.c_str(), v);
  printf("%lld bytes compared; %s (%d failures)\n", (long long)g_checked, g_failures ? "FAILED" : "all bit-identical", g_failures);
  return g_failures ? 1 : 0;
}
