// Glue for the attention kernels: fused attention with taps / sensitivity, its backward, the distillation loss.
//   attention(q, k, v, out, lse, B, Tq, Tk, H, Hkv, D, causal, scale, keyMask?, tapHeads?, tapRows?, taps?, variant,
//             tapHeadsHost?, tapRowsHost?)
//   attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, B, Tq, Tk, H, Hkv, D, causal, scale, keyMask?, sens?,
//                     sensAll, variant)
//   attentionDistill(q, k, keyMask?, heads, rows, teacher, B, Tq, Tk, H, Hkv, D, causal, scale, variant, out?, factor,
//                    headsHost?, rowsHost?) -> sum of KL (undefined with out: out[0] = factor * sum, on q's device)
//   attentionDistillBackward(q, k, keyMask?, heads, rows, teacher, gy, factor, dq, dk, B, Tq, Tk, H, Hkv, D, causal,
//                            scale, variant, headsHost?, rowsHost?)
// *Host: the index lists' host copies (Int32Array), so a GPU call validates them without a download (which waits
// for the device).
// variant: 0 = fast (threaded, GEMM panels), 1 = plain reference.
#include "binding/args.h"
#include "cpu/attention.h"
#include "cuda/attention.h"
#include "cuda/attention_tc.h"
#include "cuda/backend.h"

#include <vector>

