#pragma once
// The image operations RandAugment is made of, each as Pillow 9.4 computes it on mode "RGB"
// (3 channels) or "L" (1 channel) images: ImageOps (autocontrast, equalize, invert,
// posterize, solarize), timm's solarize_add, ImageEnhance (Color, Contrast, Brightness,
// Sharpness: Image.blend of a degenerate image and the image), and Image.transform(AFFINE) /
// Image.rotate with bilinear or bicubic sampling and a fill colour. Images are HWC uint8.

#include <array>
#include <cstdint>

#include "data/image/image.h"
#include "data/image/transforms_geometry.h"

namespace ff::data {

// The colour of pixels a geometric op maps from outside the image; channel 0 only for "L".
using FillColor = std::array<uint8_t, 3>;

// ---- per-pixel lookups, in place

// ImageOps.autocontrast(cutoff=0): per channel, [lo, hi] (the lowest and highest values
// present) stretched to [0, 255] by int(v * 255 / (hi - lo) - lo * 255 / (hi - lo));
// a channel with hi <= lo is left as it is.
void autocontrast(Image& image);
// ImageOps.equalize: per channel, step = (pixels - count of the last present value) // 255,
// value v -> (step // 2 + pixels below v) // step; unchanged when step is 0 or only one value
// is present.
void equalize(Image& image);
void invert(Image& image);                  // v -> 255 - v
void posterize(Image& image, int bits);     // keep the `bits` (0..8) high bits; 8 leaves it
void solarize(Image& image, int threshold);  // v >= threshold -> 255 - v
// timm's solarize_add: v < threshold -> min(255, v + add); add may be negative.
void solarize_add(Image& image, int add, int threshold = 128);

// ---- ImageEnhance: Image.blend(degenerate, image, factor) with factor rounded to float:
// out = uint8(d + factor * (v - d)), clamped to [0, 255] when factor is outside [0, 1].

// Degenerate: the image's luma (Pillow's L = (19595 R + 38470 G + 7471 B + 2^15) >> 16),
// so greyscale images are unchanged by any factor.
void enhance_color(Image& image, double factor);
// Degenerate: a flat image of int(mean luma + 0.5).
void enhance_contrast(Image& image, double factor);
// Degenerate: black.
void enhance_brightness(Image& image, double factor);
// Degenerate: ImageFilter.SMOOTH (3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13, border pixels
// copied). dst must differ from src.
void enhance_sharpness(const Image& src, Image& dst, double factor);

// ---- geometry: Image.transform(size, AFFINE, matrix, resample, fillcolor)

// Output pixel (x, y) samples the source at (m0 (x + 0.5) + m1 (y + 0.5) + m2,
// m3 (x + 0.5) + m4 (y + 0.5) + m5); points outside [0, W) x [0, H) take the fill colour.
// Sampling is not antialiased: bilinear on the 2x2, bicubic (a = -1, as Pillow's transform
// filter, not the a = -0.5 of its resize) on the 4x4 neighbourhood, edges replicated.
// dst (same size as src) must differ from src.
void affine(const Image& src, Image& dst, const std::array<double, 6>& matrix, Interpolation interpolation,
            FillColor fill);
// Image.rotate(degrees, resample, fillcolor=fill): counter-clockwise about the centre
// (W / 2, H / 2), same size; multiples of 90 degrees are exact transposes as in Pillow
// (90 and 270 only for square images), the other angles an affine map whose matrix entries
// are cos/sin rounded to 15 decimals, as Pillow does.
void rotate(const Image& src, Image& dst, double degrees, Interpolation interpolation, FillColor fill);

}  // namespace ff::data
