// Host buffers and data for the emulation mains (<name>_main.cpp): n elements of a float dtype at a chosen byte offset
// from a 16-byte boundary, filled with 0xff bytes (NaN: what a result never written leaves), set from / widened to
// float32 with the host's roundings (common/half.h); a deterministic normal generator.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/core.h"
#include "common/half.h"

namespace emutest {

using seekr::DType;

inline const char* dn(DType d) { return d == DType::F32 ? "f32" : d == DType::BF16 ? "bf16" : "f16"; }

// n elements of dtype d, `off` bytes past a 16-byte aligned address (0: aligned; element multiples keep the elements
// aligned to their size, other values do not).
struct Buf {
  DType d;
  int64_t n;
  size_t off;
  std::vector<uint8_t> mem;
  Buf(DType d_, int64_t n_, size_t off_bytes = 0) : d(d_), n(n_), off(off_bytes), mem(64 + (size_t)(n_ + 1) * 4) {
    std::memset(mem.data(), 0xff, mem.size());
  }
  uint8_t* at(int64_t i) {
    uintptr_t p = reinterpret_cast<uintptr_t>(mem.data());
    p = (p + 15) & ~uintptr_t(15);
    return reinterpret_cast<uint8_t*>(p) + off + (size_t)i * seekr::dtype_size(d);
  }
  void* ptr() { return at(0); }
  template <class T>
  T* as() { return reinterpret_cast<T*>(ptr()); }
  void set(int64_t i, float v) {
    if (d == DType::F32) std::memcpy(at(i), &v, 4);
    else {
      const uint16_t h = d == DType::BF16 ? seekr::f32_to_bf16(v) : seekr::f32_to_f16(v);
      std::memcpy(at(i), &h, 2);
    }
  }
  void set(const std::vector<float>& v) {
    for (int64_t i = 0; i < n; ++i) set(i, v[(size_t)i]);
  }
  float get(int64_t i) {
    if (d == DType::F32) {
      float v;
      std::memcpy(&v, at(i), 4);
      return v;
    }
    uint16_t h;
    std::memcpy(&h, at(i), 2);
    return d == DType::BF16 ? seekr::bf16_to_f32(h) : seekr::f16_to_f32(h);
  }
  std::vector<float> widened() {
    std::vector<float> w((size_t)n);
    for (int64_t i = 0; i < n; ++i) w[(size_t)i] = get(i);
    return w;
  }
  bool same_bits(Buf& o) {
    return n == o.n && d == o.d && std::memcmp(ptr(), o.ptr(), (size_t)n * seekr::dtype_size(d)) == 0;
  }
};

// xorshift64 uniforms in [0, 1) and Box-Muller normals: the same sequence on every run and machine.
inline uint64_t g_state = 0x9e3779b97f4a7c15ull;
inline double uniform() {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return (double)(g_state >> 11) * (1.0 / 9007199254740992.0);
}
inline std::vector<float> randn(int64_t n, double scale = 1.0) {
  std::vector<float> v((size_t)n);
  for (auto& x : v) {
    const double u = std::max(uniform(), 1e-300), w = uniform();
    x = (float)(scale * std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * w));
  }
  return v;
}

}  // namespace emutest
