"""Groups: dataset → split → original → retrain → reference outputs, built by one function.

Two halves, so that a group is trained once and then shared with any number of workers:

* :func:`group_models` (driver side) returns a group's :class:`GroupModels` — the weights and
  training records of its original and retrain — from the on-disk model cache, training the
  missing ones through :func:`train_role` (a task the executor may run anywhere);
* :func:`build_group` (wherever tasks run) turns a :class:`GroupSpec` and its
  :class:`GroupModels` into a ready :class:`Group`: the data tensors, both models, and the
  reference outputs (collected once per process and evaluation setting, memoised).

Datasets and groups are memoised per process (the last dataset, the last two groups), so a
worker that runs many tasks of one group builds it once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearnkit.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from unlearnkit.data import load_dataset
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.batching import UnlearningData, unlearning_data
from unlearnkit.data.splits import Split, make_split
from unlearnkit.engine.spec import REFERENCE_METHODS, GroupSpec
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig, ModelOutputs, collect_for_eval, relearn_eval_rows
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.training import TrainConfig, accuracy, train_fresh
from unlearnkit.utils import log

__all__ = [
    "Group",
    "GroupModels",
    "TrainedModel",
    "build_group",
    "data_source",
    "group_models",
    "load_cached",
    "model_cache_key",
    "obtain_model",
    "prepared_data",
    "save_trained",
    "store_trained",
    "train_role",
]


@dataclass
class TrainedModel:
    """The weights (CPU state dict) of one trained model and its training record."""

    state: dict[str, torch.Tensor]
    record: dict[str, Any]


@dataclass
class GroupModels:
    """A group's original and retrain as weights: what is shipped to workers once."""

    split_sha256: str
    original: TrainedModel
    retrain: TrainedModel

    def __getitem__(self, role: str) -> TrainedModel:
        return self.original if role == "original" else self.retrain


# --------------------------------------------------------------------------- data


_DATASETS: OrderedDict[tuple[str, str | None], ArrayDataset] = OrderedDict()
_DATA: OrderedDict[str, tuple[Split, UnlearningData]] = OrderedDict()
#: the dataset content hash (:attr:`ArrayDataset.content_sha256`) behind each prepared group
_CONTENT: dict[str, str] = {}


_STAMPS: dict[tuple[str, str | None], tuple[Any, ...]] = {}


