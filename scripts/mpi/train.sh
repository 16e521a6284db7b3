#!/usr/bin/env bash
# Data-parallel training under Open MPI's mpirun: one process per GPU (or N CPU processes).
#
# Usage: scripts/mpi/train.sh [options] CONFIG [-- fourierformer-train options]
#
#   -n, --np N          processes in all (default: the GPUs nvidia-smi lists, else 2)
#   --hostfile FILE     mpirun's hostfile (several nodes: "node01 slots=8" per line)
#   --bin PATH          the fourierformer-train binary (default: build/apps/fourierformer-train)
#   --cpu               train on the CPU (mpi backend): device cpu, one OpenMP thread per
#                       process unless OMP_NUM_THREADS is set
#   --print             print the mpirun command line and exit without running it
#   -h, --help          this text
#
# Every process binds the GPU of its local rank; the NCCL id travels through MPI. The trainer
# gets --resume (unless the trainer options hold --resume or --overwrite), so the same command
# continues a stopped run. Exit code: the trainer's
# (3 after a stop signal: run the command again). NCCL_* variables set here are passed to every
# process (mpirun -x). docs/distributed.md has the details.
#
# Examples:
#   scripts/mpi/train.sh -n 8 configs/lm/wt103-small-fourier.yaml
#   scripts/mpi/train.sh -n 32 --hostfile hosts.txt configs/lm/wt103-small-fourier.yaml
#   scripts/mpi/train.sh --cpu -n 2 configs/tests/lm-tiny-softmax.yaml -- --set train.max_steps=20
set -euo pipefail
# shellcheck source=../lib/cli.sh
source "$(dirname "$0")/../lib/cli.sh"

np=""
hostfile=""
bin="build/apps/fourierformer-train"
cpu=0
print_only=0
config=""
train_args=()
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    -n | --np) ff_need_value "$@"; ff_positive_int "$1" "$2"; np="$2"; shift 2 ;;
    --hostfile) ff_need_value "$@"; hostfile="$2"; shift 2 ;;
    --bin) ff_need_value "$@"; bin="$2"; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --print) print_only=1; shift ;;
    --) shift; train_args=("$@"); break ;;
    -?*) ff_usage_error "unknown option '$1'" ;;
    *)
      [[ -z "$config" ]] || ff_usage_error "one CONFIG expected, got '$config' and '$1' (trainer options go after --)"
      config="$1"; shift ;;
  esac
done
[[ -n "$config" ]] || ff_usage_error "CONFIG is missing"
[[ -f "$config" ]] || ff_usage_error "CONFIG '$config' is not a file"
[[ -z "$hostfile" || -f "$hostfile" ]] || ff_usage_error "--hostfile '$hostfile' is not a file"

if [[ -z "$np" ]]; then
  np=2
  if ((!cpu)) && command -v nvidia-smi > /dev/null; then
    gpus=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
    ((gpus > 0)) && np=$gpus
  fi
fi

cmd=(mpirun -np "$np" --bind-to none)
[[ -n "$hostfile" ]] && cmd+=(--hostfile "$hostfile")
((EUID == 0)) && cmd+=(--allow-run-as-root)
# Pass the NCCL settings and the OpenMP thread count to every process.
for name in $(compgen -e | grep -E '^(NCCL_|FF_|OMP_NUM_THREADS$|CUDA_VISIBLE_DEVICES$)' || true); do
  cmd+=(-x "$name")
done
if ((cpu)); then
  [[ -n "${OMP_NUM_THREADS:-}" ]] || cmd+=(-x OMP_NUM_THREADS=1)
  train_args=(--set device=cpu "${train_args[@]}")
fi
resume=(--resume)
for a in "${train_args[@]}"; do
  [[ "$a" == --resume || "$a" == --overwrite ]] && resume=()
done
cmd+=("$bin" --config "$config" "${resume[@]}" "${train_args[@]}")

if ((print_only)); then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
[[ -x "$bin" ]] || ff_usage_error "--bin '$bin' is not an executable (build first: scripts/setup.sh)"
exec "${cmd[@]}"
