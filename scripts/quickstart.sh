#!/usr/bin/env bash
# The README's first command: sets the machine up, prepares the Brown corpus, trains a small
# Fourier-attention language model for a bounded number of steps on whatever device is
# present (a GPU if there is one, else the CPU), evaluates it on the valid and test splits,
# plots the run and prints where everything is. With --images, the same for a small Fourier
# ViT on Fashion-MNIST (Debian's dataset-fashion-mnist): its config's 4 epochs, top-1/top-5.
#
# Usage: scripts/quickstart.sh [--help] [--images] [--steps N] [--config FILE]
#
#   --images       image classification: configs/vit/vit-fmnist-fourier.yaml on Fashion-MNIST
#   --steps N      training steps (default 600 for the language model; the config's epochs
#                  with --images)
#   --config FILE  the model to train (default configs/lm/brown-small-fourier.yaml, or
#                  configs/vit/vit-fmnist-fourier.yaml with --images)
#
# Each start begins the run afresh: `fourierformer-train --overwrite` removes the previous
# run's config.yaml, train.log, metrics.jsonl and checkpoints/ in RUN_DIR, nothing else.
# Environment: BUILD_DIR (default build), FF_DATA_DIR (corpus location, default
# ~/.cache/fourierformer), RUN_DIR (default runs/quickstart-brown-fourier, or
# runs/quickstart-fmnist-fourier with --images), and whatever
# scripts/setup.sh reads (FF_CUDA, FF_CUDA_ARCHS, JOBS).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/cli.sh"
steps=""
config=""
images=0
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --images) images=1; shift ;;
    --steps) ff_need_value "$@"; ff_positive_int --steps "$2"; steps="$2"; shift 2 ;;
    --config) ff_need_value "$@"; config="$2"; shift 2 ;;
    *) ff_usage_error "unknown argument '$1'" ;;
  esac
done
if ((images)); then
  config="${config:-$root/configs/vit/vit-fmnist-fourier.yaml}"
  run_dir="${RUN_DIR:-$root/runs/quickstart-fmnist-fourier}"
else
  config="${config:-$root/configs/lm/brown-small-fourier.yaml}"
  run_dir="${RUN_DIR:-$root/runs/quickstart-brown-fourier}"
  steps="${steps:-600}"
fi
[[ -f "$config" && -r "$config" ]] || ff_usage_error "--config '$config' is not a readable file"
build_dir="${BUILD_DIR:-$root/build}"
corpus="${FF_DATA_DIR:-$HOME/.cache/fourierformer}/brown"
start=$(date +%s)

echo "== 1/5 setup (packages and build)"
BUILD_DIR="$build_dir" "$root/scripts/setup.sh"

# --overwrite: a fresh run each time, since the schedule is laid out over the run's length.
train=("$build_dir/apps/fourierformer-train" --config "$config" --work-dir "$run_dir" --overwrite)
if ((images)); then
  echo "== 2/5 Fashion-MNIST"
  "$root/scripts/data/prepare-fashion-mnist.sh"
  [[ -n "$steps" ]] && train+=(--set train.max_epochs=0 --set train.max_steps="$steps" --set train.eval_interval="$steps")
  echo "== 3/5 training $(basename "$config" .yaml)${steps:+ for $steps steps} -> $run_dir"
else
  echo "== 2/5 Brown corpus"
  "$root/scripts/data/prepare-brown.sh" "$corpus"
  train+=(--set data.path="$corpus" --set train.max_steps="$steps" --set train.eval_interval="$steps"
          --set train.checkpoint.interval=0)
  echo "== 3/5 training $(basename "$config" .yaml) for $steps steps -> $run_dir"
fi
"${train[@]}"

echo "== 4/5 evaluation on the valid and test splits"
"$build_dir/apps/fourierformer-eval" --checkpoint "$run_dir" --split valid,test --json "$run_dir/eval.json"

echo "== 5/5 plot"
"$root/scripts/plot_runs.py" --out "$run_dir/plot.png" "$run_dir"

echo
echo "done in $(( $(date +%s) - start )) s"
echo "  metrics:     $run_dir/metrics.jsonl (train log: $run_dir/train.log)"
echo "  checkpoint:  $run_dir/checkpoints/$(cat "$run_dir/checkpoints/latest")"
echo "  evaluation:  $run_dir/eval.json"
if ((images)); then
  echo "  plot:        $run_dir/plot.png (loss and top-1/top-5 against steps and wall time)"
else
  echo "  plot:        $run_dir/plot.png (loss and perplexity against steps and wall time)"
  echo "  paper-style evaluation (sliding window, slower):"
  echo "    $build_dir/apps/fourierformer-eval --checkpoint $run_dir --sliding-window --json $run_dir/eval-sliding.json"
fi
echo "  compare runs: $root/scripts/plot_runs.py --out compare.png $run_dir OTHER_WORK_DIR..."
