#!/usr/bin/env bash
# Issue #18: paper scale on one GPU. Fashion-MNIST at full size (55k train + 5k val) with
# ResNet-18 and the fast path (configs/fmnist60k-resnet18-gpu.toml):
#   throughput  images/s of the training loop next to a bare PyTorch loop (same model, batch
#               size, precision, memory format), Fashion-MNIST, and CIFAR-10 when its files exist
#   table       original, retrain and every method, partial-class and random, one seed
#   attacks     the NeurIPS score (N = 64) and U-LiRA (K = 64) for the main methods
# Each phase prints its wall time. Results go to OUT (default runs/gpu); docs/results/gpu.md.
#
#   bash benchmarks/gpu.sh --prepare            copy the dataset files into .device-data/
#   bash benchmarks/gpu.sh [--phases "throughput table attacks"] [OUT]
#   bash benchmarks/gpu.sh --smoke [OUT]        toy scale on the CPU: checks the script's logic
#
# The data travel with the working tree: .device-data/ is ignored by git, so pass it as `carry`
# to a remote run. .device-data/cifar-10-batches-py/ is used when present.
# Environment: PYTHON (default python3, or .venv/bin/python when present), DEVICE (default
# cuda; cpu with --smoke), ATTACK_TRAIN_SIZE (training examples of the attack pools' split;
# default 10000, 0 = the full 55k) and ATTACK_EPOCHS (default 15): a pool of 64 full-size
# ResNet-18 trainings does not fit a 15-minute GPU budget (docs/results/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
prepare=0
phases="throughput table attacks"
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --prepare) prepare=1 ;;
        --phases) phases="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "unknown option $1 (expected --smoke, --prepare, --phases LIST, OUT)" >&2; exit 2 ;;
        *) out="$1" ;;
    esac
    shift
done

data=.device-data
if [ "$prepare" = 1 ]; then
    mkdir -p "$data/fashion-mnist"
    cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$data/fashion-mnist/"
    if [ -d "${CIFAR10_DIR:-}" ]; then cp -r "$CIFAR10_DIR" "$data/cifar-10-batches-py"; fi
    du -sh "$data"
    exit 0
fi

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PYTHON" -c "import torch, numpy, scipy, sklearn, safetensors, tqdm" 2>/dev/null; then
    echo "$PYTHON lacks unlearnkit's dependencies (torch, numpy, scipy, scikit-learn," \
        "safetensors, tqdm); set PYTHON or install them" >&2
    exit 2
fi
uk() { "$PYTHON" -m unlearnkit "$@"; }

fm_dir="$data/fashion-mnist"
[ -d "$fm_dir" ] || fm_dir=/usr/share/datasets/fashion-mnist
if [ ! -d "$fm_dir" ]; then
    echo "no Fashion-MNIST files: run 'bash benchmarks/gpu.sh --prepare' first" >&2
    exit 2
fi

config=configs/fmnist60k-resnet18-gpu.toml
pool=64
attack_size="${ATTACK_TRAIN_SIZE:-10000}"
attack_args=(--epochs "${ATTACK_EPOCHS:-15}")
tp_epochs=3
if [ "$smoke" = 1 ]; then
    out="${out:-runs/gpu-smoke}"
    device="${DEVICE:-cpu}"
    mkdir -p "$out"
    "$PYTHON" benchmarks/gpu_tools.py smoke-config "$config" "$out/config.toml"
    config="$out/config.toml"
    pool_args=(--n-perm 20)
    attack_size=300
    attack_args=(--epochs 1 --model-width 4 --batch-size 64 --no-compile --val-size 300
        --test-size 300)
    tp_epochs=2
else
    out="${out:-runs/gpu}"
    device="${DEVICE:-cuda}"
    pool_args=()
fi
mkdir -p "$out"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}"

"$PYTHON" - <<'EOF'
import torch
dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {dev}", flush=True)
EOF
echo "config $config, device $device, data $fm_dir, out $out, phases: $phases"

phase() {  # phase NAME COMMAND...: run it and print its wall time
    local name="$1" start end ms
    shift
    start=$(date +%s%N)
    "$@"
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    printf '== phase %s wall time: %d.%03d s\n' "$name" $((ms / 1000)) $((ms % 1000))
}

for p in $phases; do
    case "$p" in
    throughput)
        phase throughput-fashion-mnist "$PYTHON" benchmarks/gpu_tools.py throughput "$config" \
            --data-dir "$fm_dir" --device "$device" --epochs "$tp_epochs"
        if [ -d "$data/cifar-10-batches-py" ] && [ "$smoke" = 0 ]; then
            phase throughput-cifar10 "$PYTHON" benchmarks/gpu_tools.py throughput \
                configs/cifar10-resnet18.toml --data-dir "$data" --device "$device" \
                --epochs "$tp_epochs" --set batch_size=256 --set amp=bf16 \
                --set channels_last=true --set compile=true --set check_every=50
        fi
        ;;
    table)
        phase table uk benchmark --config "$config" --out "$out/table" --device "$device" \
            --data-dir "$fm_dir" --cache-dir "$out/cache" --report
        ;;
    attacks)
        methods=(retrain finetune neggrad_plus sure)
        size=()
        [ "$attack_size" != 0 ] && size=(--train-size "$attack_size")
        for attack in neurips ulira; do
            if [ "$attack" = neurips ]; then n=(--n "$pool"); else n=(--k "$pool"); fi
            [ "$smoke" = 1 ] && { if [ "$attack" = neurips ]; then n=(--n 3); else n=(--k 6); fi; }
            phase "attack-$attack" uk attack "$attack" --method "${methods[@]}" "${n[@]}" \
                --config "$config" --dataset fashion-mnist --scenario partial-class \
                --forget-size 0.5 --forget-classes 0 "${size[@]}" "${attack_args[@]}" \
                "${pool_args[@]}" --device "$device" --data-dir "$fm_dir" \
                --cache-dir "$out/cache" --out "$out/$attack" --quiet
        done
        ;;
    *) echo "unknown phase '$p' (throughput, table, attacks)" >&2; exit 2 ;;
    esac
done
echo "done: $out"
