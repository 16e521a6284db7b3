#!/usr/bin/python3
"""Writes tests/data/image_pil_expected.h: Pillow's output for the image tests' inputs.

Run once by hand with Debian's Pillow (apt-get install python3-pil; the header records the
version), never by the tests:  /usr/bin/python3 tests/data/generate_pil_expected.py

Every array is the row-major HWC bytes of one Pillow call, written above it. The inputs are
the formulas of tests/data/image_test_util.h:
    pattern(h, w, c)[y][x][k]      = (37 x + 91 y + 53 k + 7 x y) % 256
    low_contrast(h, w, c)[y][x][k] = 60 + (37 x + 91 y + 53 k + 7 x y) % 121
The geometric calls are those timm's auto_augment.py makes (Image.transform / Image.rotate
with resample and fillcolor); the crop and resize calls are torchvision's functional_pil.
"""
import os
import sys

import numpy as np
import PIL
from PIL import Image, ImageEnhance, ImageOps

FILL_RGB = (124, 116, 104)  # timm's img_mean for the ImageNet mean
FILL_L = 124


def values(h, w, c, low=False):
    y, x, k = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    v = 37 * x + 91 * y + 53 * k + 7 * x * y
    v = 60 + v % 121 if low else v % 256
    return v.astype(np.uint8)


def image(h, w, c, low=False):
    a = values(h, w, c, low)
    return Image.fromarray(a[:, :, 0], "L") if c == 1 else Image.fromarray(a, "RGB")


def solarize_add(img, add, thresh=128):  # timm's solarize_add
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    if img.mode == "RGB":
        lut = lut * 3
    return img.point(lut)


out = []


def emit(name, call, img):
    a = np.asarray(img, dtype=np.uint8)
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    flat = a.reshape(-1).tolist()
    out.append(f"// {call}\n// -> {h}x{w}x{c}\n")
    lines = []
    for i in range(0, len(flat), 24):
        lines.append("    " + ", ".join(str(v) for v in flat[i:i + 24]) + ",")
    out.append(f"inline const std::vector<uint8_t> {name} = {{\n" + "\n".join(lines) + "\n};\n\n")


B, L_ = Image.BICUBIC, Image.BILINEAR

# ---- resize (torchvision's F.resize / F.resized_crop on PIL images call these)
emit("kResizeBicubicDown", "image(9, 11, 3).resize((5, 4), Image.BICUBIC)", image(9, 11, 3).resize((5, 4), B))
emit("kResizeBicubicUp", "image(5, 4, 3).resize((7, 9), Image.BICUBIC)", image(5, 4, 3).resize((7, 9), B))
emit("kResizeBilinearDown", "image(9, 11, 3).resize((5, 4), Image.BILINEAR)", image(9, 11, 3).resize((5, 4), L_))
emit("kResizeBilinearUp", "image(5, 4, 3).resize((7, 9), Image.BILINEAR)", image(5, 4, 3).resize((7, 9), L_))
emit("kResizeBicubicBoxGrey", "image(9, 11, 1).resize((4, 3), Image.BICUBIC, box=(1.5, 0.25, 9.75, 8.5))",
     image(9, 11, 1).resize((4, 3), B, box=(1.5, 0.25, 9.75, 8.5)))
emit("kResizeBicubicMixed", "image(12, 6, 3).resize((9, 5), Image.BICUBIC)  # wider, shorter",
     image(12, 6, 3).resize((9, 5), B))
emit("kResizedCropFlip",
     "image(10, 12, 3).crop((3, 2, 10, 8)).resize((4, 4), Image.BICUBIC).transpose(Image.FLIP_LEFT_RIGHT)"
     "  # resized_crop(top 2, left 3, h 6, w 7) + hflip",
     image(10, 12, 3).crop((3, 2, 10, 8)).resize((4, 4), B).transpose(Image.FLIP_LEFT_RIGHT))
emit("kResizedCropGrey", "image(28, 28, 1).crop((5, 3, 22, 24)).resize((28, 28), Image.BICUBIC)"
     "  # resized_crop(top 3, left 5, h 21, w 17) to 28x28",
     image(28, 28, 1).crop((5, 3, 22, 24)).resize((28, 28), B))
emit("kEvalResizeCrop", "image(10, 14, 3).resize((11, 8), Image.BICUBIC).crop((2, 1, 8, 7))"
     "  # Resize(8): 10x14 -> 8x11, CenterCrop(6): top round(1.0) = 1, left round(2.5) = 2",
     image(10, 14, 3).resize((11, 8), B).crop((2, 1, 8, 7)))

