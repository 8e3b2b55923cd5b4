"""Output locations: checked before any work starts.

Every command that writes results calls :func:`check_output` on its ``--out`` first, so that a
path that cannot be written (an existing file where a folder is needed, a parent that is a file,
an unwritable folder, a kernel file system such as ``/proc``) is one clear message *before* the
work, not a traceback after it. Two processes writing one output folder at once are kept apart
by :func:`unlearnkit.records.exclusive_folder`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Literal

from unlearnkit.errors import UnlearnkitError

#: kernel / virtual file systems: nothing there is a place for results
FORBIDDEN_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


class OutputError(UnlearnkitError):
    """An output location that cannot be used (wrong kind or unwritable)."""


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _probe_writable(folder: Path) -> str | None:
    """Try to create (and remove) a file in ``folder``; the OS's reason when that fails."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".unlearnkit-probe-")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return None


def check_output(path: str | Path, kind: Literal["dir", "file"], *, flag: str = "--out") -> Path:
    """Check that ``path`` can receive output of ``kind`` and return it (nothing is created).

    ``dir``: an existing folder, or a path whose nearest existing ancestor is a writable folder
    (it is created later). ``file``: the same, and the path itself must not be a folder.

    Raises:
        OutputError: one message naming ``flag``, the path, the problem and the fix.
    """
    p = Path(path)
    where = f"{flag} {p}"
    resolved = Path(os.path.abspath(p))
    with contextlib.suppress(OSError, RuntimeError):
        resolved = p.resolve()
    for root in FORBIDDEN_ROOTS:
        if _under(resolved, root) or _under(Path(os.path.abspath(p)), root):
            raise OutputError(
                f"{where}: {root} is a kernel file system, not a place for results; choose a "
                "folder on disk"
            )
    want = "a folder" if kind == "dir" else "a file path"
    if p.exists():
        if kind == "dir" and not p.is_dir():
            raise OutputError(
                f"{where} exists and is a file, but it must be a folder; remove it or choose "
                "another path"
            )
        if kind == "file" and p.is_dir():
            raise OutputError(
                f"{where} is a folder, but it must be a file path; choose a file name such as "
                f"{p / 'out'}"
            )
    folder = p if (kind == "dir" and p.is_dir()) else p.parent
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(
            f"{where}: {ancestor} is a file, not a folder, so {want} cannot be created below it; "
            "choose another path"
        )
    reason = _probe_writable(ancestor)
    if reason is not None:
        raise OutputError(
            f"{where}: cannot write in {ancestor} ({reason}); choose a folder you can write to"
        )
    return p
