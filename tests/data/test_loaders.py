"""Dataset loaders: tiny files in every format, and each kind of bad input."""

from __future__ import annotations

import gzip
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.loaders.cifar import (
    CIFAR10_CLASSES,
    load_cifar10,
    load_cifar100,
    load_restricted_pickle,
)
from unlearnkit.data.loaders.idx import (
    FASHION_CLASSES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from unlearnkit.data.loaders.npz import load_npz, load_npz_file
from unlearnkit.data.loaders.svhn import load_svhn
from unlearnkit.data.registry import get_dataset_spec, load_dataset, search_dirs
from unlearnkit.errors import DataError

RNG = np.random.default_rng(0)


def assert_train_standardised(ds: ArrayDataset) -> None:
    """Per-channel (or per-feature) mean 0 and std 1 over the dataset's own training part."""
    n = ds.official_test_start if ds.official_test_start is not None else len(ds)
    train = ds.x[:n].double()
    dims = (0, 2, 3) if ds.x.ndim == 4 else (0,)
    torch.testing.assert_close(
        train.mean(dim=dims), torch.zeros(ds.x.shape[1]).double(), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        train.std(dim=dims), torch.ones(ds.x.shape[1]).double(), atol=1e-4, rtol=0
    )


# ---------------------------------------------------------------------------------------- IDX


def idx_bytes(arr: np.ndarray) -> bytes:
    magic = IMAGES_MAGIC if arr.ndim == 3 else LABELS_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = True) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test, dtype=np.uint8) * 3) % 10,
    }
    for i, (base, arr) in enumerate(arrays.items()):
        data = idx_bytes(arr)
        # gz=None: mix plain and compressed files in one folder
        use_gz = gz if gz is not None else i % 2 == 0
        if use_gz:
            (folder / f"{base}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / base).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False, None], ids=["gz", "plain", "mixed"])
def test_idx_loads_train_then_test(tmp_path: Path, gz: bool | None) -> None:
    arrays = write_idx_set(tmp_path, gz=gz)
    ds = load_fashion_mnist([tmp_path / "missing", tmp_path])
    assert ds.x.shape == (17, 1, 28, 28)
    assert ds.x.dtype == torch.float32
    assert ds.official_test_start == 12
    assert ds.num_classes == 10
    assert ds.class_names == FASHION_CLASSES
    assert ds.source == str(tmp_path)
    expected_y = np.concatenate(
        [arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"]]
    )
    assert ds.y.tolist() == expected_y.tolist()
    assert_train_standardised(ds)
    # the pixels are an affine map of the originals (one channel: same mean/std for all)
    raw = np.concatenate([arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]])
    raw = raw.astype(np.float64) / 255.0
    mean, std = raw[:12].mean(), raw[:12].std(ddof=1)
    np.testing.assert_allclose(ds.x[:, 0].numpy(), (raw - mean) / std, atol=1e-4)


def test_idx_folder_needs_all_four_files(tmp_path: Path) -> None:
    partial, full = tmp_path / "partial", tmp_path / "full"
    write_idx_set(partial)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx_set(full, n_train=7, n_test=3)
    ds = load_mnist([partial, full])
    assert ds.source == str(full)
    assert len(ds) == 10
    assert ds.class_names == tuple(str(i) for i in range(10))


def test_idx_missing_files_message(tmp_path: Path) -> None:
    dirs = [tmp_path / "one", tmp_path / "two"]
    with pytest.raises(DataError, match="could not find the four IDX files") as info:
        load_fashion_mnist(dirs)
    msg = str(info.value)
    for d in dirs:
        assert str(d) in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "train-images-idx3-ubyte" in msg
    with pytest.raises(DataError, match=r"MNIST|mnist") as info:
        load_mnist(dirs)
    assert "yann.lecun.com" in str(info.value)


def test_idx_truncated_file(tmp_path: Path) -> None:
    write_idx_set(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="corrupt or truncated") as info:
        load_fashion_mnist([tmp_path])
    assert str(path) in str(info.value)


def test_idx_truncated_gzip_stream(tmp_path: Path) -> None:
    write_idx_set(tmp_path, gz=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=re.escape(str(path))):
        load_fashion_mnist([tmp_path])


def test_idx_wrong_magic(tmp_path: Path) -> None:
    write_idx_set(tmp_path, gz=False)
    # swap the label file in for the images: magic 0x801 where 0x803 is expected
    labels = (tmp_path / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(labels)
    with pytest.raises(DataError, match="wrong magic number 0x00000801, expected 0x00000803"):
        load_fashion_mnist([tmp_path])
    html = tmp_path / "page.html"
    html.write_bytes(b"<!DOCTYPE html><html></html>")
    with pytest.raises(DataError, match="wrong magic number"):
        read_idx(html, LABELS_MAGIC)


def test_idx_image_label_count_mismatch(tmp_path: Path) -> None:
    write_idx_set(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(11, np.uint8)))
    with pytest.raises(DataError, match=r"12 images .* but 11 labels"):
        load_fashion_mnist([tmp_path])


def test_registry_search_order_uses_data_dir_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("UNLEARNKIT_DATA", raising=False)
    write_idx_set(tmp_path / "mine" / "fashion-mnist", n_train=4, n_test=2)
    ds = load_dataset("fashion-mnist", tmp_path / "mine")
    assert len(ds) == 6
    # an explicit --data-dir is the only place searched (no fallback to the system copy)
    assert search_dirs("fashion-mnist", tmp_path) == [tmp_path / "fashion-mnist", tmp_path]
    assert search_dirs("fashion-mnist")[-1] == Path("/usr/share/datasets/fashion-mnist")


# -------------------------------------------------------------------------------------- CIFAR


def cifar_batch(n: int, label_key: str, num_classes: int, py2_keys: bool = True) -> dict:
    data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in RNG.integers(0, num_classes, n)]
    key = (lambda s: s.encode()) if py2_keys else (lambda s: s)
    return {key("batch_label"): b"fake", key("data"): data, key(label_key): labels}


