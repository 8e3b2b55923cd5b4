"""In-memory datasets: every example lives in one tensor; batches are slices of it.

A loader returns an :class:`ArrayDataset` with *all* examples of a dataset concatenated (the
dataset's own training part first, then its own test part, if it has one). Splits
(:mod:`unlearnkit.data.splits`) are index arrays into this single pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unlearnkit.errors import DataError


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
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    official_test_start: int | None = None
    class_names: tuple[str, ...] = ()
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)

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
    k = int(num_classes if num_classes is not None else int(y.max()) + 1)
    return ArrayDataset(
        name=name,
        x=xt,
        y=yt,
        num_classes=k,
        official_test_start=n_train if test_images is not None else None,
        class_names=class_names,
        source=source,
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
