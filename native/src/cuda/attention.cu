// CUDA attention kernels, float32: flash-style forward (online softmax over shared-memory key tiles, one thread per
// query row, log-sum-exp kept), taps (one block per requested probability row), backward in two passes (dQ with the
// sensitivity statistic per query row; dK/dV per key row, so no atomics), and the attention-distillation loss
// (one block per selected row). Same semantics as cpu/attention.cpp, which the tests compare against.
#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/core.h"
#include "cuda/attention.h"
#include "cuda/backend.h"
#include "cuda/attention_tc.h"
#include "cuda/common.cuh"

namespace seekr {
namespace cuda {

namespace {
using cpu::AttnShape;

constexpr int BQ = 64;   // query rows per block (one thread each)
constexpr int BK = 32;   // keys per shared-memory tile

__device__ __forceinline__ long long vis_end(const AttnShape& s, long long t) {
  if (!s.causal) return s.Tk;
  long long e = t + (s.Tk - s.Tq) + 1;
  return e < 0 ? 0 : (e > s.Tk ? s.Tk : e);
}
__device__ __forceinline__ bool key_on(const float* mask, long long b, long long Tk, long long j) {
  return mask == nullptr || mask[b * Tk + j] != 0.f;
}

void check_launch(const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw Error(std::string("CUDA kernel failure in ") + op + " (" + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")");
}
// The device and its compute stream (every launch below names SEEKR_STREAM).
void select(int device) { detail::use_device(device); }

// Stages keys [j0, j0 + BK) of kv head kh into shared memory (zeros past Tk), cooperatively over the block.
__device__ __forceinline__ void load_kv_tile(const AttnShape& s, const float* __restrict__ k, const float* __restrict__ v,
                                             long long b, long long kh, long long j0, float* Ks, float* Vs) {
  const long long D = s.D;
  for (long long idx = threadIdx.x; idx < BK * D; idx += blockDim.x) {
    const long long jj = idx / D, d = idx % D, j = j0 + jj;
    const long long src = ((b * s.Tk + j) * s.Hkv + kh) * D + d;
    Ks[idx] = j < s.Tk ? k[src] : 0.f;
    Vs[idx] = j < s.Tk ? v[src] : 0.f;
  }
}

// ---- forward ------------------------------------------------------------------------------------------------
template <int DM>
__global__ void fwd_kernel(AttnShape s, const float* __restrict__ q, const float* __restrict__ k,
                           const float* __restrict__ v, float* __restrict__ out, float* __restrict__ lse,
                           const float* __restrict__ mask) {
  extern __shared__ float smem[];
  float* Ks = smem;
  float* Vs = smem + BK * s.D;
  const long long D = s.D, H = s.H, group = s.H / s.Hkv;
  const long long bh = blockIdx.y, b = bh / H, h = bh % H, kh = h / group;
  const long long t0 = (long long)blockIdx.x * BQ, t = t0 + threadIdx.x;
  const bool active = t < s.Tq;
  float qr[DM], o[DM];
#pragma unroll
  for (int d = 0; d < DM; ++d) {
    qr[d] = (active && d < D) ? q[((b * s.Tq + t) * H + h) * D + d] * s.scale : 0.f;
    o[d] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const long long vis = active ? vis_end(s, t) : 0;
  const long long last = (t0 + BQ - 1 < s.Tq - 1) ? t0 + BQ - 1 : s.Tq - 1;
  const long long nk = vis_end(s, last);
  for (long long j0 = 0; j0 < nk; j0 += BK) {
    load_kv_tile(s, k, v, b, kh, j0, Ks, Vs);
    __syncthreads();
    if (active) {
      for (int jj = 0; jj < BK; ++jj) {
        const long long j = j0 + jj;
        if (j >= vis || !key_on(mask, b, s.Tk, j)) continue;
        const float* kr = Ks + jj * D;
        float sc = 0.f;
#pragma unroll
        for (int d = 0; d < DM; ++d)
          if (d < D) sc += qr[d] * kr[d];
        if (sc > m) {
          const float c = __expf(m - sc);
          l *= c;
#pragma unroll
          for (int d = 0; d < DM; ++d) o[d] *= c;
          m = sc;
        }
        const float p = __expf(sc - m);
        l += p;
        const float* vr = Vs + jj * D;
#pragma unroll
        for (int d = 0; d < DM; ++d)
          if (d < D) o[d] += p * vr[d];
      }
    }
    __syncthreads();
  }
  if (!active) return;
  float* orow = out + ((b * s.Tq + t) * H + h) * D;
  const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
  for (int d = 0; d < DM; ++d)
    if (d < D) orow[d] = o[d] * inv;
  lse[(b * H + h) * s.Tq + t] = l > 0.f ? m + logf(l) : INFINITY;
}

// Scores of one query row against every key, into row[0..Tk) (-inf where not visible); returns via block reduce.
__device__ float block_max(float x, float* red) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffff, x, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
  __syncthreads();
  float r = -INFINITY;
  for (int i = 0; i < (int)(blockDim.x >> 5); ++i) r = fmaxf(r, red[i]);
  __syncthreads();
  return r;
}
__device__ double block_sum_d(double x, double* red) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffff, x, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
  __syncthreads();
  double r = 0;
  for (int i = 0; i < (int)(blockDim.x >> 5); ++i) r += red[i];
  __syncthreads();
  return r;
}

// row <- softmax of the visible scores of query t of head h (0 elsewhere); returns the row's lse (inf if empty).
__device__ float row_probs(const AttnShape& s, const float* q, const float* k, const float* mask, long long b,
                           long long h, long long t, float* row, float* redf, double* redd) {
  const long long D = s.D, group = s.H / s.Hkv, kh = h / group;
  const long long vis = vis_end(s, t);
  const float* qr = q + ((b * s.Tq + t) * s.H + h) * D;
  float mx = -INFINITY;
  for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x) {
    float sc = -INFINITY;
    if (j < vis && key_on(mask, b, s.Tk, j)) {
      const float* kr = k + ((b * s.Tk + j) * s.Hkv + kh) * D;
      float acc = 0.f;
      for (long long d = 0; d < D; ++d) acc += qr[d] * kr[d];
      sc = acc * s.scale;
    }
    row[j] = sc;
    mx = fmaxf(mx, sc);
  }
  mx = block_max(mx, redf);
  if (mx == -INFINITY) {
    for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x) row[j] = 0.f;
    __syncthreads();
    return INFINITY;
  }
  double part = 0;
  for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x) part += row[j] == -INFINITY ? 0.0 : (double)__expf(row[j] - mx);
  const double sum = block_sum_d(part, redd);
  const float lse = mx + (float)log(sum);
  for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x) row[j] = row[j] == -INFINITY ? 0.f : __expf(row[j] - lse);
  __syncthreads();
  return lse;
}

