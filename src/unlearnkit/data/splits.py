"""Unlearning splits: train / val / test, the forget set, and SURE's validation-domain set.

Terms (DESIGN §2): *train* = retain ∪ forget is what the original model trains on; *val* is a
held-out pool from the training distribution (never trained on); *test* is held-out evaluation
data disjoint from val; *val_domain* ⊆ val is the held-out set matched to the forget
distribution that SURE uses as its domain-0 data (same classes for the class scenarios, random
held-out examples for ``random``).

Scenarios: ``random`` (examples drawn from all of train), ``partial-class`` (a fraction or count
of the given classes' training examples), ``class`` (all training examples of the given
classes) and ``confusion``, SCRUB's *resolving confusion* setting (Kurmanji et al., Towards
Unbounded Machine Unlearning, NeurIPS 2023): for exactly two classes ``(a, b)``, a fraction (of
each class's training examples) or a count (split evenly, ``a`` gets the odd one) of their
training examples get the other class's label — ``a → b``, ``b → a``; the forget set is exactly
these mislabelled examples. The original trains on them with the swapped labels (see
:meth:`Split.training_labels`, applied by :func:`unlearnkit.data.batching.unlearning_data`), and
retrain trains on the rest (retain: all correctly labelled). The swap is a pure function of the
config and the forget indices, so the split file (indices + hash) needs no extra field.

Invariants (enforced on creation and on load): forget ⊂ train; train, val, test pairwise
disjoint; val_domain ⊆ val; forget non-empty; retain non-empty. A split is reproducible from
(dataset, scenario, size, classes, seed) and saved as JSON with its indices and a SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.config import Config, option
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.registry import get_dataset_spec
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.records import atomic_write_text

SCENARIOS = ("random", "partial-class", "class", "confusion")
SPLIT_FORMAT = 1


@dataclass(frozen=True)
class SplitConfig(Config):
    """How to split a dataset for unlearning (DESIGN §2)."""

    section = "split"

    dataset: str = option("digits", "dataset name (see `unlearnkit list datasets`)")
    scenario: str = option(
        "partial-class",
        "forget scenario: random examples, part of given classes, whole classes, or "
        "confusion (SCRUB: labels swapped between two classes; forget = the mislabelled ones)",
        choices=SCENARIOS,
    )
    forget_size: float = option(
        0.5,
        "forget-set size: a fraction in (0, 1) of train (random), of the given classes' train "
        "examples (partial-class) or of each of the two classes' (confusion), or a count >= 1; "
        "ignored for class (whole classes)",
        gt=0,
    )
    forget_classes: tuple[int, ...] = option(
        (0,),
        "classes to forget from (partial-class, class) or the two classes whose labels are "
        "swapped (confusion); ignored for random",
        ge=0,
    )
    val_size: float | None = option(
        None,
        "size of the held-out val pool (fraction of the pool or count); default: per dataset "
        "(digits 40%, Fashion-MNIST/CIFAR 5000)",
        ge=0,
    )
    test_size: float | None = option(
        None,
        "test size (fraction or count); default: the dataset's own test part, else per dataset",
        ge=0,
    )
    train_size: int | None = option(
        None,
        "use only this many training examples (a subset, e.g. to reach the memorisation regime "
        "quickly on CPU); default: all remaining examples",
        ge=2,
    )
    seed: int = option(0, "seed of the split (which examples go where)")

    def validate(self) -> None:
        if self.forget_size <= 0:
            raise ConfigError(
                f"forget_size must be > 0 (a fraction or a count), got {self.forget_size}"
            )
        if self.forget_size >= 1 and not float(self.forget_size).is_integer():
            raise ConfigError(
                f"forget_size {self.forget_size} is neither a fraction in (0, 1) nor a whole count"
            )
        if self.scenario != "random" and not self.forget_classes:
            raise ConfigError(
                f"scenario '{self.scenario}' needs at least one class in forget_classes"
            )
        if len(set(self.forget_classes)) != len(self.forget_classes):
            raise ConfigError(f"forget_classes has duplicates: {list(self.forget_classes)}")
        if self.scenario == "confusion" and len(self.forget_classes) != 2:
            raise ConfigError(
                "scenario 'confusion' swaps labels between exactly two classes, got "
                f"forget_classes={list(self.forget_classes)}; pass two, e.g. --forget-classes 3 8"
            )
        for name in ("val_size", "test_size"):
            v = getattr(self, name)
            if v is not None and (v < 0 or (v >= 1 and not float(v).is_integer())):
                raise ConfigError(f"{name} must be a fraction in [0, 1) or a whole count, got {v}")
        if self.train_size is not None and self.train_size < 2:
            raise ConfigError(f"train_size must be at least 2, got {self.train_size}")


def _count(size: float, total: int) -> int:
    return int(round(size * total)) if size < 1 else int(size)


@dataclass
class Split:
    """Index arrays (into the dataset's single example pool) of every part of a split."""

    config: SplitConfig
    dataset_size: int
    labels_sha256: str
    train: np.ndarray
    forget: np.ndarray
    val: np.ndarray
    val_domain: np.ndarray
    test: np.ndarray

    @property
    def retain(self) -> np.ndarray:
        """train minus forget (sorted)."""
        return np.setdiff1d(self.train, self.forget, assume_unique=True)

    def parts(self) -> dict[str, np.ndarray]:
        return {
            "train": self.train,
            "retain": self.retain,
            "forget": self.forget,
            "val": self.val,
            "val_domain": self.val_domain,
            "test": self.test,
        }

    @property
    def sha256(self) -> str:
        """Hash of the config, the dataset fingerprint and every index array."""
        h = hashlib.sha256()
        h.update(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        h.update(f"{self.dataset_size}:{self.labels_sha256}".encode())
        for name in ("train", "forget", "val", "val_domain", "test"):
            h.update(name.encode())
            h.update(np.ascontiguousarray(getattr(self, name), dtype="<i8").tobytes())
        return h.hexdigest()

    def training_labels(self, indices: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The labels the original trains on for pool ``indices`` whose dataset labels are
        ``labels``: the dataset's own, except in the ``confusion`` scenario, where those of the
        forget examples are swapped between the two forget classes (``a ↔ b``)."""
        out = np.array(labels, dtype=np.int64, copy=True)
        if self.config.scenario != "confusion":
            return out
        a, b = self.config.forget_classes
        mislabelled = np.isin(np.asarray(indices), self.forget)
        to_b, to_a = mislabelled & (out == a), mislabelled & (out == b)
        out[to_b], out[to_a] = b, a
        return out

    def summary(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.parts().items()}

    def check_invariants(self) -> None:
        """Raise DataError if any invariant of DESIGN §2 is violated."""
        train, forget, val, test, vd = self.train, self.forget, self.val, self.test, self.val_domain
        for name, arr in self.parts().items():
            if arr.size and (arr.min() < 0 or arr.max() >= self.dataset_size):
                raise DataError(f"split part '{name}' has indices outside [0, {self.dataset_size})")
            if len(np.unique(arr)) != len(arr):
                raise DataError(f"split part '{name}' has repeated indices")
        if len(forget) == 0:
            raise DataError("the forget set is empty: choose a larger forget_size or other classes")
        if not np.isin(forget, train).all():
            raise DataError("invalid split: forget is not a subset of train")
        if len(forget) >= len(train):
            raise DataError(
                f"the forget set ({len(forget)}) covers all of train ({len(train)}): nothing would "
                "be retained; choose a smaller forget_size"
            )
        for a, b, an, bn in (
            (train, val, "train", "val"),
            (train, test, "train", "test"),
            (val, test, "val", "test"),
        ):
            if np.intersect1d(a, b).size:
                raise DataError(f"invalid split: {an} and {bn} overlap")
        if not np.isin(vd, val).all():
            raise DataError("invalid split: val_domain is not a subset of val")

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SPLIT_FORMAT,
            "config": self.config.to_dict(),
            "dataset_size": self.dataset_size,
            "labels_sha256": self.labels_sha256,
            "indices": {
                k: getattr(self, k).tolist()
                for k in ("train", "forget", "val", "val_domain", "test")
            },
            "sizes": self.summary(),
            "sha256": self.sha256,
        }

    def save(self, path: str | Path) -> Path:
        """Write the split as JSON atomically (temp file + rename)."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict()))
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "split") -> Split:
        try:
            idx = data["indices"]
            split = cls(
                config=SplitConfig.from_dict(data["config"]),
                dataset_size=int(data["dataset_size"]),
                labels_sha256=str(data["labels_sha256"]),
                **{
                    k: np.asarray(idx[k], dtype=np.int64)
                    for k in ("train", "forget", "val", "val_domain", "test")
                },
            )
            stored = data["sha256"]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{source} is not a valid unlearnkit split file (missing or bad field: {exc}); "
                "make one with `unlearnkit split`"
            ) from None
        if split.sha256 != stored:
            raise DataError(
                f"{source}: SHA-256 mismatch (file says {stored[:12]}…, content hashes to "
                f"{split.sha256[:12]}…): the split file was modified or is corrupt"
            )
        split.check_invariants()
        return split

    @classmethod
    def load(cls, path: str | Path) -> Split:
        p = Path(path)
        if not p.is_file():
            raise DataError(
                f"split file {p} not found; create one with `unlearnkit split --out {p}`"
            )
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"split file {p} is not valid JSON: {exc}") from None
        return cls.from_dict(data, source=f"split file {p}")

    def check_dataset(self, ds: ArrayDataset) -> None:
        """Refuse a dataset that is not the one this split was made from."""
        if (
            ds.name != self.config.dataset
            or len(ds) != self.dataset_size
            or (labels_fingerprint(ds) != self.labels_sha256)
        ):
            raise DataError(
                f"this split was made for dataset '{self.config.dataset}' with "
                f"{self.dataset_size} examples, but the loaded dataset is '{ds.name}' with "
                f"{len(ds)} examples (or different labels); use the matching dataset or make a "
                "new split"
            )


