#include "data/image/image_format.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "kernels/common.h"

namespace ff::data {

namespace {
bool starts_with(std::span<const uint8_t> bytes, std::string_view magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}
}  // namespace

ImageFormat detect_image_format(std::span<const uint8_t> bytes) {
  using namespace std::string_view_literals;
  if (starts_with(bytes, "\xFF\xD8\xFF"sv)) return ImageFormat::jpeg;
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n"sv)) return ImageFormat::png;
  if (starts_with(bytes, "GIF8"sv)) return ImageFormat::gif;
  if (starts_with(bytes, "BM"sv)) return ImageFormat::bmp;
  if (starts_with(bytes, "RIFF"sv) && starts_with(bytes, "WEBP"sv, 8)) return ImageFormat::webp;
  if (starts_with(bytes, "II\x2A\x00"sv) || starts_with(bytes, "MM\x00\x2A"sv)) return ImageFormat::tiff;
  return ImageFormat::unknown;
}

std::string_view image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::png: return "PNG";
    case ImageFormat::gif: return "GIF";
    case ImageFormat::bmp: return "BMP";
    case ImageFormat::webp: return "WebP";
    case ImageFormat::tiff: return "TIFF";
    case ImageFormat::unknown: break;
  }
  return "unknown";
}

void require_jpeg(std::span<const uint8_t> bytes, std::string_view name) {
  const ImageFormat format = detect_image_format(bytes);
  if (format == ImageFormat::jpeg) return;
  if (bytes.empty()) throw UserError(fmt::format("{}: an empty file; expected a JPEG image", name));
  if (format != ImageFormat::unknown) {
    throw UserError(fmt::format(
        "{}: a {} image; only JPEG is supported (convert it, e.g. with ImageMagick: convert '{}' -quality 95 'jpg:{}')",
        name, image_format_name(format), name, name));
  }
  const auto head = bytes.first(std::min<size_t>(bytes.size(), 8));
  throw UserError(fmt::format("{}: not a JPEG file (it starts with {:02X}; a JPEG starts with FF D8 FF)", name,
                              fmt::join(head, " ")));
}

}  // namespace ff::data
