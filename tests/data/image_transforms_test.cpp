// The whole DeiT train and eval transforms (data/image/transforms.h): composition, the
// independence of a sample's result from threads and order, greyscale 28x28 data, validation.

#include "data/image/transforms.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "image_pil_expected.h"
#include "image_test_util.h"
#include "kernels/common.h"

using namespace ff::data;
using ff::data::testing::pattern_image;
namespace pil = ff::data::testing::pil;

namespace {
TrainTransformConfig small_train(int64_t size) {
  TrainTransformConfig cfg;
  cfg.image_size = size;
  cfg.reprob = 1.0;  // always erase, to see it
  return cfg;
}
}  // namespace

TEST_CASE("train transform = crop, resize, flip, RandAugment, normalise, erase with one stream", "[data][image]") {
  const TrainTransformConfig cfg = small_train(16);
  const TrainTransform transform(cfg);
  REQUIRE(transform.rand_augment().has_value());
  CHECK(transform.rand_augment()->config().fill == FillColor{124, 116, 104});
  CHECK(transform.rand_augment()->config().interpolation == Interpolation::kBicubic);
  const Image src = pattern_image(30, 40, 3);
  TransformScratch scratch;
  for (uint64_t i = 0; i < 40; ++i) {
    SampleRng rng(3, 1, i);
    SampleRng replay = rng;
    std::vector<float> out(3 * 16 * 16);
    transform(src, rng, out.data(), scratch);
    // The same stages by hand from a copy of the stream.
    const CropRect crop = random_resized_crop_params(30, 40, cfg.scale, cfg.ratio, replay);
    const bool flip = replay.uniform() < 0.5;
    Image im, tmp;
    ResizeScratch rs;
    resized_crop(src, crop, 16, 16, Interpolation::kBicubic, flip, im, rs);
    (*transform.rand_augment())(im, replay, tmp);
    std::vector<float> expected(out.size());
    Normalizer(kImageNetMean, kImageNetStd)(im, expected.data());
    RandomErasingConfig always;
    always.probability = 1.0;
    const RandomErasing erase(always);
    erase(expected.data(), 3, 16, 16, replay);
    REQUIRE(out == expected);
    CHECK(rng.next_u32() == replay.next_u32());
  }
}

TEST_CASE("train transform from a pre-drawn crop: exact at full size, close on a half-size decode", "[data][image]") {
  TrainTransformConfig cfg = small_train(16);
  cfg.auto_augment = "";  // geometry alone, so the scaled path's only difference is the decode
  cfg.reprob = 0;
  const TrainTransform transform(cfg);
  // A smooth image (a gradient with a gentle wave), as photos mostly are at this scale.
  Image src = Image::zeros(64, 80, 3);
  for (int64_t y = 0; y < 64; ++y)
    for (int64_t x = 0; x < 80; ++x)
      for (int64_t c = 0; c < 3; ++c)
        src.at(y, x, c) = static_cast<uint8_t>(40 + 2 * x + y + 20 * c + 10 * std::sin(0.2 * static_cast<double>(x + y)));
  // A half-size "decode": each output pixel the mean of a 2x2 block (what DCT scaling approximates).
  Image half = Image::zeros(32, 40, 3);
  for (int64_t y = 0; y < 32; ++y)
    for (int64_t x = 0; x < 40; ++x)
      for (int64_t c = 0; c < 3; ++c)
        half.at(y, x, c) = static_cast<uint8_t>((src.at(2 * y, 2 * x, c) + src.at(2 * y + 1, 2 * x, c) +
                                                  src.at(2 * y, 2 * x + 1, c) + src.at(2 * y + 1, 2 * x + 1, c) + 2) /
                                                 4);
  TransformScratch scratch;
  double worst = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    std::vector<float> direct(3 * 16 * 16), from_full(direct.size()), from_half(direct.size());
    SampleRng a(5, 0, i), b(5, 0, i), c(5, 0, i);
    transform(src, a, direct.data(), scratch);
    const CropRect crop_b = transform.draw_crop(64, 80, b);
    transform.from_crop(src, 64, 80, crop_b, b, from_full.data(), scratch);
    REQUIRE(from_full == direct);  // the same draws, the same pixels
    CHECK(a.next_u32() == b.next_u32());
    const CropRect crop_c = transform.draw_crop(64, 80, c);
    CHECK(crop_c == crop_b);
    transform.from_crop(half, 64, 80, crop_c, c, from_half.data(), scratch);
    double diff = 0;
    for (size_t k = 0; k < direct.size(); ++k) diff += std::abs(direct[k] - from_half[k]);
    worst = std::max(worst, diff / static_cast<double>(direct.size()));
  }
  // Normalised units (1/(255 * 0.22) per grey level): a smooth image loses little at half size.
  INFO("worst mean |difference| " << worst);
  CHECK(worst < 0.05);  // measured 0.012, about 0.7 grey levels
  CHECK(worst > 0.0);
}

