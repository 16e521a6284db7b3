#!/usr/bin/env bash
# Sets up a fresh Debian machine and builds FourierFormer (Release). Idempotent: installs only
# the missing packages, reconfigures only when needed.
#
# Usage: scripts/setup.sh [--help] [--no-build]
#
#   --no-build   install the packages only
#
# Environment: BUILD_DIR (default build), FF_CUDA (AUTO|ON|OFF, default AUTO: the CUDA backend
# is built when nvcc is found, e.g. /usr/local/cuda/bin/nvcc), FF_CUDA_ARCHS (default "80;90"),
# FF_NATIVE (passed to CMake when set), JOBS (default: number of cores).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/cli.sh"
source "$root/scripts/lib/packages.sh"
build=1
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --no-build) build=0; shift ;;
    *) ff_usage_error "unknown argument '$1'" ;;
  esac
done
build_dir="${BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

packages=(
  build-essential cmake ninja-build pkg-config git
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev catch2 nlohmann-json3-dev libxxhash-dev
  libopenblas-dev libturbojpeg0-dev libjpeg62-turbo-dev zlib1g-dev libopenmpi-dev openmpi-bin
  python3-matplotlib python3-yaml
  dataset-fashion-mnist
)
# dataset-fashion-mnist: the real images of the ViT configs (configs/vit/vit-fmnist-*.yaml) and
# of the image-task tests (/usr/share/datasets/fashion-mnist, about 30 MB).
# scripts/plot_runs.py runs on Debian's /usr/bin/python3, which python3-matplotlib brings; the
# other Python scripts use the standard library, so any python3 on PATH will do for them. npm
# (for the corpus packages) may come from elsewhere; install it only if absent.
command -v python3 >/dev/null || packages+=(python3)
command -v npm >/dev/null || packages+=(npm)

ff_install_packages setup "${packages[@]}"

((build)) || exit 0

cmake_args=(-S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
            -DFF_CUDA="${FF_CUDA:-AUTO}" -DFF_CUDA_ARCHS="${FF_CUDA_ARCHS:-80;90}")
[[ -n "${FF_NATIVE:-}" ]] && cmake_args+=(-DFF_NATIVE="$FF_NATIVE")
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
echo "setup: built in $build_dir"
