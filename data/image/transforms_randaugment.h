#pragma once
// timm's RandAugment (timm/data/auto_augment.py: rand_augment_transform, RandAugment,
// AugmentOp): num_layers ops drawn uniformly with replacement from the op set, each applied
// with probability prob at a magnitude that may carry Gaussian noise, its argument from
// timm's level rules. The ops are Pillow's (data/image/transforms_ops.h).

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "data/image/image.h"
#include "data/image/sample_rng.h"
#include "data/image/transforms_geometry.h"
#include "data/image/transforms_ops.h"

namespace ff::data {

// timm's op names; the *Increasing ones get stronger as the magnitude grows.
enum class AugmentOp : uint8_t {
  kAutoContrast,
  kEqualize,
  kInvert,
  kRotate,
  kPosterize,
  kPosterizeIncreasing,
  kSolarize,
  kSolarizeIncreasing,
  kSolarizeAdd,
  kColor,
  kColorIncreasing,
  kContrast,
  kContrastIncreasing,
  kBrightness,
  kBrightnessIncreasing,
  kSharpness,
  kSharpnessIncreasing,
  kShearX,
  kShearY,
  kTranslateXRel,
  kTranslateYRel,
};
std::string_view augment_op_name(AugmentOp op);

// timm's _RAND_TRANSFORMS (increasing = false) or _RAND_INCREASING_TRANSFORMS, in its order.
const std::vector<AugmentOp>& rand_augment_op_set(bool increasing);

struct RandAugmentConfig {
  int64_t num_layers = 2;       // n: ops per image
  double magnitude = 10;        // m: 0..magnitude_max (timm's default 10)
  double magnitude_std = 0;     // mstd: Gaussian noise on the magnitude; infinity = U(0, m)
  double magnitude_max = 10;    // mmax: the magnitude is clipped to [0, magnitude_max]
  bool increasing = false;      // inc: the *Increasing op set
  double prob = 0.5;            // p: each chosen op is applied with this probability
  double translate_pct = 0.45;  // TranslateXRel/YRel: up to this fraction of the side
  // Geometric ops: resampling (kRandom: bilinear or bicubic per op) and fill colour. The DeiT
  // train transform passes its interpolation and the mean as bytes (timm's img_mean).
  Interpolation interpolation = Interpolation::kBicubic;
  FillColor fill = {128, 128, 128};
};

// timm's config string: "rand" then dash-separated sections m{int}, n{int}, mstd{float}
// (above 100: uniform magnitudes), mmax{int}, inc{0|1}, p{float}, e.g. "rand-m9-mstd0.5-inc1".
// Only the fields named by the string change in the returned copy of `base`. A malformed or
// unknown section is an ff::UserError naming `field`.
RandAugmentConfig parse_rand_augment(std::string_view spec, std::string_view field, RandAugmentConfig base = {});

class RandAugment {
 public:
  static constexpr int64_t kMaxLayers = 16;

  // Validates cfg (ff::UserError naming `field` and the value).
  explicit RandAugment(RandAugmentConfig cfg, std::string_view field = "auto_augment");

  const RandAugmentConfig& config() const { return cfg_; }
  const std::vector<AugmentOp>& ops() const { return *ops_; }

  // Draws num_layers op indices (below(ops)), then runs each: the probability draw
  // (uniform() > prob skips it), the magnitude, the op's sign and resampling draws.
  // image: (H, W, C) in and out, C 1 or 3; scratch is reused between calls.
  void operator()(Image& image, SampleRng& rng, Image& scratch) const;

  // The magnitude of one op: m, with N(m, mstd) noise (or U(0, m) when mstd is infinite),
  // clipped to [0, mmax].
  double sample_magnitude(SampleRng& rng) const;

 private:
  RandAugmentConfig cfg_;
  const std::vector<AugmentOp>* ops_;
};

// One op at a given (already noisy and clipped) magnitude, with timm's level rules:
//   Rotate            +-30 m/10 degrees          ShearX/Y        +-0.3 m/10
//   TranslateX/YRel   +-translate_pct m/10 of the width / height, in pixels
//   Posterize         int(4 m/10) bits           PosterizeIncreasing   4 - int(4 m/10)
//   Solarize          int(256 m/10) threshold    SolarizeIncreasing    256 - int(256 m/10)
//   SolarizeAdd       + int(110 m/10) below 128
//   Color/Contrast/Brightness/Sharpness             1.8 m/10 + 0.1
//   their *Increasing forms                         max(0.1, 1 +- 0.9 m/10)
// "+-": negated when a uniform draw is > 0.5; geometric ops then draw their resampling when
// it is kRandom. image is updated in place (scratch holds the other buffer).
void apply_augment_op(AugmentOp op, double magnitude, const RandAugmentConfig& cfg, Image& image, Image& scratch,
                      SampleRng& rng);

}  // namespace ff::data
