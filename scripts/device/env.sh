# shellcheck shell=bash
# Sourced by check.sh (from a bundle that scripts/device/bundle.sh made): points the loader at
# the bundle's libraries and at this machine's cuBLAS, cuBLASLt, cuDNN and NCCL, and the tests
# at the bundle's files (tests/support/paths.h). Sets FF_BUNDLE, LD_LIBRARY_PATH,
# FF_TEST_SOURCE_DIR, FF_TEST_BINARY_DIR, FF_CUDA_LIBS (name=path of each library found) and
# FF_CUDA_LIBS_MISSING (names not found; empty when all are).
#
# Where the CUDA libraries are looked for, first match wins: the folders in FF_CUDA_LIB_DIRS
# (colon-separated), then the nvidia/*/lib folders of every site-packages that python3 knows
# (PyTorch's nvidia-cublas, nvidia-cudnn-cu13 and nvidia-nccl-cu13 wheels put them there; the
# folder names vary between wheel versions, hence the glob), then a CUDA toolkit
# (/usr/local/cuda/lib64, /usr/local/cuda/lib).

FF_BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export FF_BUNDLE
export FF_TEST_SOURCE_DIR="$FF_BUNDLE/src"
export FF_TEST_BINARY_DIR="$FF_BUNDLE/build"

ff_cuda_lib_candidates() {
  local dir
  if [[ -n "${FF_CUDA_LIB_DIRS:-}" ]]; then tr ':' '\n' <<< "$FF_CUDA_LIB_DIRS"; fi
  if command -v python3 > /dev/null; then
    while read -r dir; do
      [[ -d "$dir/nvidia" ]] || continue
      compgen -G "$dir/nvidia/*/lib" || true
      compgen -G "$dir/nvidia/*/*/lib" || true
    done < <(python3 -c 'import site, sys; print("\n".join(site.getsitepackages() + sys.path))' 2> /dev/null | sort -u)
  fi
  printf '%s\n' /usr/local/cuda/lib64 /usr/local/cuda/lib
}

FF_CUDA_LIBS=""
FF_CUDA_LIBS_MISSING=""
ff_lib_dirs=""
mapfile -t ff_candidates < <(ff_cuda_lib_candidates)
for ff_lib in libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libnccl.so.2; do
  ff_found=""
  for ff_dir in "${ff_candidates[@]}"; do
    if [[ -e "$ff_dir/$ff_lib" ]]; then ff_found="$ff_dir"; break; fi
  done
  if [[ -z "$ff_found" ]]; then
    FF_CUDA_LIBS_MISSING+="${FF_CUDA_LIBS_MISSING:+ }$ff_lib"
    continue
  fi
  FF_CUDA_LIBS+="${FF_CUDA_LIBS:+ }$ff_lib=$ff_found/$ff_lib"
  [[ ":$ff_lib_dirs:" == *":$ff_found:"* ]] || ff_lib_dirs+="${ff_lib_dirs:+:}$ff_found"
done
export FF_CUDA_LIBS FF_CUDA_LIBS_MISSING
export LD_LIBRARY_PATH="$FF_BUNDLE/lib${ff_lib_dirs:+:$ff_lib_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset ff_lib ff_found ff_dir ff_lib_dirs ff_candidates
unset -f ff_cuda_lib_candidates
