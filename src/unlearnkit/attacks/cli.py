"""``unlearnkit attack ulira|neurips``: per-example attacks over model pools, from the shell.

Thin, like the main CLI: it builds the split, the recipe and the method configs exactly as
``unlearnkit run`` does (same flags, same ``--config`` TOML sections), calls
:func:`unlearnkit.attacks.runner.run_ulira` / :func:`~unlearnkit.attacks.runner.run_neurips`
once per method with one shared :class:`~unlearnkit.attacks.runner.AttackSetup` (so the pools
are trained once for all methods), prints a table and writes ``<attack>.json`` (scalars and
configs) and ``<attack>_scores.npz`` (per-example arrays, keys ``<method>__<array>``) to
``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.cli import command
from unlearnkit.errors import ConfigError
from unlearnkit.utils import atomic_write

ATTACKS = ("ulira", "neurips")
DEFAULT_POOL = 16


def add_parser(subparsers: Any) -> None:
    """Add the ``attack`` subcommand (called by :func:`unlearnkit.cli.build_parser`)."""
    from unlearnkit import cli as base
    from unlearnkit.config import add_config_arguments
    from unlearnkit.data.splits import SplitConfig
    from unlearnkit.methods import get_method_class, method_names
    from unlearnkit.models import ModelConfig
    from unlearnkit.training import TrainConfig

    p = subparsers.add_parser(
        "attack",
        help="per-example attacks over model pools: U-LiRA, NeurIPS 2023 forgetting score",
        description="Per-example membership attacks on the forget set. 'neurips': N runs of "
        "each method from one original vs N retrained models (the NeurIPS 2023 unlearning "
        "challenge score, per-example epsilon). 'ulira': U-LiRA with K shadow models, half of "
        "them trained on the forget set and then unlearned with the method; AUC by "
        "leave-one-out over the pool. Pools are cached and shared by all methods; see "
        "docs/per-example-attacks.md for the designs and their cost.",
    )
    p.add_argument("attack", choices=ATTACKS, help="which attack")
    p.add_argument(
        "--method",
        dest="attack_methods",
        nargs="+",
        required=True,
        metavar="NAME",
        help="unlearning method(s) to attack (see `unlearnkit list methods`)",
    )
    p.add_argument(
        "--k",
        dest="attack_k",
        type=int,
        default=DEFAULT_POOL,
        help=f"ulira: shadow models K (≥ 6; default {DEFAULT_POOL})",
    )
    p.add_argument(
        "--n",
        dest="attack_n",
        type=int,
        default=DEFAULT_POOL,
        help=f"neurips: models per side N (≥ 3; default {DEFAULT_POOL})",
    )
    p.add_argument("--out", default="runs/attack", help="output folder (default: runs/attack)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--data-dir", help="folder with dataset files")
    p.add_argument(
        "--cache-dir",
        help="where model pools and the original are cached (default: ~/.cache/unlearnkit)",
    )
    p.add_argument(
        "--retain-fraction",
        type=float,
        default=0.5,
        help="ulira: share of retain each shadow model trains on (default 0.5, Hayes et al.; 1 "
        "= the real original's regime, recommended for partial-class forget sets)",
    )
    p.add_argument(
        "--n-perm",
        type=int,
        default=200,
        help="ulira: model relabellings for the AUC's null distribution and p-value (0 = skip; "
        "default 200)",
    )
    p.add_argument(
        "--max-retain",
        type=int,
        default=10_000,
        help="cap on the retain rows used for accuracies and class prototypes (default 10000)",
    )
    base._common(p)
    add_config_arguments(
        p, SplitConfig, title="split", aliases=getattr(base, "SPLIT_ALIASES", None)
    )
    add_config_arguments(
        p, ModelConfig, prefix="model", title="model", aliases=getattr(base, "MODEL_ALIASES", None)
    )
    add_config_arguments(
        p, TrainConfig, title="training recipe", aliases=getattr(base, "TRAIN_ALIASES", None)
    )
    for name in method_names():
        cls = get_method_class(name)
        add_config_arguments(p, cls.config_cls, prefix=name, title=f"method {name}")


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


@command("attack")
def cmd_attack(args: argparse.Namespace) -> int:
    from unlearnkit import cli as base
    from unlearnkit.attacks.runner import MIN_K, MIN_N, AttackSetup, run_neurips, run_ulira
    from unlearnkit.data import load_dataset
    from unlearnkit.data.batching import unlearning_data
    from unlearnkit.data.splits import atomic_write_text, make_split
    from unlearnkit.methods import get_method_class
    from unlearnkit.utils import resolve_device

    methods = list(dict.fromkeys(args.attack_methods))
    for name in methods:
        get_method_class(name)  # unknown names fail before any training
    size = args.attack_k if args.attack == "ulira" else args.attack_n
    minimum = MIN_K if args.attack == "ulira" else MIN_N
    if size < minimum:
        flag = "--k" if args.attack == "ulira" else "--n"
        raise ConfigError(
            f"{args.attack} needs {flag} ≥ {minimum} models, got {size}; use tens (16 or more) "
            "for stable numbers"
        )
    if args.n_perm < 0:
        raise ConfigError(
            f"--n-perm must be >= 0 (0 skips the null distribution), got {args.n_perm}"
        )
    if not 0 < args.retain_fraction <= 1:
        raise ConfigError(f"--retain-fraction must be in (0, 1], got {args.retain_fraction}")
    file_cfg = base.load_sections(args.config)
    split_cfg = base._split_config(args, file_cfg)
    model_cfg, train_cfg = base._recipe(args, file_cfg, split_cfg.dataset)
    overrides = base.method_overrides(args, file_cfg)
    configs = {
        name: get_method_class(name).config_cls.from_dict(overrides.get(name, {}))
        for name in methods
    }
    device = resolve_device(args.device)
    ds = load_dataset(split_cfg.dataset, args.data_dir)
    split = make_split(ds, split_cfg)
    data = unlearning_data(ds, split, augment=train_cfg.augment)
    setup = AttackSetup(
        data,
        model_cfg,
        train_cfg,
        device,
        split=split,
        cache_dir=args.cache_dir,
        show_progress=not args.quiet,
        max_retain=args.max_retain,
        retain_fraction=args.retain_fraction,
    )
    results: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for name in methods:
        if args.attack == "neurips":
            res = run_neurips(
                name, configs[name], data, split, model_cfg, train_cfg, size, device, setup=setup
            )
        else:
            res = run_ulira(
                name,
                configs[name],
                data,
                split,
                model_cfg,
                train_cfg,
                size,
                device,
                setup=setup,
                n_perm=args.n_perm,
            )
        for key, value in res.pop("arrays").items():
            arrays[f"{name}__{key}"] = np.asarray(value)
        results.append(res)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "attack": args.attack,
        "K" if args.attack == "ulira" else "N": size,
        "split_sha256": split.sha256,
        "split_sizes": split.summary(),
        "config": {
            "split": split_cfg.to_dict(),
            "model": model_cfg.to_dict(),
            "train": train_cfg.to_dict(),
            "methods": {k: v.to_dict() for k, v in configs.items()},
            "device": str(device),
            "retain_fraction": args.retain_fraction,
            "max_retain": args.max_retain,
            "n_perm": args.n_perm,
        },
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
