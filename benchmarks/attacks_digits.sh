#!/usr/bin/env bash
# Issue #7: the NeurIPS 2023 score (N = 16) and U-LiRA (K = 16) for retrain, fine-tune, NegGrad+
# and SURE on digits, from empty caches. Recorded figures: docs/results/per-example-attacks.md.
#
#   bash benchmarks/attacks_digits.sh [OUT_DIR]      (default runs/bench-attacks)
set -euo pipefail
out="${1:-runs/bench-attacks}"
export OMP_NUM_THREADS=1   # one thread per process: avoids OpenMP spinning on a shared CPU
methods=(retrain finetune neggrad_plus sure)
for attack in neurips ulira; do
    start=$(date +%s)
    if [ "$attack" = neurips ]; then size=(--n 16); else size=(--k 16); fi
    unlearnkit attack "$attack" --method "${methods[@]}" "${size[@]}" --epochs 15 \
        --cache-dir "$out/cache" --out "$out/$attack"
    echo "$attack wall time: $(( $(date +%s) - start )) s"
done
