#!/usr/bin/env bash
# The main job on the embedded default (digits, partial-class forgetting): sets the machine up
# if needed, then runs `unlearnkit run` and prints the results table.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/unlearnkit ] || bash scripts/setup.sh
exec .venv/bin/unlearnkit run "$@"
