// CPU fused attention. Per (batch, head) the head's Q, K, V rows are gathered into contiguous panels and
// processed in blocks of query rows: scores for one row block against the visible keys (memory O(block x Tk),
// never the full map of every head), softmax with the log-sum-exp kept per row, then P V. Taps copy the
// probability rows that were asked for. Backward recomputes P from the log-sum-exp; each task owns one
// (batch, kv head), so dK/dV and the sensitivity sums need no atomics. Products use Seekr's packed GEMM,
// single-threaded inside a task; tasks run in parallel. The *_reference functions are the plain versions.
#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/threadpool.h"
#include "cpu/gemm.h"

namespace seekr {
namespace cpu {

namespace {
constexpr int64_t QBLOCK = 64;
constexpr float kInf = std::numeric_limits<float>::infinity();

// Keys visible to query row t: [0, visible_end(t)).
inline int64_t visible_end(const AttnShape& s, int64_t t) {
  if (!s.causal) return s.Tk;
  return std::max<int64_t>(0, std::min<int64_t>(s.Tk, t + (s.Tk - s.Tq) + 1));
}
inline bool key_on(const float* mask, int64_t b, int64_t Tk, int64_t j) { return !mask || mask[b * Tk + j] != 0.f; }

void gather_head(const float* src, int64_t b, int64_t h, int64_t T, int64_t heads, int64_t D, float scale, float* dst) {
  for (int64_t t = 0; t < T; ++t) {
    const float* p = src + ((b * T + t) * heads + h) * D;
    float* d = dst + t * D;
    if (scale == 1.f) std::memcpy(d, p, sizeof(float) * (size_t)D);
    else for (int64_t i = 0; i < D; ++i) d[i] = p[i] * scale;
  }
}
void scatter_head(const float* src, int64_t b, int64_t h, int64_t T, int64_t heads, int64_t D, float* dst) {
  for (int64_t t = 0; t < T; ++t) std::memcpy(dst + ((b * T + t) * heads + h) * D, src + t * D, sizeof(float) * (size_t)D);
}
bool is_tapped(const AttnExtras& x, int64_t h) {
  for (int64_t i = 0; i < x.n_tap_heads; ++i)
    if (x.tap_heads[i] == h) return true;
  return false;
}
// Copies probability row `row` (length n, zero beyond) of query t of head h into every tap slot that asks for it
// (a head or a row may be requested more than once).
void write_taps(const AttnShape& s, const AttnExtras& x, int64_t b, int64_t h, int64_t t, const float* row, int64_t n) {
  for (int64_t i = 0; i < x.n_tap_heads; ++i) {
    if (x.tap_heads[i] != h) continue;
    for (int64_t r = 0; r < x.n_rows; ++r) {
      if (x.tap_rows[b * x.n_rows + r] != t) continue;
      float* dst = x.taps + ((b * x.n_tap_heads + i) * x.n_rows + r) * s.Tk;
      std::memcpy(dst, row, sizeof(float) * (size_t)n);
      std::fill(dst + n, dst + s.Tk, 0.f);
    }
  }
}
}  // namespace

// ---- fast -------------------------------------------------------------------------------------------------------

void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse,
                       const AttnExtras& x) {
  const int64_t B = s.B, Tq = s.Tq, Tk = s.Tk, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  if (B == 0 || Tq == 0) return;
  parallel_chunks(B * H, [&](int64_t task) {
    const int64_t b = task / H, h = task % H, kh = h / group;
    const bool tapped = x.taps && is_tapped(x, h);
    std::vector<float> Q((size_t)(Tq * D)), K((size_t)(Tk * D)), V((size_t)(Tk * D)), O((size_t)(QBLOCK * D));
    std::vector<float> S((size_t)(QBLOCK * std::max<int64_t>(1, Tk)));
    gather_head(q, b, h, Tq, H, D, s.scale, Q.data());
    gather_head(k, b, kh, Tk, Hkv, D, 1.f, K.data());
    gather_head(v, b, kh, Tk, Hkv, D, 1.f, V.data());
    for (int64_t i0 = 0; i0 < Tq; i0 += QBLOCK) {
      const int64_t mb = std::min(QBLOCK, Tq - i0);
      const int64_t nk = visible_end(s, i0 + mb - 1);
      if (nk > 0) gemm_own(false, true, mb, nk, D, 1.f, Q.data() + i0 * D, K.data(), 0.f, S.data(), false);
      for (int64_t r = 0; r < mb; ++r) {
        float* row = S.data() + r * nk;
        const int64_t t = i0 + r, vis = visible_end(s, t);
        float mx = -kInf;
        for (int64_t j = 0; j < vis; ++j) {
          if (!key_on(x.key_mask, b, Tk, j)) row[j] = -kInf;
          mx = std::max(mx, row[j]);
        }
        if (mx == -kInf) {  // no visible key: output 0, lse +inf (so backward's probabilities are 0)
          std::fill(row, row + nk, 0.f);
          lse[(b * H + h) * Tq + t] = kInf;
        } else {
          float sum = 0.f;
          for (int64_t j = 0; j < vis; ++j) {
            const float p = std::exp(row[j] - mx);
            row[j] = p;
            sum += p;
          }
          const float inv = 1.f / sum;
          for (int64_t j = 0; j < vis; ++j) row[j] *= inv;
          for (int64_t j = vis; j < nk; ++j) row[j] = 0.f;
          lse[(b * H + h) * Tq + t] = mx + std::log(sum);
        }
        if (tapped) write_taps(s, x, b, h, t, row, nk);
      }
      if (nk > 0) gemm_own(false, false, mb, D, nk, 1.f, S.data(), V.data(), 0.f, O.data(), false);
      else std::fill(O.begin(), O.end(), 0.f);
      for (int64_t r = 0; r < mb; ++r)
        std::memcpy(out + ((b * Tq + i0 + r) * H + h) * D, O.data() + r * D, sizeof(float) * (size_t)D);
    }
  });
}

void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv, const AttnExtras& x) {
  const int64_t B = s.B, Tq = s.Tq, Tk = s.Tk, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  if (B == 0) return;
  if (Tq == 0 || Tk == 0) {  // nothing flows: every gradient is zero
    std::fill(dq, dq + B * Tq * H * D, 0.f);
    std::fill(dk, dk + B * Tk * Hkv * D, 0.f);
    std::fill(dv, dv + B * Tk * Hkv * D, 0.f);
    return;
  }
  const bool dense_sens = x.sens && x.sens_all;
  parallel_chunks(B * Hkv, [&](int64_t task) {
    const int64_t b = task / Hkv, kh = task % Hkv;
    std::vector<float> K((size_t)(Tk * D)), V((size_t)(Tk * D)), dK((size_t)(Tk * D), 0.f), dV((size_t)(Tk * D), 0.f);
    std::vector<float> Q((size_t)(Tq * D)), dO((size_t)(Tq * D)), dQ((size_t)(Tq * D));
    const size_t blk = (size_t)(QBLOCK * std::max<int64_t>(1, Tk));
    std::vector<float> P(blk), dP(blk), Di((size_t)std::max<int64_t>(1, Tq));
    gather_head(k, b, kh, Tk, Hkv, D, 1.f, K.data());
    gather_head(v, b, kh, Tk, Hkv, D, 1.f, V.data());
    for (int64_t h = kh * group; h < (kh + 1) * group; ++h) {
      gather_head(q, b, h, Tq, H, D, 1.f, Q.data());
      gather_head(dout, b, h, Tq, H, D, 1.f, dO.data());
      for (int64_t t = 0; t < Tq; ++t) {
        const float* o = out + ((b * Tq + t) * H + h) * D;
        const float* g = dO.data() + t * D;
        float acc = 0.f;
        for (int64_t i = 0; i < D; ++i) acc += o[i] * g[i];
        Di[(size_t)t] = acc;
      }
      std::fill(dQ.begin(), dQ.end(), 0.f);
      double sens = 0.0;
      for (int64_t i0 = 0; i0 < Tq; i0 += QBLOCK) {
        const int64_t mb = std::min(QBLOCK, Tq - i0);
        // The dense sensitivity needs dL/dP at every key, visible or not.
        const int64_t nk = dense_sens ? Tk : visible_end(s, i0 + mb - 1);
        if (nk == 0) continue;
        gemm_own(false, true, mb, nk, D, s.scale, Q.data() + i0 * D, K.data(), 0.f, P.data(), false);
        for (int64_t r = 0; r < mb; ++r) {
          float* row = P.data() + r * nk;
          const int64_t vis = visible_end(s, i0 + r);
          const float l = lse[(b * H + h) * Tq + i0 + r];
          for (int64_t j = 0; j < vis; ++j) row[j] = key_on(x.key_mask, b, Tk, j) ? std::exp(row[j] - l) : 0.f;
          for (int64_t j = vis; j < nk; ++j) row[j] = 0.f;
        }
        gemm_own(true, false, nk, D, mb, 1.f, P.data(), dO.data() + i0 * D, 1.f, dV.data(), false);  // dV += P^T dO
        gemm_own(false, true, mb, nk, D, 1.f, dO.data() + i0 * D, V.data(), 0.f, dP.data(), false);  // dP = dO V^T
        for (int64_t r = 0; r < mb; ++r) {
          float* dp = dP.data() + r * nk;
          const float* p = P.data() + r * nk;
          if (x.sens) {
            if (dense_sens) {
              for (int64_t j = 0; j < nk; ++j) sens += (double)dp[j] * dp[j];
            } else {
              const int64_t vis = visible_end(s, i0 + r);
              for (int64_t j = 0; j < vis; ++j)
                if (key_on(x.key_mask, b, Tk, j)) sens += (double)dp[j] * dp[j];
            }
          }
          const float di = Di[(size_t)(i0 + r)];
          for (int64_t j = 0; j < nk; ++j) dp[j] = p[j] * (dp[j] - di) * s.scale;  // dS
        }
        gemm_own(false, false, mb, D, nk, 1.f, dP.data(), K.data(), 0.f, dQ.data() + i0 * D, false);  // dQ = dS K
        gemm_own(true, false, nk, D, mb, 1.f, dP.data(), Q.data() + i0 * D, 1.f, dK.data(), false);   // dK += dS^T Q
      }
      if (x.sens) x.sens[b * H + h] += (float)sens;
      scatter_head(dQ.data(), b, h, Tq, H, D, dq);
    }
    scatter_head(dK.data(), b, kh, Tk, Hkv, D, dk);
    scatter_head(dV.data(), b, kh, Tk, Hkv, D, dv);
  });
}

