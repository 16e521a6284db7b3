#!/usr/bin/env bash
# Installs the PyTorch peers' dependencies: Debian's python3-torch (torch 1.13), used through
# /usr/bin/python3 (Debian's interpreter), not a pyenv/venv python3 on PATH, tcmalloc
# (libtcmalloc-minimal4), the peers' best allocator here (LD_PRELOAD, docs/perf/), and Pillow
# for make-jpeg-folder.py. Idempotent.
#
# Usage: scripts/bench/setup-peers.sh [--help]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli.sh"
ff_parse_operands "$@"
((${#ff_operands[@]} == 0)) || ff_usage_error "takes no arguments, got '${ff_operands[0]}'"
PY=/usr/bin/python3
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if "$PY" -c 'import torch, numpy, PIL' 2>/dev/null && [ -e "$TCMALLOC" ]; then
  echo "setup-peers: torch $("$PY" -c 'import torch; print(torch.__version__)') importable by $PY; $TCMALLOC there"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
  echo "setup-peers: need root or sudo to apt-get install python3-torch" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y python3-torch python3-numpy python3-pil libtcmalloc-minimal4
"$PY" -c 'import torch; print("setup-peers: torch", torch.__version__, "threads", torch.get_num_threads())'
