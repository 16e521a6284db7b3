// Compiled with -ffp-contract=off (data/CMakeLists.txt): the float and double expressions
// below are Pillow's and CPython's, evaluated without fused multiply-adds as they are, so
// that truncations to uint8 land on the same side.

#include "data/image/transforms_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "kernels/common.h"

namespace ff::data {

namespace {

void check_image(const Image& image, const char* op) {
  FF_CHECK(image.channels == 1 || image.channels == 3, "{}: {} channels (expected 1 or 3)", op, image.channels);
  FF_CHECK(static_cast<int64_t>(image.pixels.size()) == image.height * image.width * image.channels,
           "{}: a {}x{}x{} image with {} bytes", op, image.height, image.width, image.channels, image.pixels.size());
}

void prepare_like(const Image& src, Image& dst) {
  dst.height = src.height;
  dst.width = src.width;
  dst.channels = src.channels;
  dst.pixels.resize(src.pixels.size());
}

using Lut = std::array<uint8_t, 256>;

// One table per channel (Pillow's point() with a 256 * bands table).
void apply_luts(Image& image, const Lut* luts) {
  const int64_t C = image.channels;
  const size_t n = image.pixels.size();
  uint8_t* p = image.pixels.data();
  if (C == 1) {
    for (size_t i = 0; i < n; ++i) p[i] = luts[0][p[i]];
  } else {
    for (size_t i = 0; i < n; i += 3) {
      p[i] = luts[0][p[i]];
      p[i + 1] = luts[1][p[i + 1]];
      p[i + 2] = luts[2][p[i + 2]];
    }
  }
}

void apply_lut(Image& image, const Lut& lut) {
  for (uint8_t& v : image.pixels) v = lut[v];
}

using Histogram = std::array<int64_t, 256>;

void histograms(const Image& image, Histogram* h) {
  const int64_t C = image.channels;
  for (int64_t c = 0; c < C; ++c) h[c].fill(0);
  const size_t n = image.pixels.size();
  const uint8_t* p = image.pixels.data();
  for (size_t i = 0; i < n; i += static_cast<size_t>(C)) {
    for (int64_t c = 0; c < C; ++c) ++h[c][p[i + static_cast<size_t>(c)]];
  }
}

Lut identity_lut() {
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i);
  return lut;
}

// Pillow's ImagingBlend for one value: d + alpha (v - d) in float, truncated; clamped when
// alpha extrapolates.
inline uint8_t blend(int degenerate, int value, float alpha) {
  const float t = static_cast<float>(degenerate) + alpha * static_cast<float>(value - degenerate);
  if (alpha >= 0.0f && alpha <= 1.0f) return static_cast<uint8_t>(t);
  if (t <= 0.0f) return 0;
  if (t >= 255.0f) return 255;
  return static_cast<uint8_t>(t);
}

Lut blend_lut(int degenerate, float alpha) {
  Lut lut;
  for (int v = 0; v < 256; ++v) lut[v] = blend(degenerate, v, alpha);
  return lut;
}

// Pillow's luma of an RGB pixel (the "L" conversion).
inline int luma(const uint8_t* rgb) { return (rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16; }

}  // namespace

// ---- lookups

void autocontrast(Image& image) {
  check_image(image, "autocontrast");
  Histogram h[3];
  histograms(image, h);
  Lut luts[3];
  for (int64_t c = 0; c < image.channels; ++c) {
    int lo = 0, hi = 255;
    while (lo < 255 && h[c][lo] == 0) ++lo;
    while (hi > 0 && h[c][hi] == 0) --hi;
    if (hi <= lo) {
      luts[c] = identity_lut();
      continue;
    }
    const double scale = 255.0 / (hi - lo);
    const double offset = -lo * scale;
    for (int v = 0; v < 256; ++v) {
      const auto x = static_cast<int64_t>(v * scale + offset);  // Python's int(): toward zero
      luts[c][v] = static_cast<uint8_t>(std::clamp<int64_t>(x, 0, 255));
    }
  }
  apply_luts(image, luts);
}

void equalize(Image& image) {
  check_image(image, "equalize");
  Histogram h[3];
  histograms(image, h);
  Lut luts[3];
  for (int64_t c = 0; c < image.channels; ++c) {
    int64_t present = 0, total = 0, last = 0;
    for (int v = 0; v < 256; ++v) {
      if (h[c][v] == 0) continue;
      ++present;
      total += h[c][v];
      last = h[c][v];
    }
    const int64_t step = present <= 1 ? 0 : (total - last) / 255;
    if (step == 0) {
      luts[c] = identity_lut();
      continue;
    }
    int64_t n = step / 2;
    for (int v = 0; v < 256; ++v) {
      luts[c][v] = static_cast<uint8_t>(std::min<int64_t>(n / step, 255));
      n += h[c][v];
    }
  }
  apply_luts(image, luts);
}

void invert(Image& image) {
  check_image(image, "invert");
  for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(255 - v);
}

void posterize(Image& image, int bits) {
  check_image(image, "posterize");
  FF_CHECK(bits >= 0 && bits <= 8, "posterize: bits must be in [0, 8], got {}", bits);
  const auto mask = static_cast<uint8_t>(~((1 << (8 - bits)) - 1) & 0xFF);
  for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(v & mask);
}

void solarize(Image& image, int threshold) {
  check_image(image, "solarize");
  Lut lut;
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<uint8_t>(v < threshold ? v : 255 - v);
  apply_lut(image, lut);
}

void solarize_add(Image& image, int add, int threshold) {
  check_image(image, "solarize_add");
  Lut lut;
  // timm's table is min(255, v + add); Pillow's point() then clips to [0, 255].
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<uint8_t>(v < threshold ? std::clamp(v + add, 0, 255) : v);
  apply_lut(image, lut);
}

// ---- ImageEnhance

void enhance_color(Image& image, double factor) {
  check_image(image, "enhance_color");
  const auto alpha = static_cast<float>(factor);
  if (image.channels == 1 || alpha == 1.0f) return;  // the degenerate of "L" is the image itself
  const size_t n = image.pixels.size();
  uint8_t* p = image.pixels.data();
  for (size_t i = 0; i < n; i += 3) {
    const int d = luma(p + i);
    for (size_t c = 0; c < 3; ++c) p[i + c] = blend(d, p[i + c], alpha);
  }
}

void enhance_contrast(Image& image, double factor) {
  check_image(image, "enhance_contrast");
  const auto alpha = static_cast<float>(factor);
  // ImageStat's mean of the luma image: its histogram summed in double.
  int64_t hist[256] = {};
  const size_t n = image.pixels.size();
  const uint8_t* p = image.pixels.data();
  if (image.channels == 1) {
    for (size_t i = 0; i < n; ++i) ++hist[p[i]];
  } else {
    for (size_t i = 0; i < n; i += 3) ++hist[luma(p + i)];
  }
  double sum = 0.0;
  int64_t count = 0;
  for (int v = 0; v < 256; ++v) {
    sum += static_cast<double>(v * hist[v]);
    count += hist[v];
  }
  if (count == 0) return;
  const int mean = static_cast<int>(sum / static_cast<double>(count) + 0.5);
  if (alpha != 1.0f) apply_lut(image, blend_lut(mean, alpha));
}

void enhance_brightness(Image& image, double factor) {
  check_image(image, "enhance_brightness");
  const auto alpha = static_cast<float>(factor);
  if (alpha == 1.0f) return;
  apply_lut(image, blend_lut(0, alpha));
}

void enhance_sharpness(const Image& src, Image& dst, double factor) {
  check_image(src, "enhance_sharpness");
  FF_CHECK(&src != &dst, "enhance_sharpness: the source and destination must differ");
  prepare_like(src, dst);
  const auto alpha = static_cast<float>(factor);
  const int64_t H = src.height, W = src.width, C = src.channels;
  // The degenerate is SMOOTH everywhere but the border, which it copies (as it copies the
  // whole image when a side is shorter than the kernel): there the blend is blend(v, v) = v.
  std::copy(src.pixels.begin(), src.pixels.end(), dst.pixels.begin());
  if (H < 3 || W < 3 || alpha == 1.0f) return;
  const float k1 = 1.0f / 13.0f;
  const float k5 = 5.0f / 13.0f;
  const int64_t line = W * C;
  for (int64_t y = 1; y < H - 1; ++y) {
    const uint8_t* above = src.pixels.data() + (y - 1) * line;
    const uint8_t* row = src.pixels.data() + y * line;
    const uint8_t* below = src.pixels.data() + (y + 1) * line;
    uint8_t* out = dst.pixels.data() + y * line;
    for (int64_t e = C; e < line - C; ++e) {
      // Pillow's order: the row below, the row itself, the row above, each left to right.
      float ss = 0.5f;
      ss += static_cast<float>(below[e - C]) * k1 + static_cast<float>(below[e]) * k1 +
            static_cast<float>(below[e + C]) * k1;
      ss += static_cast<float>(row[e - C]) * k1 + static_cast<float>(row[e]) * k5 +
            static_cast<float>(row[e + C]) * k1;
      ss += static_cast<float>(above[e - C]) * k1 + static_cast<float>(above[e]) * k1 +
            static_cast<float>(above[e + C]) * k1;
      const uint8_t smooth = ss <= 0.0f ? 0 : (ss >= 255.0f ? 255 : static_cast<uint8_t>(ss));
      out[e] = blend(smooth, row[e], alpha);
    }
  }
}

// ---- geometry

namespace {

// Pillow's FLOOR: a cast for non-negative values.
inline int64_t pil_floor(double v) { return v < 0.0 ? static_cast<int64_t>(std::floor(v)) : static_cast<int64_t>(v); }

inline uint8_t clamp_truncate(double v) {
  if (v <= 0.0) return 0;
  if (v >= 255.0) return 255;
  return static_cast<uint8_t>(v);
}

// Pillow's transform-time cubic through four values at fraction d (a = -1 convolution).
inline double cubic(double v1, double v2, double v3, double v4, double d) {
  const double p1 = v2;
  const double p2 = -v1 + v3;
  const double p3 = 2 * (v1 - v2) + v3 - v4;
  const double p4 = -v1 + v2 - v3 + v4;
  return p1 + d * (p2 + d * (p3 + d * p4));
}

void sample_bilinear(const Image& src, double xin, double yin, uint8_t* out) {
  const int64_t W = src.width, H = src.height, C = src.channels;
  xin -= 0.5;
  yin -= 0.5;
  const int64_t x = pil_floor(xin), y = pil_floor(yin);
  const double dx = xin - static_cast<double>(x);
  const double dy = yin - static_cast<double>(y);
  const int64_t x0 = std::clamp<int64_t>(x, 0, W - 1) * C;
  const int64_t x1 = std::clamp<int64_t>(x + 1, 0, W - 1) * C;
  const uint8_t* r0 = src.pixels.data() + std::clamp<int64_t>(y, 0, H - 1) * W * C;
  const bool has_r1 = y + 1 >= 0 && y + 1 < H;
  const uint8_t* r1 = src.pixels.data() + (has_r1 ? y + 1 : 0) * W * C;
  for (int64_t c = 0; c < C; ++c) {
    double v1 = r0[x0 + c] + (r0[x1 + c] - r0[x0 + c]) * dx;
    const double v2 = has_r1 ? r1[x0 + c] + (r1[x1 + c] - r1[x0 + c]) * dx : v1;
    v1 = v1 + (v2 - v1) * dy;
    out[c] = static_cast<uint8_t>(v1);
  }
}

void sample_bicubic(const Image& src, double xin, double yin, uint8_t* out) {
  const int64_t W = src.width, H = src.height, C = src.channels;
  xin -= 0.5;
  yin -= 0.5;
  int64_t x = pil_floor(xin), y = pil_floor(yin);
  const double dx = xin - static_cast<double>(x);
  const double dy = yin - static_cast<double>(y);
  --x;
  --y;
  int64_t xs[4];
  for (int k = 0; k < 4; ++k) xs[k] = std::clamp<int64_t>(x + k, 0, W - 1) * C;
  // Row y is clamped; a later row outside the image repeats the row before it (Pillow's
  // v2 = v1 chain), which is the same as clamping.
  const uint8_t* rows[4];
  rows[0] = src.pixels.data() + std::clamp<int64_t>(y, 0, H - 1) * W * C;
  for (int k = 1; k < 4; ++k) {
    rows[k] = (y + k >= 0 && y + k < H) ? src.pixels.data() + (y + k) * W * C : rows[k - 1];
  }
  for (int64_t c = 0; c < C; ++c) {
    double v[4];
    for (int k = 0; k < 4; ++k) {
      const uint8_t* r = rows[k];
      // Integer differences first, as the macro does on uint8 operands.
      const int a = r[xs[0] + c], b = r[xs[1] + c], e = r[xs[2] + c], f = r[xs[3] + c];
      const double p1 = b;
      const double p2 = -a + e;
      const double p3 = 2 * (a - b) + e - f;
      const double p4 = -a + b - e + f;
      v[k] = p1 + dx * (p2 + dx * (p3 + dx * p4));
    }
    out[c] = clamp_truncate(cubic(v[0], v[1], v[2], v[3], dy));
  }
}

// CPython's float % (the result has the divisor's sign).
double python_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r != 0.0) {
    if ((m < 0) != (r < 0)) r += m;
  } else {
    r = std::copysign(0.0, m);
  }
  return r;
}

