"""``unlearnkit tune``: thin — the search itself is :mod:`unlearnkit.tuning`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from unlearnkit.cli.commands import HELP
from unlearnkit.cli.common import command, load_sections
from unlearnkit.config import add_config_arguments, config_from_args

#: the global --seed sets other seeds; the tuning seed has its own flag
ALIASES = {"seeds": "--tune-seeds"}


def add_parser(subparsers: Any) -> None:
    from unlearnkit.tuning.config import TuneConfig

    p = subparsers.add_parser(
        "tune",
        help=HELP["tune"],
        description="One Optuna study per (method, setting) of a benchmark file's grid, scored "
        "on val at tuning seeds apart from the benchmark's seeds. Options come from the file's "
        "[tune] table (search spaces from [tune.space.<method>]), overridden by these flags. "
        "Writes OUT/study.db (open it with optuna-dashboard), OUT/trials.jsonl, "
        "OUT/tuning.json, OUT/tuning.md with figures and OUT/tuned.toml (the benchmark file "
        "with the winners). Rerunning resumes. See docs/tuning.md.",
    )
    p.add_argument("--config", metavar="TOML", required=True, help="a benchmark file")
    p.add_argument("--out", help="output folder (default: runs/tune/<name>); reuse it to resume")
    p.add_argument("--device", help="overrides [benchmark] device: auto, cpu, cuda, cuda:N")
    p.add_argument("--data-dir", help="overrides [benchmark] data_dir")
    p.add_argument("--cache-dir", help="overrides [benchmark] cache_dir")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_config_arguments(p, TuneConfig, title="search", aliases=ALIASES)


@command("tune")
def cmd_tune(args: argparse.Namespace) -> int:
    from unlearnkit.benchmark.grid import load_plan
    from unlearnkit.tuning.config import TuneConfig, split_tune_section
    from unlearnkit.tuning.search import run_tuning

    sections = load_sections(args.config)
    plan = load_plan(
        sections,
        {"device": args.device, "data_dir": args.data_dir, "cache_dir": args.cache_dir},
    )
    options, _ = split_tune_section(sections)
    cfg = config_from_args(TuneConfig, args, base=options, aliases=ALIASES)
    out = Path(args.out or Path("runs") / "tune" / plan.config.name)
    outcome = run_tuning(plan, sections, cfg, out, show_progress=not args.quiet)
    print(outcome.table())
    print(
        f"\n{outcome.n_new} new trial(s); objective {cfg.objective} = mean |method − retrain| "
        f"(pp) on val. Report: {out / 'tuning.md'}\nStudies: {out / 'study.db'} "
        f"(optuna-dashboard sqlite:///{(out / 'study.db').resolve()})\n"
        f"Tuned benchmark file: {outcome.tuned_path}"
    )
    return 0
