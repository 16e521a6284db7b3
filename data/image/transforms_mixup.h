#pragma once
// timm's Mixup / CutMix in mode 'batch' (timm/data/mixup.py): one lambda per batch, the batch
// mixed with itself reversed (sample i with sample B - 1 - i), and soft targets
// lam * smooth(y) + (1 - lam) * smooth(y reversed).

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "data/image/sample_rng.h"

namespace ff::data {

struct MixupConfig {
  double mixup_alpha = 0.8;   // Beta(alpha, alpha) for mixup; 0 turns mixup off
  double cutmix_alpha = 1.0;  // Beta(alpha, alpha) for cutmix; 0 turns cutmix off
  // CutMix box sides as fractions of the image, uniform in [min, max) (timm's cutmix_minmax);
  // when set, cutmix is on with alpha 1 and lam comes from the box.
  std::optional<std::array<double, 2>> cutmix_minmax;
  double prob = 1.0;         // probability that a batch is mixed at all
  double switch_prob = 0.5;  // with both on: probability of cutmix rather than mixup
  bool correct_lam = true;   // lam = 1 - (box area after clipping) / image area
  double label_smoothing = 0.1;
  int64_t num_classes = 1000;
};

// The mixing of one batch. Box rows [y0, y1), columns [x0, x1).
struct MixParams {
  double lam = 1.0;  // the weight of the sample itself; 1 when the batch is not mixed
  bool cutmix = false;
  int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
};

// A cutmix box from lam (timm's rand_bbox): sides int(H sqrt(1 - lam)) x int(W sqrt(1 - lam))
// about a centre (randint(0, H), randint(0, W)) drawn from rng (numpy's exclusive bounds),
// clipped to the image. Sets y0..x1 only.
void cutmix_box(int64_t height, int64_t width, double lam, SampleRng& rng, MixParams& p);
// timm's rand_bbox_minmax: sides randint(int(H min), int(H max)) and the same for W, placed at
// randint(0, H - h), randint(0, W - w).
void cutmix_box_minmax(int64_t height, int64_t width, std::array<double, 2> minmax, SampleRng& rng, MixParams& p);
// 1 - box area / image area.
double cutmix_corrected_lam(int64_t height, int64_t width, const MixParams& p);

class Mixup {
 public:
  // Validates cfg (ff::UserError naming `field`).
  explicit Mixup(MixupConfig cfg, std::string_view field = "mixup");
  const MixupConfig& config() const { return cfg_; }

  // The batch's parameters, as timm's _params_per_batch then the box: uniform() < prob
  // decides whether to mix, uniform() < switch_prob picks cutmix when both are on, lam ~
  // Beta(alpha, alpha) (Marsaglia-Tsang gamma variates), then the box and, with
  // correct_lam, lam from the clipped box.
  MixParams sample(int64_t height, int64_t width, SampleRng& rng) const;

  // Mixes images in place and writes soft targets. images: (B, C, H, W) float; labels: (B)
  // class ids in [0, num_classes); targets: (B, num_classes) float. B must be even (as timm
  // asserts). Mixup: x_i = lam x_i + (1 - lam) x_{B-1-i} in float32; cutmix: the box of x_i
  // replaced by that of x_{B-1-i}. targets_i = lam smooth(y_i) + (1 - lam) smooth(y_{B-1-i})
  // with smooth(y) = off everywhere and 1 - smoothing + off at y, off = smoothing / classes.
  void apply(float* images, int64_t batch, int64_t channels, int64_t height, int64_t width, const int64_t* labels,
             float* targets, const MixParams& params) const;

  // sample() then apply(); returns the parameters used.
  MixParams operator()(float* images, int64_t batch, int64_t channels, int64_t height, int64_t width,
                       const int64_t* labels, float* targets, SampleRng& rng) const;

  // The soft targets alone (no mixing when lam is 1).
  void targets(const int64_t* labels, int64_t batch, double lam, float* out) const;

 private:
  MixupConfig cfg_;
};

}  // namespace ff::data
