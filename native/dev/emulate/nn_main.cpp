// Host emulation of cuda/nn.cu (built and run by run.mjs: node dev/emulate/run.mjs nn): rms_norm, rms_norm_backward
// (overwriting and accumulating gx), cross_entropy (+ backward) and rope (explicit positions, the cached cos / sin
// table, the direct kernel when the table would be too large, in place) on float32, bfloat16 and float16 buffers and on
// mixed dtypes (the AnyF kernels), at sizes that take every kernel variant: the register-row kernels for cols <= 1024
// with each NC, the warp-per-row and block-per-row kernels, 16-byte chunks and the scalar loops (misaligned pointers,
// cols not a multiple of the chunk). Each result is compared with the CPU kernel (cpu/nn.cpp) run on widened copies and
// rounded once to the output's dtype (the binding's staging), within the bounds the GPU tests accept on an H100:
// test/gpu/ops.test.mjs for float32 outputs (atol + rtol |cpu|; the weight gradient's summation-order bound), and
// test/gpu/half.test.mjs for 16-bit ones (ulps of the output dtype at max(|cpu|, scale)). Prints each check's worst
// error as a fraction of its bound, and the kernel instantiations that ran.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/core.h"
#include "common/half.h"
#include "cpu/nn.h"
#include "cuda/kernels.h"
#include "emu.h"
#include "host_buf.h"

using namespace seekr;
using namespace emutest;

namespace {

const DType F = DType::F32, B = DType::BF16, H = DType::F16;


// ---- checks -----------------------------------------------------------------------------------------------------------
// A bound: ulps > 0: |got - want| <= ulps * ulp(dtype, max(|want|, scale)) (half.test.mjs closeUlps); else
// |got - want| <= atol + rtol |want| (ops.test.mjs close). want is the cpu's float32 result rounded to got's dtype.
struct Tol {
  int ulps = 0;
  double scale = 0, rtol = 0, atol = 0;
};
Tol ulps(int n, double scale = 0) { return Tol{n, scale, 0, 0}; }
Tol rel(double rtol, double atol) { return Tol{0, 0, rtol, atol}; }
// float32 outputs: ops.test.mjs's rtol / atol; 16-bit ones: half.test.mjs's ulps.
Tol by_dtype(DType d, Tol f32, Tol half) { return d == F ? f32 : half; }

double ulp_of(double x, DType d) {
  const int bits = d == B ? 7 : d == H ? 10 : 23, emin = d == H ? -14 : -126;
  const double a = std::fabs(x);
  const int e = a > 0 ? std::max((int)std::floor(std::log2(a)), emin) : emin;
  return std::ldexp(1.0, e - bits);
}

struct Worst {
  double ratio = 0;  // worst |got - want| / bound
  int64_t checked = 0, bad = 0;
  std::string at;
};
std::map<std::string, Worst> g_worst;  // by check ("rmsNorm y bf16"), over every case
int g_failures = 0;

void record(const std::string& key, const std::string& ctx, double ratio, int64_t n, int64_t bad, const std::string& first) {
  Worst& w = g_worst[key];
  w.checked += n;
  w.bad += bad;
  if (ratio > w.ratio) {
    w.ratio = ratio;
    w.at = ctx;
  }
  if (bad) {
    ++g_failures;
    printf("FAIL %s %s: %lld of %lld off by more than the bound; %s\n", key.c_str(), ctx.c_str(), (long long)bad,
           (long long)n, first.c_str());
  }
}

void check(const std::string& what, const std::string& ctx, Buf& got, const std::vector<float>& ref, Tol t) {
  const std::string key = what + " " + dn(got.d);
  double worst = 0;
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < got.n; ++i) {
    const double w = stored_as(ref[(size_t)i], got.d), g = got.get(i);
    if (g == w || (std::isnan(g) && std::isnan(w))) continue;
    const double lim = t.ulps > 0 ? t.ulps * ulp_of(std::max(std::fabs(w), t.scale), got.d) : t.atol + t.rtol * std::fabs(w);
    const double e = std::fabs(g - w);
    const double r = e <= lim ? (lim > 0 ? e / lim : 0) : (std::isfinite(e) && lim > 0 ? e / lim : INFINITY);
    worst = std::max(worst, r);
    if (!(e <= lim)) {
      if (!bad) {
        char b[160];
        snprintf(b, sizeof b, "first at %lld: %.9g vs cpu %.9g", (long long)i, g, w);
        first = b;
      }
      ++bad;
    }
  }
  record(key, ctx, worst, got.n, bad, first);
}

