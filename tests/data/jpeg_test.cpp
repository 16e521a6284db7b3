// JPEG decoding (data/image/jpeg.h): colour spaces, scaled decodes, the choice of scale, and
// what corrupt, truncated and non-JPEG files give. The JPEGs are written here with TurboJPEG
// (quality 100, 4:4:4 unless said otherwise) from smooth test patterns.

#include "data/image/jpeg.h"

#include <jpeglib.h>
#include <stdio.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "data/image/image_format.h"
#include "image_fixtures.h"
#include "kernels/common.h"
#include "support/command.h"
#include "support/user_error.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::testing::user_error_of;
using ff::data::testing::encode_jpeg;
using ff::data::testing::test_pattern;
using ff::data::testing::TempDir;
using ff::data::testing::write_bytes;
using Bytes = std::vector<uint8_t>;

namespace {

// The largest difference between the samples of two images of the same size.
int max_abs_diff(const Bytes& a, const Bytes& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int{a[i]} - int{b[i]}));
  return worst;
}

void check_info(const JpegInfo& info, int64_t width, int64_t height, JpegColorSpace color_space,
                JpegSubsampling subsampling) {
  CHECK(info.width == width);
  CHECK(info.height == height);
  CHECK(info.color_space == color_space);
  CHECK(info.subsampling == subsampling);
}

Bytes repeat_channels(const Bytes& grey, int channels) {
  Bytes out;
  for (uint8_t v : grey) out.insert(out.end(), static_cast<size_t>(channels), v);
  return out;
}

// A JPEG of the RGB test pattern, 4:2:0 at quality 90 as cameras write them.
Bytes camera_like_jpeg(int width, int height) {
  return encode_jpeg(test_pattern(width, height, 3), width, height, TJPF_RGB, TJSAMP_420, 90);
}

// Y sampled 3x1 against Cb, Cr: valid JPEG, but none of TurboJPEG's TJSAMP_* (libjpeg's API
// writes it; TurboJPEG cannot).
Bytes jpeg_with_3x1_luma_sampling(const Bytes& rgb, int width, int height) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = width;
  c.image_height = height;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  c.comp_info[0].h_samp_factor = 3;
  c.comp_info[0].v_samp_factor = 1;
  for (int k = 1; k < 3; ++k) c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(rgb.data()) + static_cast<size_t>(c.next_scanline) * width * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes jpeg(out, out + size);
  free(out);
  return jpeg;
}

}  // namespace

TEST_CASE("jpeg: an RGB JPEG decodes to its source pixels within 4 levels", "[data][jpeg]") {
  const int w = 64, h = 48;
  const Bytes rgb = test_pattern(w, h, 3);
  const Bytes jpeg = encode_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_444, 100);
  check_info(read_jpeg_info(jpeg, "rgb.jpg"), 64, 48, JpegColorSpace::ycbcr, JpegSubsampling::s444);
  const Image image = decode_jpeg(jpeg, "rgb.jpg");
  CHECK(image.height == 48);
  CHECK(image.width == 64);
  CHECK(image.channels == 3);
  // Quality 100 still rounds the RGB -> YCbCr -> RGB conversion and the DCT: 4 levels measured.
  CHECK(max_abs_diff(image.pixels, rgb) <= 4);
}

TEST_CASE("jpeg: a progressive JPEG decodes as its baseline twin", "[data][jpeg]") {
  const int w = 96, h = 64;
  const Bytes rgb = test_pattern(w, h, 3);
  const Bytes baseline = encode_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_420, 90);
  const Bytes progressive = encode_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_420, 90, TJFLAG_PROGRESSIVE);
  REQUIRE(progressive != baseline);
  // Same coefficients, entropy-coded in several scans.
  CHECK(decode_jpeg(progressive, "p.jpg").pixels == decode_jpeg(baseline, "b.jpg").pixels);
  CHECK(decode_jpeg(progressive, "p.jpg", {1, 4}).pixels == decode_jpeg(baseline, "b.jpg", {1, 4}).pixels);
}

TEST_CASE("jpeg: a greyscale JPEG decodes to three equal channels, within 1 level of its grey", "[data][jpeg]") {
  const int w = 40, h = 24;
  const Bytes grey = test_pattern(w, h, 1);
  const Bytes jpeg = encode_jpeg(grey, w, h, TJPF_GRAY, TJSAMP_GRAY, 100);
  check_info(read_jpeg_info(jpeg, "grey.jpg"), 40, 24, JpegColorSpace::gray, JpegSubsampling::gray);
  const Image image = decode_jpeg(jpeg, "grey.jpg");
  REQUIRE(image.channels == 3);
  for (size_t p = 0; p < grey.size(); ++p) {
    CHECK(image.pixels[3 * p] == image.pixels[3 * p + 1]);
    CHECK(image.pixels[3 * p] == image.pixels[3 * p + 2]);
  }
  CHECK(max_abs_diff(image.pixels, repeat_channels(grey, 3)) <= 1);
}

