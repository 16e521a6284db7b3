// Compiled with -ffp-contract=off (data/CMakeLists.txt): the normalisation is torchvision's
// float32 divide, subtract, divide, and no contraction may merge them.

#include "data/image/transforms_tensor.h"

#include <algorithm>
#include <cmath>

#include "kernels/common.h"

namespace ff::data {

std::array<uint8_t, 3> mean_as_bytes(const std::vector<double>& mean) {
  std::array<uint8_t, 3> out = {0, 0, 0};
  for (size_t c = 0; c < std::min<size_t>(mean.size(), 3); ++c) {
    out[c] = static_cast<uint8_t>(std::clamp(std::nearbyint(255.0 * mean[c]), 0.0, 255.0));
  }
  return out;
}

Normalizer::Normalizer(std::vector<double> mean, std::vector<double> std, std::string_view field)
    : mean_(std::move(mean)), std_(std::move(std)) {
  FF_USER_CHECK(mean_.size() == 1 || mean_.size() == 3, "{}: mean needs 1 or 3 values (one per channel), got {}",
                field, mean_.size());
  FF_USER_CHECK(std_.size() == mean_.size(), "{}: std needs {} values like mean, got {}", field, mean_.size(),
                std_.size());
  luts_.resize(mean_.size());
  for (size_t c = 0; c < mean_.size(); ++c) {
    FF_USER_CHECK(std::isfinite(mean_[c]), "{}: mean[{}] must be finite, got {}", field, c, mean_[c]);
    FF_USER_CHECK(std_[c] > 0 && std::isfinite(std_[c]), "{}: std[{}] must be > 0, got {}", field, c, std_[c]);
    const auto m = static_cast<float>(mean_[c]);
    const auto s = static_cast<float>(std_[c]);
    for (int v = 0; v < 256; ++v) luts_[c][v] = (static_cast<float>(v) / 255.0f - m) / s;
  }
}

void Normalizer::operator()(const Image& image, float* out) const {
  const int64_t C = image.channels;
  FF_USER_CHECK(C == channels(), "normalize: a {}-channel image with a {}-channel mean and std", C, channels());
  const int64_t plane = image.height * image.width;
  const uint8_t* p = image.pixels.data();
  for (int64_t c = 0; c < C; ++c) {
    const float* lut = luts_[static_cast<size_t>(c)].data();
    float* o = out + c * plane;
    for (int64_t i = 0; i < plane; ++i) o[i] = lut[p[i * C + c]];
  }
}

EraseMode parse_erase_mode(std::string_view name, std::string_view field) {
  if (name == "const") return EraseMode::kConst;
  if (name == "rand") return EraseMode::kRand;
  if (name == "pixel") return EraseMode::kPixel;
  throw UserError(fmt::format("{}: unknown erasing mode '{}' (expected const, rand or pixel)", field, name));
}

RandomErasing::RandomErasing(RandomErasingConfig cfg, std::string_view field) : cfg_(cfg) {
  FF_USER_CHECK(cfg_.probability >= 0 && cfg_.probability <= 1, "{}: the probability must be in [0, 1], got {}",
                field, cfg_.probability);
  FF_USER_CHECK(cfg_.min_area > 0 && cfg_.min_area <= cfg_.max_area && cfg_.max_area <= 1,
                "{}: the area range must satisfy 0 < min_area <= max_area <= 1, got [{}, {}]", field, cfg_.min_area,
                cfg_.max_area);
  if (cfg_.max_aspect == 0) cfg_.max_aspect = 1.0 / cfg_.min_aspect;
  FF_USER_CHECK(cfg_.min_aspect > 0 && cfg_.min_aspect <= cfg_.max_aspect && std::isfinite(cfg_.max_aspect),
                "{}: the aspect range must satisfy 0 < min_aspect <= max_aspect, got [{}, {}]", field,
                cfg_.min_aspect, cfg_.max_aspect);
  if (cfg_.max_count == 0) cfg_.max_count = cfg_.min_count;
  FF_USER_CHECK(cfg_.min_count >= 1 && cfg_.min_count <= cfg_.max_count,
                "{}: the region count must satisfy 1 <= min_count <= max_count, got [{}, {}]", field, cfg_.min_count,
                cfg_.max_count);
  log_aspect_lo_ = std::log(cfg_.min_aspect);
  log_aspect_hi_ = std::log(cfg_.max_aspect);
}

int64_t RandomErasing::operator()(float* x, int64_t channels, int64_t height, int64_t width, SampleRng& rng,
                                  std::vector<CropRect>* regions) const {
  if (rng.uniform() > cfg_.probability) return 0;
  const auto area = static_cast<double>(height * width);
  const int64_t count =
      cfg_.min_count == cfg_.max_count ? cfg_.min_count : rng.randint(cfg_.min_count, cfg_.max_count);
  const int64_t plane = height * width;
  int64_t erased = 0;
  for (int64_t region = 0; region < count; ++region) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target_area = rng.uniform(cfg_.min_area, cfg_.max_area) * area / static_cast<double>(count);
      const double aspect = std::exp(rng.uniform(log_aspect_lo_, log_aspect_hi_));
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
      if (!(w < width && h < height)) continue;
      const int64_t top = rng.randint(0, height - h);
      const int64_t left = rng.randint(0, width - w);
      // timm writes (C, h, w) values: one normal each (pixel), one per channel (rand) or 0.
      for (int64_t c = 0; c < channels; ++c) {
        float per_channel = 0.0f;
        if (cfg_.mode == EraseMode::kRand) rng.fill_normal(&per_channel, 1);
        for (int64_t y = top; y < top + h; ++y) {
          float* row = x + c * plane + y * width + left;
          if (cfg_.mode == EraseMode::kPixel) {
            rng.fill_normal(row, w);
          } else {
            std::fill(row, row + w, per_channel);
          }
        }
      }
      if (regions) regions->push_back(CropRect{top, left, h, w});
      ++erased;
      break;
    }
  }
  return erased;
}

}  // namespace ff::data
