"""Ground floor for everything written to disk: atomic files, stable hashes, results files.

* :func:`atomic_write` / :func:`atomic_write_text` — readers see the old or the complete new
  file, never half of one (temp file in the same folder, then ``os.replace``);
* :func:`stable_hash` — SHA-256 of a JSON payload with sorted keys (the key of a task, a run,
  a group, a pool);
* :func:`clean_json` — a JSON-safe copy (NumPy/torch scalars and arrays to Python, NaN/inf to
  ``None``);
* :class:`ResultsFile` and :func:`latest_rows` — append-only JSON lines, one row per finished
  task, never seen half-written;
* :func:`store_or_check` — store the resolved config of a new output folder, or refuse a
  changed one (:class:`ConfigChangedError`);
* :func:`exclusive_folder` — one writer per output folder (:class:`FolderLockedError`).

Imports only the standard library, NumPy and :mod:`unlearnkit.errors`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from unlearnkit.errors import ConfigError, UnlearnkitError

__all__ = [
    "ConfigChangedError",
    "FolderLockedError",
    "ResultsFile",
    "atomic_savez",
    "atomic_write",
    "atomic_write_text",
    "clean_json",
    "exclusive_folder",
    "latest_rows",
    "stable_hash",
    "store_or_check",
]

LOCK_FILE = ".unlearnkit.lock"


class ConfigChangedError(UnlearnkitError):
    """The config differs from the one the output folder was started with."""


class FolderLockedError(UnlearnkitError):
    """Another process is writing to the same output folder."""


# --------------------------------------------------------------------------- atomic files


def atomic_write(
    path: str | Path, data: bytes | Callable[[IO[bytes]], None], *, fsync: bool = False
) -> Path:
    """Write a file so that readers see either the old or the complete new content.

    ``data`` is the bytes, or a function that writes them to a binary file object (e.g.
    ``lambda fh: np.save(fh, a)``). The bytes go to a temp file in the same folder, which is
    then renamed over ``path``; on any error the temp file is removed. The file gets the
    permissions of a normally created file (0666 minus the umask). ``fsync`` also flushes it
    to disk before the rename (crash safety, not only interruption safety).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, (bytes, bytearray, memoryview)):
                fh.write(data)
            else:
                data(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, text.encode())


def atomic_savez(path: str | Path, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` atomically, fsynced."""
    atomic_write(path, lambda fh: np.savez(fh, **arrays), fsync=True)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- hashes, JSON


def stable_hash(payload: Any, length: int = 16) -> str:
    """SHA-256 (hex, truncated to ``length``) of a JSON-serialisable payload, keys sorted.

    The same payload gives the same hash in every process and on every machine; any change of
    a value changes it."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def clean_json(obj: Any) -> Any:
    """A JSON-safe copy: NumPy/torch scalars and arrays to Python, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor (torch not imported)
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


# --------------------------------------------------------------------------- JSON lines


class ResultsFile:
    """An append-only JSON-lines file whose rows are never seen half-written.

    :meth:`append` writes one complete line with a single ``os.write`` on a descriptor opened
    with ``O_APPEND`` and fsyncs it; :meth:`load` ignores a trailing line without its newline
    (a write cut short by a crash) and :meth:`repair` cuts such a tail off before appending.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n")
        rows = []
        for lineno, line in enumerate(data[: end + 1].splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(
                    f"{self.path}:{lineno} is not valid JSON; the row is ignored", stacklevel=2
                )
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def done(self, key: str) -> set[str]:
        """The ``key`` values whose latest row has ``status`` ``ok``."""
        return {
            str(r[key])
            for r in latest_rows(self.load(), key)
            if r.get("status") == "ok" and key in r
        }

    def repair(self) -> None:
        """Cut off a trailing partial line (left by a crash mid-write)."""
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())

    def append(self, row: Mapping[str, Any]) -> None:
        line = (json.dumps(clean_json(row), sort_keys=True, allow_nan=False) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover (disk full)
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)


def latest_rows(rows: list[dict[str, Any]], key: str = "run_id") -> list[dict[str, Any]]:
    """The last row of every ``key`` (``run_id``; ``attack_id`` for ``attacks.jsonl``): a
    retried run's new row replaces its failed one. In the order of first appearance."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        last[str(row.get(key))] = row
    return list(last.values())


# --------------------------------------------------------------------------- output folders


def store_or_check(
    path: str | Path,
    experiment: Mapping[str, Any],
    *,
    what: str = "run",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Store ``experiment`` (what determines the results) in a new ``path``, or check it.

    The file holds ``{"experiment": ..., **extra}``. When it exists and its experiment differs
    from ``experiment`` (compared after :func:`clean_json`), raises
    :class:`ConfigChangedError` naming the differing top-level keys: results of two settings
    must not be mixed in one folder. ``what`` names the command in the messages.
    """
    path = Path(path)
    current = clean_json(experiment)
    if path.is_file():
        try:
            stored = json.loads(path.read_text())["experiment"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(
                f"{path} is not a {what} config written by unlearnkit; use a new --out folder"
            ) from None
        if stored != current:
            keys = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
            raise ConfigChangedError(
                f"config changed since the {what} in {path.parent} was started (different: "
                f"{', '.join(keys)}); its results would mix settings. Use a new --out folder, or "
                f"restore the config stored in {path} to resume"
            )
        return path
    payload = {"experiment": current, **clean_json(dict(extra or {}))}
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True))
    return path


@contextlib.contextmanager
def exclusive_folder(out: str | Path, what: str = "run") -> Iterator[Path]:
    """Hold an exclusive lock on ``out`` (created if needed) while the block runs.

    A second process (or a second call in this one) on the same folder gets
    :class:`FolderLockedError` at once, with what to do. The lock is an ``flock`` on
    ``out/.unlearnkit.lock``: the kernel releases it when the holder exits, even by SIGKILL.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows: no lock)
        yield out
        return
    fh = (out / LOCK_FILE).open("w")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise FolderLockedError(
                f"another {what} is writing to {out}; wait for it to finish or use another "
                "--out folder"
            ) from None
        yield out
    finally:
        fh.close()
