"""`unlearnkit attack`: bad options, config files and output locations end in one message
before any model is trained, and an earlier attack folder is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.badinput import bad_target, refused, snapshot, write_toml


@pytest.fixture()
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "attack"
    out.mkdir()
    (out / "neurips.json").write_text('{"attack": "neurips"}\n')
    (out / "neurips_scores.npz").write_bytes(b"earlier arrays")
    return out


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["neurips"], r"^give the method\(s\) to attack: --method NAME"),
        (["neurips", "--method", "nosuch"], r"^unknown method 'nosuch'; known methods: .*sure"),
        (["neurips", "--method", "finetune", "--n", "2"], r"^neurips needs --n ≥ 3 models, got 2"),
        (["ulira", "--method", "finetune", "--k", "3"], r"^ulira needs --k ≥ 6 models, got 3"),
        (
            ["neurips", "--method", "finetune", "--retain-fraction", "nan"],
            r"^--retain-fraction: config field 'retain_fraction' must be a finite number",
        ),
        (
            ["neurips", "--method", "finetune", "--retain-fraction", "1.5"],
            r"^--retain-fraction must be in \(0, 1\], got 1.5",
        ),
        (
            ["neurips", "--method", "finetune", "--forget-size", "nan"],
            r"^--forget-size: config field 'forget_size' must be a finite number, got 'nan'",
        ),
        (["neurips", "--method", "finetune", "--workers", "-1"], r"^--workers must be >= 0"),
    ],
)
def test_refused_before_any_training(
    capsys: pytest.CaptureFixture[str], earlier: Path, argv: list[str], pattern: str
) -> None:
    before = snapshot(earlier)
    refused(capsys, pattern, "attack", *argv, "--quiet", "--out", earlier)
    assert snapshot(earlier) == before


def test_config_file_not_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], earlier: Path
) -> None:
    before = snapshot(earlier)
    cfg = write_toml(tmp_path / "a.toml", "this is not toml\n")
    refused(
        capsys,
        r"^config file .*a.toml is not valid TOML",
        "attack", "neurips", "--method", "finetune", "--config", cfg, "--quiet", "--out", earlier,
    )
    assert snapshot(earlier) == before


@pytest.mark.parametrize(
    ("setup", "target", "pattern"),
    [
        ("file", "out", r"^--out .*/out exists and is a file, but it must be a folder"),
        ("file", "out/sub", r"^--out .*/out/sub: .*/out is a file, not a folder"),
        (None, "/proc/attack", r"/proc is a kernel file system"),
    ],
)
def test_output_location(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str | None,
    target: str,
    pattern: str,
) -> None:
    path, first = bad_target(tmp_path, setup, target)
    refused(capsys, pattern, "attack", "neurips", "--method", "finetune", "--quiet", "--out", path)
    if setup == "file":
        assert first.read_text() == "precious"
