"""``unlearnkit run --seeds S1 S2 ...``: the main job over several seeds, with its statistics.

Each seed is one :func:`~unlearnkit.pipeline.run_experiment` — one group on the engine (inline,
or Ray with ``--workers``), its configs exactly those ``--seed S`` gives — so every seed's
metrics equal a single-seed run's. The per-seed metric rows become benchmark rows
(:func:`~unlearnkit.benchmark.aggregate.rows_from_seeds`) and are aggregated as the benchmark
aggregates (:func:`~unlearnkit.benchmark.aggregate.aggregate_results`): mean ± std over seeds,
gaps and Avg. Gap to retrain, the signal check (original vs retrain in pooled seed stds) and the
paired statistics (paired t / Wilcoxon on the per-seed gaps, Holm-corrected), whose answer is
:func:`~unlearnkit.benchmark.answer.answer_lines`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import unlearnkit
from unlearnkit.benchmark.aggregate import (
    aggregate_results,
    metric_table,
    paired_table,
    ranking_table,
    rows_from_seeds,
    signal_table,
    summary_table,
)
from unlearnkit.benchmark.answer import AVG_GAPS, answer_lines
from unlearnkit.data.splits import SplitConfig
from unlearnkit.engine import EngineConfig
from unlearnkit.evaluation import EvalConfig
from unlearnkit.models import ModelConfig
from unlearnkit.pipeline import ExperimentResult, RunConfig, run_experiment
from unlearnkit.records import atomic_write_text, clean_json
from unlearnkit.training import TrainConfig

__all__ = ["SeedConfigs", "SeedsResult", "run_seeds", "seed_rows"]

#: one seed's configs: split, model, training recipe and the per-method overrides
SeedConfigs = tuple[SplitConfig, ModelConfig, TrainConfig, Mapping[str, Mapping[str, Any]]]


def seed_rows(runs: Mapping[int, ExperimentResult]) -> list[dict[str, Any]]:
    """Benchmark rows (one per seed and model) of the per-seed runs of one setting."""
    first = next(iter(runs.values())).config
    return rows_from_seeds(
        {seed: run.evaluation.rows for seed, run in runs.items()},
        split=first["split"],
        model=first["model"],
        train=first["train"],
        original_train_acc={
            seed: float(run.outcomes["original"].get("train_acc") or math.nan)
            for seed, run in runs.items()
        },
    )


@dataclass
class SeedsResult:
    """The runs of every seed (``runs[seed]``) and their aggregate (one setting)."""

    runs: dict[int, ExperimentResult]
    setting: dict[str, Any]
    wall_time: float

    @property
    def seeds(self) -> list[int]:
        return list(self.runs)

    def answer(self) -> list[str]:
        """Which method is best (only where significantly so) and which metrics carry signal."""
        return answer_lines(self.setting)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": unlearnkit.__version__,
            "seeds": self.seeds,
            "aggregate": self.setting,
            "signal": self.setting.get("signal", {}),
            "paired": self.setting.get("paired", {}),
            "answer": self.answer(),
            "per_seed": {str(seed): run.to_dict() for seed, run in self.runs.items()},
            "wall_time": self.wall_time,
        }

    def save(self, out_dir: str | Path) -> Path:
        """Write results.json, results.md and config.json (the first seed's, with ``seeds``),
        and each seed's own folder ``seed-<S>/`` as a single-seed run writes it."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for seed, run in self.runs.items():
            run.save(out / f"seed-{seed}")
        atomic_write_text(out / "results.json", json.dumps(clean_json(self.to_dict()), indent=2))
        atomic_write_text(out / "results.md", self.markdown())
        config = {**next(iter(self.runs.values())).config, "seeds": self.seeds}
        atomic_write_text(out / "config.json", json.dumps(clean_json(config), indent=2))
        return out

    def tables(self, *, markdown: bool) -> list[str]:
        """Mean ± std over seeds (methods as rows), the signal check, the ranking with its
        groups, and (markdown) every metric and the paired comparisons of each Avg. Gap."""
        s = self.setting
        parts = [summary_table(s, markdown=markdown)]
        if markdown:
            parts.append(metric_table(s, markdown=True))
        parts += [signal_table(s, markdown=markdown), ranking_table(s, markdown=markdown)]
        if markdown:
            for key in (k for k in AVG_GAPS if k in s.get("paired", {})):
                parts.append(f"Paired comparisons of the {AVG_GAPS[key]} (pp):\n")
                parts.append(paired_table(s, key, markdown=True))
        return [p for p in parts if p]

    def markdown(self) -> str:
        lines = [
            "# unlearnkit results over seeds",
            "",
            f"- {self.setting['label']}; model `{self.setting['model']['name']}`; seeds "
            f"{', '.join(map(str, self.seeds))} (each seed's run in `seed-<S>/`)",
            f"- total wall time {self.wall_time:.1f} s; unlearnkit {unlearnkit.__version__}",
            "",
            *(f"- {line}" for line in self.answer()),
            "",
        ]
        for table in self.tables(markdown=True):
            lines += [table, ""]
        return "\n".join(lines)


def run_seeds(
    configs: Mapping[int, SeedConfigs],
    run_cfg: RunConfig,
    eval_cfg: EvalConfig,
    *,
    show_progress: bool = True,
    engine: EngineConfig | None = None,
) -> SeedsResult:
    """Run the job once per seed (``configs[seed]`` = that seed's split, model, recipe and
    method overrides; one group on the engine each) and aggregate the seeds. A method that
    fails raises its error, as in :func:`~unlearnkit.pipeline.run_experiment`."""
    if len(configs) < 2:
        raise ValueError("run_seeds needs at least two seeds; use run_experiment for one")
    t0 = time.perf_counter()
    runs = {
        seed: run_experiment(
            split_cfg,
            model_cfg,
            train_cfg,
            run_cfg,
            eval_cfg,
            method_cfgs,
            show_progress=show_progress,
            engine=engine,
        )
        for seed, (split_cfg, model_cfg, train_cfg, method_cfgs) in configs.items()
    }
    (setting,) = aggregate_results(seed_rows(runs))["settings"]
    return SeedsResult(runs=runs, setting=setting, wall_time=time.perf_counter() - t0)
