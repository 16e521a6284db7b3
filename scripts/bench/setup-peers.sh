#!/usr/bin/env bash
# Installs the PyTorch peers' dependency: Debian's python3-torch (torch 1.13), used through
# /usr/bin/python3 (Debian's interpreter), not a pyenv/venv python3 on PATH. Idempotent.
#
# Usage: scripts/bench/setup-peers.sh [--help]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/cli.sh"
ff_parse_operands "$@"
((${#ff_operands[@]} == 0)) || ff_usage_error "takes no arguments, got '${ff_operands[0]}'"
PY=/usr/bin/python3
if "$PY" -c 'import torch' 2>/dev/null; then
  echo "setup-peers: torch $("$PY" -c 'import torch; print(torch.__version__)') already importable by $PY"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
  echo "setup-peers: need root or sudo to apt-get install python3-torch" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y python3-torch
"$PY" -c 'import torch; print("setup-peers: torch", torch.__version__, "threads", torch.get_num_threads())'
