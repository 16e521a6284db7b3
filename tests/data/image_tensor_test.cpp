// ToTensor + Normalize and timm's RandomErasing (data/image/transforms_tensor.h).

#include "data/image/transforms_tensor.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "image_test_util.h"
#include "kernels/common.h"

using namespace ff::data;
using ff::data::testing::make_image;

TEST_CASE("normalisation is ToTensor then Normalize in float32, HWC to CHW", "[data][image]") {
  const Normalizer norm(kImageNetMean, kImageNetStd);
  const Image im = make_image(1, 2, 3, {0, 128, 255, 10, 20, 30});
  std::vector<float> out(6);
  norm(im, out.data());
  // (v / 255 - mean) / std, each step rounded to float.
  const auto f = [](int v, double m, double s) {
    return (static_cast<float>(v) / 255.0f - static_cast<float>(m)) / static_cast<float>(s);
  };
  CHECK(out[0] == f(0, 0.485, 0.229));    // channel 0, pixel 0
  CHECK(out[1] == f(10, 0.485, 0.229));   // channel 0, pixel 1
  CHECK(out[2] == f(128, 0.456, 0.224));  // channel 1
  CHECK(out[3] == f(20, 0.456, 0.224));
  CHECK(out[4] == f(255, 0.406, 0.225));  // channel 2
  CHECK(out[5] == f(30, 0.406, 0.225));
  CHECK(out[0] == Approx(-2.1179039).epsilon(1e-6));  // -0.485 / 0.229
  CHECK(out[4] == Approx(2.64).epsilon(1e-6));        // (1 - 0.406) / 0.225
  // Greyscale with one mean and std.
  const Normalizer grey({0.5}, {0.25});
  std::vector<float> g(2);
  grey(make_image(1, 2, 1, {0, 255}), g.data());
  CHECK(g == std::vector<float>{-2.0f, 2.0f});
  // Channel mismatches and bad statistics are user errors naming the field.
  CHECK_THROWS_AS(norm(make_image(1, 1, 1, {0}), g.data()), ff::UserError);
  CHECK_THROWS_WITH(Normalizer({0.5, 0.5}, {0.2, 0.2}, "data.mean"), Catch::Contains("data.mean"));
  CHECK_THROWS_AS(Normalizer({0.5}, {0.0}), ff::UserError);
  CHECK_THROWS_AS(Normalizer({0.5, 0.5, 0.5}, {0.2}), ff::UserError);
  CHECK(mean_as_bytes(kImageNetMean) == std::array<uint8_t, 3>{124, 116, 104});
  CHECK(mean_as_bytes({0.5}) == std::array<uint8_t, 3>{128, 0, 0});  // round(127.5) = 128 (half to even)
  CHECK(mean_as_bytes({0.2860}) == std::array<uint8_t, 3>{73, 0, 0});  // Fashion-MNIST's mean: 72.93
}

namespace {
constexpr float kUnset = 1000.0f;
}

