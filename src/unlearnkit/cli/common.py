"""What every subcommand shares: the handler registry, config files, seeds, the flags of the
split / model / recipe / methods / engine configs (generated from the dataclasses)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unlearnkit.config import (
    Config,
    add_config_arguments,
    config_from_args,
    given_flags,
    load_toml,
)
from unlearnkit.errors import ConfigError

Handler = Callable[[argparse.Namespace], int]
HANDLERS: dict[str, Handler] = {}

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

#: sections of a ``--config`` file of run / train / split / attack
SECTIONS = ("split", "model", "train", "eval", "run", "engine", "methods")
#: a benchmark file's own sections (let through so one file serves both)
BENCHMARK_ONLY = ("benchmark", "grid", "attacks", "tune")

SPLIT_ALIASES = {"seed": "--split-seed"}
MODEL_ALIASES = {"name": "--model"}
TRAIN_ALIASES = {"seed": "--train-seed"}
ENGINE_TITLE = "engine (inline, or Ray with --workers / --ray-address; see docs/scale-out.md)"


def command(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of subcommand ``name``."""

    def deco(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return deco


def load_sections(path: str | None) -> dict[str, Any]:
    """Read a TOML config file; unknown top-level sections are an error (a benchmark file's
    own sections, ``[benchmark]``, ``[grid]``, ``[attacks]`` and ``[tune]``, are let through)."""
    if not path:
        return {}
    data = load_toml(path)
    unknown = sorted(set(data) - set(SECTIONS) - set(BENCHMARK_ONLY))
    if unknown:
        raise ConfigError(
            f"unknown section(s) {unknown} in {path}; known sections: {', '.join(SECTIONS)}"
        )
    return data


def seeded(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """Apply the global ``--seed`` (one seed drives split, init, batch order and methods)."""
    seed = getattr(args, "seed", None)
    return {**base, "seed": seed} if seed is not None else base


def build(
    cls: type[Config],
    args: argparse.Namespace,
    base: dict[str, Any],
    prefix: str = "",
    aliases: dict[str, str] | None = None,
) -> Any:
    return config_from_args(cls, args, prefix=prefix, base=base, aliases=aliases)


def add_common(p: argparse.ArgumentParser) -> None:
    """``--seed``, ``--config`` and ``--quiet``."""
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
        "[eval], [run], [engine] and [methods.<name>] sections; flags override it",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="also per-epoch and per-model log lines (default: one progress line per phase)",
    )


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    """The split, model and training-recipe flags."""
    from unlearnkit.data.splits import SplitConfig
    from unlearnkit.models import ModelConfig
    from unlearnkit.training import TrainConfig

    add_config_arguments(p, SplitConfig, title="split", aliases=SPLIT_ALIASES)
    add_config_arguments(p, ModelConfig, prefix="model", title="model", aliases=MODEL_ALIASES)
    add_config_arguments(p, TrainConfig, title="training recipe", aliases=TRAIN_ALIASES)


def add_method_arguments(p: argparse.ArgumentParser) -> None:
    """``--<method>-<key>`` for every registered method's config."""
    from unlearnkit.methods import get_method_class, method_names

    for name in method_names():
        cls = get_method_class(name)
        add_config_arguments(p, cls.config_cls, prefix=name, title=f"method {name}")


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    from unlearnkit.engine import EngineConfig

    add_config_arguments(p, EngineConfig, title=ENGINE_TITLE)


def engine_config(args: argparse.Namespace, file_cfg: dict[str, Any] | None = None) -> Any:
    from unlearnkit.engine import EngineConfig

    return build(EngineConfig, args, dict((file_cfg or {}).get("engine", {})))


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


def split_config(args: argparse.Namespace, file_cfg: dict[str, Any]) -> Any:
    from unlearnkit.data.splits import SplitConfig

    return build(SplitConfig, args, seeded(args, file_cfg.get("split", {})), aliases=SPLIT_ALIASES)


def recipe(args: argparse.Namespace, file_cfg: dict[str, Any], dataset: str) -> tuple[Any, Any]:
    """The model and training configs: dataset defaults < file < flags."""
    from unlearnkit.engine import recipe_defaults
    from unlearnkit.models import ModelConfig
    from unlearnkit.training import TrainConfig

    defaults = recipe_defaults(dataset)
    model = build(
        ModelConfig,
        args,
        {**defaults.get("model", {}), **file_cfg.get("model", {})},
        prefix="model",
        aliases=MODEL_ALIASES,
    )
    train = build(
        TrainConfig,
        args,
        seeded(args, {**defaults.get("train", {}), **file_cfg.get("train", {})}),
        aliases=TRAIN_ALIASES,
    )
    return model, train


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
        # the global --seed seeds every method; retrain's seed derives from the recipe's seed
        # (which --seed sets), as in the benchmark, unless --retrain-seed or a file gives it
        global_seed = getattr(args, "seed", None) is not None and name != "retrain"
        if global_seed and "seed" in cls.field_names():
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
