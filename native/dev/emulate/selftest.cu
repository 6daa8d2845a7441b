// The emulator's own checks (node dev/emulate/run.mjs selftest; selftest_main.cpp compares): CUDA kernels whose results
// depend on what the emulator must get right: warp shuffles (xor / down / up / indexed, with widths; floats and
// doubles; ballot), __syncthreads as a barrier (a block reversal and a tree reduction through shared memory, warps
// doing different amounts of warp work before a barrier), static and dynamic shared memory fresh in every block, 2-D
// grids and blocks,
// blocks whose size is not a multiple of 32, atomics across blocks, and the inline PTX: ex2.approx.ftz.f32, and the
// tensor-core instructions of attention_tc.cu (ldmatrix x1 / x2 / x4 and .trans, mma.sync m16n8k16 bf16 / f16 with
// f32 accumulators, cp.async with zero fill), each alone against the PTX ISA's layouts and together the way
// attention_tc.cu uses them. Written as CUDA (it would compile with nvcc too); run.mjs rewrites it like the kernel
// files of src/cuda.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
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

// ---- tensor-core PTX (ptx.h) ---------------------------------------------------------------------------------------
__device__ __forceinline__ uint32_t saddr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// ldmatrix, one warp: shared row p (8 b16 values, row stride 24 elements = 48 bytes) holds src[8 p .. 8 p + 7]; lane l
// gives the address of row perm[l] (lanes past 8 num the address of a misaligned element, never read).
// out[(v * 32 + l) * 4 + i]: register i of lane l for v = 0 x1, 1 x2, 2 x4, 3 x1.trans, 4 x2.trans, 5 x4.trans.
__global__ void ldmatrix_kernel(const uint16_t* src, const int* perm, uint32_t* out) {
  __shared__ __align__(16) uint16_t s[32 * 24];
  const int l = threadIdx.x;
  for (int c = 0; c < 24; ++c) s[l * 24 + c] = c < 8 ? src[l * 8 + c] : (uint16_t)0xdead;
  __syncwarp();
  const uint32_t a = saddr(&s[perm[l] * 24]), unused = saddr(&s[1]);
  uint32_t r[4];
  uint32_t* o = out + l * 4;
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(l < 8 ? a : unused));
  o[0] = r[0];
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(l < 16 ? a : unused));
  o[128] = r[0], o[129] = r[1];
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
  for (int i = 0; i < 4; ++i) o[256 + i] = r[i];
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(l < 8 ? a : unused));
  o[384] = r[0];
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(l < 16 ? a : unused));
  o[512] = r[0], o[513] = r[1];
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
  for (int i = 0; i < 4; ++i) o[640 + i] = r[i];
}

template <bool BF16> __device__ __forceinline__ uint32_t pack(float lo, float hi) {
  uint32_t u;
  if (BF16) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    memcpy(&u, &v, 4);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    memcpy(&u, &v, 4);
  }
  return u;
}
template <bool BF16> __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if (BF16)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// mma alone, one warp: D (16 x 8) = A (16 x 16) B (16 x 8) + C, row-major float matrices, each lane's fragments
// gathered from global memory by the register layout of the PTX ISA (g = lane / 4, t = lane % 4): A register i holds
// row g + 8 (i & 1), columns 2 t + 8 (i >> 1) and + 1; B register i rows 2 t + 8 i and + 1 of column g; C / D element i
// row g + 8 (i >> 1), column 2 t + (i & 1).
template <bool BF16>
__global__ void mma_kernel(const float* A, const float* B, const float* C, float* D) {
  const int l = threadIdx.x, g = l >> 2, t = l & 3;
  uint32_t a[4], b[2];
  float d[4];
  for (int i = 0; i < 4; ++i) {
    const int row = g + 8 * (i & 1), col = 2 * t + 8 * (i >> 1);
    a[i] = pack<BF16>(A[row * 16 + col], A[row * 16 + col + 1]);
  }
  for (int i = 0; i < 2; ++i) b[i] = pack<BF16>(B[(2 * t + 8 * i) * 8 + g], B[(2 * t + 8 * i + 1) * 8 + g]);
  for (int i = 0; i < 4; ++i) d[i] = C[(g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)];
  mma<BF16>(d, a, b[0], b[1]);
  for (int i = 0; i < 4; ++i) D[(g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)] = d[i];
}

