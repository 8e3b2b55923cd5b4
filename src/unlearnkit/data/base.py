"""In-memory datasets: every example lives in one tensor; batches are slices of it.

A loader returns an :class:`ArrayDataset` with *all* examples of a dataset concatenated (the
dataset's own training part first, then its own test part, if it has one). Splits
(:mod:`unlearnkit.data.splits`) are index arrays into this single pool.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unlearnkit.errors import DataError

#: the most classes a dataset may have (a label set beyond it is almost surely a mistake, such
#: as a regression target or an id column taken for labels; the label head would be huge)
MAX_CLASSES = 10_000


@dataclass
class ArrayDataset:
    """All examples of a dataset as tensors.

    Attributes:
        name: registry name, e.g. ``"fashion-mnist"``.
        x: float32 inputs, ``N×C×H×W`` for images or ``N×D`` for tabular data, already
            normalised (per-channel mean/std of the dataset's own training part).
        y: int64 labels in ``[0, num_classes)``.
        num_classes: number of classes.
        official_test_start: index where the dataset's own test part begins (``None`` when
            the dataset has no test part; splits then draw test examples from the pool).
        class_names: optional human-readable class names.
        source: where the data was read from (for metadata and messages).
        files: the files that were read, as paths (empty for bundled or in-memory data).

    ``content_sha256`` hashes the tensors once per dataset object (treat ``x`` and ``y`` as
    immutable after loading): cache keys of everything derived from the data include it.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    official_test_start: int | None = None
    class_names: tuple[str, ...] = ()
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    _content_sha256: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.x.ndim not in (2, 4):
            raise DataError(
                f"dataset '{self.name}': inputs must be N×D (tabular) or N×C×H×W (images), "
                f"got shape {tuple(self.x.shape)}"
            )
        if self.y.ndim != 1 or self.y.shape[0] != self.x.shape[0]:
            raise DataError(
                f"dataset '{self.name}': expected one label per example "
                f"({self.x.shape[0]}), got labels of shape {tuple(self.y.shape)}"
            )
        if len(self.y) == 0:
            raise DataError(f"dataset '{self.name}' has no examples")
        if not 2 <= self.num_classes <= MAX_CLASSES:
            raise DataError(
                f"dataset '{self.name}': {self.num_classes} classes; a classifier needs between "
                f"2 and {MAX_CLASSES} classes"
            )
        if self.y.min() < 0 or self.y.max() >= self.num_classes:
            raise DataError(
                f"dataset '{self.name}': labels must be integers in [0, {self.num_classes}), "
                f"found range [{int(self.y.min())}, {int(self.y.max())}]"
            )
        if not torch.isfinite(self.x).all():
            raise DataError(f"dataset '{self.name}': inputs contain NaN or infinite values")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (``(C, H, W)`` or ``(D,)``)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4

    @property
    def content_sha256(self) -> str:
        """SHA-256 of the inputs, labels, class count and test boundary (computed once)."""
        if self._content_sha256 is None:
            h = hashlib.sha256()
            x = np.ascontiguousarray(self.x.detach().cpu().numpy())
            y = np.ascontiguousarray(self.y.detach().cpu().numpy(), dtype="<i8")
            h.update(
                f"{x.dtype.str}{x.shape}|{self.num_classes}|{self.official_test_start}|".encode()
            )
            h.update(x.data)
            h.update(y.data)
            self._content_sha256 = h.hexdigest()
        return self._content_sha256

    def describe(self) -> str:
        """One line: what was loaded, from where, its size and content hash."""
        n_test = (
            ""
            if self.official_test_start is None
            else (
                f" ({self.official_test_start} train + {len(self) - self.official_test_start} test)"
            )
        )
        where = self.source or "memory"
        if self.files:
            names = ", ".join(Path(f).name for f in self.files)
            where = (
                f"{names} in {Path(self.files[0]).parent}"
                if len({str(Path(f).parent) for f in self.files}) == 1
                else ", ".join(self.files)
            )
        return (
            f"dataset '{self.name}': {len(self)} examples{n_test}, {self.num_classes} classes, "
            f"from {where}; content sha256 {self.content_sha256[:12]}"
        )


