#!/usr/bin/env bash
# Optuna tuning measurements (issue 15). Long: run one stage at a time, nothing else running.
#
#   bash benchmarks/tune_optuna.sh smoke     digits, 4 trials, 2 methods (about a minute)
#   bash benchmarks/tune_optuna.sh compare   TPE vs random search, Fashion-MNIST partial-class,
#                                            16 trials x 3 sampler seeds per method (hours)
#   bash benchmarks/tune_optuna.sh retune    configs/fashion-mnist.toml re-tuned: 24 trials x
#                                            2 tuning seeds, --workers 2, then the benchmark
#                                            at the winners (hours)
#
# Outputs under runs/ (RUNS=... to change). Wall times are printed by `time`; record them with
# the tables in docs/tuning.md and docs/results/.
set -euo pipefail
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
runs="${RUNS:-runs}"
stage="${1:-smoke}"
here="$(cd "$(dirname "$0")" && pwd)"

case "$stage" in
smoke)
    time unlearnkit tune --config configs/digits-smoke.toml --methods finetune ssd --trials 4 \
        --out "$runs/tune-smoke"
    ;;
compare)
    cfg="$runs/fashion-mnist-partial-class.toml"
    python "$here/tune_compare.py" config configs/fashion-mnist.toml "$cfg"
    for sampler in tpe random; do
        for seed in 0 1 2; do
            echo "== $sampler, sampler seed $seed"
            time unlearnkit tune --config "$cfg" --trials 16 --sampler "$sampler" \
                --sampler-seed "$seed" --tune-seeds 1000 --quiet \
                --out "$runs/tune-compare/$sampler-s$seed"
        done
    done
    python "$here/tune_compare.py" table "$runs/tune-compare"
    ;;
retune)
    time unlearnkit tune --config configs/fashion-mnist.toml --trials 24 \
        --tune-seeds 1000 1001 --workers 2 --out "$runs/tune-fm-optuna"
    time unlearnkit benchmark --config "$runs/tune-fm-optuna/tuned.toml" \
        --out "$runs/fashion-mnist-tuned-optuna"
    unlearnkit report "$runs/fashion-mnist-tuned-optuna"
    ;;
*)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
