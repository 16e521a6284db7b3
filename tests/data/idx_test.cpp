// IDX files (data/image/idx.h): small files written here, plain and gzipped, read back
// exactly; wrong magics, truncations and count mismatches; Debian's Fashion-MNIST when it is
// installed.

#include "data/image/idx.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "image_fixtures.h"
#include "kernels/common.h"
#include "support/user_error.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::testing::user_error_of;
using ff::data::testing::quoted;
using ff::data::testing::TempDir;
using ff::data::testing::write_bytes;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

namespace {

void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// An IDX file: magic 0x08 << 8 | dims, the sizes, then `data`.
Bytes idx_file(const std::vector<uint32_t>& sizes, const Bytes& data) {
  Bytes out;
  put_be32(out, 0x0800 | static_cast<uint32_t>(sizes.size()));
  for (uint32_t s : sizes) put_be32(out, s);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_gzip(const fs::path& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb9");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Bytes read_bytes(const fs::path& path) {
  const std::string s = ff::data::testing::read_file(path);
  return Bytes(s.begin(), s.end());
}

// 3 images of 2 x 4: image i, row r, column c holds 100 i + 10 r + c.
const Bytes kPixels = [] {
  Bytes p;
  for (int i = 0; i < 3; ++i)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 4; ++c) p.push_back(static_cast<uint8_t>(100 * i + 10 * r + c));
  return p;
}();
const Bytes kLabels = {7, 0, 9};

}  // namespace

TEST_CASE("idx: images and labels read back exactly, plain and gzipped", "[data][idx]") {
  TempDir dir;
  write_bytes(dir / "images-idx3-ubyte", idx_file({3, 2, 4}, kPixels));
  write_bytes(dir / "labels-idx1-ubyte", idx_file({3}, kLabels));
  write_gzip(dir / "images-idx3-ubyte.gz", idx_file({3, 2, 4}, kPixels));
  write_gzip(dir / "labels-idx1-ubyte.gz", idx_file({3}, kLabels));
  REQUIRE(read_bytes(dir / "images-idx3-ubyte.gz")[0] == 0x1F);

  for (const char* suffix : {"", ".gz"}) {
    INFO("suffix '" << suffix << "'");
    const IdxDataset d = read_idx_dataset(dir / (std::string("images-idx3-ubyte") + suffix),
                                          dir / (std::string("labels-idx1-ubyte") + suffix));
    CHECK(d.images.count == 3);
    CHECK(d.images.rows == 2);
    CHECK(d.images.cols == 4);
    CHECK(d.images.pixels == kPixels);
    CHECK(d.labels == kLabels);
    const Image second = d.images.image(1);
    CHECK(second.height == 2);
    CHECK(second.width == 4);
    CHECK(second.channels == 1);
    CHECK(second.pixels == Bytes{100, 101, 102, 103, 110, 111, 112, 113});
    CHECK(second.at(1, 3, 0) == 113);
  }
  // The gzip magic decides, not the name.
  write_gzip(dir / "labels-plain-name", idx_file({3}, kLabels));
  CHECK(read_idx_labels(dir / "labels-plain-name") == kLabels);
}

TEST_CASE("idx: concatenated gzip members are one file, as gzip -d reads them", "[data][idx]") {
  TempDir dir;
  const Bytes whole = idx_file({3, 2, 4}, kPixels);
  write_gzip(dir / "a.gz", Bytes(whole.begin(), whole.begin() + 10));
  write_gzip(dir / "b.gz", Bytes(whole.begin() + 10, whole.end()));
  Bytes both = read_bytes(dir / "a.gz");
  const Bytes b = read_bytes(dir / "b.gz");
  both.insert(both.end(), b.begin(), b.end());
  write_bytes(dir / "images.gz", both);
  CHECK(read_idx_images(dir / "images.gz").pixels == kPixels);
}

