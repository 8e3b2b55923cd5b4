"""Benchmarks: a resumable grid runner, aggregation over seeds, and reports with figures.

* :mod:`~unlearnkit.benchmark.grid` — the benchmark file (``[benchmark]``, ``[[grid.split]]``,
  the ``run`` sections and the optional ``[attacks]``) resolved into groups (split, seed) and
  runs (group, method);
* :mod:`~unlearnkit.benchmark.runner` — runs or resumes a plan into ``OUT/results.jsonl`` (and
  the per-example attacks into ``OUT/attacks.jsonl``);
* :mod:`~unlearnkit.benchmark.aggregate` — mean ± std, gaps, Avg. Gap, ranks, runtime; the
  per-example attacks' mean ± std;
* :mod:`~unlearnkit.benchmark.report` — ``report.md``, ``report.html`` and figures.

See ``docs/benchmark.md``.
"""

from unlearnkit.benchmark.aggregate import (
    aggregate_attacks,
    aggregate_results,
    attack_table,
    metric_table,
    summary_table,
)
from unlearnkit.benchmark.grid import AttacksConfig, BenchmarkConfig, BenchmarkPlan, load_plan
from unlearnkit.benchmark.report import build_report
from unlearnkit.benchmark.runner import (
    BenchmarkLockedError,
    BenchmarkOutcome,
    ConfigChangedError,
    ResultsFile,
    run_benchmark,
)

__all__ = [
    "AttacksConfig",
    "BenchmarkConfig",
    "BenchmarkLockedError",
    "BenchmarkOutcome",
    "BenchmarkPlan",
    "ConfigChangedError",
    "ResultsFile",
    "aggregate_attacks",
    "aggregate_results",
    "attack_table",
    "build_report",
    "load_plan",
    "metric_table",
    "run_benchmark",
    "summary_table",
]
