#!/usr/bin/env bash
# Set up a fresh machine: Debian's Fashion-MNIST package and Chromium (the report's browser
# test), a virtual environment with the CPU
# build of PyTorch first (a bare `torch` could pull a multi-GB CUDA build), then unlearnkit with its dev and ray extras.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq || true
  fi
  if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    $SUDO apt-get install -y -qq dataset-fashion-mnist || echo "warning: could not install dataset-fashion-mnist (Fashion-MNIST tests will be skipped outside CI)"
  fi
  # headless Chromium renders report.html in the browser test (skipped without it)
  if ! command -v chromium >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq chromium || echo "warning: could not install chromium (the report's browser test will be skipped)"
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev,ray]"
echo "setup done: $(.venv/bin/python -c 'import torch, unlearnkit; print("unlearnkit", unlearnkit.__version__, "torch", torch.__version__)')"
