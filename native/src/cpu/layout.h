// Data movement: N-d strided copies (permute, slice, concat, expand) and row gather / scatter-add.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace seekr {
namespace cpu {

void strided_copy(const void* src, int64_t src_off, const std::vector<int64_t>& src_strides, void* dst, int64_t dst_off,
                  const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& shape, size_t elem);
// out[i, :] = table[ids[i], :]  (ids already validated)
void gather_rows(const float* table, const int32_t* ids, float* out, int64_t n, int64_t cols);
// out[ids[i], :] += src[i, :]  (deterministic: each thread owns a column range)
void scatter_add_rows(const float* src, const int32_t* ids, float* out, int64_t n, int64_t cols);

}  // namespace cpu
}  // namespace seekr
