// Host emulation of cuda/elementwise.cu's swiglu, swiglu_backward and binary (mixed-dtype vector path, typed and AnyF
// paths) on the host emulator (prelude.h, emu.cpp; built and run by run.mjs), results compared with the CPU
// kernels on widened copies rounded once (the binding's staging), aligned and misaligned pointers, sizes around the
// 8-element chunks; prints which kernels ran. binary must match bit for bit; swiglu within the GPU test's tolerance
// (test/gpu/half.test.mjs closeEach: the emulated exp is the host's exp in double, the cpu's is glibc's expf, which
// differ in float32's last bit for about 1 input in 10^4 — the control case shows it for the existing silu kernel).
#include <cstdio>
#include <cmath>
#include <algorithm>
#include <map>
#include <array>
#include <string>
#include <vector>
#include "common/core.h"
#include "common/half.h"
#include "cpu/elementwise.h"
#include "cuda/kernels.h"
#include "cuda/backend.h"
#include "emu.h"

using namespace seekr;
static std::map<std::string, int> ran;
static float widen(const uint16_t* p, DType d, int64_t i) { return d == DType::BF16 ? bf16_to_f32(p[i]) : f16_to_f32(p[i]); }
struct Buf {  // n elements of dtype d at byte offset `off` (0: 16-byte aligned) inside an over-aligned block
  DType d; int64_t n; std::vector<uint8_t> mem; size_t off;
  Buf(DType d_, int64_t n_, size_t off_elems) : d(d_), n(n_), mem(64 + (n_ + 16) * 4), off(off_elems * dtype_size(d_)) {}
  void* ptr() { uintptr_t p = reinterpret_cast<uintptr_t>(mem.data()); p = (p + 15) & ~uintptr_t(15); return reinterpret_cast<void*>(p + off); }
  void set(const std::vector<float>& v) {
    for (int64_t i = 0; i < n; ++i) {
      if (d == DType::F32) static_cast<float*>(ptr())[i] = v[i];
      else static_cast<uint16_t*>(ptr())[i] = d == DType::BF16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
    }
  }
  float get(int64_t i) { return d == DType::F32 ? static_cast<float*>(ptr())[i] : widen(static_cast<uint16_t*>(ptr()), d, i); }
  uint32_t bits(int64_t i) { return d == DType::F32 ? f32_bits(static_cast<float*>(ptr())[i]) : static_cast<uint16_t*>(ptr())[i]; }
  std::vector<float> widened() { std::vector<float> w(n); for (int64_t i = 0; i < n; ++i) w[i] = get(i); return w; }
};
static uint32_t round_bits(float v, DType d) { return d == DType::F32 ? f32_bits(v) : d == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v); }
static bool nan_bits(uint32_t b, DType d) {
  if (d == DType::F32) return (b & 0x7fffffffu) > 0x7f800000u;
  if (d == DType::BF16) return (b & 0x7f80) == 0x7f80 && (b & 0x7f);
  return (b & 0x7c00) == 0x7c00 && (b & 0x3ff);
}
static int failures = 0;
static double ulp_of(double x, DType d) {
  int bits = d == DType::BF16 ? 7 : d == DType::F16 ? 10 : 23, emin = d == DType::F16 ? -14 : -126;
  double a = std::fabs(x); int e = a > 0 ? std::max((int)std::floor(std::log2(a)), emin) : emin;
  return std::ldexp(1.0, e - bits);
}
// the JS test's closeEach: |got - want| <= ulps * ulp(max(|want|, scale))
static void close_each(const char* what, Buf& got, const std::vector<float>& ref, const std::vector<double>* scale, const std::string& ctx) {
  const int ulps = got.d == DType::F32 ? 4 : 1;
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < got.n; ++i) {
    double w = stored_as(ref[i], got.d);
    double g = got.get(i);
    if (g == w || (std::isnan(g) && std::isnan(w))) continue;
    double lim = ulps * ulp_of(std::max(std::fabs(w), scale ? (*scale)[i] : 0.0), got.d);
    if (!(std::fabs(g - w) <= lim)) { if (first < 0) first = i; ++bad; }
  }
  if (bad) { ++failures; printf("FAIL(tol) %s %s: %lld of %lld, first %lld: %.9g vs %.9g\n", what, ctx.c_str(), (long long)bad, (long long)got.n, (long long)first, got.get(first), ref[first]); }
}
static void compare(const char* what, Buf& got, const std::vector<float>& ref, const std::string& ctx) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < got.n; ++i) {
    uint32_t g = got.bits(i), w = round_bits(ref[i], got.d);
    if (g != w && !(nan_bits(g, got.d) && nan_bits(w, got.d))) { if (first < 0) first = i; ++bad; }
  }
  if (bad) { ++failures; printf("FAIL %s %s: %lld of %lld differ, first %lld: %g vs %g\n", what, ctx.c_str(), (long long)bad, (long long)got.n, (long long)first, got.get(first), ref[first]); }
}
static uint64_t st = 88172645463325252ull;
static float rnd() { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return (float)((st >> 11) * (1.0 / 9007199254740992.0)) * 6.f - 3.f; }
static std::vector<float> data(int64_t n) {
  std::vector<float> v(n);
  const float sp[] = {NAN, INFINITY, -INFINITY, -0.f, 0.f, 100.f, -100.f, 1e-30f};
  for (auto& x : v) { x = rnd(); if (rnd() > 2.9f) x = sp[(st >> 5) % 8]; }
  return v;
}
static const char* dn(DType d) { return d == DType::F32 ? "f32" : d == DType::BF16 ? "bf16" : "f16"; }

