"""``unlearnkit tune`` (registered through ``cli.EXTENSIONS``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from unlearnkit.cli import command, load_sections
from unlearnkit.config import add_config_arguments, config_from_args

#: the global --seed sets other seeds; the tuning seed has its own flag
ALIASES = {"seeds": "--tune-seeds"}


def add_parser(subparsers: Any) -> None:
    from unlearnkit.tuning.search import TuneConfig

    p = subparsers.add_parser(
        "tune",
        help="search every method's hyperparameters on the val split (same budget per method)",
        description="Random search of each method's search space on the val split of a "
        "benchmark file's grid, at a tuning seed apart from the benchmark's seeds. Writes "
        "OUT/tuning.md, OUT/tuning.json, OUT/trials.jsonl and OUT/tuned.toml (the benchmark "
        "file with the best [methods.<name>] tables). Rerunning resumes. See docs/tuning.md.",
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
    from unlearnkit.tuning.search import TuneConfig, run_tuning

    sections = load_sections(args.config)
    plan = load_plan(
        sections,
        {"device": args.device, "data_dir": args.data_dir, "cache_dir": args.cache_dir},
    )
    cfg = config_from_args(TuneConfig, args, aliases=ALIASES)
    out = Path(args.out or Path("runs") / "tune" / plan.config.name)
    outcome = run_tuning(plan, sections, cfg, out, show_progress=not args.quiet)
    print(outcome.table())
    print(
        f"\n{outcome.n_new} new trial run(s); objective = mean |method − retrain| (pp) on val. "
        f"Table: {out / 'tuning.md'}\nTuned benchmark file: {outcome.tuned_path}"
    )
    return 0
