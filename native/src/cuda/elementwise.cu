// CUDA elementwise kernels: broadcasting binary ops (strides, up to 16 merged dims), unary math and its gradients,
// where, fused SwiGLU. The formulas are cpu/elementwise.cpp's, operation for operation (see common.cuh for the float
// rules). Operands are float32, bfloat16 or float16 (kernels.h): typed kernels when every operand has one dtype, AnyF
// ones (dtype read per operand) for mixed dtypes, and vectorised mixed-dtype kernels for the same-shape contiguous
// binary ops of a float32 operand with a 16-bit one (the residual add of a float32 stream and a bfloat16 product).
#include <cuda_runtime.h>

#include <type_traits>

#include "cpu/elementwise.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace seekr {
namespace cuda {

using namespace detail;

namespace {

template <int OP>
__device__ __forceinline__ float bin(float x, float y) {
  using namespace cpu;
  if constexpr (OP == ADD) return fadd(x, y);
  else if constexpr (OP == SUB) return fsub(x, y);
  else if constexpr (OP == MUL) return fmul(x, y);
  else if constexpr (OP == DIV) return fdiv(x, y);
  else if constexpr (OP == POW) return fpow(x, y);
  else if constexpr (OP == MAXIMUM) return (x != x || y != y) ? __int_as_float(0x7fc00000) : (x > y ? x : y);
  else if constexpr (OP == MINIMUM) return (x != x || y != y) ? __int_as_float(0x7fc00000) : (x < y ? x : y);
  else if constexpr (OP == EQ) return x == y ? 1.f : 0.f;
  else if constexpr (OP == LT) return x < y ? 1.f : 0.f;
  else if constexpr (OP == GT) return x > y ? 1.f : 0.f;
  else if constexpr (OP == LE) return x <= y ? 1.f : 0.f;
  else if constexpr (OP == GE) return x >= y ? 1.f : 0.f;
  else return x != y ? 1.f : 0.f;
}

// da, db, dout: DType codes (read by AnyF only).
template <int OP, typename T>
__global__ void binary_contig(const T* __restrict__ a, int da, const T* __restrict__ b, int db, T* __restrict__ out,
                              int dout, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    stf(out, dout, i, bin<OP>(ldf(a, da, i), ldf(b, db, i)));
}
// One operand a scalar (broadcast everywhere), the other contiguous.
template <int OP, bool A_SCALAR, typename T>
__global__ void binary_scalar(const T* __restrict__ a, int da, const T* __restrict__ b, int db, T* __restrict__ out,
                              int dout, int64_t n) {
  const float s = A_SCALAR ? ldf(a, da, 0) : ldf(b, db, 0);
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    stf(out, dout, i, A_SCALAR ? bin<OP>(s, ldf(b, db, i)) : bin<OP>(ldf(a, da, i), s));
}
// The fast paths of binary_contig / binary_scalar for typed operands that start 16-byte aligned: a 16-byte chunk
// (kVec16<T> elements) per thread and step, the same bin<OP> on each element, so the same bits.
template <int OP, typename T>
__global__ void binary_contig_vec(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n) {
  constexpr int V = kVec16<T>;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float x[V], y[V];
        ldf_vec(a, i, x);
        ldf_vec(b, i, y);
#pragma unroll
        for (int j = 0; j < V; ++j) x[j] = bin<OP>(x[j], y[j]);
        stf_vec(out, i, x);
      },
      [&](int64_t i) { stf(out, 0, i, bin<OP>(ldf(a, 0, i), ldf(b, 0, i))); });
}
template <int OP, bool A_SCALAR, typename T>
__global__ void binary_scalar_vec(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n) {
  constexpr int V = kVec16<T>;
  const float s = A_SCALAR ? ldf(a, 0, 0) : ldf(b, 0, 0);
  const T* __restrict__ v = A_SCALAR ? b : a;  // the contiguous operand
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float x[V];
        ldf_vec(v, i, x);
#pragma unroll
        for (int j = 0; j < V; ++j) x[j] = A_SCALAR ? bin<OP>(s, x[j]) : bin<OP>(x[j], s);
        stf_vec(out, i, x);
      },
      [&](int64_t i) {
        const float x = ldf(v, 0, i);
        stf(out, 0, i, A_SCALAR ? bin<OP>(s, x) : bin<OP>(x, s));
      });
}
// Same-shape contiguous operands of two float dtypes, a float32 one and a bfloat16 / float16 one (either order), out
// float32 or the 16-bit operand's dtype, all starting 16-byte aligned: 8 elements per thread and step (one 16-byte
// chunk of each 16-bit operand, two of each float32 one), the scalar path's arithmetic (widen, bin<OP> in float,
// round once), so its bits. For add / sub / mul / div; the other ops keep the AnyF kernel.
template <int OP, typename TA, typename TB, typename TO>
__global__ void binary_mixed_vec(const TA* __restrict__ a, const TB* __restrict__ b, TO* __restrict__ out, int64_t n) {
  constexpr int V = 8;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float x[V], y[V];
        ldf_vec(a, i, x);
        ldf_vec(b, i, y);
#pragma unroll
        for (int j = 0; j < V; ++j) x[j] = bin<OP>(x[j], y[j]);
        stf_vec(out, i, x);
      },
      [&](int64_t i) { stf(out, 0, i, bin<OP>(ldf(a, 0, i), ldf(b, 0, i))); });
}
template <int OP, typename TA, typename TB, typename TO>
void launch_mixed(const void* a, const void* b, void* out, int64_t n) {
  binary_mixed_vec<OP, TA, TB, TO><<<grid_for_vec(n, 8), kThreads, 0, SEEKR_STREAM>>>(static_cast<const TA*>(a), static_cast<const TB*>(b),
                                                                     static_cast<TO*>(out), n);
}
// H: the 16-bit operand's element type; launches with out float32 or H.
template <int OP, typename H>
void launch_mixed_h(bool a_f32, bool out_f32, const void* a, const void* b, void* out, int64_t n) {
  if (a_f32 && out_f32) launch_mixed<OP, float, H, float>(a, b, out, n);
  else if (a_f32) launch_mixed<OP, float, H, H>(a, b, out, n);
  else if (out_f32) launch_mixed<OP, H, float, float>(a, b, out, n);
  else launch_mixed<OP, H, float, H>(a, b, out, n);
}
// Launches binary_mixed_vec and returns true where it applies (contiguity is the caller's test), else false.
template <int OP>
bool binary_mixed(const void* a, DType at, const void* b, DType bt, void* out, DType ot, int64_t n) {
  if constexpr (OP != cpu::ADD && OP != cpu::SUB && OP != cpu::MUL && OP != cpu::DIV) {
    return false;
  } else {
    const bool a_f32 = at == DType::F32, b_f32 = bt == DType::F32;
    if (a_f32 == b_f32) return false;  // one dtype, or bfloat16 with float16
    const DType h = a_f32 ? bt : at;
    if (h != DType::BF16 && h != DType::F16) return false;
    if (ot != DType::F32 && ot != h) return false;
    if (!aligned16(a) || !aligned16(b) || !aligned16(out)) return false;
    if (h == DType::BF16) launch_mixed_h<OP, __nv_bfloat16>(a_f32, ot == DType::F32, a, b, out, n);
    else launch_mixed_h<OP, __half>(a_f32, ot == DType::F32, a, b, out, n);
    return true;
  }
}

