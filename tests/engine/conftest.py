"""A tiny digits benchmark file and row comparison for the engine tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.benchmark.test_runner import TINY as BENCH_TINY
from tests.benchmark.test_runner import one_thread  # noqa: F401  (fixture)

# Ray on 127.0.0.1 only: read when ray is imported, so set before any test module imports it
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

# the benchmark tests' tiny grid, with seeds to choose and a 300-example training set
TINY = (
    BENCH_TINY.replace("seeds = [0]", "seeds = {seeds}")
    .replace("forget_classes = [3]\n", "forget_classes = [3]\ntrain_size = 300\n", 1)
    .replace("{ft_epochs}", "1")
)

#: row fields that depend on when, where and how fast a task ran, not on its result
TIMING_KEYS = {"wall_time", "eval_time", "elapsed", "finished_at", "train_wall_time"}


def write_config(
    path: Path, cache: Path, methods=("finetune", "gradient_ascent"), seeds=(0,)
) -> Path:
    path.write_text(
        TINY.format(methods=json.dumps(list(methods)), seeds=json.dumps(list(seeds)), cache=cache)
    )
    return path


def comparable(row: dict) -> dict:
    """A row without its timings (and with the training history's times dropped)."""
    out = {k: v for k, v in row.items() if k not in TIMING_KEYS}
    out["metrics"] = {k: v for k, v in row.get("metrics", {}).items() if k not in TIMING_KEYS}
    out["info"] = {k: v for k, v in row.get("info", {}).items() if k not in TIMING_KEYS}
    out.pop("history", None)
    return out
