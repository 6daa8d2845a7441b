// Element conversions between storage dtypes (float32, int32, bfloat16, float16), threaded.
#pragma once
#include <cstdint>

#include "common/core.h"

namespace seekr {
namespace cpu {

// dst[i] = src[i] converted: floats round to nearest even; float -> int32 truncates toward zero (NaN -> 0, saturating);
// int32 -> bf16/f16 goes through float32. Same dtype copies.
void convert(const void* src, DType sd, void* dst, DType dd, int64_t n);

}  // namespace cpu
}  // namespace seekr
