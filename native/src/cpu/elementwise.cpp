// CPU elementwise kernels, threaded over rows; contiguous operands take a vectorisable fast path. Fused SwiGLU.
#include "cpu/elementwise.h"

#include <cmath>

#include "common/threadpool.h"
#include "cpu/strided.h"

namespace seekr {
namespace cpu {

const char* binary_name(int op) {
  static const char* n[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "gt", "le", "ge", "ne"};
  return op >= 0 && op < NUM_BINARY ? n[op] : "unknown";
}
const char* unary_name(int op) {
  static const char* n[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "silu", "gelu", "relu",
                            "abs", "powScalar", "addScalar", "mulScalar", "sin", "cos", "square", "reciprocal",
                            "geluTanh"};
  return op >= 0 && op < NUM_UNARY ? n[op] : "unknown";
}

template <int OP>
static inline float bin(float x, float y) {
  if constexpr (OP == ADD) return x + y;
  else if constexpr (OP == SUB) return x - y;
  else if constexpr (OP == MUL) return x * y;
  else if constexpr (OP == DIV) return x / y;
  else if constexpr (OP == POW) return std::pow(x, y);
  else if constexpr (OP == MAXIMUM) return (x != x || y != y) ? NAN : (x > y ? x : y);
  else if constexpr (OP == MINIMUM) return (x != x || y != y) ? NAN : (x < y ? x : y);
  else if constexpr (OP == EQ) return x == y ? 1.f : 0.f;
  else if constexpr (OP == LT) return x < y ? 1.f : 0.f;
  else if constexpr (OP == GT) return x > y ? 1.f : 0.f;
  else if constexpr (OP == LE) return x <= y ? 1.f : 0.f;
  else if constexpr (OP == GE) return x >= y ? 1.f : 0.f;
  else return x != y ? 1.f : 0.f;
}

template <int OP>
static void binary_t(const float* a, const std::vector<int64_t>& as, const float* b, const std::vector<int64_t>& bs,
                     float* out, const std::vector<int64_t>& shape) {
  const std::vector<int64_t> strides[2] = {as, bs};
  const int64_t base[2] = {0, 0};
  const int nd = (int)shape.size();
  const int64_t sa = nd ? as[nd - 1] : 0, sb = nd ? bs[nd - 1] : 0;
  const int64_t inner = nd ? shape[nd - 1] : 1;
  for_each_row<2>(shape, strides, base, [&](int64_t o, const int64_t* offs) {
    const float* pa = a + offs[0];
    const float* pb = b + offs[1];
    float* po = out + o;
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < inner; ++i) po[i] = bin<OP>(pa[i], pb[i]);
    } else if (sa == 1 && sb == 0) {
      const float y = pb[0];
      for (int64_t i = 0; i < inner; ++i) po[i] = bin<OP>(pa[i], y);
    } else if (sa == 0 && sb == 1) {
      const float x = pa[0];
      for (int64_t i = 0; i < inner; ++i) po[i] = bin<OP>(x, pb[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) po[i] = bin<OP>(pa[i * sa], pb[i * sb]);
    }
  });
}

void binary(int op, const float* a, const std::vector<int64_t>& as, const float* b, const std::vector<int64_t>& bs,
            float* out, const std::vector<int64_t>& shape) {
  switch (op) {
    case ADD: return binary_t<ADD>(a, as, b, bs, out, shape);
    case SUB: return binary_t<SUB>(a, as, b, bs, out, shape);
    case MUL: return binary_t<MUL>(a, as, b, bs, out, shape);
    case DIV: return binary_t<DIV>(a, as, b, bs, out, shape);
    case POW: return binary_t<POW>(a, as, b, bs, out, shape);
    case MAXIMUM: return binary_t<MAXIMUM>(a, as, b, bs, out, shape);
    case MINIMUM: return binary_t<MINIMUM>(a, as, b, bs, out, shape);
    case EQ: return binary_t<EQ>(a, as, b, bs, out, shape);
    case LT: return binary_t<LT>(a, as, b, bs, out, shape);
    case GT: return binary_t<GT>(a, as, b, bs, out, shape);
    case LE: return binary_t<LE>(a, as, b, bs, out, shape);
    case GE: return binary_t<GE>(a, as, b, bs, out, shape);
    case NE: return binary_t<NE>(a, as, b, bs, out, shape);
  }
}

static inline float sigmoidf(float x) { return 1.f / (1.f + std::exp(-x)); }
static constexpr float kSqrt2OverPi = 0.7978845608028654f;
static constexpr float kInvSqrt2 = 0.7071067811865476f;

template <int OP>
static inline float un(float x, float p) {
  if constexpr (OP == NEG) return -x;
  else if constexpr (OP == EXP) return std::exp(x);
  else if constexpr (OP == LOG) return std::log(x);
  else if constexpr (OP == SQRT) return std::sqrt(x);
  else if constexpr (OP == RSQRT) return 1.f / std::sqrt(x);
  else if constexpr (OP == TANH) return std::tanh(x);
  else if constexpr (OP == SIGMOID) return sigmoidf(x);
  else if constexpr (OP == SILU) return x * sigmoidf(x);
  else if constexpr (OP == GELU) return 0.5f * x * (1.f + std::erf(x * kInvSqrt2));
  else if constexpr (OP == RELU) return x > 0.f ? x : 0.f;
  else if constexpr (OP == ABS) return std::fabs(x);
  else if constexpr (OP == POW_SCALAR) return std::pow(x, p);
  else if constexpr (OP == ADD_SCALAR) return x + p;
  else if constexpr (OP == MUL_SCALAR) return x * p;
  else if constexpr (OP == SIN) return std::sin(x);
  else if constexpr (OP == COS) return std::cos(x);
  else if constexpr (OP == SQUARE) return x * x;
  else if constexpr (OP == RECIPROCAL) return 1.f / x;
  else {
    float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.f + std::tanh(u));
  }
}

