// Storage allocation and memory accounting for the CPU; CUDA buffers go through cuda/backend.
#include "common/core.h"
#include "cuda/backend.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace seekr {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "float32";
    case DType::I32: return "int32";
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
  }
  return "unknown";
}
size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32: case DType::I32: return 4;
    case DType::BF16: case DType::F16: return 2;
  }
  return 0;
}
bool dtype_valid(int32_t d) { return d >= 0 && d < kNumDTypes; }

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

static MemoryCounter g_cpu;
static MemoryCounter g_cuda[kMaxCudaDevices];

MemoryCounter& memory_counter(Device d) {
  if (d.type == DeviceType::CUDA && d.index >= 0 && d.index < kMaxCudaDevices) return g_cuda[d.index];
  return g_cpu;
}
void account_alloc(Device d, size_t bytes) {
  auto& c = memory_counter(d);
  int64_t now = c.bytes.fetch_add((int64_t)bytes) + (int64_t)bytes;
  c.buffers.fetch_add(1);
  int64_t peak = c.peak_bytes.load();
  while (now > peak && !c.peak_bytes.compare_exchange_weak(peak, now)) {}
}
void account_free(Device d, size_t bytes) {
  auto& c = memory_counter(d);
  c.bytes.fetch_sub((int64_t)bytes);
  c.buffers.fetch_sub(1);
}

// Host buffers are cached by rounded size, so the steady state of a training loop neither calls malloc nor
// page-faults on fresh memory. The cache holds at most kCacheLimit bytes; memory() reports live bytes only.
namespace {
constexpr size_t kCacheLimit = size_t(2) << 30;
std::mutex g_cache_mu;
std::unordered_map<size_t, std::vector<void*>> g_cache;
size_t g_cached_bytes = 0;

size_t round_host(size_t bytes) {
  if (bytes <= 4096) return ((bytes + 63) / 64) * 64 + (bytes == 0 ? 64 : 0);
  return ((bytes + 4095) / 4096) * 4096;
}
void* host_alloc(size_t bytes) {
  const size_t r = round_host(bytes);
  {
    std::lock_guard<std::mutex> lk(g_cache_mu);
    auto it = g_cache.find(r);
    if (it != g_cache.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      g_cached_bytes -= r;
      return p;
    }
  }
  return std::aligned_alloc(64, r);
}
void host_free(void* p, size_t bytes) {
  const size_t r = round_host(bytes);
  std::lock_guard<std::mutex> lk(g_cache_mu);
  if (g_cached_bytes + r <= kCacheLimit) {
    g_cache[r].push_back(p);
    g_cached_bytes += r;
  } else {
    std::free(p);
  }
}
}  // namespace

void release_host_cache() {
  std::lock_guard<std::mutex> lk(g_cache_mu);
  for (auto& kv : g_cache)
    for (void* p : kv.second) std::free(p);
  g_cache.clear();
  g_cached_bytes = 0;
}
size_t host_cache_bytes() {
  std::lock_guard<std::mutex> lk(g_cache_mu);
  return g_cached_bytes;
}

Storage* storage_alloc(Device device, DType dtype, size_t numel) {
  const size_t bytes = numel * dtype_size(dtype);
  if (numel != 0 && bytes / numel != dtype_size(dtype)) throw Error("allocation size overflows");
  void* ptr = nullptr;
  if (device.type == DeviceType::CPU) {
    ptr = host_alloc(bytes);
    if (!ptr) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  } else {
    ptr = cuda::device_alloc(device.index, bytes == 0 ? 1 : bytes);  // throws with the reason
  }
  auto* s = new Storage();
  s->device = device;
  s->dtype = dtype;
  s->numel = numel;
  s->ptr = ptr;
  s->alive = true;
  account_alloc(device, bytes);
  return s;
}

void storage_release(Storage* s) {
  if (!s || !s->alive) return;
  if (s->device.type == DeviceType::CPU) host_free(s->ptr, s->bytes());
  else cuda::device_free(s->device.index, s->ptr);
  account_free(s->device, s->bytes());
  s->ptr = nullptr;
  s->alive = false;
}

}  // namespace seekr