// ldmatrix feeding mma the way attention_tc.cu does, one warp: D (16 x 16) = A (16 x 16) B (16 x 16) twice, B's
// fragments from B^T (n-major: mma_abt's ldmatrix.x4) and from B (k-major: mma_pv's ldmatrix.x4.trans); shared
// tiles with a row stride of 24 elements. D1 / D2 row-major 16 x 16.
template <bool BF16>
__global__ void ldmatrix_mma_kernel(const float* A, const float* B, float* D1, float* D2) {
  constexpr int LDS = 24;
  __shared__ __align__(16) uint16_t as[16 * LDS];
  __shared__ __align__(16) uint16_t bt[16 * LDS];
  __shared__ __align__(16) uint16_t bk[16 * LDS];
  const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  for (int e = lane; e < 16 * 8; e += 32) {  // pairs of columns
    const int r = e / 8, c = 2 * (e % 8);
    const uint32_t pa = pack<BF16>(A[r * 16 + c], A[r * 16 + c + 1]), pb = pack<BF16>(B[r * 16 + c], B[r * 16 + c + 1]),
                   pt = pack<BF16>(B[c * 16 + r], B[(c + 1) * 16 + r]);
    memcpy(&as[r * LDS + c], &pa, 4);
    memcpy(&bk[r * LDS + c], &pb, 4);
    memcpy(&bt[r * LDS + c], &pt, 4);
  }
  __syncwarp();
  uint32_t af[4], r[4];
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(af[0]), "=r"(af[1]), "=r"(af[2]), "=r"(af[3])
               : "r"(saddr(as + (lane & 15) * LDS + (lane >> 4) * 8)));
  float d[4][4] = {};
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(saddr(bt + ((lane & 7) + (lane >> 4) * 8) * LDS + ((lane >> 3) & 1) * 8)));
  mma<BF16>(d[0], af, r[0], r[1]);
  mma<BF16>(d[1], af, r[2], r[3]);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(saddr(bk + (lane & 15) * LDS + (lane >> 4) * 8)));
  mma<BF16>(d[2], af, r[0], r[1]);
  mma<BF16>(d[3], af, r[2], r[3]);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i >> 1), col = 8 * n + 2 * t + (i & 1);
      D1[row * 16 + col] = d[n][i];
      D2[row * 16 + col] = d[2 + n][i];
    }
}

// cp.async, one warp: lane l copies src[8 l .. 8 l + 7] (16 bytes) into shared row l with src-size 16, 8, 4 or 0 by
// l % 4 (the rest zero-filled), and 8 bytes of src2[4 l ..] with cp.async.ca into a second row; then every lane reads
// another lane's rows after the wait and a barrier: out[16 l ..] = rows of lane (l + 1) % 32.
__global__ void cp_async_kernel(const uint16_t* src, const uint16_t* src2, uint16_t* out) {
  __shared__ __align__(16) uint16_t s[32 * 8];
  __shared__ __align__(16) uint16_t s2[32 * 8];
  const int l = threadIdx.x;
  const int size = l % 4 == 3 ? 0 : 16 >> (l % 4);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(saddr(&s[l * 8])), "l"(src + 8 * l), "r"(size));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(saddr(&s2[l * 8])), "l"(src2 + 4 * l));
  asm volatile("cp.async.commit_group;\n" ::: "memory");
  asm volatile("cp.async.wait_group %0;\n" ::"n"(0) : "memory");
  __syncthreads();
  const int o = (l + 1) % 32;
  for (int c = 0; c < 8; ++c) out[16 * l + c] = s[o * 8 + c];
  for (int c = 0; c < 4; ++c) out[16 * l + 8 + c] = s2[o * 8 + c];
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
void run_ldmatrix(const uint16_t* src, const int* perm, uint32_t* out) { ldmatrix_kernel<<<1, 32>>>(src, perm, out); }
void run_mma(bool bf16, const float* A, const float* B, const float* C, float* D) {
  if (bf16) mma_kernel<true><<<1, 32>>>(A, B, C, D);
  else mma_kernel<false><<<1, 32>>>(A, B, C, D);
}
void run_ldmatrix_mma(bool bf16, const float* A, const float* B, float* D1, float* D2) {
  if (bf16) ldmatrix_mma_kernel<true><<<1, 32>>>(A, B, D1, D2);
  else ldmatrix_mma_kernel<false><<<1, 32>>>(A, B, D1, D2);
}
void run_cp_async(const uint16_t* src, const uint16_t* src2, uint16_t* out) { cp_async_kernel<<<1, 32>>>(src, src2, out); }

}  // namespace selftest
