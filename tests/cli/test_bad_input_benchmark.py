"""`unlearnkit benchmark` and `unlearnkit report`: bad files and output locations are one
message before any work; an earlier benchmark folder is left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.badinput import call, refused, snapshot, write_npz, write_toml

GOOD = """
[benchmark]
name = "tiny"
seeds = [0]
methods = ["finetune"]

[[grid.split]]
dataset = "digits"
scenario = "partial-class"
forget_size = 0.5
forget_classes = [3]

[model]
name = "cnn"
width = 4
embed_dim = 16

[train]
epochs = 1
"""


@pytest.fixture()
def earlier(tmp_path: Path) -> Path:
    """A folder holding an earlier benchmark's results (stand-ins: only their bytes matter)."""
    out = tmp_path / "bench"
    out.mkdir()
    (out / "results.jsonl").write_text('{"run_id": "x", "status": "ok"}\n')
    (out / "report.md").write_text("# earlier\n")
    return out


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (("forget_size = 0.5", "forget_size = nan"), r"'forget_size' must be a finite number"),
        (("epochs = 1", "epochs = 0"), r"epochs must be >= 1, got 0"),
        (("epochs = 1", "epochs = 'one'"), r"'epochs' expects int, got 'one'"),
        (("width = 4", "width = 4\nwidht = 5"), r"unknown key\(s\) \['widht'\]"),
        (("seeds = [0]", "seeds = [-1]"), r"'seeds' must be >= 0 and < 4294967296, got -1"),
    ],
)
def test_bad_values_in_the_benchmark_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    earlier: Path,
    change: tuple[str, str],
    pattern: str,
) -> None:
    before = snapshot(earlier)
    cfg = write_toml(tmp_path / "b.toml", GOOD.replace(*change))
    refused(capsys, pattern, "benchmark", "--quiet", "--config", cfg, "--out", earlier)
    assert snapshot(earlier) == before


def test_benchmark_file_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    before = snapshot(earlier)
    cfg = tmp_path / "b.toml"
    cfg.write_bytes(GOOD.replace("tiny", "t\xefny").encode("latin-1"))
    refused(
        capsys,
        r"b.toml is not UTF-8 text \(line 3,",
        "benchmark",
        "--config",
        cfg,
        "--out",
        earlier,
    )
    assert snapshot(earlier) == before


@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        ("bench/results.jsonl", r"^--out .*/results.jsonl exists and is a file, but it must be"),
        ("bench/report.md/sub", r"^--out .*: .*/report.md is a file, not a folder"),
        ("/sys/bench", r"/sys is a kernel file system"),
    ],
)
def test_output_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path, target: str, pattern: str
) -> None:
    before = snapshot(earlier)
    cfg = write_toml(tmp_path / "b.toml", GOOD)
    out = Path(target) if target.startswith("/") else tmp_path / target
    refused(capsys, pattern, "benchmark", "--quiet", "--config", cfg, "--out", out)
    assert snapshot(earlier) == before


def test_report_of_something_that_is_not_a_benchmark_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    refused(capsys, r"nowhere", "report", tmp_path / "nowhere")
    refused(capsys, r"results.jsonl", "report", earlier / "results.jsonl")


def test_resume_on_changed_data_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows carry the data's content hash: an interrupted benchmark resumed after one feature
    value changed would mix results on two datasets, so it is refused; restored, it resumes."""
    npz = write_npz(tmp_path / "d" / "data.npz", n=200)
    text = GOOD.replace('dataset = "digits"', 'dataset = "npz"').replace(
        'scenario = "partial-class"\nforget_size = 0.5\nforget_classes = [3]',
        'scenario = "random"\nforget_size = 0.2',
    )
    cfg = write_toml(tmp_path / "b.toml", text.replace('name = "cnn"', 'name = "mlp"'))
    out = tmp_path / "bench"
    argv = ["benchmark", "--quiet", "--config", cfg, "--out", out, "--data-dir", npz]
    argv += ["--cache-dir", tmp_path / "cache"]
    rc, printed, err = call(capsys, *argv)
    assert rc == 0, printed + err
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    assert len({json.loads(line)["data_sha256"] for line in lines}) == 1
    (out / "results.jsonl").write_text("".join(lines[:-1]))  # the last run was interrupted
    with np.load(npz) as arrays:
        x, y = arrays["x"].copy(), arrays["y"]
    original = x[5, 2]
    x[5, 2] += 0.25
    np.savez(npz, x=x, y=y)
    before = snapshot(out)
    refused(
        capsys,
        r"^the data of dataset 'npz' changed since the benchmark in .*bench was started \(its "
        r"rows have content sha256 [0-9a-f]{12}…, the data now [0-9a-f]{12}…\); resuming would "
        r"mix results on different data\. Use a new --out folder, or restore the data files",
        *argv,
    )
    assert snapshot(out) == before
    x[5, 2] = original
    np.savez(npz, x=x, y=y)
    assert call(capsys, *argv)[0] == 0  # the same data again: resumes
    assert len((out / "results.jsonl").read_text().splitlines()) == len(lines)
