// Argument readers for the Node-API glue: every read is checked and errors name the op and the argument.
#pragma once
#define NAPI_CPP_EXCEPTIONS 1
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "common/core.h"

namespace seekr {

// Tag that marks JS externals holding a Storage*, so a foreign external can never be misread.
extern const napi_type_tag kStorageTag;

Napi::Value wrap_storage(Napi::Env env, Storage* s);

struct Args {
  const Napi::CallbackInfo& info;
  const char* op;
  Args(const Napi::CallbackInfo& i, const char* o) : info(i), op(o) {}

  [[noreturn]] void fail(const std::string& msg) const;
  void count(size_t n) const;
  Storage* tensor(size_t i, const char* name) const;  // a live buffer handle
  Storage* opt_tensor(size_t i, const char* name) const;  // a live buffer handle, or nullptr for null/undefined
  int64_t i64(size_t i, const char* name) const;      // an integer (safe range)
  double f64(size_t i, const char* name) const;       // any finite-or-not number
  bool flag(size_t i, const char* name) const;
  std::string str(size_t i, const char* name) const;
  std::vector<int64_t> ints(size_t i, const char* name) const;  // array of integers
};

// Checks used by kernels' bindings.
void require_numel(const Args& a, const Storage* s, const char* name, size_t expected);
void require_at_least(const Args& a, const Storage* s, const char* name, size_t needed);
void require_dtype(const Args& a, const Storage* s, const char* name, DType d);
void require_same_device(const Args& a, std::initializer_list<const Storage*> list);
// Throws a clear error when an op has no kernel for the device of its inputs yet.
void require_cpu(const Args& a, const Storage* s);
size_t checked_product(const Args& a, const std::vector<int64_t>& dims, const char* name);
// The values of an int32 buffer on the host (a copy from the device for CUDA buffers), for index validation.
std::vector<int32_t> int32_values_on_host(const Storage* s);

// How many Seekr native calls are running on this thread (> 1 inside a call re-entered from a JS getter).
int native_call_depth();

// Registers fn under `name` on exports, converting C++ exceptions into JS Errors prefixed by the op.
void define(Napi::Env env, Napi::Object exports, const char* name,
            std::function<Napi::Value(const Napi::CallbackInfo&)> fn);

// Each op family registers its functions here (one file per family in binding/).
void register_memory(Napi::Env env, Napi::Object exports);
void register_elementwise(Napi::Env env, Napi::Object exports);
void register_reduce(Napi::Env env, Napi::Object exports);
void register_layout(Napi::Env env, Napi::Object exports);
void register_matmul(Napi::Env env, Napi::Object exports);
void register_nn(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);

}  // namespace seekr