// ---- plain references -------------------------------------------------------------------------------------------

void attention_forward_reference(const AttnShape& s, const float* q, const float* k, const float* v, float* out,
                                 float* lse, const AttnExtras& x) {
  const int64_t Tq = s.Tq, Tk = s.Tk, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  if (s.B == 0 || Tq == 0) return;
  std::vector<double> sc((size_t)std::max<int64_t>(1, Tk));
  std::vector<float> p((size_t)std::max<int64_t>(1, Tk));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < Tq; ++t) {
        const float* qr = q + ((b * Tq + t) * H + h) * D;
        const int64_t vis = visible_end(s, t);
        double mx = -INFINITY;
        for (int64_t j = 0; j < Tk; ++j) {
          sc[(size_t)j] = -INFINITY;
          if (j >= vis || !key_on(x.key_mask, b, Tk, j)) continue;
          const float* kr = k + ((b * Tk + j) * Hkv + h / group) * D;
          double acc = 0;
          for (int64_t i = 0; i < D; ++i) acc += (double)qr[i] * kr[i];
          sc[(size_t)j] = acc * s.scale;
          mx = std::max(mx, sc[(size_t)j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < Tk; ++j) sum += mx == -INFINITY ? 0.0 : std::exp(sc[(size_t)j] - mx);
        for (int64_t j = 0; j < Tk; ++j) p[(size_t)j] = sum == 0 ? 0.f : (float)(std::exp(sc[(size_t)j] - mx) / sum);
        lse[(b * H + h) * Tq + t] = sum == 0 ? kInf : (float)(mx + std::log(sum));
        float* o = out + ((b * Tq + t) * H + h) * D;
        for (int64_t i = 0; i < D; ++i) {
          double acc = 0;
          for (int64_t j = 0; j < Tk; ++j) acc += (double)p[(size_t)j] * v[((b * Tk + j) * Hkv + h / group) * D + i];
          o[i] = (float)acc;
        }
        if (x.taps && is_tapped(x, h)) write_taps(s, x, b, h, t, p.data(), Tk);
      }
}

void attention_backward_reference(const AttnShape& s, const float* q, const float* k, const float* v,
                                  const float* out, const float* lse, const float* dout, float* dq, float* dk,
                                  float* dv, const AttnExtras& x) {
  const int64_t B = s.B, Tq = s.Tq, Tk = s.Tk, H = s.H, Hkv = s.Hkv, D = s.D, group = H / Hkv;
  std::fill(dq, dq + B * Tq * H * D, 0.f);
  std::fill(dk, dk + B * Tk * Hkv * D, 0.f);
  std::fill(dv, dv + B * Tk * Hkv * D, 0.f);
  if (Tq == 0 || Tk == 0) return;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      double sens = 0;
      for (int64_t t = 0; t < Tq; ++t) {
        const int64_t qi = ((b * Tq + t) * H + h) * D;
        const int64_t vis = visible_end(s, t);
        double di = 0;
        for (int64_t i = 0; i < D; ++i) di += (double)dout[qi + i] * out[qi + i];
        for (int64_t j = 0; j < Tk; ++j) {
          const int64_t ki = ((b * Tk + j) * Hkv + h / group) * D;
          double dp = 0;
          for (int64_t i = 0; i < D; ++i) dp += (double)dout[qi + i] * v[ki + i];
          const bool on = j < vis && key_on(x.key_mask, b, Tk, j);
          if (x.sens && (x.sens_all || on)) sens += dp * dp;
          if (!on) continue;
          double sc = 0;
          for (int64_t i = 0; i < D; ++i) sc += (double)q[qi + i] * k[ki + i];
          const double p = std::exp(sc * s.scale - (double)lse[(b * H + h) * Tq + t]);
          const double ds = p * (dp - di) * s.scale;
          for (int64_t i = 0; i < D; ++i) {
            dv[ki + i] += (float)(p * dout[qi + i]);
            dq[qi + i] += (float)(ds * k[ki + i]);
            dk[ki + i] += (float)(ds * q[qi + i]);
          }
        }
      }
      if (x.sens) x.sens[b * H + h] += (float)sens;
    }
}

