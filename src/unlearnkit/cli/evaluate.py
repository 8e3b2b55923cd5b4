"""``unlearnkit evaluate``: the full metric set for saved checkpoints on a saved split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from unlearnkit.cli.commands import HELP
from unlearnkit.cli.common import command
from unlearnkit.config import add_config_arguments
from unlearnkit.errors import ConfigError


def add_parser(sub: Any) -> None:
    from unlearnkit.evaluation.suite import EvalConfig

    p = sub.add_parser(
        "evaluate",
        help=HELP["evaluate"],
    )
    p.add_argument(
        "--split",
        dest="split_file",
        required=True,
        metavar="JSON",
        help="the split the checkpoints were trained on",
    )
    p.add_argument(
        "--checkpoint",
        nargs="+",
        required=True,
        metavar="NAME=PATH",
        help="checkpoints to evaluate; 'retrain' is the reference and required, "
        "'original' is the relearn-time target",
    )
    p.add_argument("--out", help="write results JSON (and a markdown table beside it) here")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--data-dir", help="folder with dataset files")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_config_arguments(p, EvalConfig, prefix="eval", title="evaluation")


def parse_checkpoints(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(
                f"--checkpoint expects NAME=PATH (e.g. retrain=ckpt/retrain), got '{item}'"
            )
        if name in out:
            raise ConfigError(f"checkpoint name '{name}' given twice")
        out[name] = path
    if "retrain" not in out:
        raise ConfigError(
            "--checkpoint needs a 'retrain=PATH' entry: every metric is compared "
            "with the retrained model"
        )
    return out


@command("evaluate")
def cmd_evaluate(args: argparse.Namespace) -> int:
    from unlearnkit.checkpoint import load_checkpoint
    from unlearnkit.config import config_from_args
    from unlearnkit.data import load_dataset
    from unlearnkit.data.batching import unlearning_data
    from unlearnkit.data.splits import Split
    from unlearnkit.evaluation.suite import EvalConfig, evaluate_models
    from unlearnkit.records import atomic_write_text
    from unlearnkit.utils import resolve_device

    paths = parse_checkpoints(args.checkpoint)
    split = Split.load(args.split_file)
    ds = load_dataset(split.config.dataset, args.data_dir)
    data = unlearning_data(ds, split)
    device = resolve_device(args.device)
    models, walls = {}, {}
    for name, path in paths.items():
        model, meta = load_checkpoint(
            path,
            expect_dataset=split.config.dataset,
            expect_split_sha256=split.sha256,
            device=device,
        )
        models[name] = model
        walls[name] = float((meta.metrics or {}).get("wall_time", float("nan")))
    cfg = config_from_args(EvalConfig, args, prefix="eval")
    result = evaluate_models(
        models,
        data,
        device=device,
        config=cfg,
        wall_times=walls,
        original="original" if "original" in models else "retrain",
        relearn_target_model="original" if "original" in models else "retrain",
        show_progress=not args.quiet,
    )
    print(result.table(markdown=False))
    if args.out:
        out = Path(args.out)
        payload = {"split_sha256": split.sha256, "checkpoints": paths, **result.to_dict()}
        atomic_write_text(out, json.dumps(payload, indent=2, default=float))
        atomic_write_text(out.with_suffix(".md"), result.table(markdown=True) + "\n")
        print(f"\nresults: {out}")
    return 0
