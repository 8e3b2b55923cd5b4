"""`unlearnkit train`: bad input is refused before any training; earlier checkpoints survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.badinput import TINY, bad_target, call, refused, snapshot, write_npz


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A split and an original checkpoint written by earlier, good commands."""
    from unlearnkit.cli import main

    folder = tmp_path_factory.mktemp("earlier")
    assert main(["split", "--out", str(folder / "s.json"), "--forget-classes", "2"]) == 0
    argv = ["train", "--quiet", "--split", str(folder / "s.json"), "--out", str(folder / "m")]
    assert main([*argv, *TINY]) == 0
    return folder


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--epochs", "0"], r"^--epochs: epochs must be >= 1, got 0: with no training"),
        (["--lr", "nan"], r"^--lr: config field 'lr' must be a finite number"),
        (["--lr", "-1"], r"^--lr: config field 'lr' must be > 0"),
        (["--momentum", "1"], r"'momentum' must be >= 0 and < 1"),
        (["--batch-size", "0"], r"'batch_size' must be >= 1"),
        (["--train-seed", "-1"], r"^--train-seed: config field 'seed' must be >= 0"),
        (
            ["--dataset", "mnist"],
            r"--dataset mnist contradicts the split file .*, made with dataset = 'digits'; drop",
        ),
        (
            ["--forget-classes", "5"],
            r"--forget-classes 5 contradicts .* made with forget_classes = \[2\]",
        ),
    ],
)
def test_refused_before_training(
    capsys: pytest.CaptureFixture[str], earlier: Path, argv: list[str], pattern: str
) -> None:
    before = snapshot(earlier)
    args = ["train", "--split", earlier / "s.json", "--out", earlier / "m", *TINY, *argv]
    refused(capsys, pattern, *args)
    assert snapshot(earlier) == before


def test_split_flags_that_agree_with_the_split_file_are_fine(
    capsys: pytest.CaptureFixture[str], earlier: Path, tmp_path: Path
) -> None:
    rc, _, err = call(
        capsys,
        "train",
        "--quiet",
        "--split",
        earlier / "s.json",
        "--dataset",
        "digits",
        "--forget-classes",
        "2",
        *TINY,
    )
    assert rc == 0, err


@pytest.mark.parametrize(
    ("setup", "target", "pattern"),
    [
        ("dir", "m", r"^--out .*/m is a folder, but it must be a file path"),
        ("file", "f/m", r"^--out .*/f/m: .*/f is a file, not a folder"),
        (None, "/proc/m", r"/proc is a kernel file system"),
    ],
)
def test_output_location_checked_before_training(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    earlier: Path,
    setup: str | None,
    target: str,
    pattern: str,
) -> None:
    path, first = bad_target(tmp_path, setup, target)
    refused(capsys, pattern, "train", "--split", earlier / "s.json", "--out", path, *TINY)
    assert not list(tmp_path.rglob("*.safetensors"))
    if setup == "file":
        assert first.read_text() == "precious"


def test_quiet_is_quiet(capsys: pytest.CaptureFixture[str], earlier: Path) -> None:
    rc, out, err = call(capsys, "train", "--quiet", "--split", earlier / "s.json", *TINY)
    assert rc == 0
    assert err == ""
    assert "original model on digits" in out  # the result itself is still printed


def test_bad_labels_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    npz = write_npz(tmp_path / "d" / "data.npz", y=[0, 10**8] * 30)
    refused(
        capsys,
        r"the labels in 'y' must be 0…K−1 with every class present.*\[0, 100000000\]",
        "train",
        "--dataset",
        "npz",
        "--data-dir",
        npz,
        "--model",
        "mlp",
        "--epochs",
        "1",
    )