template <int OP, typename T>
__global__ void binary_strided(Strided<2> s, const T* __restrict__ a, int da, const T* __restrict__ b, int db,
                               T* __restrict__ out, int dout, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[2];
    strided_offsets(s, i, off);
    stf(out, dout, i, bin<OP>(ldf(a, da, off[0]), ldf(b, db, off[1])));
  }
}

bool all_zero(const Strided<2>& s, int k) {
  for (int d = 0; d < s.nd; ++d)
    if (s.strides[k][d] != 0) return false;
  return true;
}

template <int OP>
void binary_t(const void* av, DType at, const std::vector<int64_t>& as, const void* bv, DType bt,
              const std::vector<int64_t>& bs, void* ov, DType ot, const std::vector<int64_t>& shape, int64_t n) {
  const std::vector<int64_t>* st[2] = {&as, &bs};
  const int64_t base[2] = {0, 0};
  Strided<2> s = make_strided<2>(cpu::binary_name(OP), shape, st, base);
  const unsigned g = grid_for(n);
  const int da = (int)at, db = (int)bt, dout = (int)ot;
  if (s.contiguous[0] && s.contiguous[1] && binary_mixed<OP>(av, at, bv, bt, ov, ot, n)) {
    check_launch(cpu::binary_name(OP));
    return;
  }
  with_elem(at == bt && bt == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* a = static_cast<const T*>(av);
    const T* b = static_cast<const T*>(bv);
    T* out = static_cast<T*>(ov);
    if constexpr (!std::is_same_v<T, AnyF>) {  // typed: 16-byte chunks when the vector operands are aligned
      const unsigned gv = grid_for_vec(n, kVec16<T>);
      if (s.contiguous[0] && s.contiguous[1] && aligned16(a) && aligned16(b) && aligned16(out)) {
        binary_contig_vec<OP, T><<<gv, kThreads, 0, SEEKR_STREAM>>>(a, b, out, n);
        return;
      }
      if (all_zero(s, 0) && s.contiguous[1] && aligned16(b) && aligned16(out)) {
        binary_scalar_vec<OP, true, T><<<gv, kThreads, 0, SEEKR_STREAM>>>(a, b, out, n);
        return;
      }
      if (s.contiguous[0] && all_zero(s, 1) && aligned16(a) && aligned16(out)) {
        binary_scalar_vec<OP, false, T><<<gv, kThreads, 0, SEEKR_STREAM>>>(a, b, out, n);
        return;
      }
    }
    if (s.contiguous[0] && s.contiguous[1]) binary_contig<OP, T><<<g, kThreads, 0, SEEKR_STREAM>>>(a, da, b, db, out, dout, n);
    else if (all_zero(s, 0) && s.contiguous[1]) binary_scalar<OP, true, T><<<g, kThreads, 0, SEEKR_STREAM>>>(a, da, b, db, out, dout, n);
    else if (s.contiguous[0] && all_zero(s, 1)) binary_scalar<OP, false, T><<<g, kThreads, 0, SEEKR_STREAM>>>(a, da, b, db, out, dout, n);
    else binary_strided<OP, T><<<g, kThreads, 0, SEEKR_STREAM>>>(s, a, da, b, db, out, dout, n);
  });
  check_launch(cpu::binary_name(OP));
}

