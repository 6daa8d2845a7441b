// Core types shared by every backend: dtypes, devices, storage buffers, memory accounting, errors.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace seekr {

enum class DType : int32_t { F32 = 0, I32 = 1, BF16 = 2, F16 = 3 };
constexpr int kNumDTypes = 4;
const char* dtype_name(DType d);
size_t dtype_size(DType d);
bool dtype_valid(int32_t d);
inline bool is_half(DType d) { return d == DType::BF16 || d == DType::F16; }
inline bool is_float(DType d) { return d == DType::F32 || is_half(d); }

enum class DeviceType : int32_t { CPU = 0, CUDA = 1 };
struct Device {
  DeviceType type = DeviceType::CPU;
  int32_t index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};
constexpr int kMaxCudaDevices = 16;

// A buffer of numel elements of one dtype on one device. Owned by a JS handle; freed by dispose()
// or by the handle's finalizer, whichever comes first.
struct Storage {
  Device device;
  DType dtype = DType::F32;
  size_t numel = 0;
  void* ptr = nullptr;
  bool alive = false;
  size_t bytes() const { return numel * dtype_size(dtype); }
  template <typename T> T* as() const { return static_cast<T*>(ptr); }
};

// Error thrown by kernels and checks; the binding layer turns it into a JS Error.
struct Error : std::runtime_error {
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Live-memory accounting per device (bytes and buffers), read by memory() in JS.
struct MemoryCounter {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> buffers{0};
  std::atomic<int64_t> peak_bytes{0};
};
MemoryCounter& memory_counter(Device d);
void account_alloc(Device d, size_t bytes);
void account_free(Device d, size_t bytes);

Storage* storage_alloc(Device device, DType dtype, size_t numel);  // throws Error
void storage_release(Storage* s);                                   // frees the buffer; idempotent
void release_host_cache();   // returns cached host buffers to the system
size_t host_cache_bytes();   // bytes held by the host buffer cache

}  // namespace seekr