// CPython's round(x, 15): the exact binary value rounded half-to-even at 15 decimals, read
// back to the nearest double; glibc's printf and strtod are both exact.
double python_round15(double x) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.15f", x);
  return std::strtod(text, nullptr);
}

void transpose_rotate(const Image& src, Image& dst, int quarter_turns) {
  const int64_t H = src.height, W = src.width, C = src.channels;
  dst.channels = C;
  dst.height = quarter_turns == 2 ? H : W;
  dst.width = quarter_turns == 2 ? W : H;
  dst.pixels.resize(src.pixels.size());
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      int64_t oy = 0, ox = 0;
      if (quarter_turns == 1) {  // Pillow's ROTATE_90 (counter-clockwise)
        oy = W - 1 - x;
        ox = y;
      } else if (quarter_turns == 2) {
        oy = H - 1 - y;
        ox = W - 1 - x;
      } else {  // ROTATE_270
        oy = x;
        ox = H - 1 - y;
      }
      std::copy_n(src.at(y, x), C, dst.at(oy, ox));
    }
  }
}

}  // namespace

void affine(const Image& src, Image& dst, const std::array<double, 6>& m, Interpolation interpolation, FillColor fill) {
  check_image(src, "affine");
  FF_CHECK(&src != &dst, "affine: the source and destination must differ");
  FF_CHECK(interpolation != Interpolation::kRandom, "affine: resolve a random interpolation first");
  prepare_like(src, dst);
  const int64_t H = src.height, W = src.width, C = src.channels;
  const bool bicubic = interpolation == Interpolation::kBicubic;
  const auto w = static_cast<double>(W), h = static_cast<double>(H);
  for (int64_t y = 0; y < H; ++y) {
    const double yc = static_cast<double>(y) + 0.5;
    uint8_t* out = dst.at(y, 0);
    for (int64_t x = 0; x < W; ++x, out += C) {
      const double xc = static_cast<double>(x) + 0.5;
      const double xin = m[0] * xc + m[1] * yc + m[2];
      const double yin = m[3] * xc + m[4] * yc + m[5];
      if (xin < 0.0 || xin >= w || yin < 0.0 || yin >= h) {
        for (int64_t c = 0; c < C; ++c) out[c] = fill[static_cast<size_t>(c)];
      } else if (bicubic) {
        sample_bicubic(src, xin, yin, out);
      } else {
        sample_bilinear(src, xin, yin, out);
      }
    }
  }
}

