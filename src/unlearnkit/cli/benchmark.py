"""``unlearnkit benchmark`` and ``unlearnkit report``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from unlearnkit.cli.commands import HELP
from unlearnkit.cli.common import add_engine_arguments, command, engine_config, load_sections


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help=HELP["benchmark"],
        description="Run every (split, seed, method) of a benchmark file, one JSON line per run "
        "in OUT/results.jsonl (and, with an [attacks] section, one per per-example attack in "
        "OUT/attacks.jsonl). Rerunning the same command resumes: finished runs are skipped, "
        "failed ones retried. See docs/benchmark.md.",
    )
    p.add_argument(
        "--config",
        metavar="TOML",
        required=True,
        help="benchmark file: [benchmark], [[grid.split]], [model], [train], [eval], "
        "[methods.<name>], optional [attacks] (e.g. configs/digits-smoke.toml)",
    )
    p.add_argument(
        "--out", help="output folder (default: runs/benchmark/<name>); reuse it to resume"
    )
    p.add_argument("--device", help="overrides [benchmark] device: auto, cpu, cuda, cuda:N")
    p.add_argument("--data-dir", help="overrides [benchmark] data_dir")
    p.add_argument("--cache-dir", help="overrides [benchmark] cache_dir")
    p.add_argument(
        "--no-cache",
        action="store_true",
        default=None,
        help="always train the original and retrain afresh",
    )
    p.add_argument("--report", action="store_true", help="build the report at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    add_engine_arguments(p)

    p = subparsers.add_parser(
        "report",
        help=HELP["report"],
        description="Aggregate OUT/results.jsonl and write OUT/report.md, a self-contained "
        "OUT/report.html, OUT/summary.json and OUT/figures/*.png.",
    )
    p.add_argument("dir", metavar="DIR", help="the --out folder of `unlearnkit benchmark`")
    p.add_argument("--title", help="report title (default: the benchmark's name)")


def _print_attacks(out: Path) -> None:
    from unlearnkit.benchmark.aggregate import ATTACK_SIZE, aggregate_attacks, attack_table
    from unlearnkit.benchmark.runner import ATTACKS_FILE
    from unlearnkit.records import ResultsFile

    path = out / ATTACKS_FILE
    if not path.is_file():
        return
    agg = aggregate_attacks(ResultsFile(path).load())
    for s in agg["settings"]:
        for entry in s["attacks"]:
            size = f"{ATTACK_SIZE.get(entry['attack'], 'size')} = {entry['size']}"
            print(f"\n{s['label']} — per-example attack {entry['attack']}, {size}")
            print(attack_table(entry, markdown=False), end="")
    print(
        f"\nattack rows in {path}: {agg['n_ok']} ok, {agg['n_failed']} failed "
        "(the last row of each attack counts)"
    )


def _print_summary(out: Path) -> None:
    from unlearnkit.benchmark.aggregate import aggregate_results, summary_table
    from unlearnkit.benchmark.answer import answer_lines
    from unlearnkit.benchmark.runner import RESULTS_FILE
    from unlearnkit.records import ResultsFile

    agg = aggregate_results(ResultsFile(out / RESULTS_FILE).load())
    for s in agg["settings"]:
        if not s["methods"]:
            continue
        print(f"\n{s['label']} — seeds {', '.join(str(x) for x in s['seeds'])}")
        acc = s["original_train_acc"]["min"]
        if acc == acc:
            print(f"original train accuracy (min over seeds): {100 * acc:.2f}%")
        print(summary_table(s, markdown=False), end="")
        for line in answer_lines(s):
            print("- " + line.replace("**", ""))
    _print_attacks(out)


@command("benchmark")
def cmd_benchmark(args: argparse.Namespace) -> int:
    from unlearnkit.benchmark.grid import load_plan
    from unlearnkit.benchmark.runner import run_benchmark

    plan = load_plan(
        load_sections(args.config),
        {
            "device": args.device,
            "data_dir": args.data_dir,
            "cache_dir": args.cache_dir,
            "no_cache": args.no_cache,
        },
    )
    out = Path(args.out or Path("runs") / "benchmark" / plan.config.name)
    engine = engine_config(args)
    outcome = run_benchmark(plan, out, show_progress=not args.quiet, engine=engine)
    _print_summary(out)
    print(
        f"\n{outcome.ok} run(s) done, {outcome.skipped} already done, {outcome.failed} failed "
        f"of {outcome.total} in {outcome.wall_time:.1f} s; results: {out / 'results.jsonl'}"
    )
    if outcome.attacks_total:
        print(
            f"{outcome.attacks_ok} attack(s) done, {outcome.attacks_skipped} already done, "
            f"{outcome.attacks_failed} failed of {outcome.attacks_total}; results: "
            f"{out / 'attacks.jsonl'}"
        )
    if outcome.failed:
        print("failed runs (rerun the same command to retry them):")
        for row in outcome.failures:
            print(f"  {row['dataset']} seed {row['seed']} {row['method']}: {row['error']}")
    if outcome.attacks_failed:
        print("failed attacks (rerun the same command to retry them):")
        for row in outcome.attack_failures:
            print(
                f"  {row['dataset']} seed {row['seed']} {row['attack']} {row['method']}: "
                f"{row['error']}"
            )
    if args.report:
        from unlearnkit.benchmark.report import build_report

        paths = build_report(out)
        print(f"report: {paths['html']}")
    else:
        print(f"report: unlearnkit report {out}")
    return 1 if outcome.failed or outcome.attacks_failed else 0


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    from unlearnkit.benchmark.report import build_report

    paths = build_report(args.dir, title=args.title)
    print(f"wrote {paths['markdown']}, {paths['html']} and {len(paths) - 3} figure(s)")
    return 0
