"""Model pools for the per-example attacks: many models of one recipe, stored on disk.

A :class:`ModelPool` is a folder of checkpoints (safetensors + JSON, via
:mod:`unlearnkit.checkpoint`) plus an ``index.json``, keyed by everything that determines the
models: dataset, split hash, model config, training recipe (without its seed), pool kind, the
first seed and, for shadow pools, the retain fraction. Model ``i`` is trained with seed
``seed_base + i``, so a pool grows without changing its existing models:
``pool.ensure(8)`` after ``pool.ensure(4)`` trains models 4–7 only.

Kinds:

* ``"retrain"``: model ``i`` is trained from scratch on the split's *retain* set with seed
  ``seed_base + i`` (the retrain side of the NeurIPS 2023 score; ``seed_base`` defaults to the
  recipe's seed, so model 0 is the usual retrain reference).
* ``"shadow"``: the U-LiRA / LiRA shadow models. The *candidate population* is the split's train
  set (retain then forget, the order of :attr:`UnlearningData.train`). Model ``i`` trains on a
  seeded random subset of ``round(retain_fraction × |retain|)`` retain examples, plus the
  **whole forget set when ``i`` is even** (none of it when ``i`` is odd). So every retain
  example is in about ``retain_fraction`` of the models (LiRA style), and the forget set, the
  attack's target set, is in exactly ``ceil(K/2)`` of the first ``K`` models, whatever ``K``.
  The boolean inclusion mask ``(n_population, K)`` is stored as ``inclusion.npy``.

Resuming: the index is rewritten (atomically) after every model. After an interruption, or if
the index is lost, a model whose checkpoint exists, loads and carries the expected identity in
its sidecar is reused rather than retrained.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from unlearnkit.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from unlearnkit.data.batching import TensorSet, UnlearningData
from unlearnkit.data.splits import Split
from unlearnkit.errors import ConfigError
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.records import atomic_write, atomic_write_text
from unlearnkit.training import TrainConfig, accuracy, train_fresh
from unlearnkit.utils import log, progress

__all__ = ["POOL_KINDS", "ModelPool", "TaskMapper", "TrainFn", "fit_pool_model", "pool_key"]

POOL_KINDS = ("shadow", "retrain")
POOL_FORMAT = 1
#: mixed into the seed of a shadow model's subset draw (keeps it apart from init / batch order)
_SUBSET_SALT = 0x5AD0

#: ``train_fn(model_cfg, train_cfg, train_set, *, input_shape, num_classes, device, augment,
#: show_progress, desc) -> (model, anything)``; :func:`unlearnkit.training.train_fresh` fits.
TrainFn = Callable[..., tuple[FeatureClassifier, Any]]


class TaskMapper(Protocol):
    """Runs ``fn(*call)`` for every call, possibly in parallel (the engine does): results in
    the order of ``calls``; the first failure raises. ``put`` shares a large object."""

    def map(self, fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]: ...

    def put(self, obj: Any) -> Any: ...


def fit_pool_model(
    data_source: Callable[[], UnlearningData], recipe: dict[str, Any], i: int
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Task body: train model ``i`` of the pool ``recipe`` describes, on ``data_source()``."""
    data = data_source()
    pool = ModelPool(None, recipe["kind"], data, recipe["model_cfg"], recipe["train_cfg"],
                     seed_base=recipe["seed_base"], retain_fraction=recipe["retain_fraction"],
                     device=recipe["device"], show_progress=False)  # fmt: skip
    return pool.fit(i)


def pool_key(
    kind: str,
    split: Split,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    seed_base: int,
    retain_fraction: float | None,
    data_sha256: str = "",
) -> str:
    """The identity of a pool: a hash of everything that determines its models (except K),
    the data's content (``UnlearningData.content_sha256``) included."""
    recipe = {k: v for k, v in train_cfg.to_dict().items() if k != "seed"}
    blob = json.dumps(
        {
            "kind": kind,
            "dataset": split.config.dataset,
            "split": split.sha256,
            "data": data_sha256,
            "model": model_cfg.to_dict(),
            "train": recipe,
            "seed_base": int(seed_base),
            "retain_fraction": retain_fraction,
            "format": POOL_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, array))


