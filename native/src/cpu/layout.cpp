// CPU data movement kernels.
#include "cpu/layout.h"

#include <cstring>

#include "cpu/strided.h"

namespace seekr {
namespace cpu {

template <typename T>
static void copy_t(const T* src, int64_t so, const std::vector<int64_t>& ss, T* dst, int64_t d0,
                   const std::vector<int64_t>& ds, const std::vector<int64_t>& shape) {
  const std::vector<int64_t> strides[2] = {ss, ds};
  const int64_t base[2] = {so, d0};
  const int nd = (int)shape.size();
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t si = nd ? ss[nd - 1] : 0, di = nd ? ds[nd - 1] : 0;
  for_each_row<2>(shape, strides, base, [&](int64_t, const int64_t* offs) {
    const T* s = src + offs[0];
    T* d = dst + offs[1];
    if (si == 1 && di == 1) std::memcpy(d, s, sizeof(T) * (size_t)inner);
    else for (int64_t i = 0; i < inner; ++i) d[i * di] = s[i * si];
  });
}

void strided_copy(const void* src, int64_t src_off, const std::vector<int64_t>& src_strides, void* dst, int64_t dst_off,
                  const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& shape, size_t elem) {
  if (elem == 4)
    copy_t((const uint32_t*)src, src_off, src_strides, (uint32_t*)dst, dst_off, dst_strides, shape);
  else
    copy_t((const uint16_t*)src, src_off, src_strides, (uint16_t*)dst, dst_off, dst_strides, shape);
}

void gather_rows(const float* table, const int32_t* ids, float* out, int64_t n, int64_t cols) {
  parallel_for(n, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(out + i * cols, table + (int64_t)ids[i] * cols, sizeof(float) * (size_t)cols);
  });
}

void scatter_add_rows(const float* src, const int32_t* ids, float* out, int64_t n, int64_t cols) {
  parallel_for(cols, 16, [&](int64_t cb, int64_t ce) {
    for (int64_t i = 0; i < n; ++i) {
      float* o = out + (int64_t)ids[i] * cols;
      const float* s = src + i * cols;
      for (int64_t c = cb; c < ce; ++c) o[c] += s[c];
    }
  });
}

}  // namespace cpu
}  // namespace seekr
