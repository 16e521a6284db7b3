#!/usr/bin/python3
"""Writes a small ImageFolder of JPEGs for the decode and training-step benchmarks
(docs/perf/cpu-vit.md): OUT/train/<class>/<i>.JPEG and OUT/val/<class>/<i>.JPEG, ImageNet-like
in size (500x375 by default) and in content (smooth colour fields with edges, not flat or pure
noise, which would decode unusually fast or slow). The same arguments write the same bytes.

Usage: make-jpeg-folder.py OUT [--classes 8] [--train 36] [--val 36] [--size 500x375]
                           [--quality 90] [--seed 0]

Run with Debian's /usr/bin/python3 (python3-pil, python3-numpy). OUT must not exist or be an
empty directory: nothing is overwritten.
"""

import argparse
import os
import sys


def size_arg(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got '{text}'")
    if not (8 <= w <= 4096 and 8 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"expected sides from 8 to 4096, got '{text}'")
    return w, h


def count_arg(lo):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'")
        if v < lo:
            raise argparse.ArgumentTypeError(f"expected at least {lo}, got {v}")
        return v
    return parse


def image(rng, w, h, np, Image):
    # A coarse random colour grid upsampled bicubically (smooth fields), plus a few hard-edged
    # rectangles (edges for the DCT), plus mild noise.
    gw, gh = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    coarse = Image.fromarray(rng.integers(0, 256, (gh, gw, 3), dtype=np.uint8), "RGB")
    x = np.asarray(coarse.resize((w, h), Image.BICUBIC), dtype=np.int16)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, w - 4)), int(rng.integers(0, h - 4))
        x1, y1 = x0 + int(rng.integers(4, w // 2)), y0 + int(rng.integers(4, h // 2))
        x[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    x = x + rng.integers(-12, 13, (h, w, 3))
    return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8), "RGB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="the folder to create")
    ap.add_argument("--classes", type=count_arg(1), default=8)
    ap.add_argument("--train", type=count_arg(0), default=36, help="images per class in train/")
    ap.add_argument("--val", type=count_arg(0), default=36, help="images per class in val/")
    ap.add_argument("--size", type=size_arg, default=(500, 375), help="WIDTHxHEIGHT")
    ap.add_argument("--quality", type=count_arg(1), default=90, help="JPEG quality (1-95)")
    ap.add_argument("--seed", type=count_arg(0), default=0)
    args = ap.parse_args()
    if args.quality > 95:
        ap.error(f"--quality: expected 1 to 95, got {args.quality}")
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        ap.exit(2, f"make-jpeg-folder.py: '{args.out}' exists and is not an empty directory; nothing written\n")
    try:
        import numpy as np
        from PIL import Image
    except ImportError as e:
        sys.exit(f"make-jpeg-folder.py: {e} (apt install python3-numpy python3-pil); run with /usr/bin/python3")

    rng = np.random.default_rng(args.seed)
    w, h = args.size
    for split, n in (("train", args.train), ("val", args.val)):
        for c in range(args.classes):
            folder = os.path.join(args.out, split, f"n{c:08d}")
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                image(rng, w, h, np, Image).save(os.path.join(folder, f"{i}.JPEG"), quality=args.quality)
    print(f"make-jpeg-folder.py: {args.out}: {args.classes} classes, {args.train} train and {args.val} val "
          f"images each, {w}x{h}, quality {args.quality}")


if __name__ == "__main__":
    main()
