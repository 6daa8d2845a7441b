// Run-time loader for cuBLAS (dlopen / dlsym) and the row-major GEMM calls on top of it. Host code only.
// The declarations below follow cublas_api.h (cuBLAS 12 / 13); cudaDataType and libraryPropertyType come from the
// toolkit's library_types.h, which is installed with the compiler.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <library_types.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>

#include "cuda/common.cuh"
#include "cuda/cublas.h"

namespace seekr {
namespace cuda {
namespace cublas {

namespace {

// ---- hand-written subset of cublas_api.h ----------------------------------------------------------------------------
struct cublasContext;
typedef cublasContext* cublasHandle_t;
typedef int cublasStatus_t;       // CUBLAS_STATUS_SUCCESS = 0
typedef int cublasOperation_t;    // enum in the header: int-sized
typedef int cublasMath_t;
typedef int cublasComputeType_t;
typedef int cublasGemmAlgo_t;

constexpr cublasOperation_t CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
constexpr cublasMath_t CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3,
                       CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16;
constexpr cublasComputeType_t CUBLAS_COMPUTE_32F = 68;
constexpr cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT = -1;

static_assert(CUDA_R_32F == 0 && CUDA_R_16F == 2 && CUDA_R_16BF == 14, "library_types.h values changed");

typedef cublasStatus_t (*PFN_Create)(cublasHandle_t*);
typedef cublasStatus_t (*PFN_Destroy)(cublasHandle_t);
typedef cublasStatus_t (*PFN_SetStream)(cublasHandle_t, cudaStream_t);
typedef cublasStatus_t (*PFN_SetMathMode)(cublasHandle_t, cublasMath_t);
typedef cublasStatus_t (*PFN_GetProperty)(libraryPropertyType, int*);
typedef const char* (*PFN_GetStatusName)(cublasStatus_t);
typedef cublasStatus_t (*PFN_SgemmStridedBatched)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                                  const float*, const float*, int, long long, const float*, int,
                                                  long long, const float*, float*, int, long long, int);
typedef cublasStatus_t (*PFN_GemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                                   const void*, const void*, cudaDataType, int, long long, const void*,
                                                   cudaDataType, int, long long, const void*, void*, cudaDataType, int,
                                                   long long, int, cublasComputeType_t, cublasGemmAlgo_t);

struct Api {
  bool loaded = false;
  std::string status;  // description when loaded, the reason otherwise
  bool tf32 = false;
  PFN_Create create = nullptr;
  PFN_Destroy destroy = nullptr;
  PFN_SetStream set_stream = nullptr;
  PFN_SetMathMode set_math_mode = nullptr;
  PFN_GetStatusName status_name = nullptr;  // optional (cuBLAS >= 11.4)
  PFN_SgemmStridedBatched sgemm = nullptr;
  PFN_GemmStridedBatchedEx gemm_ex = nullptr;
};

std::string lower(const char* s) {
  std::string r = s ? s : "";
  for (char& c : r) c = (char)std::tolower((unsigned char)c);
  return r;
}

std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

void load(Api& api) {
  const std::string mode = lower(std::getenv("SEEKR_CUBLAS"));
  if (mode == "off" || mode == "0" || mode == "false" || mode == "no") {
    api.status = "disabled by SEEKR_CUBLAS=" + std::string(std::getenv("SEEKR_CUBLAS"));
    return;
  }
  const std::string tf = lower(std::getenv("SEEKR_TF32"));
  api.tf32 = tf == "1" || tf == "on" || tf == "true" || tf == "yes";

  void* lib = nullptr;
  const char* path = std::getenv("SEEKR_CUBLAS_PATH");
  if (path && *path) {
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      api.status = "SEEKR_CUBLAS_PATH=" + std::string(path) + " could not be loaded: " + dl_error();
      return;
    }
  } else {
    std::string other;  // dlopen errors other than "file not found" (e.g. a missing dependency)
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
      const std::string e = dl_error();
      if (e.find(std::string(name) + ": cannot open shared object file: No such file") != 0)
        other += (other.empty() ? "" : "; ") + e;
    }
    if (!lib) {
      api.status = "libcublas.so.13, libcublas.so.12 and libcublas.so were not found" +
                   (other.empty() ? std::string() : " (" + other + ")");
      return;
    }
  }
  std::string missing;
  auto sym = [&](const char* name, bool required) -> void* {
    void* p = dlsym(lib, name);
    if (!p && required) missing += (missing.empty() ? "" : ", ") + std::string(name);
    return p;
  };
  api.create = (PFN_Create)sym("cublasCreate_v2", true);
  api.destroy = (PFN_Destroy)sym("cublasDestroy_v2", true);
  api.set_stream = (PFN_SetStream)sym("cublasSetStream_v2", true);
  api.set_math_mode = (PFN_SetMathMode)sym("cublasSetMathMode", true);
  auto get_property = (PFN_GetProperty)sym("cublasGetProperty", true);
  api.status_name = (PFN_GetStatusName)sym("cublasGetStatusName", false);
  api.sgemm = (PFN_SgemmStridedBatched)sym("cublasSgemmStridedBatched", true);
  api.gemm_ex = (PFN_GemmStridedBatchedEx)sym("cublasGemmStridedBatchedEx", true);

