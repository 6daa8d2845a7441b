// Elementwise kernels: broadcasting binary ops, unary math with its gradients, where, fused SwiGLU.
#pragma once
#include <cstdint>
#include <vector>

namespace seekr {
namespace cpu {

enum BinaryOp : int { ADD = 0, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, EQ, LT, GT, LE, GE, NE, NUM_BINARY };
enum UnaryOp : int {
  NEG = 0, EXP, LOG, SQRT, RSQRT, TANH, SIGMOID, SILU, GELU, RELU, ABS, POW_SCALAR, ADD_SCALAR, MUL_SCALAR,
  SIN, COS, SQUARE, RECIPROCAL, GELU_TANH, NUM_UNARY
};
const char* binary_name(int op);

// Dispatches a runtime unary op code to F<OP>(args...) (shared by the CPU and CUDA kernels); falls through on an
// unknown code, which the caller reports.
#define SEEKR_UNARY_CASES(F, ...)                                                                   \
  switch (op) {                                                                                     \
    case NEG: return F<NEG>(__VA_ARGS__); case EXP: return F<EXP>(__VA_ARGS__);                     \
    case LOG: return F<LOG>(__VA_ARGS__); case SQRT: return F<SQRT>(__VA_ARGS__);                   \
    case RSQRT: return F<RSQRT>(__VA_ARGS__); case TANH: return F<TANH>(__VA_ARGS__);               \
    case SIGMOID: return F<SIGMOID>(__VA_ARGS__); case SILU: return F<SILU>(__VA_ARGS__);           \
    case GELU: return F<GELU>(__VA_ARGS__); case RELU: return F<RELU>(__VA_ARGS__);                 \
    case ABS: return F<ABS>(__VA_ARGS__); case POW_SCALAR: return F<POW_SCALAR>(__VA_ARGS__);       \
    case ADD_SCALAR: return F<ADD_SCALAR>(__VA_ARGS__); case MUL_SCALAR: return F<MUL_SCALAR>(__VA_ARGS__); \
    case SIN: return F<SIN>(__VA_ARGS__); case COS: return F<COS>(__VA_ARGS__);                     \
    case SQUARE: return F<SQUARE>(__VA_ARGS__); case RECIPROCAL: return F<RECIPROCAL>(__VA_ARGS__); \
    case GELU_TANH: return F<GELU_TANH>(__VA_ARGS__);                                               \
  }
const char* unary_name(int op);

// out[i] = a[..] op b[..] over `shape`, operands addressed by element strides (0 = broadcast).
void binary(int op, const float* a, const std::vector<int64_t>& as, const float* b, const std::vector<int64_t>& bs,
            float* out, const std::vector<int64_t>& shape);
void unary(int op, const float* x, float* out, int64_t n, float p);
// gx = d op(x) / dx * gy (overwrites gx)
void unary_grad(int op, const float* x, const float* gy, float* gx, int64_t n, float p);
void where(const float* c, const std::vector<int64_t>& cs, const float* a, const std::vector<int64_t>& as,
           const float* b, const std::vector<int64_t>& bs, float* out, const std::vector<int64_t>& shape);

// SwiGLU (the LLaMA MLP's gate), n elements of same-shape operands: out = silu(gate) * up. The operations of unary
// SILU then binary MUL, in that order, so the bits of mul(silu(gate), up).
void swiglu(const float* gate, const float* up, float* out, int64_t n);
// Its backward, overwriting both gradients: ggate = silu'(gate) * (gy * up), gup = gy * silu(gate) (the operations of
// mul's backward then SILU's unary_grad, so the bits of the unfused pair). Inputs may alias each other, not outputs.
void swiglu_backward(const float* gate, const float* up, const float* gy, float* ggate, float* gup, int64_t n);

}  // namespace cpu
}  // namespace seekr