namespace seekr {

static cpu::AttnShape read_shape(const Args& a, size_t i) {
  cpu::AttnShape s;
  s.B = a.i64(i, "B");
  s.Tq = a.i64(i + 1, "Tq");
  s.Tk = a.i64(i + 2, "Tk");
  s.H = a.i64(i + 3, "H");
  s.Hkv = a.i64(i + 4, "Hkv");
  s.D = a.i64(i + 5, "D");
  s.causal = a.flag(i + 6, "causal");
  s.scale = (float)a.f64(i + 7, "scale");
  if (s.B < 0 || s.Tq < 0 || s.Tk < 0) a.fail("B, Tq, Tk must be non-negative");
  if (s.D <= 0 || s.D > 65536) a.fail("head dim must be in [1, 65536], got " + std::to_string(s.D));
  if (s.H <= 0 || s.Hkv <= 0 || s.H > (1 << 20)) a.fail("head counts must be in [1, 2^20]");
  if (s.H % s.Hkv) a.fail("query heads (" + std::to_string(s.H) + ") must be a multiple of kv heads (" + std::to_string(s.Hkv) + ")");
  checked_product(a, {s.B, s.Tq, s.H, s.D}, "B*Tq*H*D");
  checked_product(a, {s.B, s.Tk, s.H, s.D}, "B*Tk*H*D");
  checked_product(a, {s.B, s.Tq, s.Tk}, "B*Tq*Tk");
  return s;
}

// Sizes of q, k, v (v optional) for the shape; their dtype too unless the caller took half buffers (f32 = false).
static void check_qkv(const Args& a, const cpu::AttnShape& s, Storage* q, Storage* k, Storage* v, bool f32 = true) {
  for (auto [st, nm] : {std::pair{q, "q"}, {k, "k"}, {v, "v"}}) {
    if (!st || !f32) continue;
    require_dtype(a, st, nm, DType::F32);
  }
  require_numel(a, q, "q", (size_t)(s.B * s.Tq * s.H * s.D));
  require_numel(a, k, "k", (size_t)(s.B * s.Tk * s.Hkv * s.D));
  if (v) require_numel(a, v, "v", (size_t)(s.B * s.Tk * s.Hkv * s.D));
}

static const float* read_mask(const Args& a, Storage* m, const cpu::AttnShape& s) {
  if (!m) return nullptr;
  require_dtype(a, m, "keyMask", DType::F32);
  require_numel(a, m, "keyMask", (size_t)(s.B * s.Tk));
  return m->as<float>();
}

// Every entry of an int32 index list in [0, hi_excl), checked on the host: on a GPU from the caller's host copy at
// argument host_i (an Int32Array, "<name>Host") when given, else from a download, which waits for the device.
static void check_index_list(const Args& a, Storage* t, const char* name, int64_t hi_excl, size_t host_i) {
  require_dtype(a, t, name, DType::I32);
  const std::string host_name = std::string(name) + "Host";
  const HostInt32 host = host_int32(a, host_i, t, host_name.c_str(), "indices");
  const int32_t* p = host.p;
  for (size_t i = 0; i < t->numel; ++i)
    if (p[i] < 0 || p[i] >= hi_excl)
      a.fail(std::string("'") + name + "' entry " + std::to_string(p[i]) + " at position " + std::to_string(i) +
             " is out of range [0, " + std::to_string(hi_excl) + ")");
}

static int64_t read_variant(const Args& a, size_t i, bool allow_tensor_cores = false) {
  int64_t v = a.i64(i, "variant");
  if (v != 0 && v != 1 && !(allow_tensor_cores && v == 2))
    a.fail(std::string("variant must be 0 (fast) or 1 (reference)") + (allow_tensor_cores ? " or 2 (tensor cores, CUDA)" : ""));
  return v;
}


// bf16 / f16 q, k, v of one dtype on a CUDA device, in a shape the tensor-core kernels take: they read and write the
// half buffers directly (no float32 copies). Everything else goes through HalfStaging to the float32 kernels.
static bool tensor_core_path(const cpu::AttnShape& s, const Storage* q, const Storage* k, const Storage* v, const Storage* mask) {
  return q->device.type == DeviceType::CUDA && is_half(q->dtype) && k->dtype == q->dtype && v->dtype == q->dtype &&
         (!mask || mask->dtype == DType::F32) && cuda::attention_tc_supported(s);
}

// attentionDistill(Backward) on the tensor-core kernels: bf16 / f16 q and k of one dtype on a CUDA device, float32
// teacher and keyMask, a shape they take (read at shape_i), variant 0, and the float32 buffer at f32_i (the forward's
// device loss, the backward's gy) given. Decided before any staging, from the raw buffers.
static bool distill_tc_path(const Args& a, size_t shape_i, size_t variant_i, size_t f32_i) {
  const Napi::CallbackInfo& info = a.info;
  Storage* q = peek_storage(info, 0);
  Storage* k = peek_storage(info, 1);
  Storage* mask = peek_storage(info, 2);
  Storage* teacher = peek_storage(info, 5);
  Storage* f = peek_storage(info, f32_i);
  if (!q || !k || !teacher || !f || q->device.type != DeviceType::CUDA || !is_half(q->dtype) || k->dtype != q->dtype ||
      teacher->dtype != DType::F32 || f->dtype != DType::F32 || (mask && mask->dtype != DType::F32))
    return false;
  return read_variant(a, variant_i) == 0 && cuda::attention_tc_supported(read_shape(a, shape_i));
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
    Storage* mask = a.opt_tensor(13, "keyMask");
    Storage* tap_heads = a.opt_tensor(14, "tapHeads");
    Storage* tap_rows = a.opt_tensor(15, "tapRows");
    Storage* taps = a.opt_tensor(16, "taps");
    int64_t variant = read_variant(a, 17, true);
    if (!taps && !tap_heads && !tap_rows && variant != 1 && tensor_core_path(s, q, k, v, mask) && is_float(out->dtype)) {
      check_qkv(a, s, q, k, v, false);
      require_numel(a, out, "out", (size_t)(s.B * s.Tq * s.H * s.D));
      require_dtype(a, lse, "lse", DType::F32);
      require_numel(a, lse, "lse", (size_t)(s.B * s.H * s.Tq));
      const float* m = read_mask(a, mask, s);
      for (Storage* st : {k, v, out, lse}) require_same_device(a, {q, st});
      if (mask) require_same_device(a, {q, mask});
      cuda::attention_forward_tc(q->device.index, s, q->dtype, q->ptr, k->ptr, v->ptr, out->dtype, out->ptr, lse->as<float>(), m);
      return info.Env().Undefined();
    }
    HalfStaging staging;
    for (Storage* st : {q, k, v, mask}) staging.stage(st, Stage::In);
    for (Storage* st : {out, lse, taps}) staging.stage(st, Stage::InOut);
    check_qkv(a, s, q, k, v);
    require_dtype(a, out, "out", DType::F32);
    require_dtype(a, lse, "lse", DType::F32);
    require_numel(a, out, "out", (size_t)(s.B * s.Tq * s.H * s.D));
    require_numel(a, lse, "lse", (size_t)(s.B * s.H * s.Tq));
    cpu::AttnExtras x;
    x.key_mask = read_mask(a, mask, s);
    if (taps || tap_heads || tap_rows) {
      if (!taps || !tap_heads || !tap_rows) a.fail("taps need tapHeads, tapRows and the taps output together");
      check_index_list(a, tap_heads, "tapHeads", s.H, 18);
      check_index_list(a, tap_rows, "tapRows", s.Tq, 19);
      x.n_tap_heads = (int64_t)tap_heads->numel;
      if (s.B > 0 && tap_rows->numel % (size_t)s.B) a.fail("tapRows must hold the same number of rows for every batch entry");
      x.n_rows = s.B > 0 ? (int64_t)(tap_rows->numel / (size_t)s.B) : 0;
      require_dtype(a, taps, "taps", DType::F32);
      require_numel(a, taps, "taps", (size_t)(s.B * x.n_tap_heads * x.n_rows * s.Tk));
      x.tap_heads = tap_heads->as<int32_t>();
      x.tap_rows = tap_rows->as<int32_t>();
      x.taps = taps->as<float>();
    }
    for (Storage* st : {k, v, out, lse}) require_same_device(a, {q, st});
    for (Storage* st : {mask, tap_heads, tap_rows, taps}) if (st) require_same_device(a, {q, st});
    if (q->device.type == DeviceType::CUDA) {
      if (variant == 1) a.fail("the reference variant runs on the cpu only");
      cuda::attention_forward(q->device.index, s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>(), x,
                              variant == 2);
      staging.commit();
      return info.Env().Undefined();
    }
    if (variant == 2) a.fail("the tensor-core variant runs on CUDA devices only");
    if (variant == 1) cpu::attention_forward_reference(s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>(), x);
    else cpu::attention_forward(s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>(), x);
    staging.commit();
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
    Storage* mask = a.opt_tensor(17, "keyMask");
    Storage* sens = a.opt_tensor(18, "sensitivity");
    bool sens_all = a.flag(19, "sensitivityAll");
    int64_t variant = read_variant(a, 20);
    // Tensor cores when the forward's inputs were half (no sensitivity statistic there); gradients of one float dtype.
    if (!sens && variant != 1 && tensor_core_path(s, q, k, v, mask) && is_float(out->dtype) && (dout->dtype == q->dtype || dout->dtype == DType::F32) &&
        is_float(dq->dtype) && dk->dtype == dq->dtype && dv->dtype == dq->dtype) {
      const size_t nq = (size_t)(s.B * s.Tq * s.H * s.D), nk = (size_t)(s.B * s.Tk * s.Hkv * s.D);
      check_qkv(a, s, q, k, v, false);
      for (auto [st, nm] : {std::pair{out, "out"}, {dout, "dout"}, {dq, "dq"}}) require_numel(a, st, nm, nq);
      for (auto [st, nm] : {std::pair{dk, "dk"}, {dv, "dv"}}) require_numel(a, st, nm, nk);
      require_dtype(a, lse, "lse", DType::F32);
      require_numel(a, lse, "lse", (size_t)(s.B * s.H * s.Tq));
      const float* m = read_mask(a, mask, s);
      for (Storage* st : {k, v, out, lse, dout, dq, dk, dv}) require_same_device(a, {q, st});
      if (mask) require_same_device(a, {q, mask});
      cuda::attention_backward_tc(q->device.index, s, q->dtype, q->ptr, k->ptr, v->ptr, out->ptr, out->dtype, lse->as<float>(),
                                  dout->ptr, dout->dtype, dq->dtype, dq->ptr, dk->ptr, dv->ptr, m);
      return info.Env().Undefined();
    }
    HalfStaging staging;
    for (Storage* st : {q, k, v, out, lse, dout, mask}) staging.stage(st, Stage::In);
    for (Storage* st : {dq, dk, dv}) staging.stage(st, Stage::Out);
    staging.stage(sens, Stage::InOut);
    check_qkv(a, s, q, k, v);
    const size_t nq = (size_t)(s.B * s.Tq * s.H * s.D), nk = (size_t)(s.B * s.Tk * s.Hkv * s.D);
    for (auto [st, nm] : {std::pair{out, "out"}, {lse, "lse"}, {dout, "dout"}, {dq, "dq"}, {dk, "dk"}, {dv, "dv"}})
      require_dtype(a, st, nm, DType::F32);
    for (auto [st, nm] : {std::pair{out, "out"}, {dout, "dout"}, {dq, "dq"}}) require_numel(a, st, nm, nq);
    for (auto [st, nm] : {std::pair{dk, "dk"}, {dv, "dv"}}) require_numel(a, st, nm, nk);
    require_numel(a, lse, "lse", (size_t)(s.B * s.H * s.Tq));
    cpu::AttnExtras x;
    x.key_mask = read_mask(a, mask, s);
    if (sens) {
      require_dtype(a, sens, "sensitivity", DType::F32);
      require_numel(a, sens, "sensitivity", (size_t)(s.B * s.H));
      x.sens = sens->as<float>();
      x.sens_all = sens_all;
    }
    for (Storage* st : {k, v, out, lse, dout, dq, dk, dv}) require_same_device(a, {q, st});
    for (Storage* st : {mask, sens}) if (st) require_same_device(a, {q, st});
    if (q->device.type == DeviceType::CUDA) {
      if (variant == 1) a.fail("the reference variant runs on the cpu only");
      cuda::attention_backward(q->device.index, s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>(),
                               dout->as<float>(), dq->as<float>(), dk->as<float>(), dv->as<float>(), x);
      staging.commit();
      return info.Env().Undefined();
    }
    auto fn = variant == 1 ? cpu::attention_backward_reference : cpu::attention_backward;
    fn(s, q->as<float>(), k->as<float>(), v->as<float>(), out->as<float>(), lse->as<float>(), dout->as<float>(),
       dq->as<float>(), dk->as<float>(), dv->as<float>(), x);
    staging.commit();
    return info.Env().Undefined();
  });

  struct Distill {
    cpu::AttnShape s;
    Storage *q, *k, *mask, *heads, *rows, *teacher;
    int64_t n_heads, n_rows;
  };
  // Reads (q, k, keyMask?, heads, rows, teacher) at i.., the shape at shape_i and validates heads / rows on the host
  // (their host copies at host_i, host_i + 1 when given); f32: q and k must be float32 (the staged path).
  auto read_distill = [](const Args& a, size_t i, size_t shape_i, size_t host_i, bool f32 = true) {
    Distill d;
    d.q = a.tensor(i, "q");
    d.k = a.tensor(i + 1, "k");
    d.mask = a.opt_tensor(i + 2, "keyMask");
    d.heads = a.tensor(i + 3, "heads");
    d.rows = a.tensor(i + 4, "rows");
    d.teacher = a.tensor(i + 5, "teacher");
    d.s = read_shape(a, shape_i);
    check_qkv(a, d.s, d.q, d.k, nullptr, f32);
    read_mask(a, d.mask, d.s);
    check_index_list(a, d.heads, "heads", d.s.H, host_i);
    check_index_list(a, d.rows, "rows", d.s.Tq, host_i + 1);
    d.n_heads = (int64_t)d.heads->numel;
    if (d.s.B > 0 && d.rows->numel % (size_t)d.s.B) a.fail("rows must hold the same number of rows for every batch entry");
    d.n_rows = d.s.B > 0 ? (int64_t)(d.rows->numel / (size_t)d.s.B) : 0;
    require_dtype(a, d.teacher, "teacher", DType::F32);
    require_numel(a, d.teacher, "teacher", (size_t)(d.s.B * d.n_heads * d.n_rows * d.s.Tk));
    for (Storage* st : {d.k, d.heads, d.rows, d.teacher}) require_same_device(a, {d.q, st});
    if (d.mask) require_same_device(a, {d.q, d.mask});
    return d;
  };
  define(env, exports, "attentionDistill", [read_distill](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "attentionDistill");
    // Tensor cores for half q / k on a GPU with the device loss buffer; everything else widens q, k, keyMask and
    // teacher to float32 (HalfStaging) for the float32 kernels.
    if (distill_tc_path(a, 6, 14, 15)) {
      Distill d = read_distill(a, 0, 6, 17, false);
      Storage* out = a.tensor(15, "out");
      require_dtype(a, out, "out", DType::F32);
      require_numel(a, out, "out", 1);
      require_same_device(a, {d.q, out});
      const double factor = a.f64(16, "factor");
      cuda::attention_distill_forward_tc(d.q->device.index, d.s, d.q->dtype, d.q->ptr, d.k->ptr,
                                         d.mask ? d.mask->as<float>() : nullptr, d.heads->as<int32_t>(), d.n_heads,
                                         d.rows->as<int32_t>(), d.n_rows, d.teacher->as<float>(), factor,
                                         out->as<float>());
      return info.Env().Undefined();
    }
    HalfStaging staging;
    for (size_t i : {0, 1, 2, 5}) staging.stage(peek_storage(info, i), Stage::In);
    Distill d = read_distill(a, 0, 6, 17);
    const int64_t variant = read_variant(a, 14);
    // Optional loss buffer: out[0] = factor * total, written where q lives (on a GPU without a read-back).
    Storage* out = a.opt_tensor(15, "out");
    double factor = 1.0;
    if (out) {
      require_dtype(a, out, "out", DType::F32);
      require_numel(a, out, "out", 1);
      require_same_device(a, {d.q, out});
      factor = a.f64(16, "factor");
    }
    if (d.q->device.type == DeviceType::CUDA && out) {
      if (variant == 1) a.fail("the reference variant runs on the cpu only");
      cuda::attention_distill_forward_device(d.q->device.index, d.s, d.q->as<float>(), d.k->as<float>(),
                                             d.mask ? d.mask->as<float>() : nullptr, d.heads->as<int32_t>(), d.n_heads,
                                             d.rows->as<int32_t>(), d.n_rows, d.teacher->as<float>(), factor,
                                             out->as<float>());
      return info.Env().Undefined();
    }
    if (d.q->device.type == DeviceType::CUDA) {
      if (variant == 1) a.fail("the reference variant runs on the cpu only");
      double total = cuda::attention_distill_forward(d.q->device.index, d.s, d.q->as<float>(), d.k->as<float>(),
                                                     d.mask ? d.mask->as<float>() : nullptr, d.heads->as<int32_t>(), d.n_heads,
                                                     d.rows->as<int32_t>(), d.n_rows, d.teacher->as<float>());
      return Napi::Number::New(info.Env(), total);
    }
    auto fn = variant == 1 ? cpu::attention_distill_forward_reference : cpu::attention_distill_forward;
    double total = fn(d.s, d.q->as<float>(), d.k->as<float>(), d.mask ? d.mask->as<float>() : nullptr,
                                                  d.heads->as<int32_t>(), d.n_heads, d.rows->as<int32_t>(), d.n_rows,
                                                  d.teacher->as<float>());
    if (out) {
      out->as<float>()[0] = (float)(total * factor);
      return info.Env().Undefined();
    }
    return Napi::Number::New(info.Env(), total);
  });
  define(env, exports, "attentionDistillBackward", [read_distill](const Napi::CallbackInfo& info) {
    Args a(info, "attentionDistillBackward");
    // Tensor cores as in attentionDistill, with dq / dk of one float dtype (written as they are).
    Storage* dq0 = peek_storage(info, 8);
    Storage* dk0 = peek_storage(info, 9);
    if (dq0 && dk0 && is_float(dq0->dtype) && dk0->dtype == dq0->dtype && distill_tc_path(a, 10, 18, 6)) {
      Distill d = read_distill(a, 0, 10, 19, false);
      Storage* gy = a.tensor(6, "gy");
      const double factor = a.f64(7, "factor");
      Storage* dq = a.tensor(8, "dq");
      Storage* dk = a.tensor(9, "dk");
      require_dtype(a, gy, "gy", DType::F32);
      require_numel(a, gy, "gy", 1);
      require_numel(a, dq, "dq", d.q->numel);
      require_numel(a, dk, "dk", d.k->numel);
      for (Storage* st : {gy, dq, dk}) require_same_device(a, {d.q, st});
      cuda::attention_distill_backward_tc(d.q->device.index, d.s, d.q->dtype, d.q->ptr, d.k->ptr,
                                          d.mask ? d.mask->as<float>() : nullptr, d.heads->as<int32_t>(), d.n_heads,
                                          d.rows->as<int32_t>(), d.n_rows, d.teacher->as<float>(), gy->as<float>(),
                                          (float)factor, dq->dtype, dq->ptr, dk->ptr);
      return info.Env().Undefined();
    }
    HalfStaging staging;
    for (size_t i : {8, 9}) staging.stage(peek_storage(info, i), Stage::InOut);
    for (size_t i : {0, 1, 2, 5, 6}) staging.stage(peek_storage(info, i), Stage::In);
    Distill d = read_distill(a, 0, 10, 19);
    Storage* gy = a.tensor(6, "gy");
    double factor = a.f64(7, "factor");
    Storage* dq = a.tensor(8, "dq");
    Storage* dk = a.tensor(9, "dk");
    require_dtype(a, gy, "gy", DType::F32);
    require_numel(a, gy, "gy", 1);
    require_dtype(a, dq, "dq", DType::F32);
    require_dtype(a, dk, "dk", DType::F32);
    require_numel(a, dq, "dq", d.q->numel);
    require_numel(a, dk, "dk", d.k->numel);
    for (Storage* st : {gy, dq, dk}) require_same_device(a, {d.q, st});
    const int64_t variant = read_variant(a, 18);
    if (d.q->device.type == DeviceType::CUDA) {
      if (variant == 1) a.fail("the reference variant runs on the cpu only");
      cuda::attention_distill_backward(d.q->device.index, d.s, d.q->as<float>(), d.k->as<float>(), d.mask ? d.mask->as<float>() : nullptr,
                                       d.heads->as<int32_t>(), d.n_heads, d.rows->as<int32_t>(), d.n_rows, d.teacher->as<float>(),
                                       gy->as<float>(), (float)factor, dq->as<float>(), dk->as<float>());
      staging.commit();
      return info.Env().Undefined();
    }
    const float scale = (float)(gy->as<float>()[0] * factor);
    auto fn = variant == 1 ? cpu::attention_distill_backward_reference : cpu::attention_distill_backward;
    fn(d.s, d.q->as<float>(), d.k->as<float>(), d.mask ? d.mask->as<float>() : nullptr,
                                    d.heads->as<int32_t>(), d.n_heads, d.rows->as<int32_t>(), d.n_rows,
                                    d.teacher->as<float>(), scale, dq->as<float>(), dk->as<float>());
    staging.commit();
    return info.Env().Undefined();
  });
}

}  // namespace seekr
