"""CIFAR-10 and CIFAR-100, the "python version" (pickled batches).

The batches are Python pickles, and unpickling an untrusted pickle can run arbitrary code. They
are therefore read with :class:`RestrictedUnpickler`, which admits only the few numpy and codec
callables that genuine batch files reference; anything else is refused before it can run.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.data.base import ArrayDataset, images_to_dataset
from unlearnkit.data.registry import DatasetSpec, missing_files_error, register_dataset
from unlearnkit.errors import DataError

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR100_DIR = "cifar-100-python"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"
CIFAR100_TRAIN = "train"
CIFAR100_TEST = "test"

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _numpy_multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray


def _numpy_frombuffer() -> Callable[..., Any]:
    try:
        from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]
    return _frombuffer


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import _codecs

    ma = _numpy_multiarray()
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _codecs.encode,  # bytes in protocol-2 pickles written by Py3
    }
    for mod in ("numpy.core", "numpy._core"):
        allowed[(f"{mod}.multiarray", "_reconstruct")] = ma._reconstruct
        allowed[(f"{mod}.multiarray", "scalar")] = ma.scalar
        allowed[(f"{mod}.numeric", "_frombuffer")] = _numpy_frombuffer()  # protocol 5
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only an allow-list of globals (numpy arrays and dtypes).

    A crafted pickle that names any other callable (``os.system``, ``builtins.eval``, ...) is
    refused with a :class:`DataError` before the callable is ever looked up, let alone called.
    """

    def __init__(self, file: Any, *, source: Path | str = "") -> None:
        super().__init__(file, encoding="bytes")
        self._source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise DataError(
                f"refusing to load {self._source}: it references '{module}.{name}', which a "
                "dataset batch never needs (a crafted pickle may run code). Only plain numpy "
                "arrays are accepted; get the original files again."
            ) from None


def load_restricted_pickle(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (``encoding='bytes'``)."""
    try:
        with open(path, "rb") as fh:
            return RestrictedUnpickler(fh, source=path).load()
    except DataError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError) as exc:
        raise DataError(
            f"cannot read {path}: {type(exc).__name__}: {exc}. The file is corrupt or truncated; "
            "download it again."
        ) from exc


def _get(batch: dict[Any, Any], key: str) -> Any:
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    return None


def read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR batch file into ``(images N×3×32×32 uint8, labels N int64)``."""
    batch = load_restricted_pickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    data = _get(batch, "data")
    labels = _get(batch, label_key)
    if data is None or labels is None:
        keys = sorted(str(k) for k in batch)
        raise DataError(
            f"{path}: expected keys b'data' and b'{label_key}', found {keys}. "
            "Is this the CIFAR 'python version'?"
        )
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: expected b'data' as an N×3072 uint8 array, got {data.dtype} "
            f"array of shape {data.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DataError(
            f"{path}: expected {data.shape[0]} labels under b'{label_key}', got shape "
            f"{labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels must be integers, got dtype {labels.dtype}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _locate(
    dirs: list[Path], folder_name: str, train: tuple[str, ...], test: str
) -> tuple[Path | None, list[str]]:
    """First folder with every expected file; else ``None`` and notes on incomplete folders."""
    notes: list[str] = []
    for d in dirs:
        for cand in (d / folder_name, d):
            if not cand.is_dir():
                continue
            missing = [f for f in (*train, test) if not (cand / f).is_file()]
            if not missing:
                return cand, notes
            if len(missing) < len(train) + 1:
                notes.append(f"{cand} is incomplete, missing: {', '.join(missing)}")
    return None, notes


def _load_cifar(
    name: str,
    dirs: list[Path],
    folder_name: str,
    train: tuple[str, ...],
    test: str,
    label_key: str,
    num_classes: int,
    class_names: tuple[str, ...],
) -> ArrayDataset:
    folder, notes = _locate(dirs, folder_name, train, test)
    if folder is None:
        what = f"the '{folder_name}' batch files"
        if notes:
            what += " (" + "; ".join(notes) + ")"
        raise missing_files_error(name, dirs, what)
    parts = [read_cifar_batch(folder / f, label_key) for f in train]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar_batch(folder / test, label_key)
    for y, f in ((y_train, "training batches"), (y_test, test)):
        if y.min() < 0 or y.max() >= num_classes:
            raise DataError(
                f"dataset '{name}': labels in {folder}/{f} must be in [0, {num_classes}), "
                f"found range [{int(y.min())}, {int(y.max())}]"
            )
    return images_to_dataset(
        name,
        x_train,
        y_train,
        x_test,
        y_test,
        num_classes=num_classes,
        class_names=class_names,
        source=str(folder),
        channels_last=False,
        files=tuple(str(folder / f) for f in (*train, test)),
    )


def load_cifar10(dirs: list[Path]) -> ArrayDataset:
    """CIFAR-10: 50,000 training + 10,000 test 32×32 colour images, 10 classes."""
    return _load_cifar(
        "cifar10", dirs, CIFAR10_DIR, CIFAR10_TRAIN, CIFAR10_TEST, "labels", 10, CIFAR10_CLASSES
    )


def _cifar100_class_names(folder: Path) -> tuple[str, ...]:
    """Fine class names from the optional ``meta`` file (empty when it is absent)."""
    meta_path = folder / "meta"
    if not meta_path.is_file():
        return ()
    meta = load_restricted_pickle(meta_path)
    names = _get(meta, "fine_label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 100:
        return ()
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names)


def load_cifar100(dirs: list[Path]) -> ArrayDataset:
    """CIFAR-100: 50,000 training + 10,000 test 32×32 colour images, 100 fine classes."""
    ds = _load_cifar(
        "cifar100",
        dirs,
        CIFAR100_DIR,
        (CIFAR100_TRAIN,),
        CIFAR100_TEST,
        "fine_labels",
        100,
        (),
    )
    ds.class_names = _cifar100_class_names(Path(ds.source))
    return ds


register_dataset(
    DatasetSpec(
        name="cifar10",
        description="CIFAR-10: 60,000 32×32 colour images (50k train + 10k test), 10 classes",
        loader=load_cifar10,
        files=f"folder {CIFAR10_DIR}/ with {', '.join(CIFAR10_TRAIN)} and {CIFAR10_TEST} "
        "(the 'python version'); the folder itself or its parent may be given",
        how_to_get="download cifar-10-python.tar.gz from "
        "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it "
        "(tar xzf cifar-10-python.tar.gz)",
        val_size=5000,
        recipe={
            # the paper-scale recipe (SalUn trains 182 epochs; 50 with cosine is enough here)
            "model": {"name": "resnet18", "width": 64},
            "train": {"epochs": 50, "batch_size": 128, "lr": 0.1},
        },
    )
)

register_dataset(
    DatasetSpec(
        name="cifar100",
        description="CIFAR-100: 60,000 32×32 colour images (50k train + 10k test), "
        "100 fine classes",
        loader=load_cifar100,
        files=f"folder {CIFAR100_DIR}/ with {CIFAR100_TRAIN} and {CIFAR100_TEST} (the 'python "
        "version'); the folder itself or its parent may be given",
        how_to_get="download cifar-100-python.tar.gz from "
        "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it "
        "(tar xzf cifar-100-python.tar.gz)",
        val_size=5000,
        recipe={
            # the paper-scale recipe (SalUn trains 182 epochs; 50 with cosine is enough here)
            "model": {"name": "resnet18", "width": 64},
            "train": {"epochs": 50, "batch_size": 128, "lr": 0.1},
        },
    )
)
