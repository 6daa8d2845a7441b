// CPU reductions and softmax; every reduction order is fixed so results are bit-reproducible.
#include "cpu/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

#include "common/threadpool.h"

namespace seekr {
namespace cpu {

void reduce_sum(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner, float scale) {
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, mid)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const float* p = x + o * mid;
        double acc = 0;
        for (int64_t m = 0; m < mid; ++m) acc += p[m];
        out[o] = (float)(acc * scale);
      }
    });
    return;
  }
  parallel_for(outer * inner, 256, [&](int64_t b, int64_t e) {
    std::vector<double> acc;
    for (int64_t r = b; r < e;) {
      int64_t o = r / inner, i0 = r % inner;
      int64_t i1 = std::min(inner, i0 + (e - r));
      acc.assign((size_t)(i1 - i0), 0.0);
      for (int64_t m = 0; m < mid; ++m) {
        const float* p = x + (o * mid + m) * inner;
        for (int64_t i = i0; i < i1; ++i) acc[(size_t)(i - i0)] += p[i];
      }
      for (int64_t i = i0; i < i1; ++i) out[o * inner + i] = (float)(acc[(size_t)(i - i0)] * scale);
      r += i1 - i0;
    }
  });
}

void reduce_max(const float* x, float* vals, int32_t* idx, int64_t outer, int64_t mid, int64_t inner) {
  parallel_for(outer * inner, 256, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t o = r / inner, i = r % inner;
      const float* p = x + o * mid * inner + i;
      float best = -std::numeric_limits<float>::infinity();
      int32_t bi = 0;
      bool nan = false;
      for (int64_t m = 0; m < mid; ++m) {
        float v = p[m * inner];
        if (v != v) { best = v; bi = (int32_t)m; nan = true; break; }
        if (v > best || m == 0) { best = v; bi = (int32_t)m; }
      }
      (void)nan;
      vals[r] = best;
      idx[r] = bi;
    }
  });
}

void max_backward(const float* gy, const int32_t* idx, float* gx, int64_t outer, int64_t mid, int64_t inner) {
  parallel_for(outer * inner, 1024, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t o = r / inner, i = r % inner;
      float* p = gx + o * mid * inner + i;
      for (int64_t m = 0; m < mid; ++m) p[m * inner] = 0.f;
      p[(int64_t)idx[r] * inner] = gy[r];
    }
  });
}

void softmax(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* px = x + r * cols;
      float* py = y + r * cols;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, px[c]);
      if (mx == -std::numeric_limits<float>::infinity()) mx = 0.f;  // fully masked row
      double sum = 0.0;  // double: long rows (a vocabulary) would lose digits in float
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(px[c] - mx);
      if (log) {
        float lse = mx + (float)std::log(sum);
        for (int64_t c = 0; c < cols; ++c) py[c] = px[c] - lse;
      } else {
        float inv = (float)(1.0 / sum);
        for (int64_t c = 0; c < cols; ++c) py[c] = std::exp(px[c] - mx) * inv;
      }
    }
  });
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols, bool log) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* py = y + r * cols;
      const float* pg = gy + r * cols;
      float* po = gx + r * cols;
      double acc = 0.0;  // double, as in the forward
      if (log) {
        for (int64_t c = 0; c < cols; ++c) acc += pg[c];
        const float dot = (float)acc;
        for (int64_t c = 0; c < cols; ++c) po[c] = pg[c] - std::exp(py[c]) * dot;
      } else {
        for (int64_t c = 0; c < cols; ++c) acc += (double)pg[c] * py[c];
        const float dot = (float)acc;
        for (int64_t c = 0; c < cols; ++c) po[c] = py[c] * (pg[c] - dot);
      }
    }
  });
}

double sum_squares(const float* x, int64_t n) {
  const int64_t chunk = 1 << 15;
  int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> part((size_t)std::max<int64_t>(1, chunks), 0.0);
  parallel_chunks(chunks, [&](int64_t c) {
    int64_t b = c * chunk, e = std::min(n, b + chunk);
    double acc = 0;
    for (int64_t i = b; i < e; ++i) acc += (double)x[i] * (double)x[i];
    part[(size_t)c] = acc;
  });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

}  // namespace cpu
}  // namespace seekr
