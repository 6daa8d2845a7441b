// Glue for data movement: stridedCopy, gatherRows, scatterAddRows. On CUDA, gatherRows takes tables of any dtype as
// they are and scatterAddRows its source in its own float dtype (a half `out` is staged: it accumulates in float32).
#include "binding/args.h"
#include "cpu/layout.h"
#include "cpu/strided.h"
#include "cuda/kernels.h"

namespace seekr {

// Every id must name a row of the table: the one check gather and scatter-add share (on a host copy for CUDA).
static void check_row_ids(const Args& a, const int32_t* ip, size_t n, int64_t rows) {
  for (size_t i = 0; i < n; ++i)
    if (ip[i] < 0 || ip[i] >= rows)
      a.fail("index " + std::to_string(ip[i]) + " at position " + std::to_string(i) + " is out of range [0, " +
             std::to_string(rows) + ")");
}

void register_layout(Napi::Env env, Napi::Object exports) {
  // stridedCopy(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape): same dtype on both sides.
  define(env, exports, "stridedCopy", [](const Napi::CallbackInfo& info) {
    Args a(info, "stridedCopy");
    Storage* src = a.tensor(0, "src");
    int64_t so = a.i64(1, "srcOffset");
    auto ss = a.ints(2, "srcStrides");
    Storage* dst = a.tensor(3, "dst");
    int64_t d0 = a.i64(4, "dstOffset");
    auto ds = a.ints(5, "dstStrides");
    auto shape = a.ints(6, "shape");
    const size_t count = checked_product(a, shape, "shape");
    if (count > dst->numel)
      a.fail("the view has " + std::to_string(count) + " elements, more than the destination's " + std::to_string(dst->numel));
    if (ss.size() != shape.size() || ds.size() != shape.size())
      a.fail("strides and shape ranks differ (" + std::to_string(ss.size()) + ", " + std::to_string(ds.size()) + ", " +
             std::to_string(shape.size()) + ")");
    require_dtype(a, src, "src", dst->dtype);
    if (!cpu::strided_in_bounds(shape, ss, so, (int64_t)src->numel)) a.fail("source view reaches outside its buffer");
    if (!cpu::strided_in_bounds(shape, ds, d0, (int64_t)dst->numel)) a.fail("destination view reaches outside its buffer");
    require_same_device(a, {src, dst});
    if (dst->device.type == DeviceType::CUDA) {
      cuda::strided_copy(dst->device.index, src->ptr, so, ss, dst->ptr, d0, ds, shape, dtype_size(dst->dtype));
      return info.Env().Undefined();
    }
    cpu::strided_copy(src->ptr, so, ss, dst->ptr, d0, ds, shape, dtype_size(dst->dtype));
    return info.Env().Undefined();
  });
  // gatherRows(table, ids, out, cols, idsHost?): out[i] = table[ids[i]]
  define_float(env, exports, "gatherRows", {0}, {2}, [](const Napi::CallbackInfo& info) {
    Args a(info, "gather");
    Storage* table = a.tensor(0, "table");
    Storage* ids = a.tensor(1, "ids");
    Storage* out = a.tensor(2, "out");
    int64_t cols = a.i64(3, "cols");
    if (cols <= 0) a.fail("cols must be positive");
    const bool cuda_table = table->device.type == DeviceType::CUDA;  // 2-byte tables too; float tables convert
    if (dtype_size(table->dtype) != 4 && !cuda_table)
      a.fail(std::string("'table' must be float32 or int32, got ") + dtype_name(table->dtype));
    require_dtype(a, ids, "ids", DType::I32);
    if (cuda_table && table->dtype != DType::I32) require_float(a, out, "out");
    else require_dtype(a, out, "out", table->dtype);
    if (table->numel % (size_t)cols) a.fail("table size is not a multiple of cols");
    int64_t rows = (int64_t)(table->numel / (size_t)cols);
    require_numel(a, out, "out", ids->numel * (size_t)cols);
    require_same_device(a, {table, ids, out});
    const bool on_cuda = out->device.type == DeviceType::CUDA;
    const HostInt32 hid = host_int32(a, 4, ids, "idsHost", "ids");  // validated on the host, used on the device
    const int32_t* ip = hid.p;
    check_row_ids(a, ip, ids->numel, rows);
    if (on_cuda) {
      cuda::gather_rows(out->device.index, table->ptr, table->dtype, ids->as<int32_t>(), out->ptr, out->dtype,
                        (int64_t)ids->numel, cols);
      return info.Env().Undefined();
    }
    cpu::gather_rows(table->as<float>(), ip, out->as<float>(), (int64_t)ids->numel, cols);
    return info.Env().Undefined();
  }, {}, {0, 2});
  // scatterAddRows(src, ids, out, cols, idsHost?): out[ids[i]] += src[i]
  define_float(env, exports, "scatterAddRows", {0}, {}, [](const Napi::CallbackInfo& info) {
    Args a(info, "scatterAdd");
    Storage* src = a.tensor(0, "src");
    Storage* ids = a.tensor(1, "ids");
    Storage* out = a.tensor(2, "out");
    int64_t cols = a.i64(3, "cols");
    if (cols <= 0) a.fail("cols must be positive");
    require_float(a, src, "src");
    require_dtype(a, ids, "ids", DType::I32);
    require_dtype(a, out, "out", DType::F32);
    if (out->numel % (size_t)cols) a.fail("out size is not a multiple of cols");
    int64_t rows = (int64_t)(out->numel / (size_t)cols);
    require_numel(a, src, "src", ids->numel * (size_t)cols);
    require_same_device(a, {src, ids, out});
    const bool on_cuda = out->device.type == DeviceType::CUDA;
    const HostInt32 hid = host_int32(a, 4, ids, "idsHost", "ids");  // validated on the host, used on the device
    const int32_t* ip = hid.p;
    check_row_ids(a, ip, ids->numel, rows);
    if (on_cuda) {
      cuda::scatter_add_rows(out->device.index, src->ptr, src->dtype, ids->as<int32_t>(), out->as<float>(),
                             (int64_t)ids->numel, cols);
      return info.Env().Undefined();
    }
    cpu::scatter_add_rows(src->as<float>(), ip, out->as<float>(), (int64_t)ids->numel, cols);
    return info.Env().Undefined();
  }, {2}, {0});
}

}  // namespace seekr
