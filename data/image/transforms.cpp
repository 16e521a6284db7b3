#include "data/image/transforms.h"

#include <cmath>
#include <utility>

#include "kernels/common.h"

namespace ff::data {

namespace {

std::string field(std::string_view where, std::string_view name) { return fmt::format("{}.{}", where, name); }

void check_image(const Image& src, int64_t channels, std::string_view where) {
  FF_USER_CHECK(src.height > 0 && src.width > 0, "{}: an empty image ({}x{})", where, src.height, src.width);
  FF_USER_CHECK(src.channels == channels, "{}: a {}-channel image, but mean and std have {} values", where,
                src.channels, channels);
  FF_CHECK(static_cast<int64_t>(src.pixels.size()) == src.height * src.width * src.channels,
           "{}: a {}x{}x{} image with {} bytes", where, src.height, src.width, src.channels, src.pixels.size());
}

std::optional<RandAugment> make_rand_augment(const TrainTransformConfig& cfg, Interpolation interpolation,
                                             std::string_view where) {
  if (cfg.auto_augment.empty()) return std::nullopt;
  const std::string name = field(where, "auto_augment");
  RandAugmentConfig base;
  // timm's aa_params: the train interpolation unless it is 'random' (then each op draws),
  // and img_mean as the fill.
  base.interpolation = interpolation;
  base.fill = mean_as_bytes(cfg.mean);
  return RandAugment(parse_rand_augment(cfg.auto_augment, name, base), name);
}

std::optional<RandomErasing> make_erasing(const TrainTransformConfig& cfg, std::string_view where) {
  FF_USER_CHECK(cfg.reprob >= 0 && cfg.reprob <= 1, "{}: must be in [0, 1], got {}", field(where, "reprob"),
                cfg.reprob);
  const EraseMode mode = parse_erase_mode(cfg.remode, field(where, "remode"));
  FF_USER_CHECK(cfg.recount >= 1, "{}: must be >= 1, got {}", field(where, "recount"), cfg.recount);
  if (cfg.reprob == 0) return std::nullopt;
  RandomErasingConfig e;
  e.probability = cfg.reprob;
  e.mode = mode;
  e.min_count = 1;
  e.max_count = cfg.recount;  // timm's max_count = re_count, min_count 1
  return RandomErasing(e, field(where, "reprob"));
}

}  // namespace

// ---- train

TrainTransform::TrainTransform(TrainTransformConfig cfg, std::string_view where)
    : cfg_(std::move(cfg)),
      interpolation_(parse_interpolation(cfg_.interpolation, field(where, "interpolation"))),
      rand_augment_(make_rand_augment(cfg_, interpolation_, where)),
      normalize_(cfg_.mean, cfg_.std, field(where, "mean/std")),
      erasing_(make_erasing(cfg_, where)) {
  FF_USER_CHECK(cfg_.image_size >= 1, "{}: must be >= 1, got {}", field(where, "image_size"), cfg_.image_size);
  const auto [s0, s1] = cfg_.scale;
  FF_USER_CHECK(s0 > 0 && s0 <= s1 && s1 <= 1, "{}: must satisfy 0 < min <= max <= 1, got [{}, {}]",
                field(where, "scale"), s0, s1);
  const auto [r0, r1] = cfg_.ratio;
  FF_USER_CHECK(r0 > 0 && r0 <= r1 && std::isfinite(r1), "{}: must satisfy 0 < min <= max, got [{}, {}]",
                field(where, "ratio"), r0, r1);
  FF_USER_CHECK(cfg_.hflip >= 0 && cfg_.hflip <= 1, "{}: must be in [0, 1], got {}", field(where, "hflip"),
                cfg_.hflip);
}

CropRect TrainTransform::draw_crop(int64_t height, int64_t width, SampleRng& rng) const {
  return cfg_.random_resized_crop ? random_resized_crop_params(height, width, cfg_.scale, cfg_.ratio, rng)
                                  : CropRect{0, 0, height, width};
}

void TrainTransform::augment(const Image& src, SampleRng& rng, Image& out, TransformScratch& scratch) const {
  check_image(src, channels(), "train transform");
  // The draws in timm's order: crop box, its interpolation when random, the flip, RandAugment.
  const CropRect crop = draw_crop(src.height, src.width, rng);
  augment_from_crop(src, src.height, src.width, crop, rng, out, scratch);
}

void TrainTransform::augment_from_crop(const Image& src, int64_t full_height, int64_t full_width,
                                       const CropRect& crop, SampleRng& rng, Image& out,
                                       TransformScratch& scratch) const {
  const int64_t S = cfg_.image_size;
  const Interpolation interpolation = resolve_interpolation(interpolation_, rng);
  const bool flip = cfg_.hflip > 0 && rng.uniform() < cfg_.hflip;
  if (src.height == full_height && src.width == full_width) {
    resized_crop(src, crop, S, S, interpolation, flip, out, scratch.resize);
  } else {
    const double sy = static_cast<double>(src.height) / static_cast<double>(full_height);
    const double sx = static_cast<double>(src.width) / static_cast<double>(full_width);
    const ResizeBox box{.x0 = static_cast<double>(crop.left) * sx,
                        .y0 = static_cast<double>(crop.top) * sy,
                        .x1 = static_cast<double>(crop.left + crop.width) * sx,
                        .y1 = static_cast<double>(crop.top + crop.height) * sy};
    resize(src, out, S, S, interpolation, scratch.resize, &box);
    if (flip) hflip(out);
  }
  if (rand_augment_) (*rand_augment_)(out, rng, scratch.other);
}

void TrainTransform::from_crop(const Image& src, int64_t full_height, int64_t full_width, const CropRect& crop,
                               SampleRng& rng, float* out, TransformScratch& scratch) const {
  check_image(src, channels(), "train transform");
  augment_from_crop(src, full_height, full_width, crop, rng, scratch.image, scratch);
  normalize_(scratch.image, out);
  if (erasing_) (*erasing_)(out, channels(), cfg_.image_size, cfg_.image_size, rng);
}

void TrainTransform::operator()(const Image& src, SampleRng& rng, float* out, TransformScratch& scratch) const {
  augment(src, rng, scratch.image, scratch);
  normalize_(scratch.image, out);
  if (erasing_) (*erasing_)(out, channels(), cfg_.image_size, cfg_.image_size, rng);
}

void TrainTransform::operator()(const Image& src, uint64_t seed, int64_t epoch, SampleRef ref, float* out,
                                TransformScratch& scratch) const {
  FF_CHECK(epoch >= 0 && ref.index >= 0, "train transform: epoch {} and index {} must be >= 0", epoch, ref.index);
  SampleRng rng(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(ref.index), ref.repeat);
  (*this)(src, rng, out, scratch);
}

// ---- eval

EvalTransform::EvalTransform(EvalTransformConfig cfg, std::string_view where)
    : cfg_(std::move(cfg)),
      interpolation_(parse_interpolation(cfg_.interpolation, field(where, "interpolation"))),
      resize_size_(0),
      normalize_(cfg_.mean, cfg_.std, field(where, "mean/std")) {
  FF_USER_CHECK(cfg_.image_size >= 1, "{}: must be >= 1, got {}", field(where, "image_size"), cfg_.image_size);
  FF_USER_CHECK(cfg_.crop_pct > 0 && cfg_.crop_pct <= 1, "{}: must be in (0, 1], got {}", field(where, "crop_pct"),
                cfg_.crop_pct);
  FF_USER_CHECK(interpolation_ != Interpolation::kRandom, "{}: evaluation needs bilinear or bicubic, got random",
                field(where, "interpolation"));
  // DeiT: int(input_size / eval_crop_ratio); timm: math.floor, the same for positive sizes.
  resize_size_ = static_cast<int64_t>(std::floor(static_cast<double>(cfg_.image_size) / cfg_.crop_pct));
}

void EvalTransform::crop(const Image& src, Image& out, TransformScratch& scratch) const {
  check_image(src, channels(), "eval transform");
  const int64_t S = cfg_.image_size;
  if (cfg_.resize) {
    resize_short_side_center_crop(src, resize_size_, S, S, interpolation_, out, scratch.resize);
    return;
  }
  FF_USER_CHECK(src.height >= S && src.width >= S, "eval transform: a {}x{} image is smaller than the {}x{} crop",
                src.height, src.width, S, S);
  // Without resampling: the crop's pixels as they are (the identity resize of the crop).
  resized_crop(src, center_crop_rect(src.height, src.width, S, S), S, S, interpolation_, false, out, scratch.resize);
}

void EvalTransform::operator()(const Image& src, float* out, TransformScratch& scratch) const {
  crop(src, scratch.image, scratch);
  normalize_(scratch.image, out);
}

}  // namespace ff::data