TEST_CASE("jpeg: a CMYK JPEG decodes as Pillow converts Adobe's inverted CMYK to RGB", "[data][jpeg]") {
  struct Case {
    std::array<uint8_t, 4> stored;  // C, M, Y, K as the file stores them (255 - ink)
    std::array<uint8_t, 3> rgb;     // Image.new("CMYK", ink).convert("RGB") in Pillow 9.4
  };
  const std::vector<Case> cases = {
      {{255, 255, 255, 255}, {255, 255, 255}},  // no ink: white
      {{0, 255, 128, 255}, {0, 255, 128}},      // full cyan, half yellow
      {{255, 255, 255, 0}, {0, 0, 0}},          // full black
      {{200, 100, 50, 180}, {141, 71, 35}},
      {{30, 220, 140, 90}, {11, 78, 49}},
  };
  for (const Case& c : cases) {
    INFO(int{c.stored[0]} << " " << int{c.stored[1]} << " " << int{c.stored[2]} << " " << int{c.stored[3]});
    Bytes cmyk;
    for (int p = 0; p < 16 * 16; ++p) cmyk.insert(cmyk.end(), c.stored.begin(), c.stored.end());
    const Bytes jpeg = encode_jpeg(cmyk, 16, 16, TJPF_CMYK, TJSAMP_444, 100);
    const JpegInfo info = read_jpeg_info(jpeg, "cmyk.jpg");
    CHECK(info.color_space == JpegColorSpace::ycck);  // libjpeg writes CMYK as YCCK
    const Image image = decode_jpeg(jpeg, "cmyk.jpg");
    REQUIRE(image.channels == 3);
    // Flat blocks survive quality 100 exactly; the CMY <-> YCC conversion may round by 1.
    for (int ch = 0; ch < 3; ++ch) {
      CHECK(std::abs(int{image.at(0, 0, ch)} - int{c.rgb[ch]}) <= 1);
      CHECK(std::abs(int{image.at(15, 15, ch)} - int{c.rgb[ch]}) <= 1);
    }
  }
}

TEST_CASE("jpeg: scaled decodes have TurboJPEG's sizes, rounded up", "[data][jpeg]") {
  const Bytes jpeg = camera_like_jpeg(640, 480);
  const std::vector<std::tuple<JpegScale, int64_t, int64_t>> cases = {
      {{1, 1}, 640, 480}, {{1, 2}, 320, 240}, {{1, 4}, 160, 120}, {{1, 8}, 80, 60}};
  for (const auto& [scale, w, h] : cases) {
    const Image image = decode_jpeg(jpeg, "photo.jpg", scale);
    CHECK(image.width == w);
    CHECK(image.height == h);
    CHECK(image.pixels.size() == static_cast<size_t>(w * h * 3));
  }
  const Image odd = decode_jpeg(camera_like_jpeg(641, 479), "odd.jpg", {1, 8});
  CHECK(odd.width == 81);  // ceil(641 / 8)
  CHECK(odd.height == 60);
}

TEST_CASE("jpeg: a scaled decode keeps the picture", "[data][jpeg]") {
  const int w = 256, h = 128;
  const Bytes rgb = test_pattern(w, h, 3);
  const Image quarter = decode_jpeg(encode_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_444, 100), "p.jpg", {1, 4});
  REQUIRE(quarter.width == 64);
  // Each output pixel is about the mean of its 4 x 4 source block.
  int worst = 0;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dy = 0; dy < 4; ++dy)
          for (int dx = 0; dx < 4; ++dx) sum += rgb[((4 * y + dy) * w + 4 * x + dx) * 3 + c];
        worst = std::max(worst, std::abs(quarter.at(y, x, c) - (sum + 8) / 16));
      }
  CHECK(worst <= 6);
}

TEST_CASE("jpeg: the scales are TurboJPEG's 1/1, 1/2, 1/4 and 1/8", "[data][jpeg]") {
  const auto scales = jpeg_scales();
  CHECK(std::vector<JpegScale>(scales.begin(), scales.end()) ==
        std::vector<JpegScale>{{1, 1}, {1, 2}, {1, 4}, {1, 8}});
  CHECK_THROWS_AS(decode_jpeg(camera_like_jpeg(64, 64), "x.jpg", {3, 4}), ff::Error);
}

