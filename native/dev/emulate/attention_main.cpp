// Host emulation of cuda/attention_tc.cu, the tensor-core flash attention (built and run by run.mjs: node
// dev/emulate/run.mjs attention; ptx.h emulates its mma.sync / ldmatrix / cp.async), through the entry points the
// binding calls (binding/attention.cpp):
// - bf16 / f16 q, k, v: cuda::attention_forward_tc then cuda::attention_backward_tc on the forward's own out and lse,
//   with out in the input dtype or float32, dout in the input dtype or float32, gradients float32 or the input dtype;
// - float32 q, k, v: cuda::attention_forward(..., tensor_cores = true) (variant 2: rounded to bf16 while the tiles
//   load; taps from attention.cu's float32 kernel), forward only, as the binding has no tensor-core backward for it.
// Shapes take every tile path: head dims 16, 32, 64, 128 (forward: 2 x 16 rows per warp up to 64, 1 at 128; dQ: 64-
// or 32-key tiles; dK / dV: 128- or 64-key blocks), sequence lengths not a multiple of any tile, 1, and 0, causal with
// Tk > Tq (the KV-cache offset) and Tq > Tk (rows that see no key: output 0, lse +inf), GQA, key masks (a batch entry
// fully masked), 16-byte aligned storage (cp.async) and misaligned storage (the register path).
// Each result is compared with the CPU reference kernels (cpu/attention.cpp, double-precision sums; the GPU tests'
// variant 1) on widened copies of the same inputs, within the bound of test/gpu/attention.test.mjs's tensor-core test:
// |got - cpu| / (1 + |cpu|) <= 4e-2, non-finite values equal. That test checks the forward only (out, lse); no GPU test
// states a bound for the tensor-core backward, so dq / dk / dv are held to the same one. Taps (float32 kernel): the
// float32 test's 2e-4. Prints each check's worst error as a fraction of its bound, and the kernel instantiations that
// ran.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/core.h"
#include "common/half.h"
#include "cpu/attention.h"
#include "cuda/attention.h"
#include "cuda/attention_tc.h"
#include "emu.h"
#include "host_buf.h"

using namespace seekr;
using namespace emutest;

namespace {

const DType F = DType::F32, B16 = DType::BF16, H16 = DType::F16;

// ---- checks: attention.test.mjs close(): max |got - want| / (1 + |want|) <= tol, non-finite values equal ----------
struct Worst {
  double err = 0;  // worst |got - want| / (1 + |want|)
  double tol = 0;
  int64_t checked = 0, bad = 0;
  std::string at;
};
std::map<std::string, Worst> g_worst;
int g_failures = 0;

void check(const std::string& key, const std::string& ctx, Buf& got, const std::vector<float>& want, double tol) {
  Worst& w = g_worst[key];
  w.tol = tol;
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < got.n; ++i) {
    const double g = got.get(i), x = want[(size_t)i];
    double e;
    if (!std::isfinite(g) || !std::isfinite(x)) e = (g == x) ? 0 : INFINITY;
    else e = std::fabs(g - x) / (1 + std::fabs(x));
    if (e > w.err) {
      w.err = e;
      w.at = ctx;
    }
    if (!(e <= tol)) {
      if (!bad) {
        char b[160];
        snprintf(b, sizeof b, "first at %lld: %.9g vs cpu %.9g", (long long)i, g, x);
        first = b;
      }
      ++bad;
    }
  }
  w.checked += got.n;
  w.bad += bad;
  if (bad) {
    ++g_failures;
    printf("FAIL %s %s: %lld of %lld beyond the bound %g; %s\n", key.c_str(), ctx.c_str(), (long long)bad,
           (long long)got.n, tol, first.c_str());
  }
}

// The same measure on got / M and want / M, M = max |want| (1 if all zero): errors relative to the tensor's largest
// value, so a bound far below 1 also fails results that are wrong but small (the distillation's gradients are).
void check_scaled(const std::string& key, const std::string& ctx, Buf& got, std::vector<float> want, double tol) {
  double M = 0;
  for (float x : want) M = std::max(M, (double)std::fabs(x));
  if (!(M > 0)) M = 1;
  Buf g(F, got.n);
  for (int64_t i = 0; i < got.n; ++i) g.set(i, (float)(got.get(i) / M));
  for (float& x : want) x = (float)(x / M);
  check(key, ctx, g, want, tol);
}

