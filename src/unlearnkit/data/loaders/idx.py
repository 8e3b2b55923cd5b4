"""MNIST and Fashion-MNIST from their four IDX files (plain or gzip-compressed).

The IDX format (LeCun et al.): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim``
big-endian uint32 dimensions, then the data. Only unsigned-byte data (type ``0x08``) is used by
these datasets: images have magic ``0x00000803`` (N×28×28), labels ``0x00000801`` (N).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from unlearnkit.data.base import ArrayDataset, images_to_dataset
from unlearnkit.data.registry import DatasetSpec, missing_files_error, register_dataset
from unlearnkit.errors import DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

#: The four files, in the order (train images, train labels, test images, test labels).
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file (plain, or gzip when the name ends in ``.gz``) into a uint8 array.

    Raises:
        DataError: unreadable file, wrong magic number, or a data length that does not match
            the dimensions in the header (a truncated or corrupt file).
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"cannot read IDX file {path}: {exc}. The file is corrupt or truncated; "
            "download it again."
        ) from exc
    if len(raw) < 4:
        raise DataError(f"IDX file {path} is corrupt or truncated ({len(raw)} bytes, no header)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"IDX file {path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(unsigned-byte {kind}). Is it the right file, and not an HTML page or an "
            "uncompressed file named .gz?"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {path} is corrupt or truncated (header cut short)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(raw) - header
    if actual != expected:
        raise DataError(
            f"IDX file {path} is corrupt or truncated: header says shape {dims} "
            f"({expected} bytes of data) but the file holds {actual} bytes. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_file(folder: Path, base: str) -> Path | None:
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_idx_files(dirs: list[Path]) -> tuple[Path, list[Path]] | None:
    """The first folder holding all four IDX files (each plain or ``.gz``), and their paths."""
    for folder in dirs:
        found = [_find_file(folder, base) for base in IDX_FILES]
        if all(p is not None for p in found):
            return folder, [p for p in found if p is not None]
    return None


def incomplete_idx_folders(dirs: list[Path]) -> list[str]:
    """Notes on the folders of ``dirs`` that hold some but not all of the four IDX files."""
    notes = []
    for folder in dirs:
        missing = [base for base in IDX_FILES if _find_file(folder, base) is None]
        if 0 < len(missing) < len(IDX_FILES):
            notes.append(f"{folder} is incomplete, missing: {', '.join(missing)} (or .gz)")
    return notes


def load_idx_dataset(
    name: str, dirs: list[Path], class_names: tuple[str, ...] = ()
) -> ArrayDataset:
    """Load an MNIST-format dataset from the first folder in ``dirs`` that has all four files."""
    hit = find_idx_files(dirs)
    if hit is None:
        notes = incomplete_idx_folders(dirs)
        what = "the four IDX files" + (" (" + "; ".join(notes) + ")" if notes else "")
        raise missing_files_error(name, dirs, what)
    folder, (tr_x, tr_y, te_x, te_y) = hit
    train_images = read_idx(tr_x, IMAGES_MAGIC)
    train_labels = read_idx(tr_y, LABELS_MAGIC)
    test_images = read_idx(te_x, IMAGES_MAGIC)
    test_labels = read_idx(te_y, LABELS_MAGIC)
    for images, labels, px, py in (
        (train_images, train_labels, tr_x, tr_y),
        (test_images, test_labels, te_x, te_y),
    ):
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(
                f"dataset '{name}': expected N×H×W images and N labels, got shapes "
                f"{images.shape} ({px}) and {labels.shape} ({py})"
            )
        if images.shape[0] != labels.shape[0]:
            raise DataError(
                f"dataset '{name}': {images.shape[0]} images in {px} but {labels.shape[0]} "
                f"labels in {py}"
            )
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"dataset '{name}': training images are {train_images.shape[1:]} but test images "
            f"are {test_images.shape[1:]} (in {folder})"
        )
    return images_to_dataset(
        name,
        train_images,
        train_labels,
        test_images,
        test_labels,
        num_classes=10,
        class_names=class_names or tuple(str(i) for i in range(10)),
        source=str(folder),
        files=tuple(str(p) for p in (tr_x, tr_y, te_x, te_y)),
    )


def load_fashion_mnist(dirs: list[Path]) -> ArrayDataset:
    """Fashion-MNIST: 60,000 training + 10,000 test 28×28 grey images, 10 classes."""
    return load_idx_dataset("fashion-mnist", dirs, FASHION_CLASSES)


def load_mnist(dirs: list[Path]) -> ArrayDataset:
    """MNIST: 60,000 training + 10,000 test 28×28 grey handwritten digits, 10 classes."""
    return load_idx_dataset("mnist", dirs)


_FILES = ", ".join(IDX_FILES) + " (each plain or .gz), all four in one folder"

register_dataset(
    DatasetSpec(
        name="fashion-mnist",
        description="Fashion-MNIST: 70,000 28×28 grey clothing images (60k train + 10k test), "
        "10 classes",
        loader=load_fashion_mnist,
        files=_FILES,
        how_to_get="on Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist` (installs "
        "them in /usr/share/datasets/fashion-mnist), or download the four IDX .gz files "
        "linked from https://github.com/zalandoresearch/fashion-mnist",
        extra_dirs=("/usr/share/datasets/fashion-mnist",),
        val_size=5000,
        recipe={
            "model": {"name": "cnn", "width": 32, "embed_dim": 128},
            "train": {"epochs": 10, "batch_size": 128, "lr": 0.05},
        },
    )
)

register_dataset(
    DatasetSpec(
        name="mnist",
        description="MNIST: 70,000 28×28 grey handwritten digits (60k train + 10k test), "
        "10 classes",
        loader=load_mnist,
        files=_FILES,
        how_to_get="download the four IDX .gz files from http://yann.lecun.com/exdb/mnist/ "
        "(or a mirror of that page)",
        val_size=5000,
        recipe={
            "model": {"name": "cnn", "width": 32, "embed_dim": 128},
            "train": {"epochs": 10, "batch_size": 128, "lr": 0.05},
        },
    )
)