TEST_CASE("jpeg: choose_scale picks the smallest decode that keeps the needed pixels", "[data][jpeg]") {
  CHECK(choose_scale(640, 480, 224, 224) == JpegScale{1, 2});    // 320 x 240; 1/4 is 160 x 120
  CHECK(choose_scale(1000, 800, 224, 224) == JpegScale{1, 2});   // 1/4 would be 250 x 200
  CHECK(choose_scale(1792, 1792, 224, 224) == JpegScale{1, 8});  // exactly 224 x 224
  CHECK(choose_scale(1791, 1792, 224, 224) == JpegScale{1, 4});  // 223.9 is not enough
  CHECK(choose_scale(2000, 1000, 224, 224) == JpegScale{1, 4});  // the short side decides
  CHECK(choose_scale(500, 375, 256, 192) == JpegScale{1, 1});    // 1/2 gives 250 < 256
  CHECK(choose_scale(100, 80, 224, 224) == JpegScale{1, 1});     // never enlarged
  CHECK(choose_scale(100, 80, 0, 0) == JpegScale{1, 8});
}

TEST_CASE("jpeg: a truncated JPEG is an error naming the file and TurboJPEG's warning", "[data][jpeg]") {
  const Bytes jpeg = camera_like_jpeg(320, 240);
  for (size_t keep : {jpeg.size() / 2, jpeg.size() - 1}) {
    INFO(keep << " of " << jpeg.size() << " bytes");
    const Bytes cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(keep));
    CHECK(user_error_of([&] { decode_jpeg(cut, "/data/cut.jpg"); }) ==
          "/data/cut.jpg: truncated JPEG: the data end before the end-of-image marker (TurboJPEG: Premature end of "
          "JPEG file)");
  }
  const Bytes headers_only(jpeg.begin(), jpeg.begin() + 200);
  CHECK(user_error_of([&] { decode_jpeg(headers_only, "/data/cut.jpg"); }) ==
        "/data/cut.jpg: corrupt JPEG (TurboJPEG: Invalid JPEG file structure: missing SOS marker); the data end "
        "before the end-of-image marker: truncated?");
}

TEST_CASE("jpeg: an EXIF thumbnail's end marker does not hide a truncation", "[data][jpeg]") {
  const Bytes jpeg = camera_like_jpeg(320, 240);
  // An APP1 segment holding a (fake) thumbnail that ends in FF D9, right after SOI.
  const Bytes app1 = {0xFF, 0xE1, 0x00, 0x0C, 'E', 'x', 'i', 'f', 0, 0, 0xFF, 0xD8, 0xFF, 0xD9};
  Bytes with_thumbnail = jpeg;
  with_thumbnail.insert(with_thumbnail.begin() + 2, app1.begin(), app1.end());
  CHECK(decode_jpeg(with_thumbnail, "t.jpg").pixels == decode_jpeg(jpeg, "t.jpg").pixels);
  with_thumbnail.resize(with_thumbnail.size() / 2);
  CHECK(user_error_of([&] { decode_jpeg(with_thumbnail, "t.jpg"); }).starts_with("t.jpg: truncated JPEG"));
}

TEST_CASE("jpeg: data the decoder recovers from give the image and a warning", "[data][jpeg]") {
  const Bytes jpeg = camera_like_jpeg(320, 240);
  Bytes padded = jpeg;
  padded.insert(padded.end() - 2, {0x00, 0x00, 0x00});  // garbage before the end-of-image marker
  std::string warning = "stale";
  const Image image = decode_jpeg(padded, "padded.jpg", {}, &warning);
  CHECK(warning.starts_with("Corrupt JPEG data: "));
  CHECK(warning.find("extraneous bytes before marker 0xd9") != std::string::npos);
  CHECK(image.pixels == decode_jpeg(jpeg, "clean.jpg", {}, &warning).pixels);
  CHECK(warning.empty());
}

TEST_CASE("jpeg: bytes that are not a JPEG are named errors", "[data][jpeg]") {
  Bytes random(64);
  uint32_t state = 12345;
  for (uint8_t& b : random) b = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
  random[0] = 0x42;
  CHECK(user_error_of([&] { decode_jpeg(random, "/data/noise.jpg"); }).starts_with(
      "/data/noise.jpg: not a JPEG file (it starts with 42 "));
  CHECK(user_error_of([&] { decode_jpeg({}, "/data/empty.jpg"); }) == "/data/empty.jpg: an empty file; expected a JPEG image");
  // The JPEG signature and then noise: TurboJPEG's own message.
  random[0] = 0xFF, random[1] = 0xD8, random[2] = 0xFF;
  CHECK(user_error_of([&] { decode_jpeg(random, "/data/noise.jpg"); }).starts_with("/data/noise.jpg: corrupt JPEG ("));
  Bytes tables_only(100, 0);
  std::fill_n(tables_only.begin(), 3, 0xFF);
  tables_only[1] = 0xD8;
  CHECK(user_error_of([&] { read_jpeg_info(tables_only, "z.jpg"); }) ==
        "z.jpg: corrupt JPEG (no frame header, so no image size); the data end before the end-of-image marker: "
        "truncated?");
}

