// bfloat16 / float16 <-> float32 bit conversions on the host: round to nearest even, NaN stays NaN (quiet), f16
// overflow goes to infinity and small values to (signed) subnormals or zero — the same results as the JS encoders in
// @seekr/tensor (dtype.ts) and CUDA's __float2bfloat16_rn / __float2half_rn.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/core.h"

namespace seekr {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN: keep sign and payload top, quiet
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
inline float bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

inline uint16_t f32_to_f16(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const int32_t exp = (int32_t)((u >> 23) & 0xffu);
  uint32_t mant = u & 0x7fffffu;
  // NaN: quiet, sign and the payload's top bits kept (what F16C's vcvtps2ph gives, so both host paths agree).
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
  const int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const uint32_t shift = (uint32_t)(14 - e);
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u), mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // a carry into the exponent is the right rounding
  return (uint16_t)(sign | half);
}
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bits_f32(sign);
    const float v = (float)mant * 5.9604644775390625e-8f;  // mant * 2^-24, exact
    return sign ? -v : v;
  }
  // Infinity, or a NaN made quiet with its payload kept (what F16C's vcvtph2ps gives, so both host paths agree).
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant ? 0x400000u | (mant << 13) : 0u));
  return bits_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}
// v as a buffer of float dtype d stores it: rounded to d (nearest even) and widened back; float32 unchanged.
inline float stored_as(float v, DType d) {
  if (d == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
  if (d == DType::F16) return f16_to_f32(f32_to_f16(v));
  return v;
}

}  // namespace seekr
