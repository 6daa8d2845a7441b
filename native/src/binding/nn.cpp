// Glue for fused nn kernels: crossEntropy(+Backward), rmsNorm(+Backward), rope. On CUDA the tensor operands (logits,
// gx, x, weight, y, gy, gw, out) are passed in their own float dtype; loss, lse, rstd and the cross-entropy gy stay
// float32 (staged when half, like every half buffer on the CPU).
#include "binding/args.h"
#include "cpu/nn.h"
#include "cuda/kernels.h"

#include <cstring>
#include <vector>

namespace seekr {

void register_nn(Napi::Env env, Napi::Object exports) {
  // crossEntropy(logits, targets, loss[1], lse[rows], rows, cols, ignoreIndex, targetsHost?) -> count of kept rows
  define_float(env, exports, "crossEntropy", {0}, {2, 3}, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "crossEntropy");
    Storage* x = a.tensor(0, "logits");
    Storage* t = a.tensor(1, "targets");
    Storage* loss = a.tensor(2, "loss");
    Storage* lse = a.tensor(3, "lse");
    int64_t rows = a.i64(4, "rows"), cols = a.i64(5, "cols");
    int64_t ignore = a.i64(6, "ignoreIndex");
    if (cols <= 0) a.fail("the class axis must not be empty");
    require_float(a, x, "logits");
    require_dtype(a, t, "targets", DType::I32);
    require_dtype(a, loss, "loss", DType::F32);
    require_dtype(a, lse, "lse", DType::F32);
    require_numel(a, x, "logits", checked_product(a, {rows, cols}, "rows*cols"));
    require_numel(a, t, "targets", (size_t)rows);
    require_numel(a, loss, "loss", 1);
    require_numel(a, lse, "lse", (size_t)rows);
    require_same_device(a, {x, t, loss, lse});
    const bool on_cuda = x->device.type == DeviceType::CUDA;
    const HostInt32 host_t = host_int32(a, 7, t, "targetsHost", "rows");  // validated (and counted) on the host, used on the device
    const int32_t* tp = host_t.p;
    for (int64_t r = 0; r < rows; ++r)
      if (tp[r] != ignore && (tp[r] < 0 || tp[r] >= cols))
        a.fail("target " + std::to_string(tp[r]) + " at row " + std::to_string(r) + " is out of range [0, " +
               std::to_string(cols) + ") and is not the ignore index " + std::to_string(ignore));
    if (on_cuda) {
      int64_t kept = 0;
      for (int64_t r = 0; r < rows; ++r) kept += tp[r] != (int32_t)ignore;
      cuda::cross_entropy(x->device.index, x->ptr, x->dtype, t->as<int32_t>(), loss->as<float>(), lse->as<float>(), rows,
                          cols, (int32_t)ignore, kept);
      return Napi::Number::New(info.Env(), (double)kept);
    }
    int64_t n = cpu::cross_entropy(x->as<float>(), tp, loss->as<float>(), lse->as<float>(), rows, cols, (int32_t)ignore);
    return Napi::Number::New(info.Env(), (double)n);
  }, {}, {0});
  // crossEntropyBackward(logits, targets, lse, gy[1], gx, rows, cols, ignoreIndex, count, targetsHost?)
  define_float(env, exports, "crossEntropyBackward", {0, 2, 3}, {4}, [](const Napi::CallbackInfo& info) {
    Args a(info, "crossEntropyBackward");
    Storage* x = a.tensor(0, "logits");
    Storage* t = a.tensor(1, "targets");
    Storage* lse = a.tensor(2, "lse");
    Storage* gy = a.tensor(3, "gy");
    Storage* gx = a.tensor(4, "gx");
    int64_t rows = a.i64(5, "rows"), cols = a.i64(6, "cols");
    int64_t ignore = a.i64(7, "ignoreIndex");
    int64_t count = a.i64(8, "count");
    size_t n = checked_product(a, {rows, cols}, "rows*cols");
    require_numel(a, x, "logits", n);
    require_numel(a, gx, "gx", n);
    require_numel(a, t, "targets", (size_t)rows);
    require_numel(a, lse, "lse", (size_t)rows);
    require_numel(a, gy, "gy", 1);
    require_dtype(a, t, "targets", DType::I32);
    require_float(a, x, "logits");
    require_dtype(a, lse, "lse", DType::F32);
    require_dtype(a, gy, "gy", DType::F32);
    require_float(a, gx, "gx");
    require_same_device(a, {x, t, lse, gy, gx});
    const bool on_cuda = x->device.type == DeviceType::CUDA;
    const HostInt32 host_t = host_int32(a, 9, t, "targetsHost", "rows");  // validated on the host, used on the device
    const int32_t* tp = host_t.p;
    for (int64_t r = 0; r < rows; ++r)
      if (tp[r] != ignore && (tp[r] < 0 || tp[r] >= cols)) a.fail("target out of range at row " + std::to_string(r));
    if (on_cuda) {  // gy stays on the device: the kernel reads it (scale = gy / count as below)
      cuda::cross_entropy_backward(x->device.index, x->ptr, x->dtype, t->as<int32_t>(), lse->as<float>(), gy->as<float>(),
                                   count, gx->ptr, gx->dtype, rows, cols, (int32_t)ignore);
      return info.Env().Undefined();
    }
    float scale = count > 0 ? gy->as<float>()[0] / (float)count : 0.f;
    cpu::cross_entropy_backward(x->as<float>(), tp, lse->as<float>(), scale, gx->as<float>(), rows, cols, (int32_t)ignore);
    return info.Env().Undefined();
  }, {}, {0, 4});
  // rmsNorm(x, w, y, rstd, rows, cols, eps, residual?, sum?): y = x * rsqrt(mean(x^2) + eps) * w per row, in float32,
  // y rounded once to its own dtype. With residual and sum: the residual add fused with the norm after it, sum =
  // x + residual (rounded to sum's dtype) is written and normalised in the same pass — the values of add then rmsNorm.
  // On the CPU half buffers are staged (widened, and the outputs rounded once); on CUDA the kernels take them as they are.
  define(env, exports, "rmsNorm", [](const Napi::CallbackInfo& info) {
    Args a(info, "rmsNorm");
    Storage* x = a.tensor(0, "x");
    Storage* w = a.tensor(1, "weight");
    Storage* y = a.tensor(2, "y");
    Storage* rstd = a.tensor(3, "rstd");
    int64_t rows = a.i64(4, "rows"), cols = a.i64(5, "cols");
    float eps = (float)a.f64(6, "eps");
    Storage* res = a.opt_tensor(7, "residual");
    Storage* sum = a.opt_tensor(8, "sum");
    if (!res != !sum) a.fail("'residual' and 'sum' are given together or not at all");
    size_t n = checked_product(a, {rows, cols}, "rows*cols");
    // Checked before the staging below: 16-bit buffers are valid on the CPU too.
    for (auto [s, nm] : {std::pair{x, "x"}, {w, "weight"}, {y, "y"}}) require_float_dtype(a, s, nm);
    require_dtype(a, rstd, "rstd", DType::F32);
    require_numel(a, x, "x", n);
    require_numel(a, y, "y", n);
    require_numel(a, w, "weight", (size_t)cols);
    require_numel(a, rstd, "rstd", (size_t)rows);
    if (res) {
      require_float_dtype(a, res, "residual");
      require_float_dtype(a, sum, "sum");
      require_numel(a, res, "residual", n);
      require_numel(a, sum, "sum", n);
      require_same_device(a, {x, w, y, rstd, res, sum});
      for (auto [s, nm] : {std::pair{x, "x"}, {res, "residual"}, {w, "weight"}, {y, "y"}, {rstd, "rstd"}})
        if (s == sum) a.fail(std::string("'sum' must be a buffer of its own, not also '") + nm + "'");
    } else {
      require_same_device(a, {x, w, y, rstd});
    }
    if (x->device.type == DeviceType::CUDA) {
      cuda::rms_norm(x->device.index, x->ptr, x->dtype, res ? res->ptr : nullptr, res ? res->dtype : DType::F32,
                     sum ? sum->ptr : nullptr, sum ? sum->dtype : DType::F32, w->ptr, w->dtype, y->ptr, y->dtype,
                     rstd->as<float>(), rows, cols, eps);
      return info.Env().Undefined();
    }
    const DType sum_dtype = sum ? sum->dtype : DType::F32;
    HalfStaging st;
    for (Storage* s : {x, w, res}) st.stage(s, Stage::In);
    for (Storage* s : {y, rstd, sum}) st.stage(s, Stage::Out);
    if (res)
      cpu::add_rms_norm(x->as<float>(), res->as<float>(), sum->as<float>(), sum_dtype, w->as<float>(), y->as<float>(),
                        rstd->as<float>(), rows, cols, eps);
    else
      cpu::rms_norm(x->as<float>(), w->as<float>(), y->as<float>(), rstd->as<float>(), rows, cols, eps);
    st.commit();
    return info.Env().Undefined();
  });
  // rmsNormBackward(x, w, rstd, gy, gx, gw, rows, cols, accumulate = false, gxCopy = null): accumulate adds the input
  // gradient into gx (gx += ...) instead of overwriting it; gw is overwritten either way. gxCopy (with a float32 gx):
  // also receives gx's final values, rounded once to its own dtype (a 16-bit copy of a completed residual-stream
  // gradient, written in the same pass). On the CPU half buffers are staged (gx read-write: a wasted widening pass for
  // a 16-bit gx without accumulate, on the CPU only); on CUDA the kernels take them as they are.
  define(env, exports, "rmsNormBackward", [](const Napi::CallbackInfo& info) {
    Args a(info, "rmsNormBackward");
    Storage* x = a.tensor(0, "x");
    Storage* w = a.tensor(1, "weight");
    Storage* rstd = a.tensor(2, "rstd");
    Storage* gy = a.tensor(3, "gy");
    Storage* gx = a.tensor(4, "gx");
    Storage* gw = a.tensor(5, "gw");
    int64_t rows = a.i64(6, "rows"), cols = a.i64(7, "cols");
    const bool accumulate = info.Length() > 8 && !info[8].IsUndefined() ? a.flag(8, "accumulate") : false;
    Storage* copy = a.opt_tensor(9, "gxCopy");
    size_t n = checked_product(a, {rows, cols}, "rows*cols");
    for (auto [s, nm] : {std::pair{x, "x"}, {w, "weight"}, {gy, "gy"}, {gx, "gx"}, {gw, "gw"}}) require_float_dtype(a, s, nm);
    require_dtype(a, rstd, "rstd", DType::F32);
    require_numel(a, x, "x", n);
    require_numel(a, gy, "gy", n);
    require_numel(a, gx, "gx", n);
    require_numel(a, w, "weight", (size_t)cols);
    require_numel(a, gw, "gw", (size_t)cols);
    require_numel(a, rstd, "rstd", (size_t)rows);
    if (copy) {
      require_float_dtype(a, copy, "gxCopy");
      require_dtype(a, gx, "gx (with gxCopy)", DType::F32);
      require_numel(a, copy, "gxCopy", n);
      require_same_device(a, {x, w, rstd, gy, gx, gw, copy});
      for (auto [s, nm] : {std::pair{x, "x"}, {w, "weight"}, {gy, "gy"}, {gx, "gx"}, {gw, "gw"}, {rstd, "rstd"}})
        if (s == copy) a.fail(std::string("'gxCopy' must be a buffer of its own, not also '") + nm + "'");
    } else {
      require_same_device(a, {x, w, rstd, gy, gx, gw});
    }
    if (x->device.type == DeviceType::CUDA) {
      cuda::rms_norm_backward(x->device.index, x->ptr, x->dtype, w->ptr, w->dtype, rstd->as<float>(), gy->ptr, gy->dtype,
                              gx->ptr, gx->dtype, gw->ptr, gw->dtype, rows, cols, accumulate, copy ? copy->ptr : nullptr,
                              copy ? copy->dtype : DType::F32);
      return info.Env().Undefined();
    }
    HalfStaging st;
    st.stage(gx, Stage::InOut);
    for (Storage* s : {x, w, rstd, gy}) st.stage(s, Stage::In);
    for (Storage* s : {gw, copy}) st.stage(s, Stage::Out);
    cpu::rms_norm_backward(x->as<float>(), w->as<float>(), rstd->as<float>(), gy->as<float>(), gx->as<float>(),
                           gw->as<float>(), rows, cols, accumulate);
    if (copy) std::memcpy(copy->ptr, gx->ptr, n * sizeof(float));  // staged float32: rounded once on commit
    st.commit();
    return info.Env().Undefined();
  });
  // rope(x, positions | null, out, rows, heads, dim, theta, sign, period, offset): row r's position is positions[r],
  // or offset + r % period without a positions buffer (rows of [batch, time] with time = period: nothing to upload).
  define_float(env, exports, "rope", {0}, {2}, [](const Napi::CallbackInfo& info) {
    Args a(info, "rope");
    Storage* x = a.tensor(0, "x");
    Storage* pos = a.opt_tensor(1, "positions");
    Storage* out = a.tensor(2, "out");
    int64_t rows = a.i64(3, "rows"), heads = a.i64(4, "heads"), dim = a.i64(5, "dim");
    float theta = (float)a.f64(6, "theta");
    float sign = (float)a.f64(7, "sign");
    int64_t period = 0, offset = 0;
    if (dim <= 0 || dim % 2) a.fail("head dim must be positive and even, got " + std::to_string(dim));
    if (!(theta > 0.f)) a.fail("theta must be positive");
    size_t n = checked_product(a, {rows, heads, dim}, "rows*heads*dim");
    require_float(a, x, "x");
    require_float(a, out, "out");
    require_numel(a, x, "x", n);
    require_numel(a, out, "out", n);
    if (pos) {
      require_dtype(a, pos, "positions", DType::I32);
      require_numel(a, pos, "positions", (size_t)rows);
      require_same_device(a, {x, pos, out});
    } else {
      period = a.i64(8, "period");
      offset = a.i64(9, "offset");
      if (period < 1) a.fail("without positions, period (the time axis) must be >= 1, got " + std::to_string(period));
      if (offset < 0 || offset + period - 1 > INT32_MAX)
        a.fail("positions offset.." + std::to_string(offset + period - 1) + " leave the int32 range");
      require_same_device(a, {x, out});
    }
    if (n == 0) return info.Env().Undefined();
    const int32_t* pp = pos ? pos->as<int32_t>() : nullptr;
    if (x->device.type == DeviceType::CUDA) {
      cuda::rope(x->device.index, x->ptr, x->dtype, pp, out->ptr, out->dtype, rows, heads, dim, theta, sign, period,
                 offset);
      return info.Env().Undefined();
    }
    cpu::rope(x->as<float>(), pp, out->as<float>(), rows, heads, dim, theta, sign, period, offset);
    return info.Env().Undefined();
  }, {}, {0, 2});
}

}  // namespace seekr
