// Counter-based random numbers: element i of a draw depends only on (seed, offset + i), on every device.
#pragma once
#include <cstdint>

namespace seekr {
namespace cpu {

inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Uniform in [0, 1) with 24 random bits (exact in float32).
inline float uniform_at(uint64_t seed, uint64_t counter) {
  uint64_t h = mix64(mix64(seed) ^ counter);
  return (float)(h >> 40) * (1.0f / 16777216.0f);
}

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

}  // namespace cpu
}  // namespace seekr
