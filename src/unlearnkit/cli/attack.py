"""``unlearnkit attack ulira|neurips``: per-example attacks over model pools, from the shell.

Thin: the split, recipe and method configs come from the same flags and ``--config`` sections
as ``unlearnkit run``; the attack's own flags are generated from
:class:`~unlearnkit.attacks.config.AttackConfig`. One shared
:class:`~unlearnkit.attacks.runner.AttackSetup` serves every method (pools trained once); it
prints a table and writes ``<attack>.json`` (scalars and configs) and ``<attack>_scores.npz``
(per-example arrays, keys ``<method>__<array>``) to ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.cli.commands import HELP
from unlearnkit.cli.common import (
    add_common,
    add_engine_arguments,
    add_method_arguments,
    add_recipe_arguments,
    build,
    command,
    engine_config,
    load_sections,
    method_overrides,
    recipe,
    split_config,
)
from unlearnkit.config import add_config_arguments
from unlearnkit.errors import ConfigError

ATTACKS = ("ulira", "neurips")
ALIASES = {"methods": "--method", "k": "--k", "n": "--n"}


def add_parser(subparsers: Any) -> None:
    """Add the ``attack`` subcommand."""
    from unlearnkit.attacks.config import AttackConfig

    p = subparsers.add_parser(
        "attack",
        help=HELP["attack"],
        description="Per-example membership attacks on the forget set. 'neurips': N runs of "
        "each method from one original vs N retrained models (the NeurIPS 2023 unlearning "
        "challenge score, per-example epsilon). 'ulira': U-LiRA with K shadow models, half of "
        "them trained on the forget set and then unlearned with the method; AUC by "
        "leave-one-out over the pool. Pools are cached and shared by all methods; see "
        "docs/per-example-attacks.md for the designs and their cost.",
    )
    p.add_argument("attack", choices=ATTACKS, help="which attack")
    p.add_argument("--out", default="runs/attack", help="output folder (default: runs/attack)")
    add_config_arguments(p, AttackConfig, title="attack", aliases=ALIASES)
    add_common(p)
    add_engine_arguments(p)
    add_recipe_arguments(p)
    add_method_arguments(p)


def _table(attack: str, rows: list[dict[str, Any]]) -> str:
    if attack == "neurips":
        cols = [
            ("method", "method", "s"),
            ("N", "N", "d"),
            ("score", "score", ".4f"),
            ("F", "forgetting_quality", ".4f"),
            ("eps_med", "epsilon_median", ".2f"),
            ("capped", "frac_capped", ".3f"),
            ("RA/RA_R", "ra_ratio", ".4f"),
            ("TA/TA_R", "ta_ratio", ".4f"),
            ("emb_F", "emb_forgetting_quality", ".4f"),
            ("emb_eps_med", "emb_epsilon_median", ".2f"),
            ("wall_s", "wall_time", ".1f"),
        ]
    else:
        cols = [
            ("method", "method", "s"),
            ("K", "K", "d"),
            ("auc", "auc", ".4f"),
            ("null_q95", "auc_null_q95", ".4f"),
            ("p", "auc_p_value", ".3f"),
            ("bal_acc", "balanced_accuracy", ".4f"),
            ("tpr@1%", "tpr_at_1pct_fpr", ".4f"),
            ("tpr@0.1%", "tpr_at_0_1pct_fpr", ".4f"),
            ("target_auc", "target_auc", ".4f"),
            ("emb_auc", "emb_auc", ".4f"),
            ("emb_p", "emb_auc_p_value", ".3f"),
            ("emb_bal_acc", "emb_balanced_accuracy", ".4f"),
            ("wall_s", "wall_time", ".1f"),
        ]
    cells = [[format(r[key], fmt) if key in r else "-" for _, key, fmt in cols] for r in rows]
    widths = [max(len(h), *(len(c[j]) for c in cells)) for j, (h, _, _) in enumerate(cols)]
    lines = ["  ".join(h.rjust(w) for (h, _, _), w in zip(cols, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _attack_config(args: argparse.Namespace, file_cfg: dict[str, Any]) -> Any:
    from unlearnkit.attacks.config import AttackConfig
    from unlearnkit.methods import get_method_class

    cfg = build(AttackConfig, args, dict(file_cfg.get("attack", {})), aliases=ALIASES)
    if not cfg.methods:
        raise ConfigError("give the method(s) to attack: --method NAME [NAME ...]")
    for name in cfg.methods:
        get_method_class(name)  # unknown names fail before any training
    cfg.size(args.attack)
    return cfg.replace(methods=tuple(dict.fromkeys(cfg.methods)))


def _run(
    args: argparse.Namespace, cfg: Any, file_cfg: dict[str, Any], engine: Any
) -> dict[str, Any]:
    """Every method's attack result on one shared setup, plus what the payload records."""
    from unlearnkit.attacks.runner import AttackSetup, run_neurips, run_ulira
    from unlearnkit.engine import GroupSpec
    from unlearnkit.engine.group import data_source, prepared_data
    from unlearnkit.methods import get_method_class
    from unlearnkit.utils import resolve_device

    split_cfg = split_config(args, file_cfg)
    model_cfg, train_cfg = recipe(args, file_cfg, split_cfg.dataset)
    overrides = method_overrides(args, file_cfg)
    configs = {
        name: get_method_class(name).config_cls.from_dict(overrides.get(name, {}))
        for name in cfg.methods
    }
    device = resolve_device(cfg.device)
    spec = GroupSpec(split_cfg, model_cfg, train_cfg, data_dir=cfg.data_dir)
    split, data = prepared_data(spec)
    setup = AttackSetup(
        data,
        model_cfg,
        train_cfg,
        device,
        split=split,
        cache_dir=cfg.cache_dir,
        show_progress=not args.quiet,
        max_retain=cfg.max_retain,
        retain_fraction=cfg.retain_fraction,
        mapper=None if engine.inline else engine,
        data_source=data_source(spec),
    )
    size = cfg.size(args.attack)
    results = []
    for name in cfg.methods:
        common = (name, configs[name], data, split, model_cfg, train_cfg, size, device)
        if args.attack == "neurips":
            results.append(run_neurips(*common, setup=setup))
        else:
            results.append(run_ulira(*common, setup=setup, n_perm=cfg.n_perm))
    config = {
        "split": split_cfg.to_dict(),
        "model": model_cfg.to_dict(),
        "train": train_cfg.to_dict(),
        "methods": {k: v.to_dict() for k, v in configs.items()},
        "device": str(device),
        "retain_fraction": cfg.retain_fraction,
        "max_retain": cfg.max_retain,
        "n_perm": cfg.n_perm,
    }
    return {"split": split, "size": size, "results": results, "config": config}


