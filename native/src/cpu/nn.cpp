// CPU fused kernels for cross-entropy, RMSNorm and RoPE.
#include "cpu/nn.h"

#include <cmath>
#include <limits>
#include <vector>

#include "common/half.h"
#include "common/threadpool.h"

namespace seekr {
namespace cpu {

int64_t cross_entropy(const float* logits, const int32_t* targets, float* loss, float* lse, int64_t rows, int64_t cols,
                      int32_t ignore) {
  std::vector<double> row_loss((size_t)rows, 0.0);
  parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* p = logits + r * cols;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, p[c]);
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += std::exp((double)(p[c] - mx));
      float l = mx + (float)std::log(s);
      lse[r] = l;
      row_loss[(size_t)r] = targets[r] == ignore ? 0.0 : (double)l - (double)p[targets[r]];
    }
  });
  int64_t count = 0;
  double total = 0;
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] != ignore) {
      ++count;
      total += row_loss[(size_t)r];
    }
  loss[0] = count > 0 ? (float)(total / (double)count) : std::numeric_limits<float>::quiet_NaN();
  return count;
}

void cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse, float scale, float* gx,
                            int64_t rows, int64_t cols, int32_t ignore) {
  parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* g = gx + r * cols;
      if (targets[r] == ignore) {
        for (int64_t c = 0; c < cols; ++c) g[c] = 0.f;
        continue;
      }
      const float* p = logits + r * cols;
      const float l = lse[r];
      for (int64_t c = 0; c < cols; ++c) g[c] = std::exp(p[c] - l) * scale;
      g[targets[r]] -= scale;
    }
  });
}

namespace {
// One row of RMSNorm: y = x * rs * w with rs = 1 / sqrt(mean(x^2) + eps).
inline float norm_row(const float* px, const float* w, float* py, int64_t cols, float eps) {
  float ss = 0.f;
  for (int64_t c = 0; c < cols; ++c) ss += px[c] * px[c];
  float rs = 1.f / std::sqrt(ss / (float)cols + eps);
  for (int64_t c = 0; c < cols; ++c) py[c] = px[c] * rs * w[c];
  return rs;
}
}  // namespace

void rms_norm(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t cols, float eps) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) rstd[r] = norm_row(x + r * cols, w, y + r * cols, cols, eps);
  });
}

void add_rms_norm(const float* x, const float* res, float* sum, DType sum_dtype, const float* w, float* y, float* rstd,
                  int64_t rows, int64_t cols, float eps) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* ps = sum + r * cols;
      const float* px = x + r * cols;
      const float* pr = res + r * cols;
      for (int64_t c = 0; c < cols; ++c) ps[c] = stored_as(px[c] + pr[c], sum_dtype);
      rstd[r] = norm_row(ps, w, y + r * cols, cols, eps);
    }
  });
}

void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* gy, float* gx, float* gw,
                       int64_t rows, int64_t cols, bool accumulate) {
  // gx: per row.  d/dx_i of x_i * r * w_i, r = (mean(x^2)+eps)^-1/2:
  // gx_i = r * w_i * gy_i - x_i * r^3 / cols * sum_j(gy_j * w_j * x_j)
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* px = x + r * cols;
      const float* pg = gy + r * cols;
      float* po = gx + r * cols;
      const float rs = rstd[r];
      float dot = 0.f;
      for (int64_t c = 0; c < cols; ++c) dot += pg[c] * w[c] * px[c];
      const float k = dot * rs * rs * rs / (float)cols;
      if (accumulate)
        for (int64_t c = 0; c < cols; ++c) po[c] += rs * w[c] * pg[c] - px[c] * k;
      else
        for (int64_t c = 0; c < cols; ++c) po[c] = rs * w[c] * pg[c] - px[c] * k;
    }
  });
  // gw_j = sum_r gy[r,j] * x[r,j] * rstd[r]; fixed row blocks, partials summed in order.
  const int64_t block = 64;
  int64_t nb = (rows + block - 1) / block;
  std::vector<float> part((size_t)(std::max<int64_t>(1, nb) * cols), 0.f);
  parallel_chunks(nb, [&](int64_t bi) {
    float* acc = part.data() + bi * cols;
    int64_t r1 = std::min(rows, (bi + 1) * block);
    for (int64_t r = bi * block; r < r1; ++r) {
      const float rs = rstd[r];
      const float* px = x + r * cols;
      const float* pg = gy + r * cols;
      for (int64_t c = 0; c < cols; ++c) acc[c] += pg[c] * px[c] * rs;
    }
  });
  for (int64_t c = 0; c < cols; ++c) gw[c] = 0.f;
  for (int64_t bi = 0; bi < nb; ++bi)
    for (int64_t c = 0; c < cols; ++c) gw[c] += part[(size_t)(bi * cols + c)];
}

void rope(const float* x, const int32_t* positions, float* out, int64_t rows, int64_t heads, int64_t dim, float theta,
          float sign, int64_t period, int64_t offset) {
  const int64_t half = dim / 2;
  std::vector<double> inv_freq((size_t)half);
  for (int64_t i = 0; i < half; ++i) inv_freq[(size_t)i] = 1.0 / std::pow((double)theta, (double)(2 * i) / (double)dim);
  parallel_for(rows, 4, [&](int64_t b, int64_t e) {
    std::vector<float> cs((size_t)half), sn((size_t)half);
    for (int64_t r = b; r < e; ++r) {
      const double pos = positions ? (double)positions[r] : (double)(int32_t)(offset + r % period);
      for (int64_t i = 0; i < half; ++i) {
        // Angles in float32 like PyTorch/transformers: pos * inv_freq rounded to float, then cos/sin.
        float ang = (float)pos * (float)inv_freq[(size_t)i];
        cs[(size_t)i] = std::cos(ang);
        sn[(size_t)i] = sign * std::sin(ang);
      }
      for (int64_t h = 0; h < heads; ++h) {
        const float* px = x + (r * heads + h) * dim;
        float* po = out + (r * heads + h) * dim;
        for (int64_t i = 0; i < half; ++i) {
          float a = px[i], bb = px[i + half];
          po[i] = a * cs[(size_t)i] - bb * sn[(size_t)i];
          po[i + half] = bb * cs[(size_t)i] + a * sn[(size_t)i];
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace seekr
