// RandAugment's Pillow operations against Pillow 9.4's own output (tests/data/
// image_pil_expected.h, generated once by tests/data/generate_pil_expected.py) and a few
// values worked out by hand. Every comparison is exact: the code repeats Pillow's
// arithmetic (integer tables, float blends, double interpolation, no fused multiply-adds).

#include "data/image/transforms_ops.h"

#include <catch2/catch.hpp>

#include "image_pil_expected.h"
#include "image_test_util.h"

using namespace ff::data;
using ff::data::testing::make_image;
using ff::data::testing::pattern_image;
namespace pil = ff::data::testing::pil;

namespace {
constexpr FillColor kFill = {124, 116, 104};

struct Case {
  int64_t channels;
  const std::vector<uint8_t>& expected;
};

// The op on pattern_image(6, 7, c) (or its low-contrast twin) for RGB and greyscale.
template <typename Op>
void check_both(const std::vector<uint8_t>& rgb, const std::vector<uint8_t>& grey, Op op, bool low = false) {
  for (const Case& c : {Case{3, rgb}, Case{1, grey}}) {
    INFO("channels " << c.channels);
    Image im = pattern_image(6, 7, c.channels, low);
    Image out = op(im);
    FF_CHECK_IMAGE(out, 6, 7, c.channels, c.expected);
  }
}

template <typename F>
auto in_place(F f) {
  return [f](Image im) {
    f(im);
    return im;
  };
}

template <typename F>
auto out_of_place(F f) {
  return [f](const Image& im) {
    Image out;
    f(im, out);
    return out;
  };
}
}  // namespace

TEST_CASE("autocontrast, equalize, invert, posterize, solarize, solarize_add match Pillow", "[data][image]") {
  check_both(pil::kAutoContrastRgb, pil::kAutoContrastGrey, in_place([](Image& im) { autocontrast(im); }), true);
  check_both(pil::kEqualizeRgb, pil::kEqualizeGrey, in_place([](Image& im) { equalize(im); }));
  check_both(pil::kEqualizeLowRgb, pil::kEqualizeLowGrey, in_place([](Image& im) { equalize(im); }), true);
  check_both(pil::kInvertRgb, pil::kInvertGrey, in_place([](Image& im) { invert(im); }));
  check_both(pil::kPosterize1Rgb, pil::kPosterize1Grey, in_place([](Image& im) { posterize(im, 1); }));
  check_both(pil::kPosterize3Rgb, pil::kPosterize3Grey, in_place([](Image& im) { posterize(im, 3); }));
  check_both(pil::kSolarize26Rgb, pil::kSolarize26Grey, in_place([](Image& im) { solarize(im, 26); }));
  check_both(pil::kSolarizeAdd99Rgb, pil::kSolarizeAdd99Grey, in_place([](Image& im) { solarize_add(im, 99); }));
}

TEST_CASE("lookup ops by hand", "[data][image]") {
  // autocontrast: values 50..150 stretch by 255 / 100: 50 -> 0, 100 -> int(127.5) = 127, 150 -> 255.
  Image im = make_image(1, 3, 1, {50, 100, 150});
  autocontrast(im);
  CHECK(im.pixels == std::vector<uint8_t>{0, 127, 255});
  // A flat channel is left alone.
  im = make_image(1, 2, 1, {7, 7});
  autocontrast(im);
  CHECK(im.pixels == std::vector<uint8_t>{7, 7});
  // equalize: counts 0:2, 10:1, 20:1 -> step = (4 - 1) // 255 = 0: unchanged (Pillow's rule).
  im = make_image(1, 4, 1, {0, 0, 10, 20});
  equalize(im);
  CHECK(im.pixels == std::vector<uint8_t>{0, 0, 10, 20});
  // 510 pixels of value 0 and 255 of value 1 and 255 of value 2: step = (1020 - 255) // 255 = 3,
  // n starts at 1: lut[0] = 1 // 3 = 0, lut[1] = (1 + 510) // 3 = 170, lut[2] = (511 + 255) // 3 = 255.
  std::vector<uint8_t> many(1020, 0);
  std::fill(many.begin() + 510, many.begin() + 765, uint8_t{1});
  std::fill(many.begin() + 765, many.end(), uint8_t{2});
  im = make_image(1, 1020, 1, many);
  equalize(im);
  CHECK(im.pixels[0] == 0);
  CHECK(im.pixels[600] == 170);
  CHECK(im.pixels[900] == 255);
  // posterize keeps high bits; 0 bits is black, 8 unchanged.
  im = make_image(1, 3, 1, {255, 130, 63});
  posterize(im, 2);
  CHECK(im.pixels == std::vector<uint8_t>{192, 128, 0});
  posterize(im, 0);
  CHECK(im.pixels == std::vector<uint8_t>{0, 0, 0});
  // solarize inverts from the threshold up; solarize_add adds below 128 and saturates.
  im = make_image(1, 3, 1, {25, 26, 200});
  solarize(im, 26);
  CHECK(im.pixels == std::vector<uint8_t>{25, 229, 55});
  im = make_image(1, 3, 1, {20, 127, 128});
  solarize_add(im, 99);
  CHECK(im.pixels == std::vector<uint8_t>{119, 226, 128});
  im = make_image(1, 1, 1, {100});
  solarize_add(im, 200);
  CHECK(im.pixels == std::vector<uint8_t>{255});
}