// ---- attention distillation ---------------------------------------------------------------------------------

namespace {
// Student log-probabilities of row (b, h, t) over the visible unmasked keys, in double; returns false if none.
bool student_row(const AttnShape& s, const float* q, const float* k, const float* mask, int64_t b, int64_t h, int64_t t,
                 std::vector<double>& logp) {
  const int64_t group = s.H / s.Hkv, D = s.D, Tk = s.Tk;
  const float* qr = q + ((b * s.Tq + t) * s.H + h) * D;
  const int64_t vis = visible_end(s, t);
  double mx = -INFINITY;
  for (int64_t j = 0; j < Tk; ++j) {
    logp[(size_t)j] = -INFINITY;
    if (j >= vis || !key_on(mask, b, Tk, j)) continue;
    const float* kr = k + ((b * Tk + j) * s.Hkv + h / group) * D;
    double acc = 0;
    for (int64_t i = 0; i < D; ++i) acc += (double)qr[i] * kr[i];
    logp[(size_t)j] = acc * s.scale;
    mx = std::max(mx, logp[(size_t)j]);
  }
  if (mx == -INFINITY) return false;
  double sum = 0;
  for (int64_t j = 0; j < Tk; ++j)
    if (logp[(size_t)j] != -INFINITY) sum += std::exp(logp[(size_t)j] - mx);
  const double l = mx + std::log(sum);
  for (int64_t j = 0; j < Tk; ++j)
    if (logp[(size_t)j] != -INFINITY) logp[(size_t)j] -= l;
  return true;
}
}  // namespace

