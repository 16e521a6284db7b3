// timm's RandAugment: the config string, the magnitude noise and its clipping, the op
// arguments from the magnitude (against Pillow at m = 9), and the op choice.

#include "data/image/transforms_randaugment.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>

#include "image_pil_expected.h"
#include "image_test_util.h"
#include "kernels/common.h"

using namespace ff::data;
using ff::data::testing::pattern_image;
namespace pil = ff::data::testing::pil;

TEST_CASE("RandAugment strings parse as timm's", "[data][image]") {
  const RandAugmentConfig deit = parse_rand_augment("rand-m9-mstd0.5-inc1", "aa");
  CHECK(deit.magnitude == 9);
  CHECK(deit.magnitude_std == 0.5);
  CHECK(deit.increasing);
  CHECK(deit.num_layers == 2);
  CHECK(deit.prob == 0.5);
  CHECK(deit.magnitude_max == 10);
  const RandAugmentConfig other = parse_rand_augment("rand-n3-m7-mmax15-p0.8-inc0-mstd101", "aa");
  CHECK(other.num_layers == 3);
  CHECK(other.magnitude == 7);
  CHECK(other.magnitude_max == 15);
  CHECK(other.prob == 0.8);
  CHECK_FALSE(other.increasing);
  CHECK(std::isinf(other.magnitude_std));  // above 100: uniform magnitudes
  CHECK(parse_rand_augment("rand", "aa").magnitude == 10);  // timm's default magnitude
  // The base's other fields pass through.
  RandAugmentConfig base;
  base.fill = {1, 2, 3};
  CHECK(parse_rand_augment("rand-m5", "aa", base).fill == FillColor{1, 2, 3});
  for (const char* bad : {"", "rand-x3", "augmix-m3", "rand-m", "rand-m9.5", "rand-inc2", "rand-mstdx", "rand-tweights",
                          "rand--m9"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_rand_augment(bad, "data.auto_augment"), ff::UserError);
  }
  CHECK_THROWS_WITH(parse_rand_augment("rand-q1", "data.auto_augment"), Catch::Contains("data.auto_augment"));
  CHECK_THROWS_WITH(RandAugment(parse_rand_augment("rand-m12", "aa")), Catch::Contains("magnitude (m)"));
  CHECK_THROWS_AS(RandAugment(parse_rand_augment("rand-n0", "aa")), ff::UserError);
}

TEST_CASE("the op sets are timm's, in timm's order", "[data][image]") {
  std::vector<std::string_view> names;
  for (AugmentOp op : rand_augment_op_set(true)) names.push_back(augment_op_name(op));
  CHECK(names == std::vector<std::string_view>{"AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                                               "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing",
                                               "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
                                               "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"});
  names.clear();
  for (AugmentOp op : rand_augment_op_set(false)) names.push_back(augment_op_name(op));
  CHECK(names == std::vector<std::string_view>{"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
                                               "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness", "ShearX",
                                               "ShearY", "TranslateXRel", "TranslateYRel"});
}