// The weight gradient (ops.test.mjs closeGw): the device sums gw[c] = sum_r gy x rstd in another fixed order than the
// cpu (the fused kernel); both within (n_cpu + n_dev) 2^-24 sum_r |term| of the exact sum. 16-bit outputs: a unit
// at max(|cpu|, 1) (half.test.mjs).
void check_gw(const std::string& ctx, Buf& got, const std::vector<float>& ref, const std::vector<float>& x,
              const std::vector<float>& gy, const std::vector<float>& rstd, int64_t rows, int64_t cols) {
  if (got.d != F) return check("rmsNormBackward gw", ctx, got, ref, ulps(1, 1));
  const double n = 64 + std::ceil(rows / 64.0) + std::ceil(rows / 2048.0) + 10;
  double worst = 0;
  int64_t bad = 0;
  std::string first;
  for (int64_t c = 0; c < cols; ++c) {
    double mag = 0;
    for (int64_t r = 0; r < rows; ++r)
      mag += std::fabs((double)gy[(size_t)(r * cols + c)] * x[(size_t)(r * cols + c)] * rstd[(size_t)r]);
    const double lim = n * std::ldexp(1.0, -24) * mag, e = std::fabs((double)got.get(c) - ref[(size_t)c]);
    worst = std::max(worst, e == 0 ? 0 : lim > 0 ? e / lim : INFINITY);
    if (!(e <= lim)) {
      if (!bad) first = "first at column " + std::to_string(c) + ": " + std::to_string(got.get(c)) + " vs cpu " + std::to_string(ref[(size_t)c]);
      ++bad;
    }
  }
  record("rmsNormBackward gw f32", ctx, worst, cols, bad, first);
}

void check_same(const std::string& what, const std::string& ctx, Buf& a, Buf& b) {
  record(what, ctx, 0, a.n, a.same_bits(b) ? 0 : 1, "not bit-identical");
}

