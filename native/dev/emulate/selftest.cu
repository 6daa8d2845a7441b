// The emulator's own checks (node dev/emulate/run.mjs selftest; selftest_main.cpp compares): CUDA kernels whose results
// depend on what the emulator must get right: warp shuffles (xor / down / up / indexed, with widths; floats and
// doubles; ballot), __syncthreads as a barrier (a block reversal and a tree reduction through shared memory, warps
// doing different amounts of warp work before a barrier), static and dynamic shared memory fresh in every block, 2-D
// grids and blocks,
// blocks whose size is not a multiple of 32, atomics across blocks, and the inline PTX ex2.approx.ftz.f32. Written as
// CUDA (it would compile with nvcc too); run.mjs rewrites it like the kernel files of src/cuda.
#include <cuda_runtime.h>

#include <cstdint>

namespace selftest {

// out[t * 12 + k]: lane l of warp w holds v = 100 w + l (and 0.5 + v as a double)
__global__ void shuffles(int* out, double* dout) {
  const int t = threadIdx.x, lane = t & 31;
  const int v = 100 * (t >> 5) + lane;
  int* o = out + t * 12;
  o[0] = __shfl_xor_sync(0xffffffffu, v, 1);
  o[1] = __shfl_xor_sync(0xffffffffu, v, 16);
  o[2] = __shfl_xor_sync(0xffffffffu, v, 4, 8);
  o[3] = __shfl_down_sync(0xffffffffu, v, 3);
  o[4] = __shfl_down_sync(0xffffffffu, v, 3, 16);
  o[5] = __shfl_up_sync(0xffffffffu, v, 5);
  o[6] = __shfl_up_sync(0xffffffffu, v, 2, 8);
  o[7] = __shfl_sync(0xffffffffu, v, 7);
  o[8] = __shfl_sync(0xffffffffu, v, lane ^ 3, 8);
  o[9] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
  float f = (float)v;
  for (int m = 16; m > 0; m >>= 1) f += __shfl_xor_sync(0xffffffffu, f, m);  // the warp's sum, in every lane
  o[10] = (int)f;
  __syncwarp();
  o[11] = __any_sync(0xffffffffu, lane == 31 && (t >> 5) == 1) + 2 * __all_sync(0xffffffffu, lane < 32);
  double d = 0.5 + v;
  for (int m = 1; m < 32; m <<= 1) d += __shfl_xor_sync(0xffffffffu, d, m);
  dout[t] = d;
}

// Each block reverses its slice of in through shared memory: out[b n + t] = in[b n + n - 1 - t].
__global__ void reverse(const float* in, float* out) {
  __shared__ float s[1024];
  const int n = blockDim.x, b = blockIdx.x, t = threadIdx.x;
  s[t] = in[b * n + t];
  __syncthreads();
  out[b * n + t] = s[n - 1 - t];
}

// Tree sum through shared memory, a barrier per level: out[b] = sum of the block's n inputs (n a power of two).
__global__ void tree_sum(const float* in, float* out) {
  __shared__ float s[1024];
  const int t = threadIdx.x;
  s[t] = in[blockIdx.x * blockDim.x + t];
  for (int h = blockDim.x / 2; h > 0; h >>= 1) {
    __syncthreads();
    if (t < h) s[t] += s[t + h];
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

// Warp w does w + 1 rounds of warp sums before the barrier (warps at different warp syncs while others wait), then
// every thread reads every warp's result. out[b * nt + t] = sum over warps of (w + 1) * 32 * (the warp's lane sum).
__global__ void uneven(int* out) {
  __shared__ int part[32];
  const int t = threadIdx.x, lane = t & 31, w = t >> 5;
  int acc = 0;
  for (int k = 0; k <= w; ++k) {
    int v = lane + k;
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    acc += v;
  }
  if (lane == 0) part[w] = acc;
  __syncthreads();
  int tot = 0;
  for (int i = 0; i < (int)(blockDim.x >> 5); ++i) tot += part[i];
  out[blockIdx.x * blockDim.x + t] = tot;
}

// Shared memory at the start of a block: what thread 0 finds before anyone writes (garbage on a GPU; 0xff bytes in the
// emulator, whatever earlier blocks wrote), then the block writes it.
__global__ void fresh(unsigned* seen) {
  __shared__ unsigned s[64];
  if (threadIdx.x == 0) seen[blockIdx.x] = s[5];
  __syncthreads();
  s[threadIdx.x] = 7u * blockIdx.x;
}

// 2-D grid and block: out[linear thread] = (blockIdx, threadIdx) packed, and the block's count via shared atomics.
__global__ void grid2d(int* out, int* counts) {
  __shared__ int count;
  if (threadIdx.x == 0 && threadIdx.y == 0) count = 0;
  __syncthreads();
  atomicAdd(&count, 1);
  const int bid = blockIdx.y * gridDim.x + blockIdx.x;
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  out[bid * blockDim.x * blockDim.y + tid] = (blockIdx.y << 24) | (blockIdx.x << 16) | (threadIdx.y << 8) | threadIdx.x;
  __syncthreads();
  if (tid == 0) counts[bid] = count;
}

// A block of 48 threads (a partial second warp): a barrier still spans all 48.
__global__ void partial(const int* in, int* out) {
  __shared__ int s[48];
  s[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = s[(threadIdx.x + 17) % 48];
}

// Dynamic shared memory (the launch's smem bytes) beside a static array: fresh (0xff) in every block, then
// out[b n + t] = in[b n + (t + 1) % n] + 100 (t % 4).
__global__ void dynamic(const float* in, float* out, unsigned* seen) {
  __shared__ float st[4];
  extern __shared__ float dyn[];
  const int t = threadIdx.x, n = blockDim.x;
  if (t == 0) seen[blockIdx.x] = __float_as_uint(dyn[n - 1]);
  __syncthreads();
  if (t < 4) st[t] = 100.f * t;
  dyn[t] = in[blockIdx.x * n + t];
  __syncthreads();
  out[blockIdx.x * n + t] = dyn[(t + 1) % n] + st[t % 4];
}

__global__ void atomics(float* f, double* d, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    atomicAdd(f, 1.f);
    atomicAdd(d, 0.5);
  }
}

__global__ void ex2(const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x[i]));
    y[i] = r;
  }
}

// ---- host wrappers (selftest_main.cpp) ----------------------------------------------------------------------------
void run_shuffles(int* out, double* dout, int threads) { shuffles<<<1, threads>>>(out, dout); }
void run_reverse(const float* in, float* out, int blocks, int n) { reverse<<<blocks, n>>>(in, out); }
void run_tree_sum(const float* in, float* out, int blocks, int n) { tree_sum<<<blocks, n, 0, nullptr>>>(in, out); }
void run_uneven(int* out, int blocks, int n) { uneven<<<blocks, n>>>(out); }
void run_fresh(unsigned* seen, int blocks) { fresh<<<blocks, 64>>>(seen); }
void run_grid2d(int* out, int* counts) { grid2d<<<dim3(3, 2), dim3(16, 4)>>>(out, counts); }
void run_partial(const int* in, int* out) { partial<<<1, 48>>>(in, out); }
void run_dynamic(const float* in, float* out, unsigned* seen, int blocks, int n) {
  dynamic<<<blocks, n, n * sizeof(float), nullptr>>>(in, out, seen);
}
void run_atomics(float* f, double* d, int n) { atomics<<<(n + 255) / 256, 256>>>(f, d, n); }
void run_ex2(const float* x, float* y, int n) { ex2<<<1, 64>>>(x, y, n); }

}  // namespace selftest
