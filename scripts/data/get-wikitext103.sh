#!/usr/bin/env bash
# Downloads WikiText-103 (word level, v1: wiki.train.tokens, wiki.valid.tokens,
# wiki.test.tokens, 181 MB zipped) for users with internet access. Not run by tests or CI.
#
# Usage: scripts/data/get-wikitext103.sh [--help] [--] [OUT_DIR]
#
# OUT_DIR defaults to ${FF_DATA_DIR:-$HOME/.cache/fourierformer}/wikitext-103. The loader
# (TextCorpus) reads the wiki.*.tokens names as they are. Does nothing when the three files
# are already there; refuses an OUT_DIR holding only some of them (nothing is overwritten).
# WIKITEXT103_URL overrides the download location.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli.sh"
ff_parse_operands "$@"
((${#ff_operands[@]} <= 1)) || ff_usage_error "expected at most one OUT_DIR, got ${#ff_operands[@]}"
out="${ff_operands[0]:-${FF_DATA_DIR:-$HOME/.cache/fourierformer}/wikitext-103}"
files=(wiki.train.tokens wiki.valid.tokens wiki.test.tokens)
# The original S3 location went away; the author's mirror serves the same archive.
urls=("${WIKITEXT103_URL:-https://wikitext.smerity.com/wikitext-103-v1.zip}"
      "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip")

present=()
for f in "${files[@]}"; do [[ -e "$out/$f" ]] && present+=("$f"); done
if ((${#present[@]} == ${#files[@]})); then
  echo "WikiText-103 already in $out"
  exit 0
fi
if ((${#present[@]})); then
  echo "get-wikitext103.sh: OUT_DIR '$out' holds ${present[*]} but not all of ${files[*]}:" \
       "remove them or choose another OUT_DIR" >&2
  exit 2
fi
[[ ! -e "$out" || -d "$out" ]] || { echo "get-wikitext103.sh: OUT_DIR '$out' is not a directory" >&2; exit 2; }

mkdir -p "$out"
work="$(mktemp -d "$out/.download.XXXXXX")"
trap 'rm -rf "$work"' EXIT
zip="$work/wikitext-103-v1.zip"
fetched=0
for url in "${urls[@]}"; do
  echo "Downloading $url"
  if command -v curl >/dev/null; then
    curl -fL --retry 3 -o "$zip" "$url" && fetched=1
  elif command -v wget >/dev/null; then
    wget -O "$zip" "$url" && fetched=1
  else
    echo "get-wikitext103.sh: needs curl or wget" >&2
    exit 2
  fi
  (( fetched )) && break
done
(( fetched )) || { echo "get-wikitext103.sh: could not download WikiText-103" >&2; exit 1; }

python3 -m zipfile -e "$zip" "$work/unpacked"
for f in "${files[@]}"; do
  src="$(find "$work/unpacked" -name "$f" -type f | head -n 1)"
  [[ -n "$src" ]] || { echo "get-wikitext103.sh: $f not found in the archive" >&2; exit 1; }
  mv "$src" "$out/$f"
done
# Line counts of the published files (as Hugging Face's copy lists them).
echo "WikiText-103 ready in $out (lines: train $(wc -l < "$out/wiki.train.tokens") [1801350]," \
     "valid $(wc -l < "$out/wiki.valid.tokens") [3760], test $(wc -l < "$out/wiki.test.tokens") [4358])"
