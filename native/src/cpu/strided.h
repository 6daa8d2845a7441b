// N-d strided iteration helpers: validate strides against buffer sizes and walk outputs row by row.
#pragma once
#include <cstdint>
#include <vector>

#include "common/threadpool.h"

namespace seekr {
namespace cpu {

// Largest element offset reachable from `offset` with `shape` and `strides` (strides may be 0 or negative).
inline bool strided_in_bounds(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides, int64_t offset,
                              int64_t numel) {
  __int128 lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return true;  // nothing is read
    const __int128 span = (__int128)strides[i] * (__int128)(shape[i] - 1);
    if (span > 0) hi += span; else lo += span;
  }
  return lo >= 0 && hi < (__int128)numel;
}

// Calls fn(out_index_of_row_start, [offsets of each operand at row start]) for every innermost row.
// Rows are distributed over threads; `inner` is shape.back().
template <int N, typename F>
void for_each_row(const std::vector<int64_t>& shape, const std::vector<int64_t> (&strides)[N],
                  const int64_t (&base)[N], F&& fn) {
  const int nd = (int)shape.size();
  if (nd == 0) {
    int64_t offs[N];
    for (int k = 0; k < N; ++k) offs[k] = base[k];
    fn((int64_t)0, offs);
    return;
  }
  int64_t inner = shape[nd - 1];
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= shape[d];
  if (rows == 0 || inner == 0) return;
  int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, inner));
  parallel_for(rows, grain, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      int64_t offs[N];
      for (int k = 0; k < N; ++k) offs[k] = base[k];
      int64_t rem = r;
      for (int d = nd - 2; d >= 0; --d) {
        int64_t idx = rem % shape[d];
        rem /= shape[d];
        for (int k = 0; k < N; ++k) offs[k] += idx * strides[k][d];
      }
      fn(r * inner, offs);
    }
  });
}

}  // namespace cpu
}  // namespace seekr