# ---- RandAugment's ops (timm's calls), on a 6x7 RGB image and its greyscale twin
for c, tag, fill in ((3, "Rgb", FILL_RGB), (1, "Grey", FILL_L)):
    src = f"image(6, 7, {c})"
    im = image(6, 7, c)
    low = image(6, 7, c, low=True)
    emit(f"kAutoContrast{tag}", f"ImageOps.autocontrast(image(6, 7, {c}, low=True))", ImageOps.autocontrast(low))
    emit(f"kEqualize{tag}", f"ImageOps.equalize({src})", ImageOps.equalize(im))
    emit(f"kEqualizeLow{tag}", f"ImageOps.equalize(image(6, 7, {c}, low=True))", ImageOps.equalize(low))
    emit(f"kInvert{tag}", f"ImageOps.invert({src})", ImageOps.invert(im))
    emit(f"kPosterize1{tag}", f"ImageOps.posterize({src}, 1)", ImageOps.posterize(im, 1))
    emit(f"kPosterize3{tag}", f"ImageOps.posterize({src}, 3)", ImageOps.posterize(im, 3))
    emit(f"kSolarize26{tag}", f"ImageOps.solarize({src}, 26)", ImageOps.solarize(im, 26))
    emit(f"kSolarizeAdd99{tag}", f"solarize_add({src}, 99)  # timm's", solarize_add(im, 99))
    for name, cls in (("Color", ImageEnhance.Color), ("Contrast", ImageEnhance.Contrast),
                      ("Brightness", ImageEnhance.Brightness), ("Sharpness", ImageEnhance.Sharpness)):
        for label, f in (("Up", 1.0 + (9 / 10.) * .9), ("Down", 1.0 - (9 / 10.) * .9)):
            emit(f"k{name}{label}{tag}", f"ImageEnhance.{name}({src}).enhance({f!r})", cls(im).enhance(f))
    for label, deg in (("Pos", (9 / 10.) * 30.), ("Neg", -((9 / 10.) * 30.))):
        emit(f"kRotateBicubic{label}{tag}", f"{src}.rotate({deg!r}, resample=Image.BICUBIC, fillcolor={fill})",
             im.rotate(deg, resample=B, fillcolor=fill))
    emit(f"kRotateBilinear{tag}", f"{src}.rotate(13.5, resample=Image.BILINEAR, fillcolor={fill})",
         im.rotate(13.5, resample=L_, fillcolor=fill))
    for label, sh in (("Pos", (9 / 10.) * 0.3), ("Neg", -((9 / 10.) * 0.3))):
        emit(f"kShearX{label}{tag}",
             f"{src}.transform((7, 6), Image.AFFINE, (1, {sh!r}, 0, 0, 1, 0), resample=Image.BICUBIC, fillcolor={fill})",
             im.transform(im.size, Image.AFFINE, (1, sh, 0, 0, 1, 0), resample=B, fillcolor=fill))
        emit(f"kShearY{label}{tag}",
             f"{src}.transform((7, 6), Image.AFFINE, (1, 0, 0, {sh!r}, 1, 0), resample=Image.BICUBIC, fillcolor={fill})",
             im.transform(im.size, Image.AFFINE, (1, 0, 0, sh, 1, 0), resample=B, fillcolor=fill))
    tx = (9 / 10.) * 0.45 * 7
    ty = -((9 / 10.) * 0.45) * 6
    emit(f"kTranslateX{tag}",
         f"{src}.transform((7, 6), Image.AFFINE, (1, 0, {tx!r}, 0, 1, 0), resample=Image.BICUBIC, fillcolor={fill})",
         im.transform(im.size, Image.AFFINE, (1, 0, tx, 0, 1, 0), resample=B, fillcolor=fill))
    emit(f"kTranslateY{tag}",
         f"{src}.transform((7, 6), Image.AFFINE, (1, 0, 0, 0, 1, {ty!r}), resample=Image.BICUBIC, fillcolor={fill})",
         im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, ty), resample=B, fillcolor=fill))
    emit(f"kShearXBilinear{tag}",
         f"{src}.transform((7, 6), Image.AFFINE, (1, -0.2, 0, 0, 1, 0), resample=Image.BILINEAR, fillcolor={fill})",
         im.transform(im.size, Image.AFFINE, (1, -0.2, 0, 0, 1, 0), resample=L_, fillcolor=fill))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "image_pil_expected.h")
with open(path, "w") as f:
    f.write("#pragma once\n")
    f.write(f"// Generated by tests/data/generate_pil_expected.py with Pillow {PIL.__version__} and numpy "
            f"{np.__version__}\n// (Debian 12's python3-pil); do not edit by hand. Each array is the HWC bytes "
            "of the Pillow call above it,\n// on the inputs of tests/data/image_test_util.h.\n\n")
    f.write("#include <cstdint>\n#include <vector>\n\nnamespace ff::data::testing::pil {\n\n")
    f.write("".join(out))
    f.write("}  // namespace ff::data::testing::pil\n")
print(f"wrote {path}: {len(out) // 2} arrays", file=sys.stderr)
