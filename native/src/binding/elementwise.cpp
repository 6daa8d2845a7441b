// Glue for elementwise kernels: binary (broadcast by strides), unary, unaryGrad, where, swiglu, swigluBackward. On CUDA every float operand is
// passed in its own dtype (float32, bfloat16, float16); on the CPU half buffers are staged (define_float).
#include "binding/args.h"
#include "cpu/elementwise.h"
#include "cpu/strided.h"
#include "cuda/kernels.h"

namespace seekr {

// Validates a strided float operand over `shape` (float32; bfloat16 / float16 too on CUDA).
static void check_operand(const Args& a, const Storage* s, const char* name, const std::vector<int64_t>& strides,
                          const std::vector<int64_t>& shape) {
  require_float(a, s, name);
  if (strides.size() != shape.size())
    a.fail(std::string("'") + name + "' strides have rank " + std::to_string(strides.size()) + ", shape has rank " +
           std::to_string(shape.size()));
  if (!cpu::strided_in_bounds(shape, strides, 0, (int64_t)s->numel))
    a.fail(std::string("'") + name + "' strides reach outside its buffer of " + std::to_string(s->numel) + " elements");
}

void register_elementwise(Napi::Env env, Napi::Object exports) {
  // binary(op, a, aStrides, b, bStrides, out, shape)
  define_float(env, exports, "binary", {1, 3}, {5}, [](const Napi::CallbackInfo& info) {
    Args a(info, "binary");
    int64_t op = a.i64(0, "op");
    if (op < 0 || op >= cpu::NUM_BINARY) a.fail("unknown binary op code " + std::to_string(op));
    Args b(info, cpu::binary_name((int)op));
    Storage* x = b.tensor(1, "a");
    auto xs = b.ints(2, "aStrides");
    Storage* y = b.tensor(3, "b");
    auto ys = b.ints(4, "bStrides");
    Storage* out = b.tensor(5, "out");
    auto shape = b.ints(6, "shape");
    require_numel(b, out, "out", checked_product(b, shape, "shape"));
    require_float(b, out, "out");
    check_operand(b, x, "a", xs, shape);
    check_operand(b, y, "b", ys, shape);
    require_same_device(b, {x, y, out});
    if (out->device.type == DeviceType::CUDA) {
      cuda::binary(out->device.index, (int)op, x->ptr, x->dtype, xs, y->ptr, y->dtype, ys, out->ptr, out->dtype, shape);
      return info.Env().Undefined();
    }
    cpu::binary((int)op, x->as<float>(), xs, y->as<float>(), ys, out->as<float>(), shape);
    return info.Env().Undefined();
  }, {}, {1, 3, 5});
  // unary(op, x, out, p)
  define_float(env, exports, "unary", {1}, {2}, [](const Napi::CallbackInfo& info) {
    Args a(info, "unary");
    int64_t op = a.i64(0, "op");
    if (op < 0 || op >= cpu::NUM_UNARY) a.fail("unknown unary op code " + std::to_string(op));
    Args b(info, cpu::unary_name((int)op));
    Storage* x = b.tensor(1, "x");
    Storage* out = b.tensor(2, "out");
    float p = (float)b.f64(3, "p");
    require_float(b, x, "x");
    require_float(b, out, "out");
    require_numel(b, out, "out", x->numel);
    require_same_device(b, {x, out});
    if (out->device.type == DeviceType::CUDA) {
      cuda::unary(out->device.index, (int)op, x->ptr, x->dtype, out->ptr, out->dtype, (int64_t)x->numel, p);
      return info.Env().Undefined();
    }
    cpu::unary((int)op, x->as<float>(), out->as<float>(), (int64_t)x->numel, p);
    return info.Env().Undefined();
  }, {}, {1, 2});
  // unaryGrad(op, x, gy, gx, p): gx = op'(x) * gy
  define_float(env, exports, "unaryGrad", {1, 2}, {3}, [](const Napi::CallbackInfo& info) {
    Args a(info, "unaryGrad");
    int64_t op = a.i64(0, "op");
    if (op < 0 || op >= cpu::NUM_UNARY) a.fail("unknown unary op code " + std::to_string(op));
    Args b(info, cpu::unary_name((int)op));
    Storage* x = b.tensor(1, "x");
    Storage* gy = b.tensor(2, "gy");
    Storage* gx = b.tensor(3, "gx");
    float p = (float)b.f64(4, "p");
    for (auto [s, n] : {std::pair{x, "x"}, {gy, "gy"}, {gx, "gx"}}) {
      require_float(b, s, n);
      require_numel(b, s, n, x->numel);
    }
    require_same_device(b, {x, gy, gx});
    if (gx->device.type == DeviceType::CUDA) {
      cuda::unary_grad(gx->device.index, (int)op, x->ptr, x->dtype, gy->ptr, gy->dtype, gx->ptr, gx->dtype,
                       (int64_t)x->numel, p);
      return info.Env().Undefined();
    }
    cpu::unary_grad((int)op, x->as<float>(), gy->as<float>(), gx->as<float>(), (int64_t)x->numel, p);
    return info.Env().Undefined();
  }, {}, {1, 2, 3});
  // where(cond, cStrides, a, aStrides, b, bStrides, out, shape)
  define_float(env, exports, "where", {0, 2, 4}, {6}, [](const Napi::CallbackInfo& info) {
    Args a(info, "where");
    Storage* c = a.tensor(0, "cond");
    auto cs = a.ints(1, "condStrides");
    Storage* x = a.tensor(2, "a");
    auto xs = a.ints(3, "aStrides");
    Storage* y = a.tensor(4, "b");
    auto ys = a.ints(5, "bStrides");
    Storage* out = a.tensor(6, "out");
    auto shape = a.ints(7, "shape");
    require_numel(a, out, "out", checked_product(a, shape, "shape"));
    require_float(a, out, "out");
    check_operand(a, c, "cond", cs, shape);
    check_operand(a, x, "a", xs, shape);
    check_operand(a, y, "b", ys, shape);
    require_same_device(a, {c, x, y, out});
    if (out->device.type == DeviceType::CUDA) {
      cuda::where(out->device.index, c->ptr, c->dtype, cs, x->ptr, x->dtype, xs, y->ptr, y->dtype, ys, out->ptr,
                  out->dtype, shape);
      return info.Env().Undefined();
    }
    cpu::where(c->as<float>(), cs, x->as<float>(), xs, y->as<float>(), ys, out->as<float>(), shape);
    return info.Env().Undefined();
  }, {}, {0, 2, 4, 6});
  // swiglu(gate, up, out): out = silu(gate) * up, every buffer the same number of elements
  define_float(env, exports, "swiglu", {0, 1}, {2}, [](const Napi::CallbackInfo& info) {
    Args a(info, "swiglu");
    Storage* gate = a.tensor(0, "gate");
    Storage* up = a.tensor(1, "up");
    Storage* out = a.tensor(2, "out");
    for (auto [s, n] : {std::pair{gate, "gate"}, {up, "up"}, {out, "out"}}) {
      require_float(a, s, n);
      require_numel(a, s, n, gate->numel);
    }
    require_same_device(a, {gate, up, out});
    if (out->device.type == DeviceType::CUDA) {
      cuda::swiglu(out->device.index, gate->ptr, gate->dtype, up->ptr, up->dtype, out->ptr, out->dtype,
                   (int64_t)gate->numel);
      return info.Env().Undefined();
    }
    cpu::swiglu(gate->as<float>(), up->as<float>(), out->as<float>(), (int64_t)gate->numel);
    return info.Env().Undefined();
  }, {}, {0, 1, 2});
  // swigluBackward(gate, up, gy, ggate, gup): ggate = silu'(gate) * gy * up, gup = gy * silu(gate) (both overwritten)
  define_float(env, exports, "swigluBackward", {0, 1, 2}, {3, 4}, [](const Napi::CallbackInfo& info) {
    Args a(info, "swigluBackward");
    Storage* gate = a.tensor(0, "gate");
    Storage* up = a.tensor(1, "up");
    Storage* gy = a.tensor(2, "gy");
    Storage* ggate = a.tensor(3, "ggate");
    Storage* gup = a.tensor(4, "gup");
    for (auto [s, n] : {std::pair{gate, "gate"}, {up, "up"}, {gy, "gy"}, {ggate, "ggate"}, {gup, "gup"}}) {
      require_float(a, s, n);
      require_numel(a, s, n, gate->numel);
    }
    for (auto [s, n] : {std::pair{gate, "gate"}, {up, "up"}, {gy, "gy"}, {gup, "gup"}})
      if (s == ggate) a.fail(std::string("'ggate' must not be the same buffer as '") + n + "'");
    for (auto [s, n] : {std::pair{gate, "gate"}, {up, "up"}, {gy, "gy"}})
      if (s == gup) a.fail(std::string("'gup' must not be the same buffer as '") + n + "'");
    require_same_device(a, {gate, up, gy, ggate, gup});
    if (ggate->device.type == DeviceType::CUDA) {
      cuda::swiglu_backward(ggate->device.index, gate->ptr, gate->dtype, up->ptr, up->dtype, gy->ptr, gy->dtype,
                            ggate->ptr, ggate->dtype, gup->ptr, gup->dtype, (int64_t)gate->numel);
      return info.Env().Undefined();
    }
    cpu::swiglu_backward(gate->as<float>(), up->as<float>(), gy->as<float>(), ggate->as<float>(), gup->as<float>(),
                         (int64_t)gate->numel);
    return info.Env().Undefined();
  }, {}, {0, 1, 2, 3, 4});
}

}  // namespace seekr
