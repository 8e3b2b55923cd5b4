"""Benchmarks: a resumable grid runner, aggregation over seeds, and reports with figures.

* :mod:`~unlearnkit.benchmark.grid` — the benchmark file (``[benchmark]``, ``[[grid.split]]``
  and the ``run`` sections) resolved into groups (split, seed) and runs (group, method);
* :mod:`~unlearnkit.benchmark.runner` — runs or resumes a plan into ``OUT/results.jsonl``;
* :mod:`~unlearnkit.benchmark.aggregate` — mean ± std, gaps, Avg. Gap, ranks, runtime;
* :mod:`~unlearnkit.benchmark.report` — ``report.md``, ``report.html`` and figures.

See ``docs/benchmark.md``.
"""

from unlearnkit.benchmark.aggregate import aggregate_results, metric_table, summary_table
from unlearnkit.benchmark.grid import BenchmarkConfig, BenchmarkPlan, load_plan
from unlearnkit.benchmark.report import build_report
from unlearnkit.benchmark.runner import (
    BenchmarkLockedError,
    BenchmarkOutcome,
    ConfigChangedError,
    ResultsFile,
    run_benchmark,
)

__all__ = [
    "BenchmarkConfig",
    "BenchmarkLockedError",
    "BenchmarkOutcome",
    "BenchmarkPlan",
    "ConfigChangedError",
    "ResultsFile",
    "aggregate_results",
    "build_report",
    "load_plan",
    "metric_table",
    "run_benchmark",
    "summary_table",
]