TEST_CASE("a sample's result depends on (seed, epoch, index, repeat) only, not on threads or order", "[data][image]") {
  const TrainTransform transform(TrainTransformConfig{.image_size = 32});
  std::vector<Image> images;
  for (int i = 0; i < 12; ++i) images.push_back(pattern_image(40 + i, 50 - i, 3));
  const int64_t plane = 3 * 32 * 32;
  std::vector<SampleRef> refs;
  for (int64_t i = 0; i < 12; ++i) refs.push_back(SampleRef{i, static_cast<uint32_t>(i % 3)});
  // In order, on one thread.
  std::vector<float> sequential(static_cast<size_t>(12 * plane));
  TransformScratch scratch;
  for (size_t k = 0; k < refs.size(); ++k) {
    transform(images[k], 99, 4, refs[k], sequential.data() + static_cast<int64_t>(k) * plane, scratch);
  }
  // Reversed, on three threads sharing the transform, each with its own scratch.
  std::vector<float> threaded(sequential.size(), -7.0f);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      TransformScratch own;
      for (int k = 11 - t; k >= 0; k -= 3) {
        transform(images[static_cast<size_t>(k)], 99, 4, refs[static_cast<size_t>(k)], threaded.data() + k * plane, own);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(threaded == sequential);
  // Another epoch, repeat or seed changes the sample.
  std::vector<float> other(static_cast<size_t>(plane));
  transform(images[0], 99, 5, refs[0], other.data(), scratch);
  CHECK(!std::equal(other.begin(), other.end(), sequential.begin()));
  transform(images[0], 99, 4, SampleRef{0, 1}, other.data(), scratch);
  CHECK(!std::equal(other.begin(), other.end(), sequential.begin()));
  transform(images[0], 98, 4, refs[0], other.data(), scratch);
  CHECK(!std::equal(other.begin(), other.end(), sequential.begin()));
}

TEST_CASE("28x28 greyscale: crop scale (0.5, 1), flip, RandAugment as Pillow's mode L", "[data][image]") {
  TrainTransformConfig cfg;
  cfg.image_size = 28;
  cfg.scale = {0.5, 1.0};
  cfg.mean = {0.2860};
  cfg.std = {0.3530};
  cfg.reprob = 0;
  const TrainTransform transform(cfg);
  CHECK(transform.channels() == 1);
  CHECK(transform.rand_augment()->config().fill[0] == 73);  // round(255 * 0.286)
  const Image src = pattern_image(28, 28, 1);
  TransformScratch scratch;
  int flipped = 0, whole = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    SampleRng rng(1, 0, i);
    SampleRng replay = rng;
    Image out;
    transform.augment(src, rng, out, scratch);
    const CropRect crop = random_resized_crop_params(28, 28, cfg.scale, cfg.ratio, replay);
    CHECK(crop.height * crop.width >= 360);  // 0.5 * 784 less the rounding of both sides
    const bool flip = replay.uniform() < 0.5;
    flipped += flip;
    whole += crop == CropRect{0, 0, 28, 28};
    Image expected, tmp;
    ResizeScratch rs;
    resized_crop(src, crop, 28, 28, Interpolation::kBicubic, flip, expected, rs);
    (*transform.rand_augment())(expected, replay, tmp);
    FF_CHECK_IMAGE(out, 28, 28, 1, expected.pixels);
  }
  CHECK(std::abs(flipped - 150) < 40);
  CHECK(whole < 30);
  // Without RandAugment and flip, a crop of the Pillow case gives Pillow's crop + resize of
  // mode L (a stream whose box is that one is searched for; the box needs scale < 0.46).
  cfg.scale = {0.08, 1.0};
  cfg.auto_augment = "";
  cfg.hflip = 0;
  const TrainTransform plain(cfg);
  bool found = false;
  for (uint64_t i = 0; i < 2000000 && !found; ++i) {
    SampleRng probe(2, 0, i);
    if (random_resized_crop_params(28, 28, cfg.scale, cfg.ratio, probe) != CropRect{3, 5, 21, 17}) continue;
    found = true;
    SampleRng rng(2, 0, i);
    Image out;
    plain.augment(src, rng, out, scratch);
    FF_CHECK_IMAGE(out, 28, 28, 1, pil::kResizedCropGrey);
  }
  CHECK(found);
}

