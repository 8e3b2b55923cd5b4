#!/usr/bin/env bash
# Set up a fresh machine: Debian's Fashion-MNIST package, a virtual environment with the CPU
# build of PyTorch first (a bare `torch` could pull a multi-GB CUDA build), then unlearnkit with its dev and ray extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq dataset-fashion-mnist || echo "warning: could not install dataset-fashion-mnist (Fashion-MNIST tests will be skipped outside CI)"
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev,ray]"
echo "setup done: $(.venv/bin/python -c 'import torch, unlearnkit; print("unlearnkit", unlearnkit.__version__, "torch", torch.__version__)')"
