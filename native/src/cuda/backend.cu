// CUDA backend: device discovery, a per-device caching allocator, host/device copies, launch checks.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstring>
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

// ---- streams ------------------------------------------------------------------------------------------------------
// Every kernel, cuBLAS call, copy and memset of a device runs on that device's compute stream, created on first use.
// One stream per device keeps the caching allocator simple: a block freed by an op may be handed to the next op at
// once, since both are ordered on the same stream. The stream is a blocking one (cudaStreamCreate): should any code in
// the process still use the legacy default stream (another library, say), the two stay ordered. The host waits only
// where data crosses to it (downloads, reading a result) or where asked to (synchronize).
namespace {
std::mutex g_stream_mu;
std::atomic<cudaStream_t> g_streams[kMaxCudaDevices] = {};
thread_local int t_device = 0;  // the device the calling thread selected last
}  // namespace

static cudaStream_t stream_of(int device) {  // the device must be current
  cudaStream_t s = g_streams[device].load(std::memory_order_acquire);
  if (s) return s;
  std::lock_guard<std::mutex> lk(g_stream_mu);
  s = g_streams[device].load(std::memory_order_relaxed);
  if (s) return s;
  check(cudaStreamCreate(&s), "creating the compute stream of cuda:" + std::to_string(device));
  g_streams[device].store(s, std::memory_order_release);
  return s;
}

static void select(int device) {
  int n = 0;
  cudaError_t e = probe(&n);
  if (e != cudaSuccess) throw Error("CUDA is not available: " + unavailable_reason());
  if (device < 0 || device >= n)
    throw Error("cuda:" + std::to_string(device) + " does not exist (" + std::to_string(n) + " CUDA device(s) found)");
  check(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
  t_device = device;
  stream_of(device);
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
std::atomic<bool> g_cuda_used{false};  // a device buffer was allocated: profiling may record events
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
  g_cuda_used.store(true, std::memory_order_relaxed);
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
cudaStream_t cur_stream() {
  cudaStream_t s = g_streams[t_device].load(std::memory_order_acquire);
  return s ? s : stream_of(t_device);
}
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

// ---- uploads through pinned staging ------------------------------------------------------------------------------
// A plain cudaMemcpy from pageable memory waits for every kernel queued before it: one upload per step (a batch, a
// mask, a scalar) would then stall the host behind the GPU. Uploads up to kStageMax bytes are instead copied into a
// pinned chunk and sent with cudaMemcpyAsync on the device's compute stream (ordered with the kernels around it); the caller's
// memory is free again when copy_h2d returns. A chunk is reused once the event recorded after its copy has completed;
// at most kStageCap bytes of chunks per device, beyond which the oldest copy in flight is waited for.
namespace {
constexpr size_t kStageMax = size_t(8) << 20;
constexpr size_t kStageCap = size_t(64) << 20;
struct StageChunk {
  char* host = nullptr;
  size_t size = 0;
  cudaEvent_t done = nullptr;
  uint64_t ticket = 0;  // order of use, to wait for the oldest
};
struct StagePool {
  std::mutex mu;
  std::vector<StageChunk> chunks;
  size_t bytes = 0;
  uint64_t next_ticket = 1;
};
StagePool& stage_pool(int device) {
  static StagePool* pools = new StagePool[kMaxCudaDevices];
  return pools[device];
}
bool stage_upload(int device, void* dst, const void* src, size_t bytes) {
  StagePool& p = stage_pool(device);
  std::lock_guard<std::mutex> lk(p.mu);
  StageChunk* pick = nullptr;
  for (StageChunk& c : p.chunks) {
    if (c.size < bytes) continue;
    const cudaError_t q = cudaEventQuery(c.done);
    if (q == cudaErrorNotReady) continue;
    if (q != cudaSuccess) cudaGetLastError();
    if (!pick || c.size < pick->size) pick = &c;
  }
  if (!pick) {
    size_t size = 64 << 10;
    while (size < bytes) size <<= 1;
    while (p.bytes + size > kStageCap && !p.chunks.empty()) {  // wait for the oldest copy, then let its chunk go
      auto oldest = std::min_element(p.chunks.begin(), p.chunks.end(),
                                     [](const StageChunk& a, const StageChunk& b) { return a.ticket < b.ticket; });
      cudaEventSynchronize(oldest->done);
      cudaEventDestroy(oldest->done);
      cudaFreeHost(oldest->host);
      p.bytes -= oldest->size;
      p.chunks.erase(oldest);
    }
    StageChunk c;
    c.size = size;
    if (cudaHostAlloc(reinterpret_cast<void**>(&c.host), size, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();
      return false;  // no pinned memory: the caller copies synchronously
    }
    if (cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();
      cudaFreeHost(c.host);
      return false;
    }
    p.bytes += size;
    p.chunks.push_back(c);
    pick = &p.chunks.back();
  }
  std::memcpy(pick->host, src, bytes);
  check(cudaMemcpyAsync(dst, pick->host, bytes, cudaMemcpyHostToDevice, stream_of(device)),
        "copy to cuda:" + std::to_string(device));
  check(cudaEventRecord(pick->done, stream_of(device)), "copy to cuda:" + std::to_string(device));
  pick->ticket = p.next_ticket++;
  return true;
}
}  // namespace

void copy_h2d(int device, void* dst, const void* src, size_t bytes) {
  select(device);
  if (bytes == 0) return;
  if (bytes <= kStageMax && stage_upload(device, dst, src, bytes)) return;
  // From pageable memory: queued on the stream, then waited for (the caller's memory must stay valid until copied).
  const std::string what = "copy to cuda:" + std::to_string(device);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_of(device)), what);
  check(cudaStreamSynchronize(stream_of(device)), what);
}
void copy_d2h(int device, void* dst, const void* src, size_t bytes) {
  select(device);
  if (bytes == 0) return;
  const std::string what = "copy from cuda:" + std::to_string(device);
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(device)), what);
  check(cudaStreamSynchronize(stream_of(device)), what);  // the data crosses to the host: wait for it
}
void copy_d2d(int dst_device, void* dst, int src_device, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == src_device) {
    select(dst_device);
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(dst_device)),
          "copy on cuda:" + std::to_string(dst_device));
    return;
  }
  // Between devices: the source's queued work first, then the copy on the destination's stream, waited for, so that
  // neither buffer can be reused by either device's allocator while the copy still reads or writes it.
  const std::string what = "copy cuda:" + std::to_string(src_device) + " -> cuda:" + std::to_string(dst_device);
  select(src_device);
  check(cudaStreamSynchronize(stream_of(src_device)), what);
  select(dst_device);
  check(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, stream_of(dst_device)), what);
  check(cudaStreamSynchronize(stream_of(dst_device)), what);
}
void memset_zero(int device, void* dst, size_t bytes) {
  select(device);
  check(cudaMemsetAsync(dst, 0, bytes, stream_of(device)), "memset on cuda:" + std::to_string(device));
}
void synchronize(int device) {
  select(device);
  check(cudaStreamSynchronize(stream_of(device)), "synchronize cuda:" + std::to_string(device));
  check(cudaDeviceSynchronize(), "synchronize cuda:" + std::to_string(device));
}

