#pragma once
// Small test images given by formulas (tests/data/generate_pil_expected.py builds the same
// ones for Pillow) and a byte comparison that names the first differing pixel.

#include <catch2/catch.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "data/image/image.h"

namespace ff::data::testing {

// pattern(h, w, c)[y][x][k] = (37 x + 91 y + 53 k + 7 x y) % 256; low: 60 + (...) % 121.
inline Image pattern_image(int64_t h, int64_t w, int64_t c, bool low = false) {
  Image im;
  im.height = h;
  im.width = w;
  im.channels = c;
  im.pixels.resize(static_cast<size_t>(h * w * c));
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t k = 0; k < c; ++k) {
        const int64_t v = 37 * x + 91 * y + 53 * k + 7 * x * y;
        im.at(y, x)[k] = static_cast<uint8_t>(low ? 60 + v % 121 : v % 256);
      }
    }
  }
  return im;
}

inline Image make_image(int64_t h, int64_t w, int64_t c, std::vector<uint8_t> pixels) {
  Image im;
  im.height = h;
  im.width = w;
  im.channels = c;
  im.pixels = std::move(pixels);
  return im;
}

// Empty when equal; otherwise the sizes or the first differing value with its position.
inline std::string image_difference(const Image& got, int64_t h, int64_t w, int64_t c,
                                    const std::vector<uint8_t>& expected, int tolerance = 0) {
  std::ostringstream s;
  if (got.height != h || got.width != w || got.channels != c || got.pixels.size() != expected.size()) {
    s << "size " << got.height << "x" << got.width << "x" << got.channels << " (" << got.pixels.size()
      << " bytes), expected " << h << "x" << w << "x" << c << " (" << expected.size() << " bytes)";
    return s.str();
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const int d = static_cast<int>(got.pixels[i]) - static_cast<int>(expected[i]);
    if (d > tolerance || d < -tolerance) {
      const int64_t k = static_cast<int64_t>(i) % c, x = static_cast<int64_t>(i) / c % w,
                    y = static_cast<int64_t>(i) / c / w;
      s << "pixel (y " << y << ", x " << x << ", channel " << k << "): got " << static_cast<int>(got.pixels[i])
        << ", expected " << static_cast<int>(expected[i]);
      return s.str();
    }
  }
  return {};
}

}  // namespace ff::data::testing

// CHECK that an image equals (h, w, c) bytes, reporting the first difference.
#define FF_CHECK_IMAGE(got, h, w, c, expected) CHECK(::ff::data::testing::image_difference(got, h, w, c, expected) == "")
