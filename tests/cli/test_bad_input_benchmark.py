"""`unlearnkit benchmark` and `unlearnkit report`: bad files and output locations are one
message before any work; an earlier benchmark folder is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.badinput import refused, snapshot, write_toml

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
