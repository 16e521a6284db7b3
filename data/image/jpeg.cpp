#include "data/image/jpeg.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "data/image/image_format.h"
#include "kernels/common.h"

namespace ff::data {

namespace {

// The thread's TurboJPEG decompressor: a handle is not thread-safe, and making one per image
// would allocate libjpeg's state every time. TurboJPEG 2.1 leaves a handle whose header read
// failed in the middle of that header, and every later call on it fails with the same error;
// so the handle of a call that did not succeed is dropped (fail()) and the next call makes a
// new one.
class Decompressor {
 public:
  static Decompressor& of_this_thread() {
    thread_local Decompressor d;
    return d;
  }
  ~Decompressor() { drop(); }

  tjhandle handle() {
    if (handle_ == nullptr) {
      handle_ = tjInitDecompress();
      FF_CHECK(handle_ != nullptr, "tjInitDecompress failed: {}", tjGetErrorStr2(nullptr));
    }
    return handle_;
  }

  struct Failure {
    std::string message;
    bool warning = false;  // TJERR_WARNING: the decoder recovered (or padded a truncated file)
  };
  Failure fail() {
    Failure f{tjGetErrorStr2(handle_), tjGetErrorCode(handle_) == TJERR_WARNING};
    drop();
    return f;
  }

 private:
  void drop() {
    if (handle_ != nullptr) tjDestroy(handle_);
    handle_ = nullptr;
  }
  tjhandle handle_ = nullptr;
};

JpegColorSpace color_space_of(int tjcs) {
  switch (tjcs) {
    case TJCS_RGB: return JpegColorSpace::rgb;
    case TJCS_GRAY: return JpegColorSpace::gray;
    case TJCS_CMYK: return JpegColorSpace::cmyk;
    case TJCS_YCCK: return JpegColorSpace::ycck;
    default: return JpegColorSpace::ycbcr;
  }
}

JpegSubsampling subsampling_of(int tjsamp) {
  switch (tjsamp) {
    case TJSAMP_444: return JpegSubsampling::s444;
    case TJSAMP_422: return JpegSubsampling::s422;
    case TJSAMP_420: return JpegSubsampling::s420;
    case TJSAMP_GRAY: return JpegSubsampling::gray;
    case TJSAMP_440: return JpegSubsampling::s440;
    case TJSAMP_411: return JpegSubsampling::s411;
    default: return JpegSubsampling::unknown;
  }
}

// Whether the data reach the end-of-image marker (FF D9), found the way libjpeg's marker
// reader finds it: segments with a length (APPn, DQT, DHT, SOFn, the SOS header, ...) are
// skipped whole, so the FF D9 of an EXIF thumbnail does not count; in entropy-coded data FF 00
// is a stuffed byte and FF D0-D7 are restart markers. Runs only when the decoder warned.
bool reaches_end_of_image(std::span<const uint8_t> b) {
  size_t i = 2;  // after SOI
  while (i + 1 < b.size()) {
    if (b[i] != 0xFF) {
      const void* next = std::memchr(b.data() + i, 0xFF, b.size() - i);
      if (next == nullptr) return false;
      i = static_cast<size_t>(static_cast<const uint8_t*>(next) - b.data());
      continue;
    }
    const uint8_t marker = b[i + 1];
    if (marker == 0xD9) return true;
    if (marker == 0xFF) {  // fill byte
      ++i;
    } else if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      i += 2;  // stuffed zero, TEM, RSTn: no length
    } else {
      if (i + 3 >= b.size()) return false;
      i += 2 + ((size_t{b[i + 2]} << 8) | b[i + 3]);
    }
  }
  return false;
}

[[noreturn]] void throw_corrupt(std::string_view name, std::span<const uint8_t> bytes, std::string_view problem) {
  throw UserError(fmt::format("{}: corrupt JPEG ({}){}", name, problem,
                              reaches_end_of_image(bytes) ? "" : "; the data end before the end-of-image marker: truncated?"));
}

// Pillow's CMYK -> RGB for a CMYK JPEG (Image.open(f).convert("RGB"), checked against Pillow
// 9.4 for every (C, K) pair): the file's values are Adobe's inverted CMYK, ink = 255 - value,
// and each channel is (255 - ink_K) * (1 - ink_C / 255), rounded as Pillow's MULDIV255.
// cmyk: (pixels, 4), rgb: (pixels, 3).
void adobe_cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, size_t pixels) {
  auto muldiv255 = [](int a, int b) {
    const int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (size_t p = 0; p < pixels; ++p, cmyk += 4, rgb += 3) {
    const int not_black = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<uint8_t>(not_black - muldiv255(255 - cmyk[c], not_black));
  }
}

}  // namespace

std::string_view jpeg_color_space_name(JpegColorSpace color_space) {
  switch (color_space) {
    case JpegColorSpace::ycbcr: return "YCbCr";
    case JpegColorSpace::rgb: return "RGB";
    case JpegColorSpace::gray: return "greyscale";
    case JpegColorSpace::cmyk: return "CMYK";
    case JpegColorSpace::ycck: return "YCCK";
  }
  return "?";
}

