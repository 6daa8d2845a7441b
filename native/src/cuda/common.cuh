// Internal helpers shared by the CUDA kernel files: device selection, launch checks, scratch buffers, launch sizing,
// N-d strided indexing (dims coalesced on the host, at most kMaxDims left), warp / block reductions, and IEEE
// round-to-nearest float helpers.
//
// The addon's CUDA code is compiled with --use_fast_math (CMakeLists.txt), which turns expf/logf/sinf/... into
// approximate intrinsics, '/' and sqrtf into approximate instructions, and lets the compiler fuse a*b+c into FMAs.
// The f32 kernels must match the CPU kernels (plain IEEE float ops, glibc's correctly rounded math), so they use:
// fadd/fsub/fmul/fdiv/fsqrt below (explicit round-to-nearest intrinsics, never contracted) and transcendental
// functions evaluated in double and rounded once to float (fast math does not touch double precision).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/core.h"
#include "cuda/backend.h"

namespace seekr {
namespace cuda {
namespace detail {

// Implemented in backend.cu.
void use_device(int device);                                   // cudaSetDevice with a clear error
cudaStream_t cur_stream();  // the compute stream of the device use_device selected last on this thread
// The stream argument of every kernel launch: <<<grid, block, smem, SEEKR_STREAM>>> (native/scripts/stream-launches.py).
#define SEEKR_STREAM ::seekr::cuda::detail::cur_stream()
void check_launch(const char* op);                             // cudaGetLastError -> seekr::Error naming the op
void check_call(cudaError_t e, const char* op, const char* what);

// A temporary device buffer from the caching allocator (not counted by memory()). Kernels and copies of a device all
// run on its compute stream (cur_stream), so a block handed back here can be reused by the next op without a
// synchronisation.
struct Scratch {
  int device;
  void* ptr = nullptr;
  Scratch(int dev, size_t bytes) : device(dev) { ptr = device_alloc(dev, bytes == 0 ? 1 : bytes); }
  ~Scratch() { device_free(device, ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T> T* as() const { return static_cast<T*>(ptr); }
};

constexpr int kThreads = 256;
// Blocks for a grid-stride loop over n items (n > 0).
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  if (b > (int64_t(1) << 20)) b = int64_t(1) << 20;
  return (unsigned)(b < 1 ? 1 : b);
}

// ---- N-d strided indexing -----------------------------------------------------------------------------------------
constexpr int kMaxDims = 16;

template <int N>
struct Strided {
  int nd = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];
  int64_t base[N];
  bool contiguous[N];  // stride pattern equals the linear index (offset = base + i)
};

// Builds the index for `shape` and N operand stride vectors: drops size-1 dims and merges neighbouring dims that are
// contiguous for every operand (the linear order of the elements is unchanged). Throws when more than kMaxDims remain.
template <int N>
Strided<N> make_strided(const char* op, const std::vector<int64_t>& shape, const std::vector<int64_t>* const (&strides)[N],
                        const int64_t (&base)[N]) {
  std::vector<int64_t> sh;
  std::vector<int64_t> st[N];
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    sh.push_back(shape[d]);
    for (int k = 0; k < N; ++k) st[k].push_back((*strides[k])[d]);
  }
  // Merge d into d+1 when stride[d] == stride[d+1] * shape[d+1] for every operand (from the inside out).
  for (int d = (int)sh.size() - 2; d >= 0; --d) {
    bool ok = true;
    for (int k = 0; k < N; ++k) ok = ok && st[k][d] == st[k][d + 1] * sh[d + 1];
    if (!ok) continue;
    sh[d + 1] *= sh[d];
    sh.erase(sh.begin() + d);
    for (int k = 0; k < N; ++k) st[k].erase(st[k].begin() + d);
  }
  if ((int)sh.size() > kMaxDims) {  // the binding prefixes the op's name: "seekr.<op>: ..."
    (void)op;
    throw Error("the CUDA kernels take at most " + std::to_string(kMaxDims) +
                " dimensions after merging contiguous ones; this view has " + std::to_string(sh.size()) + " of " +
                std::to_string(shape.size()));
  }
  Strided<N> s;
  s.nd = (int)sh.size();
  for (int d = 0; d < s.nd; ++d) s.shape[d] = sh[d];
  for (int k = 0; k < N; ++k) {
    s.base[k] = base[k];
    for (int d = 0; d < s.nd; ++d) s.strides[k][d] = st[k][d];
    s.contiguous[k] = s.nd == 0 || (s.nd == 1 && st[k][0] == 1);
  }
  return s;
}

// Offsets of element i (linear index over the shape, row-major) for every operand.
template <int N>
__device__ __forceinline__ void strided_offsets(const Strided<N>& s, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = s.base[k];
  for (int d = s.nd - 1; d >= 0; --d) {
    const int64_t n = s.shape[d];
    const int64_t q = i / n;
    const int64_t r = i - q * n;
    i = q;
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += r * s.strides[k][d];
  }
}

// ---- IEEE float arithmetic (never fused, never approximate) ----------------------------------------------------
__device__ __forceinline__ float fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fsub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fdiv(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float fsqrt(float a) { return __fsqrt_rn(a); }
// Transcendentals: double precision, rounded once (matches glibc's correctly rounded float functions).
__device__ __forceinline__ float fexp(float x) { return (float)::exp((double)x); }
__device__ __forceinline__ float flog(float x) { return (float)::log((double)x); }
__device__ __forceinline__ float ftanh(float x) { return (float)::tanh((double)x); }
__device__ __forceinline__ float ferf(float x) { return (float)::erf((double)x); }
__device__ __forceinline__ float fsin(float x) { return (float)::sin((double)x); }
__device__ __forceinline__ float fcos(float x) { return (float)::cos((double)x); }
__device__ __forceinline__ float fpow(float x, float y) { return (float)::pow((double)x, (double)y); }

// ---- reductions -------------------------------------------------------------------------------------------------
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Block-wide sum / max (blockDim.x a multiple of 32, at most 1024); red holds 32 entries. Every thread gets the result.
template <typename T>
__device__ T block_sum(T v, T* red) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  T r = 0;
  for (int i = 0; i < nw; ++i) r += red[i];  // fixed order
  return r;
}
__device__ inline float block_max(float v, float* red) {
  v = warp_max(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = -INFINITY;
  for (int i = 0; i < nw; ++i) r = fmaxf(r, red[i]);
  return r;
}

}  // namespace detail
}  // namespace cuda
}  // namespace seekr