// ---- unary ----------------------------------------------------------------------------------------------------------
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;

__device__ __forceinline__ float sigmoid_(float x) { return fdiv(1.f, fadd(1.f, fexp(-x))); }

template <int OP>
__device__ __forceinline__ float un(float x, float p) {
  using namespace cpu;
  if constexpr (OP == NEG) return -x;
  else if constexpr (OP == EXP) return fexp(x);
  else if constexpr (OP == LOG) return flog(x);
  else if constexpr (OP == SQRT) return fsqrt(x);
  else if constexpr (OP == RSQRT) return fdiv(1.f, fsqrt(x));
  else if constexpr (OP == TANH) return ftanh(x);
  else if constexpr (OP == SIGMOID) return sigmoid_(x);
  else if constexpr (OP == SILU) return fmul(x, sigmoid_(x));
  else if constexpr (OP == GELU) return fmul(fmul(0.5f, x), fadd(1.f, ferf(fmul(x, kInvSqrt2))));
  else if constexpr (OP == RELU) return x > 0.f ? x : 0.f;
  else if constexpr (OP == ABS) return fabsf(x);
  else if constexpr (OP == POW_SCALAR) return fpow(x, p);
  else if constexpr (OP == ADD_SCALAR) return fadd(x, p);
  else if constexpr (OP == MUL_SCALAR) return fmul(x, p);
  else if constexpr (OP == SIN) return fsin(x);
  else if constexpr (OP == COS) return fcos(x);
  else if constexpr (OP == SQUARE) return fmul(x, x);
  else if constexpr (OP == RECIPROCAL) return fdiv(1.f, x);
  else {  // GELU_TANH
    const float x3 = fmul(fmul(fmul(0.044715f, x), x), x);
    const float u = fmul(kSqrt2OverPi, fadd(x, x3));
    return fmul(fmul(0.5f, x), fadd(1.f, ftanh(u)));
  }
}

