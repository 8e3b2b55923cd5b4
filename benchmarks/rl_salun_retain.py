"""Random labels and SalUn at paper defaults against the original: retain / forget / test
accuracy on the groups of a benchmark file (one seed), for each epoch structure / label rule.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/rl_salun_retain.py \
        configs/fashion-mnist.toml [--seed 0] [--cache-dir CACHE]

Method configs are the paper defaults (the benchmark file's tuned tables are ignored), with
the variants: sequential + any (the SalUn code, the default), union + any, joint + wrong
(unlearnkit's loop before issue 12); ``--methods``, ``--variants``, ``--scenarios`` select.
Measurements, not tests: results go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import tomllib
import torch

from unlearnkit.benchmark.grid import load_plan
from unlearnkit.data import load_dataset
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import make_split
from unlearnkit.methods import unlearn_copy
from unlearnkit.pipeline import obtain_model
from unlearnkit.training import accuracy

VARIANTS = {
    "sequential/any": {},
    "union/any": {"epoch_structure": "union"},
    "joint/wrong": {"epoch_structure": "joint", "label_rule": "wrong"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="random_labels,salun")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    ap.add_argument("--scenarios", default="", help="only these scenarios (default: all)")
    ap.add_argument("--cache-dir", default=None, help="model cache (default: the user cache)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(args.config, "rb") as fh:
        plan = load_plan(tomllib.load(fh), {"seeds": [args.seed]})
    device = torch.device("cpu")
    print(
        "| setting | model | variant | retain acc. | forget acc. | test acc. "
        "| Δ retain vs original (pp) | s |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for group in plan.groups():
        if args.scenarios and group.split.scenario not in args.scenarios.split(","):
            continue
        ds = load_dataset(group.split.dataset, plan.config.data_dir)
        split = make_split(ds, group.split)
        data = unlearning_data(ds, split, augment=group.train.augment)
        original, _ = obtain_model(
            "original",
            split,
            data,
            group.model,
            group.train,
            device=device,
            cache_dir=Path(args.cache_dir) if args.cache_dir else user_cache_dir(),
            show_progress=False,
        )
        label = f"{group.split.dataset} {group.split.scenario}"
        ref = accuracy(original, data.retain, device)
        accs = (ref, accuracy(original, data.forget, device), accuracy(original, data.test, device))
        print(f"| {label} | original | — | {accs[0]:.3f} | {accs[1]:.3f} | {accs[2]:.3f} | 0 | — |")
        for method in args.methods.split(","):
            for variant in args.variants.split(","):
                cfg = VARIANTS[variant]
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = unlearn_copy(
                        method,
                        {**cfg, "seed": args.seed},
                        original,
                        data,
                        device=device,
                        model_config=group.model,
                        train_config=group.train,
                    )
                r = accuracy(out.model, data.retain, device)
                f = accuracy(out.model, data.forget, device)
                t = accuracy(out.model, data.test, device)
                print(
                    f"| {label} | {method} | {variant} | {r:.3f} | {f:.3f} | {t:.3f} | "
                    f"{100 * (r - ref):+.1f} | {time.perf_counter() - t0:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
