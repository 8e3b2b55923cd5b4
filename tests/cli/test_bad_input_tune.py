"""`unlearnkit tune`: bad options, files and output locations are one message before any
trial; an earlier tuning folder is left as it was. (Search-space overrides are tuning's own
tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.badinput import refused, snapshot, write_toml
from tests.cli.test_bad_input_benchmark import GOOD


@pytest.fixture()
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "tune"
    out.mkdir()
    (out / "trials.jsonl").write_text('{"trial": 0}\n')
    (out / "tuned.toml").write_text("# earlier\n")
    return out


@pytest.mark.parametrize(
    ("argv", "text", "pattern"),
    [
        (["--tune-seeds", "-4"], GOOD, r"^--tune-seeds: config field 'seeds' must be >= 0"),
        (["--trials", "0"], GOOD, r"trials must be >= 1"),
        ([], GOOD.replace("forget_size = 0.5", "forget_size = inf"), r"'forget_size' must be a"),
        ([], GOOD.replace("epochs = 1", "epochs = 0"), r"epochs must be >= 1, got 0"),
    ],
)
def test_refused_before_any_trial(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    earlier: Path,
    argv: list[str],
    text: str,
    pattern: str,
) -> None:
    before = snapshot(earlier)
    cfg = write_toml(tmp_path / "b.toml", text)
    refused(capsys, pattern, "tune", "--quiet", "--config", cfg, "--out", earlier, *argv)
    assert snapshot(earlier) == before


@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        ("tune/tuned.toml", r"^--out .*/tuned.toml exists and is a file, but it must be a folder"),
        ("tune/trials.jsonl/x", r"^--out .*: .*/trials.jsonl is a file, not a folder"),
        ("/proc/tune", r"/proc is a kernel file system"),
    ],
)
def test_output_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path, target: str, pattern: str
) -> None:
    before = snapshot(earlier)
    cfg = write_toml(tmp_path / "b.toml", GOOD)
    out = Path(target) if target.startswith("/") else tmp_path / target
    refused(capsys, pattern, "tune", "--quiet", "--config", cfg, "--out", out)
    assert snapshot(earlier) == before


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_bytes(b"\xfe\xff" + GOOD.encode("utf-16-le"))
    refused(capsys, r"b.toml is not UTF-8 text", "tune", "--config", cfg, "--out", earlier)
