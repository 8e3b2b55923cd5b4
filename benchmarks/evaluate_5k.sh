#!/usr/bin/env bash
# Target (issue #5): `unlearnkit evaluate` prints and saves the full default metric set for
# original, retrain, fine-tune and SURE on Fashion-MNIST with a 5,000-example forget set in
# under 5 minutes on a 2-core CPU. Recorded figures: docs/results/evaluate-timing.md.
#
#   bash benchmarks/evaluate_5k.sh [OUT_DIR]      (default runs/bench-evaluate-5k)
set -euo pipefail
out="${1:-runs/bench-evaluate-5k}"
if [ ! -f "$out/models/sure.json" ]; then
    echo "== training the four checkpoints (not part of the timed step, ~3 min)"
    unlearnkit run --quiet --dataset fashion-mnist --scenario random --forget-size 5000 \
        --train-size 20000 --epochs 10 --model-width 16 --methods finetune sure --save-models \
        --eval-attackers logreg --no-eval-mia --no-eval-transfer --seed 0 --out "$out"
fi
m="$out/models"
echo "== timed: unlearnkit evaluate (default EvalConfig, 4 models)"
start=$(date +%s)
unlearnkit evaluate --quiet --split "$out/split.json" --checkpoint original="$m/original" \
    retrain="$m/retrain" finetune="$m/finetune" sure="$m/sure" --out "$out/evaluate.json"
end=$(date +%s)
echo "evaluate wall time: $((end - start)) s (target < 300 s)"
