"""Shared helpers of the bad-input test modules: call ``main(argv)`` in-process and check that
a user error is one ``error:`` line that names the problem, with exit status 2, no traceback,
and no damage to what an earlier command wrote."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.cli import main

#: a model and recipe small enough for a few seconds on one CPU core
TINY = ["--model", "cnn", "--model-width", "4", "--model-embed-dim", "16", "--epochs", "1"]


def call(capsys: Any, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def refused(capsys: Any, pattern: str, *argv: str) -> str:
    """Run a command that must be refused; return its error message (after ``error: ``)."""
    rc, _, err = call(capsys, *argv)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    message = err[err.index("error: ") + len("error: ") :]
    assert re.search(pattern, message, flags=re.S), f"{pattern!r} not in {message!r}"
    return message


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` (to show that earlier outputs are untouched)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_npz(path: Path, *, y: Any = None, n: int = 60, seed: int = 0, **extra: Any) -> Path:
    """A small tabular ``.npz`` (two informative features, two classes unless ``y`` is given)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2 if y is None else np.asarray(y)
    x = rng.normal(size=(len(labels), 4)) + labels[:, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=labels, **extra)
    return path


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def bad_target(tmp_path: Path, setup: str | None, target: str) -> tuple[Path, Path]:
    """An output path for the output-location cases: ``target`` below ``tmp_path`` (or absolute,
    e.g. under /proc), its first component made a folder (``setup="dir"``) or a file holding
    ``"precious"`` (``"file"``). Returns ``(path, first component)``."""
    path = Path(target) if target.startswith("/") else tmp_path / target
    first = tmp_path / target.split("/")[0]
    if setup == "dir":
        first.mkdir()
    elif setup == "file":
        first.write_text("precious")
    return path, first