__global__ void taps_kernel(AttnShape s, const float* q, const float* k, const float* mask, const int32_t* heads,
                            long long n_heads, const int32_t* rows, long long n_rows, float* taps) {
  __shared__ float redf[32];
  __shared__ double redd[32];
  const long long id = blockIdx.x;  // (b, i, r)
  const long long r = id % n_rows, i = (id / n_rows) % n_heads, b = id / (n_rows * n_heads);
  row_probs(s, q, k, mask, b, heads[i], rows[b * n_rows + r], taps + id * s.Tk, redf, redd);
}


// ---- backward -----------------------------------------------------------------------------------------------
__global__ void di_kernel(AttnShape s, const float* out, const float* dout, float* di) {
  const long long n = s.B * s.Tq * s.H;
  const long long id = (long long)blockIdx.x * blockDim.x + threadIdx.x;  // over (b, t, h)
  if (id >= n) return;
  const float* o = out + id * s.D;
  const float* g = dout + id * s.D;
  float acc = 0.f;
  for (long long d = 0; d < s.D; ++d) acc += o[d] * g[d];
  const long long h = id % s.H, t = (id / s.H) % s.Tq, b = id / (s.H * s.Tq);
  di[(b * s.H + h) * s.Tq + t] = acc;
}

template <int DM>
__global__ void dq_kernel(AttnShape s, const float* __restrict__ q, const float* __restrict__ k,
                          const float* __restrict__ v, const float* __restrict__ lse, const float* __restrict__ di,
                          const float* __restrict__ dout, float* __restrict__ dq, const float* __restrict__ mask,
                          float* sens, bool sens_all) {
  extern __shared__ float smem[];
  float* Ks = smem;
  float* Vs = smem + BK * s.D;
  const long long D = s.D, H = s.H, group = s.H / s.Hkv;
  const long long bh = blockIdx.y, b = bh / H, h = bh % H, kh = h / group;
  const long long t0 = (long long)blockIdx.x * BQ, t = t0 + threadIdx.x;
  const bool active = t < s.Tq;
  float qr[DM], g[DM], acc[DM];
  const long long qi = ((b * s.Tq + t) * H + h) * D;
#pragma unroll
  for (int d = 0; d < DM; ++d) {
    qr[d] = (active && d < D) ? q[qi + d] : 0.f;
    g[d] = (active && d < D) ? dout[qi + d] : 0.f;
    acc[d] = 0.f;
  }
  const float l = active ? lse[(b * H + h) * s.Tq + t] : INFINITY;
  const float dI = active ? di[(b * H + h) * s.Tq + t] : 0.f;
  const long long vis = active ? vis_end(s, t) : 0;
  const long long last = (t0 + BQ - 1 < s.Tq - 1) ? t0 + BQ - 1 : s.Tq - 1;
  const bool dense = sens != nullptr && sens_all;
  const long long nk = dense ? s.Tk : vis_end(s, last);
  double sacc = 0;
  for (long long j0 = 0; j0 < nk; j0 += BK) {
    load_kv_tile(s, k, v, b, kh, j0, Ks, Vs);
    __syncthreads();
    if (active) {
      for (int jj = 0; jj < BK; ++jj) {
        const long long j = j0 + jj;
        if (j >= nk || j >= s.Tk) break;
        const bool on = j < vis && key_on(mask, b, s.Tk, j);
        if (!on && !dense) continue;
        const float* kr = Ks + jj * D;
        const float* vr = Vs + jj * D;
        float dp = 0.f;
#pragma unroll
        for (int d = 0; d < DM; ++d)
          if (d < D) dp += g[d] * vr[d];
        if (sens) sacc += (double)dp * dp * (on || dense ? 1.0 : 0.0);
        if (!on) continue;
        float sc = 0.f;
#pragma unroll
        for (int d = 0; d < DM; ++d)
          if (d < D) sc += qr[d] * kr[d];
        const float p = __expf(sc * s.scale - l);
        const float ds = p * (dp - dI) * s.scale;
#pragma unroll
        for (int d = 0; d < DM; ++d)
          if (d < D) acc[d] += ds * kr[d];
      }
    }
    __syncthreads();
  }
  if (!active) return;
#pragma unroll
  for (int d = 0; d < DM; ++d)
    if (d < D) dq[qi + d] = acc[d];
  if (sens) atomicAdd(sens + b * H + h, (float)sacc);
}

