// Timings of image input, run on demand (hidden tags, not part of the test suite):
//
//   build/tests/ff_tests_data "[.bench][jpeg]"       (FF_JPEG_BENCH_FILE=photo.jpg: a real one)
//
// Times decoding one JPEG at every TurboJPEG scale up to 1/1 (docs/data.md quotes it). It
// asserts only that the decodes succeed with the expected sizes.

#include <fmt/format.h>
#include <turbojpeg.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <random>

#include "data/image/jpeg.h"
#include "image_fixtures.h"
#include "support/cpu_seconds.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::testing::cpu_seconds;

TEST_CASE("JPEG decode timing at each scale", "[.bench][data][jpeg]") {
  std::vector<uint8_t> jpeg;
  std::string what;
  if (const char* file = std::getenv("FF_JPEG_BENCH_FILE")) {
    const std::string s = ff::data::testing::read_file(file);
    jpeg.assign(s.begin(), s.end());
    what = file;
  } else {
    // 500 x 375 (ImageNet's most common size), 4:2:0, quality 90, with sensor-like noise so
    // that entropy decoding costs what it costs in a photo.
    const int w = 500, h = 375;
    std::vector<uint8_t> rgb = testing::test_pattern(w, h, 3);
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> noise(-12, 12);
    for (uint8_t& v : rgb) v = static_cast<uint8_t>(std::clamp(v + noise(rng), 0, 255));
    jpeg = testing::encode_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_420, 90);
    what = "a synthetic 500 x 375 photo";
  }
  const JpegInfo info = read_jpeg_info(jpeg, what);
  std::cout << fmt::format("{}: {} x {}, {}, {} bytes\n", what, info.width, info.height,
                           jpeg_subsampling_name(info.subsampling), jpeg.size());
  // Every reducing factor TurboJPEG has, also those decode_jpeg does not use.
  tjhandle tj = tjInitDecompress();
  int n = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&n);
  std::vector<uint8_t> out(static_cast<size_t>(info.width * info.height * 3));
  for (int f = 0; f < n; ++f) {
    if (factors[f].num > factors[f].denom) continue;
    const int w = TJSCALED(static_cast<int>(info.width), factors[f]);
    const int h = TJSCALED(static_cast<int>(info.height), factors[f]);
    const int iterations = 200;
    double best = 1e9;
    int failures = 0;
    for (int repeat = 0; repeat < 3; ++repeat) {
      const double cpu = cpu_seconds();
      for (int i = 0; i < iterations; ++i)
        failures += tjDecompress2(tj, jpeg.data(), jpeg.size(), out.data(), w, 0, h, TJPF_RGB, 0) != 0;
      best = std::min(best, (cpu_seconds() - cpu) / iterations);
    }
    REQUIRE(failures == 0);
    std::cout << fmt::format("  tjDecompress2 {:>2}/{}: {:4} x {:4}  {:6.3f} ms CPU per decode\n", factors[f].num,
                             factors[f].denom, w, h, best * 1e3);
  }
  tjDestroy(tj);
  for (const JpegScale scale : jpeg_scales()) {
    const int iterations = 200;
    double best = 1e9;
    for (int repeat = 0; repeat < 3; ++repeat) {
      const double cpu = cpu_seconds();
      for (int i = 0; i < iterations; ++i) REQUIRE(decode_jpeg(jpeg, what, scale).width == scale.apply(info.width));
      best = std::min(best, (cpu_seconds() - cpu) / iterations);
    }
    std::cout << fmt::format("  decode_jpeg   {:>2}/{}: {:6.3f} ms CPU per decode\n", scale.num, scale.denom, best * 1e3);
  }
}
