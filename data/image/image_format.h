#pragma once
// What an image file holds, told by its first bytes (its magic number), never by its name:
// ImageNet's train set has a PNG named .JPEG (docs/imagenet.md).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ff::data {

enum class ImageFormat { jpeg, png, gif, bmp, webp, tiff, unknown };

// jpeg: FF D8 FF; png: 89 'PNG' 0D 0A 1A 0A; gif: 'GIF8'; bmp: 'BM'; webp: 'RIFF' ? ? ? ? 'WEBP';
// tiff: 'II' 2A 00 or 'MM' 00 2A.
ImageFormat detect_image_format(std::span<const uint8_t> bytes);

// "JPEG", "PNG", "GIF", "BMP", "WebP", "TIFF", "unknown".
std::string_view image_format_name(ImageFormat format);

// Throws ff::UserError unless `bytes` are a JPEG. The message names the file (`name`), what it
// is instead and how to convert it, e.g. "<name>: a PNG image; only JPEG is supported
// (convert it, e.g. with ImageMagick: convert '<name>' -quality 95 'jpg:<name>')", or for an
// unrecognised file its first bytes in hex.
void require_jpeg(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace ff::data