constexpr double kTc = 4e-2;   // attention.test.mjs, the tensor-core test
constexpr double kF32 = 2e-4;  // attention.test.mjs, the float32 kernels (taps)
// Distillation. The loss: the scores are exact products of the rounded inputs summed in float32 (the reference sums in
// double), so only float32 accumulation and exp2 / log differ: attention.test.mjs's float32 bound for the KL, 1e-4.
// The gradients: g = p * mass - pt lies in [-1, 1] and is rounded to the operand type (2^-9 relative for bf16) before
// g K and g^T Q, so an output moves by at most 2^-9 * |c| * sum_j |g_j| * max |k or q| <= 2^-9 * 0.1 * 2 * 5 ~ 2e-3
// (c = gy * factor * scale <= 1.5 * 0.25 / 4, normal inputs below 5), plus the output's own rounding (bf16: 2^-9
// relative) and, for duplicate rows, one rounding per add: bound 1e-2.
constexpr double kDistLoss = 1e-4;
constexpr double kDistGrad = 1e-2;

struct Case {
  int64_t B, Tq, Tk, H, Hkv, D;
  bool causal;
  int mask;  // 0 none, 1 random keys off (key 0 of every other entry among them), 2 also batch entry 1 fully masked
};
std::string shape_str(const Case& c) {
  char b[160];
  snprintf(b, sizeof b, "B=%lld Tq=%lld Tk=%lld H=%lld Hkv=%lld D=%lld%s%s", (long long)c.B, (long long)c.Tq,
           (long long)c.Tk, (long long)c.H, (long long)c.Hkv, (long long)c.D, c.causal ? " causal" : "",
           c.mask == 0 ? "" : c.mask == 1 ? " masked" : " masked (entry 1 fully)");
  return b;
}
cpu::AttnShape shape_of(const Case& c) {
  return cpu::AttnShape{c.B, c.Tq, c.Tk, c.H, c.Hkv, c.D, c.causal, (float)(1.0 / std::sqrt((double)c.D))};
}
std::vector<float> make_mask(const Case& c) {
  std::vector<float> m;
  if (!c.mask) return m;
  m.resize((size_t)(c.B * c.Tk));
  for (int64_t i = 0; i < c.B * c.Tk; ++i) {
    const int64_t b = i / c.Tk, j = i % c.Tk;
    const bool off = (j == 0 && b % 2 == 0) || uniform() < 0.2 || (c.mask == 2 && b == 1);
    m[(size_t)i] = off ? 0.f : 1.f;
  }
  return m;
}