TEST_CASE("eval transform: DeiT's resize 256 and centre crop 224, normalised", "[data][image]") {
  const EvalTransform deit(EvalTransformConfig{});
  CHECK(deit.resize_size() == 256);  // int(224 / 0.875)
  EvalTransformConfig cfg;
  cfg.image_size = 6;
  cfg.crop_pct = 0.75;  // floor(6 / 0.75) = 8: the Pillow case of the geometry tests
  const EvalTransform eval(cfg);
  CHECK(eval.resize_size() == 8);
  TransformScratch scratch;
  Image cropped;
  eval.crop(pattern_image(10, 14, 3), cropped, scratch);
  FF_CHECK_IMAGE(cropped, 6, 6, 3, pil::kEvalResizeCrop);
  std::vector<float> out(3 * 6 * 6), expected(out.size());
  eval(pattern_image(10, 14, 3), out.data(), scratch);
  Normalizer(kImageNetMean, kImageNetStd)(cropped, expected.data());
  CHECK(out == expected);
  // Small images without resizing: the centre crop only (the 28x28 case is the identity).
  cfg = EvalTransformConfig{.image_size = 28, .resize = false, .mean = {0.5}, .std = {0.5}};
  const EvalTransform small(cfg);
  const Image digit = pattern_image(28, 28, 1);
  small.crop(digit, cropped, scratch);
  CHECK(cropped.pixels == digit.pixels);
  CHECK_THROWS_AS(small.crop(pattern_image(20, 28, 1), cropped, scratch), ff::UserError);
}

TEST_CASE("transform configs are validated, errors name the field", "[data][image]") {
  // Each case breaks one field of the defaults; the error names it under the given prefix.
  const std::vector<std::pair<void (*)(TrainTransformConfig&), const char*>> cases = {
      {[](TrainTransformConfig& c) { c.scale = {0.5, 0.2}; }, "data.train.scale"},
      {[](TrainTransformConfig& c) { c.ratio = {0, 1}; }, "data.train.ratio"},
      {[](TrainTransformConfig& c) { c.hflip = 2; }, "data.train.hflip"},
      {[](TrainTransformConfig& c) { c.auto_augment = "rand-m9-zz"; }, "data.train.auto_augment"},
      {[](TrainTransformConfig& c) { c.interpolation = "nearest"; }, "data.train.interpolation"},
      {[](TrainTransformConfig& c) { c.remode = "blur"; }, "data.train.remode"},
      {[](TrainTransformConfig& c) { c.reprob = -0.1; }, "data.train.reprob"},
      {[](TrainTransformConfig& c) { c.recount = 0; }, "data.train.recount"},
      {[](TrainTransformConfig& c) { c.mean = {0.5, 0.5}; }, "data.train.mean"},
      {[](TrainTransformConfig& c) { c.image_size = 0; }, "data.train.image_size"},
  };
  for (const auto& [breaks, field] : cases) {
    TrainTransformConfig cfg;
    breaks(cfg);
    CHECK_THROWS_WITH(TrainTransform(cfg, "data.train"), Catch::Contains(field));
  }
  EvalTransformConfig e;
  e.crop_pct = 1.5;
  CHECK_THROWS_WITH(EvalTransform(e, "data.eval"), Catch::Contains("data.eval.crop_pct"));
  e = EvalTransformConfig{};
  e.interpolation = "random";
  CHECK_THROWS_WITH(EvalTransform(e, "data.eval"), Catch::Contains("data.eval.interpolation"));
  // A greyscale image through an RGB transform is a user error, not a crash.
  const TrainTransform rgb(TrainTransformConfig{});
  TransformScratch scratch;
  std::vector<float> out(3 * 224 * 224);
  SampleRng rng(0, 0, 0);
  CHECK_THROWS_AS(rgb(pattern_image(30, 30, 1), rng, out.data(), scratch), ff::UserError);
}

TEST_CASE("train and eval transforms: time per image on one thread", "[.bench]") {
  const TrainTransform train(TrainTransformConfig{});
  const EvalTransform eval(EvalTransformConfig{});
  const Image src = pattern_image(375, 500, 3);  // a typical ImageNet photo size
  TransformScratch scratch;
  std::vector<float> out(3 * 224 * 224);
  const auto time = [&](auto&& f, int n) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f(i);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / n;
  };
  const double t_train = time(
      [&](int i) { train(src, 1, 0, SampleRef{i, 0}, out.data(), scratch); }, 300);
  const double t_eval = time([&](int) { eval(src, out.data(), scratch); }, 300);
  WARN("train transform " << 1e3 * t_train << " ms/image, eval " << 1e3 * t_eval << " ms/image (375x500 RGB)");
  CHECK(t_train > 0);
}