template <int DM>
__global__ void dkv_kernel(AttnShape s, const float* __restrict__ q, const float* __restrict__ k,
                           const float* __restrict__ v, const float* __restrict__ lse, const float* __restrict__ di,
                           const float* __restrict__ dout, float* __restrict__ dk, float* __restrict__ dv,
                           const float* __restrict__ mask) {
  extern __shared__ float smem[];
  constexpr int TQ = 32;  // query rows per shared tile
  float* Qs = smem;
  float* Gs = smem + TQ * s.D;
  float* Ls = Gs + TQ * s.D;
  float* Ds = Ls + TQ;
  const long long D = s.D, H = s.H, group = s.H / s.Hkv;
  const long long bk = blockIdx.y, b = bk / s.Hkv, kh = bk % s.Hkv;
  const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const bool active = j < s.Tk && key_on(mask, b, s.Tk, j);
  const long long kidx = ((b * s.Tk + j) * s.Hkv + kh) * D;
  float kr[DM], vr[DM], gk[DM], gv[DM];
#pragma unroll
  for (int d = 0; d < DM; ++d) {
    kr[d] = (active && d < D) ? k[kidx + d] : 0.f;
    vr[d] = (active && d < D) ? v[kidx + d] : 0.f;
    gk[d] = 0.f;
    gv[d] = 0.f;
  }
  // First query row that can see the block's first key.
  const long long jfirst = (long long)blockIdx.x * blockDim.x;
  long long tstart = s.causal ? jfirst - (s.Tk - s.Tq) : 0;
  if (tstart < 0) tstart = 0;
  tstart = (tstart / TQ) * TQ;
  for (long long h = kh * group; h < (kh + 1) * group; ++h) {
    for (long long i0 = tstart; i0 < s.Tq; i0 += TQ) {
      for (long long idx = threadIdx.x; idx < TQ * D; idx += blockDim.x) {
        const long long ii = idx / D, d = idx % D, t = i0 + ii;
        const long long src = ((b * s.Tq + t) * H + h) * D + d;
        Qs[idx] = t < s.Tq ? q[src] : 0.f;
        Gs[idx] = t < s.Tq ? dout[src] : 0.f;
      }
      for (long long ii = threadIdx.x; ii < TQ; ii += blockDim.x) {
        const long long t = i0 + ii;
        Ls[ii] = t < s.Tq ? lse[(b * H + h) * s.Tq + t] : INFINITY;
        Ds[ii] = t < s.Tq ? di[(b * H + h) * s.Tq + t] : 0.f;
      }
      __syncthreads();
      if (active) {
        for (int ii = 0; ii < TQ; ++ii) {
          const long long t = i0 + ii;
          if (t >= s.Tq) break;
          if (j >= vis_end(s, t)) continue;
          const float* qr = Qs + ii * D;
          const float* gr = Gs + ii * D;
          float sc = 0.f, dp = 0.f;
#pragma unroll
          for (int d = 0; d < DM; ++d)
            if (d < D) {
              sc += qr[d] * kr[d];
              dp += gr[d] * vr[d];
            }
          const float p = __expf(sc * s.scale - Ls[ii]);
          const float ds = p * (dp - Ds[ii]) * s.scale;
#pragma unroll
          for (int d = 0; d < DM; ++d)
            if (d < D) {
              gv[d] += p * gr[d];
              gk[d] += ds * qr[d];
            }
        }
      }
      __syncthreads();
    }
  }
  if (j >= s.Tk) return;
#pragma unroll
  for (int d = 0; d < DM; ++d)
    if (d < D) {
      dk[kidx + d] = gk[d];
      dv[kidx + d] = gv[d];
    }
}