// bf16 / f16 storage: forward then backward through the tensor-core entry points. out_dt / dout_dt / grad_dt as the
// binding allows them; mis: byte offset of q, k, v and dout (0: 16-byte aligned, cp.async; 2: the register path).
void half_case(const Case& c, DType in, DType out_dt, DType dout_dt, DType grad_dt, size_t mis) {
  const cpu::AttnShape s = shape_of(c);
  const std::string ctx = shape_str(c) + " in " + dn(in) + " out " + dn(out_dt) + " dout " + dn(dout_dt) + " grads " +
                          dn(grad_dt) + (mis ? " misaligned" : "");
  const int64_t nq = c.B * c.Tq * c.H * c.D, nk = c.B * c.Tk * c.Hkv * c.D, nl = c.B * c.H * c.Tq;
  Buf q(in, nq, mis), k(in, nk, mis), v(in, nk, mis), dout(dout_dt, nq, mis);
  q.set(randn(nq));
  k.set(randn(nk));
  v.set(randn(nk));
  dout.set(randn(nq));
  const std::vector<float> mask = make_mask(c);
  const float* m = mask.empty() ? nullptr : mask.data();

  Buf out(out_dt, nq), lse(F, nl);
  cuda::attention_forward_tc(0, s, in, q.ptr(), k.ptr(), v.ptr(), out_dt, out.ptr(), lse.as<float>(), m);
  const auto Q = q.widened(), K = k.widened(), V = v.widened(), G = dout.widened();
  cpu::AttnExtras x;
  x.key_mask = m;
  std::vector<float> O((size_t)nq), L((size_t)nl);
  cpu::attention_forward_reference(s, Q.data(), K.data(), V.data(), O.data(), L.data(), x);
  if (c.Tq > 0) {  // Tq == 0: nothing to write
    check(std::string("out ") + dn(in) + "->" + dn(out_dt), ctx, out, O, kTc);
    check(std::string("lse ") + dn(in), ctx, lse, L, kTc);
  }

  Buf dq(grad_dt, nq), dk(grad_dt, nk), dv(grad_dt, nk);
  cuda::attention_backward_tc(0, s, in, q.ptr(), k.ptr(), v.ptr(), out.ptr(), out_dt, lse.as<float>(), dout.ptr(),
                              dout_dt, grad_dt, dq.ptr(), dk.ptr(), dv.ptr(), m);
  std::vector<float> DQ((size_t)nq), DK((size_t)nk), DV((size_t)nk);
  cpu::attention_backward_reference(s, Q.data(), K.data(), V.data(), O.data(), L.data(), G.data(), DQ.data(),
                                    DK.data(), DV.data(), x);
  const std::string gk = std::string(" ") + dn(in) + "->" + dn(grad_dt);
  check("dq" + gk, ctx, dq, DQ, kTc);
  check("dk" + gk, ctx, dk, DK, kTc);
  check("dv" + gk, ctx, dv, DV, kTc);
}

// float32 storage, cuda::attention_forward's tensor-core variant (attention.test.mjs's case), optionally with taps.
void f32_case(const Case& c, size_t mis, bool taps) {
  const cpu::AttnShape s = shape_of(c);
  const std::string ctx = shape_str(c) + " f32 storage" + (mis ? " misaligned" : "") + (taps ? " taps" : "");
  const int64_t nq = c.B * c.Tq * c.H * c.D, nk = c.B * c.Tk * c.Hkv * c.D, nl = c.B * c.H * c.Tq;
  Buf q(F, nq, mis), k(F, nk, mis), v(F, nk, mis);
  q.set(randn(nq));
  k.set(randn(nk));
  v.set(randn(nk));
  const std::vector<float> mask = make_mask(c);
  cpu::AttnExtras x;
  x.key_mask = mask.empty() ? nullptr : mask.data();
  std::vector<int32_t> heads, rows;
  const int64_t R = 5;
  if (taps) {
    for (int64_t i = 0; i < std::min<int64_t>(2, c.H); ++i) heads.push_back((int32_t)((i * 3) % c.H));
    for (int64_t i = 0; i < c.B * R; ++i) rows.push_back((int32_t)(uniform() * (double)c.Tq));
    x.tap_heads = heads.data();
    x.n_tap_heads = (int64_t)heads.size();
    x.tap_rows = rows.data();
    x.n_rows = R;
  }
  const int64_t ntap = c.B * x.n_tap_heads * x.n_rows * c.Tk;
  Buf out(F, nq), lse(F, nl), tp(F, ntap);
  x.taps = taps ? tp.as<float>() : nullptr;
  cuda::attention_forward(0, s, q.as<float>(), k.as<float>(), v.as<float>(), out.as<float>(), lse.as<float>(), x, true);
  std::vector<float> O((size_t)nq), L((size_t)nl), T((size_t)ntap);
  const auto Q = q.widened(), K = k.widened(), V = v.widened();
  x.taps = taps ? T.data() : nullptr;
  cpu::attention_forward_reference(s, Q.data(), K.data(), V.data(), O.data(), L.data(), x);
  check("out f32 storage (bf16 operands)", ctx, out, O, kTc);
  check("lse f32 storage (bf16 operands)", ctx, lse, L, kTc);
  if (taps) check("taps f32 storage (float32 kernel)", ctx, tp, T, kF32);
}