TEST_CASE("ImageEnhance color, contrast, brightness, sharpness match Pillow", "[data][image]") {
  const double up = 1.0 + (9 / 10.0) * 0.9, down = 1.0 - (9 / 10.0) * 0.9;
  check_both(pil::kColorUpRgb, pil::kColorUpGrey, in_place([&](Image& im) { enhance_color(im, up); }));
  check_both(pil::kColorDownRgb, pil::kColorDownGrey, in_place([&](Image& im) { enhance_color(im, down); }));
  check_both(pil::kContrastUpRgb, pil::kContrastUpGrey, in_place([&](Image& im) { enhance_contrast(im, up); }));
  check_both(pil::kContrastDownRgb, pil::kContrastDownGrey, in_place([&](Image& im) { enhance_contrast(im, down); }));
  check_both(pil::kBrightnessUpRgb, pil::kBrightnessUpGrey, in_place([&](Image& im) { enhance_brightness(im, up); }));
  check_both(pil::kBrightnessDownRgb, pil::kBrightnessDownGrey,
             in_place([&](Image& im) { enhance_brightness(im, down); }));
  check_both(pil::kSharpnessUpRgb, pil::kSharpnessUpGrey,
             out_of_place([&](const Image& im, Image& out) { enhance_sharpness(im, out, up); }));
  check_both(pil::kSharpnessDownRgb, pil::kSharpnessDownGrey,
             out_of_place([&](const Image& im, Image& out) { enhance_sharpness(im, out, down); }));
}

TEST_CASE("enhance ops by hand", "[data][image]") {
  // Brightness 1.5: uint8(0 + 1.5 * 101) = uint8(151.5) = 151; 200 * 1.5 = 300 saturates.
  Image im = make_image(1, 2, 1, {101, 200});
  enhance_brightness(im, 1.5);
  CHECK(im.pixels == std::vector<uint8_t>{151, 255});
  // Contrast 0.5 about the mean int(150 + 0.5) = 150: 100 -> 125, 200 -> 175.
  im = make_image(1, 2, 1, {100, 200});
  enhance_contrast(im, 0.5);
  CHECK(im.pixels == std::vector<uint8_t>{125, 175});
  // Color 0 is the luma: (19595 * 200 + 38470 * 100 + 7471 * 0 + 32768) >> 16 = 118.
  im = make_image(1, 1, 3, {200, 100, 0});
  enhance_color(im, 0.0);
  CHECK(im.pixels == std::vector<uint8_t>{118, 118, 118});
  // Greyscale colour is unchanged at any factor (Pillow's degenerate of "L" is the image).
  im = make_image(1, 2, 1, {10, 240});
  enhance_color(im, 1.9);
  CHECK(im.pixels == std::vector<uint8_t>{10, 240});
  // Sharpness 0 is SMOOTH: a lone 130 among zeros becomes 0.5 + 130 * 5/13 = 50.5 -> 50; the
  // border is copied.
  Image dot = make_image(3, 3, 1, {0, 0, 0, 0, 130, 0, 0, 0, 0});
  Image out;
  enhance_sharpness(dot, out, 0.0);
  CHECK(out.pixels == std::vector<uint8_t>{0, 0, 0, 0, 50, 0, 0, 0, 0});
  // Sharpness 2 extrapolates: 50 + 2 (130 - 50) = 210.
  enhance_sharpness(dot, out, 2.0);
  CHECK(out.pixels[4] == 210);
}