// ---- distillation -----------------------------------------------------------------------------------------------
__global__ void distill_fwd_kernel(AttnShape s, const float* q, const float* k, const float* mask, const int32_t* heads,
                                   long long n_heads, const int32_t* rows, long long n_rows, const float* teacher,
                                   double* kl_rows) {
  extern __shared__ float row[];
  __shared__ float redf[32];
  __shared__ double redd[32];
  const long long id = blockIdx.x;
  const long long r = id % n_rows, i = (id / n_rows) % n_heads, b = id / (n_rows * n_heads);
  const float lse = row_probs(s, q, k, mask, b, heads[i], rows[b * n_rows + r], row, redf, redd);
  const float* pt = teacher + id * s.Tk;
  double acc = 0;
  if (lse != INFINITY)
    for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x)
      if (pt[j] > 0.f && row[j] > 0.f) acc += (double)pt[j] * ((double)logf(pt[j]) - (double)logf(row[j]));
  acc = block_sum_d(acc, redd);
  if (threadIdx.x == 0) kl_rows[id] = acc;
}

// One block per distilled row: its dS row (the KL's gradient w.r.t. the scores, times the upstream scale) and the
// row's dq. dk either in a second kernel (ds != nullptr: the dS rows go to scratch; distill_dk_kernel sums them per
// key without atomics) or here with atomics (ds == nullptr: when that scratch would be too large).
__global__ void distill_bwd_kernel(AttnShape s, const float* q, const float* k, const float* mask, const int32_t* heads,
                                   long long n_heads, const int32_t* rows, long long n_rows, const float* teacher,
                                   const float* gy, float factor, float* dq, float* dk, float* ds) {
  extern __shared__ float row[];
  __shared__ float redf[32];
  __shared__ double redd[32];
  const long long id = blockIdx.x;
  const long long r = id % n_rows, i = (id / n_rows) % n_heads, b = id / (n_rows * n_heads);
  const long long h = heads[i], t = rows[b * n_rows + r], group = s.H / s.Hkv, kh = h / group, D = s.D;
  const float lse = row_probs(s, q, k, mask, b, h, t, row, redf, redd);
  if (lse == INFINITY) {  // no visible key: no gradient (row_probs left the row at 0)
    if (ds)
      for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x) ds[id * s.Tk + j] = 0.f;
    return;
  }
  const float* pt = teacher + id * s.Tk;
  const long long vis = vis_end(s, t);
  double part = 0;
  for (long long j = threadIdx.x; j < vis; j += blockDim.x)
    if (key_on(mask, b, s.Tk, j)) part += pt[j];
  const float mass = (float)block_sum_d(part, redd);
  const float c = gy[0] * factor * s.scale;
  for (long long j = threadIdx.x; j < s.Tk; j += blockDim.x) {
    const bool on = j < vis && key_on(mask, b, s.Tk, j);
    row[j] = on ? (row[j] * mass - pt[j]) * c : 0.f;
    if (ds) ds[id * s.Tk + j] = row[j];
  }
  __syncthreads();
  const float* qr = q + ((b * s.Tq + t) * s.H + h) * D;
  float* dqr = dq + ((b * s.Tq + t) * s.H + h) * D;
  for (long long d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (long long j = 0; j < vis; ++j) acc += row[j] * k[((b * s.Tk + j) * s.Hkv + kh) * D + d];
    atomicAdd(dqr + d, acc);
  }
  if (ds) return;
  for (long long idx = threadIdx.x; idx < vis * D; idx += blockDim.x) {
    const long long j = idx / D, d = idx % D;
    if (row[j] != 0.f) atomicAdd(dk + ((b * s.Tk + j) * s.Hkv + kh) * D + d, row[j] * qr[d]);
  }
}

