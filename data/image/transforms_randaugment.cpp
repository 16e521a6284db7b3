// Compiled with -ffp-contract=off (data/CMakeLists.txt): the level rules are timm's Python
// expressions, whose int() truncations must see the same doubles.

#include "data/image/transforms_randaugment.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "kernels/common.h"

namespace ff::data {

std::string_view augment_op_name(AugmentOp op) {
  switch (op) {
    case AugmentOp::kAutoContrast: return "AutoContrast";
    case AugmentOp::kEqualize: return "Equalize";
    case AugmentOp::kInvert: return "Invert";
    case AugmentOp::kRotate: return "Rotate";
    case AugmentOp::kPosterize: return "Posterize";
    case AugmentOp::kPosterizeIncreasing: return "PosterizeIncreasing";
    case AugmentOp::kSolarize: return "Solarize";
    case AugmentOp::kSolarizeIncreasing: return "SolarizeIncreasing";
    case AugmentOp::kSolarizeAdd: return "SolarizeAdd";
    case AugmentOp::kColor: return "Color";
    case AugmentOp::kColorIncreasing: return "ColorIncreasing";
    case AugmentOp::kContrast: return "Contrast";
    case AugmentOp::kContrastIncreasing: return "ContrastIncreasing";
    case AugmentOp::kBrightness: return "Brightness";
    case AugmentOp::kBrightnessIncreasing: return "BrightnessIncreasing";
    case AugmentOp::kSharpness: return "Sharpness";
    case AugmentOp::kSharpnessIncreasing: return "SharpnessIncreasing";
    case AugmentOp::kShearX: return "ShearX";
    case AugmentOp::kShearY: return "ShearY";
    case AugmentOp::kTranslateXRel: return "TranslateXRel";
    case AugmentOp::kTranslateYRel: return "TranslateYRel";
  }
  return "?";
}

const std::vector<AugmentOp>& rand_augment_op_set(bool increasing) {
  using enum AugmentOp;
  static const std::vector<AugmentOp> kPlain = {kAutoContrast, kEqualize,  kInvert,     kRotate,    kPosterize,
                                                kSolarize,     kSolarizeAdd, kColor,    kContrast,  kBrightness,
                                                kSharpness,    kShearX,    kShearY,     kTranslateXRel, kTranslateYRel};
  static const std::vector<AugmentOp> kIncreasing = {
      kAutoContrast,        kEqualize,           kInvert, kRotate, kPosterizeIncreasing, kSolarizeIncreasing,
      kSolarizeAdd,         kColorIncreasing,    kContrastIncreasing, kBrightnessIncreasing,
      kSharpnessIncreasing, kShearX,             kShearY, kTranslateXRel, kTranslateYRel};
  return increasing ? kIncreasing : kPlain;
}

// ---- the config string

namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

}  // namespace