// ---- rms_norm / rms_norm_backward --------------------------------------------------------------------------------------
struct RmsCase {
  int64_t rows, cols;
  float eps;
};
// dt: x, w, y (gy, gx, gw follow x, w, y); mis: byte offset of x, gy and gx (0: aligned).
void rms_case(RmsCase c, std::array<DType, 3> dt, size_t mis) {
  const int64_t rows = c.rows, cols = c.cols, n = rows * cols;
  const std::string ctx = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) + " " + dn(dt[0]) + "/" +
                          dn(dt[1]) + "/" + dn(dt[2]) + (mis ? " misaligned" : "");
  Buf x(dt[0], n, mis), w(dt[1], cols), y(dt[2], n), rstd(F, rows);
  x.set(randn(n));
  w.set(randn(cols));
  cuda::rms_norm(0, x.ptr(), x.d, nullptr, F, nullptr, F, w.ptr(), w.d, y.ptr(), y.d, static_cast<float*>(rstd.ptr()), rows,
                 cols, c.eps);
  const auto X = x.widened(), W = w.widened();
  std::vector<float> Y((size_t)n), R((size_t)rows);
  cpu::rms_norm(X.data(), W.data(), Y.data(), R.data(), rows, cols, c.eps);
  check("rmsNorm y", ctx, y, Y, by_dtype(y.d, rel(1e-4, 1e-6), ulps(1)));
  check("rmsNorm rstd", ctx, rstd, R, rel(1e-5, 0));

  // backward from the cpu's rstd on both sides (ops.test.mjs): gy like y, gx like x, gw like w
  Buf gy(dt[2], n, mis), gx(dt[0], n, mis), gw(dt[1], cols), rs(F, rows);
  gy.set(randn(n));
  rs.set(R);
  gw.set(randn(cols));  // garbage: overwritten
  gx.set(randn(n));     // overwritten too
  cuda::rms_norm_backward(0, x.ptr(), x.d, w.ptr(), w.d, static_cast<const float*>(rs.ptr()), gy.ptr(), gy.d, gx.ptr(),
                          gx.d, gw.ptr(), gw.d, rows, cols, false);
  const auto GY = gy.widened();
  std::vector<float> GX((size_t)n), GW((size_t)cols);
  cpu::rms_norm_backward(X.data(), W.data(), R.data(), GY.data(), GX.data(), GW.data(), rows, cols, false);
  check("rmsNormBackward gx", ctx, gx, GX, by_dtype(gx.d, rel(1e-4, 1e-5), ulps(1, 0.05)));
  check_gw(ctx, gw, GW, X, GY, R, rows, cols);
  // accumulate: gx += the gradient; gw the same bits as without
  Buf gxa(dt[0], n, mis), gwa(dt[1], cols);
  const auto base = randn(n);
  gxa.set(base);
  gwa.set(randn(cols));
  cuda::rms_norm_backward(0, x.ptr(), x.d, w.ptr(), w.d, static_cast<const float*>(rs.ptr()), gy.ptr(), gy.d, gxa.ptr(),
                          gxa.d, gwa.ptr(), gwa.d, rows, cols, true);
  Buf stored(gxa.d, n);
  stored.set(base);
  std::vector<float> GXA = stored.widened(), GWA((size_t)cols);  // the stored (rounded) base, as the cpu sees it
  cpu::rms_norm_backward(X.data(), W.data(), R.data(), GY.data(), GXA.data(), GWA.data(), rows, cols, true);
  check("rmsNormBackward accumulate gx", ctx, gxa, GXA, by_dtype(gxa.d, rel(1e-4, 1e-5), ulps(1, 0.05)));
  check_same("rmsNormBackward accumulate gw == gw", ctx, gwa, gw);
  // gxCopy (float32 gx): the final gx rounded to a 16-bit dtype in the same pass (fast kernel) or by a convert
  // (generic kernels): the bits of rounding the device's own gx.
  if (dt[0] == F && rows > 0)
    for (DType cd : {B, H}) {
      Buf gxc(F, n, mis), cp(cd, n);
      gxc.set(base);
      cuda::rms_norm_backward(0, x.ptr(), x.d, w.ptr(), w.d, static_cast<const float*>(rs.ptr()), gy.ptr(), gy.d,
                              gxc.ptr(), gxc.d, gwa.ptr(), gwa.d, rows, cols, true, cp.ptr(), cd);
      check_same("rmsNormBackward accumulate gx (with a copy) == without", ctx, gxc, gxa);
      Buf want(cd, n);
      want.set(gxc.widened());
      check_same("rmsNormBackward gx copy == gx rounded", ctx + " -> " + dn(cd), cp, want);
    }
}

