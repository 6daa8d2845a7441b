// Storage allocation and memory accounting for the CPU; CUDA buffers go through cuda/backend.
#include "common/core.h"
#include "cuda/backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

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

Storage* storage_alloc(Device device, DType dtype, size_t numel) {
  const size_t bytes = numel * dtype_size(dtype);
  if (numel != 0 && bytes / numel != dtype_size(dtype)) throw Error("allocation size overflows");
  void* ptr = nullptr;
  if (device.type == DeviceType::CPU) {
    size_t rounded = ((bytes + 63) / 64) * 64;
    if (rounded == 0) rounded = 64;
    ptr = std::aligned_alloc(64, rounded);
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
  if (s->device.type == DeviceType::CPU) std::free(s->ptr);
  else cuda::device_free(s->device.index, s->ptr);
  account_free(s->device, s->bytes());
  s->ptr = nullptr;
  s->alive = false;
}

}  // namespace seekr
