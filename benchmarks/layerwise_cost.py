"""Cost of the layer-wise metrics (``[eval] layerwise``) on one group of a benchmark file.

For the first group (split, seed) of the file: obtain the original and the retrain (from the
model cache, or trained and cached), then time collection + evaluation of the original against
retrain with ``layerwise`` off and on (the file's other ``[eval]`` options), and print the
per-layer rows of both models (the original's depth profile).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/layerwise_cost.py configs/fashion-mnist.toml

Results: docs/results/depth.md.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import tomllib
import torch


def main(path: str, entry: int = 0) -> None:
    from unlearnkit.benchmark.grid import load_plan
    from unlearnkit.data import load_dataset
    from unlearnkit.data.batching import unlearning_data
    from unlearnkit.data.registry import user_cache_dir
    from unlearnkit.data.splits import make_split
    from unlearnkit.evaluation import (
        LAYER_METRICS,
        collect_for_eval,
        depth_profile,
        evaluate_outputs,
    )
    from unlearnkit.pipeline import obtain_model

    torch.set_num_threads(1)
    plan = load_plan(tomllib.loads(Path(path).read_text()))
    group = next(g for g in plan.groups() if g.entry == entry)
    ds = load_dataset(group.split.dataset, data_dir=plan.config.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = make_split(ds, group.split)
    data = unlearning_data(ds, split)
    cpu = torch.device("cpu")
    cache = Path(plan.config.cache_dir or user_cache_dir())
    models = {
        role: obtain_model(
            role, split, data, group.model, group.train, device=cpu, cache_dir=cache
        )[0]
        for role in ("original", "retrain")
    }
    classes = tuple(group.split.forget_classes) if group.split.scenario != "random" else ()
    rows = {}
    for on in (False, True):
        cfg = plan.eval.replace(layerwise=on)
        t0 = time.perf_counter()
        outs = {m: collect_for_eval(models[m], data, cpu, cfg, m) for m in models}
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m in models:
                rows[m] = evaluate_outputs(
                    outs[m],
                    scenario=group.split.scenario,
                    forget_classes=classes,
                    num_classes=data.num_classes,
                    reference=outs["retrain"],
                    config=cfg,
                )
        t2 = time.perf_counter()
        print(
            f"layerwise={on}: collect 2 models {t1 - t0:.1f} s, evaluate 2 models {t2 - t1:.1f} s "
            f"({len(rows['original'])} keys per row)"
        )
    print(f"split: {group.split.to_dict()}")
    for metric in LAYER_METRICS:
        names, values = depth_profile(rows, metric)
        print(f"{metric:>18}: " + "  ".join(f"{n:>7}" for n in names))
        for m, v in values.items():
            print(f"{m:>18}: " + "  ".join(f"{x:7.3f}" for x in v))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
