"""The user's own data from a NumPy ``.npz`` archive.

Layout of the archive (``np.savez("data.npz", x=..., y=...)``):

* ``x`` (or ``x_train``): the inputs, one of
    - ``N×D`` — tabular features (standardised per feature with training statistics);
    - ``N×H×W`` — grey images;
    - ``N×H×W×C`` with ``C`` in {1, 3, 4} — channels-last images. Channels-first
      (``N×C×H×W``) arrays are **not** auto-detected: store them channels-last
      (``x.transpose(0, 2, 3, 1)``). Integer images are read as 0–255 pixel values.
* ``y`` (or ``y_train``): integer class labels ``0…K−1`` (``N`` or ``N×1``; floats holding whole
  numbers are accepted), every class present at least once (over all parts), with
  ``2 ≤ K ≤ 10,000`` (:data:`~unlearnkit.data.base.MAX_CLASSES`). Labels with gaps (e.g. 1…K,
  or {0, 10^8}) are refused with a message: renumber them with
  ``np.unique(y, return_inverse=True)[1]``.
* optionally ``x_test`` and ``y_test`` (both or neither): the data's own test part. Without it,
  validation and test examples are drawn from the pool (15% and 20% by default).

The archive is opened with ``allow_pickle=False``: object arrays are refused, so a crafted file
cannot run code. The registered ``npz`` dataset looks for ``data.npz`` in the search folders;
``--data-dir`` may also point at the ``.npz`` file itself. :func:`load_npz_file` loads any path.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from unlearnkit.data.base import ArrayDataset, check_label_set, images_to_dataset, standardise
from unlearnkit.data.registry import DatasetSpec, missing_files_error, register_dataset
from unlearnkit.errors import DataError

NPZ_FILE = "data.npz"
_LAYOUT = (
    "x (or x_train) of shape N×D (tabular), N×H×W (grey images) or N×H×W×C with C in "
    "{1, 3, 4} (channels-last images); y (or y_train) with N integer labels ≥ 0; optionally "
    "x_test and y_test"
)


def _pick_key(files: list[str], names: tuple[str, str], path: Path) -> str:
    present = [n for n in names if n in files]
    if not present:
        raise DataError(
            f"{path}: missing array '{names[0]}' (or '{names[1]}'); found keys {sorted(files)}. "
            f"Expected: {_LAYOUT}"
        )
    if len(present) == 2:
        raise DataError(
            f"{path}: both '{names[0]}' and '{names[1]}' are present; keep only one of them"
        )
    return present[0]


def _check_inputs(x: np.ndarray, key: str, path: Path) -> None:
    if x.dtype == np.bool_:
        return
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{path}: '{key}' must hold real numbers, got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4):
        raise DataError(
            f"{path}: '{key}' has shape {x.shape} ({x.ndim}-D); expected N×D (tabular), N×H×W "
            "(grey images) or N×H×W×C (channels-last images)"
        )
    if x.ndim == 4 and x.shape[3] not in (1, 3, 4):
        raise DataError(
            f"{path}: '{key}' has shape {x.shape}; 4-D inputs must be channels-last N×H×W×C with "
            "C in {1, 3, 4}. Channels-first (N×C×H×W) data is not auto-detected: store it as "
            "x.transpose(0, 2, 3, 1)"
        )
    if x.shape[0] == 0 or any(s == 0 for s in x.shape[1:]):
        raise DataError(f"{path}: '{key}' is empty (shape {x.shape})")
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise DataError(
                f"{path}: '{key}' contains {bad} NaN or infinite values; remove or impute them "
                "first"
            )


def _check_labels(y: np.ndarray, key: str, n: int, path: Path) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise DataError(f"{path}: '{key}' must be a vector of N labels, got shape {y.shape}")
    if y.shape[0] != n:
        raise DataError(
            f"{path}: length mismatch: {n} inputs but {y.shape[0]} labels in '{key}'; "
            "expected one label per example"
        )
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(f"{path}: '{key}' must hold integer class labels, got dtype {y.dtype}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)):
            raise DataError(f"{path}: '{key}' contains NaN or infinite labels")
        if np.abs(y).max() >= 2**53:
            raise DataError(
                f"{path}: '{key}' holds values up to {np.abs(y).max():g}, too large to be class "
                "labels 0…K−1"
            )
        if not np.all(np.mod(y, 1) == 0):
            raise DataError(
                f"{path}: '{key}' must hold integer class labels 0…K−1, found non-integer "
                f"values such as {y[np.mod(y, 1) != 0][0]!r}"
            )
    y = y.astype(np.int64)
    if y.min() < 0:
        raise DataError(
            f"{path}: '{key}' contains negative labels (minimum {int(y.min())}); labels must be "
            "integers 0…K−1"
        )
    return y


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip entry, an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def _check_is_archive(path: Path) -> None:
    """Refuse a file that is not a zip archive (what ``np.savez`` writes) by its first bytes,
    before NumPy would misreport it as pickled data."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(_ZIP_MAGIC):
        return
    if head.startswith(_NPY_MAGIC):
        raise DataError(
            f"{path} is a single-array .npy file, not a .npz archive; save with "
            f"np.savez(path, x=..., y=...). Expected: {_LAYOUT}"
        )
    if not head:
        what = "is empty"
    elif all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        what = "looks like a text file"
    else:
        what = f"starts with bytes {head[:4].hex(' ')}"
    raise DataError(
        f"{path} is not a .npz archive (a zip file written by np.savez): it {what}. Save your "
        f"arrays with np.savez(path, x=..., y=...). Expected: {_LAYOUT}"
    )


