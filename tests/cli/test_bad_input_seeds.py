"""``run --seeds``: wrong seeds are one clear message before any work."""

from __future__ import annotations

import pytest

from .badinput import refused


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (
            ["--seed", "0", "--seeds", "0", "1"],
            r"^--seed 0 and --seeds 0 1 exclude each other: give one seed with --seed S, or "
            r"several with --seeds S1 S2",
        ),
        (["--seeds", "0", "-1"], r"^--seeds: every seed must be >= 0 and < 4294967296, got -1"),
        (["--seeds", "4294967296"], r"^--seeds: every seed must be >= 0 and < 4294967296, got "),
        (["--seeds", "1", "2", "1"], r"^--seeds has duplicates: \[1, 2, 1\]; give each seed once"),
    ],
)
def test_bad_seeds_are_refused_with_one_message(tmp_path, capsys, argv, pattern):
    refused(capsys, pattern, "run", "--out", tmp_path / "out", "--methods", "finetune", *argv)
    assert not (tmp_path / "out").exists()  # refused before any work
