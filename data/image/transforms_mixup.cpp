// Compiled with -ffp-contract=off (data/CMakeLists.txt): mixing is two float32 products and a
// sum, as PyTorch's mul_ then add_, never one fused operation.

#include "data/image/transforms_mixup.h"

#include <algorithm>
#include <cmath>

#include "kernels/common.h"

namespace ff::data {

void cutmix_box(int64_t height, int64_t width, double lam, SampleRng& rng, MixParams& p) {
  const double ratio = std::sqrt(1.0 - lam);
  const auto cut_h = static_cast<int64_t>(static_cast<double>(height) * ratio);
  const auto cut_w = static_cast<int64_t>(static_cast<double>(width) * ratio);
  const int64_t cy = rng.below(height);
  const int64_t cx = rng.below(width);
  p.y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, height);
  p.y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, height);
  p.x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, width);
  p.x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, width);
}

void cutmix_box_minmax(int64_t height, int64_t width, std::array<double, 2> minmax, SampleRng& rng, MixParams& p) {
  const auto h_lo = static_cast<int64_t>(static_cast<double>(height) * minmax[0]);
  const auto h_hi = static_cast<int64_t>(static_cast<double>(height) * minmax[1]);
  const auto w_lo = static_cast<int64_t>(static_cast<double>(width) * minmax[0]);
  const auto w_hi = static_cast<int64_t>(static_cast<double>(width) * minmax[1]);
  FF_USER_CHECK(h_lo < h_hi && w_lo < w_hi,
                "mixup: cutmix_minmax [{}, {}] leaves no box size for a {}x{} image (side ranges [{}, {}) and [{}, {}))",
                minmax[0], minmax[1], height, width, h_lo, h_hi, w_lo, w_hi);
  const int64_t cut_h = rng.randint(h_lo, h_hi - 1);
  const int64_t cut_w = rng.randint(w_lo, w_hi - 1);
  p.y0 = rng.below(height - cut_h);
  p.x0 = rng.below(width - cut_w);
  p.y1 = p.y0 + cut_h;
  p.x1 = p.x0 + cut_w;
}

namespace {
void check_labels(const int64_t* labels, int64_t batch, int64_t classes) {
  for (int64_t i = 0; i < batch; ++i) {
    FF_USER_CHECK(labels[i] >= 0 && labels[i] < classes, "mixup: label {} of sample {} is outside [0, {})", labels[i],
                  i, classes);
  }
}
}  // namespace

double cutmix_corrected_lam(int64_t height, int64_t width, const MixParams& p) {
  const int64_t box_area = (p.y1 - p.y0) * (p.x1 - p.x0);
  return 1.0 - static_cast<double>(box_area) / static_cast<double>(height * width);
}

Mixup::Mixup(MixupConfig cfg, std::string_view field) : cfg_(cfg) {
  if (cfg_.cutmix_minmax) {
    const auto [lo, hi] = *cfg_.cutmix_minmax;
    FF_USER_CHECK(lo > 0 && lo < hi && hi <= 1, "{}: cutmix_minmax must satisfy 0 < min < max <= 1, got [{}, {}]",
                  field, lo, hi);
    cfg_.cutmix_alpha = 1.0;  // as timm: minmax forces cutmix on
  }
  FF_USER_CHECK(cfg_.mixup_alpha >= 0 && std::isfinite(cfg_.mixup_alpha), "{}: mixup_alpha must be >= 0, got {}",
                field, cfg_.mixup_alpha);
  FF_USER_CHECK(cfg_.cutmix_alpha >= 0 && std::isfinite(cfg_.cutmix_alpha), "{}: cutmix_alpha must be >= 0, got {}",
                field, cfg_.cutmix_alpha);
  FF_USER_CHECK(cfg_.mixup_alpha > 0 || cfg_.cutmix_alpha > 0,
                "{}: mixup_alpha or cutmix_alpha (or cutmix_minmax) must be > 0 for mixing to do anything", field);
  FF_USER_CHECK(cfg_.prob >= 0 && cfg_.prob <= 1, "{}: prob must be in [0, 1], got {}", field, cfg_.prob);
  FF_USER_CHECK(cfg_.switch_prob >= 0 && cfg_.switch_prob <= 1, "{}: switch_prob must be in [0, 1], got {}", field,
                cfg_.switch_prob);
  FF_USER_CHECK(cfg_.label_smoothing >= 0 && cfg_.label_smoothing < 1, "{}: label_smoothing must be in [0, 1), got {}",
                field, cfg_.label_smoothing);
  FF_USER_CHECK(cfg_.num_classes >= 2, "{}: num_classes must be >= 2, got {}", field, cfg_.num_classes);
}