TEST_CASE("rotate, shear and translate match Pillow's transform (bicubic and bilinear, fill)", "[data][image]") {
  const double deg = (9 / 10.0) * 30.0, shear = (9 / 10.0) * 0.3;
  for (const auto& [c, fill] : {std::pair<int64_t, FillColor>{3, kFill}, std::pair<int64_t, FillColor>{1, kFill}}) {
    INFO("channels " << c);
    const bool rgb = c == 3;
    const Image im = pattern_image(6, 7, c);
    Image out;
    rotate(im, out, deg, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kRotateBicubicPosRgb : pil::kRotateBicubicPosGrey);
    rotate(im, out, -deg, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kRotateBicubicNegRgb : pil::kRotateBicubicNegGrey);
    rotate(im, out, 13.5, Interpolation::kBilinear, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kRotateBilinearRgb : pil::kRotateBilinearGrey);
    affine(im, out, {1, shear, 0, 0, 1, 0}, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kShearXPosRgb : pil::kShearXPosGrey);
    affine(im, out, {1, -shear, 0, 0, 1, 0}, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kShearXNegRgb : pil::kShearXNegGrey);
    affine(im, out, {1, 0, 0, shear, 1, 0}, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kShearYPosRgb : pil::kShearYPosGrey);
    affine(im, out, {1, 0, 0, -shear, 1, 0}, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kShearYNegRgb : pil::kShearYNegGrey);
    affine(im, out, {1, 0, (9 / 10.0) * 0.45 * 7, 0, 1, 0}, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kTranslateXRgb : pil::kTranslateXGrey);
    affine(im, out, {1, 0, 0, 0, 1, -((9 / 10.0) * 0.45) * 6}, Interpolation::kBicubic, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kTranslateYRgb : pil::kTranslateYGrey);
    affine(im, out, {1, -0.2, 0, 0, 1, 0}, Interpolation::kBilinear, fill);
    FF_CHECK_IMAGE(out, 6, 7, c, rgb ? pil::kShearXBilinearRgb : pil::kShearXBilinearGrey);
  }
}

TEST_CASE("geometry by hand: whole-pixel moves, the fill, exact quarter turns", "[data][image]") {
  const Image im = make_image(2, 3, 1, {1, 2, 3, 4, 5, 6});
  Image out;
  // x_src = x + 1: a one-pixel shift left samples pixel centres exactly; the last column maps
  // to x = 3.5, outside [0, 3): the fill.
  affine(im, out, {1, 0, 1, 0, 1, 0}, Interpolation::kBicubic, {9, 9, 9});
  CHECK(out.pixels == std::vector<uint8_t>{2, 3, 9, 5, 6, 9});
  affine(im, out, {1, 0, 1, 0, 1, 0}, Interpolation::kBilinear, {9, 9, 9});
  CHECK(out.pixels == std::vector<uint8_t>{2, 3, 9, 5, 6, 9});
  // Half a pixel: bilinear averages neighbours and truncates ((1 + 2) / 2 = 1.5 -> 1); the
  // last column maps to x = 3.0, outside.
  affine(im, out, {1, 0, 0.5, 0, 1, 0}, Interpolation::kBilinear, {9, 9, 9});
  CHECK(out.pixels == std::vector<uint8_t>{1, 2, 9, 4, 5, 9});
  // 180 degrees is Pillow's exact transpose, whatever the shape; 0 copies.
  rotate(im, out, 180, Interpolation::kBicubic, {0, 0, 0});
  CHECK(out.pixels == std::vector<uint8_t>{6, 5, 4, 3, 2, 1});
  rotate(im, out, 0, Interpolation::kBicubic, {0, 0, 0});
  CHECK(out.pixels == im.pixels);
  // 90 degrees counter-clockwise on a square: the top row becomes the left column, reversed.
  const Image sq = make_image(2, 2, 1, {1, 2, 3, 4});
  rotate(sq, out, 90, Interpolation::kBicubic, {0, 0, 0});
  CHECK(out.pixels == std::vector<uint8_t>{2, 4, 1, 3});
  rotate(sq, out, -90, Interpolation::kBicubic, {0, 0, 0});  // -90 % 360 = 270
  CHECK(out.pixels == std::vector<uint8_t>{3, 1, 4, 2});
}