TEST_CASE("random erasing: the region is inside the image, follows timm's formula, and holds N(0, 1) values",
          "[data][image]") {
  RandomErasingConfig cfg;  // DeiT: p 0.25, pixel mode, one region
  const RandomErasing erase(cfg);
  const int64_t C = 3, H = 24, W = 20;
  std::vector<float> x(static_cast<size_t>(C * H * W));
  int erased_images = 0;
  double sum = 0, sum2 = 0;
  int64_t values = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    std::fill(x.begin(), x.end(), kUnset);
    SampleRng rng(21, 0, i);
    SampleRng replay = rng;
    std::vector<CropRect> regions;
    const int64_t count = erase(x.data(), C, H, W, rng, &regions);
    // Replay timm's draws: the probability, then attempts of (area, log aspect) until one fits.
    const bool hit = !(replay.uniform() > 0.25);
    REQUIRE(count == (hit ? 1 : 0));
    REQUIRE(regions.size() == static_cast<size_t>(count));
    if (!hit) {
      CHECK(std::all_of(x.begin(), x.end(), [](float v) { return v == kUnset; }));
      continue;
    }
    ++erased_images;
    CropRect expected{};
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double area = replay.uniform(0.02, 1.0 / 3.0) * static_cast<double>(H * W) / 1.0;
      const double aspect = std::exp(replay.uniform(std::log(0.3), std::log(1 / 0.3)));
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(area * aspect)));
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(area / aspect)));
      if (w < W && h < H) {
        expected = CropRect{replay.randint(0, H - h), replay.randint(0, W - w), h, w};
        break;
      }
    }
    const CropRect r = regions[0];
    CHECK(r == expected);
    REQUIRE(r.top >= 0);
    REQUIRE(r.left >= 0);
    REQUIRE(r.top + r.height <= H);
    REQUIRE(r.left + r.width <= W);
    // Inside every channel: noise; outside: untouched.
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t y = 0; y < H; ++y) {
        for (int64_t xx = 0; xx < W; ++xx) {
          const float v = x[static_cast<size_t>((c * H + y) * W + xx)];
          const bool inside = y >= r.top && y < r.top + r.height && xx >= r.left && xx < r.left + r.width;
          if (!inside) {
            REQUIRE(v == kUnset);
          } else {
            REQUIRE(std::abs(v) < 7.0f);
            sum += v;
            sum2 += static_cast<double>(v) * v;
            ++values;
          }
        }
      }
    }
  }
  CHECK(std::abs(erased_images - 500) < 70);  // p = 0.25 of 2000, +- 3.6 sigma
  REQUIRE(values > 50000);
  const double mean = sum / static_cast<double>(values);
  const double var = sum2 / static_cast<double>(values) - mean * mean;
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::abs(var - 1.0) < 0.03);
}

TEST_CASE("random erasing modes, counts and validation", "[data][image]") {
  const int64_t C = 2, H = 16, W = 16;
  std::vector<float> x(static_cast<size_t>(C * H * W));
  RandomErasingConfig cfg;
  cfg.probability = 1.0;
  cfg.mode = EraseMode::kConst;
  std::fill(x.begin(), x.end(), kUnset);
  SampleRng rng(3, 0, 0);
  std::vector<CropRect> regions;
  REQUIRE(RandomErasing(cfg)(x.data(), C, H, W, rng, &regions) == 1);
  const CropRect r = regions[0];
  int64_t zeros = 0;
  for (float v : x) zeros += v == 0.0f;
  CHECK(zeros == C * r.height * r.width);
  // 'rand': one value per channel over the region.
  cfg.mode = EraseMode::kRand;
  std::fill(x.begin(), x.end(), kUnset);
  regions.clear();
  SampleRng rng2(3, 0, 1);
  REQUIRE(RandomErasing(cfg)(x.data(), C, H, W, rng2, &regions) == 1);
  const CropRect q = regions[0];
  REQUIRE(q.height * q.width > 1);
  for (int64_t c = 0; c < C; ++c) {
    const float first = x[static_cast<size_t>((c * H + q.top) * W + q.left)];
    CHECK(first != kUnset);
    for (int64_t y = q.top; y < q.top + q.height; ++y) {
      for (int64_t xx = q.left; xx < q.left + q.width; ++xx) CHECK(x[static_cast<size_t>((c * H + y) * W + xx)] == first);
    }
  }
  // Several regions: min_count = max_count = 3 erases three times with a third of the area each.
  cfg.min_count = cfg.max_count = 3;
  regions.clear();
  SampleRng rng3(3, 0, 2);
  CHECK(RandomErasing(cfg)(x.data(), C, H, W, rng3, &regions) == 3);
  // Probability 0 never erases (but still draws, as timm).
  cfg.probability = 0;
  cfg.min_count = cfg.max_count = 1;
  std::fill(x.begin(), x.end(), kUnset);
  SampleRng rng4(3, 0, 3);
  CHECK(RandomErasing(cfg)(x.data(), C, H, W, rng4) == 0);
  CHECK(std::all_of(x.begin(), x.end(), [](float v) { return v == kUnset; }));
  cfg.probability = 1.5;
  CHECK_THROWS_WITH(RandomErasing(cfg, "data.reprob"), Catch::Contains("data.reprob"));
  cfg.probability = 0.25;
  cfg.min_area = 0.5;
  cfg.max_area = 0.1;
  CHECK_THROWS_AS(RandomErasing(cfg), ff::UserError);
  CHECK(parse_erase_mode("pixel", "f") == EraseMode::kPixel);
  CHECK_THROWS_WITH(parse_erase_mode("noise", "data.remode"), Catch::Contains("data.remode"));
}