TEST_CASE("magnitude noise: N(m, std) clipped to [0, mmax]", "[data][image]") {
  RandAugmentConfig cfg;
  cfg.magnitude = 9;
  cfg.magnitude_std = 0.5;
  const RandAugment ra(cfg);
  double sum = 0, sum2 = 0;
  int at_top = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    SampleRng rng(1, 0, static_cast<uint64_t>(i));
    SampleRng replay = rng;
    const double m = ra.sample_magnitude(rng);
    CHECK(m == std::min(10.0, std::max(0.0, replay.normal(9.0, 0.5))));  // the draw, then the clip
    sum += m;
    sum2 += m * m;
    at_top += m == 10.0;
  }
  // P(N(9, 0.5) > 10) = P(Z > 2) = 2.28%; the clipped mean is 9 - 0.5 * E[(Z - 2)+] = 8.9958.
  CHECK(at_top > static_cast<int>(0.0228 * n * 0.85));
  CHECK(at_top < static_cast<int>(0.0228 * n * 1.15));
  CHECK(sum / n == Approx(8.9958).margin(0.01));
  // At m = 10 half the draws exceed the bound and land exactly on it; at m = 0 half on 0.
  cfg.magnitude = 10;
  const RandAugment top(cfg);
  cfg.magnitude = 0;
  const RandAugment bottom(cfg);
  int tens = 0, zeros = 0;
  for (int i = 0; i < 4000; ++i) {
    SampleRng a(2, 0, static_cast<uint64_t>(i)), b(3, 0, static_cast<uint64_t>(i));
    const double mt = top.sample_magnitude(a), mb = bottom.sample_magnitude(b);
    CHECK(mt <= 10.0);
    CHECK(mb >= 0.0);
    tens += mt == 10.0;
    zeros += mb == 0.0;
  }
  CHECK(tens > 1800);
  CHECK(tens < 2200);
  CHECK(zeros > 1800);
  CHECK(zeros < 2200);
  // Without noise there is no draw; an infinite std means U(0, m).
  cfg.magnitude = 9;
  cfg.magnitude_std = 0;
  SampleRng rng(4, 0, 0);
  CHECK(RandAugment(cfg).sample_magnitude(rng) == 9.0);
  CHECK(rng.blocks_read() == 0);
  cfg.magnitude_std = std::numeric_limits<double>::infinity();
  SampleRng u(4, 0, 0), ureplay(4, 0, 0);
  CHECK(RandAugment(cfg).sample_magnitude(u) == 9.0 * ureplay.uniform());
  // mmax raises the bound.
  cfg.magnitude_std = 5;
  cfg.magnitude_max = 30;
  cfg.magnitude = 25;
  double largest = 0;
  for (int i = 0; i < 200; ++i) {
    SampleRng r(5, 0, static_cast<uint64_t>(i));
    largest = std::max(largest, RandAugment(cfg).sample_magnitude(r));
  }
  CHECK(largest == 30.0);
}

namespace {
// The op at magnitude 9 with rng; the sign the op drew is read off a replay of the stream.
Image run_op(AugmentOp op, int64_t channels, SampleRng rng, bool* negated) {
  RandAugmentConfig cfg;
  cfg.fill = {124, 116, 104};
  SampleRng replay = rng;
  *negated = replay.uniform() > 0.5;
  Image im = pattern_image(6, 7, channels), scratch;
  apply_augment_op(op, 9.0, cfg, im, scratch, rng);
  return im;
}

// Seeds whose first uniform is above / below 0.5, to see both signs.
SampleRng with_sign(bool negative) {
  for (uint64_t i = 0;; ++i) {
    SampleRng rng(77, 0, i);
    SampleRng probe = rng;
    if ((probe.uniform() > 0.5) == negative) return rng;
  }
}
}  // namespace

