#include "cpu/convert.h"

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
}  // namespace

void convert(const void* src, DType sd, void* dst, DType dd, int64_t n) {
  if (n <= 0) return;
  if (sd == dd) {
    std::memcpy(dst, src, (size_t)n * dtype_size(sd));
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
