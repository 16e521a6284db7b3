#!/usr/bin/env bash
# The README's first command: sets the machine up, prepares the Brown corpus, trains a small
# Fourier-attention language model for a bounded number of steps on whatever device is
# present (a GPU if there is one, else the CPU), evaluates it on the test split and prints
# where everything is.
#
#   scripts/quickstart.sh [--steps N] [--config FILE]
#
# Environment: BUILD_DIR (default build), FF_DATA_DIR (corpus location, default
# ~/.cache/fourierformer), RUN_DIR (default runs/quickstart-brown-fourier), and whatever
# scripts/setup.sh reads (FF_CUDA, FF_CUDA_ARCHS, JOBS).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steps=600
config="$root/configs/lm/brown-small-fourier.yaml"
while (($#)); do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "quickstart.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
build_dir="${BUILD_DIR:-$root/build}"
run_dir="${RUN_DIR:-$root/runs/quickstart-brown-fourier}"
corpus="${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown"
start=$(date +%s)

echo "== 1/4 setup (packages and build)"
BUILD_DIR="$build_dir" "$root/scripts/setup.sh"

echo "== 2/4 Brown corpus"
"$root/scripts/data/prepare-brown.sh" "$corpus"

echo "== 3/4 training $(basename "$config" .yaml) for $steps steps -> $run_dir"
# A fresh run each time: the schedule is laid out over `steps`.
rm -rf "$run_dir"
"$build_dir/apps/fourierformer-train" --config "$config" --work-dir "$run_dir" \
  --set data.path="$corpus" --set train.max_steps="$steps" \
  --set train.eval_interval="$steps" --set train.checkpoint.interval=0

echo "== 4/4 test perplexity"
"$build_dir/apps/fourierformer-eval" --checkpoint "$run_dir" --split valid,test --json "$run_dir/eval.json"

echo
echo "done in $(( $(date +%s) - start )) s"
echo "  metrics:     $run_dir/metrics.jsonl (train log: $run_dir/train.log)"
echo "  checkpoint:  $run_dir/checkpoints/$(cat "$run_dir/checkpoints/latest")"
echo "  evaluation:  $run_dir/eval.json"
echo "  paper-style evaluation (sliding window, slower):"
echo "    $build_dir/apps/fourierformer-eval --checkpoint $run_dir --sliding-window --json $run_dir/eval-sliding.json"
