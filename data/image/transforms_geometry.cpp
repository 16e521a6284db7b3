// Compiled with -ffp-contract=off (data/CMakeLists.txt): Pillow's arithmetic is plain double
// multiplies and adds, and a fused multiply-add would move weights by an ulp.

#include "data/image/transforms_geometry.h"

#include <algorithm>
#include <cmath>

#include "kernels/common.h"

namespace ff::data {

Interpolation parse_interpolation(std::string_view name, std::string_view field) {
  if (name == "bilinear") return Interpolation::kBilinear;
  if (name == "bicubic") return Interpolation::kBicubic;
  if (name == "random") return Interpolation::kRandom;
  throw UserError(fmt::format("{}: unknown interpolation '{}' (expected bilinear, bicubic or random)", field, name));
}

std::string_view interpolation_name(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kBilinear: return "bilinear";
    case Interpolation::kBicubic: return "bicubic";
    case Interpolation::kRandom: return "random";
  }
  return "?";
}

Interpolation resolve_interpolation(Interpolation interpolation, SampleRng& rng) {
  if (interpolation != Interpolation::kRandom) return interpolation;
  return rng.below(2) == 0 ? Interpolation::kBilinear : Interpolation::kBicubic;
}

// ---- crop boxes

CropRect clamped_ratio_center_crop(int64_t height, int64_t width, std::array<double, 2> ratio) {
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  const double lo = std::min(ratio[0], ratio[1]);
  const double hi = std::max(ratio[0], ratio[1]);
  int64_t w = width, h = height;
  if (in_ratio < lo) {
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / lo));
  } else if (in_ratio > hi) {
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * hi));
  }
  return CropRect{(height - h) / 2, (width - w) / 2, h, w};
}

CropRect random_resized_crop_params(int64_t height, int64_t width, std::array<double, 2> scale,
                                    std::array<double, 2> ratio, SampleRng& rng) {
  FF_CHECK(height > 0 && width > 0, "random_resized_crop: empty image {}x{}", height, width);
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(ratio[0]);
  const double log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = rng.uniform(scale[0], scale[1]) * area;
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    // nearbyint rounds half to even in the default rounding mode, as Python's round.
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rng.randint(0, height - h);
      const int64_t left = rng.randint(0, width - w);
      return CropRect{top, left, h, w};
    }
  }
  return clamped_ratio_center_crop(height, width, ratio);
}