def labels_fingerprint(ds: ArrayDataset) -> str:
    return hashlib.sha256(ds.y.numpy().astype("<i8").tobytes()).hexdigest()


def _draw_k(rng: np.random.Generator, size: float, candidates: np.ndarray, k: int) -> np.ndarray:
    if k == 0:
        raise DataError(
            f"forget_size {size} of {len(candidates)} candidates rounds to an empty forget set; "
            "choose a larger forget_size"
        )
    if k > len(candidates):
        raise DataError(
            f"forget_size {int(size)} is larger than the {len(candidates)} candidate training "
            "examples; choose a smaller forget_size"
        )
    return np.sort(rng.choice(candidates, size=k, replace=False))


def _draw_forget(
    rng: np.random.Generator, config: SplitConfig, train: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """The forget set of ``config.scenario``, drawn from ``train`` (see the module doc)."""
    if config.scenario == "random":
        candidates = train
    else:
        candidates = train[np.isin(y[train], config.forget_classes)]
        if len(candidates) == 0:
            raise DataError(
                f"classes {list(config.forget_classes)} have no training examples in this split"
            )
    if config.scenario == "class":
        return candidates
    if config.scenario != "confusion":
        return _draw_k(
            rng, config.forget_size, candidates, _count(config.forget_size, len(candidates))
        )
    parts = []
    total = int(config.forget_size)
    for i, c in enumerate(config.forget_classes):
        of_c = train[y[train] == c]
        if len(of_c) == 0:
            raise DataError(
                f"confusion: class {c} has no training examples in this split to mislabel"
            )
        k = (
            _count(config.forget_size, len(of_c))
            if config.forget_size < 1
            else (total + 1 - i) // 2
        )
        parts.append(_draw_k(rng, config.forget_size, of_c, k))
    return np.sort(np.concatenate(parts))


def make_split(ds: ArrayDataset, config: SplitConfig) -> Split:
    """Create a split of ``ds`` as ``config`` says; deterministic in ``config.seed``.

    Test is the dataset's own test part when it has one (subsampled if ``test_size`` is
    given), else drawn from the pool. Val is drawn from the training part; train is the rest
    (optionally a subset of ``train_size``). The forget set is drawn from train.
    """
    if ds.name != config.dataset:
        raise DataError(f"split config is for dataset '{config.dataset}' but got '{ds.name}'")
    try:
        spec = get_dataset_spec(ds.name)
    except DataError:  # a dataset built in code, not registered: generic defaults
        spec = None
    rng = np.random.default_rng(config.seed)
    n = len(ds)
    y = ds.y.numpy()
    for c in config.forget_classes if config.scenario != "random" else ():
        if not 0 <= c < ds.num_classes:
            raise DataError(
                f"unknown class {c} for dataset '{ds.name}': classes are 0..{ds.num_classes - 1}"
            )

    default_val = spec.val_size if spec else 0.15
    default_test = spec.test_size if spec else 0.2
    if ds.official_test_start is not None:
        pool = np.arange(ds.official_test_start)
        test = np.arange(ds.official_test_start, n)
        if config.test_size is not None:
            k = _count(config.test_size, len(test))
            test = np.sort(rng.choice(test, size=min(k, len(test)), replace=False))
    else:
        perm = rng.permutation(n)
        k = _count(config.test_size if config.test_size is not None else default_test, n)
        test, pool = np.sort(perm[:k]), perm[k:]
    vs = config.val_size if config.val_size is not None else default_val
    n_val = _count(vs, len(pool)) if vs < 1 else int(vs)
    if n_val >= len(pool):
        raise DataError(
            f"val_size {vs} leaves no training examples (pool of {len(pool)}); choose a smaller val"
        )
    perm = rng.permutation(pool)
    val = np.sort(perm[:n_val])
    rest = perm[n_val:]
    if config.train_size is not None:
        if config.train_size > len(rest):
            raise DataError(
                f"train_size {config.train_size} exceeds the {len(rest)} examples left after val "
                "and test"
            )
        rest = rest[: config.train_size]
    train = np.sort(rest)

    forget = _draw_forget(rng, config, train, y)

    if config.scenario == "random":
        val_domain = val
    else:
        val_domain = val[np.isin(y[val], config.forget_classes)]

    split = Split(
        config=config,
        dataset_size=n,
        labels_sha256=labels_fingerprint(ds),
        train=train.astype(np.int64),
        forget=forget.astype(np.int64),
        val=val.astype(np.int64),
        val_domain=val_domain.astype(np.int64),
        test=test.astype(np.int64),
    )
    split.check_invariants()
    if len(val_domain) < len(forget):
        warnings.warn(
            f"the validation-domain set ({len(val_domain)} examples) is smaller than the forget "
            f"set ({len(forget)}); SURE worked better when it is at least as large: raise "
            "--val-size",
            stacklevel=2,
        )
    return split


# -- splits from given forget rows (deletion requests, the Python API) -------------------------


def forget_rows(forget: Any, n: int, *, what: str = "forget") -> np.ndarray:
    """Sorted row indices from ``forget`` given as indices or as a boolean mask over ``n`` rows.

    Refuses (with what was expected) a mask of the wrong length, indices outside ``[0, n)``,
    repeated indices, non-integer values and an empty selection.
    """
    arr = np.asarray(forget.cpu() if hasattr(forget, "cpu") else forget)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise DataError(
                f"{what}: a boolean mask must have one entry per row ({n}), got shape "
                f"{tuple(arr.shape)}"
            )
        rows = np.flatnonzero(arr)
    else:
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise DataError(
                f"{what}: expected a 1-D array of integer row indices or a boolean mask of "
                f"length {n}, got dtype {arr.dtype} and shape {tuple(arr.shape)}"
            )
        rows = arr.astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise DataError(
                f"{what}: row indices must lie in [0, {n}), got [{rows.min()}, {rows.max()}]"
            )
        if len(np.unique(rows)) != len(rows):
            raise DataError(f"{what}: row indices contain duplicates")
    if rows.size == 0:
        raise DataError(f"{what}: no rows selected; nothing to unlearn")
    return np.sort(rows).astype(np.int64)


def split_from_rows(
    labels: np.ndarray,
    *,
    train: np.ndarray,
    forget: Any,
    val: np.ndarray,
    test: np.ndarray,
    val_domain: np.ndarray | None = None,
    dataset: str = "custom",
    scenario: str = "random",
    forget_classes: tuple[int, ...] = (),
) -> Split:
    """A :class:`Split` of a pool with the given ``labels`` whose parts are given row indices;
    ``forget`` (indices or a boolean mask over the pool) must lie in ``train``.

    For data that did not come from :func:`make_split`: a deletion request on one's own
    dataset, or the arrays handed to :func:`unlearnkit.unlearn`. ``val_domain`` defaults to
    ``val``; the invariants of DESIGN §2 are checked.
    """
    n = len(labels)
    rows = forget_rows(forget, n)
    train = np.sort(np.asarray(train, dtype=np.int64))
    outside = np.setdiff1d(rows, train)
    if outside.size:
        raise DataError(
            f"{outside.size} forget rows are not training rows (e.g. row {int(outside[0])}); "
            "the forget set must be a subset of what the original was trained on"
        )
    cfg = SplitConfig(
        dataset=dataset,
        scenario=scenario,
        forget_size=float(len(rows)),
        forget_classes=tuple(forget_classes) if scenario != "random" else (0,),
    )
    vd = val if val_domain is None else val_domain
    split = Split(
        config=cfg,
        dataset_size=n,
        labels_sha256=hashlib.sha256(np.asarray(labels).astype("<i8").tobytes()).hexdigest(),
        train=train,
        forget=rows,
        val=np.sort(np.asarray(val, dtype=np.int64)),
        val_domain=np.sort(np.asarray(vd, dtype=np.int64)),
        test=np.sort(np.asarray(test, dtype=np.int64)),
    )
    split.check_invariants()
    return split