// The fused residual add: x (xt) + res (rt) -> sum (x's dtype) -> y (yt), weight in x's dtype; against cpu::add_rms_norm
// on widened copies. The sum is one float32 add rounded once on both sides: bit-exact. mis: byte offset of x and res.
void rms_res_case(RmsCase c, DType xt, DType rt, DType yt, size_t mis) {
  const int64_t rows = c.rows, cols = c.cols, n = rows * cols;
  const std::string ctx = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) + " x " + dn(xt) + " + res " +
                          dn(rt) + " -> " + dn(yt) + (mis ? " misaligned" : "");
  Buf x(xt, n, mis), r(rt, n, mis), w(xt, cols), sum(xt, n), y(yt, n), rstd(F, rows);
  x.set(randn(n, 2.0));
  r.set(randn(n));
  w.set(randn(cols));
  cuda::rms_norm(0, x.ptr(), x.d, r.ptr(), r.d, sum.ptr(), sum.d, w.ptr(), w.d, y.ptr(), y.d,
                 static_cast<float*>(rstd.ptr()), rows, cols, c.eps);
  const auto X = x.widened(), Rv = r.widened(), W = w.widened();
  std::vector<float> S((size_t)n), Y((size_t)n), RS((size_t)rows);
  cpu::add_rms_norm(X.data(), Rv.data(), S.data(), xt, W.data(), Y.data(), RS.data(), rows, cols, c.eps);
  check("rmsNorm+residual sum", ctx, sum, S, ulps(0));
  check("rmsNorm+residual y", ctx, y, Y, by_dtype(y.d, rel(1e-4, 1e-6), ulps(1)));
  check("rmsNorm+residual rstd", ctx, rstd, RS, rel(1e-5, 0));
}

// ---- cross_entropy (+ backward) ------------------------------------------------------------------------------------
// special: rows 0..4 get the ops.test.mjs special values (all -inf, every other -inf, one +inf, one NaN, one finite).
void ce_case(int64_t rows, int64_t cols, double p_ignore, DType lt, DType gt, size_t mis_x, size_t mis_g, bool special) {
  const int64_t n = rows * cols;
  const std::string ctx = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) + " " + dn(lt) + "->" + dn(gt) +
                          (mis_x ? " logits+" + std::to_string(mis_x) + "B" : "") +
                          (mis_g ? " gx+" + std::to_string(mis_g) + "B" : "") + (special ? " specials" : "");
  Buf x(lt, n, mis_x);
  auto xv = randn(n, 2.0);
  if (special && rows >= 6) {
    for (int64_t c = 0; c < cols; ++c) xv[(size_t)c] = -INFINITY;
    for (int64_t c = 0; c < cols; c += 2) xv[(size_t)(cols + c)] = -INFINITY;
    xv[(size_t)(2 * cols + cols / 2)] = INFINITY;
    xv[(size_t)(3 * cols + cols - 1)] = NAN;
    for (int64_t c = 0; c < cols - 1; ++c) xv[(size_t)(4 * cols + c)] = -INFINITY;
  }
  x.set(xv);
  std::vector<int32_t> tg((size_t)rows);
  for (int64_t r = 0; r < rows; ++r) {
    const bool ign = special ? r == 5 : uniform() < p_ignore;
    tg[(size_t)r] = ign ? -100 : special ? 1 % (int32_t)cols : (int32_t)(uniform() * (double)cols);
  }
  const auto X = x.widened();
  std::vector<float> L(1), LSE((size_t)rows);
  const int64_t count = cpu::cross_entropy(X.data(), tg.data(), L.data(), LSE.data(), rows, cols, -100);
  Buf loss(F, 1), lse(F, rows);
  cuda::cross_entropy(0, x.ptr(), x.d, tg.data(), static_cast<float*>(loss.ptr()), static_cast<float*>(lse.ptr()), rows,
                      cols, -100, count);
  // float32 logits: ops.test.mjs; 16-bit logits: half.test.mjs (8 ulps of float32 for lse, the loss 128: it is a mean of
  // differences lse - x[target], 8 at the training shapes)
  check("crossEntropy lse", ctx, lse, LSE, lt == F ? rel(1e-5, 1e-6) : ulps(8));
  check("crossEntropy loss", ctx, loss, L, lt == F ? rel(1e-5, 1e-6) : ulps(128));
  if (special) return;
  const float gyv = 1.3f;
  Buf gy(F, 1), gx(gt, n, mis_g);
  gy.set(0, gyv);
  gx.set(randn(n));  // overwritten
  cuda::cross_entropy_backward(0, x.ptr(), x.d, tg.data(), LSE.data(), static_cast<const float*>(gy.ptr()), count,
                               gx.ptr(), gx.d, rows, cols, -100);
  std::vector<float> GX((size_t)n);
  cpu::cross_entropy_backward(X.data(), tg.data(), LSE.data(), count > 0 ? gyv / (float)count : 0.f, GX.data(), rows,
                              cols, -100);
  check("crossEntropyBackward gx", ctx, gx, GX, by_dtype(gx.d, rel(1e-5, 1e-7), ulps(1)));
}

