"""atomic_write: complete content or the old file, normal permissions, no temp files left."""

from __future__ import annotations

import os

import numpy as np
import pytest

from unlearnkit.utils import atomic_write


def test_atomic_write_bytes_and_writer(tmp_path) -> None:
    p = atomic_write(tmp_path / "sub" / "a.bin", b"hello")
    assert p.read_bytes() == b"hello"
    arr = np.arange(5)
    atomic_write(tmp_path / "a.npy", lambda fh: np.save(fh, arr), fsync=True)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), arr)


def test_atomic_write_uses_the_umask_not_0600(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "a.txt", b"x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path) -> None:
    p = tmp_path / "a.txt"
    p.write_bytes(b"old")

    def boom(fh) -> None:
        fh.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(p, boom)
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]


def test_no_bars_when_stderr_is_not_a_terminal_and_detail_lines_only_when_verbose(capsys):
    from unlearnkit.utils import log, progress, set_verbosity

    try:
        set_verbosity(1)
        bar = progress(range(3), desc="phase")
        assert list(bar) == [0, 1, 2]
        assert getattr(bar, "disable", False)  # captured stderr is not a TTY: no bar drawn
        log("phase line")
        log("epoch line", detail=True)
        err = capsys.readouterr().err
        assert "phase line" in err and "epoch line" not in err and "phase:" not in err
        set_verbosity(2)
        log("epoch line", detail=True)
        assert "epoch line" in capsys.readouterr().err
        set_verbosity(0)
        log("anything")
        assert progress([1], desc="x") == [1]
        assert capsys.readouterr().err == ""
    finally:
        set_verbosity(1)
