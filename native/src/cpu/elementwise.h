// Elementwise kernels: broadcasting binary ops, unary math with its gradients, where.
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
const char* unary_name(int op);

// out[i] = a[..] op b[..] over `shape`, operands addressed by element strides (0 = broadcast).
void binary(int op, const float* a, const std::vector<int64_t>& as, const float* b, const std::vector<int64_t>& bs,
            float* out, const std::vector<int64_t>& shape);
void unary(int op, const float* x, float* out, int64_t n, float p);
// gx = d op(x) / dx * gy (overwrites gx)
void unary_grad(int op, const float* x, const float* gy, float* gx, int64_t n, float p);
void where(const float* c, const std::vector<int64_t>& cs, const float* a, const std::vector<int64_t>& as,
           const float* b, const std::vector<int64_t>& bs, float* out, const std::vector<int64_t>& shape);

}  // namespace cpu
}  // namespace seekr