// Distillation through cuda::attention_distill_forward_tc / backward_tc (bf16 / f16 q and k), against
// cpu::attention_distill_forward_reference / backward_reference on the widened inputs. heads: the distilled query
// heads (duplicates allowed); R rows per batch entry drawn at random (dup: the first rows repeated, out of order).
// Teacher rows are probabilities with about a fifth of the entries exactly 0 (the KL's pt > 0 test) and some
// subnormal (which the kernel skips: fast math would flush them in __logf). Forward factor
// 0.25 into a device float; backward gy = 1.5, factor 0.25.
void distill_case(const Case& c, DType in, DType grad_dt, const std::vector<int32_t>& heads, int64_t R, bool dup,
                  size_t mis, size_t scratch = size_t(256) << 20, bool self_teacher = false) {
  const cpu::AttnShape s = shape_of(c);
  const int64_t nh = (int64_t)heads.size();
  char hb[96];
  snprintf(hb, sizeof hb, " heads %lld R %lld%s", (long long)nh, (long long)R, dup ? " (duplicate rows)" : "");
  const std::string ctx = shape_str(c) + hb + " in " + dn(in) + " grads " + dn(grad_dt) + (mis ? " misaligned" : "") +
                          (scratch < 4096 ? " (one batch entry at a time)" : "");
  const int64_t nq = c.B * c.Tq * c.H * c.D, nk = c.B * c.Tk * c.Hkv * c.D, nt = c.B * nh * R * c.Tk;
  Buf q(in, nq, mis), k(in, nk, mis);
  q.set(randn(nq));
  k.set(randn(nk));
  const std::vector<float> mask = make_mask(c);
  const float* m = mask.empty() ? nullptr : mask.data();
  std::vector<int32_t> rows((size_t)(c.B * R));
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t r = 0; r < R; ++r)
      rows[(size_t)(b * R + r)] = dup && r >= 3 && r % 3 == 0 ? rows[(size_t)(b * R + r / 3)]
                                                               : (int32_t)(uniform() * (double)c.Tq);
  std::vector<float> teacher((size_t)nt);
  for (int64_t row = 0; row < c.B * nh * R; ++row) {
    double sum = 0;
    for (int64_t j = 0; j < c.Tk; ++j) {
      const float v = uniform() < 0.2 ? 0.f : (float)uniform();
      teacher[(size_t)(row * c.Tk + j)] = v;
      sum += v;
    }
    for (int64_t j = 0; j < c.Tk; ++j) {
      float& v = teacher[(size_t)(row * c.Tk + j)];
      if (sum > 0) v = (float)(v / sum);
      if ((row * c.Tk + j) % 23 == 5) v = 1e-40f;  // subnormal (a float32 softmax's underflow): skipped, term < 1e-36
    }
  }
  const auto Q = q.widened(), K = k.widened();
  if (self_teacher) {  // the student's own probabilities (double, rounded to float): KL ~ 0, the kernel's cancellation
    std::fill(teacher.begin(), teacher.end(), 0.f);
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t i = 0; i < nh; ++i)
        for (int64_t r = 0; r < R; ++r) {
          const int64_t t = rows[(size_t)(b * R + r)], h = heads[(size_t)i], kh = h / (c.H / c.Hkv);
          const int64_t vis = c.causal ? std::max<int64_t>(0, std::min<int64_t>(c.Tk, t + c.Tk - c.Tq + 1)) : c.Tk;
          std::vector<double> sc((size_t)c.Tk, -INFINITY);
          double mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j < vis; ++j) {
            if (m && m[b * c.Tk + j] == 0.f) continue;
            double acc = 0;
            for (int64_t d = 0; d < c.D; ++d)
              acc += (double)Q[(size_t)(((b * c.Tq + t) * c.H + h) * c.D + d)] * K[(size_t)(((b * c.Tk + j) * c.Hkv + kh) * c.D + d)];
            sc[(size_t)j] = acc * s.scale;
            mx = std::max(mx, sc[(size_t)j]);
          }
          for (int64_t j = 0; j < c.Tk; ++j) sum += sc[(size_t)j] == -INFINITY ? 0 : std::exp(sc[(size_t)j] - mx);
          float* row = teacher.data() + ((b * nh + i) * R + r) * c.Tk;
          for (int64_t j = 0; j < c.Tk; ++j) row[j] = sc[(size_t)j] == -INFINITY ? 0.f : (float)(std::exp(sc[(size_t)j] - mx) / sum);
        }
  }

  const double factor = 0.25;
  Buf loss(F, 1);
  cuda::attention_distill_forward_tc(0, s, in, q.ptr(), k.ptr(), m, heads.data(), nh, rows.data(), R, teacher.data(),
                                     factor, loss.as<float>());
  const double total = cpu::attention_distill_forward_reference(s, Q.data(), K.data(), m, heads.data(), nh,
                                                                rows.data(), R, teacher.data());
  check(std::string("distill loss ") + dn(in) + (self_teacher ? " (self-teacher)" : ""), ctx, loss,
        {(float)(total * factor)}, kDistLoss);

  const float gy = 1.5f;
  Buf dq(grad_dt, nq), dk(grad_dt, nk);
  cuda::attention_distill_backward_tc(0, s, in, q.ptr(), k.ptr(), m, heads.data(), nh, rows.data(), R,
                                      teacher.data(), &gy, (float)factor, grad_dt, dq.ptr(), dk.ptr(), scratch);
  std::vector<float> DQ((size_t)nq), DK((size_t)nk);
  cpu::attention_distill_backward_reference(s, Q.data(), K.data(), m, heads.data(), nh, rows.data(), R,
                                            teacher.data(), gy * (float)factor, DQ.data(), DK.data());
  const std::string gk = std::string(" ") + dn(in) + "->" + dn(grad_dt);
  if (self_teacher) {  // gradients ~ 0 on both sides: the unscaled measure (their rounding noise is far below it)
    check("distill dq (self-teacher)" + gk, ctx + " self-teacher", dq, DQ, kDistGrad);
    check("distill dk (self-teacher)" + gk, ctx + " self-teacher", dk, DK, kDistGrad);
  } else {
    check_scaled("distill dq" + gk, ctx, dq, DQ, kDistGrad);
    check_scaled("distill dk" + gk, ctx, dk, DK, kDistGrad);
  }
}

}  // namespace

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, int> ran;
  emu::on_launch = [&](const char* k) { ran[k]++; };

  // Tile paths: forward 128 query rows per block, 64-key tiles; dQ 64 rows, 64-key tiles (32 at D = 128); dK / dV 128
  // keys per block (64 at D = 128) over 64-row query tiles (32 at D = 128).
  const Case cases[] = {
      {1, 1, 1, 2, 1, 16, true, 0},       // a single row and key
      {2, 130, 130, 4, 2, 64, true, 1},   // 2 forward query tiles, 3 key tiles, 2 dK / dV blocks; GQA 2
      {1, 65, 70, 2, 2, 32, false, 1},    // not causal, Tq != Tk
      {2, 17, 57, 4, 1, 128, true, 0},    // KV-cache offset 40, D 128, GQA 4
      {1, 129, 129, 2, 1, 128, false, 0}, // D 128: 2 forward tiles, dQ 32-key tiles, dK / dV 64-key blocks
      {1, 40, 30, 2, 2, 16, true, 1},     // Tq > Tk: the first 10 rows see no key
      {2, 20, 20, 2, 1, 32, true, 2},     // batch entry 1 fully masked
      {1, 0, 9, 2, 1, 64, true, 0},       // Tq 0: dK = dV = 0
      {1, 5, 0, 2, 2, 32, false, 0},      // Tk 0: out 0, lse +inf, dQ 0
  };
  for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ++ci)
    for (int di = 0; di < 2; ++di) {
      // out / dout / gradient dtypes: the input dtype or float32 (what the binding accepts), mixed over the cases
      const DType in = di ? H16 : B16;
      const DType out_dt = (ci + di) % 2 ? F : in, dout_dt = (ci / 2 + di) % 2 ? F : in,
                  grad_dt = (ci / 3 + di) % 2 ? in : F;
      half_case(cases[ci], in, out_dt, dout_dt, grad_dt, 0);
    }
  for (DType in : {B16, H16}) {  // storage not 16-byte aligned: converted through registers instead of cp.async
    half_case(cases[2], in, in, in, in, 2);
    half_case(cases[3], in, F, F, F, 2);
  }
  f32_case(cases[1], 0, false);
  f32_case(cases[3], 0, true);
  f32_case(cases[4], 0, false);
  f32_case(cases[2], 4, false);  // not 16-byte aligned: scalar loads
  f32_case(cases[5], 0, true);

  // Distillation: every head dim, both dtypes, GQA (a kv head no distilled head uses: dK 0), duplicate heads and rows,
  // R not a multiple of 16 and above the 64 rows of a block, causal offsets both ways (Tq > Tk: rows that see no key),
  // masks with a fully masked batch entry, misaligned storage (the gather's register path), R = 0, B = 0, Tk = 0.
  const Case dcases[] = {
      {2, 70, 70, 4, 2, 64, true, 1},    // 0: 2 key tiles, GQA 2
      {1, 17, 57, 4, 1, 128, true, 0},   // 1: KV-cache offset 40, GQA 4
      {1, 40, 30, 2, 2, 16, true, 1},    // 2: Tq > Tk
      {2, 20, 20, 2, 1, 32, true, 2},    // 3: batch entry 1 fully masked
      {1, 65, 150, 2, 2, 32, false, 1},  // 4: not causal, 3 key tiles (pass 2 refills the buffer pass 1 ended on)
      {0, 8, 8, 2, 1, 16, true, 0},      // 5: B = 0
      {1, 5, 0, 2, 2, 32, false, 0},     // 6: Tk = 0
  };
  distill_case(dcases[0], B16, B16, {3, 0, 3}, 21, true, 0);
  distill_case(dcases[1], H16, F, {1, 2}, 5, false, 0);
  distill_case(dcases[2], B16, F, {1}, 13, false, 0);
  distill_case(dcases[3], H16, H16, {0, 1}, 7, true, 0);
  distill_case(dcases[0], B16, F, {1, 0, 1}, 9, true, 0, 1);  // scratch for one batch entry: two groups
  distill_case(dcases[0], B16, B16, {2, 1}, 19, false, 0, size_t(256) << 20, true);  // teacher = student: KL ~ 0
  distill_case(dcases[4], H16, F, {1}, 30, false, 0, size_t(256) << 20, true);
  distill_case(dcases[4], B16, B16, {0}, 70, true, 0);
  distill_case(dcases[1], B16, B16, {3}, 5, false, 2);
  distill_case(dcases[2], H16, F, {0, 1}, 13, true, 2);
  distill_case(dcases[0], H16, F, {2, 1}, 19, true, 2);
  distill_case(dcases[0], H16, F, {1}, 0, false, 0);  // R = 0: loss 0, dq = dk = 0
  distill_case(dcases[5], B16, F, {0}, 3, false, 0);
  distill_case(dcases[6], H16, H16, {1, 0}, 4, false, 0);

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("kernels run (instantiation: launches):\n");
  for (const auto& [k, v] : ran) printf("  %s: %d\n", k.c_str(), v);
  printf("checks (worst |got - cpu| / (1 + |cpu|) over all cases, and as a fraction of the bound):\n");
  for (const auto& [k, w] : g_worst)
    printf("  %-40s %8lld values  worst %.2e of %.0e (%.3f)%s%s\n", k.c_str(), (long long)w.checked, w.err, w.tol,
           w.err / w.tol, w.at.empty() ? "" : "  at ", w.at.c_str());
  printf("emulated: %llu launches, %llu blocks, %llu threads, %llu __syncthreads, %llu warp syncs, %llu fiber switches; %.1f s with the cpu references\n",
         (unsigned long long)emu::launches, (unsigned long long)emu::stats.blocks,
         (unsigned long long)emu::stats.threads, (unsigned long long)emu::stats.block_syncs,
         (unsigned long long)emu::stats.warp_syncs, (unsigned long long)emu::stats.switches, secs);
  printf("%s (%d failures)\n", g_failures ? "FAILED" : "all within bounds", g_failures);
  return g_failures ? 1 : 0;
}
