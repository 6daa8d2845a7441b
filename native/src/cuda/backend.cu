// CUDA backend: device discovery, a per-device caching allocator, host/device copies, launch checks.
#include <cuda_runtime.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/core.h"
#include "cuda/backend.h"
#include "cuda/common.cuh"

namespace seekr {
namespace cuda {

static std::string err_str(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

static void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state where possible
    throw Error("CUDA error in " + what + " (" + err_str(e) + ")");
  }
}

bool compiled() { return true; }

static cudaError_t probe(int* count) {
  static std::once_flag once;
  static cudaError_t status = cudaSuccess;
  static int n = 0;
  std::call_once(once, [] {
    status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) {
      n = 0;
      cudaGetLastError();
    }
  });
  *count = n;
  return status;
}

std::string unavailable_reason() {
  int n = 0;
  cudaError_t e = probe(&n);
  if (e != cudaSuccess) {
    int drv = 0;
    if (cudaDriverGetVersion(&drv) != cudaSuccess) cudaGetLastError();
    if (drv == 0) return "no NVIDIA driver found (libcuda.so could not be loaded; " + err_str(e) + ")";
    return "no usable CUDA device (" + err_str(e) + ")";
  }
  if (n == 0) return "no CUDA device found";
  return "";
}

std::vector<DeviceInfo> devices() {
  std::vector<DeviceInfo> out;
  int n = 0;
  if (probe(&n) != cudaSuccess) return out;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    out.push_back({i, p.name, p.major, p.minor, p.totalGlobalMem, p.multiProcessorCount});
  }
  return out;
}

int runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) cudaGetLastError();
  return v;
}
int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) cudaGetLastError();
  return v;
}

static void select(int device) {
  int n = 0;
  cudaError_t e = probe(&n);
  if (e != cudaSuccess) throw Error("CUDA is not available: " + unavailable_reason());
  if (device < 0 || device >= n)
    throw Error("cuda:" + std::to_string(device) + " does not exist (" + std::to_string(n) + " CUDA device(s) found)");
  check(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
}

// ---- caching allocator ------------------------------------------------------------------------------------------
// Blocks are rounded up (512 B steps below 1 MiB, then quarter steps of each power of two: <= 25% slack) and kept in
// per-device free lists keyed by the rounded size. Live blocks are tracked so device_free knows their size. The
// state is never destroyed: freeing at process exit could run after the CUDA runtime has shut down.
namespace {
struct DeviceCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // rounded size -> blocks
  std::unordered_map<void*, size_t> live;                      // block -> rounded size
  size_t cached = 0;
};
DeviceCache& cache_of(int device) {
  static DeviceCache* caches = new DeviceCache[kMaxCudaDevices];
  return caches[device];
}

size_t round_block(size_t bytes) {
  if (bytes <= (size_t(1) << 20)) return ((bytes + 511) / 512) * 512 + (bytes == 0 ? 512 : 0);
  size_t p = size_t(1) << 20;
  while (p * 2 < bytes && p < (size_t(1) << 62)) p *= 2;  // p < bytes <= 2p
  const size_t q = p / 4;
  return ((bytes + q - 1) / q) * q;
}

// Frees every cached block of one device; the caller holds c.mu. Returns the bytes released.
size_t drain(int device, DeviceCache& c) {
  size_t n = 0;
  if (c.cached == 0) return 0;
  int prev = -1;
  if (cudaGetDevice(&prev) != cudaSuccess) prev = -1;
  if (cudaSetDevice(device) == cudaSuccess) {
    for (auto& kv : c.free_blocks)
      for (void* p : kv.second) {
        cudaFree(p);
        n += kv.first;
      }
  }
  cudaGetLastError();
  c.free_blocks.clear();
  c.cached = 0;
  if (prev >= 0 && prev != device) cudaSetDevice(prev);
  cudaGetLastError();
  return n;
}
}  // namespace

void* device_alloc(int device, size_t bytes) {
  select(device);
  if (bytes > (size_t(1) << 62)) throw Error("allocation of " + std::to_string(bytes) + " bytes on cuda:" + std::to_string(device) + " is too large");
  const size_t r = round_block(bytes);
  DeviceCache& c = cache_of(device);
  std::lock_guard<std::mutex> lk(c.mu);
  auto it = c.free_blocks.find(r);
  if (it != c.free_blocks.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    c.cached -= r;
    c.live[p] = r;
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, r);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (drain(device, c) > 0) {
      select(device);
      e = cudaMalloc(&p, r);
      if (e != cudaSuccess) cudaGetLastError();
    }
  }
  if (e != cudaSuccess) {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
    throw Error("out of memory on cuda:" + std::to_string(device) + " allocating " + std::to_string(bytes) +
                " bytes (" + std::to_string(free_b) + " of " + std::to_string(total_b) + " bytes free; " +
                err_str(e) + ")");
  }
  c.live[p] = r;
  return p;
}

void device_free(int device, void* ptr) {
  if (!ptr || device < 0 || device >= kMaxCudaDevices) return;
  DeviceCache& c = cache_of(device);
  std::lock_guard<std::mutex> lk(c.mu);
  auto it = c.live.find(ptr);
  if (it == c.live.end()) {  // not ours (never happens through storage_release): hand it back to the driver
    if (cudaSetDevice(device) == cudaSuccess) cudaFree(ptr);
    cudaGetLastError();
    return;
  }
  const size_t r = it->second;
  c.live.erase(it);
  c.free_blocks[r].push_back(ptr);
  c.cached += r;
}

void release_cache() {
  int n = 0;
  if (probe(&n) != cudaSuccess) return;
  for (int d = 0; d < n && d < kMaxCudaDevices; ++d) {
    DeviceCache& c = cache_of(d);
    std::lock_guard<std::mutex> lk(c.mu);
    drain(d, c);
  }
}

size_t cache_bytes() {
  int n = 0;
  if (probe(&n) != cudaSuccess) return 0;
  size_t total = 0;
  for (int d = 0; d < n && d < kMaxCudaDevices; ++d) {
    DeviceCache& c = cache_of(d);
    std::lock_guard<std::mutex> lk(c.mu);
    total += c.cached;
  }
  return total;
}

namespace detail {
void use_device(int device) { select(device); }
void check_launch(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw Error(std::string("CUDA kernel failure in ") + op + " (" + err_str(e) + ")");
}
void check_call(cudaError_t e, const char* op, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("CUDA error in ") + op + ": " + what + " (" + err_str(e) + ")");
  }
}
}  // namespace detail

void copy_h2d(int device, void* dst, const void* src, size_t bytes) {
  select(device);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to cuda:" + std::to_string(device));
}
void copy_d2h(int device, void* dst, const void* src, size_t bytes) {
  select(device);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from cuda:" + std::to_string(device));
}
void copy_d2d(int dst_device, void* dst, int src_device, const void* src, size_t bytes) {
  select(dst_device);
  if (dst_device == src_device) {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copy on cuda:" + std::to_string(dst_device));
  } else {
    check(cudaMemcpyPeer(dst, dst_device, src, src_device, bytes),
          "copy cuda:" + std::to_string(src_device) + " -> cuda:" + std::to_string(dst_device));
  }
}
void memset_zero(int device, void* dst, size_t bytes) {
  select(device);
  check(cudaMemset(dst, 0, bytes), "memset on cuda:" + std::to_string(device));
}
void synchronize(int device) {
  select(device);
  check(cudaDeviceSynchronize(), "synchronize cuda:" + std::to_string(device));
}

}  // namespace cuda
}  // namespace seekr