def write_cifar10(folder: Path, n: int = 4, protocol: int = pickle.HIGHEST_PROTOCOL) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[f] = cifar_batch(n, "labels", 10)
        with open(folder / f, "wb") as fh:
            pickle.dump(batches[f], fh, protocol=protocol)
    return batches


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_loads_python_version(tmp_path: Path, protocol: int) -> None:
    batches = write_cifar10(tmp_path / "cifar-10-batches-py", protocol=protocol)
    ds = load_cifar10([tmp_path])  # the parent of the folder
    assert ds.x.shape == (24, 3, 32, 32)
    assert ds.official_test_start == 20
    assert ds.num_classes == 10
    assert ds.class_names == CIFAR10_CLASSES
    order = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    assert ds.y.tolist() == [y for f in order for y in batches[f][b"labels"]]
    assert_train_standardised(ds)
    # channel-major layout: the first 1024 bytes are the red plane of image 0
    raw = np.concatenate([batches[f][b"data"] for f in order]).reshape(-1, 3, 32, 32) / 255.0
    red = raw[:20, 0]
    expected = (raw[0, 0] - red.mean()) / red.std(ddof=1)
    np.testing.assert_allclose(ds.x[0, 0].numpy(), expected, atol=1e-4)


def test_cifar10_folder_itself_and_str_keys(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / f, "wb") as fh:
            pickle.dump(cifar_batch(3, "labels", 10, py2_keys=False), fh)
    ds = load_cifar10([folder])
    assert len(ds) == 18


