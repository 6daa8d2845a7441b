// Glue for in-place updates: adamw, sgd, scaleInPlace, axpyInPlace.
#include "binding/args.h"
#include "cpu/convert.h"
#include "cpu/optim.h"
#include "cuda/kernels.h"

namespace seekr {

void register_optim(Napi::Env env, Napi::Object exports) {
  // adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step)
  define_float(env, exports, "adamw", {1}, {}, [](const Napi::CallbackInfo& info) {
    Args a(info, "adamw");
    Storage* p = a.tensor(0, "param");
    Storage* g = a.tensor(1, "grad");
    Storage* m = a.tensor(2, "expAvg");
    Storage* v = a.tensor(3, "expAvgSq");
    float lr = (float)a.f64(4, "lr"), b1 = (float)a.f64(5, "beta1"), b2 = (float)a.f64(6, "beta2");
    float eps = (float)a.f64(7, "eps"), wd = (float)a.f64(8, "weightDecay");
    int64_t step = a.i64(9, "step");
    if (step < 1) a.fail("step must be >= 1, got " + std::to_string(step));
    for (auto [s, nm] : {std::pair{p, "param"}, {g, "grad"}, {m, "expAvg"}, {v, "expAvgSq"}}) {
      require_dtype(a, s, nm, DType::F32);
      require_numel(a, s, nm, p->numel);
    }
    require_same_device(a, {p, g, m, v});
    if (p->device.type == DeviceType::CUDA) {
      cuda::adamw(p->device.index, p->as<float>(), g->as<float>(), m->as<float>(), v->as<float>(), (int64_t)p->numel, lr, b1, b2, eps, wd, step);
      return info.Env().Undefined();
    }
    cpu::adamw(p->as<float>(), g->as<float>(), m->as<float>(), v->as<float>(), (int64_t)p->numel, lr, b1, b2, eps, wd, step);
    return info.Env().Undefined();
  }, {0, 2, 3});
  // adamwMany(params[], grads[], ms[], vs[], lr, beta1, beta2, eps, weightDecay, step, copies?): adamw on each
  // quadruple, all float32 on one device, in one call (an optimizer step over a model's ~100 parameters costs one
  // crossing from JS). copies: null, or one entry per parameter, null or a bfloat16 / float16 buffer that also receives
  // the updated parameter rounded to its dtype (the parameter's low-precision copy for autocast; in the same pass on
  // CUDA, the bits of a cast).
  define(env, exports, "adamwMany", [](const Napi::CallbackInfo& info) {
    Args a(info, "adamwMany");
    const std::vector<Storage*> ps = a.tensors(0, "params"), gs = a.tensors(1, "grads"), ms = a.tensors(2, "expAvgs"),
                                vs = a.tensors(3, "expAvgSqs");
    float lr = (float)a.f64(4, "lr"), b1 = (float)a.f64(5, "beta1"), b2 = (float)a.f64(6, "beta2");
    float eps = (float)a.f64(7, "eps"), wd = (float)a.f64(8, "weightDecay");
    int64_t step = a.i64(9, "step");
    if (step < 1) a.fail("step must be >= 1, got " + std::to_string(step));
    if (gs.size() != ps.size() || ms.size() != ps.size() || vs.size() != ps.size())
      a.fail("params, grads, expAvgs and expAvgSqs must have the same length, got " + std::to_string(ps.size()) + ", " +
             std::to_string(gs.size()) + ", " + std::to_string(ms.size()) + ", " + std::to_string(vs.size()));
    for (size_t i = 0; i < ps.size(); ++i) {
      const std::string k = "[" + std::to_string(i) + "]";
      for (auto [s, nm] : {std::pair{ps[i], "params"}, {gs[i], "grads"}, {ms[i], "expAvgs"}, {vs[i], "expAvgSqs"}}) {
        require_dtype(a, s, (nm + k).c_str(), DType::F32);
        require_numel(a, s, (nm + k).c_str(), ps[i]->numel);
      }
      require_same_device(a, {ps[0], ps[i], gs[i], ms[i], vs[i]});
    }
    std::vector<Storage*> cs = a.opt_tensors(10, "copies");
    if (cs.empty()) cs.assign(ps.size(), nullptr);
    else if (cs.size() != ps.size())
      a.fail("copies has " + std::to_string(cs.size()) + " entries for " + std::to_string(ps.size()) + " params");
    for (size_t k = 0; k < cs.size(); ++k) {
      Storage* c = cs[k];
      if (!c) continue;
      const std::string nm = "copies[" + std::to_string(k) + "]";
      if (!is_half(c->dtype)) a.fail("'" + nm + "' has dtype " + dtype_name(c->dtype) + ", expected bfloat16 or float16");
      require_numel(a, c, nm.c_str(), ps[k]->numel);
      require_same_device(a, {ps[k], c});
      if (c == ps[k] || c == gs[k] || c == ms[k] || c == vs[k]) a.fail("'" + nm + "' must be a buffer of its own");
    }
    if (!ps.empty() && ps[0]->device.type == DeviceType::CUDA) {  // one launch for all of them
      std::vector<cuda::AdamWTensor> ts;
      ts.reserve(ps.size());
      for (size_t i = 0; i < ps.size(); ++i)
        ts.push_back({ps[i]->as<float>(), gs[i]->as<float>(), ms[i]->as<float>(), vs[i]->as<float>(), (int64_t)ps[i]->numel,
                      cs[i] ? cs[i]->ptr : nullptr, cs[i] ? cs[i]->dtype : DType::F32});
      cuda::adamw_many(ps[0]->device.index, ts, lr, b1, b2, eps, wd, step);
      return info.Env().Undefined();
    }
    for (size_t i = 0; i < ps.size(); ++i) {
      Storage *p = ps[i], *g = gs[i], *m = ms[i], *v = vs[i];
      cpu::adamw(p->as<float>(), g->as<float>(), m->as<float>(), v->as<float>(), (int64_t)p->numel, lr, b1, b2, eps, wd, step);
      if (cs[i]) cpu::convert(p->ptr, DType::F32, cs[i]->ptr, cs[i]->dtype, (int64_t)p->numel);
    }
    return info.Env().Undefined();
  });
  // scaleMany(xs[], scale): x *= scale for each float32 buffer (gradient clipping, loss unscaling).
  define(env, exports, "scaleMany", [](const Napi::CallbackInfo& info) {
    Args a(info, "scaleMany");
    const std::vector<Storage*> xs = a.tensors(0, "xs");
    float s = (float)a.f64(1, "scale");
    for (size_t i = 0; i < xs.size(); ++i) require_dtype(a, xs[i], ("xs[" + std::to_string(i) + "]").c_str(), DType::F32);
    // The CUDA buffers of each device in one launch; CPU buffers one by one.
    std::vector<std::pair<float*, int64_t>> per_device[kMaxCudaDevices];
    for (Storage* x : xs) {
      if (x->device.type == DeviceType::CUDA) per_device[x->device.index].push_back({x->as<float>(), (int64_t)x->numel});
      else cpu::scale_inplace(x->as<float>(), (int64_t)x->numel, s);
    }
    for (int d = 0; d < kMaxCudaDevices; ++d)
      if (!per_device[d].empty()) cuda::scale_many(d, per_device[d], s);
    return info.Env().Undefined();
  });
  // sgd(param, grad, buf, lr, momentum, dampening, weightDecay, nesterov, firstStep)
  define_float(env, exports, "sgd", {1}, {}, [](const Napi::CallbackInfo& info) {
    Args a(info, "sgd");
    Storage* p = a.tensor(0, "param");
    Storage* g = a.tensor(1, "grad");
    Storage* buf = a.tensor(2, "momentumBuffer");
    float lr = (float)a.f64(3, "lr"), mom = (float)a.f64(4, "momentum"), damp = (float)a.f64(5, "dampening");
    float wd = (float)a.f64(6, "weightDecay");
    bool nesterov = a.flag(7, "nesterov"), first = a.flag(8, "firstStep");
    for (auto [s, nm] : {std::pair{p, "param"}, {g, "grad"}, {buf, "momentumBuffer"}}) {
      require_dtype(a, s, nm, DType::F32);
      require_numel(a, s, nm, p->numel);
    }
    require_same_device(a, {p, g, buf});
    if (p->device.type == DeviceType::CUDA) {
      cuda::sgd(p->device.index, p->as<float>(), g->as<float>(), buf->as<float>(), (int64_t)p->numel, lr, mom, damp, wd, nesterov, first);
      return info.Env().Undefined();
    }
    cpu::sgd(p->as<float>(), g->as<float>(), buf->as<float>(), (int64_t)p->numel, lr, mom, damp, wd, nesterov, first);
    return info.Env().Undefined();
  }, {0, 2});
  define_float(env, exports, "scaleInPlace", {}, {}, [](const Napi::CallbackInfo& info) {
    Args a(info, "scaleInPlace");
    Storage* x = a.tensor(0, "x");
    float s = (float)a.f64(1, "scale");
    require_dtype(a, x, "x", DType::F32);
    if (x->device.type == DeviceType::CUDA) {
      cuda::scale_inplace(x->device.index, x->as<float>(), (int64_t)x->numel, s);
      return info.Env().Undefined();
    }
    cpu::scale_inplace(x->as<float>(), (int64_t)x->numel, s);
    return info.Env().Undefined();
  }, {0});
  // axpyInPlace(y, x, alpha): y += alpha * x
  define_float(env, exports, "axpyInPlace", {1}, {}, [](const Napi::CallbackInfo& info) {
    Args a(info, "axpyInPlace");
    Storage* y = a.tensor(0, "y");
    Storage* x = a.tensor(1, "x");
    float alpha = (float)a.f64(2, "alpha");
    require_dtype(a, y, "y", DType::F32);
    require_dtype(a, x, "x", DType::F32);
    require_numel(a, x, "x", y->numel);
    require_same_device(a, {x, y});
    if (y->device.type == DeviceType::CUDA) {
      cuda::axpy_inplace(y->device.index, y->as<float>(), x->as<float>(), (int64_t)y->numel, alpha);
      return info.Env().Undefined();
    }
    cpu::axpy_inplace(y->as<float>(), x->as<float>(), (int64_t)y->numel, alpha);
    return info.Env().Undefined();
  }, {0});
}

}  // namespace seekr
