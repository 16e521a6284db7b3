#!/usr/bin/env bash
# Builds FourierFormer for a GPU machine and packs it into one relocatable folder: CUDA code for
# sm_90 (Hopper: H100, H200), CPU code for x86-64-v3, so it runs on any AVX2 host.
#
# Usage: scripts/device/bundle.sh [options] OUT_DIR
#
#   --build-dir DIR     where to configure and build (default: build-device)
#   --cuda-archs LIST   CMake CUDA architectures (default: 90-real, sm_90 machine code only)
#   --jobs N            parallel build jobs (default: the number of cores)
#   --no-build          pack what --build-dir already holds
#   -h, --help          this text
#
# OUT_DIR holds four files: check.sh (scripts/device/check.sh), cli.sh (scripts/lib/cli.sh,
# which it sources), manifest.json (commit, date, build options, sizes) and payload.tar.xz,
# which check.sh unpacks beside itself on its first run: the apps and test executables
# (build/apps, build/tests, stripped), ctest's test lists with the build paths left as
# placeholders (ctest/), the shared libraries they load except the C library's own and CUDA's
# (lib/), the source tree's tracked and untracked-unignored files (src/: configs, scripts,
# docs) and env.sh. xz -9 packs the about 150 MB into about 15 MB (the executables share their
# CUDA code, which its 64 MiB window finds). cuBLAS, cuBLASLt, cuDNN and NCCL are not packed:
# env.sh finds the GPU machine's copies (PyTorch's nvidia-* wheels, else a CUDA toolkit).
# An OUT_DIR that exists is replaced only if this script made it (it holds the manifest);
# anything else there is refused. docs/gpu-check.md describes the whole procedure.
#
# Example (the bundle travels inside the repository, in a folder git ignores):
#   scripts/device/bundle.sh .device/bundle
#   .device/bundle/check.sh /tmp/check      # the dry run here: the GPU stages say "skipped"
set -euo pipefail
# shellcheck source=../lib/cli.sh
source "$(dirname "$0")/../lib/cli.sh"

build_dir="build-device"
cuda_archs="90-real"
jobs="$(nproc)"
build=1
out=""
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --build-dir) ff_need_value "$@"; build_dir="$2"; shift 2 ;;
    --cuda-archs) ff_need_value "$@"; cuda_archs="$2"; shift 2 ;;
    --jobs) ff_need_value "$@"; ff_positive_int "$1" "$2"; jobs="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --) shift; (($# <= 1)) || ff_usage_error "one OUT_DIR expected"; out="${1:-}"; break ;;
    -?*) ff_usage_error "unknown option '$1'" ;;
    *) [[ -z "$out" ]] || ff_usage_error "one OUT_DIR expected, got '$out' and '$1'"; out="$1"; shift ;;
  esac
done
[[ -n "$out" ]] || ff_usage_error "OUT_DIR is missing"
[[ "$cuda_archs" =~ ^[0-9]+(-real|-virtual)?(\;[0-9]+(-real|-virtual)?)*$ ]] ||
  ff_usage_error "--cuda-archs must be CMake CUDA architectures such as 90-real or '80;90', got '$cuda_archs'"
if [[ -e "$out" && ! -f "$out/manifest.json" ]] && [[ ! -d "$out" || -n "$(ls -A "$out")" ]]; then
  ff_usage_error "OUT_DIR '$out' exists and is not a bundle this script made (no manifest.json): choose another"
fi
((build)) || [[ -f "$build_dir/CMakeCache.txt" ]] || ff_usage_error "--no-build: '$build_dir' holds no build"

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

if ((build)); then
  echo "bundle.sh: building in $build_dir (CUDA $cuda_archs, CPU x86-64-v3, $jobs jobs)"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFF_CUDA=ON \
    "-DFF_CUDA_ARCHS=$cuda_archs" -DFF_NATIVE=OFF -DFF_PORTABLE_ARCH=x86-64-v3 > /dev/null
  cmake --build "$build_dir" -j "$jobs"
fi
grep -q '^FF_NATIVE:BOOL=OFF$' "$build_dir/CMakeCache.txt" ||
  ff_usage_error "'$build_dir' was configured with FF_NATIVE=ON: its CPU code needs this host's instruction set"
grep -q '^FF_CUDA:STRING=ON$' "$build_dir/CMakeCache.txt" ||
  ff_usage_error "'$build_dir' was not configured with FF_CUDA=ON"