// ---- rope ---------------------------------------------------------------------------------------------------------------
// positions: explicit (pos_max > 0) or none (row r at offset + r % period: the cached table or the direct kernel).
void rope_case(int64_t rows, int64_t heads, int64_t dim, float theta, int32_t pos_max, int64_t period, int64_t offset,
               DType xt, DType ot, size_t mis) {
  const int64_t n = rows * heads * dim;
  std::vector<int32_t> pos;
  if (pos_max > 0)
    for (int64_t r = 0; r < rows; ++r) pos.push_back((int32_t)(uniform() * pos_max));
  const int32_t* pp = pos_max > 0 ? pos.data() : nullptr;
  Buf x(xt, n, mis);
  x.set(randn(n));
  const auto X = x.widened();
  for (float sign : {1.f, -1.f}) {
    const std::string ctx = "rows=" + std::to_string(rows) + " heads=" + std::to_string(heads) + " dim=" +
                            std::to_string(dim) + (pp ? " positions" : " period=" + std::to_string(period) + " offset=" +
                                                                           std::to_string(offset)) +
                            " sign=" + std::to_string((int)sign) + " " + dn(xt) + "->" + dn(ot) +
                            (mis ? " misaligned" : "");
    Buf o(ot, n, mis);
    cuda::rope(0, x.ptr(), x.d, pp, o.ptr(), o.d, rows, heads, dim, theta, sign, period, offset);
    std::vector<float> R((size_t)n);
    cpu::rope(X.data(), pp, R.data(), rows, heads, dim, theta, sign, period, offset);
    check("rope", ctx, o, R, by_dtype(o.d, rel(1e-5, 1e-6), ulps(1)));
    if (xt == ot) {  // in place: the same bits as out of place
      Buf io(xt, n, mis);
      io.set(X);
      cuda::rope(0, io.ptr(), io.d, pp, io.ptr(), io.d, rows, heads, dim, theta, sign, period, offset);
      check_same("rope in place == out of place", ctx, io, o);
    }
  }
}

}  // namespace

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, int> ran;
  emu::on_launch = [&](const char* k) { ran[k]++; };
  const std::vector<std::array<DType, 3>> typed = {{F, F, F}, {B, B, B}, {H, H, H}};
  const std::vector<std::array<DType, 3>> mixed = {{B, F, B}, {F, F, H}, {H, B, F}};

  // ---- RMSNorm. cols <= 1024, 16-byte chunks (cols % 4 float32, % 8 16-bit, aligned): the register-row forward and the
  // fused backward, NC for 256, 512, 768, 1024 columns (64, 384, 520 / 768, 1024), 1 .. 17 rows per block (rows 3,
  // 64, 130, 4100); cols % chunk != 0 or misaligned: the warp-per-row kernels (cols 7, 33, 100 in 16-bit) and the
  // 64-row weight-gradient partials; cols > 1024: the block-per-row kernels (5000 and 2048 chunked, 1029 not).
  const RmsCase rms_cases[] = {{1, 1, 1e-5f},   {3, 7, 1e-6f},   {64, 768, 1e-5f},  {130, 100, 1e-5f}, {5, 5000, 1e-6f},
                               {0, 8, 1e-5f},   {1000, 33, 1e-5f}, {37, 64, 1e-5f}, {20, 384, 1e-5f},  {9, 1024, 1e-5f},
                               {4, 2048, 1e-5f}, {6, 1029, 1e-5f}, {3, 520, 1e-5f}};
  for (const RmsCase& c : rms_cases)
    for (const auto& dt : typed) {
      rms_case(c, dt, 0);
      if (c.rows > 0) rms_case(c, dt, dtype_size(dt[0]));  // x, gy, gx one element off 16-byte alignment
    }
  for (const RmsCase& c : {RmsCase{37, 64, 1e-5f}, RmsCase{6, 1029, 1e-5f}, RmsCase{130, 100, 1e-5f}})
    for (const auto& dt : mixed) rms_case(c, dt, 0);
  for (const auto& dt : typed) rms_case({4100, 520, 1e-5f}, dt, 0);  // 17 rows per block of the fused backward
  // float32 x / w with a 16-bit y: the typed register-row forward (TY 16-bit) and the fused backward reading a 16-bit gy
  // (TG) for cols <= 1024 in 8-element chunks; cols 100 (not a multiple of 8) and 1029 the AnyF kernels.
  for (const RmsCase& c : {RmsCase{37, 64, 1e-5f}, RmsCase{64, 768, 1e-5f}, RmsCase{9, 1024, 1e-5f}, RmsCase{20, 384, 1e-5f},
                           RmsCase{130, 104, 1e-5f}, RmsCase{130, 100, 1e-5f}, RmsCase{6, 1029, 1e-5f}})
    for (DType h : {B, H}) rms_case(c, {F, F, h}, 0);
  // The fused residual add, every typed combination the register-row kernel takes (x / sum / w one dtype; float32 x
  // with 16-bit res and y, or float32 y) and ones that take the generic kernel (cols > 1024, cols % chunk != 0,
  // misaligned, other mixes).
  for (const RmsCase& c : {RmsCase{37, 64, 1e-5f}, RmsCase{64, 768, 1e-5f}, RmsCase{9, 1024, 1e-5f}, RmsCase{3, 520, 1e-5f},
                           RmsCase{130, 100, 1e-5f}, RmsCase{5, 2048, 1e-6f}, RmsCase{6, 1029, 1e-5f}, RmsCase{0, 8, 1e-5f}}) {
    for (DType d : {F, B, H}) rms_res_case(c, d, d, d, 0);
    for (DType h : {B, H}) {
      rms_res_case(c, F, h, h, 0);  // the autocast block
      rms_res_case(c, F, h, F, 0);
      rms_res_case(c, F, F, h, 0);  // generic (AnyF)
      rms_res_case(c, h, F, h, 0);  // sum 16-bit, res float32: generic
    }
    if (c.rows > 0) {
      rms_res_case(c, F, F, F, 4);
      rms_res_case(c, F, B, B, 2);
    }
  }

  // ---- cross-entropy. cols <= 1024: a row per warp, else per block; 16-byte chunks from each row's first aligned
  // element (rows that start misaligned: cols odd, logits one element off), the scalar kernels for logits off their
  // element alignment (a byte); backward chunked when logits and gx share their address mod 16, else scalar, and
  // AnyF for mixed dtypes; 32 .. 256 threads per row.
  struct CeCase {
    int64_t rows, cols;
    double p_ignore;
  };
  const CeCase ce_cases[] = {{1, 1, 0},      {5, 7, 0.3},     {37, 1000, 0.1}, {3, 32000, 0.34}, {4, 9, 1},
                             {0, 5, 0},      {300, 2000, 0},  {6, 1029, 0.2},  {37, 111, 0},     {5, 1029, 0.2},
                             {4, 32000, 0.25}, {16, 256, 0}, {9, 64, 0}};
  for (const CeCase& c : ce_cases)
    for (DType d : {F, B, H}) {
      const size_t e = dtype_size(d);
      ce_case(c.rows, c.cols, c.p_ignore, d, d, 0, 0, false);
      if (c.rows == 0) continue;
      ce_case(c.rows, c.cols, c.p_ignore, d, d, e, e, false);  // rows' heads: both one element off
      ce_case(c.rows, c.cols, c.p_ignore, d, d, 0, e, false);  // logits and gx aligned differently: scalar backward
    }
  for (const CeCase& c : {CeCase{5, 7, 0.3}, CeCase{37, 1000, 0.1}, CeCase{6, 1029, 0.2}}) {
    ce_case(c.rows, c.cols, c.p_ignore, F, F, 1, 0, false);  // off element alignment: the scalar forward
    ce_case(c.rows, c.cols, c.p_ignore, B, B, 1, 0, false);
    ce_case(c.rows, c.cols, c.p_ignore, H, H, 1, 0, false);
    ce_case(c.rows, c.cols, c.p_ignore, B, F, 0, 0, false);  // mixed: the AnyF backward
    ce_case(c.rows, c.cols, c.p_ignore, F, H, 0, 0, false);
  }
  for (int64_t cols : {7, 40, 2000})
    for (DType d : {F, B}) ce_case(6, cols, 0, d, d, 0, 0, true);

  // ---- RoPE. Explicit positions: rope_kernel (typed / AnyF). Without: the cached table read in 16-byte chunks (half
  // % 4 float32, % 8 16-bit, aligned) or a pair per thread, the table built once per (period, offset, dim, theta);
  // period * dim / 2 > 2^20: no table, the direct kernel.
  struct RopePos {
    int64_t rows, heads, dim;
    float theta;
    int32_t pos_max;
  };
  for (const RopePos& c : {RopePos{1, 1, 2, 1e4f, 4096}, RopePos{7, 3, 8, 1e4f, 4096}, RopePos{50, 4, 64, 1e4f, 4096},
                           RopePos{33, 2, 128, 5e5f, 100000}, RopePos{0, 2, 4, 1e4f, 4096}, RopePos{300, 1, 6, 1e4f, 4096}}) {
    for (DType d : {F, B, H}) rope_case(c.rows, c.heads, c.dim, c.theta, c.pos_max, 0, 0, d, d, 0);
    rope_case(c.rows, c.heads, c.dim, c.theta, c.pos_max, 0, 0, B, F, 0);
  }
  struct RopeTab {
    int64_t rows, heads, dim, period, offset;
  };
  for (const RopeTab& c : {RopeTab{16, 3, 64, 8, 3}, RopeTab{12, 2, 8, 4, 0}, RopeTab{9, 2, 6, 3, 5},
                           RopeTab{10, 1, 12, 5, 1}, RopeTab{2048, 2, 64, 1024, 0}, RopeTab{24, 2, 16, 6, 2},
                           RopeTab{5, 1, 64, int64_t(1) << 16, 7}}) {
    for (DType d : {F, B, H}) {
      rope_case(c.rows, c.heads, c.dim, 10000.f, 0, c.period, c.offset, d, d, 0);
      rope_case(c.rows, c.heads, c.dim, 10000.f, 0, c.period, c.offset, d, d, dtype_size(d));  // scalar table kernel
    }
    rope_case(c.rows, c.heads, c.dim, 10000.f, 0, c.period, c.offset, F, H, 0);
  }

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("kernels run (instantiation: launches):\n");
  for (const auto& [k, v] : ran) printf("  %s: %d\n", k.c_str(), v);
  printf("checks (worst error as a fraction of the GPU tests' bound, over all cases; 0 = bit-exact):\n");
  for (const auto& [k, w] : g_worst)
    printf("  %-44s %9lld values  worst %.3f%s%s\n", k.c_str(), (long long)w.checked, w.ratio,
           w.at.empty() ? "" : "  at ", w.at.c_str());
  printf("emulated: %llu launches, %llu blocks, %llu threads, %llu __syncthreads, %llu warp syncs, %llu fiber switches; %.1f s with the cpu references\n",
         (unsigned long long)emu::launches, (unsigned long long)emu::stats.blocks,
         (unsigned long long)emu::stats.threads, (unsigned long long)emu::stats.block_syncs,
         (unsigned long long)emu::stats.warp_syncs, (unsigned long long)emu::stats.switches, secs);
  printf("%s (%d failures)\n", g_failures ? "FAILED" : "all within bounds", g_failures);
  return g_failures ? 1 : 0;
}