  // The file actually loaded (dladdr resolves the search path).
  std::string file = path && *path ? path : "libcublas";
  Dl_info info;
  if (api.create && dladdr((void*)api.create, &info) && info.dli_fname) file = info.dli_fname;
  if (!missing.empty()) {
    api.status = file + " lacks " + missing;
    return;
  }
  int major = 0, minor = 0, patch = 0;
  if (get_property(MAJOR_VERSION, &major) != 0 || get_property(MINOR_VERSION, &minor) != 0 ||
      get_property(PATCH_LEVEL, &patch) != 0) {
    api.status = file + ": cublasGetProperty failed";
    return;
  }
  const std::string version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (major < 11) {  // cublasComputeType_t (CUBLAS_COMPUTE_32F) arrived in cuBLAS 11
    api.status = file + " is cuBLAS " + version + "; 11 or newer is needed";
    return;
  }
  api.loaded = true;
  api.status = "cuBLAS " + version + " (" + file + ")";
}

Api& api() {
  static Api* a = new Api();  // never destroyed: handles may outlive static destruction
  static std::once_flag once;
  std::call_once(once, [] { load(*a); });
  return *a;
}

const char* status_name(cublasStatus_t s) {
  const Api& a = api();
  if (a.status_name) {
    const char* n = a.status_name(s);
    if (n) return n;
  }
  switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

std::string status_text(cublasStatus_t s) { return std::string(status_name(s)) + ", " + std::to_string(s); }

// One handle per device, created on first use with that device current; never destroyed.
std::mutex handle_mu;
cublasHandle_t handles[kMaxCudaDevices] = {};
std::string* handle_errors = new std::string[kMaxCudaDevices];  // last failure per device, under handle_mu

cublasHandle_t handle_for(int device) {
  detail::use_device(device);
  if (device < 0 || device >= kMaxCudaDevices) throw Error("matmul: cuda:" + std::to_string(device) + " is out of range");
  std::lock_guard<std::mutex> lk(handle_mu);
  if (handles[device]) return handles[device];
  const Api& a = api();
  cublasHandle_t h = nullptr;
  cublasStatus_t s = a.create(&h);
  if (s != 0) {
    handle_errors[device] = "cublasCreate failed on cuda:" + std::to_string(device) + " (" + status_text(s) + ")";
    throw Error("matmul: " + handle_errors[device] + "; SEEKR_CUBLAS=off selects Seekr's own kernels");
  }
  // The device's compute stream, where every kernel of it runs (common.cuh); handle_for's caller made it current.
  s = a.set_stream(h, detail::cur_stream());
  if (s == 0)
    s = a.set_math_mode(h, (a.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) |
                               CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  if (s != 0) {
    a.destroy(h);
    handle_errors[device] =
        "configuring the cuBLAS handle on cuda:" + std::to_string(device) + " failed (" + status_text(s) + ")";
    throw Error("matmul: " + handle_errors[device]);
  }
  handles[device] = h;
  handle_errors[device].clear();
  return h;
}

// Column-major view of the row-major product: C^T[N,M] = op(B)^T[N,K] op(A)^T[K,M].
struct ColMajor {
  cublasOperation_t ta, tb;  // ops on the first (B) and second (A) operand
  int m, n, k, lda, ldb, ldc;
};

bool fits_int(const cpu::GemmBatch& g) {
  return g.M <= INT_MAX && g.N <= INT_MAX && g.K <= INT_MAX && g.M > 0 && g.N > 0 && g.K > 0;
}

ColMajor col_major(const cpu::GemmBatch& g) {
  ColMajor c;
  c.ta = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  c.tb = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  c.m = (int)g.N;
  c.n = (int)g.M;
  c.k = (int)g.K;
  c.lda = (int)(g.trans_b ? g.K : g.N);  // B stored [N,K] or [K,N]
  c.ldb = (int)(g.trans_a ? g.M : g.K);  // A stored [K,M] or [M,K]
  c.ldc = (int)g.N;
  return c;
}

std::string sizes(const cpu::GemmBatch& g) {
  return "batch " + std::to_string(g.batch) + ", M " + std::to_string(g.M) + ", N " + std::to_string(g.N) + ", K " +
         std::to_string(g.K) + ", transA " + (g.trans_a ? "1" : "0") + ", transB " + (g.trans_b ? "1" : "0");
}

void check(cublasStatus_t s, const char* fn, const cpu::GemmBatch& g) {
  if (s == 0) return;
  throw Error(std::string("matmul: ") + fn + " failed (" + status_text(s) + ") for " + sizes(g));
}

constexpr int64_t kMaxBatch = INT_MAX;

}  // namespace

bool available() { return api().loaded; }
std::string status() { return api().status; }
bool tf32() { return api().tf32; }
std::string device_error(int device) {
  if (device < 0 || device >= kMaxCudaDevices) return "";
  std::lock_guard<std::mutex> lk(handle_mu);
  return handle_errors[device];
}

bool sgemm(int device, const cpu::GemmBatch& g, float alpha, const float* A, const float* B, float beta, float* C) {
  const Api& a = api();
  if (!a.loaded || !fits_int(g) || g.batch <= 0) return false;
  cublasHandle_t h = handle_for(device);
  const ColMajor c = col_major(g);
  for (int64_t b0 = 0; b0 < g.batch; b0 += kMaxBatch) {
    const int nb = (int)(g.batch - b0 < kMaxBatch ? g.batch - b0 : kMaxBatch);
    check(a.sgemm(h, c.ta, c.tb, c.m, c.n, c.k, &alpha, B + b0 * g.stride_b, c.lda, (long long)g.stride_b,
                  A + b0 * g.stride_a, c.ldb, (long long)g.stride_a, &beta, C + b0 * g.stride_c, c.ldc,
                  (long long)g.stride_c, nb),
          "cublasSgemmStridedBatched", g);
  }
  return true;
}

bool gemm_ex(int device, const cpu::GemmBatch& g, float alpha, DType ab, const void* A, const void* B, float beta,
             DType tc, void* C) {
  const Api& a = api();
  if (!a.loaded || !fits_int(g) || g.batch <= 0) return false;
  if (!is_half(ab)) return false;
  if (tc != DType::F32 && tc != ab) return false;
  const cudaDataType t_ab = ab == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
  const cudaDataType t_c = tc == DType::F32 ? CUDA_R_32F : t_ab;
  const size_t ab_size = 2, c_size = tc == DType::F32 ? 4 : 2;
  cublasHandle_t h = handle_for(device);
  const ColMajor c = col_major(g);
  for (int64_t b0 = 0; b0 < g.batch; b0 += kMaxBatch) {
    const int nb = (int)(g.batch - b0 < kMaxBatch ? g.batch - b0 : kMaxBatch);
    const char* pa = static_cast<const char*>(A) + (size_t)(b0 * g.stride_a) * ab_size;
    const char* pb = static_cast<const char*>(B) + (size_t)(b0 * g.stride_b) * ab_size;
    char* pc = static_cast<char*>(C) + (size_t)(b0 * g.stride_c) * c_size;
    check(a.gemm_ex(h, c.ta, c.tb, c.m, c.n, c.k, &alpha, pb, t_ab, c.lda, (long long)g.stride_b, pa, t_ab, c.ldb,
                    (long long)g.stride_a, &beta, pc, t_c, c.ldc, (long long)g.stride_c, nb, CUBLAS_COMPUTE_32F,
                    CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx", g);
  }
  return true;
}

}  // namespace cublas
}  // namespace cuda
}  // namespace seekr