MixParams Mixup::sample(int64_t height, int64_t width, SampleRng& rng) const {
  MixParams p;
  if (!(rng.uniform() < cfg_.prob)) return p;
  const bool both = cfg_.mixup_alpha > 0 && cfg_.cutmix_alpha > 0;
  p.cutmix = both ? rng.uniform() < cfg_.switch_prob : cfg_.cutmix_alpha > 0;
  const double alpha = p.cutmix ? cfg_.cutmix_alpha : cfg_.mixup_alpha;
  p.lam = beta_variate(rng, alpha, alpha);
  if (p.lam == 1.0 || !p.cutmix) return p;
  if (cfg_.cutmix_minmax) {
    cutmix_box_minmax(height, width, *cfg_.cutmix_minmax, rng, p);
  } else {
    cutmix_box(height, width, p.lam, rng, p);
  }
  if (cfg_.correct_lam || cfg_.cutmix_minmax) p.lam = cutmix_corrected_lam(height, width, p);
  return p;
}

void Mixup::targets(const int64_t* labels, int64_t batch, double lam, float* out) const {
  const int64_t K = cfg_.num_classes;
  const double off = cfg_.label_smoothing / static_cast<double>(K);
  const auto off_f = static_cast<float>(off);
  const auto on_f = static_cast<float>(1.0 - cfg_.label_smoothing + off);
  const auto lam_f = static_cast<float>(lam);
  const auto rest_f = static_cast<float>(1.0 - lam);
  check_labels(labels, batch, K);
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t a = labels[i], b = labels[batch - 1 - i];
    float* t = out + i * K;
    for (int64_t k = 0; k < K; ++k) {
      const float ya = k == a ? on_f : off_f;
      const float yb = k == b ? on_f : off_f;
      t[k] = ya * lam_f + yb * rest_f;
    }
  }
}

void Mixup::apply(float* images, int64_t batch, int64_t channels, int64_t height, int64_t width,
                  const int64_t* labels, float* out_targets, const MixParams& p) const {
  FF_USER_CHECK(batch % 2 == 0, "mixup: the batch size must be even (each sample is mixed with its mirror), got {}",
                batch);
  check_labels(labels, batch, cfg_.num_classes);
  const int64_t plane = height * width;
  const int64_t sample = channels * plane;
  if (p.lam != 1.0) {
    if (p.cutmix) {
      // Sample i takes the box of sample B - 1 - i: swapping the boxes of each pair does both.
      for (int64_t i = 0; i < batch / 2; ++i) {
        float* a = images + i * sample;
        float* b = images + (batch - 1 - i) * sample;
        for (int64_t c = 0; c < channels; ++c) {
          for (int64_t y = p.y0; y < p.y1; ++y) {
            std::swap_ranges(a + c * plane + y * width + p.x0, a + c * plane + y * width + p.x1,
                             b + c * plane + y * width + p.x0);
          }
        }
      }
    } else {
      const auto lam_f = static_cast<float>(p.lam);
      const auto rest_f = static_cast<float>(1.0 - p.lam);
      for (int64_t i = 0; i < batch / 2; ++i) {
        float* a = images + i * sample;
        float* b = images + (batch - 1 - i) * sample;
        for (int64_t e = 0; e < sample; ++e) {
          const float va = a[e], vb = b[e];
          a[e] = va * lam_f + vb * rest_f;
          b[e] = vb * lam_f + va * rest_f;
        }
      }
    }
  }
  targets(labels, batch, p.lam, out_targets);
}

MixParams Mixup::operator()(float* images, int64_t batch, int64_t channels, int64_t height, int64_t width,
                            const int64_t* labels, float* targets, SampleRng& rng) const {
  const MixParams p = sample(height, width, rng);
  apply(images, batch, channels, height, width, labels, targets, p);
  return p;
}

}  // namespace ff::data
