#!/usr/bin/env bash
# Makes Fashion-MNIST available: installs Debian's dataset-fashion-mnist package when its files
# are missing (the only download is apt's), then checks the four gzipped IDX files
# (docs/data.md, "IDX files") and prints what each holds.
#
# Usage: scripts/data/prepare-fashion-mnist.sh [--help]
#
# The files are /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
# Environment: FF_FASHION_MNIST_DIR checks another directory holding those four names (a
# copy); nothing is installed then. Exit code 1 when a file is missing or not what its name
# says, or the image and label counts of a split differ.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/cli.sh"
source "$here/../lib/packages.sh"
ff_parse_operands "$@"
((${#ff_operands[@]} == 0)) || ff_usage_error "expected no operands, got '${ff_operands[0]}'"
default_dir=/usr/share/datasets/fashion-mnist
dir="${FF_FASHION_MNIST_DIR:-$default_dir}"
names=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

fail() {
  echo "prepare-fashion-mnist.sh: $*" >&2
  exit 1
}

complete=1
for name in "${names[@]}"; do [[ -f "$dir/$name" ]] || complete=0; done
if ((!complete)) && [[ "$dir" == "$default_dir" ]]; then
  ff_install_packages prepare-fashion-mnist.sh dataset-fashion-mnist
fi

# The big-endian u32 number at byte OFFSET of the decompressed FILE.
be32() {
  local bytes
  read -r -a bytes < <(gzip -dc "$1" 2>/dev/null | head -c $(($2 + 4)) | tail -c 4 | od -An -v -tu1)
  ((${#bytes[@]} == 4)) || fail "$1: shorter than an IDX header"
  echo $(((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]))
}

# check NAME DIMS: checks one file (magic 0x0800 + DIMS, decompressed size = header + data),
# prints its line and sets $count.
check() {
  local path="$dir/$1" dims="$2"
  [[ -f "$path" ]] || fail "$path is missing${installed_hint:-}"
  gzip -t "$path" 2>/dev/null || fail "$path: not a complete gzip file"
  local magic
  magic=$(be32 "$path" 0)
  ((magic == 0x800 + dims)) ||
    fail "$path: IDX magic $(printf '0x%08X' "$magic"), expected $(printf '0x%08X' $((0x800 + dims)))"
  count=$(be32 "$path" 4)
  local data=$count header=$((4 + 4 * dims)) what="$count labels"
  if ((dims == 3)); then
    local rows cols
    rows=$(be32 "$path" 8)
    cols=$(be32 "$path" 12)
    data=$((count * rows * cols))
    what="$count images of $rows x $cols"
  fi
  local size
  size=$(gzip -dc "$path" | wc -c)
  ((size == header + data)) || fail "$path: $size bytes after decompression, the header ($what) says $((header + data))"
  printf '  %-28s %s\n' "$1" "$what"
}

[[ "$dir" == "$default_dir" ]] &&
  installed_hint=" (dataset-fashion-mnist is installed: reinstall it with apt-get install --reinstall dataset-fashion-mnist)"
echo "Fashion-MNIST in $dir:"
for split in train t10k; do
  check "$split-images-idx3-ubyte.gz" 3
  images=$count
  check "$split-labels-idx1-ubyte.gz" 1
  ((images == count)) || fail "$dir: $split has $images images but $count labels"
done