TEST_CASE("op arguments at magnitude 9 are timm's: each op equals Pillow's call", "[data][image]") {
  using enum AugmentOp;
  for (const int64_t c : {3, 1}) {
    INFO("channels " << c);
    const bool rgb = c == 3;
    bool neg = false;
    // Unsigned ops: PosterizeIncreasing keeps 4 - int(3.6) = 1 bit, SolarizeIncreasing
    // thresholds at 256 - int(230.4) = 26, SolarizeAdd adds int(99.0) = 99.
    Image out = run_op(kPosterizeIncreasing, c, SampleRng(1, 0, 0), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kPosterize1Rgb : pil::kPosterize1Grey);
    out = run_op(kPosterize, c, SampleRng(1, 0, 0), &neg);  // int(3.6) = 3 bits
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kPosterize3Rgb : pil::kPosterize3Grey);
    out = run_op(kSolarizeIncreasing, c, SampleRng(1, 0, 0), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kSolarize26Rgb : pil::kSolarize26Grey);
    out = run_op(kSolarizeAdd, c, SampleRng(1, 0, 0), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kSolarizeAdd99Rgb : pil::kSolarizeAdd99Grey);
    out = run_op(kEqualize, c, SampleRng(1, 0, 0), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kEqualizeRgb : pil::kEqualizeGrey);
    out = run_op(kInvert, c, SampleRng(1, 0, 0), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kInvertRgb : pil::kInvertGrey);
    // Signed ops: factor 1 +- 0.81 (enhance), +-27 degrees, shear +-0.27.
    struct Signed {
      AugmentOp op;
      const std::vector<uint8_t>&rgb_up, &rgb_down, &grey_up, &grey_down;
    };
    const Signed table[] = {
        {kColorIncreasing, pil::kColorUpRgb, pil::kColorDownRgb, pil::kColorUpGrey, pil::kColorDownGrey},
        {kContrastIncreasing, pil::kContrastUpRgb, pil::kContrastDownRgb, pil::kContrastUpGrey,
         pil::kContrastDownGrey},
        {kBrightnessIncreasing, pil::kBrightnessUpRgb, pil::kBrightnessDownRgb, pil::kBrightnessUpGrey,
         pil::kBrightnessDownGrey},
        {kSharpnessIncreasing, pil::kSharpnessUpRgb, pil::kSharpnessDownRgb, pil::kSharpnessUpGrey,
         pil::kSharpnessDownGrey},
        {kRotate, pil::kRotateBicubicPosRgb, pil::kRotateBicubicNegRgb, pil::kRotateBicubicPosGrey,
         pil::kRotateBicubicNegGrey},
        {kShearX, pil::kShearXPosRgb, pil::kShearXNegRgb, pil::kShearXPosGrey, pil::kShearXNegGrey},
        {kShearY, pil::kShearYPosRgb, pil::kShearYNegRgb, pil::kShearYPosGrey, pil::kShearYNegGrey},
    };
    for (const Signed& t : table) {
      for (const bool negative : {false, true}) {
        INFO(augment_op_name(t.op) << " negated " << negative);
        out = run_op(t.op, c, with_sign(negative), &neg);
        REQUIRE(neg == negative);
        FF_CHECK_IMAGE(out, 6, 7, c, rgb ? (neg ? t.rgb_down : t.rgb_up) : (neg ? t.grey_down : t.grey_up));
      }
    }
    // TranslateXRel: +0.405 of the width; TranslateYRel: -0.405 of the height.
    out = run_op(kTranslateXRel, c, with_sign(false), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kTranslateXRgb : pil::kTranslateXGrey);
    out = run_op(kTranslateYRel, c, with_sign(true), &neg);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kTranslateYRgb : pil::kTranslateYGrey);
  }
}

TEST_CASE("RandAugment draws two ops uniformly with replacement and applies each with p 0.5", "[data][image]") {
  RandAugmentConfig cfg = parse_rand_augment("rand-m9-mstd0.5-inc1", "aa");
  cfg.fill = {124, 116, 104};
  const RandAugment ra(cfg);
  const Image src = pattern_image(8, 9, 3);
  // The draw order, replayed by hand: both op indices, then per op the probability draw,
  // the magnitude N(9, 0.5) clipped to [0, 10], and the op's own draws.
  const std::vector<AugmentOp>& ops = ra.ops();
  int applied = 0;
  std::map<int64_t, int> chosen;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    SampleRng rng(9, 2, static_cast<uint64_t>(i));
    SampleRng replay = rng;
    Image im = src, scratch;
    ra(im, rng, scratch);
    Image expected = src, expected_scratch;
    const int64_t a = replay.below(15), b = replay.below(15);
    ++chosen[a];
    ++chosen[b];
    for (const int64_t k : {a, b}) {
      if (replay.uniform() > 0.5) continue;
      ++applied;
      const double m = std::max(0.0, std::min(replay.normal(9.0, 0.5), 10.0));
      apply_augment_op(ops[static_cast<size_t>(k)], m, cfg, expected, expected_scratch, replay);
    }
    REQUIRE(im.pixels == expected.pixels);
    REQUIRE(rng.next_u32() == replay.next_u32());
  }
  CHECK(chosen.size() == 15);
  for (const auto& [op, k] : chosen) CHECK(std::abs(k - 2 * n / 15) < 100);  // 400 +- 5 sigma
  CHECK(std::abs(applied - n) < 200);                                          // 2n ops at p 0.5
  // p = 0 never changes an image (timm still draws the probability, so do we).
  cfg.prob = 0;
  const RandAugment never(cfg);
  for (uint64_t i = 0; i < 50; ++i) {
    Image im = src, scratch;
    SampleRng rng(9, 1, i);
    never(im, rng, scratch);
    CHECK(im.pixels == src.pixels);
    CHECK(rng.blocks_read() == 2);  // the two op choices and the two probability draws
  }
}