TEST_CASE("jpeg: a valid JPEG decodes after a corrupt one on the same thread", "[data][jpeg]") {
  // TurboJPEG 2.1 leaves a handle whose header read failed unusable; each failure must start
  // the next decode afresh.
  const Bytes good = camera_like_jpeg(32, 16);
  Bytes corrupt = good;
  for (size_t i = 3; i < 40; ++i) corrupt[i] = static_cast<uint8_t>(i * 37);
  const Bytes truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() - 10));
  for (const Bytes& bad : {corrupt, truncated}) {
    CHECK(user_error_of([&] { decode_jpeg(bad, "bad.jpg"); }).starts_with("bad.jpg: "));
    CHECK(read_jpeg_info(good, "good.jpg").width == 32);
    CHECK(decode_jpeg(good, "good.jpg").width == 32);
  }
}

TEST_CASE("jpeg: a PNG is refused by its signature, whatever its name", "[data][jpeg]") {
  // The 8-byte signature and the start of an IHDR chunk.
  const Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  CHECK(detect_image_format(png) == ImageFormat::png);
  CHECK(user_error_of([&] { decode_jpeg(png, "train/n02105855/n02105855_2933.JPEG"); }) ==
        "train/n02105855/n02105855_2933.JPEG: a PNG image; only JPEG is supported (convert it, e.g. with "
        "ImageMagick: convert 'train/n02105855/n02105855_2933.JPEG' -quality 95 "
        "'jpg:train/n02105855/n02105855_2933.JPEG')");
  CHECK(user_error_of([&] { read_jpeg_info(png, "p.jpg"); }).starts_with("p.jpg: a PNG image;"));
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a'};
  CHECK(detect_image_format(gif) == ImageFormat::gif);
  CHECK(user_error_of([&] { decode_jpeg(gif, "g.jpg"); }).starts_with("g.jpg: a GIF image; only JPEG is supported"));
  CHECK(detect_image_format(camera_like_jpeg(8, 8)) == ImageFormat::jpeg);
}

TEST_CASE("jpeg: sampling factors TurboJPEG cannot name still decode", "[data][jpeg]") {
  const int w = 48, h = 32;
  const Bytes rgb = test_pattern(w, h, 3);
  const Bytes jpeg = jpeg_with_3x1_luma_sampling(rgb, w, h);
  check_info(read_jpeg_info(jpeg, "odd-sampling.jpg"), 48, 32, JpegColorSpace::ycbcr, JpegSubsampling::unknown);
  const Image image = decode_jpeg(jpeg, "odd-sampling.jpg");
  REQUIRE(image.width == 48);
  CHECK(max_abs_diff(image.pixels, rgb) <= 12);  // chroma at a third of the luma's resolution
}

TEST_CASE("jpeg: decodes equal Pillow's Image.open(f).convert('RGB') byte for byte", "[data][jpeg]") {
  // Debian's Pillow (python3-pil, brought by python3-matplotlib) decodes with the same
  // libjpeg-turbo.
  if (ff::testing::run_command("/usr/bin/python3 -c 'import PIL.Image'").code != 0) {
    std::cout << "FF_SKIP: /usr/bin/python3 has no PIL (Debian's python3-pil)" << std::endl;
    return;
  }
  TempDir dir;
  const int w = 123, h = 77;  // not multiples of the MCU
  const std::vector<std::pair<std::string, Bytes>> files = {
      {"ycbcr420.jpg", camera_like_jpeg(w, h)},
      {"ycbcr422.jpg", encode_jpeg(test_pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_422, 75)},
      {"grey.jpg", encode_jpeg(test_pattern(w, h, 1), w, h, TJPF_GRAY, TJSAMP_GRAY, 90)},
      {"cmyk.jpg", encode_jpeg(test_pattern(w, h, 4), w, h, TJPF_CMYK, TJSAMP_420, 90)},
  };
  std::string paths;
  for (const auto& [name, bytes] : files) {
    write_bytes(dir / name, bytes);
    paths += " '" + (dir / name).string() + "'";
  }
  const auto r = ff::testing::run_command(
      "/usr/bin/python3 -c 'import sys; from PIL import Image\n"
      "for p in sys.argv[1:]: open(p + \".rgb\", \"wb\").write(Image.open(p).convert(\"RGB\").tobytes())'" +
      paths);
  INFO(r.output);
  REQUIRE(r.code == 0);
  for (const auto& [name, bytes] : files) {
    INFO(name);
    const std::string pil = ff::data::testing::read_file(dir / (name + ".rgb"));
    const Image ours = decode_jpeg(bytes, name);
    REQUIRE(pil.size() == ours.pixels.size());
    CHECK(max_abs_diff(ours.pixels, Bytes(pil.begin(), pil.end())) == 0);
  }
}