template <int OP>
__device__ __forceinline__ float ungrad(float x, float g, float p) {
  using namespace cpu;
  if constexpr (OP == NEG) return -g;
  else if constexpr (OP == EXP) return fmul(g, fexp(x));
  else if constexpr (OP == LOG) return fdiv(g, x);
  else if constexpr (OP == SQRT) return fdiv(fmul(g, 0.5f), fsqrt(x));
  else if constexpr (OP == RSQRT) return fdiv(fmul(g, -0.5f), fmul(x, fsqrt(x)));
  else if constexpr (OP == TANH) {
    const float t = ftanh(x);
    return fmul(g, fsub(1.f, fmul(t, t)));
  } else if constexpr (OP == SIGMOID) {
    const float s = sigmoid_(x);
    return fmul(fmul(g, s), fsub(1.f, s));
  } else if constexpr (OP == SILU) {
    const float s = sigmoid_(x);
    return fmul(fmul(g, s), fadd(1.f, fmul(x, fsub(1.f, s))));
  } else if constexpr (OP == GELU) {
    const float cdf = fmul(0.5f, fadd(1.f, ferf(fmul(x, kInvSqrt2))));
    const float pdf = fmul(0.3989422804014327f, fexp(fmul(fmul(-0.5f, x), x)));
    return fmul(g, fadd(cdf, fmul(x, pdf)));
  } else if constexpr (OP == RELU) return x > 0.f ? g : 0.f;
  else if constexpr (OP == ABS) return x > 0.f ? g : (x < 0.f ? -g : 0.f);
  else if constexpr (OP == POW_SCALAR) return p == 0.f ? 0.f : fmul(fmul(g, p), fpow(x, fsub(p, 1.f)));
  else if constexpr (OP == ADD_SCALAR) return g;
  else if constexpr (OP == MUL_SCALAR) return fmul(g, p);
  else if constexpr (OP == SIN) return fmul(g, fcos(x));
  else if constexpr (OP == COS) return fmul(-g, fsin(x));
  else if constexpr (OP == SQUARE) return fmul(fmul(2.f, x), g);
  else if constexpr (OP == RECIPROCAL) return fdiv(-g, fmul(x, x));
  else {  // GELU_TANH
    const float x3 = fmul(fmul(x, x), x);
    const float u = fmul(kSqrt2OverPi, fadd(x, fmul(0.044715f, x3)));
    const float t = ftanh(u);
    const float du = fmul(kSqrt2OverPi, fadd(1.f, fmul(fmul(fmul(3.f, 0.044715f), x), x)));
    const float left = fmul(0.5f, fadd(1.f, t));
    const float right = fmul(fmul(fmul(0.5f, x), fsub(1.f, fmul(t, t))), du);
    return fmul(g, fadd(left, right));
  }
}

template <int OP, typename T>
__global__ void unary_kernel(const T* __restrict__ x, int dx, T* __restrict__ out, int dout, int64_t n, float p) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    stf(out, dout, i, un<OP>(ldf(x, dx, i), p));
}
template <int OP, typename T>
__global__ void unary_grad_kernel(const T* __restrict__ x, int dx, const T* __restrict__ gy, int dgy,
                                  T* __restrict__ gx, int dgx, int64_t n, float p) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    stf(gx, dgx, i, ungrad<OP>(ldf(x, dx, i), ldf(gy, dgy, i), p));
}

