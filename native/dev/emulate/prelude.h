// Host emulation of CUDA kernel files (see run.mjs, which force-includes this header into the rewritten .cu file):
// CUDA's half types in host mode, the device intrinsics the kernels use as plain host functions (round-to-nearest IEEE
// float; the approximate ex2 / __expf / __logf as the host's exp2f / log2f), block threads, __syncthreads, warp
// shuffles, shared memory (static and dynamic) and atomics on the fiber scheduler of emu.h / emu.cpp, emu_launch,
// which run.mjs puts in place of every kernel<<<grid, block[, smem, stream]>>>(args) launch, and the inline PTX the
// kernels use (ptx.h).
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "emu.h"

// ---- thread / block coordinates -----------------------------------------------------------------------------------
#define threadIdx (::emu::g_cur->idx)
#define blockIdx (::emu::g_blockIdx)
#define blockDim (::emu::g_blockDim)
#define gridDim (::emu::g_gridDim)
#undef warpSize
#define warpSize 32
#undef __launch_bounds__
#define __launch_bounds__(...)

// ---- arithmetic intrinsics ----------------------------------------------------------------------------------------
// volatile: each result rounded to float / double once, never fused with a neighbour (the host has no FMA contraction
// at the default -ffp-contract for ISO C++, but keep it explicit).
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { volatile double r = a + b; return r; }
inline double __dsub_rn(double a, double b) { volatile double r = a - b; return r; }
inline double __dmul_rn(double a, double b) { volatile double r = a * b; return r; }
inline double __ddiv_rn(double a, double b) { volatile double r = a / b; return r; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }
inline float __int2float_rn(int i) { return (float)i; }
inline int __float2int_rz(float f) { return (int)f; }
template <typename T> inline T __ldg(const T* p) { return *p; }
// ex2.approx.ftz.f32 (ptx.h's emu_ptx_ex2_approx_ftz_f32, which run.mjs puts in place of the inline PTX): 2^x with subnormal results flushed to +0. The host's
// exp2f is within an ulp, where the hardware's approximation is documented to about 2 ulp: the emulation checks the
// formulas around it, not the last bits of the instruction.
inline float emu_ex2_approx_ftz_f32(float x) {
  if (std::fabs(x) < FLT_MIN) x = 0.f;  // ftz input
  const float r = ::exp2f(x);
  return std::fabs(r) < FLT_MIN ? 0.f : r;
}
inline float __expf(float x) { return emu_ex2_approx_ftz_f32(__fmul_rn(x, 1.44269502162933349609375f)); }
inline float __logf(float x) { return __fmul_rn(::log2f(x), 0.693147180559945309f); }

// ---- block and warp synchronisation ---------------------------------------------------------------------------------
inline void __syncthreads() { ::emu::sync_block(); }
inline void emu_full_warp(unsigned mask, const char* what) {
  if (mask != 0xffffffffu) ::emu::fail("%s with mask %#x: only full-warp masks are emulated", what, mask);
  if (::emu::g_warps[::emu::g_cur->warp].lanes != 32)
    ::emu::fail("%s in a partial warp (the block's thread count is not a multiple of 32)", what);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu_full_warp(mask, "__syncwarp");
  ::emu::sync_warp();
}
// Every lane publishes v, the warp syncs, each lane reads lane src's value.
template <typename T>
inline T emu_exchange(T v, unsigned src) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable<T>::value, "shuffled values: at most 16 bytes");
  ::emu::Thread* t = ::emu::g_cur;
  ::emu::Warp& w = ::emu::g_warps[t->warp];
  const unsigned p = w.par;
  std::memcpy(w.buf[p][t->lane], &v, sizeof(T));
  ::emu::sync_warp();
  T r;
  std::memcpy(&r, w.buf[p][src], sizeof(T));
  return r;
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  emu_full_warp(mask, "__shfl_xor_sync");
  const unsigned lane = ::emu::g_cur->lane, src = lane ^ (unsigned)lane_mask;
  // a source in a later group of width lanes: the lane's own value
  return emu_exchange(v, src / (unsigned)width > lane / (unsigned)width || src > 31 ? lane : src);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu_full_warp(mask, "__shfl_down_sync");
  const unsigned lane = ::emu::g_cur->lane;
  return emu_exchange(v, lane % (unsigned)width + delta >= (unsigned)width ? lane : lane + delta);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu_full_warp(mask, "__shfl_up_sync");
  const unsigned lane = ::emu::g_cur->lane;
  return emu_exchange(v, lane % (unsigned)width < delta ? lane : lane - delta);
}
template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  emu_full_warp(mask, "__shfl_sync");
  const unsigned lane = ::emu::g_cur->lane;
  return emu_exchange(v, lane / (unsigned)width * (unsigned)width + (unsigned)src_lane % (unsigned)width);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  emu_full_warp(mask, "__ballot_sync");
  ::emu::Thread* t = ::emu::g_cur;
  ::emu::Warp& w = ::emu::g_warps[t->warp];
  const unsigned p = w.par;
  w.buf[p][t->lane][0] = pred != 0;
  ::emu::sync_warp();
  unsigned b = 0;
  for (unsigned l = 0; l < 32; ++l) b |= (unsigned)w.buf[p][l][0] << l;
  return b;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == 0xffffffffu; }

