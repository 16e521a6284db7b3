#pragma once
// The image type every image module exchanges: 8-bit samples, pixels (height, width, channels)
// row-major with the channels of a pixel adjacent (HWC, what JPEG decoders and PIL produce).
// channels is 1 (grey: IDX digits) or 3 (RGB: decoded JPEGs). A plain aggregate, so
// `Image{h, w, c, std::move(pixels)}` works; pixels.size() == height * width * channels.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ff::data {

struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // (height, width, channels)

  // A zero-filled image of that shape.
  static Image zeros(int64_t height, int64_t width, int64_t channels) {
    return Image{height, width, channels, std::vector<uint8_t>(static_cast<size_t>(height * width * channels))};
  }

  bool empty() const { return pixels.empty(); }
  int64_t row_bytes() const { return width * channels; }
  // The pixel at (y, x): its `channels` bytes.
  uint8_t* at(int64_t y, int64_t x) { return pixels.data() + (y * width + x) * channels; }
  const uint8_t* at(int64_t y, int64_t x) const { return pixels.data() + (y * width + x) * channels; }
  uint8_t* row(int64_t y) { return pixels.data() + y * row_bytes(); }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * row_bytes(); }
  uint8_t& at(int64_t y, int64_t x, int64_t c) { return pixels[static_cast<size_t>((y * width + x) * channels + c)]; }
  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
};

}  // namespace ff::data
