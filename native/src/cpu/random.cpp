// Seeded uniform and normal fills (Box-Muller over two counter-based uniforms per element).
#include "cpu/random.h"

#include <cmath>

#include "common/threadpool.h"

namespace seekr {
namespace cpu {

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = low + (high - low) * uniform_at(seed, offset + (uint64_t)i);
  });
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      uint64_t c = 2 * (offset + (uint64_t)i);
      double u1 = 1.0 - (double)uniform_at(seed, c);  // (0, 1]
      double u2 = (double)uniform_at(seed, c + 1);
      double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      out[i] = (float)(mean + std * z);
    }
  });
}

}  // namespace cpu
}  // namespace seekr
