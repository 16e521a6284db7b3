#pragma once
// Images the data tests make themselves: smooth test patterns and JPEGs of them written with
// TurboJPEG's compressor, and whole files written as bytes.

#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ff::data::testing {

// (height, width, channels) bytes of smooth gradients and waves, different per channel: a
// JPEG at quality 100 keeps such content within a few levels.
inline std::vector<uint8_t> test_pattern(int width, int height, int channels) {
  std::vector<uint8_t> p(static_cast<size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        const double v = 128 + 60 * std::sin(0.05 * (c + 1) * x + 0.03 * y) + 50 * std::cos(0.04 * y - 0.02 * c * x);
        p[(static_cast<size_t>(y) * width + x) * channels + c] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
  return p;
}

// pixels: (height, width, tjPixelSize[pixel_format]) in TurboJPEG's pixel format (TJPF_RGB,
// TJPF_GRAY, TJPF_CMYK); subsampling: TJSAMP_*; flags: TJFLAG_* (TJFLAG_PROGRESSIVE). A CMYK
// source becomes a YCCK JPEG with Adobe's marker, as libjpeg writes CMYK.
inline std::vector<uint8_t> encode_jpeg(std::span<const uint8_t> pixels, int width, int height, int pixel_format,
                                        int subsampling, int quality, int flags = 0) {
  tjhandle tj = tjInitCompress();
  if (tj == nullptr) throw std::runtime_error("tjInitCompress failed");
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int status = tjCompress2(tj, pixels.data(), width, 0, height, pixel_format, &jpeg, &size, subsampling, quality, flags);
  const std::string error = status == 0 ? "" : tjGetErrorStr2(tj);
  tjDestroy(tj);
  if (status != 0) throw std::runtime_error("tjCompress2 failed: " + error);
  std::vector<uint8_t> out(jpeg, jpeg + size);
  tjFree(jpeg);
  return out;
}

inline void write_bytes(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace ff::data::testing
