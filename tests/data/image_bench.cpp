// Timings of image input, run on demand (hidden tags, not part of the test suite):
//
//   FF_IMAGE_FOLDER_BENCH_DIR=/tmp/ff-folder build/tests/ff_tests_data "[.bench][image_folder]"
//   build/tests/ff_tests_data "[.bench][jpeg]"       (FF_JPEG_BENCH_FILE=photo.jpg: a real one)
//
// The first writes FF_IMAGE_FOLDER_BENCH_FILES (default 50,000) copies of a small valid JPEG
// into FF_IMAGE_FOLDER_BENCH_CLASSES (default 100) class directories under <dir>/train unless
// that exists, then times opening it: list and write the cache, open from the cache, list
// without a cache. The second times decoding one JPEG at every TurboJPEG scale up to 1/1.
// docs/data.md quotes both. They assert only that the opens agree and the decodes succeed
// with the expected sizes.

#include <fmt/format.h>
#include <turbojpeg.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "data/image/image_folder.h"
#include "data/image/jpeg.h"
#include "image_fixtures.h"
#include "support/cpu_seconds.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::testing::cpu_seconds;
namespace fs = std::filesystem;

TEST_CASE("image folder start-up timing on FF_IMAGE_FOLDER_BENCH_DIR", "[.bench][data][image_folder]") {
  const char* dir_env = std::getenv("FF_IMAGE_FOLDER_BENCH_DIR");
  if (!dir_env) {
    std::cout << "FF_SKIP: set FF_IMAGE_FOLDER_BENCH_DIR to a directory (created when missing)" << std::endl;
    return;
  }
  const fs::path root = dir_env;
  const char* files_env = std::getenv("FF_IMAGE_FOLDER_BENCH_FILES");
  const int files = files_env ? std::atoi(files_env) : 50000;
  const char* classes_env = std::getenv("FF_IMAGE_FOLDER_BENCH_CLASSES");
  const int classes = classes_env ? std::atoi(classes_env) : 100;
  if (!fs::exists(root / "train")) {
    const std::vector<uint8_t> jpeg = testing::encode_jpeg(testing::test_pattern(8, 8, 3), 8, 8, TJPF_RGB, TJSAMP_420, 75);
    for (int i = 0; i < files; ++i) {
      const fs::path class_dir = root / "train" / fmt::format("n{:08d}", i % classes);
      if (i < classes) fs::create_directories(class_dir);
      testing::write_bytes(class_dir / fmt::format("n{:08d}_{}.JPEG", i % classes, i), jpeg);
    }
  }
  // Settled, as a dataset is: a folder changed in the last 2 s is not cached.
  const auto past = fs::file_time_type::clock::now() - std::chrono::seconds(60);
  for (const auto& e : fs::directory_iterator(root / "train"))
    if (e.is_directory()) fs::last_write_time(e.path(), past);
  fs::remove(root / "train" / ImageFolder::kCacheFileName);

  const double cpu0 = cpu_seconds();
  const ImageFolder built = ImageFolder::open(root, "train");
  const double cpu1 = cpu_seconds();
  const ImageFolder cached = ImageFolder::open(root, "train");
  const double cpu2 = cpu_seconds();
  ImageFolderOptions no_cache;
  no_cache.use_cache = false;
  const ImageFolder listed = ImageFolder::open(root, "train", no_cache);
  const double cpu3 = cpu_seconds();
  REQUIRE(built.open_info().cache_written);
  REQUIRE(cached.open_info().from_cache);
  REQUIRE(cached.size() == built.size());
  REQUIRE(listed.size() == built.size());
  REQUIRE(cached.path(cached.size() - 1) == built.path(built.size() - 1));
  std::cout << fmt::format(
      "{}: {} files in {} classes, cache {:.2f} MB\n"
      "  list + write the cache: {:7.3f} s wall, {:7.3f} s CPU\n"
      "  open from the cache:    {:7.3f} s wall, {:7.3f} s CPU\n"
      "  list, no cache:         {:7.3f} s wall, {:7.3f} s CPU\n",
      (root / "train").string(), built.size(), built.classes().size(),
      fs::file_size(built.open_info().cache_path) / 1e6, built.open_info().seconds, cpu1 - cpu0,
      cached.open_info().seconds, cpu2 - cpu1, listed.open_info().seconds, cpu3 - cpu2);
}

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
