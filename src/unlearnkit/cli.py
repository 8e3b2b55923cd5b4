"""The ``unlearnkit`` command line: thin — it parses, calls the library, prints.

Flags are generated from the config dataclasses (one source of truth); a TOML file given with
``--config`` supplies sections ``[split]``, ``[model]``, ``[train]``, ``[eval]``, ``[run]`` and
``[methods.<name>]``; flags override the file, the file overrides the dataset's defaults.
User errors print one ``error:`` line (no traceback) and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import unlearnkit
from unlearnkit.config import (
    Config,
    add_config_arguments,
    config_from_args,
    given_flags,
    load_toml,
)
from unlearnkit.errors import ConfigError, UnlearnkitError
from unlearnkit.outputs import check_output

Handler = Callable[[argparse.Namespace], int]
_HANDLERS: dict[str, Handler] = {}

SECTIONS = ("split", "model", "train", "eval", "run", "methods")

#: what each command's ``--out`` must be; checked before the command does any work
OUTPUT_KINDS = {
    "split": "file",
    "train": "file",
    "evaluate": "file",
    "run": "dir",
    "benchmark": "dir",
    "tune": "dir",
    "attack": "dir",
}

#: modules that add subcommands: each defines ``add_parser(subparsers)`` and registers its
#: handler with :func:`command` (keeps this file thin while features live in their packages)
EXTENSIONS = (
    "unlearnkit.evaluation.cli",
    "unlearnkit.benchmark.cli",
    "unlearnkit.attacks.cli",
    "unlearnkit.tuning.cli",
)


def command(name: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return deco


def load_sections(path: str | None) -> dict[str, Any]:
    """Read a TOML config file; unknown top-level sections are an error (a benchmark file's
    own sections, ``[benchmark]``, ``[grid]``, ``[attacks]`` and ``[tune]``, are let through)."""
    if not path:
        return {}
    data = load_toml(path)
    unknown = sorted(set(data) - set(SECTIONS) - {"benchmark", "grid", "attacks", "tune"})
    if unknown:
        raise ConfigError(
            f"unknown section(s) {unknown} in {path}; known sections: {', '.join(SECTIONS)}"
        )
    return data


SEEDED = ("split", "train", "methods")


def _seeded(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """Apply the global ``--seed`` (one seed drives split, init, batch order and methods)."""
    seed = getattr(args, "seed", None)
    return {**base, "seed": seed} if seed is not None else base


SPLIT_ALIASES = {"seed": "--split-seed"}
MODEL_ALIASES = {"name": "--model"}
TRAIN_ALIASES = {"seed": "--train-seed"}


def _build(
    cls: type[Config],
    args: argparse.Namespace,
    base: dict[str, Any],
    prefix: str = "",
    aliases: dict[str, str] | None = None,
) -> Any:
    return config_from_args(cls, args, prefix=prefix, base=base, aliases=aliases)


# -- list -------------------------------------------------------------------------------------
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


# -- split ------------------------------------------------------------------------------------
def _split_config(args: argparse.Namespace, file_cfg: dict[str, Any]) -> Any:
    from unlearnkit.data.splits import SplitConfig

    return _build(
        SplitConfig, args, _seeded(args, file_cfg.get("split", {})), aliases=SPLIT_ALIASES
    )


def _load_split_and_data(args: argparse.Namespace, file_cfg: dict[str, Any]) -> tuple[Any, Any]:
    from unlearnkit.data import load_dataset
    from unlearnkit.data.splits import Split, make_split

    if getattr(args, "split_file", None):
        split = Split.load(args.split_file)
        check_split_flags(args, split.config, args.split_file)
        ds = load_dataset(split.config.dataset, args.data_dir)
        split.check_dataset(ds)
    else:
        cfg = _split_config(args, file_cfg)
        ds = load_dataset(cfg.dataset, args.data_dir)
        split = make_split(ds, cfg)
    from unlearnkit.utils import log

    log(f"[data] {ds.describe()}", enabled=not args.quiet)
    return split, ds


def check_split_flags(args: argparse.Namespace, split_cfg: Config, path: str | Path) -> None:
    """Split flags given together with a split file must agree with it (never ignored)."""
    given = given_flags(type(split_cfg), args, aliases=SPLIT_ALIASES)
    if not given:
        return
    merged = split_cfg.replace(**{name: value for name, (_, value) in given.items()})
    for name, (flag, value) in given.items():
        old = getattr(split_cfg, name)
        if getattr(merged, name) != old:
            shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            stored = list(old) if isinstance(old, tuple) else old
            raise ConfigError(
                f"{flag} {shown} contradicts the split file {path}, made with {name} = "
                f"{stored!r}; drop {flag}, or make a new split with `unlearnkit split`"
            )


@command("split")
def cmd_split(args: argparse.Namespace) -> int:
    split, _ = _load_split_and_data(args, load_sections(args.config))
    path = split.save(args.out)
    print(
        json.dumps({"path": str(path), "sha256": split.sha256, "sizes": split.summary()}, indent=2)
    )
    return 0


# -- train ------------------------------------------------------------------------------------
def _recipe(args: argparse.Namespace, file_cfg: dict[str, Any], dataset: str) -> tuple[Any, Any]:
    from unlearnkit.models import ModelConfig
    from unlearnkit.pipeline import recipe_defaults
    from unlearnkit.training import TrainConfig

    defaults = recipe_defaults(dataset)
    model = _build(
        ModelConfig,
        args,
        {**defaults.get("model", {}), **file_cfg.get("model", {})},
        prefix="model",
        aliases=MODEL_ALIASES,
    )
    train = _build(
        TrainConfig,
        args,
        _seeded(args, {**defaults.get("train", {}), **file_cfg.get("train", {})}),
        aliases=TRAIN_ALIASES,
    )
    return model, train


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from unlearnkit.data.batching import unlearning_data
    from unlearnkit.pipeline import save_trained
    from unlearnkit.training import accuracy, train_fresh
    from unlearnkit.utils import resolve_device

    file_cfg = load_sections(args.config)
    split, ds = _load_split_and_data(args, file_cfg)
    model_cfg, train_cfg = _recipe(args, file_cfg, split.config.dataset)
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


# -- run --------------------------------------------------------------------------------------
def method_overrides(
    args: argparse.Namespace, file_cfg: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per-method config dicts: ``[methods.<name>]`` sections overridden by ``--<name>-<key>``."""
    from unlearnkit.methods import get_method_class, method_names

    sections = dict(file_cfg.get("methods", {}))
    for name in sections:
        get_method_class(name)
    out: dict[str, dict[str, Any]] = {}
    for name in method_names():
        cls = get_method_class(name).config_cls
        base = dict(sections.get(name, {}))
        if getattr(args, "seed", None) is not None and "seed" in cls.field_names():
            base = {"seed": args.seed, **base}
        cfg = config_from_args(cls, args, prefix=name, base=base)
        changed = {
            k: v
            for k, v in cfg.to_dict().items()
            if k in base or getattr(args, f"{name}_{k}", None) is not None
        }
        if changed:
            out[name] = changed
    return out


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from unlearnkit.evaluation import EvalConfig
    from unlearnkit.pipeline import RunConfig, run_experiment

    file_cfg = load_sections(args.config)
    split_cfg = _split_config(args, file_cfg)
    model_cfg, train_cfg = _recipe(args, file_cfg, split_cfg.dataset)
    run_cfg = _build(RunConfig, args, file_cfg.get("run", {}))
    eval_cfg = _build(EvalConfig, args, file_cfg.get("eval", {}), prefix="eval")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_experiment(
            split_cfg,
            model_cfg,
            train_cfg,
            run_cfg,
            eval_cfg,
            method_overrides(args, file_cfg),
            show_progress=not args.quiet,
        )
    out = result.save(args.out)
    print_run_summary(result, all_metrics=args.all_metrics, caught=caught)
    print(
        f"\nresults: {out / 'results.json'}, {out / 'results.md'} (total {result.wall_time:.1f} s)"
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
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    if messages:
        print(f"\n{len(messages)} warning(s) during the run:", file=sys.stderr)
        for msg in messages:
            print(f"  - {msg}", file=sys.stderr)


# -- parser -----------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seed",
        type=int,
        help="one seed for the split, the training recipe and "
        "every method (the specific --split-seed/--train-seed/--<method>-seed win)",
    )
    p.add_argument(
        "--config",
        metavar="TOML",
        help="TOML file with [split], [model], [train], "
        "[eval], [run] and [methods.<name>] sections; flags override it",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="also per-epoch and per-model log lines (default: one progress line per phase)",
    )


