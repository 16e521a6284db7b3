#!/usr/bin/env bash
# Runs fourierformer-bench attention (ours) and the PyTorch peers at the same thread count,
# writes both JSONs into docs/perf/ and prints a markdown table of ratios (peer / ours).
#
#   scripts/bench/compare_attention.sh [--bench PATH] [--threads N] [--peer-cases LIST] [--out DIR]
#
# Defaults: --bench build/apps/fourierformer-bench, --threads 2, --out docs/perf,
# --peer-cases all six (kind:case; the Fourier reference takes minutes per case).
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=build/apps/fourierformer-bench
THREADS=2
PEER_CASES=fourier:lm-small,fourier:lm-medium,fourier:deit-tiny,softmax:lm-small,softmax:lm-medium,softmax:deit-tiny
OUT=docs/perf
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) BENCH=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --peer-cases) PEER_CASES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "compare_attention.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$BENCH" ] || { echo "compare_attention.sh: no benchmark binary at '$BENCH' (--bench PATH)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "compare_attention.sh: run scripts/bench/setup-peers.sh first" >&2; exit 2; }
mkdir -p "$OUT"
echo "load before: $(uptime)"
"$BENCH" --threads "$THREADS" --json "$OUT/cpu-attention-ours.json" attention --shapes paper
OMP_NUM_THREADS=$THREADS /usr/bin/python3 scripts/bench/attention_peer.py --threads "$THREADS" \
  --cases "$PEER_CASES" --json "$OUT/cpu-attention-pytorch.json"
echo "load after: $(uptime)"
/usr/bin/python3 scripts/bench/attention_table.py "$OUT/cpu-attention-ours.json" "$OUT/cpu-attention-pytorch.json"
