"""SVHN (Street View House Numbers), cropped-digits format: ``train_32x32.mat``, ``test_32x32.mat``.

Each file is a MATLAB (v5) file with ``X`` (32×32×3×N uint8) and ``y`` (N×1, labels 1–10 where
10 stands for the digit 0). Labels are mapped so that class *k* is the digit *k*. The optional
``extra_32x32.mat`` is not used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unlearnkit.data.base import ArrayDataset, images_to_dataset
from unlearnkit.data.registry import DatasetSpec, missing_files_error, register_dataset
from unlearnkit.errors import DataError

SVHN_TRAIN = "train_32x32.mat"
SVHN_TEST = "test_32x32.mat"


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one SVHN ``.mat`` file into ``(images N×32×32×3 uint8, labels N int64 in 0–9)``."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises many types (ValueError, OSError, NotImplementedError)
        raise DataError(
            f"cannot read {path}: {type(exc).__name__}: {exc}. The file is corrupt or truncated, "
            "or not a MATLAB v5 file; download it again."
        ) from exc
    if "X" not in mat or "y" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: expected variables 'X' and 'y', found {keys}")
    x = np.asarray(mat["X"])
    y = np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: expected X of shape 32×32×3×N, got {x.shape}")
    if y.shape[0] != x.shape[3]:
        raise DataError(f"{path}: {x.shape[3]} images in X but {y.shape[0]} labels in y")
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.mod(y, 1) == 0):
        raise DataError(f"{path}: labels in y must be whole numbers 1–10")
    y = y.astype(np.int64)
    if y.size and (y.min() < 1 or y.max() > 10):
        raise DataError(
            f"{path}: labels in y must be 1–10 (10 = digit 0), found range "
            f"[{int(y.min())}, {int(y.max())}]"
        )
    y[y == 10] = 0
    return np.transpose(x, (3, 0, 1, 2)), y


def load_svhn(dirs: list[Path]) -> ArrayDataset:
    """SVHN cropped digits: 73,257 training + 26,032 test 32×32 colour images, 10 classes."""
    for folder in dirs:
        train, test = folder / SVHN_TRAIN, folder / SVHN_TEST
        if train.is_file() and test.is_file():
            x_train, y_train = read_svhn_mat(train)
            x_test, y_test = read_svhn_mat(test)
            return images_to_dataset(
                "svhn",
                x_train,
                y_train,
                x_test,
                y_test,
                num_classes=10,
                class_names=tuple(str(i) for i in range(10)),
                source=str(folder),
                channels_last=True,
                files=(str(train), str(test)),
            )
    raise missing_files_error("svhn", dirs, f"{SVHN_TRAIN} and {SVHN_TEST}")


register_dataset(
    DatasetSpec(
        name="svhn",
        description="SVHN cropped digits: 99,289 32×32 colour images (73k train + 26k test), "
        "10 classes",
        loader=load_svhn,
        files=f"{SVHN_TRAIN} and {SVHN_TEST} (format 2, cropped digits) in one folder",
        how_to_get="download train_32x32.mat and test_32x32.mat from "
        "http://ufldl.stanford.edu/housenumbers/",
        val_size=5000,
        recipe={
            # the paper-scale recipe (SalUn trains 182 epochs; 50 with cosine is enough here)
            "model": {"name": "resnet18", "width": 64},
            "train": {"epochs": 50, "batch_size": 128, "lr": 0.1},
        },
    )
)
