// The CUDA backend's narrow interface: devices, buffers, copies. Real in backend.cu, a throwing stub otherwise.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace seekr {
namespace cuda {

struct DeviceInfo {
  int index;
  std::string name;
  int major, minor;         // compute capability
  size_t total_memory;      // bytes
  int multiprocessors;
};

// True when the addon was compiled with CUDA kernels.
bool compiled();
// Why CUDA is or is not usable right now (driver/runtime status); "" when usable.
std::string unavailable_reason();
// Devices found (empty when none or when not compiled). Never throws.
std::vector<DeviceInfo> devices();
// Runtime version and driver version as reported by CUDA (0 when unknown).
int runtime_version();
int driver_version();

// All of the following throw seekr::Error with a clear message on failure.
// device_alloc / device_free go through a per-device caching allocator: freed blocks are kept by rounded size and
// handed out again, so a steady-state training loop does not call cudaMalloc. When cudaMalloc fails, the device's
// cache is returned to the driver and the allocation retried once before the out-of-memory error is thrown.
void* device_alloc(int device, size_t bytes);
void device_free(int device, void* ptr);
// Returns every cached (free) block of every device to the driver. Never throws.
void release_cache();
// Bytes held in the cache of free blocks (all devices), not counted as live by memory().
size_t cache_bytes();
void copy_h2d(int device, void* dst, const void* src, size_t bytes);
void copy_d2h(int device, void* dst, const void* src, size_t bytes);
void copy_d2d(int dst_device, void* dst, int src_device, const void* src, size_t bytes);
void memset_zero(int device, void* dst, size_t bytes);
void synchronize(int device);

// Op profiling (native.profileStart / profileStop): profile_mark records an event on the current device's compute
// stream, where every kernel runs, and returns it, or nullptr while this process has not put anything on a GPU (a
// CPU-only run never starts CUDA for its profile). profile_elapsed_ms waits for `end` and gives the milliseconds
// between two marks (-1 when either is null or an event failed); profile_release hands a mark back to the pool.
void* profile_mark();
double profile_elapsed_ms(void* start, void* end);
void profile_release(void* mark);

}  // namespace cuda
}  // namespace seekr
