"""`unlearnkit split`: hostile and careless input ends in one message; earlier output survives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.badinput import bad_target, call, refused, snapshot, write_npz, write_toml


@pytest.fixture()
def earlier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A split written by an earlier, good command."""
    out = tmp_path / "good" / "split.json"
    rc, printed, _ = call(capsys, "split", "--out", out, "--forget-classes", "2")
    assert rc == 0 and json.loads(printed)["path"] == str(out)
    return out


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--forget-size", "nan"], r"^--forget-size: config field 'forget_size' must be a finite"),
        (["--val-size", "inf"], r"^--val-size: config field 'val_size' must be a finite"),
        (["--test-size", "-0.5"], r"^--test-size: config field 'test_size' must be >= 0"),
        (["--forget-size", "0"], r"'forget_size' must be > 0"),
        (["--split-seed", "-1"], r"^--split-seed: config field 'seed' must be >= 0 and <"),
        (["--seed", str(2**40)], r"'seed' must be >= 0 and < 4294967296"),
        (["--forget-classes", "-3"], r"'forget_classes' must be >= 0, got -3"),
        (["--train-size", "1"], r"'train_size' must be >= 2"),
    ],
)
def test_numeric_options(
    capsys: pytest.CaptureFixture[str], earlier: Path, argv: list[str], pattern: str
) -> None:
    before = snapshot(earlier.parent)
    refused(capsys, pattern, "split", "--out", earlier, *argv)
    assert snapshot(earlier.parent) == before


@pytest.mark.parametrize(
    ("text", "argv", "pattern"),
    [
        ("[split]\nforget_size = nan\n", [], r"'forget_size' must be a finite number, got nan"),
        ("[split]\nval_size = inf\n", [], r"'val_size' must be a finite number, got inf"),
        # a wrong-typed value in the file is reported even though a flag overrides it
        ("[split]\nforget_size = 'half'\n", ["--forget-size", "0.3"], r"expects float, got 'half'"),
        ("[split]\nseed = -2\n", ["--split-seed", "1"], r"'seed' must be >= 0"),
        ("[split]\nforget_sise = 0.3\n", [], r"unknown key\(s\) \['forget_sise'\]"),
        ("split = 3\n", [], r"options of \[split\] must be a table of key = value pairs, got 3"),
    ],
)
def test_config_file_values(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    earlier: Path,
    text: str,
    argv: list[str],
    pattern: str,
) -> None:
    before = snapshot(earlier.parent)
    cfg = write_toml(tmp_path / "c.toml", text)
    refused(capsys, pattern, "split", "--out", earlier, "--config", cfg, *argv)
    assert snapshot(earlier.parent) == before


def test_config_file_not_utf8_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    binary = tmp_path / "c.toml"
    binary.write_bytes(b"\x00\x01\xff\xfe binary")
    refused(
        capsys,
        r"c.toml is not UTF-8 text \(line 1, byte 2 is 0xff\)",
        "split",
        "--out",
        earlier,
        "--config",
        binary,
    )
    refused(
        capsys,
        r"is a folder; pass the path of a \.toml",
        "split",
        "--out",
        earlier,
        "--config",
        tmp_path,
    )
    bad = write_toml(tmp_path / "bad.toml", "[split\n")
    refused(capsys, r"bad.toml is not valid TOML", "split", "--out", earlier, "--config", bad)


@pytest.mark.parametrize(
    ("setup", "target", "pattern"),
    [
        ("dir", "out", r"^--out .*/out is a folder, but it must be a file path"),
        ("file", "f/split.json", r"^--out .*/f/split.json: .*/f is a file, not a folder"),
        (None, "/proc/split.json", r"/proc is a kernel file system"),
        (None, "/sys/split.json", r"/sys is a kernel file system"),
    ],
)
def test_output_location_checked_first(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str | None,
    target: str,
    pattern: str,
) -> None:
    path, first = bad_target(tmp_path, setup, target)
    refused(capsys, pattern, "split", "--out", path)
    if setup == "file":
        assert first.read_text() == "precious"


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (None, r"data.npz: the labels in 'y' must be 0…K−1 .* \[0, 100000000\].*np\.unique"),
        (b"1,2,3\n", r"is not a \.npz archive \(a zip file .*\): it looks like a text file"),
    ],
    ids=["label-gap", "text-npz"],
)
def test_hostile_data_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, pattern: str
) -> None:
    npz = write_npz(tmp_path / "d" / "data.npz", y=[0, 10**8] * 30)
    if content is not None:
        npz.write_bytes(content)
    out = tmp_path / "s.json"
    message = refused(capsys, pattern, "split", "--out", out, "--dataset", "npz", "--data-dir", npz)
    assert "pickle" not in message
    assert not out.exists()


def test_data_dir_is_the_only_place_searched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    message = refused(
        capsys,
        r"dataset 'fashion-mnist': could not find the four IDX files",
        "split",
        "--out",
        tmp_path / "s.json",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        empty,
    )
    assert "only without --data-dir" in message
    refused(
        capsys,
        r"--data-dir .*/missing does not exist",
        "split",
        "--out",
        tmp_path / "s.json",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        tmp_path / "missing",
    )
