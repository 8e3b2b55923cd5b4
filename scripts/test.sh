#!/usr/bin/env bash
# Run the whole test suite (sets the machine up first if needed). Exit code 5 (no tests
# collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/setup.sh || exit 1
.venv/bin/pytest -q "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
