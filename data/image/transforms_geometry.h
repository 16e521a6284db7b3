#pragma once
// Crops, flips and resizes of 8-bit images, with torchvision's and Pillow's semantics to the
// last bit (Pillow 9.4's libImaging/Resample.c: separable, antialiased when shrinking, a
// uint8 image between the horizontal and the vertical pass, 22-bit fixed-point weights).
//
// Every image is row-major HWC (data/image/image.h), 1 or 3 channels; outputs are resized
// in place (their pixel buffers are reused, so a warm pipeline allocates nothing).

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "data/image/image.h"
#include "data/image/sample_rng.h"

namespace ff::data {

// Resampling filter. kRandom is timm's interpolation='random': bilinear or bicubic, drawn per
// use; resolve it with resolve_interpolation before calling a resize.
enum class Interpolation { kBilinear, kBicubic, kRandom };

// "bilinear", "bicubic" or "random"; anything else is an ff::UserError naming `field`.
Interpolation parse_interpolation(std::string_view name, std::string_view field);
std::string_view interpolation_name(Interpolation interpolation);
// kRandom -> bilinear or bicubic with one draw (as Python's random.choice of the pair);
// the others are returned as they are, without a draw.
Interpolation resolve_interpolation(Interpolation interpolation, SampleRng& rng);

// Whole pixels: rows [top, top + height), columns [left, left + width).
struct CropRect {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool operator==(const CropRect&) const = default;
};

// A sub-pixel source region (x0, y0, x1, y1), Pillow's resize(box=...). Pillow keeps it in
// float32, and so do we.
struct ResizeBox {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

// torchvision's RandomResizedCrop.get_params on an image of height x width: up to 10
// attempts of area scale ~ U(scale) of the image and aspect ratio exp(U(log ratio)), sides
// round(sqrt(area * ratio)) x round(sqrt(area / ratio)) (Python's round: half to even),
// accepted when 0 < side <= image side, placed at randint(0, H - h), randint(0, W - w);
// otherwise the centre crop with the aspect ratio clamped to `ratio`. Draws per attempt:
// uniform, uniform, and (accepted) two randints.
CropRect random_resized_crop_params(int64_t height, int64_t width, std::array<double, 2> scale,
                                    std::array<double, 2> ratio, SampleRng& rng);
// The fallback alone: the whole image, or its centre with the ratio clamped to [ratio0, ratio1].
CropRect clamped_ratio_center_crop(int64_t height, int64_t width, std::array<double, 2> ratio);

// torchvision's CenterCrop placement: top = round((H - h) / 2), left = round((W - w) / 2),
// Python's round (half to even). Needs h <= H and w <= W.
CropRect center_crop_rect(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width);

// torchvision's Resize(short_side) output size (height, width): the short side becomes
// short_side, the long one int(short_side * long / short).
std::array<int64_t, 2> short_side_resize_size(int64_t height, int64_t width, int64_t short_side);

// Buffers a resize reuses between calls: weights, bounds and the image between the passes.
struct ResizeScratch {
  std::vector<int32_t> weights_x, weights_y;
  std::vector<int64_t> bounds_x, bounds_y;  // (first source pixel, tap count) per output pixel
  std::vector<uint8_t> between;             // (rows used, out width, C) after the horizontal pass
  std::vector<double> raw;                  // one output pixel's weights before normalisation
  std::vector<int32_t> row_sums;            // one output row's fixed-point sums
};

// Pillow's src.resize((out_width, out_height), filter, box): dst is (out_height, out_width, C).
// box defaults to the whole image. interpolation: kBilinear or kBicubic.
void resize(const Image& src, Image& dst, int64_t out_height, int64_t out_width, Interpolation interpolation,
            ResizeScratch& scratch, const ResizeBox* box = nullptr);

// torchvision's resized_crop(img, top, left, height, width, size) followed, when hflip, by
// hflip: the crop is resampled as an image of its own (taps never reach outside it), in one
// pass over the source. dst: (out_height, out_width, C).
void resized_crop(const Image& src, const CropRect& crop, int64_t out_height, int64_t out_width,
                  Interpolation interpolation, bool hflip, Image& dst, ResizeScratch& scratch);

// torchvision's Resize(short_side) (nothing when the short side already has that length)
// then CenterCrop((crop_height, crop_width)); only the cropped pixels are computed. The
// resized image must be at least as large as the crop.
void resize_short_side_center_crop(const Image& src, int64_t short_side, int64_t crop_height, int64_t crop_width,
                                   Interpolation interpolation, Image& dst, ResizeScratch& scratch);

// Mirror left-right (Pillow's FLIP_LEFT_RIGHT), in place.
void hflip(Image& image);

}  // namespace ff::data
