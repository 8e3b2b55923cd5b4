"""A tiny benchmark file to tune: the benchmark tests' digits grid (a 4-wide CNN, two training
epochs) with finetune and SSD; the tuner sets its own attack set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmark.test_runner import TINY


@pytest.fixture()
def make_file(tmp_path: Path):
    """``make_file(extra="...")`` writes the tiny benchmark file with ``extra`` appended."""
    cache = tmp_path.parent / "tune-cache"  # originals shared by the tests of one session

    def make(extra: str = "", name: str = "tiny.toml") -> Path:
        path = tmp_path / name
        text = TINY.format(methods='["finetune", "ssd"]', cache=cache, ft_epochs=1)
        path.write_text(text + "\n" + extra)
        return path

    return make


@pytest.fixture()
def tiny_file(make_file) -> Path:
    return make_file()