// Fast paths of the two above for typed operands that start 16-byte aligned: a 16-byte chunk (kVec16<T> elements) per
// thread and step, the same un / ungrad on each element, so the same bits.
template <int OP, typename T>
__global__ void unary_vec(const T* __restrict__ x, T* __restrict__ out, int64_t n, float p) {
  constexpr int V = kVec16<T>;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float v[V];
        ldf_vec(x, i, v);
#pragma unroll
        for (int j = 0; j < V; ++j) v[j] = un<OP>(v[j], p);
        stf_vec(out, i, v);
      },
      [&](int64_t i) { stf(out, 0, i, un<OP>(ldf(x, 0, i), p)); });
}
template <int OP, typename T>
__global__ void unary_grad_vec(const T* __restrict__ x, const T* __restrict__ gy, T* __restrict__ gx, int64_t n,
                               float p) {
  constexpr int V = kVec16<T>;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float v[V], g[V];
        ldf_vec(x, i, v);
        ldf_vec(gy, i, g);
#pragma unroll
        for (int j = 0; j < V; ++j) v[j] = ungrad<OP>(v[j], g[j], p);
        stf_vec(gx, i, v);
      },
      [&](int64_t i) { stf(gx, 0, i, ungrad<OP>(ldf(x, 0, i), ldf(gy, 0, i), p)); });
}

template <int OP>
void unary_t(const void* x, DType xt, void* out, DType ot, int64_t n, float p) {
  with_elem(xt == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    if constexpr (!std::is_same_v<T, AnyF>) {
      if (aligned16(x) && aligned16(out)) {
        unary_vec<OP, T><<<grid_for_vec(n, kVec16<T>), kThreads, 0, SEEKR_STREAM>>>(static_cast<const T*>(x), static_cast<T*>(out), n, p);
        return;
      }
    }
    unary_kernel<OP, T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(static_cast<const T*>(x), (int)xt, static_cast<T*>(out), (int)ot, n, p);
  });
  check_launch(cpu::unary_name(OP));
}
template <int OP>
void unary_grad_t(const void* x, DType xt, const void* gy, DType gyt, void* gx, DType gxt, int64_t n, float p) {
  with_elem(xt == gyt && gyt == gxt, gxt, [&](auto e) {
    using T = typename decltype(e)::type;
    if constexpr (!std::is_same_v<T, AnyF>) {
      if (aligned16(x) && aligned16(gy) && aligned16(gx)) {
        unary_grad_vec<OP, T><<<grid_for_vec(n, kVec16<T>), kThreads, 0, SEEKR_STREAM>>>(
            static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<T*>(gx), n, p);
        return;
      }
    }
    unary_grad_kernel<OP, T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(static_cast<const T*>(x), (int)xt, static_cast<const T*>(gy),
                                                        (int)gyt, static_cast<T*>(gx), (int)gxt, n, p);
  });
  check_launch(cpu::unary_name(OP));
}

// ---- fused SwiGLU ------------------------------------------------------------------------------------------------
// out = silu(gate) * up and its backward: un<SILU> / ungrad<SILU> and fmul, the CPU kernels' operations in their order
// (cpu::swiglu), so the bits of silu then mul. Typed kernels when every operand has one dtype (16-byte chunks when all
// start aligned), AnyF ones otherwise.
__device__ __forceinline__ float swiglu_f(float x, float u) { return fmul(un<cpu::SILU>(x, 0.f), u); }
// gup = g * silu(x), ggate = silu'(x) * (g * u): un<SILU> and ungrad<SILU> written out to share one sigmoid (one exp).
__device__ __forceinline__ void swiglu_b(float x, float u, float g, float& gg, float& gu) {
  const float s = sigmoid_(x);
  gu = fmul(g, fmul(x, s));
  gg = fmul(fmul(fmul(g, u), s), fadd(1.f, fmul(x, fsub(1.f, s))));
}