def check_label_set(y: np.ndarray, labels: str) -> int:
    """The class count ``K`` of integer labels that must be exactly ``0…K−1``, every one present.

    ``labels`` names them in messages (e.g. ``"data.npz: the labels in 'y'"``). Raises
    :class:`DataError` for negative labels, gaps (a class with no example, e.g. labels 1…K or
    {0, 10^8}) and more than :data:`MAX_CLASSES` classes, before anything is allocated per class.
    """
    if y.size == 0:
        raise DataError(f"{labels} are empty")
    low, high = int(y.min()), int(y.max())
    if low < 0:
        raise DataError(
            f"{labels} include negative values (minimum {low}); labels must be integers 0…K−1"
        )
    present = np.unique(y)
    k = len(present)
    if k > MAX_CLASSES:
        raise DataError(
            f"{labels} hold {k} distinct values; at most {MAX_CLASSES} classes are supported "
            "(are these labels, and not a regression target or an id column?)"
        )
    if high + 1 != k:
        missing = np.setdiff1d(np.arange(min(high + 1, k + 6)), present)[:5]
        raise DataError(
            f"{labels} must be 0…K−1 with every class present, but the {k} distinct labels "
            f"range over [{low}, {high}] (missing e.g. {', '.join(str(int(m)) for m in missing)}). "
            "Renumber them, e.g. y = np.unique(y, return_inverse=True)[1]"
        )
    if k < 2:
        raise DataError(f"{labels} are all {low}; a classifier needs at least two classes")
    return k


def images_to_dataset(
    name: str,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray | None,
    test_labels: np.ndarray | None,
    *,
    num_classes: int | None = None,
    class_names: tuple[str, ...] = (),
    source: str = "",
    channels_last: bool = True,
    files: tuple[str, ...] = (),
) -> ArrayDataset:
    """Build an :class:`ArrayDataset` from uint8/float image arrays.

    Images may be ``N×H×W`` (grey) or ``N×H×W×C`` (``channels_last``) or ``N×C×H×W``. Integer
    images are scaled to [0, 1]; then every channel is standardised with the mean and standard
    deviation of the training part.
    """
    parts = [np.asarray(train_images)]
    labels = [np.asarray(train_labels).reshape(-1)]
    if test_images is not None:
        parts.append(np.asarray(test_images))
        labels.append(np.asarray(test_labels).reshape(-1))
    for arr, lab in zip(parts, labels):
        if arr.shape[0] != lab.shape[0]:
            raise DataError(
                f"dataset '{name}': {arr.shape[0]} images but {lab.shape[0]} labels in {source}"
            )
    x = np.concatenate(parts, axis=0)
    y = np.concatenate(labels, axis=0)
    if x.ndim == 3:
        x = x[:, None, :, :]
    elif x.ndim == 4 and channels_last:
        x = np.transpose(x, (0, 3, 1, 2))
    elif x.ndim not in (2, 4):
        raise DataError(f"dataset '{name}': cannot interpret array of shape {x.shape} as images")
    scale = 255.0 if np.issubdtype(x.dtype, np.integer) else 1.0
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(torch.float32) / scale
    n_train = parts[0].shape[0]
    xt = standardise(xt, n_train)
    if not np.issubdtype(y.dtype, np.integer):
        if np.all(np.equal(np.mod(y, 1), 0)):
            y = y.astype(np.int64)
        else:
            raise DataError(f"dataset '{name}': labels must be integers, got dtype {y.dtype}")
    yt = torch.from_numpy(y.astype(np.int64))
    k = (
        num_classes
        if num_classes is not None
        else check_label_set(y, f"dataset '{name}': the labels")
    )
    return ArrayDataset(
        name=name,
        x=xt,
        y=yt,
        num_classes=k,
        official_test_start=n_train if test_images is not None else None,
        class_names=class_names,
        source=source,
        files=files,
    )


def standardise(x: torch.Tensor, n_fit: int) -> torch.Tensor:
    """Standardise per channel (images) or per feature (tabular) with stats of ``x[:n_fit]``."""
    ref = x[:n_fit]
    dims = (0, 2, 3) if x.ndim == 4 else (0,)
    mean = ref.mean(dim=dims, keepdim=True)
    std = ref.std(dim=dims, keepdim=True).clamp_min(1e-6)
    return (x - mean) / std


def describe_locations(paths: list[Path]) -> str:
    return "\n".join(f"  - {p}" for p in paths)