void rotate(const Image& src, Image& dst, double degrees, Interpolation interpolation, FillColor fill) {
  check_image(src, "rotate");
  FF_CHECK(&src != &dst, "rotate: the source and destination must differ");
  const double angle = python_mod(degrees, 360.0);
  if (angle == 0.0) {
    prepare_like(src, dst);
    std::copy(src.pixels.begin(), src.pixels.end(), dst.pixels.begin());
    return;
  }
  if (angle == 180.0) return transpose_rotate(src, dst, 2);
  if ((angle == 90.0 || angle == 270.0) && src.width == src.height) {
    return transpose_rotate(src, dst, angle == 90.0 ? 1 : 3);
  }
  constexpr double kDegToRad = 3.141592653589793 / 180.0;  // CPython's math.radians factor
  const double a = -(angle * kDegToRad);
  std::array<double, 6> matrix = {python_round15(std::cos(a)),  python_round15(std::sin(a)), 0.0,
                                  python_round15(-std::sin(a)), python_round15(std::cos(a)), 0.0};
  const double cx = static_cast<double>(src.width) / 2.0;
  const double cy = static_cast<double>(src.height) / 2.0;
  // The inverse map about the centre: translate by -centre, rotate, translate back.
  const double tx = matrix[0] * -cx + matrix[1] * -cy + matrix[2];
  const double ty = matrix[3] * -cx + matrix[4] * -cy + matrix[5];
  matrix[2] = tx + cx;
  matrix[5] = ty + cy;
  affine(src, dst, matrix, interpolation, fill);
}

}  // namespace ff::data
