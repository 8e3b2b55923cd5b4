"""``unlearnkit list | split | train | run``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unlearnkit.cli.commands import HELP
from unlearnkit.cli.common import (
    SPLIT_ALIASES,
    add_common,
    add_engine_arguments,
    add_method_arguments,
    add_recipe_arguments,
    build,
    check_split_flags,
    command,
    engine_config,
    load_sections,
    method_overrides,
    recipe,
    split_config,
)
from unlearnkit.config import add_config_arguments
from unlearnkit.errors import ConfigError
from unlearnkit.utils import log


def add_parser(sub: Any) -> None:
    from unlearnkit.data.splits import SplitConfig
    from unlearnkit.evaluation import EvalConfig
    from unlearnkit.pipeline import RunConfig

    p = sub.add_parser("list", help=HELP["list"])
    p.add_argument("what", nargs="?", choices=(*LISTS, "all"), help="which registry (default all)")
    p.add_argument("--data-dir", help="also show this folder among the search paths")

    p = sub.add_parser("split", help=HELP["split"])
    add_common(p)
    p.add_argument("--out", required=True, help="where to write the split JSON")
    p.add_argument("--data-dir", help="folder with dataset files")
    add_config_arguments(p, SplitConfig, title="split", aliases=SPLIT_ALIASES)

    p = sub.add_parser("train", help=HELP["train"])
    add_common(p)
    p.add_argument(
        "--split",
        dest="split_file",
        metavar="JSON",
        help="a saved split (else one is made from the split flags)",
    )
    p.add_argument("--retrain", action="store_true", help="train on the retain set of the split")
    p.add_argument("--out", help="checkpoint path (writes .safetensors + .json)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--data-dir", help="folder with dataset files")
    add_recipe_arguments(p)

    p = sub.add_parser("run", help=HELP["run"])
    add_common(p)
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="S",
        help="several seeds (instead of --seed): one run per seed, each as --seed S makes "
        "it, then mean ± std over seeds, the signal check and paired statistics",
    )
    p.add_argument("--out", default="runs/latest", help="output folder (default: runs/latest)")
    p.add_argument(
        "--all-metrics",
        action="store_true",
        help="print every metric (metrics as rows, models as columns) instead of the compact "
        "table; results.md always has every metric",
    )
    add_recipe_arguments(p)
    add_config_arguments(p, RunConfig, title="run")
    add_engine_arguments(p)
    add_config_arguments(p, EvalConfig, prefix="eval", title="evaluation")
    add_method_arguments(p)


LISTS = ("datasets", "models", "methods", "metrics")


@command("list")
def cmd_list(args: argparse.Namespace) -> int:
    """One registry, or (no argument) every registry under a heading each."""
    chosen = LISTS if args.what in (None, "all") else (args.what,)
    for i, what in enumerate(chosen):
        if len(chosen) > 1:
            print(("\n" if i else "") + f"{what}:")
        _LISTERS[what](args)
    return 0


def _list_datasets(args: argparse.Namespace) -> None:
    from unlearnkit.data.registry import dataset_names, get_dataset_spec, search_dirs

    for name in dataset_names():
        spec = get_dataset_spec(name)
        print(f"{name:14s} {spec.description}")
        print(f"{'':14s} files: {spec.files}")
        if name != "digits":
            print(
                f"{'':14s} looks in: " + ", ".join(str(p) for p in search_dirs(name, args.data_dir))
            )


def _list_models(args: argparse.Namespace) -> None:
    from unlearnkit.models import model_specs

    for model_spec in model_specs():
        print(f"{model_spec.name:10s} {model_spec.description}")


def _list_methods(args: argparse.Namespace) -> None:
    from unlearnkit.methods import get_method_class, method_names

    for name in method_names():
        cls = get_method_class(name)
        print(f"{name:16s} {cls.description}  [{cls.paper}]")


def _list_metrics(args: argparse.Namespace) -> None:
    from unlearnkit.evaluation.registry import METRICS

    width = max(len(k) for k in METRICS)
    for key, info in METRICS.items():
        unit = f" ({info.unit})" if info.unit else ""
        print(f"{key:{width}s}  {info.group:16s} {info.label}{unit}: {info.description}")
    print("\nkeys as in results.json; definitions and targets: docs/metrics.md")


_LISTERS: dict[str, Callable[[argparse.Namespace], None]] = {
    "datasets": _list_datasets,
    "models": _list_models,
    "methods": _list_methods,
    "metrics": _list_metrics,
}


def _load_split_and_data(args: argparse.Namespace, file_cfg: dict[str, Any]) -> tuple[Any, Any]:
    from unlearnkit.data import load_dataset
    from unlearnkit.data.splits import Split, make_split

    if getattr(args, "split_file", None):
        split = Split.load(args.split_file)
        check_split_flags(args, split.config, args.split_file)
        ds = load_dataset(split.config.dataset, args.data_dir)
        split.check_dataset(ds)
    else:
        cfg = split_config(args, file_cfg)
        ds = load_dataset(cfg.dataset, args.data_dir)
        split = make_split(ds, cfg)
    log(f"[data] {ds.describe()}", enabled=not args.quiet)
    return split, ds


@command("split")
def cmd_split(args: argparse.Namespace) -> int:
    split, _ = _load_split_and_data(args, load_sections(args.config))
    path = split.save(args.out)
    print(
        json.dumps({"path": str(path), "sha256": split.sha256, "sizes": split.summary()}, indent=2)
    )
    return 0


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from unlearnkit.data.batching import unlearning_data
    from unlearnkit.engine.group import save_trained
    from unlearnkit.training import accuracy, train_fresh
    from unlearnkit.utils import resolve_device

    file_cfg = load_sections(args.config)
    split, ds = _load_split_and_data(args, file_cfg)
    model_cfg, train_cfg = recipe(args, file_cfg, split.config.dataset)
    device = resolve_device(args.device)
    data = unlearning_data(ds, split, augment=train_cfg.augment)
    role = "retrain" if args.retrain else "original"
    train_set = data.retain if args.retrain else data.train
    model, result = train_fresh(
        model_cfg,
        train_cfg,
        train_set,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        device=device,
        augment=data.augment,
        eval_sets={"test": data.test},
        desc=role,
        show_progress=not args.quiet,
    )
    metrics = {
        "train_acc": accuracy(model, train_set, device),
        "test_acc": accuracy(model, data.test, device),
        "forget_acc": accuracy(model, data.forget, device),
        "wall_time": result.wall_time,
        "epochs": train_cfg.epochs,
    }
    if args.out:
        save_trained(
            args.out,
            model,
            role=role,
            split=split,
            input_shape=data.input_shape,
            num_classes=data.num_classes,
            model_cfg=model_cfg,
            train_cfg=train_cfg,
            metrics=metrics,
        )
        split.save(Path(args.out).with_suffix("").with_name(Path(args.out).stem + ".split.json"))
    print(
        f"{role} model on {split.config.dataset} ({model_cfg.name}), {train_cfg.epochs} epochs "
        f"in {result.wall_time:.1f} s"
    )
    for key in ("train_acc", "test_acc", "forget_acc"):
        print(f"  {key:10s} {100 * metrics[key]:6.2f}%")
    if args.out:
        print(f"saved {Path(args.out).with_suffix('.safetensors')}")
    return 0


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from unlearnkit.evaluation import EvalConfig
    from unlearnkit.pipeline import RunConfig, run_experiment

    if args.seeds is not None:
        seeds = check_seeds(args)
        if len(seeds) > 1:
            return _run_seeds(args, seeds)
        args.seed = seeds[0]
    file_cfg = load_sections(args.config)
    split_cfg = split_config(args, file_cfg)
    model_cfg, train_cfg = recipe(args, file_cfg, split_cfg.dataset)
    run_cfg = build(RunConfig, args, file_cfg.get("run", {}))
    eval_cfg = build(EvalConfig, args, file_cfg.get("eval", {}), prefix="eval")
    from unlearnkit.records import exclusive_folder

    # one run per output folder; results are saved as methods finish (a late error keeps them)
    with exclusive_folder(args.out, "run") as out, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_experiment(
            split_cfg,
            model_cfg,
            train_cfg,
            run_cfg,
            eval_cfg,
            method_overrides(args, file_cfg),
            show_progress=not args.quiet,
            engine=engine_config(args, file_cfg),
            on_progress=lambda partial: partial.save(out, with_models=False),
        )
        result.save(out)
    print_run_summary(result, all_metrics=args.all_metrics, caught=caught)
    if result.failed:
        n = len(result.failed)
        print(f"\n{n} method{'s' if n > 1 else ''} failed (the others completed):")
        for name, error in result.failed.items():
            print(f"  {name}: failed: {error}")
    print(
        f"\nresults: {out / 'results.json'}, {out / 'results.md'} (total {result.wall_time:.1f} s)"
    )
    return 1 if result.failed else 0


def check_seeds(args: argparse.Namespace) -> list[int]:
    """``--seeds``: not with ``--seed``, no duplicates, each in the range of every seed."""
    from unlearnkit.config import SEED_BOUNDS, describe_bounds

    if args.seed is not None:
        raise ConfigError(
            f"--seed {args.seed} and --seeds {' '.join(map(str, args.seeds))} exclude each "
            "other: give one seed with --seed S, or several with --seeds S1 S2 ..."
        )
    (_, low), (_, high) = SEED_BOUNDS
    for seed in args.seeds:
        if not low <= seed < high:
            raise ConfigError(
                f"--seeds: every seed must be {describe_bounds(SEED_BOUNDS)}, got {seed}"
            )
    if len(set(args.seeds)) != len(args.seeds):
        raise ConfigError(f"--seeds has duplicates: {args.seeds}; give each seed once")
    return list(args.seeds)


def _run_seeds(args: argparse.Namespace, seeds: list[int]) -> int:
    """``run --seeds``: one run per seed (configs as ``--seed S`` builds them), aggregated."""
    from unlearnkit.evaluation import EvalConfig
    from unlearnkit.multiseed import run_seeds
    from unlearnkit.pipeline import RunConfig

    file_cfg = load_sections(args.config)
    configs = {}
    for seed in seeds:
        one = argparse.Namespace(**{**vars(args), "seed": seed})
        split_cfg = split_config(one, file_cfg)
        model_cfg, train_cfg = recipe(one, file_cfg, split_cfg.dataset)
        configs[seed] = (split_cfg, model_cfg, train_cfg, method_overrides(one, file_cfg))
    run_cfg = build(RunConfig, args, file_cfg.get("run", {}))
    eval_cfg = build(EvalConfig, args, file_cfg.get("eval", {}), prefix="eval")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_seeds(
            configs,
            run_cfg,
            eval_cfg,
            show_progress=not args.quiet,
            engine=engine_config(args, file_cfg),
        )
    out = result.save(args.out)
    print(f"{result.setting['label']}: mean ± std over seeds {', '.join(map(str, seeds))}\n")
    for table in result.tables(markdown=False):
        print(table)
    print("\n".join(f"- {line}" for line in result.answer()))
    _print_warnings(caught)
    print(
        f"\nresults: {out / 'results.json'}, {out / 'results.md'}, per seed {out}/seed-<S>/ "
        f"(total {result.wall_time:.1f} s)"
    )
    return 0


def run_flags(outcomes: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Per-method flags from the methods' own reports (SURE's no-op check, divergence)."""
    flags: dict[str, list[str]] = {}
    for name, outcome in outcomes.items():
        info = outcome.get("info") or {}
        found = [f for f in outcome.get("flags", []) if f]
        if info.get("disc_noop_warning") and "no-op" not in found:
            found.append("no-op")
        if found:
            flags[name] = found
    return flags


def print_run_summary(result: Any, *, all_metrics: bool, caught: list[Any]) -> None:
    """The table (compact, or every metric with ``--all-metrics``), one verdict per method,
    and the run's warnings, once each, at the end (they were held back during the run)."""
    from unlearnkit.evaluation.summary import compact_table, verdicts

    evaluation = result.evaluation
    print(evaluation.table(markdown=False) if all_metrics else compact_table(evaluation), end="")
    lines = verdicts(evaluation, run_flags(result.outcomes), width=98)
    if lines:
        print("\nverdicts (one seed; see docs/benchmark.md for paired statistics over seeds):")
        print("\n".join(f"  {line}" for line in lines))
    _print_warnings(caught)


def _print_warnings(caught: list[Any]) -> None:
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    if messages:
        print(f"\n{len(messages)} warning(s) during the run:", file=sys.stderr)
        for msg in messages:
            print(f"  - {msg}", file=sys.stderr)
