"""SURE variants side by side on the groups of a benchmark file: the unmatched-validation
ablation (``domain0``) and multi-layer SURE (``layers``), against the file's baselines.

For every grid entry and seed of the file: the original and the retrain (model cache, or
trained and cached), then each variant — SURE with the file's ``[methods.sure]`` plus the
variant's overrides — and each ``--methods`` baseline with its file config, all evaluated
against retrain with the file's ``[eval]`` (layer-wise metrics on when the file asks for them).
Prints (and with ``--out`` writes) a markdown table per setting, mean ± std over seeds, and the
wall time.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/sure_variants.py \
        benchmarks/depth-digits.toml --variant matched: \
        --variant other-classes:domain0=other-classes \
        --variant augmented-retain:domain0=augmented-retain --out docs/results/depth-domain0.md

A variant is ``NAME:key=value,key=value`` (values parsed as JSON when they parse, e.g.
``layers=["block3","fc"]``; empty after the colon = the file's SURE unchanged). A variant that
does not apply to a scenario (``other-classes`` under random forgetting) is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import tomllib

KEYS = (
    "forget_acc",
    "retain_acc",
    "test_acc",
    "loss_auc",
    "emb_logreg_auc",
    "probe_forget_acc",
    "cka_to_reference",
)


def _parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    name, _, rest = text.partition(":")
    out: dict[str, Any] = {}
    depth = 0
    part = ""
    for ch in rest + ",":  # split on commas outside brackets
        if ch == "," and depth == 0:
            if part.strip():
                k, _, v = part.partition("=")
                try:
                    out[k.strip()] = json.loads(v)
                except json.JSONDecodeError:
                    out[k.strip()] = v.strip()
            part = ""
            continue
        depth += 1 if ch in "[{" else -1 if ch in "]}" else 0
        part += ch
    return name, out


def _fmt(values: list[float], scale: float) -> str:
    import numpy as np

    if not values:
        return "—"
    a = np.asarray(values) * scale
    return f"{a.mean():.1f} ± {a.std(ddof=1):.1f}" if len(a) > 1 else f"{a.mean():.1f}"


def run(args: argparse.Namespace) -> str:
    import torch

    from unlearnkit.benchmark.aggregate import setting_label
    from unlearnkit.benchmark.grid import load_plan
    from unlearnkit.data import load_dataset
    from unlearnkit.data.batching import unlearning_data
    from unlearnkit.data.registry import user_cache_dir
    from unlearnkit.data.splits import make_split
    from unlearnkit.errors import ConfigError
    from unlearnkit.evaluation import (
        LAYER_METRICS,
        EvaluationResult,
        collect_for_eval,
        depth_profile,
        evaluate_outputs,
    )
    from unlearnkit.methods import unlearn_copy
    from unlearnkit.pipeline import obtain_model

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    plan = load_plan(tomllib.loads(Path(args.config).read_text()))
    variants = [_parse_variant(v) for v in args.variant] or [("sure", {})]
    sure_base = dict(plan.method_configs.get("sure", {}))
    cpu = torch.device("cpu")
    cache = Path(plan.config.cache_dir or user_cache_dir())
    datasets: dict[str, Any] = {}
    # setting label -> model -> list of (per-seed) rows
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    notes: dict[str, list[str]] = {}
    for group in plan.groups():
        if (args.seeds and group.seed not in args.seeds) or (
            args.entries and group.entry not in args.entries
        ):
            continue
        ds = datasets.setdefault(
            group.split.dataset, load_dataset(group.split.dataset, data_dir=plan.config.data_dir)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            split = make_split(ds, group.split)
        data = unlearning_data(ds, split)
        label = setting_label(group.split.to_dict())
        res = results.setdefault(label, {})
        classes = tuple(split.config.forget_classes) if split.config.scenario != "random" else ()
        originals = {
            role: obtain_model(
                role, split, data, group.model, group.train, device=cpu, cache_dir=cache,
                show_progress=False,
            )[0]
            for role in ("original", "retrain")
        }  # fmt: skip
        models: dict[str, Any] = dict(originals)
        times: dict[str, float] = {}
        jobs = [(n, "sure", {**sure_base, **o}) for n, o in variants]
        jobs += [(m, m, dict(plan.method_configs.get(m, {}))) for m in args.methods]
        for name, method, cfg in jobs:
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcome = unlearn_copy(
                        method, {**cfg, "seed": group.seed}, originals["original"], data,
                        device=cpu, model_config=group.model, train_config=group.train,
                    )  # fmt: skip
            except ConfigError as e:
                notes.setdefault(label, []).append(f"{name}: not run ({e})")
                continue
            models[name] = outcome.model
            times[name] = time.perf_counter() - t0
        ref = collect_for_eval(models["retrain"], data, cpu, plan.eval, "retrain")
        for name, model in models.items():
            out = ref if name == "retrain" else collect_for_eval(model, data, cpu, plan.eval, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row = evaluate_outputs(
                    out, scenario=split.config.scenario, forget_classes=classes,
                    num_classes=data.num_classes, reference=ref, config=plan.eval,
                )  # fmt: skip
            if name in times:
                row["wall_time"] = times[name]
            res.setdefault(name, []).append(row)
        print(f"[{label} seed {group.seed}] done at {time.perf_counter() - t_start:.0f} s")

    lines = [f"Config `{args.config}`; variants {args.variant}; baselines {args.methods}.", ""]
    for label, res in results.items():
        lines += [f"### {label}", ""]
        seeds = len(res["retrain"])
        header = ["model", "Avg. Gap (pp)", "Avg. Gap repr. (pp)", *KEYS, "wall s"]
        lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        for name, rows in res.items():
            gaps: dict[str, list[float]] = {"avg_gap": [], "avg_gap_repr": []}
            for i, row in enumerate(rows):
                ev = EvaluationResult(rows={"m": row, "retrain": res["retrain"][i]})
                for kind, vals in gaps.items():
                    vals.append(ev.avg_gap("m", kind=kind) / 100)
            cells = [name, _fmt(gaps["avg_gap"], 100), _fmt(gaps["avg_gap_repr"], 100)]
            cells += [_fmt([r[k] for r in rows if k in r], 100) for k in KEYS]
            cells.append(_fmt([r["wall_time"] for r in rows if "wall_time" in r], 1))
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"({seeds} seed(s); percentages, CKA × 100.)", ""]
        for metric in LAYER_METRICS if any("layer." in k for k in res["retrain"][0]) else ():
            per_seed = [
                depth_profile({m: rows[i] for m, rows in res.items() if i < len(rows)}, metric)
                for i in range(seeds)
            ]
            names = per_seed[0][0]
            lines += [f"Layer-wise `{metric}` (mean over seeds):", ""]
            lines += ["| model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            for m in res:
                vals = [[p[1][m][j] for p in per_seed if m in p[1]] for j in range(len(names))]
                lines.append(
                    f"| {m} | " + " | ".join(f"{sum(v) / len(v):.3f}" for v in vals) + " |"
                )
            lines.append("")
        lines += [f"- {n}" for n in notes.get(label, [])]
    lines.append(f"Wall time: {time.perf_counter() - t_start:.0f} s.")
    return "\n".join(lines) + "\n"


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="benchmark file (TOML)")
    p.add_argument("--variant", action="append", default=[], help="NAME:key=value,...")
    p.add_argument("--methods", nargs="*", default=[], help="baselines to run alongside")
    p.add_argument("--seeds", nargs="*", type=int, default=[], help="subset of the file's seeds")
    p.add_argument(
        "--entries", nargs="*", type=int, default=[], help="subset of [[grid.split]] (0-based)"
    )
    p.add_argument("--out", help="also write the markdown here")
    args = p.parse_args()
    text = run(args)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