std::string_view jpeg_subsampling_name(JpegSubsampling subsampling) {
  switch (subsampling) {
    case JpegSubsampling::s444: return "4:4:4";
    case JpegSubsampling::s422: return "4:2:2";
    case JpegSubsampling::s420: return "4:2:0";
    case JpegSubsampling::gray: return "greyscale";
    case JpegSubsampling::s440: return "4:4:0";
    case JpegSubsampling::s411: return "4:1:1";
    case JpegSubsampling::unknown: break;
  }
  return "unknown";
}

JpegInfo read_jpeg_info(std::span<const uint8_t> bytes, std::string_view name) {
  require_jpeg(bytes, name);
  Decompressor& tj = Decompressor::of_this_thread();
  int width = 0, height = 0, subsampling = -1, color_space = -1;
  if (tjDecompressHeader3(tj.handle(), bytes.data(), bytes.size(), &width, &height, &subsampling, &color_space) != 0) {
    const std::string message = tj.fail().message;
    // TurboJPEG 2.x fails when the sampling factors are none of its TJSAMP_* after it has read
    // the frame header (size and colour space set); tjDecompress2 decodes such files all the same.
    if (width <= 0 || height <= 0 || color_space < 0) throw_corrupt(name, bytes, "TurboJPEG: " + message);
    subsampling = -1;
  }
  // A stream of tables alone reads without error, and without a size.
  if (width <= 0 || height <= 0) throw_corrupt(name, bytes, "no frame header, so no image size");
  return {.width = width, .height = height, .color_space = color_space_of(color_space),
          .subsampling = subsampling_of(subsampling)};
}

std::span<const JpegScale> jpeg_scales() {
  static const std::vector<JpegScale> scales = [] {
    int n = 0;
    const tjscalingfactor* factors = tjGetScalingFactors(&n);
    FF_CHECK(factors != nullptr, "tjGetScalingFactors failed: {}", tjGetErrorStr2(nullptr));
    std::vector<JpegScale> out;
    for (int i = 0; i < n; ++i) {
      const tjscalingfactor f = factors[i];
      if (f.num == 1 && (f.denom == 1 || f.denom == 2 || f.denom == 4 || f.denom == 8))
        out.push_back({f.num, f.denom});
    }
    std::sort(out.begin(), out.end(), [](JpegScale a, JpegScale b) { return a.denom < b.denom; });
    FF_CHECK(!out.empty() && out.front() == JpegScale{}, "TurboJPEG offers no 1/1 scaling factor");
    return out;
  }();
  return scales;
}

JpegScale choose_scale(int64_t src_w, int64_t src_h, int64_t need_w, int64_t need_h) {
  const auto scales = jpeg_scales();
  for (auto s = scales.rbegin(); s != scales.rend(); ++s)
    if (src_w * s->num >= need_w * s->denom && src_h * s->num >= need_h * s->denom) return *s;
  return scales.front();
}

Image decode_jpeg(std::span<const uint8_t> bytes, std::string_view name, JpegScale scale, std::string* warning) {
  const auto scales = jpeg_scales();
  FF_CHECK(std::find(scales.begin(), scales.end(), scale) != scales.end(),
           "decode_jpeg: scale {}/{} is not one of jpeg_scales()", scale.num, scale.denom);
  const JpegInfo info = read_jpeg_info(bytes, name);
  const int64_t width = scale.apply(info.width), height = scale.apply(info.height);
  const bool cmyk = info.color_space == JpegColorSpace::cmyk || info.color_space == JpegColorSpace::ycck;

  Image image = Image::zeros(height, width, 3);
  // TurboJPEG decodes CMYK and YCCK files only to CMYK.
  std::vector<uint8_t> cmyk_pixels(cmyk ? static_cast<size_t>(width * height * 4) : 0);
  uint8_t* out = cmyk ? cmyk_pixels.data() : image.pixels.data();
  Decompressor& tj = Decompressor::of_this_thread();
  // Asking for the scaled size makes TurboJPEG use exactly that factor. Default flags: the
  // accurate integer IDCT and smooth upsampling, as PIL decodes.
  const int status = tjDecompress2(tj.handle(), bytes.data(), bytes.size(), out, static_cast<int>(width), 0,
                                   static_cast<int>(height), cmyk ? TJPF_CMYK : TJPF_RGB, 0);
  if (warning) warning->clear();
  if (status != 0) {
    const Decompressor::Failure failure = tj.fail();
    if (!failure.warning) throw_corrupt(name, bytes, "TurboJPEG: " + failure.message);
    // A file cut short is only a warning to libjpeg, which pads it with grey; it is an error
    // here, as in PIL ("image file is truncated").
    FF_USER_CHECK(reaches_end_of_image(bytes),
                  "{}: truncated JPEG: the data end before the end-of-image marker (TurboJPEG: {})", name,
                  failure.message);
    if (warning) *warning = failure.message;
  }
  if (cmyk) adobe_cmyk_to_rgb(cmyk_pixels.data(), image.pixels.data(), static_cast<size_t>(width * height));
  return image;
}

}  // namespace ff::data
