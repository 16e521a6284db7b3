// Crop boxes, flips and Pillow-exact resizes (data/image/transforms_geometry.h).

#include "data/image/transforms_geometry.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "data/image/sample_rng.h"
#include "image_pil_expected.h"
#include "image_test_util.h"
#include "kernels/common.h"

using namespace ff::data;
using ff::data::testing::make_image;
using ff::data::testing::pattern_image;
namespace pil = ff::data::testing::pil;

TEST_CASE("random resized crop: the box follows torchvision's formula with the stream's draws", "[data][image]") {
  const std::array<double, 2> scale = {0.08, 1.0};
  const std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  for (uint64_t index = 0; index < 200; ++index) {
    SampleRng rng(11, 2, index);
    SampleRng replay = rng;
    const CropRect box = random_resized_crop_params(90, 120, scale, ratio, rng);
    // The same draws by hand: area, log-ratio, then top and left when the box fits.
    CropRect expected{};
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double area = replay.uniform(0.08, 1.0) * (90.0 * 120.0);
      const double aspect = std::exp(replay.uniform(std::log(0.75), std::log(4.0 / 3.0)));
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(area * aspect)));
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(area / aspect)));
      if (w >= 1 && w <= 120 && h >= 1 && h <= 90) {
        expected.height = h;
        expected.width = w;
        expected.top = replay.randint(0, 90 - h);
        expected.left = replay.randint(0, 120 - w);
        found = true;
      }
    }
    REQUIRE(found);  // a 90x120 image always fits some box within 10 attempts for these seeds
    CHECK(box == expected);
    CHECK(rng.next_u32() == replay.next_u32());  // both consumed the same draws
  }
}

TEST_CASE("random resized crop: one box worked out by hand", "[data][image]") {
  // SampleRng(5, 0, 0) on a 100x80 (H x W) image. Its first two uniforms are u1 =
  // 0.652260221684944 and u2 = 0.003051581245816: area = (0.08 + 0.92 u1) * 8000 = 5440.635,
  // ratio = exp(log(3/4) + (log(4/3) - log(3/4)) u2) = 0.751318, w = round(sqrt(area ratio)) =
  // round(63.93) = 64 <= 80 and h = round(sqrt(area / ratio)) = round(85.10) = 85 <= 100: the
  // first attempt fits; then top = randint(0, 15) = 11 and left = randint(0, 16) = 9.
  SampleRng probe(5, 0, 0);
  REQUIRE(probe.uniform() == Approx(0.652260221684944).epsilon(1e-14));
  REQUIRE(probe.uniform() == Approx(0.003051581245816).epsilon(1e-12));
  REQUIRE(probe.randint(0, 15) == 11);
  REQUIRE(probe.randint(0, 16) == 9);
  SampleRng rng(5, 0, 0);
  const CropRect box = random_resized_crop_params(100, 80, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng);
  CHECK(box == CropRect{11, 9, 85, 64});
}

TEST_CASE("random resized crop: after 10 failed attempts the centre crop with the ratio clamped", "[data][image]") {
  // A 2x100 strip: every candidate is at least 3 rows high (area >= 16, ratio <= 4/3), so all
  // 10 attempts fail; the strip's ratio 50 is clamped to 4/3: h = 2, w = round(2 * 4/3) = 3.
  for (uint64_t index = 0; index < 20; ++index) {
    SampleRng rng(1, 0, index);
    CHECK(random_resized_crop_params(2, 100, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng) == CropRect{0, 48, 2, 3});
    CHECK(rng.blocks_read() == 10);  // 10 attempts x 2 uniforms x 2 words, 4 words a block; no randint
  }
  // Tall: ratio 0.02 < 3/4, so w = 2, h = round(2 / 0.75) = round(2.67) = 3, top = 97 // 2.
  SampleRng rng(1, 0, 0);
  CHECK(random_resized_crop_params(100, 2, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}, rng) == CropRect{48, 0, 3, 2});
  // Inside the ratio range the fallback is the whole image.
  CHECK(clamped_ratio_center_crop(30, 35, {3.0 / 4.0, 4.0 / 3.0}) == CropRect{0, 0, 30, 35});
  // Python's round is half to even: 3 / 0.4 and 5 / 0.4 are the doubles 7.5 and 12.5.
  CHECK(clamped_ratio_center_crop(7, 2, {0.5, 2.0}) == CropRect{1, 0, 4, 2});   // round(4.0)
  CHECK(clamped_ratio_center_crop(9, 3, {0.4, 2.0}) == CropRect{0, 0, 8, 3});   // round(7.5) = 8
  CHECK(clamped_ratio_center_crop(13, 5, {0.4, 2.0}) == CropRect{0, 0, 12, 5}); // round(12.5) = 12
}