class ModelPool:
    """A resumable, growable pool of models of one recipe (see the module docstring).

    Args:
        root: folder that holds pools; this pool lives in ``root/<dataset>-<kind>-<key>``.
        kind: ``"shadow"`` or ``"retrain"``.
        data: the split's tensors (:func:`unlearnkit.data.batching.unlearning_data`).
        model_cfg, train_cfg: the recipe; ``train_cfg.seed`` is replaced by each model's seed.
        split: the split (default ``data.split``).
        seed_base: seed of model 0 (default ``train_cfg.seed``).
        retain_fraction: shadow pools: the fraction of retain each model trains on (0 < f ≤ 1).
        train_fn: training function (default :func:`unlearnkit.training.train_fresh`);
            injectable for tests.
        device: where models are trained.
        show_progress: progress bar over the models to train.
        data_source: a picklable callable returning ``data`` on a worker (the engine's
            :func:`~unlearnkit.engine.group.data_source`); with it, :meth:`ensure` can train
            the missing models as tasks.

    Attributes:
        trained_count: models trained (not reused) by this object so far.
    """

    def __init__(
        self,
        root: str | Path | None,
        kind: str,
        data: UnlearningData,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        *,
        split: Split | None = None,
        seed_base: int | None = None,
        retain_fraction: float = 0.5,
        train_fn: TrainFn | None = None,
        device: torch.device | str = "cpu",
        show_progress: bool = True,
        data_source: Any = None,
    ) -> None:
        if kind not in POOL_KINDS:
            raise ConfigError(f"unknown pool kind '{kind}'; choose one of {', '.join(POOL_KINDS)}")
        split = split if split is not None else data.split
        if split is None:
            raise ConfigError("a model pool needs the split (pass split=, or data from a split)")
        if kind == "shadow" and not 0 < retain_fraction <= 1:
            raise ConfigError(
                f"retain_fraction must be in (0, 1] (the share of retain per shadow model), "
                f"got {retain_fraction}"
            )
        if len(data.retain) == 0:
            raise ConfigError("the retain set is empty: a model pool has nothing to train on")
        self.root = root
        self.kind = kind
        self.data = data
        self.split = split
        self.model_cfg = model_cfg
        self.train_cfg = train_cfg
        self.seed_base = int(train_cfg.seed if seed_base is None else seed_base)
        self.retain_fraction = float(retain_fraction) if kind == "shadow" else None
        self.train_fn: TrainFn = train_fn if train_fn is not None else train_fresh
        self.device = torch.device(device)
        self.show_progress = show_progress
        self.key = pool_key(
            kind,
            split,
            model_cfg,
            train_cfg,
            self.seed_base,
            self.retain_fraction,
            data.content_sha256,
        )
        #: what tasks get instead of ``data``: a picklable callable returning it (the engine's)
        self.data_source = data_source if train_fn is None else None
        name = f"{split.config.dataset}-{kind}-{self.key}"
        self.path = Path(root) / name if root is not None else Path(name)  # None: on a worker
        self.trained_count = 0
        self._index: dict[str, Any] = self._read_index()

    # -- identity and layout --------------------------------------------------------------
    @property
    def n_retain(self) -> int:
        return len(self.data.retain)

    @property
    def n_forget(self) -> int:
        return len(self.data.forget)

    @property
    def population(self) -> np.ndarray:
        """Dataset indices of the candidate examples (shadow: train = retain then forget;
        retrain: retain)."""
        if self.kind == "shadow":
            return np.concatenate([self.data.retain.indices, self.data.forget.indices])
        return np.asarray(self.data.retain.indices)

    def seed(self, i: int) -> int:
        """Training seed of model ``i``."""
        return self.seed_base + int(i)

    def includes_forget(self, i: int) -> bool:
        """Whether model ``i`` trained on the forget set (shadow: even ``i``; retrain: never)."""
        return self.kind == "shadow" and int(i) % 2 == 0

    def retain_rows(self, i: int) -> np.ndarray:
        """Sorted rows of ``data.retain`` that model ``i`` trained on."""
        if self.kind == "retrain":
            return np.arange(self.n_retain)
        assert self.retain_fraction is not None
        m = max(1, round(self.retain_fraction * self.n_retain))
        rng = np.random.default_rng([self.seed(i), _SUBSET_SALT])
        return np.sort(rng.choice(self.n_retain, size=m, replace=False))

    def train_rows(self, i: int) -> np.ndarray:
        """Rows of :attr:`population` that model ``i`` trained on."""
        rows = self.retain_rows(i)
        if self.includes_forget(i):
            rows = np.concatenate([rows, self.n_retain + np.arange(self.n_forget)])
        return rows

    def train_set(self, i: int) -> TensorSet:
        """The examples model ``i`` trains on."""
        if self.kind == "retrain":
            return self.data.retain
        return self.data.train.subset(self.train_rows(i))

    def inclusion_mask(self, k: int | None = None) -> np.ndarray:
        """``(n_population, k)`` boolean: ``[j, i]`` is True iff model ``i`` trained on
        population example ``j`` (``k`` defaults to the models in the pool)."""
        k = len(self) if k is None else int(k)
        mask = np.zeros((len(self.population), k), dtype=bool)
        for i in range(k):
            mask[self.train_rows(i), i] = True
        return mask

    def forget_rows(self) -> np.ndarray:
        """Rows of :attr:`population` that are forget examples (shadow pools)."""
        return self.n_retain + np.arange(self.n_forget)

    def model_path(self, i: int) -> Path:
        return self.path / f"model-{int(i):04d}"

    def _identity(self, i: int) -> dict[str, Any]:
        rows = self.train_rows(i)
        return {
            "pool_key": self.key,
            "kind": self.kind,
            "index": int(i),
            "seed": self.seed(i),
            "includes_forget": self.includes_forget(i),
            "n_train": int(rows.size),
            "rows_sha256": hashlib.sha256(rows.astype("<i8").tobytes()).hexdigest(),
        }

    # -- index ------------------------------------------------------------------------------
    def _empty_index(self) -> dict[str, Any]:
        return {
            "format": POOL_FORMAT,
            "kind": self.kind,
            "key": self.key,
            "dataset": self.split.config.dataset,
            "split_sha256": self.split.sha256,
            "model": self.model_cfg.to_dict(),
            "train": {k: v for k, v in self.train_cfg.to_dict().items() if k != "seed"},
            "seed_base": self.seed_base,
            "retain_fraction": self.retain_fraction,
            "population_size": len(self.population),
            "n_forget": self.n_forget if self.kind == "shadow" else 0,
            "design": (
                "shadow: model i trains on a seeded random retain_fraction of retain, plus the "
                "whole forget set iff i is even; seed = seed_base + i"
                if self.kind == "shadow"
                else "retrain: model i trains on retain with seed = seed_base + i"
            ),
            "models": {},
        }

    def _read_index(self) -> dict[str, Any]:
        path = self.path / "index.json"
        if self.root is None or not path.is_file():
            return self._empty_index()
        try:
            index = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            log(f"[pool] {path} is unreadable; rebuilding it from the model files")
            return self._empty_index()
        if index.get("key") != self.key or index.get("format") != POOL_FORMAT:
            log(f"[pool] {path} belongs to another pool; rebuilding it from the model files")
            return self._empty_index()
        return index

    def _write_index(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.path / "index.json", json.dumps(self._index, indent=2, sort_keys=True)
        )
        if self.kind == "shadow":
            _atomic_save_npy(self.path / "inclusion.npy", self.inclusion_mask(len(self)))
            _atomic_save_npy(self.path / "population.npy", self.population.astype(np.int64))

    def __len__(self) -> int:
        """Number of consecutive models ``0..len-1`` recorded in the index."""
        n = 0
        while str(n) in self._index["models"]:
            n += 1
        return n

    @property
    def index(self) -> dict[str, Any]:
        """A copy of the index (what ``index.json`` holds)."""
        return json.loads(json.dumps(self._index))

    # -- building ---------------------------------------------------------------------------
    def _reusable(self, i: int) -> dict[str, Any] | None:
        """Metrics of model ``i`` if its checkpoint exists, loads and is the expected model."""
        path = self.model_path(i)
        try:
            _, meta = load_checkpoint(
                path,
                expect_dataset=self.split.config.dataset,
                expect_split_sha256=self.split.sha256,
                expect_model=self.model_cfg,
            )
        except CheckpointError:
            return None
        if (meta.extra or {}).get("identity") != self._identity(i):
            return None
        return dict(meta.metrics or {})

    def fit(self, i: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Train model ``i`` and return its weights (CPU) and metrics; writes nothing (a task
        body: :func:`fit_pool_model` runs it on a worker)."""
        train_set = self.train_set(i)
        recipe = self.train_cfg.replace(seed=self.seed(i))
        t0 = time.perf_counter()
        model, _ = self.train_fn(
            self.model_cfg,
            recipe,
            train_set,
            input_shape=self.data.input_shape,
            num_classes=self.data.num_classes,
            device=self.device,
            augment=self.data.augment,
            show_progress=False,
            desc=f"{self.kind} {i}",
        )
        metrics = {
            "wall_time": time.perf_counter() - t0,
            "train_acc": accuracy(model, train_set, self.device),
        }
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, metrics

    def store(self, i: int, state: dict[str, torch.Tensor], metrics: dict[str, Any]) -> None:
        """Save model ``i`` (weights from :meth:`fit`) and record it in the index."""
        model = build_model(self.model_cfg, self.data.input_shape, self.data.num_classes)
        model.load_state_dict(state)
        save_checkpoint(
            self.model_path(i),
            model,
            CheckpointMeta(
                model=self.model_cfg.to_dict(),
                input_shape=list(self.data.input_shape),
                num_classes=self.data.num_classes,
                dataset=self.split.config.dataset,
                split_sha256=self.split.sha256,
                role=f"pool-{self.kind}",
                train_config=self.train_cfg.replace(seed=self.seed(i)).to_dict(),
                metrics=metrics,
                extra={"identity": self._identity(i)},
            ),
        )
        self.trained_count += 1
        self._index["models"][str(i)] = self._entry(i, metrics, reused=False)
        self._write_index()

    def ensure(self, k: int, mapper: TaskMapper | None = None) -> int:
        """Make sure models ``0..k-1`` exist; train only the missing ones.

        Returns the number of models trained by this call (models already in the index, or
        checkpoints left by an interrupted run that load and match, are reused). With a
        ``mapper`` (the engine) the missing models train as tasks, in parallel; this process
        writes them as they come back.
        """
        k = int(k)
        if k < 1:
            raise ConfigError(f"a pool needs at least 1 model, got {k}")
        missing: list[int] = []
        changed = False
        for i in range(k):
            entry = self._index["models"].get(str(i))
            if entry is not None and self.model_path(i).with_suffix(".safetensors").is_file():
                continue
            metrics = self._reusable(i)
            if metrics is None:
                missing.append(i)
                continue
            self._index["models"][str(i)] = self._entry(i, metrics, reused=True)
            changed = True
        if changed or not (self.path / "index.json").is_file():
            self._write_index()
        if not missing:
            return 0
        log(
            f"[pool] {self.kind} pool {self.path.name}: training {len(missing)} of {k} models "
            f"({k - len(missing)} reused)",
            enabled=self.show_progress,
        )
        if mapper is not None and self.data_source is not None:
            calls = [(self.data_source, self.recipe_args(), i) for i in missing]
            for i, (state, metrics) in zip(missing, mapper.map(fit_pool_model, calls), strict=True):
                self.store(i, state, metrics)
            return len(missing)
        bar = progress(missing, enabled=self.show_progress, desc=f"{self.kind} pool", unit="model")
        for i in bar:
            self.store(i, *self.fit(i))
        return len(missing)

    def recipe_args(self) -> dict[str, Any]:
        """What a worker needs to rebuild this pool's recipe (:func:`fit_pool_model`)."""
        return {
            "kind": self.kind,
            "model_cfg": self.model_cfg,
            "train_cfg": self.train_cfg,
            "seed_base": self.seed_base,
            "retain_fraction": self.retain_fraction if self.kind == "shadow" else 0.5,
            "device": str(self.device),
        }

    def _entry(self, i: int, metrics: dict[str, Any], *, reused: bool) -> dict[str, Any]:
        return {
            "file": self.model_path(i).with_suffix(".safetensors").name,
            "seed": self.seed(i),
            "includes_forget": self.includes_forget(i),
            "n_train": int(self.train_rows(i).size),
            "wall_time": float(metrics.get("wall_time", float("nan"))),
            "train_acc": float(metrics.get("train_acc", float("nan"))),
            "recovered": reused,
        }

    def load(self, i: int, device: torch.device | str = "cpu") -> FeatureClassifier:
        """Model ``i`` in eval mode (it must have been built with :meth:`ensure`)."""
        if str(int(i)) not in self._index["models"]:
            raise ConfigError(
                f"model {i} of the {self.kind} pool {self.path} is not built; call ensure({i + 1})"
            )
        model, _ = load_checkpoint(
            self.model_path(i),
            expect_dataset=self.split.config.dataset,
            expect_split_sha256=self.split.sha256,
            expect_model=self.model_cfg,
            device=device,
        )
        return model.eval()

    def wall_time(self, k: int | None = None) -> float:
        """Summed training wall time of models ``0..k-1`` (as recorded when they were trained)."""
        k = len(self) if k is None else int(k)
        return float(sum(self._index["models"][str(i)]["wall_time"] for i in range(k)))
