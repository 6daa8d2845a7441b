// Host emulation of CUDA kernel files (see run.mjs): CUDA's half types in host mode, the device intrinsics the kernels
// use as plain host functions (round-to-nearest IEEE float), and a grid run thread by thread (kernels without
// __syncthreads-dependent shared memory only: every thread's work is independent).
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <functional>
struct EmuDim { unsigned x = 0, y = 0, z = 0; };
inline thread_local EmuDim emu_blockIdx, emu_threadIdx, emu_blockDim, emu_gridDim;
#define blockIdx emu_blockIdx
#define threadIdx emu_threadIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline void __syncthreads() {}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int) { return v; }
// Launch counting, so the test can say which kernel ran.
inline int emu_launches = 0;
inline std::function<void(const char*)> emu_on_launch;
template <typename F>
void emu_launch(const char* name, unsigned grid, unsigned threads, F&& body) {
  ++emu_launches;
  if (emu_on_launch) emu_on_launch(name);
  emu_gridDim = {grid, 1, 1};
  emu_blockDim = {threads, 1, 1};
  for (unsigned b = 0; b < grid; ++b)
    for (unsigned t = 0; t < threads; ++t) {
      emu_blockIdx = {b, 0, 0};
      emu_threadIdx = {t, 0, 0};
      body();
    }
}
