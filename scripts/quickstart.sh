#!/usr/bin/env bash
# The quick start: sets the machine up if needed, then runs the main job on configs/quickstart.toml
# (Fashion-MNIST subset, half of one class forgotten; original and retrain differ visibly) and
# prints the results table. Extra arguments are passed to `unlearnkit run` (they override the
# file), e.g. `bash scripts/quickstart.sh --methods sure salun`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/unlearnkit ] || bash scripts/setup.sh
exec .venv/bin/unlearnkit run --config configs/quickstart.toml "$@"