def load_npz_file(path: Path, name: str = "npz") -> ArrayDataset:
    """Load a user ``.npz`` archive (layout in the module docstring) into an ArrayDataset.

    Images are standardised per channel, tabular features per feature, with the statistics of
    the training part. Raises :class:`DataError` with what was expected on any malformed input.
    """
    path = Path(path)
    _check_is_archive(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"cannot read {path} as a NumPy .npz archive: {exc}. Expected: {_LAYOUT}"
        ) from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"{path} holds a single array, not a .npz archive; save with "
            f"np.savez(path, x=..., y=...). Expected: {_LAYOUT}"
        )
    with archive:
        files = list(archive.files)
        x_key = _pick_key(files, ("x", "x_train"), path)
        y_key = _pick_key(files, ("y", "y_train"), path)
        has_xt, has_yt = "x_test" in files, "y_test" in files
        if has_xt != has_yt:
            raise DataError(f"{path}: give both 'x_test' and 'y_test', or neither")
        keys = [x_key, y_key] + (["x_test", "y_test"] if has_xt else [])
        arrays: dict[str, np.ndarray] = {}
        for k in keys:
            try:
                arrays[k] = np.asarray(archive[k])
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
                raise DataError(
                    f"{path}: cannot read array '{k}': {exc} (object arrays are refused; "
                    "store plain numeric arrays)"
                ) from exc

    x_train = arrays[x_key]
    _check_inputs(x_train, x_key, path)
    y_train = _check_labels(arrays[y_key], y_key, x_train.shape[0], path)
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    if has_xt:
        x_test = arrays["x_test"]
        _check_inputs(x_test, "x_test", path)
        if x_test.shape[1:] != x_train.shape[1:]:
            raise DataError(
                f"{path}: 'x_test' examples have shape {x_test.shape[1:]} but '{x_key}' "
                f"examples have shape {x_train.shape[1:]}; they must match"
            )
        y_test = _check_labels(arrays["y_test"], "y_test", x_test.shape[0], path)

    all_labels = y_train if y_test is None else np.concatenate([y_train, y_test])
    parts_named = f"'{y_key}'" + (" and 'y_test'" if y_test is not None else "")
    num_classes = check_label_set(all_labels, f"{path}: the labels in {parts_named}")

    if x_train.ndim == 2:
        parts = [x_train] if x_test is None else [x_train, x_test]
        xt = torch.from_numpy(np.concatenate(parts).astype(np.float32))
        y = np.concatenate([y_train] if y_test is None else [y_train, y_test])
        return ArrayDataset(
            name=name,
            x=standardise(xt, x_train.shape[0]),
            y=torch.from_numpy(y),
            num_classes=num_classes,
            official_test_start=x_train.shape[0] if x_test is not None else None,
            source=str(path),
            extra={"kind": "tabular"},
            files=(str(path),),
        )
    ds = images_to_dataset(
        name,
        x_train,
        y_train,
        x_test,
        y_test,
        num_classes=num_classes,
        source=str(path),
        channels_last=True,
        files=(str(path),),
    )
    ds.extra["kind"] = "images"
    return ds


def load_npz(dirs: list[Path]) -> ArrayDataset:
    """Load the first ``data.npz`` found in ``dirs`` (a dir that is itself a .npz file counts)."""
    for d in dirs:
        if d.suffix == ".npz" and d.is_file():
            return load_npz_file(d)
        if (d / NPZ_FILE).is_file():
            return load_npz_file(d / NPZ_FILE)
    raise missing_files_error("npz", dirs, NPZ_FILE)


register_dataset(
    DatasetSpec(
        name="npz",
        description="your own data from data.npz (x, y, optional x_test/y_test): images or tabular",
        loader=load_npz,
        files=f"{NPZ_FILE} with {_LAYOUT}",
        how_to_get="save your arrays with np.savez('data.npz', x=x, y=y) and put the file in "
        "one of the folders above, or pass --data-dir pointing at its folder or at the .npz "
        "file itself",
        val_size=0.15,
        test_size=0.2,
        # model: cnn for images, mlp for tabular data (chosen by the pipeline from the shape)
        recipe={"train": {"epochs": 30, "batch_size": 64, "lr": 0.05}},
    )
)
