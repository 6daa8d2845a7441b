// Glue for GEMM: matmul(a, b, out, batch, M, N, K, transA, transB, strideA, strideB, alpha, beta, backend).
// a, b, out: float32, bfloat16 or float16 in any combination; f32 accumulation.
#include "binding/args.h"
#include "cpu/gemm.h"
#include "cpu/gemm_bf16.h"
#include "cuda/kernels.h"

namespace seekr {

void register_matmul(Napi::Env env, Napi::Object exports) {
  define(env, exports, "matmul", [](const Napi::CallbackInfo& info) {
    Args a(info, "matmul");
    Storage* A = a.tensor(0, "a");
    Storage* B = a.tensor(1, "b");
    Storage* C = a.tensor(2, "out");
    cpu::GemmBatch g;
    g.batch = a.i64(3, "batch");
    g.M = a.i64(4, "M");
    g.N = a.i64(5, "N");
    g.K = a.i64(6, "K");
    g.trans_a = a.flag(7, "transA");
    g.trans_b = a.flag(8, "transB");
    g.stride_a = a.i64(9, "strideA");
    g.stride_b = a.i64(10, "strideB");
    float alpha = (float)a.f64(11, "alpha");
    float beta = (float)a.f64(12, "beta");
    int64_t backend = info.Length() > 13 ? a.i64(13, "backend") : 0;
    if (backend < 0 || backend > 3) a.fail("backend must be 0 (auto), 1 (own), 2 (blas) or 3 (reference)");
    if (g.batch < 0 || g.M < 0 || g.N < 0 || g.K < 0) a.fail("batch, M, N, K must be non-negative");
    if (g.stride_a < 0 || g.stride_b < 0) a.fail("batch strides must be non-negative");
    if (g.M > INT32_MAX || g.N > INT32_MAX || g.K > INT32_MAX) a.fail("matrix dimensions exceed 2^31");
    g.stride_c = g.M * g.N;
    for (auto [s, nm] : {std::pair{A, "a"}, {B, "b"}, {C, "out"}}) require_float_dtype(a, s, nm);
    // bf16 x bf16 / f16 x f16 on CUDA: tensor cores (cuBLAS or Seekr's kernels) with f32 accumulation. Everything else:
    // half operands are widened to float32 exactly (HalfStaging), so the products are exact and only the f32
    // accumulation order differs from a tensor-core GEMM; the result is rounded to out's dtype.
    const bool tensor_cores = C->device.type == DeviceType::CUDA && A->dtype == B->dtype && is_half(A->dtype);
    size_t mk = checked_product(a, {g.M, g.K}, "M*K"), kn = checked_product(a, {g.K, g.N}, "K*N");
    size_t mn = checked_product(a, {g.batch, g.M, g.N}, "batch*M*N");
    checked_product(a, {g.batch, g.M, g.N, g.K}, "batch*M*N*K");
    require_numel(a, C, "out", mn);
    if (mn == 0) return info.Env().Undefined();  // nothing to write
    auto extent = [](int64_t stride, int64_t batch, size_t one) { return (unsigned __int128)stride * (unsigned __int128)(batch - 1) + one; };
    if (extent(g.stride_a, g.batch, mk) > (unsigned __int128)A->numel)
      a.fail("'a' has " + std::to_string(A->numel) + " elements, too few for batch " + std::to_string(g.batch) + " with stride " + std::to_string(g.stride_a));
    if (extent(g.stride_b, g.batch, kn) > (unsigned __int128)B->numel)
      a.fail("'b' has " + std::to_string(B->numel) + " elements, too few for batch " + std::to_string(g.batch) + " with stride " + std::to_string(g.stride_b));
    require_same_device(a, {A, B, C});
    if (tensor_cores) {
      cuda::gemm_batched_half(C->device.index, g, alpha, A->dtype, A->ptr, B->ptr, beta, C->dtype, C->ptr);
      return info.Env().Undefined();
    }
    if (C->device.type == DeviceType::CPU && A->dtype == DType::BF16 && B->dtype == DType::BF16 && backend == 0 &&
        cpu::have_bf16_gemm()) {  // AVX512-BF16: bf16 operands straight into vdpbf16ps, f32 accumulation
      HalfStaging st;
      st.stage(C, beta == 0.f ? Stage::Out : Stage::InOut);
      cpu::gemm_bf16_batched(g, alpha, A->as<uint16_t>(), B->as<uint16_t>(), beta, C->as<float>());
      st.commit();
      return info.Env().Undefined();
    }
    HalfStaging st;
    st.stage(A, Stage::In);
    st.stage(B, Stage::In);
    st.stage(C, beta == 0.f ? Stage::Out : Stage::InOut);  // beta 0 ignores C's old values
    if (C->device.type == DeviceType::CUDA)  // one kernel on CUDA devices: `backend` selects among the cpu's GEMMs
      cuda::gemm_batched(C->device.index, g, alpha, A->as<float>(), B->as<float>(), beta, C->as<float>());
    else
      cpu::gemm_batched(g, alpha, A->as<float>(), B->as<float>(), beta, C->as<float>(), (int)backend);
    st.commit();
    return info.Env().Undefined();
  });
  // fmaPeak(seconds) -> measured single-core FMA throughput in GFLOP/s (the machine's peak per thread).
  define(env, exports, "fmaPeak", [](const Napi::CallbackInfo& info) -> Napi::Value {
    Args a(info, "fmaPeak");
    double sec = a.f64(0, "seconds");
    if (!(sec > 0 && sec <= 10)) a.fail("seconds must be in (0, 10]");
    return Napi::Number::New(info.Env(), cpu::fma_peak_gflops(sec));
  });
  define(env, exports, "gemmInfo", [](const Napi::CallbackInfo& info) -> Napi::Value {
    auto o = Napi::Object::New(info.Env());
    o.Set("blas", cpu::have_blas());
    o.Set("avx2", cpu::have_avx2());
    o.Set("bf16", cpu::have_bf16_gemm());
    return o;
  });
}

}  // namespace seekr
