// Glue for fused causal attention: attention(q, k, v, out, lse, B, T, H, Hkv, D, causal, scale) and its backward.
#include "binding/args.h"
#include "cpu/attention.h"

namespace seekr {

static cpu::AttnShape read_shape(const Args& a, size_t i) {
  cpu::AttnShape s;
  s.B = a.i64(i, "B");
  s.T = a.i64(i + 1, "T");
  s.H = a.i64(i + 2, "H");
  s.Hkv = a.i64(i + 3, "Hkv");
  s.D = a.i64(i + 4, "D");
  s.causal = a.flag(i + 5, "causal");
  s.scale = (float)a.f64(i + 6, "scale");
  if (s.B < 0 || s.T < 0 || s.D < 0) a.fail("B, T, D must be non-negative");
  if (s.H <= 0 || s.Hkv <= 0) a.fail("head counts must be positive");
  if (s.H % s.Hkv) a.fail("query heads (" + std::to_string(s.H) + ") must be a multiple of kv heads (" + std::to_string(s.Hkv) + ")");
  checked_product(a, {s.B, s.T, s.H, s.D}, "B*T*H*D");
  return s;
}

void register_attention(Napi::Env env, Napi::Object exports) {
  define(env, exports, "attention", [](const Napi::CallbackInfo& info) {
    Args a(info, "attention");
    Storage* q = a.tensor(0, "q");
    Storage* k = a.tensor(1, "k");
    Storage* v = a.tensor(2, "v");
    Storage* out = a.tensor(3, "out");
    Storage* lse = a.tensor(4, "lse");
    cpu::AttnShape s = read_shape(a, 5);
    size_t nq = (size_t)(s.B * s.T * s.H * s.D), nk = (size_t)(s.B * s.T * s.Hkv * s.D);
    for (auto [st, nm] : {std::pair{q, "q"}, {k, "k"}, {v, "v"}, {out, "out"}, {lse, "lse"}}) require_dtype(a, st, nm, DType::F32);
    require_numel(a, q, "q", nq);
    require_numel(a, out, "out", nq);
    require_numel(a, k, "k", nk);
    require_numel(a, v, "v", nk);
    require_numel(a, lse, "lse", (size_t)(s.B * s.H * s.T));
    require_same_device(a, {q, k, v, out, lse});
    require_cpu(a, q);
    cpu::attention_forward(s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>());
    return info.Env().Undefined();
  });
  define(env, exports, "attentionBackward", [](const Napi::CallbackInfo& info) {
    Args a(info, "attentionBackward");
    Storage* q = a.tensor(0, "q");
    Storage* k = a.tensor(1, "k");
    Storage* v = a.tensor(2, "v");
    Storage* out = a.tensor(3, "out");
    Storage* lse = a.tensor(4, "lse");
    Storage* dout = a.tensor(5, "dout");
    Storage* dq = a.tensor(6, "dq");
    Storage* dk = a.tensor(7, "dk");
    Storage* dv = a.tensor(8, "dv");
    cpu::AttnShape s = read_shape(a, 9);
    size_t nq = (size_t)(s.B * s.T * s.H * s.D), nk = (size_t)(s.B * s.T * s.Hkv * s.D);
    for (auto [st, nm] : {std::pair{q, "q"}, {k, "k"}, {v, "v"}, {out, "out"}, {lse, "lse"}, {dout, "dout"}, {dq, "dq"},
                          {dk, "dk"}, {dv, "dv"}})
      require_dtype(a, st, nm, DType::F32);
    for (auto [st, nm] : {std::pair{q, "q"}, {out, "out"}, {dout, "dout"}, {dq, "dq"}}) require_numel(a, st, nm, nq);
    for (auto [st, nm] : {std::pair{k, "k"}, {v, "v"}, {dk, "dk"}, {dv, "dv"}}) require_numel(a, st, nm, nk);
    require_numel(a, lse, "lse", (size_t)(s.B * s.H * s.T));
    require_same_device(a, {q, k, v, out, lse, dout, dq, dk, dv});
    require_cpu(a, q);
    cpu::attention_backward(s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>(),
                            dout->as<float>(), dq->as<float>(), dk->as<float>(), dv->as<float>());
    return info.Env().Undefined();
  });
}

}  // namespace seekr
