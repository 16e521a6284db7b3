// timm's Mixup / CutMix in batch mode (data/image/transforms_mixup.h) and the Beta variates.

#include "data/image/transforms_mixup.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/common.h"

using namespace ff::data;

namespace {
// a * x + b * y as PyTorch's mul_ then add_: two rounded products, then the sum. The volatile
// stores keep the compiler from fusing them (this file is built with contraction allowed).
float mix_rounded(float a, float x, float b, float y) {
  volatile float first = a * x;
  volatile float second = b * y;
  return first + second;
}
}  // namespace

TEST_CASE("cutmix lam correction for a fixed box", "[data][image]") {
  // lam 0.64 on 10x10: sides int(10 * 0.6) = 6, half 3. Centre (8, 1): rows [5, 11) -> [5, 10),
  // columns [-2, 4) -> [0, 4): the clipped box is 5 x 4 = 20 pixels, so lam = 1 - 20/100 = 0.8.
  MixParams p;
  p.y0 = 5;
  p.y1 = 10;
  p.x0 = 0;
  p.x1 = 4;
  CHECK(cutmix_corrected_lam(10, 10, p) == 0.8);
  // The box from lam with the stream's centre.
  for (uint64_t i = 0; i < 100; ++i) {
    SampleRng rng(1, 0, i, 0, RngStream::kBatch);
    SampleRng replay = rng;
    MixParams q;
    cutmix_box(10, 12, 0.64, rng, q);
    const int64_t cy = replay.below(10), cx = replay.below(12);
    CHECK(q.y0 == std::max<int64_t>(cy - 3, 0));
    CHECK(q.y1 == std::min<int64_t>(cy + 3, 10));
    CHECK(q.x0 == std::max<int64_t>(cx - 3, 0));  // int(12 * 0.6) = 7, 7 // 2 = 3
    CHECK(q.x1 == std::min<int64_t>(cx + 3, 12));
  }
}

TEST_CASE("mixup and cutmix targets: smoothed one-hots weighted by lam, summing to 1", "[data][image]") {
  MixupConfig cfg;
  cfg.num_classes = 5;
  const Mixup mix(cfg);
  const std::vector<int64_t> labels = {0, 3, 3, 1};
  std::vector<float> t(4 * 5);
  mix.targets(labels.data(), 4, 0.7, t.data());
  // off = 0.1 / 5 = 0.02, on = 0.92. Sample 0 (label 0) mixes with sample 3 (label 1).
  const float off = static_cast<float>(0.1 / 5), on = static_cast<float>(1.0 - 0.1 + 0.1 / 5);
  const float lam = 0.7f, rest = static_cast<float>(1.0 - 0.7);
  CHECK(t[0] == mix_rounded(on, lam, off, rest));
  CHECK(t[1] == mix_rounded(off, lam, on, rest));
  CHECK(t[2] == mix_rounded(off, lam, off, rest));
  CHECK(t[0] == Approx(0.65).epsilon(1e-6));
  CHECK(t[1] == Approx(0.29).epsilon(1e-6));
  CHECK(t[2] == Approx(0.02).epsilon(1e-6));
  // Samples 1 and 2 both have label 3: 0.92 on it.
  CHECK(t[5 + 3] == Approx(0.92).epsilon(1e-6));
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int k = 0; k < 5; ++k) s += t[static_cast<size_t>(i * 5 + k)];
    CHECK(s == Approx(1.0).epsilon(1e-6));
  }
  // lam = 1: plain label smoothing.
  mix.targets(labels.data(), 4, 1.0, t.data());
  CHECK(t[0] == on);
  CHECK(t[1] == off);
}

TEST_CASE("mixup mixes each sample with its mirror in float32, cutmix swaps the box", "[data][image]") {
  MixupConfig cfg;
  cfg.num_classes = 3;
  const Mixup mix(cfg);
  const int64_t B = 4, C = 2, H = 3, W = 4, N = C * H * W;
  std::vector<float> x(static_cast<size_t>(B * N));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) * 0.25f - 3.0f;
  const std::vector<float> original = x;
  const std::vector<int64_t> labels = {0, 1, 2, 1};
  std::vector<float> t(static_cast<size_t>(B * 3));
  MixParams p;
  p.lam = 0.3;
  mix.apply(x.data(), B, C, H, W, labels.data(), t.data(), p);
  const float lam = 0.3f, rest = static_cast<float>(1.0 - 0.3);
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t e = 0; e < N; ++e) {
      const float a = original[static_cast<size_t>(i * N + e)], b = original[static_cast<size_t>((B - 1 - i) * N + e)];
      REQUIRE(x[static_cast<size_t>(i * N + e)] == mix_rounded(a, lam, b, rest));
    }
  }
  // CutMix: rows [1, 3), columns [1, 3) come from the mirror, the rest stays.
  x = original;
  p = MixParams{};
  p.cutmix = true;
  p.y0 = 1;
  p.y1 = 3;
  p.x0 = 1;
  p.x1 = 3;
  p.lam = cutmix_corrected_lam(H, W, p);
  CHECK(p.lam == 1.0 - 4.0 / 12.0);
  mix.apply(x.data(), B, C, H, W, labels.data(), t.data(), p);
  for (int64_t i = 0; i < B; ++i) {
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t y = 0; y < H; ++y) {
        for (int64_t xx = 0; xx < W; ++xx) {
          const bool in_box = y >= 1 && y < 3 && xx >= 1 && xx < 3;
          const int64_t from = in_box ? B - 1 - i : i;
          const int64_t e = (c * H + y) * W + xx;
          REQUIRE(x[static_cast<size_t>(i * N + e)] == original[static_cast<size_t>(from * N + e)]);
        }
      }
    }
  }
  // Targets use the corrected lam: sample 0 (label 0) with sample 3 (label 1).
  const float on = static_cast<float>(1.0 - 0.1 + 0.1 / 3), off = static_cast<float>(0.1 / 3);
  CHECK(t[0] == mix_rounded(on, static_cast<float>(p.lam), off, static_cast<float>(1.0 - p.lam)));
  // Odd batches and bad labels are refused.
  CHECK_THROWS_AS(mix.apply(x.data(), 3, C, H, W, labels.data(), t.data(), p), ff::UserError);
  const std::vector<int64_t> bad = {0, 1, 7, 1};
  CHECK_THROWS_AS(mix.apply(x.data(), B, C, H, W, bad.data(), t.data(), p), ff::UserError);
}