template <typename T>
__global__ void swiglu_kernel(const T* __restrict__ gate, int dg, const T* __restrict__ up, int du, T* __restrict__ out,
                              int dout, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    stf(out, dout, i, swiglu_f(ldf(gate, dg, i), ldf(up, du, i)));
}
template <typename T>
__global__ void swiglu_vec(const T* __restrict__ gate, const T* __restrict__ up, T* __restrict__ out, int64_t n) {
  constexpr int V = kVec16<T>;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float x[V], u[V];
        ldf_vec(gate, i, x);
        ldf_vec(up, i, u);
#pragma unroll
        for (int j = 0; j < V; ++j) x[j] = swiglu_f(x[j], u[j]);
        stf_vec(out, i, x);
      },
      [&](int64_t i) { stf(out, 0, i, swiglu_f(ldf(gate, 0, i), ldf(up, 0, i))); });
}
template <typename T>
__global__ void swiglu_backward_kernel(const T* __restrict__ gate, int dg, const T* __restrict__ up, int du,
                                       const T* __restrict__ gy, int dgy, T* __restrict__ ggate, int dgg,
                                       T* __restrict__ gup, int dgu, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float gg, gu;
    swiglu_b(ldf(gate, dg, i), ldf(up, du, i), ldf(gy, dgy, i), gg, gu);
    stf(ggate, dgg, i, gg);
    stf(gup, dgu, i, gu);
  }
}
template <typename T>
__global__ void swiglu_backward_vec(const T* __restrict__ gate, const T* __restrict__ up, const T* __restrict__ gy,
                                    T* __restrict__ ggate, T* __restrict__ gup, int64_t n) {
  constexpr int V = kVec16<T>;
  grid_loop_vec<V>(
      n,
      [&](int64_t i) {
        float x[V], u[V], g[V];
        ldf_vec(gate, i, x);
        ldf_vec(up, i, u);
        ldf_vec(gy, i, g);
#pragma unroll
        for (int j = 0; j < V; ++j) swiglu_b(x[j], u[j], g[j], x[j], u[j]);  // x <- ggate, u <- gup
        stf_vec(ggate, i, x);
        stf_vec(gup, i, u);
      },
      [&](int64_t i) {
        float gg, gu;
        swiglu_b(ldf(gate, 0, i), ldf(up, 0, i), ldf(gy, 0, i), gg, gu);
        stf(ggate, 0, i, gg);
        stf(gup, 0, i, gu);
      });
}

template <typename T>
__global__ void where_kernel(Strided<3> s, const T* __restrict__ c, int dc, const T* __restrict__ a, int da,
                             const T* __restrict__ b, int db, T* __restrict__ out, int dout, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[3];
    strided_offsets(s, i, off);
    stf(out, dout, i, ldf(c, dc, off[0]) != 0.f ? ldf(a, da, off[1]) : ldf(b, db, off[2]));
  }
}

int64_t count_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

void binary(int device, int op, const void* a, DType at, const std::vector<int64_t>& as, const void* b, DType bt,
            const std::vector<int64_t>& bs, void* out, DType ot, const std::vector<int64_t>& shape) {
  const int64_t n = count_of(shape);
  if (n == 0) return;
  use_device(device);
  using namespace cpu;
  switch (op) {
    case ADD: return binary_t<ADD>(a, at, as, b, bt, bs, out, ot, shape, n);
    case SUB: return binary_t<SUB>(a, at, as, b, bt, bs, out, ot, shape, n);
    case MUL: return binary_t<MUL>(a, at, as, b, bt, bs, out, ot, shape, n);
    case DIV: return binary_t<DIV>(a, at, as, b, bt, bs, out, ot, shape, n);
    case POW: return binary_t<POW>(a, at, as, b, bt, bs, out, ot, shape, n);
    case MAXIMUM: return binary_t<MAXIMUM>(a, at, as, b, bt, bs, out, ot, shape, n);
    case MINIMUM: return binary_t<MINIMUM>(a, at, as, b, bt, bs, out, ot, shape, n);
    case EQ: return binary_t<EQ>(a, at, as, b, bt, bs, out, ot, shape, n);
    case LT: return binary_t<LT>(a, at, as, b, bt, bs, out, ot, shape, n);
    case GT: return binary_t<GT>(a, at, as, b, bt, bs, out, ot, shape, n);
    case LE: return binary_t<LE>(a, at, as, b, bt, bs, out, ot, shape, n);
    case GE: return binary_t<GE>(a, at, as, b, bt, bs, out, ot, shape, n);
    case NE: return binary_t<NE>(a, at, as, b, bt, bs, out, ot, shape, n);
  }
  throw Error("unknown binary op code " + std::to_string(op));
}