namespace seekr {
namespace cuda {
namespace detail {

// ---- device side, for the .cu files: float32 / bfloat16 / float16 elements ----------------------------------------
// ldf widens exactly, stf rounds to nearest even: the conversions of cuda::convert, so a kernel reading and writing
// half data gives the float32 kernel's results on widened copies, rounded once. AnyF marks data whose dtype (a DType
// code) is only known at run time (operands of mixed dtypes); the typed overloads ignore the code.
struct AnyF;
// float32 -> bfloat16 to nearest even, NaN kept NaN with its sign and top payload bits, quieted: the host's rounding
// (common/half.h), where __float2bfloat16_rn gives every NaN as 0x7fff.
__device__ __forceinline__ __nv_bfloat16 to_bf16(float v) {
  const unsigned u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __ushort_as_bfloat16((unsigned short)((u >> 16) | 0x40u));
  return __float2bfloat16_rn(v);
}
// float32 -> float16 likewise: NaN quiet with sign and top payload bits (the host's F16C rounding), not 0x7fff.
__device__ __forceinline__ __half to_f16(float v) {
  const unsigned u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return __ushort_as_half((unsigned short)(((u >> 16) & 0x8000u) | 0x7e00u | ((u & 0x7fffffu) >> 13)));
  return __float2half_rn(v);
}
// float16 -> float32 exactly; a NaN stays NaN with its sign and payload, made quiet (the host's conversion), where
// __half2float gives every NaN as 0x7fffffff.
__device__ __forceinline__ float from_f16(__half h) {
  const unsigned b = __half_as_ushort(h);
  if ((b & 0x7c00u) == 0x7c00u && (b & 0x3ffu))
    return __uint_as_float(((b & 0x8000u) << 16) | 0x7fc00000u | ((b & 0x3ffu) << 13));
  return __half2float(h);
}
__device__ __forceinline__ float ldf(const float* p, int, int64_t i) { return p[i]; }
__device__ __forceinline__ float ldf(const __nv_bfloat16* p, int, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ float ldf(const __half* p, int, int64_t i) { return from_f16(p[i]); }
__device__ __forceinline__ float ldf(const AnyF* p, int d, int64_t i) {
  if (d == (int)DType::BF16) return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]);
  if (d == (int)DType::F16) return from_f16(reinterpret_cast<const __half*>(p)[i]);
  return reinterpret_cast<const float*>(p)[i];
}
__device__ __forceinline__ void stf(float* p, int, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void stf(__nv_bfloat16* p, int, int64_t i, float v) { p[i] = to_bf16(v); }
__device__ __forceinline__ void stf(__half* p, int, int64_t i, float v) { p[i] = to_f16(v); }
__device__ __forceinline__ void stf(AnyF* p, int d, int64_t i, float v) {
  if (d == (int)DType::BF16) reinterpret_cast<__nv_bfloat16*>(p)[i] = to_bf16(v);
  else if (d == (int)DType::F16) reinterpret_cast<__half*>(p)[i] = to_f16(v);
  else reinterpret_cast<float*>(p)[i] = v;
}

template <typename T>
struct Elem {
  using type = T;
};
// Calls f(Elem<T>{}) with T the element type of the float dtype d.
template <typename F>
void with_dtype(DType d, F&& f) {
  if (d == DType::BF16) return f(Elem<__nv_bfloat16>{});
  if (d == DType::F16) return f(Elem<__half>{});
  return f(Elem<float>{});
}
// with_dtype(d, f) when every float operand of the op has dtype d (same), else f(Elem<AnyF>{}).
template <typename F>
void with_elem(bool same, DType d, F&& f) {
  if (!same) return f(Elem<AnyF>{});
  with_dtype(d, f);
}
// p advanced by n elements of dtype d.
inline const void* elem_offset(const void* p, DType d, int64_t n) {
  return static_cast<const char*>(p) + n * (int64_t)dtype_size(d);
}
inline void* elem_offset(void* p, DType d, int64_t n) { return static_cast<char*>(p) + n * (int64_t)dtype_size(d); }

// ---- 16-byte vector access, for the contiguous fast paths ---------------------------------------------------------
// A kernel whose operands all start 16-byte aligned (aligned16, tested on the host) moves whole 16-byte chunks: V
// elements per thread and step, V * sizeof(T) a multiple of 16 for every operand's T. The elements of a chunk still
// go through ldf / stf one by one, so the values (and bits) are those of the scalar loop.
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
// Elements of T in 16 bytes: 4 float32, 8 bfloat16 / float16.
template <typename T>
constexpr int kVec16 = 16 / (int)sizeof(T);
template <typename T>
struct alignas(16) Chunk16 {
  T e[kVec16<T>];
};
// v[j] = ldf(p, i + j) for j < V; p + i 16-byte aligned.
template <int V, typename T>
__device__ __forceinline__ void ldf_vec(const T* p, int64_t i, float (&v)[V]) {
  constexpr int P = kVec16<T>;
  static_assert(V % P == 0, "V elements must fill whole 16-byte chunks");
  const Chunk16<T>* q = reinterpret_cast<const Chunk16<T>*>(p + i);
#pragma unroll
  for (int w = 0; w < V / P; ++w) {
    const Chunk16<T> c = q[w];
#pragma unroll
    for (int j = 0; j < P; ++j) v[w * P + j] = ldf(c.e, 0, j);
  }
}
// stf(p, i + j, v[j]) for j < V; p + i 16-byte aligned.
template <int V, typename T>
__device__ __forceinline__ void stf_vec(T* p, int64_t i, const float (&v)[V]) {
  constexpr int P = kVec16<T>;
  static_assert(V % P == 0, "V elements must fill whole 16-byte chunks");
  Chunk16<T>* q = reinterpret_cast<Chunk16<T>*>(p + i);
#pragma unroll
  for (int w = 0; w < V / P; ++w) {
    Chunk16<T> c;
#pragma unroll
    for (int j = 0; j < P; ++j) stf(c.e, 0, j, v[w * P + j]);
    q[w] = c;
  }
}
// Grid-stride loop over n elements in chunks of V: chunk(i) for i = 0, V, 2V, ... below n - n % V, then elem(i) for
// each of the last n % V elements (one per thread). Every index is visited once; launch grid_for_vec(n, V) blocks.
template <int V, typename ChunkF, typename ElemF>
__device__ __forceinline__ void grid_loop_vec(int64_t n, ChunkF&& chunk, ElemF&& elem) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, step = (int64_t)gridDim.x * blockDim.x;
  const int64_t nv = n - n % V;
  for (int64_t i = t * V; i < nv; i += step * V) chunk(i);
  for (int64_t i = nv + t; i < n; i += step) elem(i);
}
// Blocks for grid_loop_vec over n > 0 elements: a thread per chunk (the tail fits in the first block).
inline unsigned grid_for_vec(int64_t n, int V, int threads = kThreads) { return grid_for((n + V - 1) / V, threads); }

}  // namespace detail
}  // namespace cuda
}  // namespace seekr