def test_cifar100_fine_labels_and_meta(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train = cifar_batch(30, "fine_labels", 100)
    train[b"fine_labels"][0] = 99
    with open(folder / "train", "wb") as fh:
        pickle.dump(train, fh, protocol=2)
    with open(folder / "test", "wb") as fh:
        pickle.dump(cifar_batch(6, "fine_labels", 100), fh, protocol=2)
    names = [f"class{i}".encode() for i in range(100)]
    with open(folder / "meta", "wb") as fh:
        pickle.dump({b"fine_label_names": names}, fh, protocol=2)
    ds = load_cifar100([tmp_path])
    assert ds.x.shape == (36, 3, 32, 32)
    assert ds.num_classes == 100
    assert ds.official_test_start == 30
    assert ds.y[:30].tolist() == train[b"fine_labels"]
    assert ds.class_names[99] == "class99"
    assert_train_standardised(ds)


class _RunsCode:
    """A pickle payload that, if unpickled naively, creates a marker file via os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch '{self.marker}'",))


def test_cifar_crafted_pickle_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    marker = tmp_path / "PWNED"
    evil = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [_RunsCode(marker)]}
    payload_bytes = pickle.dumps(evil)
    assert b"system" in payload_bytes  # a plain pickle.load would call os.system
    (folder / "data_batch_3").write_bytes(payload_bytes)
    with pytest.raises(DataError, match=r"refusing to load .*a crafted pickle may run code"):
        load_cifar10([tmp_path])
    assert not marker.exists()
    # builtins are refused too (e.g. eval smuggled through protocol 0)
    payload = tmp_path / "eval.pkl"
    payload.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(DataError, match=r"builtins.eval"):
        load_restricted_pickle(payload)


def test_cifar_corrupt_pickle(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    path = folder / "test_batch"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(DataError, match=r"corrupt or truncated"):
        load_cifar10([tmp_path])


def test_cifar_wrong_contents(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    with open(folder / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, fh)
    with pytest.raises(DataError, match="N×3072 uint8"):
        load_cifar10([tmp_path])
    with open(folder / "data_batch_1", "wb") as fh:
        pickle.dump({b"images": np.zeros((2, 3072), np.uint8)}, fh)
    with pytest.raises(DataError, match="expected keys b'data' and b'labels'"):
        load_cifar10([tmp_path])


def test_cifar_missing_files_message(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="missing: data_batch_4") as info:
        load_cifar10([tmp_path])
    msg = str(info.value)
    assert str(tmp_path) in msg
    assert "data_batch_1, data_batch_2" in msg and "test_batch" in msg
    assert "cifar-10-python.tar.gz" in msg
    with pytest.raises(DataError, match="cifar-100-python") as info:
        load_cifar100([tmp_path / "nothing"])
    assert str(tmp_path / "nothing") in str(info.value)


# --------------------------------------------------------------------------------------- SVHN


def write_svhn(folder: Path, n_train: int = 9, n_test: int = 4) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for f, n in (("train_32x32.mat", n_train), ("test_32x32.mat", n_test)):
        x = RNG.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 = digit 0
        scipy.io.savemat(folder / f, {"X": x, "y": y})
        out[f] = (x, y)
    return out


def test_svhn_loads_and_maps_label_10_to_0(tmp_path: Path) -> None:
    arrays = write_svhn(tmp_path)
    ds = load_svhn([tmp_path])
    assert ds.x.shape == (13, 3, 32, 32)
    assert ds.official_test_start == 9
    assert ds.num_classes == 10
    assert ds.y.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4]
    assert_train_standardised(ds)
    x, _ = arrays["train_32x32.mat"]
    # image 2 of the training set, green channel, row 5: an affine map of the raw pixels
    raw = np.transpose(x, (3, 2, 0, 1)).astype(np.float64) / 255.0
    g = raw[:, 1]
    np.testing.assert_allclose(
        ds.x[2, 1, 5].numpy(), (raw[2, 1, 5] - g.mean()) / g.std(ddof=1), atol=1e-4
    )


def test_svhn_digit_zero(tmp_path: Path) -> None:
    write_svhn(tmp_path, n_train=12, n_test=2)
    ds = load_svhn([tmp_path])
    assert ds.y[9].item() == 0  # label 10 in the file
    assert 10 not in ds.y.tolist()


def test_svhn_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train_32x32.mat and test_32x32.mat") as info:
        load_svhn([tmp_path])
    assert "ufldl.stanford.edu" in str(info.value)
    write_svhn(tmp_path)
    scipy.io.savemat(
        tmp_path / "test_32x32.mat", {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))}
    )
    with pytest.raises(DataError, match="32×32×3×N"):
        load_svhn([tmp_path])
    (tmp_path / "test_32x32.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match=r"cannot read .*test_32x32.mat"):
        load_svhn([tmp_path])


# ---------------------------------------------------------------------------------------- npz


def test_npz_tabular_without_test_part(tmp_path: Path) -> None:
    x = RNG.normal(5.0, 3.0, (40, 6))
    y = np.arange(40) % 4
    np.savez(tmp_path / "data.npz", x=x, y=y)
    ds = load_npz([tmp_path / "npz", tmp_path])
    assert ds.x.shape == (40, 6)
    assert ds.official_test_start is None
    assert ds.num_classes == 4
    assert ds.y.tolist() == y.tolist()
    assert ds.extra["kind"] == "tabular"
    # per-feature standardisation, checked against sklearn's StandardScaler (ddof=1 vs 0 aside)
    from sklearn.preprocessing import StandardScaler

    ref = StandardScaler().fit_transform(x) * np.sqrt(39 / 40)
    np.testing.assert_allclose(ds.x.numpy(), ref, atol=1e-4)
    spec = get_dataset_spec("npz")
    assert spec.val_size == 0.15 and spec.test_size == 0.2


def test_npz_tabular_with_test_uses_train_stats(tmp_path: Path) -> None:
    x_train = RNG.normal(0.0, 1.0, (20, 3)).astype(np.float32)
    x_test = x_train[:5] + 100.0
    path = tmp_path / "any-name.npz"
    np.savez(
        path,
        x_train=x_train,
        y_train=np.arange(20) % 2,
        x_test=x_test,
        y_test=np.array([0, 1, 2, 0, 1]),
    )
    ds = load_npz_file(path)
    assert ds.official_test_start == 20
    assert ds.num_classes == 3  # the largest label over all parts + 1
    assert_train_standardised(ds)
    assert (ds.x[20:] > 50).all()  # test part standardised with training stats, not its own


def test_npz_images_grey_and_channels_last(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "grey.npz",
        x=RNG.integers(0, 256, (10, 8, 8), dtype=np.uint8),
        y=np.arange(10) % 2,
    )
    ds = load_npz_file(tmp_path / "grey.npz")
    assert ds.x.shape == (10, 1, 8, 8)
    assert ds.extra["kind"] == "images"
    x = RNG.random((10, 8, 8, 3)).astype(np.float32)
    np.savez(
        tmp_path / "rgb.npz",
        x=x,
        y=(np.arange(10) % 5).astype(np.float64),
        x_test=x[:3],
        y_test=np.array([[1], [2], [3]]),
    )
    ds = load_npz_file(tmp_path / "rgb.npz")
    assert ds.x.shape == (13, 3, 8, 8)
    assert ds.official_test_start == 10
    assert ds.y.dtype == torch.int64
    assert ds.y[10:].tolist() == [1, 2, 3]
    assert_train_standardised(ds)
    # channel order preserved: channel 2 of the output is channel 2 of the input
    c2 = x[:, :, :, 2].astype(np.float64)
    np.testing.assert_allclose(ds.x[0, 2].numpy(), (c2[0] - c2.mean()) / c2.std(ddof=1), atol=1e-4)


def test_npz_data_dir_may_be_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.npz"
    np.savez(path, x=RNG.normal(size=(6, 2)), y=[0, 1, 0, 1, 0, 1])
    ds = load_npz([path / "npz", path])
    assert len(ds) == 6 and ds.source == str(path)


def test_npz_missing_file_message(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"could not find data.npz") as info:
        load_npz([tmp_path])
    assert str(tmp_path) in str(info.value)
    assert "np.savez" in str(info.value)


def _bad(tmp_path: Path, **arrays: object) -> Path:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": [0, 1]}, r"missing array 'x' \(or 'x_train'\)"),
        ({"x": np.zeros((2, 3))}, r"missing array 'y' \(or 'y_train'\)"),
        ({"x": np.zeros((2, 3)), "x_train": np.zeros((2, 3)), "y": [0, 1]}, "keep only one"),
        ({"x": np.zeros((2, 3)), "y": [0, 1], "x_test": np.zeros((2, 3))}, "both 'x_test' and"),
        ({"x": np.zeros((2, 3, 4, 4, 3)), "y": [0, 1]}, r"5-D.*expected N×D"),
        ({"x": np.zeros(4), "y": [0, 1, 0, 1]}, r"1-D.*expected N×D"),
        ({"x": np.zeros((2, 3, 8, 8)), "y": [0, 1]}, r"channels-last.*transpose"),
        ({"x": np.zeros((3, 4)), "y": [0, 1]}, r"length mismatch: 3 inputs but 2 labels"),
        ({"x": np.zeros((3, 4)), "y": [0, -1, 1]}, r"negative labels.*0…K−1"),
        ({"x": np.zeros((3, 4)), "y": [0.0, 1.5, 1.0]}, r"integer class labels.*1\.5"),
        ({"x": np.zeros((3, 4)), "y": [0.0, np.nan, 1.0]}, r"NaN or infinite labels"),
        ({"x": np.array([[0.0, np.nan], [1.0, 2.0]]), "y": [0, 1]}, r"1 NaN or infinite"),
        ({"x": np.zeros((0, 4)), "y": np.zeros(0)}, r"empty"),
        ({"x": np.zeros((3, 4)), "y": [0, 0, 0]}, r"at least two classes"),
        # label sets that are not 0…K−1: gaps are refused before anything is allocated per class
        ({"x": np.zeros((3, 4)), "y": [0, 10**8, 0]}, r"range over \[0, 100000000\].*e\.g\. 1"),
        ({"x": np.zeros((3, 4)), "y": [1, 2, 3]}, r"missing e\.g\. 0.*np\.unique"),
        ({"x": np.zeros((3, 4)), "y": [0.0, 1e30, 1.0]}, r"too large to be class labels"),
        (
            {"x": np.zeros((10_001, 1)), "y": np.arange(10_001)},
            r"the labels in 'y' hold 10001 distinct values; at most 10000 classes",
        ),
        (
            {"x": np.zeros((3, 4)), "y": [0, 1, 0], "x_test": np.zeros((2, 4)), "y_test": [3, 3]},
            r"the labels in 'y' and 'y_test' must be 0…K−1.*missing e\.g\. 2",
        ),
        ({"x": np.array([["a", "b"]]), "y": [0]}, r"real numbers"),
        (
            {"x": np.zeros((3, 4)), "y": [0, 1, 0], "x_test": np.zeros((2, 5)), "y_test": [0, 1]},
            r"'x_test' examples have shape \(5,\)",
        ),
    ],
)
def test_npz_bad_inputs(tmp_path: Path, arrays: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_npz_file(_bad(tmp_path, **arrays))


def test_npz_object_arrays_and_non_archives_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([object(), object()], dtype=object), y=[0, 1])
    with pytest.raises(DataError, match="object arrays are refused"):
        load_npz_file(path)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"single-array .npy file, not a .npz archive"):
        load_npz_file(tmp_path / "single.npy")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"junk.npz is not a .npz archive .* looks like a text"):
        load_npz_file(tmp_path / "junk.npz")


# ---------------------------------------------------------------------------------- real data

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.realdata
def test_fashion_mnist_from_debian_package() -> None:
    if not DEBIAN_FASHION.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                f"CI=true but {DEBIAN_FASHION} is missing: apt-get install dataset-fashion-mnist"
            )
        pytest.skip(f"{DEBIAN_FASHION} absent (apt-get install dataset-fashion-mnist)")
    ds = load_fashion_mnist([DEBIAN_FASHION])
    assert len(ds) == 70_000
    assert ds.x.shape == (70_000, 1, 28, 28)
    assert ds.num_classes == 10
    assert ds.official_test_start == 60_000
    assert ds.class_names[0] == "T-shirt/top"
    assert torch.bincount(ds.y[:60_000]).tolist() == [6000] * 10
    assert torch.bincount(ds.y[60_000:]).tolist() == [1000] * 10
    assert_train_standardised(ds)


def test_npz_text_and_empty_files_get_a_truthful_message(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("x,y\n1,0\n")
    with pytest.raises(DataError, match=r"not a .npz archive \(a zip file .*looks like a text"):
        load_npz_file(tmp_path / "text.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(DataError, match=r"not a .npz archive .* it is empty"):
        load_npz_file(tmp_path / "empty.npz")
    (tmp_path / "bin.npz").write_bytes(b"\x00\xff\x10\x80rest")
    with pytest.raises(DataError, match=r"starts with bytes 00 ff 10 80"):
        load_npz_file(tmp_path / "bin.npz")
    for path in ("text.npz", "empty.npz", "bin.npz"):
        with pytest.raises(DataError) as info:
            load_npz_file(tmp_path / path)
        assert "pickle" not in str(info.value)


def test_content_hash_covers_features_and_is_stable(tmp_path: Path) -> None:
    x = RNG.normal(size=(20, 3))
    y = np.arange(20) % 2
    np.savez(tmp_path / "a.npz", x=x, y=y)
    first = load_npz_file(tmp_path / "a.npz")
    assert first.content_sha256 == load_npz_file(tmp_path / "a.npz").content_sha256
    x2 = x.copy()
    x2[7, 1] += 0.5  # one feature value changes; labels stay the same
    np.savez(tmp_path / "b.npz", x=x2, y=y)
    assert load_npz_file(tmp_path / "b.npz").content_sha256 != first.content_sha256
    assert len(first.content_sha256) == 64
    assert first.files == (str(tmp_path / "a.npz"),)
    assert f"from a.npz in {tmp_path}" in first.describe()
    assert first.content_sha256[:12] in first.describe()


def test_explicit_data_dir_never_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNLEARNKIT_DATA", raising=False)
    with pytest.raises(DataError, match=r"--data-dir .*nowhere does not exist"):
        load_dataset("fashion-mnist", tmp_path / "nowhere")
    folder = tmp_path / "partial"
    write_idx_set(folder, n_train=4, n_test=2)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", folder)
    msg = str(info.value)
    assert f"{folder} is incomplete, missing: t10k-labels-idx1-ubyte" in msg
    assert "/usr/share/datasets/fashion-mnist" in msg and "only without --data-dir" in msg
    write_idx_set(folder, n_train=4, n_test=2)
    ds = load_dataset("fashion-mnist", folder)
    assert [Path(f).name for f in ds.files] == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert f"in {folder}" in ds.describe() and "4 train + 2 test" in ds.describe()


def test_bundled_dataset_warns_that_data_dir_is_unused(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"'digits' is bundled .*--data-dir .* is not used"):
        load_dataset("digits", tmp_path)
