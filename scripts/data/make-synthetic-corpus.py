#!/usr/bin/env python3
"""Write a synthetic WikiText-style corpus for timing the text pipeline: words drawn from a
Zipf-like distribution (weight 1/rank^1.1) over --types random letter strings (shorter ones
more frequent),
lines of 1..120 words with some blank lines, train.txt of about --mb megabytes and small
valid.txt/test.txt. Deterministic for a given --seed.

    scripts/data/make-synthetic-corpus.py /tmp/ff-synthetic --mb 100
"""

import argparse
import itertools
import os
import random
import string


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="output directory (created; an existing one must be empty)")
    p.add_argument("--mb", type=float, default=100.0, help="size of train.txt in MB (10^6 bytes)")
    p.add_argument("--types", type=int, default=270000, help="number of distinct words")
    p.add_argument("--seed", type=int, default=1111)
    args = p.parse_args()
    if os.path.exists(args.out) and not (os.path.isdir(args.out) and not os.listdir(args.out)):
        p.error(f"output directory {args.out!r} exists and is not empty (nothing is overwritten)")

    rng = random.Random(args.seed)
    letters = string.ascii_letters
    words = set()
    while len(words) < args.types - 1:
        words.add("".join(rng.choices(letters, k=rng.randint(1, 12))))
    # Frequent words are short, as in natural text (WikiText-103 averages ~5.2 bytes per token
    # with its separator).
    words = sorted(words, key=lambda w: (len(w), rng.random()))
    words.insert(20, "<unk>")
    cum = list(itertools.accumulate(1.0 / (r + 1) ** 1.1 for r in range(len(words))))

    os.makedirs(args.out, exist_ok=True)
    for split, megabytes in (("train", args.mb), ("valid", args.mb / 200), ("test", args.mb / 200)):
        target = int(megabytes * 1e6)
        written = 0
        with open(os.path.join(args.out, f"{split}.txt"), "w", encoding="utf-8", newline="\n") as f:
            while written < target:
                draws = rng.choices(words, cum_weights=cum, k=200000)
                lines, i = [], 0
                while i < len(draws):
                    n = rng.randint(1, 120)
                    lines.append(" " + " ".join(draws[i:i + n]) + " \n" + ("\n" if rng.random() < 0.1 else ""))
                    i += n
                chunk = "".join(lines)
                f.write(chunk)
                written += len(chunk)


if __name__ == "__main__":
    main()
