#!/usr/bin/env bash
# The README's first command: sets the machine up, prepares the Brown corpus, trains a small
# Fourier-attention language model for a bounded number of steps on whatever device is
# present (a GPU if there is one, else the CPU), evaluates it on the valid and test splits,
# plots the run and prints where everything is.
#
# Usage: scripts/quickstart.sh [--help] [--steps N] [--config FILE]
#
#   --steps N      training steps (default 600)
#   --config FILE  the model to train (default configs/lm/brown-small-fourier.yaml)
#
# Each start begins the run afresh: `fourierformer-train --overwrite` removes the previous
# run's config.yaml, train.log, metrics.jsonl and checkpoints/ in RUN_DIR, nothing else.
# Environment: BUILD_DIR (default build), FF_DATA_DIR (corpus location, default
# ~/.cache/fourierformer), RUN_DIR (default runs/quickstart-brown-fourier), and whatever
# scripts/setup.sh reads (FF_CUDA, FF_CUDA_ARCHS, JOBS).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/cli.sh"
steps=600
config="$root/configs/lm/brown-small-fourier.yaml"
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --steps) ff_need_value "$@"; ff_positive_int --steps "$2"; steps="$2"; shift 2 ;;
    --config) ff_need_value "$@"; config="$2"; shift 2 ;;
    *) ff_usage_error "unknown argument '$1'" ;;
  esac
done
[[ -f "$config" && -r "$config" ]] || ff_usage_error "--config '$config' is not a readable file"
build_dir="${BUILD_DIR:-$root/build}"
run_dir="${RUN_DIR:-$root/runs/quickstart-brown-fourier}"
corpus="${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown"
start=$(date +%s)

echo "== 1/5 setup (packages and build)"
BUILD_DIR="$build_dir" "$root/scripts/setup.sh"

echo "== 2/5 Brown corpus"
"$root/scripts/data/prepare-brown.sh" "$corpus"

echo "== 3/5 training $(basename "$config" .yaml) for $steps steps -> $run_dir"
# --overwrite: a fresh run each time, since the schedule is laid out over `steps`.
"$build_dir/apps/fourierformer-train" --config "$config" --work-dir "$run_dir" --overwrite \
  --set data.path="$corpus" --set train.max_steps="$steps" \
  --set train.eval_interval="$steps" --set train.checkpoint.interval=0

echo "== 4/5 valid and test perplexity"
"$build_dir/apps/fourierformer-eval" --checkpoint "$run_dir" --split valid,test --json "$run_dir/eval.json"

echo "== 5/5 plot"
"$root/scripts/plot_runs.py" --out "$run_dir/plot.png" "$run_dir"

echo
echo "done in $(( $(date +%s) - start )) s"
echo "  metrics:     $run_dir/metrics.jsonl (train log: $run_dir/train.log)"
echo "  checkpoint:  $run_dir/checkpoints/$(cat "$run_dir/checkpoints/latest")"
echo "  evaluation:  $run_dir/eval.json"
echo "  plot:        $run_dir/plot.png (loss and perplexity against steps and wall time)"
echo "  paper-style evaluation (sliding window, slower):"
echo "    $build_dir/apps/fourierformer-eval --checkpoint $run_dir --sliding-window --json $run_dir/eval-sliding.json"
echo "  compare runs: $root/scripts/plot_runs.py --out compare.png $run_dir OTHER_WORK_DIR..."
