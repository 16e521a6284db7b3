#include "models/attention/head_diversity.h"

#include <cmath>

#include "core/ops/ops.h"

namespace ff::models {

void HeadDiversity::add(const std::vector<Tensor>& maps) {
  if (maps.empty()) return;
  if (sum_.empty()) sum_.assign(maps.size(), 0.0);
  FF_CHECK(sum_.size() == maps.size(), "head diversity: {} layers, then {}", sum_.size(), maps.size());
  const int64_t B = maps[0].size(0);
  for (size_t l = 0; l < maps.size(); ++l) {
    const Tensor& m = maps[l];
    FF_CHECK(m.dim() == 4 && m.size(0) == B, "head diversity: maps must be (B, H, T, Nk), got {}", m.str());
    const int64_t H = m.size(1), n = m.size(2) * m.size(3);
    FF_CHECK(H >= 2, "head diversity needs at least 2 heads, got {}", H);
    const std::vector<double> v = m.to_vector<double>();  // (B, H, n) in row-major order
    for (int64_t b = 0; b < B; ++b) {
      double total = 0;
      for (int64_t h1 = 0; h1 < H; ++h1)
        for (int64_t h2 = h1 + 1; h2 < H; ++h2) {
          const double* a = v.data() + (b * H + h1) * n;
          const double* c = v.data() + (b * H + h2) * n;
          double sq = 0;
          for (int64_t i = 0; i < n; ++i) sq += (a[i] - c[i]) * (a[i] - c[i]);
          total += std::sqrt(sq);
        }
      sum_[l] += total / static_cast<double>(H * (H - 1) / 2);
    }
  }
  segments_ += B;
}

std::vector<double> HeadDiversity::per_layer() const {
  std::vector<double> out;
  for (double s : sum_) out.push_back(segments_ > 0 ? s / static_cast<double>(segments_) : 0.0);
  return out;
}

double HeadDiversity::mean() const {
  const std::vector<double> p = per_layer();
  double m = 0;
  for (double x : p) m += x;
  return p.empty() ? 0.0 : m / static_cast<double>(p.size());
}

double HeadDiversity::std() const {
  const std::vector<double> p = per_layer();
  if (p.empty()) return 0.0;
  const double m = mean();
  double s = 0;
  for (double x : p) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(p.size()));
}

}  // namespace ff::models