double attention_distill_forward_reference(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                 const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                 const float* teacher) {
  const int64_t tasks = s.B * n_heads;
  std::vector<double> part((size_t)std::max<int64_t>(1, tasks), 0.0);
  parallel_chunks(tasks, [&](int64_t task) {
    const int64_t b = task / n_heads, hi = task % n_heads, h = heads[hi];
    std::vector<double> logp((size_t)std::max<int64_t>(1, s.Tk));
    double acc = 0;
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t t = rows[b * n_rows + r];
      const float* pt = teacher + ((b * n_heads + hi) * n_rows + r) * s.Tk;
      if (!student_row(s, q, k, key_mask, b, h, t, logp)) continue;
      for (int64_t j = 0; j < s.Tk; ++j)
        if (pt[j] > 0.f && logp[(size_t)j] != -INFINITY) acc += (double)pt[j] * (std::log((double)pt[j]) - logp[(size_t)j]);
    }
    part[(size_t)task] = acc;
  });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

void attention_distill_backward_reference(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                const float* teacher, float grad_scale, float* dq, float* dk) {
  const int64_t group = s.H / s.Hkv, D = s.D, Tk = s.Tk, Tq = s.Tq;
  std::fill(dq, dq + s.B * Tq * s.H * D, 0.f);
  std::fill(dk, dk + s.B * Tk * s.Hkv * D, 0.f);
  // One task per (batch, kv head): it owns dK of that head and dQ of the query heads it serves.
  parallel_chunks(s.B * s.Hkv, [&](int64_t task) {
    const int64_t b = task / s.Hkv, kh = task % s.Hkv;
    std::vector<double> logp((size_t)std::max<int64_t>(1, Tk));
    for (int64_t hi = 0; hi < n_heads; ++hi) {
      const int64_t h = heads[hi];
      if (h / group != kh) continue;
      for (int64_t r = 0; r < n_rows; ++r) {
        const int64_t t = rows[b * n_rows + r];
        const float* pt = teacher + ((b * n_heads + hi) * n_rows + r) * Tk;
        if (!student_row(s, q, k, key_mask, b, h, t, logp)) continue;
        double mass = 0;  // teacher mass on keys the student can see
        for (int64_t j = 0; j < Tk; ++j)
          if (logp[(size_t)j] != -INFINITY) mass += pt[j];
        const float* qr = q + ((b * Tq + t) * s.H + h) * D;
        float* dqr = dq + ((b * Tq + t) * s.H + h) * D;
        for (int64_t j = 0; j < Tk; ++j) {
          if (logp[(size_t)j] == -INFINITY) continue;
          // d KL / d score_j = p_student_j * mass - p_teacher_j ; score = scale * q.k
          const float ds = (float)((std::exp(logp[(size_t)j]) * mass - (double)pt[j]) * grad_scale * s.scale);
          const float* kr = k + ((b * Tk + j) * s.Hkv + kh) * D;
          float* dkr = dk + ((b * Tk + j) * s.Hkv + kh) * D;
          for (int64_t i = 0; i < D; ++i) {
            dqr[i] += ds * kr[i];
            dkr[i] += ds * qr[i];
          }
        }
      }
    }
  });
}

