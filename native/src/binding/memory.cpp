// Buffers and devices: alloc, dispose, host copies, device copies, fills, casts, RNG, memory and device reports.
#include <cstring>

#include "binding/args.h"
#include "common/half.h"
#include "cpu/convert.h"
#include "common/threadpool.h"
#include "cpu/gemm.h"
#include "cpu/random.h"
#include "cuda/backend.h"
#include "cuda/kernels.h"

#ifndef SEEKR_BLAS_REASON
#define SEEKR_BLAS_REASON "unknown"
#endif

namespace seekr {

static Device read_device(const Args& a, size_t type_i, size_t index_i) {
  int64_t t = a.i64(type_i, "deviceType");
  int64_t idx = a.i64(index_i, "deviceIndex");
  if (t != 0 && t != 1) a.fail("unknown device type " + std::to_string(t) + " (0 = cpu, 1 = cuda)");
  if (t == 0 && idx != 0) a.fail("the cpu device has index 0 only, got " + std::to_string(idx));
  if (t == 1 && (idx < 0 || idx >= kMaxCudaDevices)) a.fail("cuda device index out of range: " + std::to_string(idx));
  Device d;
  d.type = (DeviceType)t;
  d.index = (int32_t)idx;
  return d;
}

static DType read_dtype(const Args& a, size_t i) {
  int64_t d = a.i64(i, "dtype");
  if (!dtype_valid((int32_t)d)) a.fail("unknown dtype code " + std::to_string(d));
  return (DType)d;
}

static void copy_between(Storage* dst, const Storage* src, size_t bytes) {
  if (bytes == 0) return;
  if (dst->device.type == DeviceType::CPU && src->device.type == DeviceType::CPU) std::memcpy(dst->ptr, src->ptr, bytes);
  else if (dst->device.type == DeviceType::CUDA && src->device.type == DeviceType::CPU)
    cuda::copy_h2d(dst->device.index, dst->ptr, src->ptr, bytes);
  else if (dst->device.type == DeviceType::CPU && src->device.type == DeviceType::CUDA)
    cuda::copy_d2h(src->device.index, dst->ptr, src->ptr, bytes);
  else cuda::copy_d2d(dst->device.index, dst->ptr, src->device.index, src->ptr, bytes);
}

void register_memory(Napi::Env env, Napi::Object exports) {
  // alloc(deviceType, deviceIndex, dtype, numel) -> handle (contents uninitialised)
  define(env, exports, "alloc", [](const Napi::CallbackInfo& info) {
    Args a(info, "alloc");
    Device d = read_device(a, 0, 1);
    DType dt = read_dtype(a, 2);
    int64_t n = a.i64(3, "numel");
    if (n < 0) a.fail("numel must be non-negative, got " + std::to_string(n));
    if (n > (int64_t(1) << 40)) a.fail("numel is too large: " + std::to_string(n));
    return wrap_storage(info.Env(), storage_alloc(d, dt, (size_t)n));
  });
  // dispose(handle): frees now; later uses of the handle throw "disposed". Idempotent.
  define(env, exports, "dispose", [](const Napi::CallbackInfo& info) {
    Args a(info, "dispose");
    if (info.Length() < 1 || !info[0].IsExternal()) a.fail("argument 'buffer' is not a tensor buffer handle");
    auto ext = info[0].As<Napi::External<Storage>>();
    if (!ext.CheckTypeTag(&kStorageTag)) a.fail("argument 'buffer' is not a Seekr buffer handle");
    Storage* s = ext.Data();
    if (native_call_depth() > 1)
      a.fail("a buffer cannot be disposed while another Seekr call is reading its arguments (from a getter or proxy)");
    if (s->alive) {
      if (s->device.type == DeviceType::CPU) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -(int64_t)s->bytes());
      storage_release(s);
    }
    return info.Env().Undefined();
  });
  define(env, exports, "isAlive", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "isAlive");
    if (info.Length() < 1 || !info[0].IsExternal()) a.fail("argument 'buffer' is not a tensor buffer handle");
    auto ext = info[0].As<Napi::External<Storage>>();
    if (!ext.CheckTypeTag(&kStorageTag)) a.fail("argument 'buffer' is not a Seekr buffer handle");
    return Napi::Boolean::New(info.Env(), ext.Data()->alive);
  });
  // upload(handle, typedArray): copies host data in; length and element type must match.
  define(env, exports, "upload", [](const Napi::CallbackInfo& info) {
    Args a(info, "upload");
    Storage* s = a.tensor(0, "buffer");
    if (info.Length() < 2 || !info[1].IsTypedArray()) a.fail("argument 'data' must be a typed array");
    auto ta = info[1].As<Napi::TypedArray>();
    napi_typedarray_type want = s->dtype == DType::F32 ? napi_float32_array
                                : s->dtype == DType::I32 ? napi_int32_array : napi_uint16_array;
    if (ta.TypedArrayType() != want)
      a.fail(std::string("data's element type does not match dtype ") + dtype_name(s->dtype));
    if (ta.ElementLength() != s->numel)
      a.fail("data has " + std::to_string(ta.ElementLength()) + " elements, buffer has " + std::to_string(s->numel));
    const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    if (s->device.type == DeviceType::CPU) std::memcpy(s->ptr, src, s->bytes());
    else cuda::copy_h2d(s->device.index, s->ptr, src, s->bytes());
    return info.Env().Undefined();
  });
  // download(handle) -> new typed array with a copy of the contents.
  define(env, exports, "download", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "download");
    Storage* s = a.tensor(0, "buffer");
    auto buf = Napi::ArrayBuffer::New(info.Env(), s->bytes());
    if (s->bytes()) {
      if (s->device.type == DeviceType::CPU) std::memcpy(buf.Data(), s->ptr, s->bytes());
      else cuda::copy_d2h(s->device.index, buf.Data(), s->ptr, s->bytes());
    }
    switch (s->dtype) {
      case DType::F32: return Napi::Float32Array::New(info.Env(), s->numel, buf, 0);
      case DType::I32: return Napi::Int32Array::New(info.Env(), s->numel, buf, 0);
      default: return Napi::Uint16Array::New(info.Env(), s->numel, buf, 0);
    }
  });
  // copy(dst, src): same dtype and numel, any devices (host<->device, device<->device).
  define(env, exports, "copy", [](const Napi::CallbackInfo& info) {
    Args a(info, "copy");
    Storage* dst = a.tensor(0, "dst");
    Storage* src = a.tensor(1, "src");
    require_dtype(a, src, "src", dst->dtype);
    require_numel(a, src, "src", dst->numel);
    copy_between(dst, src, dst->bytes());
    return info.Env().Undefined();
  });
  // fill(handle, value)
  define_float(env, exports, "fill", {}, {0}, [](const Napi::CallbackInfo& info) {
    Args a(info, "fill");
    Storage* s = a.tensor(0, "buffer");
    double v = a.f64(1, "value");
    if (s->dtype == DType::I32 && !(v >= -2147483648.0 && v <= 2147483647.0 && v == (double)(int64_t)v))
      a.fail("an int32 fill value must be an integer in the int32 range, got " + std::to_string(v));
    if (s->device.type == DeviceType::CUDA) {  // on the device itself: nothing is uploaded
      if (s->dtype == DType::F32) cuda::fill_f32(s->device.index, s->as<float>(), (int64_t)s->numel, (float)v);
      else if (s->dtype == DType::I32) cuda::fill_i32(s->device.index, s->as<int32_t>(), (int64_t)s->numel, (int32_t)v);
      else if (s->dtype == DType::BF16) cuda::fill_u16(s->device.index, static_cast<uint16_t*>(s->ptr), (int64_t)s->numel, f32_to_bf16((float)v));
      else if (s->dtype == DType::F16) cuda::fill_u16(s->device.index, static_cast<uint16_t*>(s->ptr), (int64_t)s->numel, f32_to_f16((float)v));
      else a.fail("fill supports float32, int32, bfloat16 and float16");
      return info.Env().Undefined();
    }
    if (s->dtype == DType::F32) {
      float* p = s->as<float>();
      float fv = (float)v;
      parallel_for((int64_t)s->numel, 1 << 16, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) p[i] = fv; });
    } else if (s->dtype == DType::I32) {
      int32_t* p = s->as<int32_t>();
      int32_t iv = (int32_t)v;
      for (size_t i = 0; i < s->numel; ++i) p[i] = iv;
    } else a.fail("fill supports float32 and int32");
    return info.Env().Undefined();
  }, {}, {0});  // half buffers on a CUDA device are filled as they are (by bits)
  // cast(dst, src): any pair of float32 / int32 / bfloat16 / float16, same numel, same device. Floats round to nearest
  // even; float -> int32 truncates toward zero (NaN -> 0, saturating at the int32 range).
  define(env, exports, "cast", [](const Napi::CallbackInfo& info) {
    Args a(info, "cast");
    Storage* dst = a.tensor(0, "dst");
    Storage* src = a.tensor(1, "src");
    require_numel(a, src, "src", dst->numel);
    require_same_device(a, {dst, src});
    if (dst->device.type == DeviceType::CUDA) cuda::convert(dst->device.index, src->ptr, src->dtype, dst->ptr, dst->dtype, (int64_t)dst->numel);
    else cpu::convert(src->ptr, src->dtype, dst->ptr, dst->dtype, (int64_t)dst->numel);
    return info.Env().Undefined();
  });
  // randomUniform(handle, seed, offset, low, high) / randomNormal(handle, seed, offset, mean, std)
  define_float(env, exports, "randomUniform", {}, {0}, [](const Napi::CallbackInfo& info) {
    Args a(info, "randomUniform");
    Storage* s = a.tensor(0, "buffer");
    require_dtype(a, s, "buffer", DType::F32);
    if (s->device.type == DeviceType::CUDA) {
      cuda::fill_uniform(s->device.index, s->as<float>(), (int64_t)s->numel, (uint64_t)a.i64(1, "seed"), (uint64_t)a.i64(2, "offset"),
                         (float)a.f64(3, "low"), (float)a.f64(4, "high"));
      return info.Env().Undefined();
    }
    cpu::fill_uniform(s->as<float>(), (int64_t)s->numel, (uint64_t)a.i64(1, "seed"), (uint64_t)a.i64(2, "offset"),
                      (float)a.f64(3, "low"), (float)a.f64(4, "high"));
    return info.Env().Undefined();
  });
  define_float(env, exports, "randomNormal", {}, {0}, [](const Napi::CallbackInfo& info) {
    Args a(info, "randomNormal");
    Storage* s = a.tensor(0, "buffer");
    require_dtype(a, s, "buffer", DType::F32);
    if (s->device.type == DeviceType::CUDA) {
      cuda::fill_normal(s->device.index, s->as<float>(), (int64_t)s->numel, (uint64_t)a.i64(1, "seed"), (uint64_t)a.i64(2, "offset"),
                        (float)a.f64(3, "mean"), (float)a.f64(4, "std"));
      return info.Env().Undefined();
    }
    cpu::fill_normal(s->as<float>(), (int64_t)s->numel, (uint64_t)a.i64(1, "seed"), (uint64_t)a.i64(2, "offset"),
                     (float)a.f64(3, "mean"), (float)a.f64(4, "std"));
    return info.Env().Undefined();
  });
  // memory() -> [{device, bytes, buffers, peakBytes}]
  define(env, exports, "memory", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env e = info.Env();
    auto out = Napi::Array::New(e);
    auto push = [&](Device d) {
      auto& c = memory_counter(d);
      auto o = Napi::Object::New(e);
      o.Set("device", d.str());
      o.Set("bytes", (double)c.bytes.load());
      o.Set("buffers", (double)c.buffers.load());
      o.Set("peakBytes", (double)c.peak_bytes.load());
      out.Set(out.Length(), o);
    };
    push(Device{DeviceType::CPU, 0});
    for (int i = 0; i < kMaxCudaDevices; ++i) {
      Device d{DeviceType::CUDA, i};
      if (memory_counter(d).buffers.load() != 0 || memory_counter(d).peak_bytes.load() != 0) push(d);
    }
    return out;
  });
  define(env, exports, "releaseCache", [](const Napi::CallbackInfo& info) -> Napi::Value {
    release_host_cache();
    cuda::release_cache();  // the CUDA allocator's free blocks too (a no-op without CUDA)
    return info.Env().Undefined();
  });
  define(env, exports, "cacheBytes", [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), (double)host_cache_bytes());
  });
  define(env, exports, "resetPeakMemory", [](const Napi::CallbackInfo& info) -> Napi::Value {
    auto& c = memory_counter(Device{DeviceType::CPU, 0});
    c.peak_bytes.store(c.bytes.load());
    for (int i = 0; i < kMaxCudaDevices; ++i) {
      auto& g = memory_counter(Device{DeviceType::CUDA, i});
      g.peak_bytes.store(g.bytes.load());
    }
    return info.Env().Undefined();
  });
  // backendInfo() -> what was compiled in, what is usable and why.
  define(env, exports, "backendInfo", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env e = info.Env();
    auto o = Napi::Object::New(e);
    o.Set("threads", num_threads());
    o.Set("blas", SEEKR_BLAS_REASON);
    o.Set("cudaCompiled", cuda::compiled());
    std::string why = cuda::unavailable_reason();
    o.Set("cudaAvailable", why.empty());
    o.Set("cudaReason", why.empty() ? std::string("CUDA runtime ready") : why);
    o.Set("cudaRuntimeVersion", cuda::runtime_version());
    o.Set("cudaDriverVersion", cuda::driver_version());
    o.Set("cudaGemm", cuda::gemm_backend(-1));
    auto devs = Napi::Array::New(e);
    for (auto& d : cuda::devices()) {
      auto x = Napi::Object::New(e);
      x.Set("device", "cuda:" + std::to_string(d.index));
      x.Set("name", d.name);
      x.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
      x.Set("totalMemory", (double)d.total_memory);
      x.Set("multiprocessors", d.multiprocessors);
      devs.Set(devs.Length(), x);
    }
    o.Set("cudaDevices", devs);
    return o;
  });
  define(env, exports, "setThreads", [](const Napi::CallbackInfo& info) {
    Args a(info, "setThreads");
    int64_t n = a.i64(0, "threads");
    if (n < 1 || n > 1024) a.fail("threads must be in [1, 1024], got " + std::to_string(n));
    set_num_threads((int)n);
    cpu::set_blas_threads((int)n);
    return info.Env().Undefined();
  });
  // profileStart(): from now on every native call is timed (host, and device once CUDA is in use).
  // profileStop(): [{ op, calls, hostMs, deviceMs, deviceCalls }] since profileStart, sorted by op; waits for the GPU.
  define(env, exports, "profileStart", [](const Napi::CallbackInfo& info) {
    Args(info, "profileStart").count(0);
    profile_start();
    return info.Env().Undefined();
  });
  define(env, exports, "profileStop", [](const Napi::CallbackInfo& info) {
    Args(info, "profileStop").count(0);
    Napi::Env env = info.Env();
    Napi::Array rows = Napi::Array::New(env);
    for (const ProfileRow& r : profile_stop()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("op", r.op);
      o.Set("calls", (double)r.calls);
      o.Set("hostMs", r.host_ms);
      o.Set("deviceMs", r.device_ms);
      o.Set("deviceCalls", (double)r.device_calls);
      rows.Set(rows.Length(), o);
    }
    return rows;
  });
  define(env, exports, "synchronize", [](const Napi::CallbackInfo& info) {
    Args a(info, "synchronize");
    Device d = read_device(a, 0, 1);
    if (d.type == DeviceType::CUDA) cuda::synchronize(d.index);
    return info.Env().Undefined();
  });
}

}  // namespace seekr
