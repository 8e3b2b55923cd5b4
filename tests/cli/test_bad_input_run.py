"""`unlearnkit run`: bad input is refused before any work, a failing method does not take the
others down, results are written as methods finish, stale cached models are never reused, and
two runs never write one folder at once."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.cli.badinput import (
    TINY,
    bad_target,
    call,
    refused,
    snapshot,
    write_npz,
    write_toml,
)

#: a cheap evaluation (no SVCs, one attacker)
CHEAP = ["--no-eval-mia", "--no-eval-transfer", "--eval-attackers", "logreg"]


def run_argv(out: Path, cache: Path, *extra: object) -> list[object]:
    return ["run", "--quiet", "--out", out, "--cache-dir", cache, *TINY, *CHEAP, *extra]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of an earlier, good run (finetune only)."""
    from unlearnkit.cli import main

    folder = tmp_path_factory.mktemp("earlier")
    argv = run_argv(folder / "out", folder / "cache", "--methods", "finetune")
    assert main([str(a) for a in argv]) == 0
    return folder


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--forget-size", "nan"], r"^--forget-size: config field 'forget_size' must be a finite"),
        (["--val-size", "inf"], r"^--val-size: .*'val_size' must be a finite number"),
        (["--epochs", "0"], r"^--epochs: epochs must be >= 1, got 0"),
        (["--finetune-lr", "nan"], r"^--finetune-lr: config field 'lr' must be a finite"),
        (["--eval-relearn-lr", "inf"], r"^--eval-relearn-lr: .*must be a finite number"),
        (["--seed", "-5"], r"'seed' must be >= 0 and < 4294967296, got -5"),
    ],
)
def test_options_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], earlier: Path, argv: list[str], pattern: str
) -> None:
    before = snapshot(earlier)
    refused(capsys, pattern, *run_argv(earlier / "out", earlier / "cache", *argv))
    assert snapshot(earlier) == before


@pytest.mark.parametrize(
    ("text", "flags", "pattern"),
    [
        ("[split]\nforget_size = nan\n", [], r"'forget_size' must be a finite number, got nan"),
        ("[train]\nepochs = 'ten'\n", ["--epochs", "1"], r"'epochs' expects int, got 'ten'"),
        ("[methods.finetune]\nlr = inf\n", [], r"'lr' must be a finite number, got inf"),
    ],
)
def test_config_file_refused_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    earlier: Path,
    text: str,
    flags: list[str],
    pattern: str,
) -> None:
    before = snapshot(earlier)
    cfg = write_toml(tmp_path / "c.toml", text)
    argv = run_argv(earlier / "out", earlier / "cache", "--config", cfg, *flags)
    refused(capsys, pattern, *argv)
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(128, 256)))
    argv = run_argv(earlier / "out", earlier / "cache", "--config", binary)
    refused(capsys, r"b.toml is not UTF-8 text", *argv)
    assert snapshot(earlier) == before


@pytest.mark.parametrize(
    ("setup", "target", "pattern"),
    [
        ("file", "out", r"^--out .*/out exists and is a file, but it must be a folder"),
        ("file", "f/out", r"^--out .*/f/out: .*/f is a file, not a folder"),
        (None, "/proc/out", r"/proc is a kernel file system"),
        (None, "/sys/out", r"/sys is a kernel file system"),
    ],
)
def test_output_location_checked_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str | None,
    target: str,
    pattern: str,
) -> None:
    path, first = bad_target(tmp_path, setup, target)
    refused(capsys, pattern, *run_argv(path, tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()  # nothing was trained
    if setup == "file":
        assert first.read_text() == "precious"


def test_labels_with_gaps_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = write_npz(tmp_path / "d" / "data.npz", y=[0, 10**8] * 30)
    argv = run_argv(tmp_path / "out", tmp_path / "cache", "--dataset", "npz", "--data-dir", npz)
    refused(capsys, r"the labels in 'y' must be 0…K−1 .* \[0, 100000000\]", *argv)
    assert not list((tmp_path / "out").glob("results.*"))


def test_diverging_method_is_a_failed_row_and_the_rest_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = run_argv(
        out,
        tmp_path / "cache",
        "--methods",
        "gradient_ascent",
        "finetune",
        "--gradient-ascent-lr",
        "1e30",
    )
    rc, printed, err = call(capsys, *argv)
    assert rc == 1, err
    assert "Traceback" not in err
    results = json.loads((out / "results.json").read_text())
    status = {name: m["status"] for name, m in results["methods"].items()}
    assert status == {
        "original": "ok",
        "retrain": "ok",
        "gradient_ascent": "failed",
        "finetune": "ok",
    }
    error = results["methods"]["gradient_ascent"]["error"]
    assert "gradient_ascent loss became nan: training diverged" in error
    assert "finetune" in results["evaluation"]["rows"]
    assert "gradient_ascent" not in results["evaluation"]["rows"]
    table = (out / "results.md").read_text()
    assert "gradient_ascent" in table and "failed" in table and "finetune" in table
    assert "gradient_ascent" in printed and "failed" in printed
    assert "1 method failed" in printed


def test_changed_feature_value_trains_a_new_original(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13's stale-cache case: same labels, one feature changed → no cached model reused."""
    npz = tmp_path / "d" / "data.npz"
    write_npz(npz, n=80)
    flags = ["--dataset", "npz", "--data-dir", npz, "--model", "mlp", "--methods", "finetune"]
    cache = tmp_path / "cache"
    first = run_argv(tmp_path / "a", cache, *flags)
    assert call(capsys, *first)[0] == 0
    again = run_argv(tmp_path / "b", cache, *flags)
    assert call(capsys, *again)[0] == 0
    cached = json.loads((tmp_path / "b" / "results.json").read_text())["methods"]
    assert cached["original"]["cached"] is True and cached["retrain"]["cached"] is True
    with np.load(npz) as arrays:
        x, y = arrays["x"].copy(), arrays["y"]
    x[5, 2] += 0.25
    np.savez(npz, x=x, y=y)
    changed = run_argv(tmp_path / "c", cache, *flags)
    assert call(capsys, *changed)[0] == 0
    fresh = json.loads((tmp_path / "c" / "results.json").read_text())["methods"]
    assert fresh["original"]["cached"] is False and fresh["retrain"]["cached"] is False


def test_second_run_into_a_locked_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    from unlearnkit.records import exclusive_folder

    before = snapshot(earlier / "out")
    with exclusive_folder(earlier / "out", "run"):
        argv = run_argv(earlier / "out", earlier / "cache", "--methods", "finetune")
        refused(capsys, r"another run is writing to .*out; wait for it to finish", *argv)
    assert snapshot(earlier / "out") == before


def test_quiet_and_data_files_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    npz = write_npz(tmp_path / "d" / "data.npz", n=80)
    flags = ["--dataset", "npz", "--data-dir", npz, "--model", "mlp", "--methods", "finetune"]
    rc, _, err = call(capsys, *run_argv(tmp_path / "q", earlier / "cache", *flags))
    assert rc == 0
    # no progress bars or log lines; warnings (here: a small validation-domain set) still show
    warning_lines = re.compile(r"^(warning: .*|\d+ warning\(s\) during the run:|  - .*)$")
    assert [line for line in err.splitlines() if not warning_lines.match(line)] == []
    loud = [a for a in run_argv(tmp_path / "l", earlier / "cache", *flags) if a != "--quiet"]
    rc, _, err = call(capsys, *loud)
    assert rc == 0
    assert f"[data] dataset 'npz': 80 examples, 2 classes, from data.npz in {npz.parent}" in err
