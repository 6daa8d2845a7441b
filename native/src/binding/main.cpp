// Addon entry point: registers every op family's functions on the module's exports.
#include "binding/args.h"
#include "common/threadpool.h"
#include "cpu/gemm.h"

static Napi::Object InitSeekr(Napi::Env env, Napi::Object exports) {
  seekr::cpu::set_blas_threads(seekr::num_threads());
  seekr::register_memory(env, exports);
  seekr::register_elementwise(env, exports);
  seekr::register_reduce(env, exports);
  seekr::register_layout(env, exports);
  seekr::register_matmul(env, exports);
  seekr::register_nn(env, exports);
  seekr::register_attention(env, exports);
  seekr::register_optim(env, exports);
  return exports;
}

NODE_API_MODULE(seekr_native, InitSeekr)