// Fast distillation: per (batch, head) the selected query rows are gathered into an R x D panel and scored against
// the K panel with one GEMM; backward forms dS (R x Tk) and applies it with two GEMMs (dQ rows, dK).
namespace {
// Fills S [R x Tk] with the student's probabilities for rows rows[b, :] of head h and returns, per row, the teacher
// mass on visible keys in `mass` (or -1 when the row has no visible key). Adds the KL of the rows to *kl if given.
void distill_rows(const AttnShape& s, const float* q, const float* Kp, const float* key_mask, int64_t b, int64_t h,
                  const int32_t* rows, int64_t n_rows, const float* pt_base, float* Qs, float* S, float* mass, double* kl) {
  const int64_t D = s.D, Tk = s.Tk;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* src = q + ((b * s.Tq + rows[b * n_rows + r]) * s.H + h) * D;
    for (int64_t i = 0; i < D; ++i) Qs[r * D + i] = src[i] * s.scale;
  }
  gemm_own(false, true, n_rows, Tk, D, 1.f, Qs, Kp, 0.f, S, false);
  for (int64_t r = 0; r < n_rows; ++r) {
    float* row = S + r * Tk;
    const float* pt = pt_base + r * Tk;
    const int64_t vis = visible_end(s, rows[b * n_rows + r]);
    float mx = -kInf;
    for (int64_t j = 0; j < vis; ++j) {
      if (!key_on(key_mask, b, Tk, j)) row[j] = -kInf;
      mx = std::max(mx, row[j]);
    }
    if (mx == -kInf) {
      std::fill(row, row + Tk, 0.f);
      mass[r] = -1.f;
      continue;
    }
    float sum = 0.f;
    for (int64_t j = 0; j < vis; ++j) sum += std::exp(row[j] - mx);
    const float lse = mx + std::log(sum);
    double m = 0, acc = 0;
    for (int64_t j = 0; j < vis; ++j) {
      if (row[j] == -kInf) { row[j] = 0.f; continue; }
      const float logp = row[j] - lse;
      m += pt[j];
      if (kl && pt[j] > 0.f) acc += (double)pt[j] * ((double)std::log(pt[j]) - (double)logp);
      row[j] = std::exp(logp);
    }
    for (int64_t j = vis; j < Tk; ++j) row[j] = 0.f;
    mass[r] = (float)m;
    if (kl) *kl += acc;
  }
}
}  // namespace

