#pragma once
// The float end of the image pipeline: torchvision's ToTensor + Normalize (uint8 HWC ->
// float CHW) and timm's RandomErasing on the normalised tensor.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/image/image.h"
#include "data/image/sample_rng.h"
#include "data/image/transforms_geometry.h"

namespace ff::data {

// ImageNet's statistics (timm's IMAGENET_DEFAULT_MEAN / _STD).
inline const std::vector<double> kImageNetMean = {0.485, 0.456, 0.406};
inline const std::vector<double> kImageNetStd = {0.229, 0.224, 0.225};

// timm's img_mean: the mean as bytes, round(255 mean) (half to even) capped at 255, the fill
// colour of RandAugment's geometric ops ((124, 116, 104) for ImageNet). Channels past
// mean.size() are 0.
std::array<uint8_t, 3> mean_as_bytes(const std::vector<double>& mean);

// out[c][y][x] = (v / 255 - mean[c]) / std[c] in float32, exactly as ToTensor then Normalize
// (a table of the 256 values per channel).
class Normalizer {
 public:
  // mean and std: one value per channel (1 or 3), std > 0; ff::UserError naming `field`.
  Normalizer(std::vector<double> mean, std::vector<double> std, std::string_view field = "normalize");
  int64_t channels() const { return static_cast<int64_t>(luts_.size()); }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& stddev() const { return std_; }
  // image: (H, W, C) with C == channels(); out: (C, H, W).
  void operator()(const Image& image, float* out) const;

 private:
  std::vector<double> mean_, std_;
  std::vector<std::array<float, 256>> luts_;
};

enum class EraseMode { kConst, kRand, kPixel };
// "const" (zeros), "rand" (one N(0, 1) value per channel), "pixel" (N(0, 1) per value).
EraseMode parse_erase_mode(std::string_view name, std::string_view field);

struct RandomErasingConfig {
  double probability = 0.25;  // DeiT's reprob (timm's default is 0.5)
  double min_area = 0.02;     // of the image, per region
  double max_area = 1.0 / 3.0;
  double min_aspect = 0.3;
  double max_aspect = 0;  // 0: 1 / min_aspect
  EraseMode mode = EraseMode::kPixel;
  int64_t min_count = 1;
  int64_t max_count = 0;  // 0: min_count
};

// timm's RandomErasing on one (C, H, W) tensor, in place: with probability `probability`,
// count regions (count uniform in [min_count, max_count]); each takes up to 10 attempts of
// area U(min_area, max_area) * H * W / count and aspect exp(U(log min_aspect, log max_aspect)),
// h = round(sqrt(area * aspect)), w = round(sqrt(area / aspect)), accepted when w < W and
// h < H, at top = randint(0, H - h), left = randint(0, W - w).
class RandomErasing {
 public:
  explicit RandomErasing(RandomErasingConfig cfg, std::string_view field = "random_erasing");
  const RandomErasingConfig& config() const { return cfg_; }
  // Returns the number of regions erased; their rectangles are appended to `regions` when
  // given.
  int64_t operator()(float* x, int64_t channels, int64_t height, int64_t width, SampleRng& rng,
                     std::vector<CropRect>* regions = nullptr) const;

 private:
  RandomErasingConfig cfg_;
  double log_aspect_lo_ = 0, log_aspect_hi_ = 0;
};

}  // namespace ff::data
