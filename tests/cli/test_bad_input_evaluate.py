"""`unlearnkit evaluate`: bad input is one message before any evaluation; earlier results
survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.badinput import TINY, call, refused, snapshot


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A split, original and retrain checkpoints, and an evaluation written by good commands."""
    from unlearnkit.cli import main

    d = tmp_path_factory.mktemp("earlier")
    assert main(["split", "--out", str(d / "s.json"), "--forget-classes", "2"]) == 0
    for role, extra in (("orig", []), ("re", ["--retrain"])):
        argv = ["train", "--quiet", "--split", str(d / "s.json"), "--out", str(d / role), *extra]
        assert main([*argv, *TINY]) == 0
    assert main(evaluate_argv(d, d / "res" / "eval.json")) == 0
    return d


def evaluate_argv(d: Path, out: Path, *extra: str) -> list[str]:
    return [
        "evaluate",
        "--quiet",
        "--split",
        str(d / "s.json"),
        "--checkpoint",
        f"original={d / 'orig'}",
        f"retrain={d / 're'}",
        "--out",
        str(out),
        "--no-eval-mia",
        "--no-eval-transfer",
        "--eval-attackers",
        "logreg",
        *extra,
    ]


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--eval-relearn-lr", "nan"], r"^--eval-relearn-lr: config field 'relearn_lr' must be a"),
        (["--eval-seed", "-1"], r"^--eval-seed: config field 'seed' must be >= 0"),
        (["--eval-n-folds", "1"], r"n_folds must be >= 2"),
    ],
)
def test_options(
    capsys: pytest.CaptureFixture[str], earlier: Path, extra: list[str], pattern: str
) -> None:
    before = snapshot(earlier / "res")
    refused(capsys, pattern, *evaluate_argv(earlier, earlier / "res" / "eval.json", *extra))
    assert snapshot(earlier / "res") == before


@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        ("res", r"^--out .*/res is a folder, but it must be a file path"),
        ("res/eval.json/x.json", r"^--out .*: .*/eval.json is a file, not a folder"),
        ("/proc/eval.json", r"/proc is a kernel file system"),
    ],
)
def test_output_location(
    capsys: pytest.CaptureFixture[str], earlier: Path, target: str, pattern: str
) -> None:
    before = snapshot(earlier / "res")
    out = Path(target) if target.startswith("/") else earlier / target
    refused(capsys, pattern, *evaluate_argv(earlier, out))
    assert snapshot(earlier / "res") == before


def test_missing_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    argv = evaluate_argv(earlier, tmp_path / "e.json")
    argv[argv.index(f"retrain={earlier / 're'}")] = f"retrain={tmp_path / 'nope'}"
    refused(
        capsys, r"checkpoint .*/nope.safetensors \(with its sidecar nope.json\) not found", *argv
    )
    assert not (tmp_path / "e.json").exists()


def test_good_evaluation_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    rc, printed, err = call(capsys, *evaluate_argv(earlier, tmp_path / "e.json"))
    assert rc == 0, err
    assert (tmp_path / "e.json").is_file() and (tmp_path / "e.md").is_file()
    assert "retrain" in printed