int main() {

  emu::on_launch = [](const char* k) { ran[k]++; };
  const int64_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 4099, 40005};
  const DType F = DType::F32, B = DType::BF16, H = DType::F16;
  // ---- swiglu
  std::vector<std::array<DType, 3>> combos = {{F, F, F}, {B, B, B}, {H, H, H}, {B, F, F}, {F, H, F}, {B, B, F}};
  for (int64_t n : sizes)
    for (auto c : combos)
      for (int mis = 0; mis < 3; ++mis) {  // 0: all aligned; 1: gate off by one element; 2: output off by one
        Buf g(c[0], n, mis == 1), u(c[1], n, 0), o(c[2], n, mis == 2);
        g.set(data(n)); u.set(data(n));
        Buf gy(c[2], n, 0), dg(c[0], n, mis == 2), du(c[1], n, 0);
        gy.set(data(n));
        cuda::swiglu(0, g.ptr(), g.d, u.ptr(), u.d, o.ptr(), o.d, n);
        cuda::swiglu_backward(0, g.ptr(), g.d, u.ptr(), u.d, gy.ptr(), gy.d, dg.ptr(), dg.d, du.ptr(), du.d, n);
        auto G = g.widened(), U = u.widened(), Y = gy.widened();
        std::vector<float> R(n), RG(n), RU(n);
        cpu::swiglu(G.data(), U.data(), R.data(), n);
        cpu::swiglu_backward(G.data(), U.data(), Y.data(), RG.data(), RU.data(), n);
        std::string ctx = "n=" + std::to_string(n) + " " + dn(c[0]) + "/" + dn(c[1]) + "/" + dn(c[2]) + " mis=" + std::to_string(mis);
        std::vector<double> sc(n);
        for (int64_t i = 0; i < n; ++i) sc[i] = std::fabs((double)Y[i] * U[i]) * (1 + std::fabs(G[i]));
        close_each("swiglu", o, R, nullptr, ctx);
        close_each("swiglu ggate", dg, RG, &sc, ctx);
        close_each("swiglu gup", du, RU, nullptr, ctx);
      }
  // ---- binary, same shape contiguous, mixed dtypes (and same dtype for contrast), plus a broadcast row case
  std::vector<std::array<DType, 3>> bcombos = {{F, B, F}, {B, F, F}, {F, B, B}, {B, F, B}, {F, H, F}, {H, F, F}, {F, H, H}, {H, F, H}, {B, H, F}, {F, F, F}, {B, B, B}};
  for (int op : {cpu::ADD, cpu::SUB, cpu::MUL, cpu::DIV, cpu::MAXIMUM, cpu::GT})
    for (int64_t n : sizes)
      for (auto c : bcombos)
        for (int mis = 0; mis < 2; ++mis) {
          Buf a(c[0], n, 0), b(c[1], n, mis), o(c[2], n, 0);
          a.set(data(n)); b.set(data(n));
          cuda::binary(0, op, a.ptr(), a.d, {1}, b.ptr(), b.d, {1}, o.ptr(), o.d, {n});
          auto A = a.widened(), Bv = b.widened();
          std::vector<float> R(n);
          cpu::binary(op, A.data(), {1}, Bv.data(), {1}, R.data(), {n});
          compare("binary", o, R, std::string(cpu::binary_name(op)) + " n=" + std::to_string(n) + " " + dn(c[0]) + "/" + dn(c[1]) + "/" + dn(c[2]) + " mis=" + std::to_string(mis));
        }
  // rows: a [2, n] with b [n] broadcast (strided path even for mixed dtypes)
  for (int64_t n : {7, 9, 4099}) {
    Buf a(F, 2 * n, 0), b(B, n, 0), o(F, 2 * n, 0);
    a.set(data(2 * n)); b.set(data(n));
    cuda::binary(0, cpu::ADD, a.ptr(), a.d, {n, 1}, b.ptr(), b.d, {0, 1}, o.ptr(), o.d, {2, n});
    auto A = a.widened(), Bv = b.widened();
    std::vector<float> R(2 * n);
    cpu::binary(cpu::ADD, A.data(), {n, 1}, Bv.data(), {0, 1}, R.data(), {2, n});
    compare("binary rows", o, R, "n=" + std::to_string(n));
  }
  // control: the existing unary silu kernel in float32 against cpu::unary (fexp in double vs the cpu's expf)
  {
    const int64_t n = 40005;
    Buf x(F, n, 0), o(F, n, 0);
    x.set(data(n));
    cuda::unary(0, cpu::SILU, x.ptr(), F, o.ptr(), F, n, 0.f);
    auto X = x.widened();
    std::vector<float> R(n);
    cpu::unary(cpu::SILU, X.data(), R.data(), n, 0.f);
    int64_t diff = 0;
    for (int64_t i = 0; i < n; ++i) diff += o.bits(i) != f32_bits(R[i]) && !(std::isnan(R[i]) && std::isnan(o.get(i)));
    printf("control: the existing unary silu in float32 differs from the cpu's in %lld of %lld elements (exp's last bit)\n", (long long)diff, (long long)n);
    close_each("control: unary silu f32", o, R, nullptr, "n=40005");
  }
  for (auto& [k, v] : ran) printf("%s: %d launches\n", k.c_str(), v);
  printf("%s (%d failures)\n", failures ? "FAILED" : "all equal", failures);
  return failures ? 1 : 0;
}