template <int OP>
static inline float ungrad(float x, float g, float p) {
  if constexpr (OP == NEG) return -g;
  else if constexpr (OP == EXP) return g * std::exp(x);
  else if constexpr (OP == LOG) return g / x;
  else if constexpr (OP == SQRT) return g * 0.5f / std::sqrt(x);
  else if constexpr (OP == RSQRT) return g * -0.5f / (x * std::sqrt(x));
  else if constexpr (OP == TANH) { float t = std::tanh(x); return g * (1.f - t * t); }
  else if constexpr (OP == SIGMOID) { float s = sigmoidf(x); return g * s * (1.f - s); }
  else if constexpr (OP == SILU) { float s = sigmoidf(x); return g * s * (1.f + x * (1.f - s)); }
  else if constexpr (OP == GELU) {
    float cdf = 0.5f * (1.f + std::erf(x * kInvSqrt2));
    float pdf = 0.3989422804014327f * std::exp(-0.5f * x * x);
    return g * (cdf + x * pdf);
  }
  else if constexpr (OP == RELU) return x > 0.f ? g : 0.f;
  else if constexpr (OP == ABS) return x > 0.f ? g : (x < 0.f ? -g : 0.f);
  else if constexpr (OP == POW_SCALAR) return p == 0.f ? 0.f : g * p * std::pow(x, p - 1.f);
  else if constexpr (OP == ADD_SCALAR) return g;
  else if constexpr (OP == MUL_SCALAR) return g * p;
  else if constexpr (OP == SIN) return g * std::cos(x);
  else if constexpr (OP == COS) return -g * std::sin(x);
  else if constexpr (OP == SQUARE) return 2.f * x * g;
  else if constexpr (OP == RECIPROCAL) return -g / (x * x);
  else {
    float x3 = x * x * x;
    float u = kSqrt2OverPi * (x + 0.044715f * x3);
    float t = std::tanh(u);
    float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * x * x);
    return g * (0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du);
  }
}

template <int OP>
static void unary_t(const float* x, float* out, int64_t n, float p) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = un<OP>(x[i], p);
  });
}
template <int OP>
static void unary_grad_t(const float* x, const float* gy, float* gx, int64_t n, float p) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) gx[i] = ungrad<OP>(x[i], gy[i], p);
  });
}

void unary(int op, const float* x, float* out, int64_t n, float p) { SEEKR_UNARY_CASES(unary_t, x, out, n, p) }
void unary_grad(int op, const float* x, const float* gy, float* gx, int64_t n, float p) {
  SEEKR_UNARY_CASES(unary_grad_t, x, gy, gx, n, p)
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = un<SILU>(gate[i], 0.f) * up[i];
  });
}
void swiglu_backward(const float* gate, const float* up, const float* gy, float* ggate, float* gup, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float x = gate[i], u = up[i], g = gy[i];
      gup[i] = g * un<SILU>(x, 0.f);
      ggate[i] = ungrad<SILU>(x, g * u, 0.f);
    }
  });
}

void where(const float* c, const std::vector<int64_t>& cs, const float* a, const std::vector<int64_t>& as,
           const float* b, const std::vector<int64_t>& bs, float* out, const std::vector<int64_t>& shape) {
  const std::vector<int64_t> strides[3] = {cs, as, bs};
  const int64_t base[3] = {0, 0, 0};
  const int nd = (int)shape.size();
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t sc = nd ? cs[nd - 1] : 0, sa = nd ? as[nd - 1] : 0, sb = nd ? bs[nd - 1] : 0;
  for_each_row<3>(shape, strides, base, [&](int64_t o, const int64_t* offs) {
    for (int64_t i = 0; i < inner; ++i)
      out[o + i] = c[offs[0] + i * sc] != 0.f ? a[offs[1] + i * sa] : b[offs[2] + i * sb];
  });
}

}  // namespace cpu
}  // namespace seekr