CropRect center_crop_rect(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width) {
  FF_CHECK(crop_height <= height && crop_width <= width, "center crop {}x{} of a {}x{} image", crop_height,
           crop_width, height, width);
  // (H - h) / 2 is a multiple of 0.5, so half-to-even decides: 58.5 -> 58, 59.5 -> 60.
  const auto top = static_cast<int64_t>(std::nearbyint(static_cast<double>(height - crop_height) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint(static_cast<double>(width - crop_width) / 2.0));
  return CropRect{top, left, crop_height, crop_width};
}

std::array<int64_t, 2> short_side_resize_size(int64_t height, int64_t width, int64_t short_side) {
  // As torchvision: the short side is the width when w <= h.
  const bool width_is_short = width <= height;
  const int64_t s = width_is_short ? width : height;
  const int64_t l = width_is_short ? height : width;
  const auto new_long = static_cast<int64_t>(static_cast<double>(short_side) * static_cast<double>(l) / static_cast<double>(s));
  return width_is_short ? std::array<int64_t, 2>{new_long, short_side} : std::array<int64_t, 2>{short_side, new_long};
}

// ---- Pillow's separable resampling

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed point: 22 fractional bits

struct Filter {
  double (*fn)(double);
  double support;
};

double bilinear_weight(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// Keys' cubic convolution with a = -0.5 (Pillow's BICUBIC for resize).
double bicubic_weight(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

Filter filter_for(Interpolation interpolation) {
  FF_CHECK(interpolation != Interpolation::kRandom, "resize: resolve a random interpolation first");
  return interpolation == Interpolation::kBicubic ? Filter{bicubic_weight, 2.0} : Filter{bilinear_weight, 1.0};
}

// Weights for output pixels [first, first + count) of a resize of `in_size` source pixels,
// region [in0, in1), to `out_size`: Pillow's precompute_coeffs (the support widened by the
// downscale factor: antialiasing) then normalize_coeffs_8bpc. `identity` (Pillow skips a
// pass whose size and box are unchanged) gives each output its own source pixel.
// Returns the taps per output pixel; weights are (count, taps), bounds (count, 2).
int64_t make_weights(int64_t in_size, float in0, float in1, int64_t out_size, int64_t first, int64_t count,
                     Filter filter, bool identity, std::vector<int32_t>& weights, std::vector<int64_t>& bounds,
                     std::vector<double>& raw) {
  bounds.resize(static_cast<size_t>(2 * count));
  if (identity) {
    weights.assign(static_cast<size_t>(count), int32_t{1} << kPrecisionBits);
    for (int64_t i = 0; i < count; ++i) {
      bounds[2 * i] = first + i;
      bounds[2 * i + 1] = 1;
    }
    return 1;
  }
  const double scale = static_cast<double>(in1 - in0) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  const int64_t taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  weights.assign(static_cast<size_t>(count * taps), 0);
  raw.resize(static_cast<size_t>(taps));
  double* k = raw.data();
  const double inv_scale = 1.0 / filter_scale;
  for (int64_t i = 0; i < count; ++i) {
    const double center = in0 + (static_cast<double>(first + i) + 0.5) * scale;
    // Truncation toward zero, as Pillow's (int) casts; negatives are clamped to 0 anyway.
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double sum = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[x] = filter.fn((static_cast<double>(x + xmin) - center + 0.5) * inv_scale);
      sum += k[x];
    }
    int32_t* out = weights.data() + i * taps;
    for (int64_t x = 0; x < xmax; ++x) {
      const double v = sum != 0.0 ? k[x] / sum : k[x];
      const double fixed = v * static_cast<double>(int64_t{1} << kPrecisionBits);
      out[x] = static_cast<int32_t>(v < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    bounds[2 * i] = xmin;
    bounds[2 * i + 1] = xmax;
  }
  return taps;
}

inline uint8_t clip8(int32_t accumulated) {
  const int32_t v = accumulated >> kPrecisionBits;  // arithmetic shift, as Pillow
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// A read-only window of an image: rows of `stride` bytes.
struct View {
  const uint8_t* data;
  int64_t height, width, channels, stride;
};

// Output pixels [oy, oy + oh) x [ox, ox + ow) of Pillow's resize of `in` with `box` to
// (full_h, full_w); columns mirrored when flip (the same as flipping the resized image, as
// every output column has its own weights).
void resample_window(const View& in, const float box[4], int64_t full_h, int64_t full_w, int64_t oy, int64_t ox,
                     int64_t oh, int64_t ow, Interpolation interpolation, bool flip, Image& dst,
                     ResizeScratch& scratch) {
  FF_CHECK(in.channels == 1 || in.channels == 3, "resize: {} channels (expected 1 or 3)", in.channels);
  FF_CHECK(oh > 0 && ow > 0 && oy >= 0 && ox >= 0 && oy + oh <= full_h && ox + ow <= full_w,
           "resize: window {}x{} at ({}, {}) of a {}x{} output", oh, ow, oy, ox, full_h, full_w);
  const Filter filter = filter_for(interpolation);
  // Pillow's test: a pass is skipped when the size is unchanged and the box is the whole axis.
  const bool need_x = full_w != in.width || box[0] != 0.0f || box[2] != static_cast<float>(full_w);
  const bool need_y = full_h != in.height || box[1] != 0.0f || box[3] != static_cast<float>(full_h);
  const int64_t taps_x = make_weights(in.width, box[0], box[2], full_w, ox, ow, filter, !need_x, scratch.weights_x,
                                      scratch.bounds_x, scratch.raw);
  const int64_t taps_y = make_weights(in.height, box[1], box[3], full_h, oy, oh, filter, !need_y, scratch.weights_y,
                                      scratch.bounds_y, scratch.raw);
  const int64_t C = in.channels;
  const int64_t row_first = scratch.bounds_y[0];
  const int64_t row_last = scratch.bounds_y[2 * (oh - 1)] + scratch.bounds_y[2 * (oh - 1) + 1];
  const int64_t rows = row_last - row_first;

  // Horizontal pass: source rows [row_first, row_last) -> between (rows, ow, C), uint8.
  scratch.between.resize(static_cast<size_t>(rows * ow * C));
  constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src_row = in.data + (row_first + r) * in.stride;
    uint8_t* out_row = scratch.between.data() + r * ow * C;
    for (int64_t j = 0; j < ow; ++j) {
      const int32_t* k = scratch.weights_x.data() + j * taps_x;
      const int64_t xmin = scratch.bounds_x[2 * j];
      const int64_t n = scratch.bounds_x[2 * j + 1];
      const uint8_t* s = src_row + xmin * C;
      uint8_t* o = out_row + (flip ? ow - 1 - j : j) * C;
      if (C == 1) {
        int32_t acc = kHalf;
        for (int64_t t = 0; t < n; ++t) acc += static_cast<int32_t>(s[t]) * k[t];
        o[0] = clip8(acc);
      } else {
        int32_t a0 = kHalf, a1 = kHalf, a2 = kHalf;
        for (int64_t t = 0; t < n; ++t) {
          a0 += static_cast<int32_t>(s[3 * t]) * k[t];
          a1 += static_cast<int32_t>(s[3 * t + 1]) * k[t];
          a2 += static_cast<int32_t>(s[3 * t + 2]) * k[t];
        }
        o[0] = clip8(a0);
        o[1] = clip8(a1);
        o[2] = clip8(a2);
      }
    }
  }

  // Vertical pass: between -> dst (oh, ow, C).
  dst.height = oh;
  dst.width = ow;
  dst.channels = C;
  dst.pixels.resize(static_cast<size_t>(oh * ow * C));
  const int64_t line = ow * C;
  // Tap by tap over a whole output row (integer sums, so the order is free): the inner loop
  // runs over contiguous bytes and vectorises.
  scratch.row_sums.resize(static_cast<size_t>(line));
  int32_t* acc = scratch.row_sums.data();
  for (int64_t i = 0; i < oh; ++i) {
    const int32_t* k = scratch.weights_y.data() + i * taps_y;
    const int64_t ymin = scratch.bounds_y[2 * i] - row_first;
    const int64_t n = scratch.bounds_y[2 * i + 1];
    const uint8_t* base = scratch.between.data() + ymin * line;
    std::fill(acc, acc + line, kHalf);
    for (int64_t t = 0; t < n; ++t) {
      const uint8_t* src_row = base + t * line;
      const int32_t w = k[t];
      for (int64_t e = 0; e < line; ++e) acc[e] += static_cast<int32_t>(src_row[e]) * w;
    }
    uint8_t* o = dst.pixels.data() + i * line;
    for (int64_t e = 0; e < line; ++e) o[e] = clip8(acc[e]);
  }
}

View whole(const Image& image) {
  FF_CHECK(image.height > 0 && image.width > 0 &&
               static_cast<int64_t>(image.pixels.size()) == image.height * image.width * image.channels,
           "image of {}x{}x{} has {} bytes", image.height, image.width, image.channels, image.pixels.size());
  return View{image.pixels.data(), image.height, image.width, image.channels, image.width * image.channels};
}

}  // namespace

void resize(const Image& src, Image& dst, int64_t out_height, int64_t out_width, Interpolation interpolation,
            ResizeScratch& scratch, const ResizeBox* box) {
  FF_CHECK(&src != &dst, "resize: the source and destination must differ");
  const View in = whole(src);
  // Pillow's checks: no negative offset, nothing past the image, no negative extent.
  FF_CHECK(!box || (box->x0 >= 0 && box->y0 >= 0 && box->x0 <= box->x1 && box->y0 <= box->y1 &&
                    box->x1 <= static_cast<double>(in.width) && box->y1 <= static_cast<double>(in.height)),
           "resize: box ({}, {}, {}, {}) outside a {}x{} image", box->x0, box->y0, box->x1, box->y1, in.height,
           in.width);
  const float b[4] = {box ? static_cast<float>(box->x0) : 0.0f, box ? static_cast<float>(box->y0) : 0.0f,
                      box ? static_cast<float>(box->x1) : static_cast<float>(in.width),
                      box ? static_cast<float>(box->y1) : static_cast<float>(in.height)};
  resample_window(in, b, out_height, out_width, 0, 0, out_height, out_width, interpolation, false, dst, scratch);
}

void resized_crop(const Image& src, const CropRect& crop, int64_t out_height, int64_t out_width,
                  Interpolation interpolation, bool flip, Image& dst, ResizeScratch& scratch) {
  FF_CHECK(&src != &dst, "resized_crop: the source and destination must differ");
  const View image = whole(src);
  FF_CHECK(crop.top >= 0 && crop.left >= 0 && crop.height > 0 && crop.width > 0 &&
               crop.top + crop.height <= image.height && crop.left + crop.width <= image.width,
           "crop {}x{} at ({}, {}) outside a {}x{} image", crop.height, crop.width, crop.top, crop.left, image.height,
           image.width);
  const View in{image.data + crop.top * image.stride + crop.left * image.channels, crop.height, crop.width,
                image.channels, image.stride};
  const float b[4] = {0.0f, 0.0f, static_cast<float>(crop.width), static_cast<float>(crop.height)};
  resample_window(in, b, out_height, out_width, 0, 0, out_height, out_width, interpolation, flip, dst, scratch);
}

void resize_short_side_center_crop(const Image& src, int64_t short_side, int64_t crop_height, int64_t crop_width,
                                   Interpolation interpolation, Image& dst, ResizeScratch& scratch) {
  FF_CHECK(&src != &dst, "resize_short_side_center_crop: the source and destination must differ");
  const View in = whole(src);
  // torchvision returns the image untouched when its short side already has the length.
  const bool unchanged = std::min(in.height, in.width) == short_side;
  const std::array<int64_t, 2> size =
      unchanged ? std::array<int64_t, 2>{in.height, in.width} : short_side_resize_size(in.height, in.width, short_side);
  FF_CHECK(crop_height <= size[0] && crop_width <= size[1], "center crop {}x{} of an image resized to {}x{}",
           crop_height, crop_width, size[0], size[1]);
  const CropRect c = center_crop_rect(size[0], size[1], crop_height, crop_width);
  const float b[4] = {0.0f, 0.0f, static_cast<float>(in.width), static_cast<float>(in.height)};
  resample_window(in, b, size[0], size[1], c.top, c.left, crop_height, crop_width, interpolation, false, dst,
                  scratch);
}

void hflip(Image& image) {
  const int64_t C = image.channels;
  for (int64_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.at(y, 0);
    for (int64_t a = 0, b = image.width - 1; a < b; ++a, --b) {
      for (int64_t c = 0; c < C; ++c) std::swap(row[a * C + c], row[b * C + c]);
    }
  }
}

}  // namespace ff::data
