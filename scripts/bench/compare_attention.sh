#!/usr/bin/env bash
# Runs fourierformer-bench attention (ours) and the PyTorch peers at the same thread count,
# writes both JSONs into the output folder and prints a markdown table of ratios (peer / ours).
#
# Usage: scripts/bench/compare_attention.sh [--help] [--bench PATH] [--threads N]
#                                           [--peer-cases LIST] [--peer-allocator NAME] [--out DIR]
#
# Defaults: --bench build/apps/fourierformer-bench, --threads 2, --out docs/perf,
# --peer-cases all six (kind:case; the Fourier reference takes minutes per case),
# --peer-allocator tcmalloc (default, tcmalloc or tunables: attention_peer.py --allocator; the
# peer's best here is one of the last two, docs/perf/README.md; ours runs as started). Relative
# paths are taken from the repository root. Needs scripts/bench/setup-peers.sh first.
set -euo pipefail
source "$(dirname "$0")/../lib/cli.sh"
cd "$(dirname "$0")/../.."
BENCH=build/apps/fourierformer-bench
THREADS=2
PEER_CASES=fourier:lm-small,fourier:lm-medium,fourier:deit-tiny,softmax:lm-small,softmax:lm-medium,softmax:deit-tiny
PEER_ALLOCATOR=tcmalloc
OUT=docs/perf
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --bench) ff_need_value "$@"; BENCH=$2; shift 2 ;;
    --threads) ff_need_value "$@"; ff_positive_int --threads "$2"; THREADS=$2; shift 2 ;;
    --peer-cases) ff_need_value "$@"; PEER_CASES=$2; shift 2 ;;
    --peer-allocator) ff_need_value "$@"
      [[ "$2" =~ ^(default|tcmalloc|tunables)$ ]] || ff_usage_error "--peer-allocator: default, tcmalloc or tunables, got '$2'"
      PEER_ALLOCATOR=$2; shift 2 ;;
    --out) ff_need_value "$@"; OUT=$2; shift 2 ;;
    *) ff_usage_error "unknown argument '$1'" ;;
  esac
done
[ -x "$BENCH" ] || { echo "compare_attention.sh: no benchmark binary at '$BENCH' (--bench PATH)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "compare_attention.sh: run scripts/bench/setup-peers.sh first" >&2; exit 2; }
mkdir -p "$OUT"
echo "load before: $(uptime)"
"$BENCH" --threads "$THREADS" --json "$OUT/cpu-attention-ours.json" attention --shapes paper
OMP_NUM_THREADS=$THREADS /usr/bin/python3 scripts/bench/attention_peer.py --threads "$THREADS" \
  --cases "$PEER_CASES" --allocator "$PEER_ALLOCATOR" --json "$OUT/cpu-attention-pytorch.json"
echo "load after: $(uptime)"
/usr/bin/python3 scripts/bench/attention_table.py "$OUT/cpu-attention-ours.json" "$OUT/cpu-attention-pytorch.json"