// ---- atomics: the block's threads are fibers on one host thread and blocks run in turn, so a plain
// read-modify-write is atomic -----------------------------------------------------------------------------------------
// (the value converted to the pointee's type, as CUDA's overloads do)
template <typename T>
struct emu_same { using type = T; };
template <typename T>
inline T atomicAdd(T* p, typename emu_same<T>::type v) { const T o = *p; *p = o + v; return o; }
template <typename T>
inline T atomicSub(T* p, typename emu_same<T>::type v) { const T o = *p; *p = o - v; return o; }
template <typename T>
inline T atomicMax(T* p, typename emu_same<T>::type v) { const T o = *p; *p = o < v ? v : o; return o; }
template <typename T>
inline T atomicMin(T* p, typename emu_same<T>::type v) { const T o = *p; *p = v < o ? v : o; return o; }
template <typename T>
inline T atomicExch(T* p, typename emu_same<T>::type v) { const T o = *p; *p = v; return o; }
template <typename T>
inline T atomicCAS(T* p, typename emu_same<T>::type cmp, typename emu_same<T>::type v) {
  const T o = *p;
  if (o == cmp) *p = v;
  return o;
}

// ---- shared memory --------------------------------------------------------------------------------------------------
// run.mjs rewrites `__shared__ T name[dims];` to EMU_SHARED((T[dims]), name, align): a reference into the block's
// shared storage (emu::shared), fresh (0xff bytes) in every block. A declaration it could not rewrite fails to compile.
#define EMU_SHARED_T(...) __VA_ARGS__
#define EMU_SHARED(TYPE, NAME, ALIGN)                                                                        \
  using emu_shared_t_##NAME = EMU_SHARED_T TYPE;                                                             \
  static char emu_shared_site_##NAME;                                                                        \
  emu_shared_t_##NAME& NAME = *static_cast<emu_shared_t_##NAME*>(::emu::shared(                            \
      &emu_shared_site_##NAME, sizeof(emu_shared_t_##NAME),                                                  \
      (ALIGN) > alignof(emu_shared_t_##NAME) ? (size_t)(ALIGN) : alignof(emu_shared_t_##NAME)))
// `extern __shared__ T name[];` (dynamic shared memory) -> EMU_DYNAMIC_SHARED(T, name): a pointer to the launch's smem
// bytes.
#define EMU_DYNAMIC_SHARED(TYPE, NAME) TYPE* const NAME = static_cast<TYPE*>(::emu::dynamic_shared())
#undef __shared__
#define __shared__ emu_shared_declaration_not_rewritten_by_run_mjs

// ---- launches -------------------------------------------------------------------------------------------------------
// The kernel's name with its template arguments, from g++'s __PRETTY_FUNCTION__ ("... [with auto K = ns::k<true, float>]"),
// namespaces dropped and the half types spelt bf16 / f16: "k<true, float>".
inline std::string emu_clean_name(const char* pretty) {
  std::string s = pretty;
  const size_t at = s.find("K = ");
  s = at == std::string::npos ? s : s.substr(at + 4, s.rfind(']') - at - 4);
  if (!s.empty() && s[0] == '&') s.erase(0, 1);
  for (const char* ns : {"seekr::cuda::", "{anonymous}::", "(anonymous namespace)::", "detail::"})
    for (size_t p; (p = s.find(ns)) != std::string::npos;) s.erase(p, std::strlen(ns));
  for (const auto& [from, to] : {std::pair<const char*, const char*>{"__nv_bfloat16", "bf16"}, {"__half", "f16"}})
    for (size_t p; (p = s.find(from)) != std::string::npos;) s.replace(p, std::strlen(from), to);
  return s;
}
template <auto K>
const char* emu_kernel_name() {
  static const std::string name = emu_clean_name(__PRETTY_FUNCTION__);
  return name.c_str();
}
template <typename... P, typename... A>
void emu_launch_fn(const char* name, dim3 grid, dim3 block, size_t smem, void (*kernel)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "emu_launch: argument count");
  struct Ctx {
    void (*kernel)(P...);
    std::tuple<P...> args;
  };
  Ctx c{kernel, std::tuple<P...>(std::forward<A>(args)...)};
  ::emu::launch(name, reinterpret_cast<const void*>(kernel), {grid.x, grid.y, grid.z}, {block.x, block.y, block.z}, smem,
                [](void* p) {
                  Ctx* c = static_cast<Ctx*>(p);
                  std::apply(c->kernel, c->args);  // by value: the thread's own copy of the parameters
                },
                &c);
}
// kernel<<<grid, block, smem>>>(args) -> emu_launch<&kernel>(grid, block, smem, args): the arguments converted to the
// kernel's parameter types once (as the host does for a real launch), then every thread of the grid calls the kernel
// with its own copy of them.
template <auto K, typename... A>
void emu_launch(dim3 grid, dim3 block, size_t smem, A&&... args) {
  emu_launch_fn(emu_kernel_name<K>(), grid, block, smem, K, std::forward<A>(args)...);
}

// cuda_runtime.h's template overload (nvcc only): a kernel pointer for the const void* of the runtime API.
template <typename... P>
inline cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}

// ---- inline PTX (run.mjs rewrites each asm statement into a call of these) ------------------------------------------
#include "ptx.h"
