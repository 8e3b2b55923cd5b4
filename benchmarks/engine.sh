#!/usr/bin/env bash
# The engine's "done when" measurements (issue 11). Each step prints its figure; run them one
# at a time on a quiet machine and record `uptime` next to each figure (benchmarks/README.md).
#
#   bash benchmarks/engine.sh smoke      # inline digits smoke grid, empty cache (was 78 s)
#   bash benchmarks/engine.sh cluster    # two-node Ray cluster vs inline: identical rows
#   bash benchmarks/engine.sh fashion    # Fashion-MNIST inline vs --workers 2, cached models
#   bash benchmarks/engine.sh neurips    # NeurIPS score, N = 64 pool on digits, --workers 2
#
# Set UNLEARNKIT (default: unlearnkit) and PYTHON (default: python) to use another install.
set -euo pipefail
export OMP_NUM_THREADS=1 RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
UK=${UNLEARNKIT:-unlearnkit}
PY=${PYTHON:-python}
OUT=${OUT:-runs/engine-bench}
mkdir -p "$OUT"

timed() {  # timed LABEL CMD...: prints the wall time and the load
  local label=$1; shift
  echo "== $label: $*"; uptime
  local t0=$SECONDS
  "$@"
  echo "== $label: $((SECONDS - t0)) s wall"; uptime
}

case "${1:-smoke}" in
  smoke)
    rm -rf "$OUT/smoke" "$OUT/smoke-cache"
    timed "digits smoke, inline, empty cache" "$UK" benchmark --config configs/digits-smoke.toml \
      --out "$OUT/smoke" --cache-dir "$OUT/smoke-cache" --device cpu --quiet ;;
  cluster)
    rm -rf "$OUT/cluster"
    timed "digits smoke, inline then two-node cluster" \
      "$PY" benchmarks/engine_cluster.py configs/digits-smoke.toml "$OUT/cluster" ;;
  fashion)
    # needs the Fashion-MNIST files (unlearnkit list datasets); the first run fills the cache
    CACHE="$OUT/fashion-cache"
    "$UK" benchmark --config configs/fashion-mnist.toml --out "$OUT/fashion-warm" \
      --cache-dir "$CACHE" --device cpu --quiet
    rm -rf "$OUT/fashion-inline" "$OUT/fashion-ray"
    timed "fashion-mnist, inline, cached models" "$UK" benchmark --config configs/fashion-mnist.toml \
      --out "$OUT/fashion-inline" --cache-dir "$CACHE" --device cpu --quiet
    timed "fashion-mnist, --workers 2, cached models" "$UK" benchmark \
      --config configs/fashion-mnist.toml --out "$OUT/fashion-ray" --cache-dir "$CACHE" \
      --device cpu --quiet --workers 2
    "$PY" - "$OUT/fashion-inline" "$OUT/fashion-ray" <<'PYEOF'
import sys
sys.path.insert(0, "benchmarks")
from engine_cluster import comparable
from unlearnkit.records import ResultsFile
a, b = ({r["run_id"]: comparable(r) for r in ResultsFile(f"{d}/results.jsonl").load()} for d in sys.argv[1:3])
print(f"rows: {len(a)} inline, {len(b)} on Ray; identical: {a == b}")
PYEOF
    ;;
  neurips)
    rm -rf "$OUT/neurips-inline" "$OUT/neurips-ray" "$OUT/neurips-cache-"*
    for w in 0 2; do
      name=$([ "$w" = 0 ] && echo inline || echo ray)
      timed "NeurIPS N=64 on digits, workers $w, empty cache" "$UK" attack neurips \
        --method finetune --n 64 --dataset digits --forget-classes 3 --seed 0 --device cpu \
        --cache-dir "$OUT/neurips-cache-$name" --out "$OUT/neurips-$name" --quiet --workers "$w"
    done ;;
  *) echo "unknown step '$1' (smoke, cluster, fashion, neurips)"; exit 2 ;;
esac