build_abs="$(cd "$build_dir" && pwd)"
apps=(fourierformer-train fourierformer-eval fourierformer-bench)
tests=()
for f in "$build_abs"/tests/ff_tests_* "$build_abs/tests/ff_dist_worker"; do
  if [[ -f "$f" && -x "$f" && "$(basename "$f")" != *.* ]]; then tests+=("$(basename "$f")"); fi
done
((${#tests[@]} > 1)) || ff_usage_error "'$build_dir/tests' holds no test executables (built with FF_BUILD_TESTS=OFF?)"

# Build the new bundle beside OUT_DIR and swap it in at the end: a failure leaves the old one.
mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
pack="$(mktemp -d "$out_abs.new.XXXXXX")"
trap 'rm -rf "$pack"' EXIT
staging="$pack/tree"
mkdir -p "$staging/build/apps" "$staging/build/tests" "$staging/lib" "$staging/ctest" "$staging/src"

for a in "${apps[@]}"; do cp "$build_abs/apps/$a" "$staging/build/apps/"; done
for t in "${tests[@]}"; do cp "$build_abs/tests/$t" "$staging/build/tests/"; done
strip --strip-unneeded "$staging"/build/apps/* "$staging"/build/tests/*

# Shared libraries: everything ldd resolves, except the C library's own (the GPU machine has a
# newer one, and these must match its loader) and CUDA's (the GPU machine's match its driver).
skip='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libcublas|libcublasLt|libcudnn|libnccl|libcuda|libcudart)[.-]'
missing=()
while read -r name path; do
  [[ "$name" =~ $skip ]] && continue
  if [[ "$path" == "not" || -z "$path" ]]; then missing+=("$name"); continue; fi
  cp -L "$path" "$staging/lib/$name"
done < <(ldd "$staging"/build/apps/* "$staging"/build/tests/* | awk '/=>/ { print $1, $3 }' | sort -u)
((${#missing[@]} == 0)) || { echo "bundle.sh: ldd found no ${missing[*]}" >&2; exit 1; }

# ctest's lists (catch_discover_tests writes one per executable) with the paths as placeholders.
for f in "$build_abs"/tests/ff_tests_*_tests-*.cmake; do
  sed -e "s|$build_abs|@FF_BUNDLE@/build|g" -e "s|$root|@FF_BUNDLE@/src|g" "$f" > "$staging/ctest/$(basename "$f")"
done

git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$staging/src"
cp scripts/device/env.sh "$staging/"

commit="$(git rev-parse HEAD)"
dirty=false
[[ -z "$(git status --porcelain --untracked-files=no)" ]] || dirty=true
bytes="$(du -sb "$staging" | cut -f1)"
echo "bundle.sh: packing $((bytes >> 20)) MiB with xz -9 (a minute or two)"
mkdir -p "$pack/out"
tar -C "$staging" -cf - . | xz -9 > "$pack/out/payload.tar.xz"
packed="$(stat -c %s "$pack/out/payload.tar.xz")"
cp scripts/device/check.sh "$pack/out/check.sh"
cp scripts/lib/cli.sh "$pack/out/cli.sh"
cat > "$pack/out/manifest.json" << EOF
{
  "made_by": "scripts/device/bundle.sh",
  "commit": "$commit",
  "dirty": $dirty,
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "host": "$(hostname)",
  "cuda_archs": "$cuda_archs",
  "cpu_level": "x86-64-v3",
  "nvcc": "$(grep '^CMAKE_CUDA_COMPILER:' "$build_abs/CMakeCache.txt" | cut -d= -f2)",
  "apps": $(printf '%s\n' "${apps[@]}" | sed 's/.*/"&"/' | paste -sd, | sed 's/^/[/;s/$/]/'),
  "tests": $(printf '%s\n' "${tests[@]}" | sed 's/.*/"&"/' | paste -sd, | sed 's/^/[/;s/$/]/'),
  "libraries": $(cd "$staging/lib" && ls | sed 's/.*/"&"/' | paste -sd, | sed 's/^/[/;s/$/]/'),
  "bytes": $bytes,
  "packed_bytes": $packed
}
EOF

rm -rf "$out_abs"
mv "$pack/out" "$out_abs"
echo "bundle.sh: $out ($((packed >> 20)) MiB packed, $((bytes >> 20)) MiB unpacked: ${#apps[@]} apps, ${#tests[@]} test executables, $(ls "$staging/lib" | wc -l) libraries; commit ${commit:0:12}$($dirty && echo ', uncommitted changes'))"