TEST_CASE("horizontal flip mirrors each row", "[data][image]") {
  Image im = make_image(2, 3, 1, {1, 2, 3, 4, 5, 6});
  hflip(im);
  CHECK(im.pixels == std::vector<uint8_t>{3, 2, 1, 6, 5, 4});
  Image rgb = make_image(1, 2, 3, {1, 2, 3, 4, 5, 6});
  hflip(rgb);
  CHECK(rgb.pixels == std::vector<uint8_t>{4, 5, 6, 1, 2, 3});
}

TEST_CASE("resize: hand-computed bilinear upscale and antialiased bicubic downscale", "[data][image]") {
  ResizeScratch scratch;
  Image out;
  // [0, 100] to 4 columns: centres 0.25, 0.75, 1.25, 1.75 of the source; the triangle filter
  // gives weights (1), (0.75, 0.25), (0.25, 0.75), (1) (edge taps renormalised): 0, 25, 75, 100.
  resize(make_image(1, 2, 1, {0, 100}), out, 1, 4, Interpolation::kBilinear, scratch);
  CHECK(out.pixels == std::vector<uint8_t>{0, 25, 75, 100});
  // [0, 0, 100, 100] to 2 columns: the support widens to 4 (scale 2); output 0 weighs the
  // sources by bicubic((x - 0.5) / 2) = 0.8671875, 0.8671875, 0.2265625, -0.0703125 (sum
  // 1.890625): 100 * 0.15625 / 1.890625 = 8.26 -> 8; output 1 mirrored: 91.74 -> 92.
  resize(make_image(1, 4, 1, {0, 0, 100, 100}), out, 1, 2, Interpolation::kBicubic, scratch);
  CHECK(out.pixels == std::vector<uint8_t>{8, 92});
  // The widened support is what lets output 0 see source pixel 3 at all (a plain bicubic
  // of support 2 centred at 1.0 stops short of it).
  resize(make_image(1, 4, 1, {0, 0, 0, 100}), out, 1, 2, Interpolation::kBicubic, scratch);
  CHECK(out.pixels[0] == 0);  // weight -0.0703125 / 1.890625 on 100 -> -3.7, clipped to 0
  CHECK(out.pixels[1] == 46);  // 100 * 0.8671875 / 1.890625 = 45.87 -> 46
}

TEST_CASE("resize matches Pillow 9.4 (bicubic and bilinear, up and down, box, greyscale)", "[data][image]") {
  ResizeScratch scratch;
  Image out;
  resize(pattern_image(9, 11, 3), out, 4, 5, Interpolation::kBicubic, scratch);
  FF_CHECK_IMAGE(out, 4, 5, 3, pil::kResizeBicubicDown);
  resize(pattern_image(5, 4, 3), out, 9, 7, Interpolation::kBicubic, scratch);
  FF_CHECK_IMAGE(out, 9, 7, 3, pil::kResizeBicubicUp);
  resize(pattern_image(9, 11, 3), out, 4, 5, Interpolation::kBilinear, scratch);
  FF_CHECK_IMAGE(out, 4, 5, 3, pil::kResizeBilinearDown);
  resize(pattern_image(5, 4, 3), out, 9, 7, Interpolation::kBilinear, scratch);
  FF_CHECK_IMAGE(out, 9, 7, 3, pil::kResizeBilinearUp);
  const ResizeBox box{1.5, 0.25, 9.75, 8.5};
  resize(pattern_image(9, 11, 1), out, 3, 4, Interpolation::kBicubic, scratch, &box);
  FF_CHECK_IMAGE(out, 3, 4, 1, pil::kResizeBicubicBoxGrey);
  resize(pattern_image(12, 6, 3), out, 5, 9, Interpolation::kBicubic, scratch);
  FF_CHECK_IMAGE(out, 5, 9, 3, pil::kResizeBicubicMixed);
  // Same size and whole box: Pillow copies.
  const Image src = pattern_image(4, 5, 3);
  resize(src, out, 4, 5, Interpolation::kBicubic, scratch);
  CHECK(out.pixels == src.pixels);
}

