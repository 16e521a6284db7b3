#pragma once
// An 8-bit image in memory: height x width x channels (1 or 3), row-major HWC.
#include <cstdint>
#include <vector>
namespace ff::data {
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels
  uint8_t* at(int64_t y, int64_t x) { return pixels.data() + (y * width + x) * channels; }
  const uint8_t* at(int64_t y, int64_t x) const { return pixels.data() + (y * width + x) * channels; }
};
}  // namespace ff::data
