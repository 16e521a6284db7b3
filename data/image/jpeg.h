#pragma once
// JPEG decoding with libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0-dev) into 8-bit
// RGB, optionally at a reduced DCT scale. Every colour space ImageNet holds comes out as RGB
// the way PIL's Image.open(f).convert("RGB") makes it (docs/data.md, "Images"):
//
//   YCbCr, RGB   the decoder's RGB (accurate integer IDCT and smooth chroma upsampling, as PIL);
//   greyscale    the grey value in all three channels (what convert("RGB") does);
//   CMYK, YCCK   decoded to CMYK, read as Adobe's inverted CMYK (stored value = 255 - ink, what
//                Photoshop writes and PIL always assumes), converted as Pillow does:
//                R = K' - round(C * K' / 255) with C = 255 - stored C, K' = stored K (same for
//                G, B); no colour management.
//
// A truncated file is an error; other corrupt-data warnings the decoder recovers from are not
// (PIL loads those files too), and are reported through `warning`.
// Thread-safe: each thread decodes with its own TurboJPEG handle.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "data/image/image.h"

namespace ff::data {

enum class JpegColorSpace { ycbcr, rgb, gray, cmyk, ycck };
// Chrominance subsampling (TurboJPEG's TJSAMP); unknown: sampling factors TurboJPEG 2.x has no
// name for (such files still decode).
enum class JpegSubsampling { s444, s422, s420, gray, s440, s411, unknown };

std::string_view jpeg_color_space_name(JpegColorSpace color_space);  // "YCbCr", "RGB", "greyscale", ...
std::string_view jpeg_subsampling_name(JpegSubsampling subsampling);  // "4:2:0", ..., "unknown"

struct JpegInfo {
  int64_t width = 0, height = 0;
  JpegColorSpace color_space = JpegColorSpace::ycbcr;
  JpegSubsampling subsampling = JpegSubsampling::s444;
};

// From the headers alone (nothing is decoded). `name` (the path) is used in error messages.
// ff::UserError for a non-JPEG file (image_format.h: require_jpeg) and for headers TurboJPEG
// cannot read, with TurboJPEG's message.
JpegInfo read_jpeg_info(std::span<const uint8_t> bytes, std::string_view name);

// A DCT scaling factor num/denom. The decoder produces ceil(dim * num / denom) pixels per side
// (TurboJPEG's TJSCALED).
struct JpegScale {
  int num = 1, denom = 1;
  int64_t apply(int64_t dim) const { return (dim * num + denom - 1) / denom; }
  friend bool operator==(const JpegScale&, const JpegScale&) = default;
};

// The factors decode_jpeg accepts, largest first: 1/1, 1/2, 1/4, 1/8, taken from
// tjGetScalingFactors. TurboJPEG also offers 2/1 ... 9/8 and 7/8 ... 3/8; enlarging is the
// resize's job, and the other reductions have no SIMD IDCT in libjpeg-turbo: they decode
// slower than 1/1 (measured in docs/data.md), so they are never chosen.
std::span<const JpegScale> jpeg_scales();

// The smallest factor s of jpeg_scales() that keeps a region of src_w x src_h source pixels
// (the whole image, or a crop of it) at least need_w x need_h pixels: src_w * s >= need_w and
// src_h * s >= need_h, exactly (no rounding up). 1/1 when even that is too small. E.g. a
// 640 x 480 crop resized to 224 x 224 decodes at 1/2 (320 x 240), a 1792 x 1792 one at 1/8.
JpegScale choose_scale(int64_t src_w, int64_t src_h, int64_t need_w, int64_t need_h);

// The image as RGB: (scale.apply(height), scale.apply(width), 3). `scale` must be one of
// jpeg_scales() (ff::Error otherwise). ff::UserError naming the file for a non-JPEG, a corrupt
// or a truncated JPEG, with TurboJPEG's message. When the decoder recovered from corrupt data
// (e.g. "Corrupt JPEG data: 3 extraneous bytes before marker 0xd9"), the image is returned and
// `*warning` (if given) receives the message; otherwise `*warning` is cleared.
Image decode_jpeg(std::span<const uint8_t> bytes, std::string_view name, JpegScale scale = {},
                  std::string* warning = nullptr);

}  // namespace ff::data
