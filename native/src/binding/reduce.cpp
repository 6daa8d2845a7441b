// Glue for reductions and softmax. On CUDA, reduceSum and softmax(+Backward) take their operands in their own float
// dtype; the other ops (and every op on the CPU) stage half buffers (define_float).
#include "binding/args.h"
#include "cpu/reduce.h"
#include "cuda/kernels.h"

namespace seekr {

struct Dims3 { int64_t outer, mid, inner; };
static Dims3 read_dims3(const Args& a, size_t i) {
  Dims3 d{a.i64(i, "outer"), a.i64(i + 1, "mid"), a.i64(i + 2, "inner")};
  if (d.outer < 0 || d.mid < 0 || d.inner < 0) a.fail("outer/mid/inner must be non-negative");
  checked_product(a, {d.outer, d.mid, d.inner}, "outer*mid*inner");
  return d;
}

void register_reduce(Napi::Env env, Napi::Object exports) {
  // reduceSum(x, out, outer, mid, inner, scale): out[o, i] = scale * sum_m x[o, m, i]
  define_float(env, exports, "reduceSum", {0}, {1}, [](const Napi::CallbackInfo& info) {
    Args a(info, "sum");
    Storage* x = a.tensor(0, "x");
    Storage* out = a.tensor(1, "out");
    Dims3 d = read_dims3(a, 2);
    float scale = (float)a.f64(5, "scale");
    require_float(a, x, "x");
    require_float(a, out, "out");
    require_numel(a, x, "x", (size_t)(d.outer * d.mid * d.inner));
    require_numel(a, out, "out", (size_t)(d.outer * d.inner));
    require_same_device(a, {x, out});
    if (x->device.type == DeviceType::CUDA) {
      cuda::reduce_sum(x->device.index, x->ptr, x->dtype, out->ptr, out->dtype, d.outer, d.mid, d.inner, scale);
      return info.Env().Undefined();
    }
    cpu::reduce_sum(x->as<float>(), out->as<float>(), d.outer, d.mid, d.inner, scale);
    return info.Env().Undefined();
  }, {}, {0, 1});
  // reduceMax(x, vals, idx, outer, mid, inner)
  define_float(env, exports, "reduceMax", {0}, {1}, [](const Napi::CallbackInfo& info) {
    Args a(info, "max");
    Storage* x = a.tensor(0, "x");
    Storage* vals = a.tensor(1, "values");
    Storage* idx = a.tensor(2, "indices");
    Dims3 d = read_dims3(a, 3);
    if (d.mid == 0) a.fail("cannot take the max over an empty axis");
    require_dtype(a, x, "x", DType::F32);
    require_dtype(a, vals, "values", DType::F32);
    require_dtype(a, idx, "indices", DType::I32);
    require_numel(a, x, "x", (size_t)(d.outer * d.mid * d.inner));
    require_numel(a, vals, "values", (size_t)(d.outer * d.inner));
    require_numel(a, idx, "indices", (size_t)(d.outer * d.inner));
    require_same_device(a, {x, vals, idx});
    if (x->device.type == DeviceType::CUDA) {
      cuda::reduce_max(x->device.index, x->as<float>(), vals->as<float>(), idx->as<int32_t>(), d.outer, d.mid, d.inner);
      return info.Env().Undefined();
    }
    cpu::reduce_max(x->as<float>(), vals->as<float>(), idx->as<int32_t>(), d.outer, d.mid, d.inner);
    return info.Env().Undefined();
  });
  // maxBackward(gy, idx, gx, outer, mid, inner)
  define_float(env, exports, "maxBackward", {0}, {2}, [](const Napi::CallbackInfo& info) {
    Args a(info, "maxBackward");
    Storage* gy = a.tensor(0, "gy");
    Storage* idx = a.tensor(1, "indices");
    Storage* gx = a.tensor(2, "gx");
    Dims3 d = read_dims3(a, 3);
    require_dtype(a, gy, "gy", DType::F32);
    require_dtype(a, idx, "indices", DType::I32);
    require_dtype(a, gx, "gx", DType::F32);
    require_numel(a, gy, "gy", (size_t)(d.outer * d.inner));
    require_numel(a, idx, "indices", (size_t)(d.outer * d.inner));
    require_numel(a, gx, "gx", (size_t)(d.outer * d.mid * d.inner));
    require_same_device(a, {gy, idx, gx});
    const bool on_cuda = gx->device.type == DeviceType::CUDA;
    std::vector<int32_t> host_idx;
    if (on_cuda) host_idx = int32_values_on_host(idx);  // validated on a host copy, used on the device
    const int32_t* ip = on_cuda ? host_idx.data() : idx->as<int32_t>();
    for (size_t i = 0; i < idx->numel; ++i)
      if (ip[i] < 0 || ip[i] >= d.mid) a.fail("index " + std::to_string(ip[i]) + " out of range [0, " + std::to_string(d.mid) + ")");
    if (on_cuda) {
      cuda::max_backward(gx->device.index, gy->as<float>(), idx->as<int32_t>(), gx->as<float>(), d.outer, d.mid, d.inner);
      return info.Env().Undefined();
    }
    cpu::max_backward(gy->as<float>(), ip, gx->as<float>(), d.outer, d.mid, d.inner);
    return info.Env().Undefined();
  });
  // softmax(x, y, rows, cols, log)
  define_float(env, exports, "softmax", {0}, {1}, [](const Napi::CallbackInfo& info) {
    Args a(info, "softmax");
    Storage* x = a.tensor(0, "x");
    Storage* y = a.tensor(1, "y");
    int64_t rows = a.i64(2, "rows"), cols = a.i64(3, "cols");
    bool log = a.flag(4, "log");
    size_t n = checked_product(a, {rows, cols}, "rows*cols");
    require_float(a, x, "x");
    require_float(a, y, "y");
    require_numel(a, x, "x", n);
    require_numel(a, y, "y", n);
    require_same_device(a, {x, y});
    if (n == 0) return info.Env().Undefined();
    if (x->device.type == DeviceType::CUDA) {
      cuda::softmax(x->device.index, x->ptr, x->dtype, y->ptr, y->dtype, rows, cols, log);
      return info.Env().Undefined();
    }
    cpu::softmax(x->as<float>(), y->as<float>(), rows, cols, log);
    return info.Env().Undefined();
  }, {}, {0, 1});
  // softmaxBackward(y, gy, gx, rows, cols, log)
  define_float(env, exports, "softmaxBackward", {0, 1}, {2}, [](const Napi::CallbackInfo& info) {
    Args a(info, "softmaxBackward");
    Storage* y = a.tensor(0, "y");
    Storage* gy = a.tensor(1, "gy");
    Storage* gx = a.tensor(2, "gx");
    int64_t rows = a.i64(3, "rows"), cols = a.i64(4, "cols");
    bool log = a.flag(5, "log");
    size_t n = checked_product(a, {rows, cols}, "rows*cols");
    for (auto [s, nm] : {std::pair{y, "y"}, {gy, "gy"}, {gx, "gx"}}) {
      require_float(a, s, nm);
      require_numel(a, s, nm, n);
    }
    require_same_device(a, {y, gy, gx});
    if (n == 0) return info.Env().Undefined();
    if (y->device.type == DeviceType::CUDA) {
      cuda::softmax_backward(y->device.index, y->ptr, y->dtype, gy->ptr, gy->dtype, gx->ptr, gx->dtype, rows, cols, log);
      return info.Env().Undefined();
    }
    cpu::softmax_backward(y->as<float>(), gy->as<float>(), gx->as<float>(), rows, cols, log);
    return info.Env().Undefined();
  }, {}, {0, 1, 2});
  // sumSquaresMany([x...]) -> number[]: sumSquares of each float32 buffer, one device read-back for all (gradient
  // norms: clipGradNorm, GradScaler).
  define(env, exports, "sumSquaresMany", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "sumSquaresMany");
    const std::vector<Storage*> xs = a.tensors(0, "xs");
    for (size_t i = 0; i < xs.size(); ++i) {
      const std::string name = "xs[" + std::to_string(i) + "]";
      require_dtype(a, xs[i], name.c_str(), DType::F32);
      if (i > 0 && !(xs[i]->device == xs[0]->device)) a.fail("'" + name + "' is on " + xs[i]->device.str() + ", 'xs[0]' on " + xs[0]->device.str());
    }
    std::vector<double> sums(xs.size(), 0.0);
    if (!xs.empty() && xs[0]->device.type == DeviceType::CUDA) {
      std::vector<std::pair<const float*, int64_t>> spans;
      for (Storage* s : xs) spans.emplace_back(s->as<float>(), (int64_t)s->numel);
      sums = cuda::sum_squares_many(xs[0]->device.index, spans);
    } else {
      for (size_t i = 0; i < xs.size(); ++i) sums[i] = cpu::sum_squares(xs[i]->as<float>(), (int64_t)xs[i]->numel);
    }
    Napi::Array out = Napi::Array::New(info.Env(), sums.size());
    for (uint32_t i = 0; i < sums.size(); ++i) out.Set(i, Napi::Number::New(info.Env(), sums[i]));
    return out;
  });
  // sumSquares(x) -> number (double precision, fixed order)
  define_float(env, exports, "sumSquares", {0}, {}, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "sumSquares");
    Storage* x = a.tensor(0, "x");
    require_dtype(a, x, "x", DType::F32);
    if (x->device.type == DeviceType::CUDA)
      return Napi::Number::New(info.Env(), cuda::sum_squares(x->device.index, x->as<float>(), (int64_t)x->numel));
    return Napi::Number::New(info.Env(), cpu::sum_squares(x->as<float>(), (int64_t)x->numel));
  });
}

}  // namespace seekr