// dk[b, j, kh, :] = sum over the distilled rows (b, head i of kv head kh, row r) of dS[row, j] * q[b, t_r, h_i, :],
// in a fixed order (heads, then rows): one block of 256 threads per (b, kv head, tile of KT = 4096 / DM keys), each
// thread 16 of the tile's KT x DM outputs in registers; per row, the q row and the tile's dS values go through shared
// memory. Keys no distilled row sees get 0 (written here too).
template <int DM>
__global__ void __launch_bounds__(256) distill_dk_kernel(AttnShape s, const float* __restrict__ q,
                                                         const int32_t* __restrict__ heads, long long n_heads,
                                                         const int32_t* __restrict__ rows, long long n_rows,
                                                         const float* __restrict__ ds, float* __restrict__ dk) {
  constexpr int KT = 4096 / DM, PER = KT * DM / 256;
  __shared__ float qs[DM];
  __shared__ float dss[KT];
  const long long ntiles = (s.Tk + KT - 1) / KT;
  const long long tile = blockIdx.x % ntiles, bk = blockIdx.x / ntiles;
  const long long kh = bk % s.Hkv, b = bk / s.Hkv, group = s.H / s.Hkv, D = s.D, j0 = tile * KT;
  float acc[PER];
#pragma unroll
  for (int m = 0; m < PER; ++m) acc[m] = 0.f;
  for (long long i = 0; i < n_heads; ++i) {
    const long long h = heads[i];
    if (h / group != kh) continue;  // block-uniform
    for (long long r = 0; r < n_rows; ++r) {
      const long long id = (b * n_heads + i) * n_rows + r, t = rows[b * n_rows + r];
      __syncthreads();  // the previous row's values are consumed
      for (int d = threadIdx.x; d < DM; d += blockDim.x) qs[d] = d < D ? q[((b * s.Tq + t) * s.H + h) * D + d] : 0.f;
      for (int jj = threadIdx.x; jj < KT; jj += blockDim.x) dss[jj] = j0 + jj < s.Tk ? ds[id * s.Tk + j0 + jj] : 0.f;
      __syncthreads();
#pragma unroll
      for (int m = 0; m < PER; ++m) {
        const int idx = (int)threadIdx.x + 256 * m, jj = idx / DM, d = idx % DM;
        const float v = dss[jj];
        if (v != 0.f) acc[m] += v * qs[d];
      }
    }
  }
#pragma unroll
  for (int m = 0; m < PER; ++m) {
    const int idx = (int)threadIdx.x + 256 * m, jj = idx / DM, d = idx % DM;
    const long long j = j0 + jj;
    if (d < D && j < s.Tk) dk[((b * s.Tk + j) * s.Hkv + kh) * D + d] = acc[m];
  }
}