void unary(int device, int op, const void* x, DType xt, void* out, DType ot, int64_t n, float p) {
  if (n == 0) return;
  use_device(device);
  using namespace cpu;
  SEEKR_UNARY_CASES(unary_t, x, xt, out, ot, n, p)
  throw Error("unknown unary op code " + std::to_string(op));
}
void unary_grad(int device, int op, const void* x, DType xt, const void* gy, DType gyt, void* gx, DType gxt, int64_t n,
                float p) {
  if (n == 0) return;
  use_device(device);
  using namespace cpu;
  SEEKR_UNARY_CASES(unary_grad_t, x, xt, gy, gyt, gx, gxt, n, p)
  throw Error("unknown unary op code " + std::to_string(op));
}

void where(int device, const void* c, DType ct, const std::vector<int64_t>& cs, const void* a, DType at,
           const std::vector<int64_t>& as, const void* b, DType bt, const std::vector<int64_t>& bs, void* out, DType ot,
           const std::vector<int64_t>& shape) {
  const int64_t n = count_of(shape);
  if (n == 0) return;
  use_device(device);
  const std::vector<int64_t>* st[3] = {&cs, &as, &bs};
  const int64_t base[3] = {0, 0, 0};
  Strided<3> s = make_strided<3>("where", shape, st, base);
  with_elem(ct == at && at == bt && bt == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    where_kernel<T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(s, static_cast<const T*>(c), (int)ct, static_cast<const T*>(a), (int)at,
                                               static_cast<const T*>(b), (int)bt, static_cast<T*>(out), (int)ot, n);
  });
  check_launch("where");
}

void swiglu(int device, const void* gate, DType gt, const void* up, DType ut, void* out, DType ot, int64_t n) {
  if (n == 0) return;
  use_device(device);
  with_elem(gt == ut && ut == ot, ot, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* g = static_cast<const T*>(gate);
    const T* u = static_cast<const T*>(up);
    T* o = static_cast<T*>(out);
    if constexpr (!std::is_same_v<T, AnyF>) {
      if (aligned16(g) && aligned16(u) && aligned16(o)) {
        swiglu_vec<T><<<grid_for_vec(n, kVec16<T>), kThreads, 0, SEEKR_STREAM>>>(g, u, o, n);
        return;
      }
    }
    swiglu_kernel<T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(g, (int)gt, u, (int)ut, o, (int)ot, n);
  });
  check_launch("swiglu");
}
void swiglu_backward(int device, const void* gate, DType gt, const void* up, DType ut, const void* gy, DType gyt,
                     void* ggate, DType ggt, void* gup, DType gut, int64_t n) {
  if (n == 0) return;
  use_device(device);
  with_elem(gt == ut && ut == gyt && gyt == ggt && ggt == gut, ggt, [&](auto e) {
    using T = typename decltype(e)::type;
    const T* g = static_cast<const T*>(gate);
    const T* u = static_cast<const T*>(up);
    const T* dy = static_cast<const T*>(gy);
    T* dg = static_cast<T*>(ggate);
    T* du = static_cast<T*>(gup);
    if constexpr (!std::is_same_v<T, AnyF>) {
      if (aligned16(g) && aligned16(u) && aligned16(dy) && aligned16(dg) && aligned16(du)) {
        swiglu_backward_vec<T><<<grid_for_vec(n, kVec16<T>), kThreads, 0, SEEKR_STREAM>>>(g, u, dy, dg, du, n);
        return;
      }
    }
    swiglu_backward_kernel<T><<<grid_for(n), kThreads, 0, SEEKR_STREAM>>>(g, (int)gt, u, (int)ut, dy, (int)gyt, dg, (int)ggt, du,
                                                         (int)gut, n);
  });
  check_launch("swigluBackward");
}

}  // namespace cuda
}  // namespace seekr