// ---- profiling marks ----------------------------------------------------------------------------------------------
// Events come from a pool (cudaEventCreate costs more than the ops it would time). A failure to record leaves the
// mark out (nullptr): profiling never turns an op into an error.
namespace {
std::mutex g_event_mu;
std::vector<cudaEvent_t> g_event_pool;
}  // namespace
void* profile_mark() {
  if (!g_cuda_used.load(std::memory_order_relaxed)) return nullptr;
  cudaEvent_t e = nullptr;
  {
    std::lock_guard<std::mutex> lk(g_event_mu);
    if (!g_event_pool.empty()) {
      e = g_event_pool.back();
      g_event_pool.pop_back();
    }
  }
  if (!e && cudaEventCreate(&e) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  if (cudaEventRecord(e, detail::cur_stream()) != cudaSuccess) {
    cudaGetLastError();
    cudaEventDestroy(e);
    return nullptr;
  }
  return e;
}
double profile_elapsed_ms(void* start, void* end) {
  if (!start || !end) return -1;
  float ms = 0;
  if (cudaEventSynchronize(static_cast<cudaEvent_t>(end)) != cudaSuccess ||
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return ms;
}
void profile_release(void* mark) {
  if (!mark) return;
  std::lock_guard<std::mutex> lk(g_event_mu);
  g_event_pool.push_back(static_cast<cudaEvent_t>(mark));
}

}  // namespace cuda
}  // namespace seekr
