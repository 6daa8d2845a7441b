// CUDA backend: device discovery, a per-device caching-free allocator, host/device copies.
#include <cuda_runtime.h>

#include <mutex>

#include "common/core.h"
#include "cuda/backend.h"

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

void* device_alloc(int device, size_t bytes) {
  select(device);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw Error("out of memory on cuda:" + std::to_string(device) + " allocating " + std::to_string(bytes) +
                " bytes (" + std::to_string(free_b) + " of " + std::to_string(total_b) + " bytes free; " +
                err_str(e) + ")");
  }
  return p;
}

void device_free(int device, void* ptr) {
  if (!ptr) return;
  if (cudaSetDevice(device) == cudaSuccess) cudaFree(ptr);
  cudaGetLastError();
}

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