TEST_CASE("idx: a wrong magic says what the file is and what was expected", "[data][idx]") {
  TempDir dir;
  const fs::path labels = dir / "train-labels-idx1-ubyte";
  write_bytes(labels, idx_file({3}, kLabels));
  CHECK(user_error_of([&] { read_idx_images(labels); }) ==
        quoted(labels) +
            ": IDX magic 0x00000801 (unsigned bytes, 1 dimension); expected 0x00000803 (images: unsigned bytes, "
            "3 dimensions)");
  const fs::path png = dir / "image.png";
  write_bytes(png, Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
  CHECK(user_error_of([&] { read_idx_labels(png); }) ==
        quoted(png) +
            ": IDX magic 0x89504E47 (not an IDX magic: its first two bytes must be 0); expected 0x00000801 (labels: "
            "unsigned bytes, 1 dimension)");
  Bytes floats = idx_file({3}, Bytes(12));
  floats[2] = 0x0D;
  write_bytes(dir / "floats", floats);
  CHECK(user_error_of([&] { read_idx_labels(dir / "floats"); }).find("IDX magic 0x00000D01 (32-bit floats, 1 dimension)") !=
        std::string::npos);
}

TEST_CASE("idx: truncated and overlong files are errors giving both sizes", "[data][idx]") {
  TempDir dir;
  Bytes images = idx_file({3, 2, 4}, kPixels);
  images.resize(images.size() - 5);
  write_bytes(dir / "short", images);
  CHECK(user_error_of([&] { read_idx_images(dir / "short"); }) ==
        quoted(dir / "short") +
            ": truncated: the header says 3 images of 2 x 4 (24 bytes), the file has 19 bytes after the header");
  write_gzip(dir / "short.gz", images);
  CHECK(user_error_of([&] { read_idx_images(dir / "short.gz"); }) ==
        quoted(dir / "short.gz") +
            ": truncated: the header says 3 images of 2 x 4 (24 bytes), the file has 19 bytes after the header after "
            "decompression");

  Bytes labels = idx_file({3}, kLabels);
  labels.push_back(1);
  write_bytes(dir / "long", labels);
  CHECK(user_error_of([&] { read_idx_labels(dir / "long"); }) ==
        quoted(dir / "long") +
            ": trailing bytes: the header says 3 labels (3 bytes), the file has 4 bytes after the header");

  write_bytes(dir / "header", Bytes{0, 0, 8, 3, 0, 0, 0, 3, 0, 0});
  CHECK(user_error_of([&] { read_idx_images(dir / "header"); }) ==
        quoted(dir / "header") + ": the IDX header is truncated: 10 bytes, expected 16");
  write_bytes(dir / "tiny", Bytes{0, 0});
  CHECK(user_error_of([&] { read_idx_labels(dir / "tiny"); }) ==
        quoted(dir / "tiny") +
            ": 2 bytes, too short for an IDX file; expected the magic 0x00000801 (labels: unsigned bytes, 1 dimension)");
}

TEST_CASE("idx: truncated or damaged gzip data are errors", "[data][idx]") {
  TempDir dir;
  write_gzip(dir / "whole.gz", idx_file({3, 2, 4}, kPixels));
  const Bytes gz = read_bytes(dir / "whole.gz");
  write_bytes(dir / "cut.gz", Bytes(gz.begin(), gz.end() - 6));  // inside the CRC/size trailer
  CHECK(user_error_of([&] { read_idx_images(dir / "cut.gz"); }) ==
        quoted(dir / "cut.gz") + ": the gzip data are truncated (they end after 40 decompressed bytes)");
  Bytes bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0xFF;
  write_bytes(dir / "crc.gz", bad_crc);
  CHECK(user_error_of([&] { read_idx_images(dir / "crc.gz"); }) ==
        quoted(dir / "crc.gz") + ": corrupt gzip data (incorrect data check)");
  Bytes trailing = gz;
  trailing.push_back('x');
  write_bytes(dir / "trailing.gz", trailing);
  CHECK(user_error_of([&] { read_idx_images(dir / "trailing.gz"); }) ==
        quoted(dir / "trailing.gz") +
            ": 1 bytes follow the end of the gzip data; expected another gzip member or nothing");
  CHECK(user_error_of([&] { read_idx_images(dir / "missing.gz"); }).starts_with(
      "cannot open '" + (dir / "missing.gz").string() + "'"));
}

TEST_CASE("idx: image and label counts must agree", "[data][idx]") {
  TempDir dir;
  write_bytes(dir / "images", idx_file({3, 2, 4}, kPixels));
  write_bytes(dir / "labels", idx_file({2}, Bytes{1, 2}));
  CHECK(user_error_of([&] { read_idx_dataset(dir / "images", dir / "labels"); }) ==
        quoted(dir / "images") + " holds 3 images but " + quoted(dir / "labels") +
            " holds 2 labels; expected one label per image (files of different splits?)");
}

TEST_CASE("idx: Debian's Fashion-MNIST (dataset-fashion-mnist) reads with the published counts", "[data][idx]") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "t10k-labels-idx1-ubyte.gz")) {
    std::cout << "FF_SKIP: " << dir.string() << " is absent (scripts/data/prepare-fashion-mnist.sh installs it)"
              << std::endl;
    return;
  }
  const IdxDataset train = read_idx_dataset(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz");
  const IdxDataset test = read_idx_dataset(dir / "t10k-images-idx3-ubyte.gz", dir / "t10k-labels-idx1-ubyte.gz");
  CHECK(train.images.count == 60000);
  CHECK(test.images.count == 10000);
  for (const IdxDataset* d : {&train, &test}) {
    CHECK(d->images.rows == 28);
    CHECK(d->images.cols == 28);
    std::vector<int> per_class(10);
    for (uint8_t label : d->labels) ++per_class.at(label);
    CHECK(per_class == std::vector<int>(10, static_cast<int>(d->labels.size() / 10)));  // balanced classes
  }
  // Values read with Python's gzip module from the package's files.
  CHECK(Bytes(train.labels.begin(), train.labels.begin() + 10) == Bytes{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  CHECK(Bytes(test.labels.begin(), test.labels.begin() + 10) == Bytes{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  const Image first = train.images.image(0);
  CHECK(std::accumulate(first.pixels.begin(), first.pixels.end(), 0) == 76247);
  CHECK(Bytes(first.row(14) + 10, first.row(14) + 15) == Bytes{0, 0, 237, 226, 217});
  const Image first_test = test.images.image(0);
  CHECK(std::accumulate(first_test.pixels.begin(), first_test.pixels.end(), 0) == 33456);
}
