// Implementation of the checked argument readers and the exception-converting function wrapper.
#include "binding/args.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>

#include "cpu/convert.h"
#include "cuda/backend.h"
#include "cuda/kernels.h"

namespace seekr {

const napi_type_tag kStorageTag = {0x5ee4b0f1c2d3e4a5ULL, 0x9a8b7c6d5e4f3021ULL};

static void finalize_storage(Napi::Env env, Storage* s) {
  if (s->alive && s->device.type == DeviceType::CPU) Napi::MemoryManagement::AdjustExternalMemory(env, -(int64_t)s->bytes());
  storage_release(s);
  delete s;
}

Napi::Value wrap_storage(Napi::Env env, Storage* s) {
  auto ext = Napi::External<Storage>::New(env, s, finalize_storage);
  ext.TypeTag(&kStorageTag);
  if (s->device.type == DeviceType::CPU) Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)s->bytes());
  return ext;
}

void Args::fail(const std::string& msg) const { throw Error(msg); }

void Args::count(size_t n) const {
  if (info.Length() < n)
    fail("expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
}

Storage* Args::tensor(size_t i, const char* name) const {
  if (i >= info.Length()) fail(std::string("missing argument '") + name + "'");
  Napi::Value v = info[i];
  if (!v.IsExternal()) fail(std::string("argument '") + name + "' is not a tensor buffer handle");
  auto ext = v.As<Napi::External<Storage>>();
  if (!ext.CheckTypeTag(&kStorageTag)) fail(std::string("argument '") + name + "' is not a Seekr buffer handle");
  Storage* s = ext.Data();
  if (!s || !s->alive) fail(std::string("argument '") + name + "' is a disposed tensor");
  return s;
}

// The elements of the array argument i as live buffers; nullable: null / undefined elements give nullptr.
static std::vector<Storage*> storage_array(const Args& a, size_t i, const char* name, bool nullable) {
  const Napi::CallbackInfo& info = a.info;
  if (i >= info.Length()) a.fail(std::string("missing argument '") + name + "'");
  if (!info[i].IsArray())
    a.fail(std::string("'") + name + "' must be an array of tensor buffer handles" + (nullable ? " or nulls" : ""));
  Napi::Array arr = info[i].As<Napi::Array>();
  const uint32_t n = arr.Length();
  std::vector<Storage*> out(n, nullptr);
  // The element's name is only spelled out when an error is thrown.
  auto element = [&](uint32_t k) { return std::string(name) + "[" + std::to_string(k) + "]"; };
  for (uint32_t k = 0; k < n; ++k) {
    Napi::Value v = arr.Get(k);
    if (nullable && (v.IsNull() || v.IsUndefined())) continue;
    if (!v.IsExternal()) a.fail("'" + element(k) + "' is not a Seekr buffer handle");
    auto ext = v.As<Napi::External<Storage>>();
    if (!ext.CheckTypeTag(&kStorageTag)) a.fail("'" + element(k) + "' is not a Seekr buffer handle");
    Storage* s = ext.Data();
    if (!s || !s->alive) a.fail("'" + element(k) + "' is a disposed tensor");
    out[k] = s;
  }
  return out;
}

std::vector<Storage*> Args::tensors(size_t i, const char* name) const { return storage_array(*this, i, name, false); }

std::vector<Storage*> Args::opt_tensors(size_t i, const char* name) const {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return {};
  return storage_array(*this, i, name, true);
}

Storage* Args::opt_tensor(size_t i, const char* name) const {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return tensor(i, name);
}

int64_t Args::i64(size_t i, const char* name) const {
  if (i >= info.Length()) fail(std::string("missing argument '") + name + "'");
  Napi::Value v = info[i];
  if (!v.IsNumber()) fail(std::string("argument '") + name + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    fail(std::string("argument '") + name + "' must be an integer, got " + std::to_string(d));
  return (int64_t)d;
}

double Args::f64(size_t i, const char* name) const {
  if (i >= info.Length()) fail(std::string("missing argument '") + name + "'");
  Napi::Value v = info[i];
  if (!v.IsNumber()) fail(std::string("argument '") + name + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool Args::flag(size_t i, const char* name) const {
  if (i >= info.Length()) fail(std::string("missing argument '") + name + "'");
  Napi::Value v = info[i];
  if (!v.IsBoolean()) fail(std::string("argument '") + name + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string Args::str(size_t i, const char* name) const {
  if (i >= info.Length()) fail(std::string("missing argument '") + name + "'");
  Napi::Value v = info[i];
  if (!v.IsString()) fail(std::string("argument '") + name + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::ints(size_t i, const char* name) const {
  if (i >= info.Length()) fail(std::string("missing argument '") + name + "'");
  Napi::Value v = info[i];
  if (!v.IsArray()) fail(std::string("argument '") + name + "' must be an array of integers");
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > 64) fail(std::string("argument '") + name + "' has too many entries (" + std::to_string(n) + ")");
  std::vector<int64_t> out(n);
  for (uint32_t k = 0; k < n; ++k) {
    Napi::Value e = arr.Get(k);
    if (!e.IsNumber()) fail(std::string("argument '") + name + "[" + std::to_string(k) + "]' must be a number");
    double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
      fail(std::string("argument '") + name + "[" + std::to_string(k) + "]' must be an integer");
    out[k] = (int64_t)d;
  }
  return out;
}

void require_numel(const Args& a, const Storage* s, const char* name, size_t expected) {
  if (s->numel != expected)
    a.fail(std::string("'") + name + "' has " + std::to_string(s->numel) + " elements, expected " +
           std::to_string(expected));
}
void require_at_least(const Args& a, const Storage* s, const char* name, size_t needed) {
  if (s->numel < needed)
    a.fail(std::string("'") + name + "' has " + std::to_string(s->numel) + " elements, needs at least " +
           std::to_string(needed));
}
void require_dtype(const Args& a, const Storage* s, const char* name, DType d) {
  if (s->dtype != d)
    a.fail(std::string("'") + name + "' has dtype " + dtype_name(s->dtype) + ", expected " + dtype_name(d));
}
void require_dtype_at(const Args& a, const Storage* s, const char* name, size_t k, DType d) {
  if (s->dtype != d) require_dtype(a, s, (std::string(name) + "[" + std::to_string(k) + "]").c_str(), d);
}
void require_numel_at(const Args& a, const Storage* s, const char* name, size_t k, size_t expected) {
  if (s->numel != expected) require_numel(a, s, (std::string(name) + "[" + std::to_string(k) + "]").c_str(), expected);
}
void require_float(const Args& a, const Storage* s, const char* name) {
  if (s->device.type == DeviceType::CUDA && is_half(s->dtype)) return;
  require_dtype(a, s, name, DType::F32);
}
void require_float_dtype(const Args& a, const Storage* s, const char* name) {
  if (!is_float(s->dtype))
    a.fail(std::string("'") + name + "' has dtype " + dtype_name(s->dtype) + ", expected float32, bfloat16 or float16");
}
void require_same_device(const Args& a, std::initializer_list<const Storage*> list) {
  const Storage* first = *list.begin();
  for (const Storage* s : list)
    if (s->device != first->device)
      a.fail("tensors are on different devices (" + first->device.str() + " and " + s->device.str() + ")");
}
void require_cpu(const Args& a, const Storage* s) {
  if (s->device.type != DeviceType::CPU)
    a.fail(std::string("no kernel for ") + s->device.str() + " yet (this op runs on the cpu only)");
}
size_t checked_product(const Args& a, const std::vector<int64_t>& dims, const char* name) {
  // Every dimension and the product of the non-zero ones stay below 2^48, so that no loop can run for long over
  // sizes that no buffer backs (a zero dimension would otherwise hide a huge one).
  const unsigned __int128 limit = (unsigned __int128)1 << 48;
  unsigned __int128 nonzero = 1, p = 1;
  for (size_t k = 0; k < dims.size(); ++k) {
    int64_t d = dims[k];
    if (d < 0) a.fail(std::string("'") + name + "' has a negative dimension at index " + std::to_string(k));
    if ((unsigned __int128)d > limit) a.fail(std::string("'") + name + "' dimension " + std::to_string(k) + " is too large (" + std::to_string(d) + ")");
    if (d != 0) nonzero *= (unsigned __int128)d;
    p *= (unsigned __int128)d;
    if (nonzero > limit) a.fail(std::string("'") + name + "' is too large");
  }
  return (size_t)p;
}

std::vector<int32_t> int32_values_on_host(const Storage* s) {
  std::vector<int32_t> v(s->numel);
  if (s->numel == 0) return v;
  if (s->device.type == DeviceType::CPU) std::memcpy(v.data(), s->ptr, s->numel * sizeof(int32_t));
  else cuda::copy_d2h(s->device.index, v.data(), s->ptr, s->numel * sizeof(int32_t));
  return v;
}

HostInt32 host_int32(const Args& a, size_t i, const Storage* t, const char* name, const char* unit) {
  HostInt32 h;
  const Napi::CallbackInfo& info = a.info;
  const bool given = i < info.Length() && !info[i].IsUndefined() && !info[i].IsNull();
  if (given) {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      a.fail(std::string("'") + name + "' must be an Int32Array (the host copy of its tensor)");
    const size_t n = info[i].As<Napi::Int32Array>().ElementLength();
    if (n != t->numel)
      a.fail(std::string("'") + name + "' holds " + std::to_string(n) + " values for " + std::to_string(t->numel) + " " +
             unit);
  }
  if (t->device.type == DeviceType::CPU) {
    h.p = t->as<int32_t>();  // the buffer itself is at hand
    return h;
  }
  if (given) {
    h.p = info[i].As<Napi::Int32Array>().Data();
    return h;
  }
  h.downloaded = int32_values_on_host(t);
  h.p = h.downloaded.data();
  return h;
}

static thread_local int g_call_depth = 0;
int native_call_depth() { return g_call_depth; }

// ---- op profiling -------------------------------------------------------------------------------------------------
namespace {
struct ProfileRecord {
  const std::string* op;
  double host_ms;
  void* start;  // CUDA marks (nullptr when no GPU was in use)
  void* end;
};
bool g_profiling = false;
std::vector<ProfileRecord> g_records;
void release_records() {
  for (ProfileRecord& r : g_records) {
    cuda::profile_release(r.start);
    cuda::profile_release(r.end);
  }
  g_records.clear();
}
}  // namespace
bool profiling() { return g_profiling; }
void profile_start() {
  release_records();
  g_profiling = true;
}
std::vector<ProfileRow> profile_stop() {
  g_profiling = false;
  std::map<std::string, ProfileRow> rows;
  for (ProfileRecord& r : g_records) {
    ProfileRow& row = rows[*r.op];
    row.op = *r.op;
    row.calls += 1;
    row.host_ms += r.host_ms;
    const double ms = cuda::profile_elapsed_ms(r.start, r.end);
    if (ms >= 0) {
      row.device_ms += ms;
      row.device_calls += 1;
    }
  }
  release_records();
  std::vector<ProfileRow> out;
  for (auto& kv : rows) out.push_back(kv.second);
  return out;
}

void define(Napi::Env env, Napi::Object exports, const char* name,
            std::function<Napi::Value(const Napi::CallbackInfo&)> fn) {
  // The name lives as long as the function: profile records point at it.
  auto op_name = std::make_shared<const std::string>(name);
  auto wrapped = [fn, op_name](const Napi::CallbackInfo& info) -> Napi::Value {
    const std::string& op = *op_name;
    struct Depth {
      Depth() { ++g_call_depth; }
      ~Depth() { --g_call_depth; }
    } depth;
    try {
      if (g_profiling && g_call_depth == 1) {
        void* start = cuda::profile_mark();
        const auto t0 = std::chrono::steady_clock::now();
        Napi::Value v;
        try {
          v = fn(info);
        } catch (...) {
          cuda::profile_release(start);
          throw;
        }
        const double host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (g_profiling) g_records.push_back({op_name.get(), host_ms, start, cuda::profile_mark()});
        else cuda::profile_release(start);
        return v;
      }
      return fn(info);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), "seekr." + op + ": out of memory");
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), "seekr." + op + ": " + e.what());
    }
  };
  exports.Set(name, Napi::Function::New(env, wrapped, name));
}

// ---- half staging -------------------------------------------------------------------------------------------------
static void convert_on(const Device& d, const void* src, DType sd, void* dst, DType dd, size_t n) {
  if (d.type == DeviceType::CUDA) cuda::convert(d.index, src, sd, dst, dd, (int64_t)n);
  else cpu::convert(src, sd, dst, dd, (int64_t)n);
}

void HalfStaging::stage(Storage* s, Stage mode) {
  const bool output = mode != Stage::In;
  if (!s || !is_half(s->dtype)) {
    for (Entry& e : entries_)  // already staged (the same buffer at two positions)
      if (e.s == s) e.output = e.output || output;
    return;
  }
  Storage* f = storage_alloc(s->device, DType::F32, s->numel);  // throws before anything is swapped
  try {
    if (mode != Stage::Out) convert_on(s->device, s->ptr, s->dtype, f->ptr, DType::F32, s->numel);
  } catch (...) {
    storage_release(f);
    delete f;
    throw;
  }
  std::swap(s->ptr, f->ptr);
  std::swap(s->dtype, f->dtype);
  entries_.push_back({s, f, output});
}

void HalfStaging::commit() {
  for (Entry& e : entries_)
    if (e.output) convert_on(e.s->device, e.s->ptr, DType::F32, e.orig->ptr, e.orig->dtype, e.s->numel);
}

HalfStaging::~HalfStaging() {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    std::swap(it->s->ptr, it->orig->ptr);
    std::swap(it->s->dtype, it->orig->dtype);
    storage_release(it->orig);  // now the float32 copy
    delete it->orig;
  }
}

Storage* peek_storage(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length()) return nullptr;
  Napi::Value v = info[i];
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<Storage>>();
  if (!ext.CheckTypeTag(&kStorageTag)) return nullptr;
  Storage* s = ext.Data();
  return s && s->alive ? s : nullptr;
}

void define_float(Napi::Env env, Napi::Object exports, const char* name, std::vector<int> in, std::vector<int> out,
                  std::function<Napi::Value(const Napi::CallbackInfo&)> fn, std::vector<int> inout,
                  std::vector<int> cuda_native) {
  define(env, exports, name, [fn, in, out, inout, cuda_native](const Napi::CallbackInfo& info) -> Napi::Value {
    auto is_native = [&](int i) { return std::find(cuda_native.begin(), cuda_native.end(), i) != cuda_native.end(); };
    // Positions left raw: native ones holding a CUDA buffer that no staged position holds too.
    auto raw = [&](int i) {
      if (!is_native(i)) return false;
      Storage* s = peek_storage(info, (size_t)i);
      if (!s || s->device.type != DeviceType::CUDA) return false;
      for (const std::vector<int>* list : {&inout, &in, &out})
        for (int j : *list)
          if (!is_native(j) && peek_storage(info, (size_t)j) == s) return false;
      return true;
    };
    HalfStaging st;
    // Read operands first: a buffer that is both read and written (in place) is then widened, not left raw.
    for (int i : inout)
      if (!raw(i)) st.stage(peek_storage(info, (size_t)i), Stage::InOut);
    for (int i : in)
      if (!raw(i)) st.stage(peek_storage(info, (size_t)i), Stage::In);
    for (int i : out)
      if (!raw(i)) st.stage(peek_storage(info, (size_t)i), Stage::Out);
    Napi::Value r = fn(info);
    st.commit();
    return r;
  });
}

}  // namespace seekr