DESCRIPTION = (
    "Machine unlearning of trained classifiers: SURE, baselines, and evaluation against a "
    "retrained model."
)

#: every command and its one-line help, for the top-level ``--help``, which must not import
#: torch (it answers in well under a second); a test checks it against the full parser
COMMANDS: tuple[tuple[str, str], ...] = (
    ("list", "list datasets, models, methods or metrics (no argument: all)"),
    ("split", "make and save an unlearning split"),
    ("train", "train the original model (or --retrain on retain)"),
    ("run", "the main job: split → original → retrain → methods → evaluation → table"),
    ("evaluate", "evaluate saved checkpoints (original, retrain, methods) on a saved split"),
    ("benchmark", "run a grid of splits × seeds × methods (resumable) and print the aggregate"),
    ("report", "write report.md, report.html and figures/ for a benchmark folder"),
    ("attack", "per-example attacks over model pools: U-LiRA, NeurIPS 2023 forgetting score"),
    (
        "tune",
        "tune every method's hyperparameters on val by Bayesian optimisation (Optuna; the same "
        "budget per method)",
    ),
)

_HELP = dict(COMMANDS)


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(prog="unlearnkit", description=DESCRIPTION)
    parser.add_argument(
        "--version", action="version", version=f"unlearnkit {unlearnkit.__version__}"
    )
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def light_parser() -> argparse.ArgumentParser:
    """The top-level parser only (commands listed, none of their flags): enough for
    ``unlearnkit``, ``--help`` and ``--version`` without importing torch."""
    parser, sub = _top_parser()
    for name, help_text in COMMANDS:
        sub.add_parser(name, help=help_text)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from unlearnkit.data.splits import SplitConfig
    from unlearnkit.evaluation import EvalConfig
    from unlearnkit.methods import get_method_class, method_names
    from unlearnkit.models import ModelConfig
    from unlearnkit.pipeline import RunConfig
    from unlearnkit.training import TrainConfig

    parser, sub = _top_parser()
    p = sub.add_parser("list", help=_HELP["list"])
    p.add_argument("what", nargs="?", choices=(*LISTS, "all"), help="which registry (default all)")
    p.add_argument("--data-dir", help="also show this folder among the search paths")

    p = sub.add_parser("split", help=_HELP["split"])
    _common(p)
    p.add_argument("--out", required=True, help="where to write the split JSON")
    p.add_argument("--data-dir", help="folder with dataset files")
    add_config_arguments(p, SplitConfig, title="split", aliases=SPLIT_ALIASES)

    p = sub.add_parser("train", help=_HELP["train"])
    _common(p)
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
    add_config_arguments(p, SplitConfig, title="split", aliases=SPLIT_ALIASES)
    add_config_arguments(p, ModelConfig, prefix="model", title="model", aliases=MODEL_ALIASES)
    add_config_arguments(p, TrainConfig, title="training recipe", aliases=TRAIN_ALIASES)

    p = sub.add_parser("run", help=_HELP["run"])
    _common(p)
    p.add_argument("--out", default="runs/latest", help="output folder (default: runs/latest)")
    p.add_argument(
        "--all-metrics",
        action="store_true",
        help="print every metric (metrics as rows, models as columns) instead of the compact "
        "table; results.md always has every metric",
    )
    add_config_arguments(p, SplitConfig, title="split", aliases=SPLIT_ALIASES)
    add_config_arguments(p, ModelConfig, prefix="model", title="model", aliases=MODEL_ALIASES)
    add_config_arguments(p, TrainConfig, title="training recipe", aliases=TRAIN_ALIASES)
    add_config_arguments(p, RunConfig, title="run")
    add_config_arguments(p, EvalConfig, prefix="eval", title="evaluation")
    for name in method_names():
        cls = get_method_class(name)
        add_config_arguments(p, cls.config_cls, prefix=name, title=f"method {name}")

    import importlib

    for module in EXTENSIONS:
        try:
            ext = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        ext.add_parser(sub)
    return parser


def _short_warning(
    message: Any, category: Any, filename: str, lineno: int, line: Any = None
) -> str:
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _short_warning  # type: ignore[assignment]
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help", "--version"):
            light_parser().parse_args(argv)  # prints and exits (usage error without a command)
        parser = build_parser()
        args = parser.parse_args(argv)
        kind = OUTPUT_KINDS.get(args.command)
        if kind is not None and getattr(args, "out", None):
            check_output(args.out, kind)  # type: ignore[arg-type]
        from unlearnkit.utils import set_verbosity

        set_verbosity(0 if getattr(args, "quiet", False) else 1 + getattr(args, "verbose", 0))
        return _HANDLERS[args.command](args)
    except UnlearnkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    # extensions register into the imported module, so run that one's main (not __main__'s)
    from unlearnkit.cli import main as _main

    sys.exit(_main())