// loss[0] = factor * (sum of the row terms, in index order per thread, then the block's fixed reduction order).
__global__ void distill_sum_kernel(const double* __restrict__ kl_rows, long long n, double factor, float* __restrict__ loss) {
  __shared__ double redd[32];
  double acc = 0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) acc += kl_rows[i];
  acc = block_sum_d(acc, redd);
  if (threadIdx.x == 0) loss[0] = (float)(acc * factor);
}

int dm_for(long long D) {
  if (D <= 32) return 32;
  if (D <= 64) return 64;
  if (D <= 128) return 128;
  if (D <= 256) return 256;
  throw Error("CUDA attention supports head dims up to 256, got " + std::to_string(D));
}

void check_smem(size_t bytes, const char* op) {
  if (bytes > 48 * 1024) throw Error(std::string(op) + ": shared memory request of " + std::to_string(bytes) + " bytes exceeds 48 KiB (sequence or head dim too large for this kernel)");
}

}  // namespace

void attention_forward(int device, const AttnShape& s, const float* q, const float* k, const float* v, float* out,
                       float* lse, const cpu::AttnExtras& x, bool tensor_cores) {
  select(device);
  if (s.B == 0 || s.Tq == 0) return;
  if (tensor_cores) {  // float32 storage rounded to bf16 while the tensor-core kernel loads its tiles
    if (!attention_tc_supported(s))
      throw Error("attention: the tensor-core kernels support head dims 16, 32, 64 and 128, got " + std::to_string(s.D));
    attention_forward_tc(device, s, DType::F32, q, k, v, DType::F32, out, lse, x.key_mask);
    if (x.taps && x.n_tap_heads > 0 && x.n_rows > 0) {
      taps_kernel<<<(unsigned)(s.B * x.n_tap_heads * x.n_rows), 128, 0, SEEKR_STREAM>>>(s, q, k, x.key_mask, x.tap_heads, x.n_tap_heads,
                                                                       x.tap_rows, x.n_rows, x.taps);
      check_launch("attention taps");
    }
    return;
  }
  const dim3 grid((unsigned)((s.Tq + BQ - 1) / BQ), (unsigned)(s.B * s.H));
  const size_t smem = 2 * BK * s.D * sizeof(float);
  check_smem(smem, "attention");
  switch (dm_for(s.D)) {
    case 32: fwd_kernel<32><<<grid, BQ, smem, SEEKR_STREAM>>>(s, q, k, v, out, lse, x.key_mask); break;
    case 64: fwd_kernel<64><<<grid, BQ, smem, SEEKR_STREAM>>>(s, q, k, v, out, lse, x.key_mask); break;
    case 128: fwd_kernel<128><<<grid, BQ, smem, SEEKR_STREAM>>>(s, q, k, v, out, lse, x.key_mask); break;
    default: fwd_kernel<256><<<grid, BQ, smem, SEEKR_STREAM>>>(s, q, k, v, out, lse, x.key_mask); break;
  }
  check_launch("attention");
  if (x.taps && x.n_tap_heads > 0 && x.n_rows > 0) {
    taps_kernel<<<(unsigned)(s.B * x.n_tap_heads * x.n_rows), 128, 0, SEEKR_STREAM>>>(s, q, k, x.key_mask, x.tap_heads, x.n_tap_heads,
                                                                     x.tap_rows, x.n_rows, x.taps);
    check_launch("attention taps");
  }
}

