// CUDA kernels of the tensor engine (float32; int32 where the op has int data): same semantics and arguments as the
// cpu/*.h kernels, device pointers, the device index first. Real in src/cuda/*.cu, throwing stubs in stub.cpp and
// stub_half.cpp. Every function selects the device, launches on the legacy default stream (asynchronous unless it
// returns a host value), and turns a failed launch into seekr::Error naming the op.
//
// A `const void*` / `void*` operand followed by its DType holds float32, bfloat16 or float16 data (each operand its own
// dtype, checked by the caller): half inputs are widened exactly, the math is the float32 kernel's (same operations,
// same order) and each result is rounded once to its output's dtype (nearest even), so results equal the float32
// kernel's on widened copies, rounded (the staging of binding/args.h). With every operand float32 it is that kernel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/core.h"
#include "cpu/gemm.h"

namespace seekr {
namespace cuda {

// ---- elementwise (cpu/elementwise.h) ----------------------------------------------------------------------------
void binary(int device, int op, const void* a, DType at, const std::vector<int64_t>& as, const void* b, DType bt,
            const std::vector<int64_t>& bs, void* out, DType ot, const std::vector<int64_t>& shape);
void unary(int device, int op, const void* x, DType xt, void* out, DType ot, int64_t n, float p);
void unary_grad(int device, int op, const void* x, DType xt, const void* gy, DType gyt, void* gx, DType gxt, int64_t n,
                float p);
void where(int device, const void* c, DType ct, const std::vector<int64_t>& cs, const void* a, DType at,
           const std::vector<int64_t>& as, const void* b, DType bt, const std::vector<int64_t>& bs, void* out, DType ot,
           const std::vector<int64_t>& shape);

// ---- fused SwiGLU (cpu/elementwise.h: cpu::swiglu, cpu::swiglu_backward) ----------------------------------------
// n elements of same-shape contiguous operands, each in its own float dtype. swiglu: out = silu(gate) * up.
// swiglu_backward overwrites ggate = silu'(gate) * (gy * up) and gup = gy * silu(gate).
void swiglu(int device, const void* gate, DType gt, const void* up, DType ut, void* out, DType ot, int64_t n);
void swiglu_backward(int device, const void* gate, DType gt, const void* up, DType ut, const void* gy, DType gyt,
                     void* ggate, DType ggt, void* gup, DType gut, int64_t n);

// ---- fills, casts, random (binding/memory.cpp, cpu/random.h) -----------------------------------------------------
void fill_f32(int device, float* p, int64_t n, float v);
void fill_i32(int device, int32_t* p, int64_t n, int32_t v);
void fill_u16(int device, uint16_t* p, int64_t n, uint16_t v);  // bfloat16 / float16 buffers, by bits
// Any pair of storage dtypes (cpu/convert.h): floats round to nearest even; float -> int32 truncates toward zero
// (NaN -> 0, saturating at the int32 range).
void convert(int device, const void* src, DType sd, void* dst, DType dd, int64_t n);
void fill_uniform(int device, float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
void fill_normal(int device, float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

// ---- reductions and softmax (cpu/reduce.h) -------------------------------------------------------------------------
void reduce_sum(int device, const void* x, DType xt, void* out, DType ot, int64_t outer, int64_t mid, int64_t inner,
                float scale);
void reduce_max(int device, const float* x, float* vals, int32_t* idx, int64_t outer, int64_t mid, int64_t inner);
void max_backward(int device, const float* gy, const int32_t* idx, float* gx, int64_t outer, int64_t mid, int64_t inner);
void softmax(int device, const void* x, DType xt, void* y, DType yt, int64_t rows, int64_t cols, bool log);
void softmax_backward(int device, const void* y, DType yt, const void* gy, DType gyt, void* gx, DType gxt, int64_t rows,
                      int64_t cols, bool log);
// Sum of squares in double; the summation order depends on n only (deterministic). Synchronises (returns to host).
double sum_squares(int device, const float* x, int64_t n);
// sum_squares of several buffers with one read-back: the same kernels and order per buffer, so each value equals its
// own sum_squares.
std::vector<double> sum_squares_many(int device, const std::vector<std::pair<const float*, int64_t>>& xs);

// ---- data movement (cpu/layout.h) -------------------------------------------------------------------------------
// elem: 4 (float32, int32) or 2 (bfloat16, float16) bytes.
void strided_copy(int device, const void* src, int64_t src_off, const std::vector<int64_t>& src_strides, void* dst,
                  int64_t dst_off, const std::vector<int64_t>& dst_strides, const std::vector<int64_t>& shape,
                  size_t elem);
// ids validated by the caller. Equal dtypes (any of the four) copy the bits; float tables into another float dtype
// convert (widen, or round to nearest even).
void gather_rows(int device, const void* table, DType tt, const int32_t* ids, void* out, DType ot, int64_t n,
                 int64_t cols);
// out[ids[i], :] += src[i, :] with float32 atomics (the order of additions into a repeated row is not fixed).
void scatter_add_rows(int device, const void* src, DType st, const int32_t* ids, float* out, int64_t n, int64_t cols);

// ---- GEMM (cpu/gemm.h): batched with strides, transposes, alpha / beta; cuBLAS when loaded, else Seekr's kernels --
// f32: cublasSgemmStridedBatched (IEEE FP32; TF32 only with SEEKR_TF32=1) or the tiled shared-memory SGEMM.
void gemm_batched(int device, const cpu::GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C);
// A, B: both DType::BF16 or both DType::F16; C: F32, BF16 or F16. f32 accumulation, the result rounded to C's dtype
// (round to nearest even); beta 0 ignores C, beta 1 adds. cublasGemmStridedBatchedEx (CUBLAS_COMPUTE_32F) where
// cuBLAS supports the combination, otherwise the WMMA tensor-core kernel (sm_80 and newer).
void gemm_batched_half(int device, const cpu::GemmBatch& g, float alpha, DType ab, const void* A, const void* B,
                       float beta, DType tc, void* C);
// Which GEMM runs, for the device report: "cuBLAS 13.0.2 (/path/libcublas.so.13)" or "Seekr's tiled kernels (cuBLAS
// not loaded: <reason>)". Loads cuBLAS if needed; needs no GPU. device_or_minus1 >= 0 adds that device's handle error.
std::string gemm_backend(int device_or_minus1);

// ---- fused nn kernels (cpu/nn.h) --------------------------------------------------------------------------------
// count: rows whose target != ignore (computed by the caller from a host copy of the targets). loss: device scalar.
void cross_entropy(int device, const void* logits, DType lt, const int32_t* targets, float* loss, float* lse,
                   int64_t rows, int64_t cols, int32_t ignore, int64_t count);
// gy: device scalar (upstream gradient); scale = count > 0 ? gy / count : 0, as on the cpu.
void cross_entropy_backward(int device, const void* logits, DType lt, const int32_t* targets, const float* lse,
                            const float* gy, int64_t count, void* gx, DType gxt, int64_t rows, int64_t cols,
                            int32_t ignore);
// res == nullptr: y = rmsnorm(x). Else the fused residual add: sum = x + res (rounded to st), y = rmsnorm(sum), in one
// pass. Typed register-row kernels serve one dtype throughout and float32 x / sum / w with a 16-bit y and res (the
// autocast case: float32 residual stream, bfloat16 branch outputs and norm outputs); other mixes take AnyF kernels.
void rms_norm(int device, const void* x, DType xt, const void* res, DType rt, void* sum, DType st, const void* w,
              DType wt, void* y, DType yt, float* rstd, int64_t rows, int64_t cols, float eps);
// accumulate: gx += the input gradient (else gx is overwritten). gw is overwritten, summed in a fixed order
// (deterministic run to run): for one dtype, 16-byte aligned operands, cols % (16 / element size) == 0 and
// cols <= 1024 (or float32 x / w / gx / gw with a 16-bit gy) in per-block partials of row chunks (not the cpu's order: within float32 rounding of it), otherwise
// over 64-row blocks then over the blocks in order (the cpu's order, same bits).
// copy != nullptr (float32 gx): copy[i] = gx's final value rounded to ct (fused into the fast kernel's store).
void rms_norm_backward(int device, const void* x, DType xt, const void* w, DType wt, const float* rstd, const void* gy,
                       DType gyt, void* gx, DType gxt, void* gw, DType gwt, int64_t rows, int64_t cols,
                       bool accumulate, void* copy = nullptr, DType ct = DType::F32);
// positions == nullptr: row r is at offset + r % period.
void rope(int device, const void* x, DType xt, const int32_t* positions, void* out, DType ot, int64_t rows,
          int64_t heads, int64_t dim, float theta, float sign, int64_t period, int64_t offset);

// ---- optimizers (cpu/optim.h) -----------------------------------------------------------------------------------
void adamw(int device, float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, int64_t step);
void sgd(int device, float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
         float weight_decay, bool nesterov, bool first_step);
void scale_inplace(int device, float* x, int64_t n, float s);
void axpy_inplace(int device, float* y, const float* x, int64_t n, float alpha);
// Many tensors in one launch (adamwMany / scaleMany): the same per-element updates as adamw / scale_inplace.
struct AdamWTensor {
  float* p;
  const float* g;
  float* m;
  float* v;
  int64_t n;
  void* low = nullptr;  // optional: also receives the updated p rounded to lt (a 16-bit copy of the parameter)
  DType lt = DType::F32;
};
void adamw_many(int device, const std::vector<AdamWTensor>& ts, float lr, float beta1, float beta2, float eps,
                float weight_decay, int64_t step);
void scale_many(int device, const std::vector<std::pair<float*, int64_t>>& xs, float s);

}  // namespace cuda
}  // namespace seekr
