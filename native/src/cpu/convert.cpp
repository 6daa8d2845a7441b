#include "cpu/convert.h"

#include <immintrin.h>

#include <cstring>

#include "common/half.h"
#include "common/threadpool.h"

namespace seekr {
namespace cpu {

namespace {
inline float load(const void* p, DType d, int64_t i) {
  switch (d) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::I32: return (float)static_cast<const int32_t*>(p)[i];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
}
inline int32_t to_i32(float f) {
  return (f != f) ? 0 : f >= 2147483647.0f ? 2147483647 : f <= -2147483648.0f ? (-2147483647 - 1) : (int32_t)f;
}

// The hot pairs (staging half buffers through float32 kernels) as plain loops the compiler vectorises.
void bf16_to_f32_run(const uint16_t* s, float* d, int64_t b, int64_t e) {
  uint32_t* o = reinterpret_cast<uint32_t*>(d);
  for (int64_t i = b; i < e; ++i) o[i] = (uint32_t)s[i] << 16;
}
void f32_to_bf16_run(const float* s, uint16_t* d, int64_t b, int64_t e) {
  const uint32_t* u = reinterpret_cast<const uint32_t*>(s);
  for (int64_t i = b; i < e; ++i) {
    const uint32_t x = u[i];
    const uint16_t rounded = (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
    d[i] = (x & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((x >> 16) | 0x40) : rounded;
  }
}
// F16C: IEEE conversions in hardware (round to nearest even, subnormals and overflow to infinity handled).
__attribute__((target("avx2,f16c"))) void f16_to_f32_f16c(const uint16_t* s, float* d, int64_t b, int64_t e) {
  int64_t i = b;
  for (; i + 8 <= e; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < e; ++i) d[i] = f16_to_f32(s[i]);
}
__attribute__((target("avx2,f16c"))) void f32_to_f16_f16c(const float* s, uint16_t* d, int64_t b, int64_t e) {
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    const __m256 x = _mm256_loadu_ps(s + i);
    __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), h);
  }
  for (; i < e; ++i) d[i] = f32_to_f16(s[i]);
}
const bool kF16c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}  // namespace

void convert(const void* src, DType sd, void* dst, DType dd, int64_t n) {
  if (n <= 0) return;
  if (sd == dd) {
    std::memcpy(dst, src, (size_t)n * dtype_size(sd));
    return;
  }
  const int64_t grain = 1 << 16;
  if (sd == DType::BF16 && dd == DType::F32) {
    parallel_for(n, grain, [&](int64_t b, int64_t e) { bf16_to_f32_run(static_cast<const uint16_t*>(src), static_cast<float*>(dst), b, e); });
    return;
  }
  if (sd == DType::F32 && dd == DType::BF16) {
    parallel_for(n, grain, [&](int64_t b, int64_t e) { f32_to_bf16_run(static_cast<const float*>(src), static_cast<uint16_t*>(dst), b, e); });
    return;
  }
  if (kF16c && sd == DType::F16 && dd == DType::F32) {
    parallel_for(n, grain, [&](int64_t b, int64_t e) { f16_to_f32_f16c(static_cast<const uint16_t*>(src), static_cast<float*>(dst), b, e); });
    return;
  }
  if (kF16c && sd == DType::F32 && dd == DType::F16) {
    parallel_for(n, grain, [&](int64_t b, int64_t e) { f32_to_f16_f16c(static_cast<const float*>(src), static_cast<uint16_t*>(dst), b, e); });
    return;
  }
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    switch (dd) {
      case DType::F32: {
        float* o = static_cast<float*>(dst);
        for (int64_t i = b; i < e; ++i) o[i] = load(src, sd, i);
        break;
      }
      case DType::I32: {
        int32_t* o = static_cast<int32_t*>(dst);
        for (int64_t i = b; i < e; ++i) o[i] = to_i32(load(src, sd, i));
        break;
      }
      case DType::BF16: {
        uint16_t* o = static_cast<uint16_t*>(dst);
        for (int64_t i = b; i < e; ++i) o[i] = f32_to_bf16(load(src, sd, i));
        break;
      }
      default: {
        uint16_t* o = static_cast<uint16_t*>(dst);
        for (int64_t i = b; i < e; ++i) o[i] = f32_to_f16(load(src, sd, i));
        break;
      }
    }
  });
}

}  // namespace cpu
}  // namespace seekr
