"""Output locations are checked before any work, and an output folder is locked while written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unlearnkit.outputs import OutputError, check_output
from unlearnkit.records import FolderLockedError, exclusive_folder


def test_good_locations_pass_and_nothing_is_created(tmp_path: Path) -> None:
    assert check_output(tmp_path, "dir") == tmp_path
    assert check_output(tmp_path / "new" / "deeper", "dir") == tmp_path / "new" / "deeper"
    assert check_output(tmp_path / "new" / "x.json", "file") == tmp_path / "new" / "x.json"
    (tmp_path / "old.json").write_text("{}")
    check_output(tmp_path / "old.json", "file")  # overwriting a file is allowed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]


@pytest.mark.parametrize(
    ("make", "target", "kind", "message"),
    [
        ("file", "f", "dir", r"--out .*/f exists and is a file, but it must be a folder"),
        ("dir", "d", "file", r"--out .*/d is a folder, but it must be a file path"),
        ("file", "f/sub", "dir", r"--out .*/f/sub: .*/f is a file, not a folder"),
        ("file", "f/a/b.json", "file", r"/f is a file, not a folder, so a file path cannot"),
    ],
)
def test_wrong_kind(tmp_path: Path, make: str, target: str, kind: str, message: str) -> None:
    first = tmp_path / target.split("/")[0]
    if make == "file":
        first.write_text("keep me")
    else:
        first.mkdir()
    with pytest.raises(OutputError, match=message):
        check_output(tmp_path / target, kind)  # type: ignore[arg-type]
    if make == "file":
        assert first.read_text() == "keep me"


@pytest.mark.parametrize("path", ["/proc/self/x", "/sys/kernel/out", "/proc"])
def test_kernel_file_systems_refused(path: str) -> None:
    with pytest.raises(OutputError, match=r"is a kernel file system, not a place for results"):
        check_output(path, "dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in read-only-mode folders")
def test_unwritable_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"cannot write in .*/ro \(Permission denied\)"):
            check_output(ro / "out", "dir", flag="--out")
    finally:
        ro.chmod(0o700)


def test_unwritable_folder_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, permissions do not stop writes; simulate the OS refusing the probe file."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("unlearnkit.outputs.tempfile.mkstemp", refuse)
    with pytest.raises(OutputError, match=r"--out .*: cannot write in .* \(Permission denied\)"):
        check_output(tmp_path / "out", "dir")


def test_lock_refuses_a_second_writer(tmp_path: Path) -> None:
    # flock locks belong to an open file, so a second open in this process conflicts too
    with (
        exclusive_folder(tmp_path / "out", "run"),
        pytest.raises(FolderLockedError, match=r"another run is writing to .*out; wait"),
        exclusive_folder(tmp_path / "out", "run"),
    ):
        pass
    with exclusive_folder(tmp_path / "out", "run") as out:  # released again
        assert out == tmp_path / "out"
