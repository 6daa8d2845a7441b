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
  std::vector<Storage*> tensors(size_t i, const char* name) const;  // an array of live buffer handles
  // An array of live buffer handles or nulls (nullptr entries); empty when the argument is null / undefined / absent.
  std::vector<Storage*> opt_tensors(size_t i, const char* name) const;
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
// require_dtype(F32), except that a buffer on a CUDA device may also be bfloat16 or float16 (define_float's cuda_native
// positions, which the CUDA kernels take as they are).
void require_float(const Args& a, const Storage* s, const char* name);
// float32, bfloat16 or float16 on any device (for bindings that check before staging, or take half buffers on the
// CPU themselves).
void require_float_dtype(const Args& a, const Storage* s, const char* name);
// require_dtype / require_numel for element k of an array argument ("name[k]"): the name is only spelled out when the
// check fails (multi-tensor ops check ~100 buffers per call).
void require_dtype_at(const Args& a, const Storage* s, const char* name, size_t k, DType d);
void require_numel_at(const Args& a, const Storage* s, const char* name, size_t k, size_t expected);
void require_same_device(const Args& a, std::initializer_list<const Storage*> list);
// Throws a clear error when an op has no kernel for the device of its inputs yet.
void require_cpu(const Args& a, const Storage* s);
size_t checked_product(const Args& a, const std::vector<int64_t>& dims, const char* name);
// The values of an int32 buffer on the host (a copy from the device for CUDA buffers), for index validation.
std::vector<int32_t> int32_values_on_host(const Storage* s);
// The values of an int32 buffer `t` on the host without waiting for the device where the caller can say them: the
// buffer itself on the CPU; on a GPU the caller's host copy (an Int32Array of t's length at argument i: @seekr/tensor's
// remembered copy) when given, else a download, which waits for the kernels queued before it. `name` is the argument's
// name ("idsHost") and `unit` what t's elements are ("ids") in the length error.
struct HostInt32 {
  std::vector<int32_t> downloaded;
  const int32_t* p = nullptr;
};
HostInt32 host_int32(const Args& a, size_t i, const Storage* t, const char* name, const char* unit);

// Op profiling: while on, every outermost native call records its op, its host time and (once CUDA is in use) the
// device time between events recorded before and after it. profile_stop() ends it and returns the totals per op.
struct ProfileRow {
  std::string op;
  int64_t calls = 0;
  double host_ms = 0;
  double device_ms = 0;  // 0 for ops that ran while no GPU was in use
  int64_t device_calls = 0;
};
void profile_start();
std::vector<ProfileRow> profile_stop();
bool profiling();

// How many Seekr native calls are running on this thread (> 1 inside a call re-entered from a JS getter).
int native_call_depth();

// bfloat16 / float16 operands for the float32 kernels: stage() swaps a half buffer's contents for a float32 copy on
// the same device for the duration of the call, so the kernels and their checks see float32. Inputs and
// read-modify-write outputs are widened exactly into the copy; write-only outputs (the kernel overwrites every
// element) skip that pass. commit() rounds the staged outputs back (nearest even) into their own buffers; the
// destructor puts every buffer back and frees the copies (without writing back when the kernel threw). Other dtypes
// are left alone (the binding's own checks then report them). The same buffer staged twice gets one copy.
enum class Stage { In, Out, InOut };
class HalfStaging {
 public:
  HalfStaging() = default;
  HalfStaging(const HalfStaging&) = delete;
  HalfStaging& operator=(const HalfStaging&) = delete;
  ~HalfStaging();
  void stage(Storage* s, Stage mode);
  void commit();

 private:
  struct Entry {
    Storage* s;        // the caller's buffer (float32 view while staged)
    Storage* orig;     // holds the caller's half buffer while staged
    bool output;
  };
  std::vector<Entry> entries_;
};

// Registers fn under `name` on exports, converting C++ exceptions into JS Errors prefixed by the op.
void define(Napi::Env env, Napi::Object exports, const char* name,
            std::function<Napi::Value(const Napi::CallbackInfo&)> fn);

// define() for the float32 kernels that also take bfloat16 / float16 buffers: the handles at argument positions `in`
// (read), `out` (overwritten in full by the kernel) and `inout` (read and written) are staged through HalfStaging
// around fn; outputs are committed when fn returns. A buffer at one of the `cuda_native` positions that lives on a
// CUDA device is passed as it is (its kernel reads and writes half data itself), unless a staged position holds the
// same buffer; on the CPU every position is staged.
void define_float(Napi::Env env, Napi::Object exports, const char* name, std::vector<int> in, std::vector<int> out,
                  std::function<Napi::Value(const Napi::CallbackInfo&)> fn, std::vector<int> inout = {},
                  std::vector<int> cuda_native = {});
// The handle at position i when it is a live Seekr buffer, else nullptr (no error: the binding reports bad arguments).
Storage* peek_storage(const Napi::CallbackInfo& info, size_t i);

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