TEST_CASE("resized crop equals torchvision's crop, resize and flip", "[data][image]") {
  ResizeScratch scratch;
  Image out;
  resized_crop(pattern_image(10, 12, 3), CropRect{2, 3, 6, 7}, 4, 4, Interpolation::kBicubic, true, out, scratch);
  FF_CHECK_IMAGE(out, 4, 4, 3, pil::kResizedCropFlip);
  resized_crop(pattern_image(28, 28, 1), CropRect{3, 5, 21, 17}, 28, 28, Interpolation::kBicubic, false, out, scratch);
  FF_CHECK_IMAGE(out, 28, 28, 1, pil::kResizedCropGrey);
  // The crop is resampled on its own: pixels outside it never contribute.
  Image framed = pattern_image(10, 12, 3);
  for (int64_t y = 0; y < 10; ++y) {
    for (int64_t x = 0; x < 12; ++x) {
      if (y < 2 || y >= 8 || x < 3 || x >= 10) std::fill_n(framed.at(y, x), 3, uint8_t{255});
    }
  }
  resized_crop(framed, CropRect{2, 3, 6, 7}, 4, 4, Interpolation::kBicubic, true, out, scratch);
  FF_CHECK_IMAGE(out, 4, 4, 3, pil::kResizedCropFlip);
}

TEST_CASE("eval geometry: short side resize and centre crop as torchvision", "[data][image]") {
  CHECK(short_side_resize_size(10, 14, 8) == std::array<int64_t, 2>{8, 11});    // int(8 * 14 / 10) = 11
  CHECK(short_side_resize_size(14, 10, 8) == std::array<int64_t, 2>{11, 8});
  CHECK(short_side_resize_size(375, 500, 256) == std::array<int64_t, 2>{256, 341});  // int(341.33)
  CHECK(short_side_resize_size(10, 10, 8) == std::array<int64_t, 2>{8, 8});
  // round((H - h) / 2) half to even: 2.5 -> 2, 3.5 -> 4, 58.5 -> 58 (341 - 224 = 117).
  CHECK(center_crop_rect(11, 8, 6, 8) == CropRect{2, 0, 6, 8});
  CHECK(center_crop_rect(13, 8, 6, 8) == CropRect{4, 0, 6, 8});
  CHECK(center_crop_rect(256, 341, 224, 224) == CropRect{16, 58, 224, 224});
  ResizeScratch scratch;
  Image out;
  resize_short_side_center_crop(pattern_image(10, 14, 3), 8, 6, 6, Interpolation::kBicubic, out, scratch);
  FF_CHECK_IMAGE(out, 6, 6, 3, pil::kEvalResizeCrop);
  // Computing only the crop's pixels equals resizing everything and cropping afterwards.
  const Image src = pattern_image(37, 50, 3);
  Image full;
  resize(src, full, 24, 32, Interpolation::kBicubic, scratch);
  resize_short_side_center_crop(src, 24, 20, 20, Interpolation::kBicubic, out, scratch);
  const CropRect c = center_crop_rect(24, 32, 20, 20);
  REQUIRE(c == CropRect{2, 6, 20, 20});
  std::vector<uint8_t> cropped;
  for (int64_t y = c.top; y < c.top + 20; ++y) {
    for (int64_t x = c.left; x < c.left + 20; ++x) cropped.insert(cropped.end(), full.at(y, x), full.at(y, x) + 3);
  }
  FF_CHECK_IMAGE(out, 20, 20, 3, cropped);
  // A short side already of the target length is not resampled.
  const Image square = pattern_image(8, 12, 1);
  resize_short_side_center_crop(square, 8, 8, 8, Interpolation::kBicubic, out, scratch);
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 8; ++x) CHECK(*out.at(y, x) == *square.at(y, x + 2));
  }
}

TEST_CASE("interpolation names and the random choice", "[data][image]") {
  CHECK(parse_interpolation("bicubic", "f") == Interpolation::kBicubic);
  CHECK(parse_interpolation("bilinear", "f") == Interpolation::kBilinear);
  CHECK(parse_interpolation("random", "f") == Interpolation::kRandom);
  CHECK_THROWS_AS(parse_interpolation("lanczos", "data.interpolation"), ff::UserError);
  CHECK_THROWS_WITH(parse_interpolation("lanczos", "data.interpolation"), Catch::Contains("data.interpolation"));
  int bicubic = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    SampleRng rng(3, 0, i);
    bicubic += resolve_interpolation(Interpolation::kRandom, rng) == Interpolation::kBicubic;
    SampleRng fixed(3, 0, i);
    CHECK(resolve_interpolation(Interpolation::kBilinear, fixed) == Interpolation::kBilinear);
    CHECK(fixed.blocks_read() == 0);  // no draw for a fixed interpolation
  }
  CHECK(bicubic > 440);
  CHECK(bicubic < 560);
}