void attention_backward(int device, const AttnShape& s, const float* q, const float* k, const float* v,
                        const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                        const cpu::AttnExtras& x) {
  select(device);
  if (s.B == 0) return;
  if (s.Tq == 0 || s.Tk == 0) {
    cudaMemsetAsync(dq, 0, (size_t)(s.B * s.Tq * s.H * s.D) * sizeof(float), SEEKR_STREAM);
    cudaMemsetAsync(dk, 0, (size_t)(s.B * s.Tk * s.Hkv * s.D) * sizeof(float), SEEKR_STREAM);
    cudaMemsetAsync(dv, 0, (size_t)(s.B * s.Tk * s.Hkv * s.D) * sizeof(float), SEEKR_STREAM);
    check_launch("attentionBackward (zero)");
    return;
  }
  // Scratch from the caching allocator, handed back after the launches: reused in stream order, no cudaFree (which
  // would wait for the whole device).
  const size_t n = (size_t)(s.B * s.H * std::max<long long>(1, s.Tq));
  float* di = static_cast<float*>(device_alloc(device, n * sizeof(float)));
  try {
    const long long rows = s.B * s.Tq * s.H;
    if (rows > 0) di_kernel<<<(unsigned)((rows + 255) / 256), 256, 0, SEEKR_STREAM>>>(s, out, dout, di);
    check_launch("attentionBackward (D_i)");
    const size_t smem_q = 2 * BK * s.D * sizeof(float);
    check_smem(smem_q, "attentionBackward");
    const dim3 gq((unsigned)((s.Tq + BQ - 1) / BQ), (unsigned)(s.B * s.H));
    const size_t smem_k = (2 * 32 * s.D + 64) * sizeof(float);
    check_smem(smem_k, "attentionBackward");
    const dim3 gk((unsigned)((s.Tk + 63) / 64), (unsigned)(s.B * s.Hkv));
    if (s.Tq > 0) {
      switch (dm_for(s.D)) {
        case 32: dq_kernel<32><<<gq, BQ, smem_q, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dq, x.key_mask, x.sens, x.sens_all); break;
        case 64: dq_kernel<64><<<gq, BQ, smem_q, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dq, x.key_mask, x.sens, x.sens_all); break;
        case 128: dq_kernel<128><<<gq, BQ, smem_q, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dq, x.key_mask, x.sens, x.sens_all); break;
        default: dq_kernel<256><<<gq, BQ, smem_q, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dq, x.key_mask, x.sens, x.sens_all); break;
      }
      check_launch("attentionBackward (dQ)");
    }
    if (s.Tk > 0) {
      switch (dm_for(s.D)) {
        case 32: dkv_kernel<32><<<gk, 64, smem_k, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dk, dv, x.key_mask); break;
        case 64: dkv_kernel<64><<<gk, 64, smem_k, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dk, dv, x.key_mask); break;
        case 128: dkv_kernel<128><<<gk, 64, smem_k, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dk, dv, x.key_mask); break;
        default: dkv_kernel<256><<<gk, 64, smem_k, SEEKR_STREAM>>>(s, q, k, v, lse, di, dout, dk, dv, x.key_mask); break;
      }
      check_launch("attentionBackward (dK, dV)");
    }
  } catch (...) {
    device_free(device, di);
    throw;
  }
  device_free(device, di);
}

double attention_distill_forward(int device, const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                 const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                 const float* teacher) {
  select(device);
  const long long n = s.B * n_heads * n_rows;
  if (n == 0 || s.Tk == 0) return 0.0;
  const size_t smem = (size_t)s.Tk * sizeof(float);
  check_smem(smem, "attentionDistill");
  double* kl = static_cast<double*>(device_alloc(device, (size_t)n * sizeof(double)));
  std::vector<double> host((size_t)n);
  distill_fwd_kernel<<<(unsigned)n, 128, smem, SEEKR_STREAM>>>(s, q, k, key_mask, heads, n_heads, rows, n_rows, teacher, kl);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaMemcpyAsync(host.data(), kl, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost, SEEKR_STREAM);
  if (e == cudaSuccess) e = cudaStreamSynchronize(SEEKR_STREAM);  // the loss crosses to the host
  device_free(device, kl);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("CUDA kernel failure in attentionDistill (") + cudaGetErrorString(e) + ")");
  }
  double total = 0;
  for (double x : host) total += x;  // fixed order: deterministic
  return total;
}