TEST_CASE("batch parameters: the switch, Beta(alpha, alpha) lams and the corrected cutmix lam", "[data][image]") {
  MixupConfig cfg;  // DeiT: mixup 0.8, cutmix 1.0, switch 0.5, prob 1
  const Mixup mix(cfg);
  int cutmix = 0;
  double mix_sum = 0, mix_sum2 = 0;
  int mixups = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    SampleRng rng(8, 1, static_cast<uint64_t>(i), 0, RngStream::kBatch);
    const MixParams p = mix.sample(224, 224, rng);
    REQUIRE(p.lam >= 0.0);
    REQUIRE(p.lam <= 1.0);
    if (p.cutmix) {
      ++cutmix;
      REQUIRE(p.lam == cutmix_corrected_lam(224, 224, p));
      REQUIRE(p.y0 >= 0);
      REQUIRE(p.y1 <= 224);
      REQUIRE(p.x0 >= 0);
      REQUIRE(p.x1 <= 224);
    } else {
      ++mixups;
      mix_sum += p.lam;
      mix_sum2 += p.lam * p.lam;
    }
  }
  CHECK(std::abs(cutmix - n / 2) < 400);  // switch_prob 0.5, +- 5.6 sigma
  // Beta(0.8, 0.8): mean 1/2, variance 0.64 / (2.56 * 2.6) = 0.09615.
  const double mean = mix_sum / mixups;
  CHECK(mean == Approx(0.5).margin(0.01));
  CHECK(mix_sum2 / mixups - mean * mean == Approx(0.09615).margin(0.004));
  // prob 0: never mixed, lam 1.
  cfg.prob = 0;
  SampleRng rng(8, 1, 0, 0, RngStream::kBatch);
  CHECK(Mixup(cfg).sample(224, 224, rng).lam == 1.0);
  // Only cutmix.
  cfg.prob = 1;
  cfg.mixup_alpha = 0;
  SampleRng rng2(8, 1, 1, 0, RngStream::kBatch);
  CHECK(Mixup(cfg).sample(32, 32, rng2).cutmix);
  // minmax boxes: sides in [int(32 * 0.2), int(32 * 0.8)) = [6, 25).
  cfg.cutmix_minmax = std::array<double, 2>{0.2, 0.8};
  for (uint64_t i = 0; i < 200; ++i) {
    SampleRng r(8, 2, i, 0, RngStream::kBatch);
    const MixParams p = Mixup(cfg).sample(32, 32, r);
    REQUIRE(p.cutmix);
    CHECK(p.y1 - p.y0 >= 6);
    CHECK(p.y1 - p.y0 < 25);
    CHECK(p.y1 <= 32);
    CHECK(p.lam == cutmix_corrected_lam(32, 32, p));
  }
  cfg = MixupConfig{};
  cfg.mixup_alpha = 0;
  cfg.cutmix_alpha = 0;
  CHECK_THROWS_AS(Mixup(cfg), ff::UserError);
  cfg = MixupConfig{};
  cfg.num_classes = 1;
  CHECK_THROWS_WITH(Mixup(cfg, "data.mixup"), Catch::Contains("data.mixup"));
}

TEST_CASE("gamma and beta variates have the right moments", "[data][image]") {
  for (const double alpha : {0.3, 0.8, 1.0, 2.5, 9.0}) {
    INFO("alpha " << alpha);
    double s = 0, s2 = 0;
    const int n = 40000;
    SampleRng rng(4, 0, static_cast<uint64_t>(alpha * 10), 0, RngStream::kBatch);
    for (int i = 0; i < n; ++i) {
      const double g = gamma_variate(rng, alpha);
      REQUIRE(g > 0.0);
      s += g;
      s2 += g * g;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    // Gamma(alpha, 1): mean = variance = alpha; the standard error of the mean is sqrt(alpha / n).
    CHECK(std::abs(mean - alpha) < 5 * std::sqrt(alpha / n));
    CHECK(var == Approx(alpha).epsilon(0.05));
  }
  // Beta(2, 5): mean 2/7, variance 10 / (49 * 8).
  SampleRng rng(4, 1, 0, 0, RngStream::kBatch);
  double s = 0, s2 = 0;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const double b = beta_variate(rng, 2.0, 5.0);
    REQUIRE(b > 0.0);
    REQUIRE(b < 1.0);
    s += b;
    s2 += b * b;
  }
  CHECK(s / n == Approx(2.0 / 7.0).margin(0.004));
  CHECK(s2 / n - (s / n) * (s / n) == Approx(10.0 / 392.0).margin(0.001));
  // Tiny alphas stay finite (the log form), with mass near 0 and 1.
  SampleRng tiny(4, 2, 0, 0, RngStream::kBatch);
  for (int i = 0; i < 1000; ++i) {
    const double b = beta_variate(tiny, 0.01, 0.01);
    REQUIRE(std::isfinite(b));
    REQUIRE(b >= 0.0);
    REQUIRE(b <= 1.0);
  }
}