RandAugmentConfig parse_rand_augment(std::string_view spec, std::string_view field, RandAugmentConfig cfg) {
  const auto fail = [&](std::string_view why) {
    throw UserError(fmt::format("{}: '{}' is not a RandAugment string ({}; expected e.g. 'rand-m9-mstd0.5-inc1': "
                                "rand, then m<int>, n<int>, mstd<float>, mmax<int>, inc<0|1>, p<float>)",
                                field, spec, why));
  };
  std::vector<std::string_view> sections;
  for (size_t start = 0;;) {
    const size_t dash = spec.find('-', start);
    sections.push_back(spec.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (sections.front() != "rand") fail("it must start with 'rand'");
  for (size_t i = 1; i < sections.size(); ++i) {
    const std::string_view s = sections[i];
    // As timm: the key is everything before the first digit, the value the rest.
    const size_t digit = s.find_first_of("0123456789");
    if (digit == std::string_view::npos || digit == 0) fail(fmt::format("section '{}' has no key and value", s));
    const std::string_view key = s.substr(0, digit);
    const std::string_view value = s.substr(digit);
    int64_t integer = 0;
    double real = 0;
    if (key == "m") {
      if (!parse_number(value, integer)) fail(fmt::format("m needs an integer, got '{}'", value));
      cfg.magnitude = static_cast<double>(integer);
    } else if (key == "n") {
      if (!parse_number(value, integer)) fail(fmt::format("n needs an integer, got '{}'", value));
      cfg.num_layers = integer;
    } else if (key == "mstd") {
      if (!parse_number(value, real)) fail(fmt::format("mstd needs a number, got '{}'", value));
      // timm: a std above 100 means magnitudes uniform in [0, m].
      cfg.magnitude_std = real > 100 ? std::numeric_limits<double>::infinity() : real;
    } else if (key == "mmax") {
      if (!parse_number(value, integer)) fail(fmt::format("mmax needs an integer, got '{}'", value));
      // timm: `magnitude_max or 10`, so mmax0 keeps the default bound.
      cfg.magnitude_max = integer == 0 ? 10.0 : static_cast<double>(integer);
    } else if (key == "inc") {
      if (value != "0" && value != "1") fail(fmt::format("inc needs 0 or 1, got '{}'", value));
      cfg.increasing = value == "1";
    } else if (key == "p") {
      if (!parse_number(value, real)) fail(fmt::format("p needs a number, got '{}'", value));
      cfg.prob = real;
    } else {
      fail(fmt::format("unknown section '{}'", s));
    }
  }
  return cfg;
}

// ---- RandAugment

RandAugment::RandAugment(RandAugmentConfig cfg, std::string_view field)
    : cfg_(std::move(cfg)), ops_(&rand_augment_op_set(cfg_.increasing)) {
  FF_USER_CHECK(cfg_.num_layers >= 1 && cfg_.num_layers <= kMaxLayers,
                "{}: the number of ops per image (n) must be in [1, {}], got {}", field, kMaxLayers, cfg_.num_layers);
  FF_USER_CHECK(cfg_.magnitude_max > 0 && std::isfinite(cfg_.magnitude_max),
                "{}: the magnitude bound (mmax) must be > 0, got {}", field, cfg_.magnitude_max);
  FF_USER_CHECK(cfg_.magnitude >= 0 && cfg_.magnitude <= cfg_.magnitude_max,
                "{}: the magnitude (m) must be in [0, {}], got {}", field, cfg_.magnitude_max, cfg_.magnitude);
  FF_USER_CHECK(cfg_.magnitude_std >= 0, "{}: the magnitude std (mstd) must be >= 0, got {}", field,
                cfg_.magnitude_std);
  FF_USER_CHECK(cfg_.prob >= 0 && cfg_.prob <= 1, "{}: the op probability (p) must be in [0, 1], got {}", field,
                cfg_.prob);
  FF_USER_CHECK(cfg_.translate_pct >= 0 && cfg_.translate_pct <= 1,
                "{}: translate_pct must be in [0, 1], got {}", field, cfg_.translate_pct);
}

double RandAugment::sample_magnitude(SampleRng& rng) const {
  double m = cfg_.magnitude;
  if (cfg_.magnitude_std > 0) {
    m = std::isinf(cfg_.magnitude_std) ? rng.uniform(0.0, m) : rng.normal(m, cfg_.magnitude_std);
  }
  return std::max(0.0, std::min(m, cfg_.magnitude_max));
}

void RandAugment::operator()(Image& image, SampleRng& rng, Image& scratch) const {
  // timm picks every op first (numpy's choice with replacement), then applies them in turn.
  AugmentOp chosen[kMaxLayers];
  const auto choices = static_cast<int64_t>(ops_->size());
  for (int64_t i = 0; i < cfg_.num_layers; ++i) chosen[i] = (*ops_)[static_cast<size_t>(rng.below(choices))];
  for (int64_t i = 0; i < cfg_.num_layers; ++i) {
    if (cfg_.prob < 1.0 && rng.uniform() > cfg_.prob) continue;
    apply_augment_op(chosen[i], sample_magnitude(rng), cfg_, image, scratch, rng);
  }
}

// ---- one op

namespace {

// timm's _randomly_negate: negative when a uniform draw is above 0.5.
double randomly_negate(double v, SampleRng& rng) { return rng.uniform() > 0.5 ? -v : v; }

double enhance_factor(double magnitude) { return (magnitude / 10.0) * 1.8 + 0.1; }

double enhance_increasing_factor(double magnitude, SampleRng& rng) {
  const double level = (magnitude / 10.0) * 0.9;
  return std::max(0.1, 1.0 + randomly_negate(level, rng));
}

// Runs a geometric op into scratch and swaps it in.
template <typename F>
void geometric(Image& image, Image& scratch, F&& op) {
  op(static_cast<const Image&>(image), scratch);
  std::swap(image, scratch);
}

}  // namespace

void apply_augment_op(AugmentOp op, double magnitude, const RandAugmentConfig& cfg, Image& image, Image& scratch,
                      SampleRng& rng) {
  using enum AugmentOp;
  const double level = magnitude / 10.0;
  switch (op) {
    case kAutoContrast: return autocontrast(image);
    case kEqualize: return equalize(image);
    case kInvert: return invert(image);
    case kPosterize:
    case kPosterizeIncreasing: {
      const int bits = static_cast<int>(level * 4);
      const int keep = op == kPosterize ? bits : 4 - bits;
      if (keep < 8) posterize(image, std::max(keep, 0));
      return;
    }
    case kSolarize: return solarize(image, static_cast<int>(level * 256));
    case kSolarizeIncreasing: return solarize(image, 256 - static_cast<int>(level * 256));
    case kSolarizeAdd: return solarize_add(image, static_cast<int>(level * 110), 128);
    case kColor: return enhance_color(image, enhance_factor(magnitude));
    case kColorIncreasing: return enhance_color(image, enhance_increasing_factor(magnitude, rng));
    case kContrast: return enhance_contrast(image, enhance_factor(magnitude));
    case kContrastIncreasing: return enhance_contrast(image, enhance_increasing_factor(magnitude, rng));
    case kBrightness: return enhance_brightness(image, enhance_factor(magnitude));
    case kBrightnessIncreasing: return enhance_brightness(image, enhance_increasing_factor(magnitude, rng));
    case kSharpness:
    case kSharpnessIncreasing: {
      const double factor = op == kSharpness ? enhance_factor(magnitude) : enhance_increasing_factor(magnitude, rng);
      enhance_sharpness(image, scratch, factor);
      std::swap(image, scratch);
      return;
    }
    case kRotate: {
      const double degrees = randomly_negate(level * 30.0, rng);
      const Interpolation interpolation = resolve_interpolation(cfg.interpolation, rng);
      return geometric(image, scratch,
                       [&](const Image& src, Image& dst) { rotate(src, dst, degrees, interpolation, cfg.fill); });
    }
    case kShearX:
    case kShearY: {
      const double factor = randomly_negate(level * 0.3, rng);
      const Interpolation interpolation = resolve_interpolation(cfg.interpolation, rng);
      const std::array<double, 6> m = op == kShearX ? std::array<double, 6>{1, factor, 0, 0, 1, 0}
                                                    : std::array<double, 6>{1, 0, 0, factor, 1, 0};
      return geometric(image, scratch,
                       [&](const Image& src, Image& dst) { affine(src, dst, m, interpolation, cfg.fill); });
    }
    case kTranslateXRel:
    case kTranslateYRel: {
      const double pct = randomly_negate(level * cfg.translate_pct, rng);
      const Interpolation interpolation = resolve_interpolation(cfg.interpolation, rng);
      const double pixels = pct * static_cast<double>(op == kTranslateXRel ? image.width : image.height);
      const std::array<double, 6> m = op == kTranslateXRel ? std::array<double, 6>{1, 0, pixels, 0, 1, 0}
                                                           : std::array<double, 6>{1, 0, 0, 0, 1, pixels};
      return geometric(image, scratch,
                       [&](const Image& src, Image& dst) { affine(src, dst, m, interpolation, cfg.fill); });
    }
  }
}

}  // namespace ff::data