@command("attack")
def cmd_attack(args: argparse.Namespace) -> int:
    from unlearnkit.engine import Engine
    from unlearnkit.records import atomic_write, atomic_write_text

    file_cfg = load_sections(args.config)
    cfg = _attack_config(args, file_cfg)
    with Engine(
        engine_config(args, file_cfg), device=cfg.device, show_progress=not args.quiet
    ) as e:
        done = _run(args, cfg, file_cfg, e)
    split, results = done["split"], done["results"]
    arrays: dict[str, np.ndarray] = {}
    for res in results:
        for key, value in res.pop("arrays").items():
            arrays[f"{res['method']}__{key}"] = np.asarray(value)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "attack": args.attack,
        "K" if args.attack == "ulira" else "N": done["size"],
        "split_sha256": split.sha256,
        "split_sizes": split.summary(),
        "config": done["config"],
        "results": {r["method"]: r for r in results},
    }
    atomic_write_text(out / f"{args.attack}.json", json.dumps(payload, indent=2, default=str))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # (allow_pickle overload)
    atomic_write(out / f"{args.attack}_scores.npz", buf.getvalue())
    split.save(out / "split.json")
    print(_table(args.attack, results))
    print(
        f"\nresults: {out / (args.attack + '.json')}, per-example arrays: "
        f"{out / (args.attack + '_scores.npz')}"
    )
    return 0
