"""In-memory batching: a :class:`TensorSet` holds the examples of one split part on one
device; batches are index slices of it (no per-sample Python work, no DataLoader workers).

Device-resident batching (the CUDA fast path): move a set to the accelerator once
(:meth:`TensorSet.to` / :func:`resident`); each epoch's seeded permutation is drawn on the CPU
generator (so the batch order is the same on every device) and moved to the set's device once
per epoch, and every batch is an index of the device tensors (no per-batch host→device copy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from unlearnkit.data.augment import random_crop_flip
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.splits import Split


@dataclass
class TensorSet:
    """Examples of one split part: inputs ``x``, labels ``y`` and their pool ``indices``."""

    x: torch.Tensor
    y: torch.Tensor
    indices: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> TensorSet:
        return TensorSet(self.x.to(device), self.y.to(device), self.indices)

    def subset(self, rows: np.ndarray | torch.Tensor) -> TensorSet:
        rows_t = torch.as_tensor(np.asarray(rows), dtype=torch.long)
        return TensorSet(
            self.x[rows_t.to(self.x.device)],
            self.y[rows_t.to(self.y.device)],
            self.indices[np.asarray(rows)],
        )

    def batches(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        augment: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` batches; order from ``generator`` when shuffling."""
        yield from (
            self.take(idx, generator=generator, augment=augment)
            for idx in batch_indices(
                len(self),
                batch_size,
                generator=generator,
                shuffle=shuffle,
                drop_last=drop_last,
                device=self.x.device,
            )
        )

    def take(
        self, idx: torch.Tensor, *, generator: torch.Generator | None = None, augment: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        idx = idx.to(self.x.device)
        xb = self.x[idx]
        if augment:
            xb = random_crop_flip(xb, generator if generator is not None else torch.Generator())
        return xb, self.y[idx]


def batch_indices(
    n: int,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
    device: torch.device | str | None = None,
) -> Iterator[torch.Tensor]:
    """Index tensors of consecutive batches of a (seeded) permutation of ``range(n)``.

    The permutation is drawn on the CPU (``generator``) and, with ``device``, moved there once,
    so batches index device-resident data without a copy per batch; the order is the same.
    """
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    if device is not None:
        order = order.to(device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


class CyclingSampler:
    """Endless seeded batches of one set (reshuffled each pass), for zipping a small set (e.g.
    the forget set) against a large one (e.g. retain)."""

    def __init__(
        self, data: TensorSet, batch_size: int, generator: torch.Generator, augment: bool = False
    ) -> None:
        self.data, self.batch_size, self.generator, self.augment = (
            data,
            batch_size,
            generator,
            augment,
        )
        self._it: Iterator[torch.Tensor] = iter(())

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(2):
            try:
                idx = next(self._it)
                return self.data.take(idx, generator=self.generator, augment=self.augment)
            except StopIteration:
                self._it = batch_indices(
                    len(self.data),
                    min(self.batch_size, len(self.data)),
                    generator=self.generator,
                    shuffle=True,
                    device=self.data.x.device,
                )
        raise RuntimeError("cannot sample from an empty set")


@dataclass
class UnlearningData:
    """Every split part as a :class:`TensorSet` on one device; what methods receive."""

    retain: TensorSet
    forget: TensorSet
    val: TensorSet
    val_domain: TensorSet
    test: TensorSet
    num_classes: int
    input_shape: tuple[int, ...]
    augment: bool = False
    split: Split | None = None
    _content_sha256: str | None = field(default=None, repr=False, compare=False)

    @property
    def content_sha256(self) -> str:
        """SHA-256 of the data these tensors hold, for cache keys of anything trained on them.

        From :func:`unlearning_data`: the dataset's content hash with the split's hash (which
        fixes the indices and the training labels). Otherwise hashed from the tensors once.
        """
        if self._content_sha256 is None:
            h = hashlib.sha256()
            for part in (self.retain, self.forget, self.val, self.val_domain, self.test):
                for t in (part.x, part.y):
                    arr = np.ascontiguousarray(t.detach().cpu().numpy())
                    h.update(f"{arr.dtype.str}{arr.shape}|".encode())
                    h.update(arr.data)
            self._content_sha256 = h.hexdigest()
        return self._content_sha256

    @property
    def train(self) -> TensorSet:
        return TensorSet(
            torch.cat([self.retain.x, self.forget.x]),
            torch.cat([self.retain.y, self.forget.y]),
            np.concatenate([self.retain.indices, self.forget.indices]),
        )

    def to(self, device: torch.device | str) -> UnlearningData:
        return UnlearningData(
            self.retain.to(device),
            self.forget.to(device),
            self.val.to(device),
            self.val_domain.to(device),
            self.test.to(device),
            self.num_classes,
            self.input_shape,
            self.augment,
            self.split,
            self._content_sha256,
        )


def resident(data: TensorSet, device: torch.device) -> TensorSet:
    """``data`` on ``device`` for device-resident batching: moved once (a no-op on the CPU or
    when it is already there), so training indexes batches on the device."""
    return data if data.x.device == torch.device(device) else data.to(device)


def tensor_set(ds: ArrayDataset, indices: np.ndarray, split: Split | None = None) -> TensorSet:
    """The examples ``indices`` of ``ds``; with ``split``, labelled as the original trains on
    them (:meth:`Split.training_labels`: swapped forget labels in the confusion scenario)."""
    idx = torch.as_tensor(indices, dtype=torch.long)
    y = ds.y[idx]
    if split is not None and split.config.scenario == "confusion":
        y = torch.as_tensor(split.training_labels(indices, y.numpy()), dtype=y.dtype)
    return TensorSet(ds.x[idx], y, np.asarray(indices, dtype=np.int64))


def unlearning_data(
    ds: ArrayDataset, split: Split, *, augment: bool | None = None
) -> UnlearningData:
    """Materialise every part of ``split`` (checked against ``ds``) as tensors on the CPU.

    ``augment`` defaults to True for 32×32 colour images (random crop + flip), else False.
    Labels are the training labels of the split (in the confusion scenario the forget
    examples carry their swapped labels, so the original learns the confusion and every
    method and metric sees the labels it was trained on).
    """
    split.check_dataset(ds)
    if augment is None:
        augment = ds.is_image and ds.input_shape[0] == 3 and ds.input_shape[1:] == (32, 32)
    return UnlearningData(
        retain=tensor_set(ds, split.retain, split),
        forget=tensor_set(ds, split.forget, split),
        val=tensor_set(ds, split.val, split),
        val_domain=tensor_set(ds, split.val_domain, split),
        test=tensor_set(ds, split.test, split),
        num_classes=ds.num_classes,
        input_shape=ds.input_shape,
        augment=augment,
        split=split,
        _content_sha256=hashlib.sha256(f"{ds.content_sha256}|{split.sha256}".encode()).hexdigest(),
    )
