#pragma once
// The DeiT image pipelines, one sample at a time, as host code.
//
// Train (timm's transforms_imagenet_train as DeiT calls it): random resized crop to
// image_size (bicubic), horizontal flip (p 0.5), RandAugment rand-m9-mstd0.5-inc1 (bicubic,
// fill = the mean as bytes), ToTensor + Normalize, random erasing (p 0.25, pixel mode).
// Eval (DeiT's build_transform): resize the short side to floor(image_size / crop_pct)
// (bicubic), centre crop image_size, ToTensor + Normalize.
// Mixup / CutMix act on whole batches: data/image/transforms_mixup.h.
//
// A sample's randomness is its SampleRng (seed, epoch, index, repeat): the result does not
// depend on threads or order. Scratch buffers are per thread; transforms are const.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/image/image.h"
#include "data/image/sample_rng.h"
#include "data/image/samplers.h"
#include "data/image/transforms_geometry.h"
#include "data/image/transforms_randaugment.h"
#include "data/image/transforms_tensor.h"

namespace ff::data {

struct TrainTransformConfig {
  int64_t image_size = 224;                          // output side (square)
  bool random_resized_crop = true;                   // false: the whole image resized to image_size
  std::array<double, 2> scale = {0.08, 1.0};         // crop area range, fraction of the image
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  double hflip = 0.5;                                // probability; 0 turns the flip off
  std::string auto_augment = "rand-m9-mstd0.5-inc1";  // timm's RandAugment string; "" turns it off
  std::string interpolation = "bicubic";             // crop resize and RandAugment: bilinear|bicubic|random
  std::vector<double> mean = kImageNetMean;          // per channel: 3 values, or 1 for greyscale
  std::vector<double> std = kImageNetStd;
  double reprob = 0.25;                              // random erasing probability; 0 turns it off
  std::string remode = "pixel";                      // const|rand|pixel
  int64_t recount = 1;                               // erased regions per image
};

struct EvalTransformConfig {
  int64_t image_size = 224;
  double crop_pct = 0.875;  // the short side is resized to floor(image_size / crop_pct) = 256
  bool resize = true;       // false: centre crop only (the image must be at least image_size)
  std::string interpolation = "bicubic";
  std::vector<double> mean = kImageNetMean;
  std::vector<double> std = kImageNetStd;
};

// The images a transform reuses between samples (one per thread).
struct TransformScratch {
  Image image, other;
  ResizeScratch resize;
};

class TrainTransform {
 public:
  // Validates every field; an ff::UserError names `where`.field and the value.
  explicit TrainTransform(TrainTransformConfig cfg, std::string_view where = "train_transform");

  const TrainTransformConfig& config() const { return cfg_; }
  int64_t image_size() const { return cfg_.image_size; }
  int64_t channels() const { return normalize_.channels(); }
  const std::optional<RandAugment>& rand_augment() const { return rand_augment_; }

  // The uint8 stages: crop + resize + flip, then RandAugment. src: (H, W, C) with C ==
  // channels(); out: (image_size, image_size, C).
  void augment(const Image& src, SampleRng& rng, Image& out, TransformScratch& scratch) const;
  // The whole transform. out: (C, image_size, image_size) float, normalised and erased.
  void operator()(const Image& src, SampleRng& rng, float* out, TransformScratch& scratch) const;

  // For decoders that reduce while decoding (JPEG's DCT scaling, data/image/jpeg.h): the crop
  // box is drawn first, on the full (height, width), with augment()'s first draw...
  CropRect draw_crop(int64_t height, int64_t width, SampleRng& rng) const;
  // ...the image is then decoded at the smallest scale that keeps the crop at least image_size
  // pixels wide and high (its own side when the crop is smaller), and the transform continues
  // with the same stream: src is the full (full_height, full_width) image scaled down, crop is
  // in full-size pixels and is mapped into src with sub-pixel precision (Pillow's resize box).
  // With src at full size this is exactly operator()(src, rng, out, scratch); scaled, the
  // pixels differ by the decoder's reduction (docs/data.md). out as operator().
  void from_crop(const Image& src, int64_t full_height, int64_t full_width, const CropRect& crop, SampleRng& rng,
                 float* out, TransformScratch& scratch) const;
  // With the sample's own stream: SampleRng(seed, epoch, ref.index, ref.repeat).
  void operator()(const Image& src, uint64_t seed, int64_t epoch, SampleRef ref, float* out,
                  TransformScratch& scratch) const;

 private:
  void augment_from_crop(const Image& src, int64_t full_height, int64_t full_width, const CropRect& crop,
                         SampleRng& rng, Image& out, TransformScratch& scratch) const;

  TrainTransformConfig cfg_;
  Interpolation interpolation_;
  std::optional<RandAugment> rand_augment_;
  Normalizer normalize_;
  std::optional<RandomErasing> erasing_;
};

class EvalTransform {
 public:
  explicit EvalTransform(EvalTransformConfig cfg, std::string_view where = "eval_transform");

  const EvalTransformConfig& config() const { return cfg_; }
  int64_t image_size() const { return cfg_.image_size; }
  int64_t resize_size() const { return resize_size_; }
  int64_t channels() const { return normalize_.channels(); }

  // src: (H, W, C); out: (image_size, image_size, C) before normalisation.
  void crop(const Image& src, Image& out, TransformScratch& scratch) const;
  // out: (C, image_size, image_size) float.
  void operator()(const Image& src, float* out, TransformScratch& scratch) const;

 private:
  EvalTransformConfig cfg_;
  Interpolation interpolation_;
  int64_t resize_size_;
  Normalizer normalize_;
};

}  // namespace ff::data