def _stamp(ds: ArrayDataset) -> tuple[Any, ...]:
    """(path, mtime, size) of every file the dataset was read from (None where unreadable)."""
    out: list[Any] = []
    for f in ds.files:
        try:
            st = os.stat(f)
            out.append((f, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((f, None))
    return tuple(out)


def _dataset(name: str, data_dir: str | None) -> ArrayDataset:
    """The dataset, memoised per process and reloaded when one of its files changed (so a
    long-lived process never computes on, or keys caches by, stale data)."""
    key = (name, data_dir)
    if key in _DATASETS and _STAMPS.get(key) != _stamp(_DATASETS[key]):
        _DATASETS.clear()
        _DATA.clear()
        _CONTENT.clear()
    if key not in _DATASETS:
        _DATASETS.clear()  # keep one dataset in memory per process
        _STAMPS.clear()
        ds = load_dataset(name, data_dir)
        _DATASETS[key] = ds
        _STAMPS[key] = _stamp(ds)
    return _DATASETS[key]


def dataset_sha256(spec: GroupSpec) -> str:
    """The content hash of the group's dataset as its files are now (loads it if needed)."""
    return _dataset(spec.dataset, spec.data_dir).content_sha256


def describe_data(spec: GroupSpec) -> str:
    """One line on the group's dataset: which files were read, from where, its content hash."""
    return _dataset(spec.dataset, spec.data_dir).describe()


def prepared_data(spec: GroupSpec) -> tuple[Split, UnlearningData]:
    """The group's split and tensors (memoised per process: the last two groups; dropped when
    the dataset's files change)."""
    _dataset(spec.dataset, spec.data_dir)
    if spec.key in _DATA:
        _DATA.move_to_end(spec.key)
        return _DATA[spec.key]
    ds = _dataset(spec.dataset, spec.data_dir)
    if spec.model.name == "cnn" and not ds.is_image:
        raise ConfigError(f"dataset '{ds.name}' is tabular; use the mlp model (--model mlp)")
    split = make_split(ds, spec.split)
    data = unlearning_data(ds, split, augment=spec.train.augment)
    _DATA[spec.key] = (split, data)
    _CONTENT[spec.key] = ds.content_sha256
    while len(_DATA) > 2:
        _DATA.popitem(last=False)
    return split, data


def data_of(spec: GroupSpec) -> UnlearningData:
    """The group's tensors (:func:`prepared_data`)."""
    return prepared_data(spec)[1]


def data_source(spec: GroupSpec) -> Callable[[], UnlearningData]:
    """A picklable callable that returns the group's tensors wherever it is called (what the
    attacks' tasks receive instead of the tensors themselves)."""
    return functools.partial(data_of, spec)


# --------------------------------------------------------------------------- model cache


def content_sha256(spec: GroupSpec) -> str | None:
    """The content hash of the dataset behind ``spec`` (None before it was prepared here)."""
    return _CONTENT.get(spec.key)


def model_cache_key(
    role: str,
    split: Split,
    model: ModelConfig,
    train: TrainConfig,
    data_sha256: str | None = None,
) -> str:
    """The cache key of a trained original / retrain: role, split (indices), model, recipe
    and, when known, the dataset's content hash (other files, same indices: another model)."""
    payload = {
        "role": role,
        "split": split.sha256,
        "model": model.to_dict(),
        "train": train.to_dict(),
        "version": 1,
    }
    if data_sha256 is not None:
        payload["data"] = data_sha256
    blob = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cache_path(cache_dir: Path, role: str, split: Split, spec: GroupSpec) -> Path:
    key = model_cache_key(role, split, spec.model, spec.recipe(role), content_sha256(spec))
    return cache_dir / "models" / f"{split.config.dataset}-{role}-{key}"


def save_trained(
    path: str | Path,
    model: FeatureClassifier,
    *,
    role: str,
    split: Split,
    input_shape: tuple[int, ...],
    num_classes: int,
    model_cfg: ModelConfig | dict[str, Any],
    train_cfg: TrainConfig | dict[str, Any],
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save a model of this split as a checkpoint (weights + sidecar with everything to check)."""
    as_dict = lambda c: c if isinstance(c, dict) else c.to_dict()  # noqa: E731
    meta = CheckpointMeta(
        model=as_dict(model_cfg),
        input_shape=list(input_shape),
        num_classes=num_classes,
        dataset=split.config.dataset,
        split_sha256=split.sha256,
        role=role,
        train_config=as_dict(train_cfg),
        metrics=metrics,
        extra=extra,
    )
    return save_checkpoint(path, model, meta)


def load_cached(
    cache_dir: Path, role: str, spec: GroupSpec, split: Split, show_progress: bool = False
) -> TrainedModel | None:
    """The cached ``role`` model of the group, or None when the cache has none (or a bad one)."""
    path = _cache_path(cache_dir, role, split, spec)
    try:
        model, meta = load_checkpoint(
            path,
            expect_dataset=split.config.dataset,
            expect_split_sha256=split.sha256,
            expect_model=spec.model,
        )
    except CheckpointError:
        return None
    log(f"[{role}] loaded from cache {path}.safetensors", enabled=show_progress)
    return TrainedModel(_cpu_state(model), {**(meta.metrics or {}), "cached": True})


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def train_role(
    spec: GroupSpec,
    role: str,
    device: str = "auto",
    show_progress: bool = False,
    data: UnlearningData | None = None,
) -> TrainedModel:
    """Train the group's ``original`` (on train) or ``retrain`` (on retain): a task.

    ``data`` defaults to the group's own tensors (:func:`prepared_data`)."""
    from unlearnkit.utils import resolve_device

    if data is None:
        _, data = prepared_data(spec)
    dev = resolve_device(device)
    train_set = data.train if role == "original" else data.retain
    model, result = train_fresh(
        spec.model,
        spec.recipe(role),
        train_set,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        device=dev,
        augment=data.augment,
        show_progress=show_progress,
        desc=role,
    )
    record = {
        "wall_time": result.wall_time,
        "train_acc": accuracy(model, train_set, dev),
        "history": result.history,
        "cached": False,
    }
    return TrainedModel(_cpu_state(model), record)


def store_trained(
    cache_dir: Path,
    role: str,
    spec: GroupSpec,
    trained: TrainedModel,
    prepared: tuple[Split, UnlearningData] | None = None,
) -> None:
    """Write a freshly trained ``role`` model into the cache (the driver does this)."""
    split, data = prepared if prepared is not None else prepared_data(spec)
    model = _rebuild(spec.model, data, trained.state)
    record = {k: v for k, v in trained.record.items() if k != "cached"}
    save_trained(
        _cache_path(cache_dir, role, split, spec),
        model,
        role=role,
        split=split,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        model_cfg=spec.model,
        train_cfg=spec.recipe(role),
        metrics=record,
    )


def group_models(
    spec: GroupSpec,
    cache_dir: Path | None,
    *,
    device: str = "auto",
    show_progress: bool = False,
) -> GroupModels:
    """The group's original and retrain: from the cache, else trained here (and cached).

    The engine does the same through its executor (:meth:`Engine.models`); this is the
    one-process form, e.g. for a script that needs one group."""
    split, _ = prepared_data(spec)
    got: dict[str, TrainedModel] = {}
    for role in REFERENCE_METHODS:
        cached = load_cached(cache_dir, role, spec, split, show_progress) if cache_dir else None
        if cached is None:
            cached = train_role(spec, role, device, show_progress)
            if cache_dir is not None:
                store_trained(cache_dir, role, spec, cached)
        got[role] = cached
    return GroupModels(split.sha256, got["original"], got["retrain"])


def obtain_model(
    role: str,
    spec: GroupSpec,
    cache_dir: Path | None,
    *,
    device: torch.device | str = "cpu",
    show_progress: bool = False,
) -> tuple[FeatureClassifier, dict[str, Any]]:
    """One of the group's two models, ready on ``device`` (cache, else trained and cached)."""
    split, data = prepared_data(spec)
    trained = load_cached(cache_dir, role, spec, split, show_progress) if cache_dir else None
    if trained is None:
        trained = train_role(spec, role, str(device), show_progress)
        if cache_dir is not None:
            store_trained(cache_dir, role, spec, trained)
    return _rebuild(spec.model, data, trained.state).to(device).eval(), trained.record


# --------------------------------------------------------------------------- built groups


def _rebuild(cfg: ModelConfig, data: UnlearningData, state: dict[str, Any]) -> FeatureClassifier:
    model = build_model(cfg, data.input_shape, data.num_classes)
    model.load_state_dict(state)
    return model.eval()


@dataclass
class Group:
    """A ready group: tensors, the original and retrain models, their training records, and
    memoised reference outputs (per evaluation setting)."""

    spec: GroupSpec
    split: Split
    data: UnlearningData
    models: dict[str, FeatureClassifier]
    records: dict[str, dict[str, Any]]
    _outputs: dict[Any, ModelOutputs] = field(default_factory=dict, repr=False)

    def outputs(self, role: str, cfg: EvalConfig, device: torch.device) -> ModelOutputs:
        """``role``'s outputs on retain (capped), forget, val and test, collected once."""
        collect = ("batch_size", "max_retain", "seed", "layerwise", "layers", "layer_max_rows")
        key = (role, str(device), *(getattr(cfg, k) for k in collect))
        if key not in self._outputs:
            self._outputs[key] = collect_for_eval(self.models[role], self.data, device, cfg, role)
        return self._outputs[key]

    def relearn_target(self, cfg: EvalConfig, device: torch.device) -> float:
        """The original's accuracy on the forget rows the relearn check uses."""
        rows = relearn_eval_rows(len(self.data.forget), cfg.seed)
        return float(self.outputs("original", cfg, device)["forget"].correct[rows].mean())


_GROUPS: OrderedDict[str, tuple[str, Group]] = OrderedDict()


def _models_fingerprint(models: GroupModels) -> str:
    """Tells two GroupModels of one spec apart (a retrained or reloaded pair): their records."""
    records = {r: models[r].record for r in REFERENCE_METHODS}
    blob = json.dumps(records, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def build_group(spec: GroupSpec, models: GroupModels, device: torch.device | str = "cpu") -> Group:
    """The ready :class:`Group` of ``spec`` with ``models`` (memoised per process, while the
    data and the models stay the same: new data or newly trained models build it anew)."""
    key = f"{spec.key}:{device}"
    split, data = prepared_data(spec)
    fingerprint = _models_fingerprint(models)
    if key in _GROUPS and _GROUPS[key][0] == fingerprint and _GROUPS[key][1].data is data:
        _GROUPS.move_to_end(key)
        return _GROUPS[key][1]
    if split.sha256 != models.split_sha256:
        raise ConfigError(
            f"the group's models belong to split {models.split_sha256[:12]}…, but its split here "
            f"is {split.sha256[:12]}…: the dataset differs between the driver and this worker"
        )
    built = Group(
        spec,
        split,
        data,
        {r: _rebuild(spec.model, data, models[r].state).to(device) for r in REFERENCE_METHODS},
        {r: models[r].record for r in REFERENCE_METHODS},
    )
    _GROUPS[key] = (fingerprint, built)
    while len(_GROUPS) > 2:
        _GROUPS.popitem(last=False)
    return built