void attention_distill_forward_device(int device, const AttnShape& s, const float* q, const float* k,
                                      const float* key_mask, const int32_t* heads, int64_t n_heads,
                                      const int32_t* rows, int64_t n_rows, const float* teacher, double factor,
                                      float* out) {
  select(device);
  const long long n = s.B * n_heads * n_rows;
  if (n == 0 || s.Tk == 0) {
    if (cudaMemsetAsync(out, 0, sizeof(float), SEEKR_STREAM) != cudaSuccess) cudaGetLastError();
    check_launch("attentionDistill");
    return;
  }
  const size_t smem = (size_t)s.Tk * sizeof(float);
  check_smem(smem, "attentionDistill");
  // Scratch from the caching allocator: freed right after the launches, reused in stream order.
  double* kl = static_cast<double*>(device_alloc(device, (size_t)n * sizeof(double)));
  distill_fwd_kernel<<<(unsigned)n, 128, smem, SEEKR_STREAM>>>(s, q, k, key_mask, heads, n_heads, rows, n_rows, teacher, kl);
  distill_sum_kernel<<<1, 1024, 0, SEEKR_STREAM>>>(kl, n, factor, out);
  const cudaError_t e = cudaGetLastError();
  device_free(device, kl);
  if (e != cudaSuccess) throw Error(std::string("CUDA kernel failure in attentionDistill (") + cudaGetErrorString(e) + ")");
}

void attention_distill_backward(int device, const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                const float* teacher, const float* gy, float factor, float* dq, float* dk) {
  select(device);
  cudaMemsetAsync(dq, 0, (size_t)(s.B * s.Tq * s.H * s.D) * sizeof(float), SEEKR_STREAM);
  cudaMemsetAsync(dk, 0, (size_t)(s.B * s.Tk * s.Hkv * s.D) * sizeof(float), SEEKR_STREAM);
  check_launch("attentionDistillBackward (zero)");
  const long long n = s.B * n_heads * n_rows;
  if (n == 0 || s.Tk == 0) return;
  const size_t smem = (size_t)s.Tk * sizeof(float);
  check_smem(smem, "attentionDistillBackward");
  // dS rows in scratch for the atomic-free dk kernel, up to 256 MiB of it; beyond, dk by atomics in the row kernel.
  const size_t ds_bytes = (size_t)n * (size_t)s.Tk * sizeof(float);
  const bool two_pass = ds_bytes <= (size_t(256) << 20);
  float* ds = two_pass ? static_cast<float*>(device_alloc(device, ds_bytes)) : nullptr;
  try {
    distill_bwd_kernel<<<(unsigned)n, 128, smem, SEEKR_STREAM>>>(s, q, k, key_mask, heads, n_heads, rows, n_rows, teacher,
                                                                 gy, factor, dq, dk, ds);
    check_launch("attentionDistillBackward");
    if (two_pass) {
      const int dm = dm_for(s.D);
      const long long ntiles = (s.Tk + 4096 / dm - 1) / (4096 / dm);
      const unsigned grid = (unsigned)(s.B * s.Hkv * ntiles);
      switch (dm) {
        case 32: distill_dk_kernel<32><<<grid, 256, 0, SEEKR_STREAM>>>(s, q, heads, n_heads, rows, n_rows, ds, dk); break;
        case 64: distill_dk_kernel<64><<<grid, 256, 0, SEEKR_STREAM>>>(s, q, heads, n_heads, rows, n_rows, ds, dk); break;
        case 128: distill_dk_kernel<128><<<grid, 256, 0, SEEKR_STREAM>>>(s, q, heads, n_heads, rows, n_rows, ds, dk); break;
        default: distill_dk_kernel<256><<<grid, 256, 0, SEEKR_STREAM>>>(s, q, heads, n_heads, rows, n_rows, ds, dk); break;
      }
      check_launch("attentionDistillBackward (dK)");
    }
  } catch (...) {
    if (ds) device_free(device, ds);
    throw;
  }
  if (ds) device_free(device, ds);  // reused in stream order
}

}  // namespace cuda
}  // namespace seekr
