"""Dataset registry: name → loader, the places it looks for files, and default split sizes.

Loaders never download. A missing or corrupt file raises :class:`DataError` with one message
that says where the loader looked, what it expected and how to get the files. An explicit
``--data-dir`` is the only place searched: a missing or incomplete folder there is an error, never
a quiet fallback to another copy.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearnkit.data.base import ArrayDataset
from unlearnkit.errors import DataError

Loader = Callable[[list[Path]], ArrayDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """How to find and load one dataset.

    Attributes:
        name: registry key (lowercase, dashes allowed: ``fashion-mnist``).
        description: one line for ``unlearnkit list datasets``.
        loader: ``loader(search_dirs) -> ArrayDataset``; raises DataError when files are
            missing or corrupt.
        files: what files the loader expects (for messages and the listing).
        how_to_get: how a user obtains the files.
        extra_dirs: dataset-specific fixed locations (e.g. Debian's package path).
        val_size: default size of the held-out val pool (int = count, float = fraction).
        test_size: default test size; ignored when the dataset has its own test part.
        recipe: default model and training settings for this dataset,
            ``{"model": {...}, "train": {...}}`` (ModelConfig / TrainConfig fields); flags and
            config files override them.
        bundled: the data ships with a package (no files, ``--data-dir`` is not used).
    """

    name: str
    description: str
    loader: Loader
    files: str
    how_to_get: str
    extra_dirs: tuple[str, ...] = ()
    val_size: int | float = 5000
    test_size: int | float = 10000
    recipe: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bundled: bool = False


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry; a duplicate name is refused."""
    if spec.name in _REGISTRY:
        raise ValueError(f"dataset '{spec.name}' is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def dataset_names() -> list[str]:
    return sorted(_REGISTRY)


def get_dataset_spec(name: str) -> DatasetSpec:
    if name not in _REGISTRY:
        raise DataError(f"unknown dataset '{name}'; known datasets: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def user_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/unlearnkit`` or ``~/.cache/unlearnkit``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unlearnkit"


def search_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched, in order. With ``data_dir`` (``--data-dir``): only ``data_dir/<name>``
    and ``data_dir``. Without: ``$UNLEARNKIT_DATA``, the user cache and the dataset's fixed
    locations, each root tried as ``root/<name>`` and ``root``."""
    spec = get_dataset_spec(name)
    if data_dir is not None:
        return [Path(data_dir) / name, Path(data_dir)]
    roots: list[Path] = []
    env = os.environ.get("UNLEARNKIT_DATA")
    if env:
        roots.append(Path(env))
    roots.append(user_cache_dir() / "data")
    out: list[Path] = []
    for root in roots:
        out.extend([root / name, root])
    out.extend(Path(p) for p in spec.extra_dirs)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def load_dataset(name: str, data_dir: str | Path | None = None) -> ArrayDataset:
    """Load a registered dataset into memory (no download ever happens).

    With ``data_dir``, only that folder (or, for ``npz``, that file) is searched; it must exist.
    ``ds.describe()`` says which files were read.
    """
    spec = get_dataset_spec(name)
    if data_dir is not None and spec.bundled:
        warnings.warn(
            f"dataset '{name}' is bundled ({spec.files}); --data-dir {data_dir} is not used",
            stacklevel=2,
        )
    elif data_dir is not None and not Path(data_dir).exists():
        raise DataError(
            f"--data-dir {data_dir} does not exist; pass the folder that holds the "
            f"'{name}' files ({spec.files}), or drop --data-dir to search the default locations"
        )
    return spec.loader(search_dirs(name, data_dir))


def missing_files_error(spec_name: str, dirs: list[Path], what: str) -> DataError:
    """The standard 'files not found' message: where we looked, what we expected, how to fix."""
    spec = get_dataset_spec(spec_name)
    where = "\n".join(f"  - {d}" for d in dirs)
    defaults = search_dirs(spec_name)
    fix = (
        "Put the files there or pass another --data-dir. Only the folders above were searched "
        f"(the default locations {', '.join(str(d) for d in defaults)} are searched only "
        "without --data-dir)."
        if list(dirs) != defaults
        else "Put the files in one of these folders, or pass --data-dir / set $UNLEARNKIT_DATA."
    )
    return DataError(
        f"dataset '{spec_name}': could not find {what}.\n"
        f"Looked in:\n{where}\n"
        f"Expected: {spec.files}\n"
        f"How to get it: {spec.how_to_get}\n{fix}"
    )