double attention_distill_forward(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                 const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                 const float* teacher) {
  const int64_t tasks = s.B * n_heads, D = s.D, Tk = s.Tk, group = s.H / s.Hkv;
  std::vector<double> part((size_t)std::max<int64_t>(1, tasks), 0.0);
  if (n_rows == 0 || Tk == 0) return 0.0;
  parallel_chunks(tasks, [&](int64_t task) {
    const int64_t b = task / n_heads, hi = task % n_heads, h = heads[hi];
    std::vector<float> Kp((size_t)(Tk * D)), Qs((size_t)(n_rows * D)), S((size_t)(n_rows * Tk)), mass((size_t)n_rows);
    gather_head(k, b, h / group, Tk, s.Hkv, D, 1.f, Kp.data());
    double kl = 0;
    distill_rows(s, q, Kp.data(), key_mask, b, h, rows, n_rows, teacher + (b * n_heads + hi) * n_rows * Tk, Qs.data(),
                 S.data(), mass.data(), &kl);
    part[(size_t)task] = kl;
  });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

void attention_distill_backward(const AttnShape& s, const float* q, const float* k, const float* key_mask,
                                const int32_t* heads, int64_t n_heads, const int32_t* rows, int64_t n_rows,
                                const float* teacher, float grad_scale, float* dq, float* dk) {
  const int64_t group = s.H / s.Hkv, D = s.D, Tk = s.Tk, Tq = s.Tq;
  std::fill(dq, dq + s.B * Tq * s.H * D, 0.f);
  std::fill(dk, dk + s.B * Tk * s.Hkv * D, 0.f);
  if (n_rows == 0 || Tk == 0) return;
  parallel_chunks(s.B * s.Hkv, [&](int64_t task) {
    const int64_t b = task / s.Hkv, kh = task % s.Hkv;
    bool any = false;
    for (int64_t hi = 0; hi < n_heads; ++hi) any = any || heads[hi] / group == kh;
    if (!any) return;
    std::vector<float> Kp((size_t)(Tk * D)), dK((size_t)(Tk * D), 0.f), Qs((size_t)(n_rows * D)), S((size_t)(n_rows * Tk));
    std::vector<float> mass((size_t)n_rows), dQs((size_t)(n_rows * D));
    gather_head(k, b, kh, Tk, s.Hkv, D, 1.f, Kp.data());
    for (int64_t hi = 0; hi < n_heads; ++hi) {
      const int64_t h = heads[hi];
      if (h / group != kh) continue;
      const float* pt_base = teacher + (b * n_heads + hi) * n_rows * Tk;
      distill_rows(s, q, Kp.data(), key_mask, b, h, rows, n_rows, pt_base, Qs.data(), S.data(), mass.data(), nullptr);
      // dS = (p * mass - pt) * grad_scale * scale  (0 at keys the student cannot see)
      for (int64_t r = 0; r < n_rows; ++r) {
        float* row = S.data() + r * Tk;
        const float* pt = pt_base + r * Tk;
        if (mass[(size_t)r] < 0.f) { std::fill(row, row + Tk, 0.f); continue; }
        const int64_t t = rows[b * n_rows + r], vis = visible_end(s, t);
        const float m = mass[(size_t)r], c = grad_scale * s.scale;
        for (int64_t j = 0; j < vis; ++j) row[j] = key_on(key_mask, b, Tk, j) ? (row[j] * m - pt[j]) * c : 0.f;
        for (int64_t j = vis; j < Tk; ++j) row[j] = 0.f;
      }
      gemm_own(false, false, n_rows, D, Tk, 1.f, S.data(), Kp.data(), 0.f, dQs.data(), false);  // dQ rows = dS K
      for (int64_t r = 0; r < n_rows; ++r) {
        float* dst = dq + ((b * Tq + rows[b * n_rows + r]) * s.H + h) * D;
        for (int64_t i = 0; i < D; ++i) dst[i] += dQs[(size_t)(r * D + i)];
        const float* src = q + ((b * Tq + rows[b * n_rows + r]) * s.H + h) * D;  // unscaled q rows for dK
        std::memcpy(Qs.data() + r * D, src, sizeof(float) * (size_t)D);
      }
      gemm_own(true, false, Tk, D, n_rows, 1.f, S.data(), Qs.data(), 1.f, dK.data(), false);  // dK += dS^T Q
    }
    scatter_head(dK.data(), b, kh, Tk, s.Hkv, D, dk);
  });
}

}  // namespace cpu
}  // namespace seekr
