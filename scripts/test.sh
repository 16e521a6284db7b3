#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds and runs the whole test suite with ctest.
# CUDA tests run where a GPU is present and are reported as skipped elsewhere.
#
# Usage: scripts/test.sh [--help] [-- CTEST_ARGUMENTS...]
#
# Everything after `--` goes to ctest, e.g. `scripts/test.sh -- -R attention`.
# Environment: BUILD_DIR (default build), JOBS (default: number of cores), and whatever
# scripts/setup.sh reads.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/cli.sh"
ctest_args=()
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) ff_usage_error "unknown argument '$1': ctest arguments go after --" ;;
  esac
done
build_dir="${BUILD_DIR:-$root/build}"

"$root/scripts/setup.sh"
cd "$build_dir"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 900 "${ctest_args[@]}"
