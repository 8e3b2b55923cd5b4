"""The main job, as library calls: dataset → split → original → retrain → methods → evaluation.

``unlearnkit run`` and the benchmark runner both call :func:`run_experiment`. The original and
retrain models are cached on disk (safetensors + JSON), keyed by dataset, split hash, model and
training recipe, so repeated runs only pay for the unlearning methods and the evaluation.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import unlearnkit
from unlearnkit.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from unlearnkit.config import Config, option
from unlearnkit.data import get_dataset_spec, load_dataset
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.batching import UnlearningData, unlearning_data
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import Split, SplitConfig, atomic_write_text, make_split
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.evaluation import EvalConfig, EvaluationResult, evaluate_models
from unlearnkit.methods import MethodContext, UnlearnOutcome, create_method, get_method_class
from unlearnkit.methods.retrain import retrain_recipe
from unlearnkit.models import FeatureClassifier, ModelConfig
from unlearnkit.training import TrainConfig, accuracy, train_fresh
from unlearnkit.utils import log, resolve_device

#: every registered unlearning method (original and retrain are always added)
DEFAULT_METHODS = (
    "finetune",
    "gradient_ascent",
    "neggrad_plus",
    "random_labels",
    "l1_sparse",
    "salun",
    "scrub",
    "bad_teacher",
    "ssd",
    "sure",
)
REFERENCE_METHODS = ("original", "retrain")


@dataclass(frozen=True)
class RunConfig(Config):
    """Options of the main job that are not part of the split, model, recipe or methods."""

    methods: tuple[str, ...] = option(
        DEFAULT_METHODS,
        "unlearning methods to run (original and retrain are always included); "
        "see `unlearnkit list methods`",
    )
    device: str = option("auto", "device: auto (CUDA if available), cpu, cuda, cuda:N")
    data_dir: str | None = option(
        None, "folder with dataset files (see `unlearnkit list datasets`)"
    )
    cache_dir: str | None = option(
        None, "where trained original/retrain models are cached (default: ~/.cache/unlearnkit)"
    )
    no_cache: bool = option(False, "always train the original and retrain models afresh")
    save_models: bool = option(
        False,
        "also save every model (original, retrain, each method) as a checkpoint in "
        "OUT/models/<name>.safetensors (+ .json), e.g. for `unlearnkit evaluate`",
    )


def recipe_defaults(dataset: str) -> dict[str, dict[str, Any]]:
    """The dataset's default model and training settings (overridden by files and flags)."""
    try:
        spec = get_dataset_spec(dataset)
    except DataError:
        return {}
    return {k: dict(v) for k, v in spec.recipe.items()}


def model_cache_key(role: str, split: Split, model: ModelConfig, train: TrainConfig) -> str:
    blob = json.dumps(
        {
            "role": role,
            "split": split.sha256,
            "model": model.to_dict(),
            "train": train.to_dict(),
            "version": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


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


def obtain_model(
    role: str,
    split: Split,
    data: UnlearningData,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    *,
    device: torch.device,
    cache_dir: Path | None,
    show_progress: bool = True,
) -> tuple[FeatureClassifier, dict[str, Any]]:
    """Load the ``original`` / ``retrain`` model from the cache or train (and cache) it.

    Returns the model and a record with its wall time (of the training run that produced it,
    also when loaded from the cache) and final training metrics.
    """
    train_set = data.train if role == "original" else data.retain
    if cache_dir is not None:
        path = (
            cache_dir
            / "models"
            / f"{split.config.dataset}-{role}-{model_cache_key(role, split, model_cfg, train_cfg)}"
        )
        try:
            model, meta = load_checkpoint(
                path,
                expect_dataset=split.config.dataset,
                expect_split_sha256=split.sha256,
                expect_model=model_cfg,
                device=device,
            )
            log(f"[{role}] loaded from cache {path}.safetensors", enabled=show_progress)
            return model.eval(), {**(meta.metrics or {}), "cached": True}
        except CheckpointError:
            pass
    model, result = train_fresh(
        model_cfg,
        train_cfg,
        train_set,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        device=device,
        augment=data.augment,
        show_progress=show_progress,
        desc=role,
    )
    record = {
        "wall_time": result.wall_time,
        "train_acc": accuracy(model, train_set, device),
        "history": result.history,
    }
    if cache_dir is not None:
        save_trained(
            path,
            model,
            role=role,
            split=split,
            input_shape=data.input_shape,
            num_classes=data.num_classes,
            model_cfg=model_cfg,
            train_cfg=train_cfg,
            metrics=record,
        )
    return model.eval(), {**record, "cached": False}


@dataclass
class ExperimentResult:
    """Everything one run produced."""

    evaluation: EvaluationResult
    outcomes: dict[str, dict[str, Any]]
    config: dict[str, Any]
    split: Split
    wall_time: float
    models: dict[str, FeatureClassifier] = field(default_factory=dict)
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": unlearnkit.__version__,
            "config": self.config,
            "split_sha256": self.split.sha256,
            "split_sizes": self.split.summary(),
            "evaluation": self.evaluation.to_dict(),
            "methods": self.outcomes,
            "wall_time": self.wall_time,
        }

    def save(self, out_dir: str | Path) -> Path:
        """Write results.json, results.md, config.json and split.json (each atomically)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            out / "results.json", json.dumps(self.to_dict(), indent=2, default=_jsonable)
        )
        atomic_write_text(out / "results.md", self.markdown())
        atomic_write_text(out / "config.json", json.dumps(self.config, indent=2, sort_keys=True))
        self.split.save(out / "split.json")
        for name, model in self.models.items():
            save_trained(
                out / "models" / name,
                model,
                role=name,
                split=self.split,
                input_shape=self.input_shape,
                num_classes=self.num_classes,
                model_cfg=self.config["model"],
                train_cfg=self.config["train"],
                metrics={"wall_time": self.outcomes.get(name, {}).get("wall_time")},
                extra={"method_config": self.config["methods"].get(name)},
            )
        return out

    def markdown(self) -> str:
        cfg = self.config
        sizes = ", ".join(f"{k} {v}" for k, v in self.split.summary().items())
        lines = [
            "# unlearnkit results",
            "",
            f"- dataset: `{cfg['split']['dataset']}`, scenario `{cfg['split']['scenario']}`, "
            f"split {self.split.sha256[:12]} ({sizes})",
            f"- model: `{cfg['model']['name']}`; original train accuracy "
            f"{100 * self.outcomes['original'].get('train_acc', float('nan')):.2f}%",
            f"- total wall time {self.wall_time:.1f} s; unlearnkit {unlearnkit.__version__}",
            "",
            self.evaluation.table(markdown=True),
            "",
        ]
        return "\n".join(lines)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def run_experiment(
    split_cfg: SplitConfig,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    run_cfg: RunConfig,
    eval_cfg: EvalConfig,
    method_cfgs: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    dataset: ArrayDataset | None = None,
    split: Split | None = None,
    show_progress: bool = True,
    keep_models: bool = False,
) -> ExperimentResult:
    """Run the whole pipeline once and return (not save) its result."""
    t0 = time.perf_counter()
    method_cfgs = dict(method_cfgs or {})
    for name in list(run_cfg.methods) + list(method_cfgs):
        get_method_class(name)  # unknown names fail before any training
    methods = [m for m in run_cfg.methods if m not in REFERENCE_METHODS]
    configs = {
        name: get_method_class(name).config_cls.from_dict(method_cfgs.get(name, {}))
        for name in [*REFERENCE_METHODS, *methods]
    }
    device = resolve_device(run_cfg.device)
    ds = dataset if dataset is not None else load_dataset(split_cfg.dataset, run_cfg.data_dir)
    if model_cfg.name == "cnn" and not ds.is_image:
        raise ConfigError(f"dataset '{ds.name}' is tabular; use --model mlp")
    split = split if split is not None else make_split(ds, split_cfg)
    data = unlearning_data(ds, split, augment=train_cfg.augment)
    cache = None if run_cfg.no_cache else Path(run_cfg.cache_dir or user_cache_dir())
    log(
        f"[run] {ds.name}: {', '.join(f'{k} {v}' for k, v in split.summary().items())}; "
        f"device {device}",
        enabled=show_progress,
    )

    original, orig_rec = obtain_model(
        "original",
        split,
        data,
        model_cfg,
        train_cfg,
        device=device,
        cache_dir=cache,
        show_progress=show_progress,
    )
    retrained, re_rec = obtain_model(
        "retrain",
        split,
        data,
        model_cfg,
        retrain_recipe(train_cfg, configs["retrain"].seed),
        device=device,
        cache_dir=cache,
        show_progress=show_progress,
    )
    frozen = copy.deepcopy(original).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    context = MethodContext(model_cfg, train_cfg, original=frozen, show_progress=show_progress)

    models: dict[str, FeatureClassifier] = {"original": original, "retrain": retrained}
    outcomes: dict[str, dict[str, Any]] = {
        "original": {**orig_rec, "config": configs["original"].to_dict()},
        "retrain": {**re_rec, "config": configs["retrain"].to_dict()},
    }
    wall = {"original": 0.0, "retrain": float(re_rec.get("wall_time", float("nan")))}
    for name in methods:
        method = create_method(name, configs[name])
        log(f"[run] unlearning with {name}", enabled=show_progress)
        outcome: UnlearnOutcome = method.unlearn(
            copy.deepcopy(original), data, device=device, context=context
        )
        models[name] = outcome.model
        wall[name] = outcome.wall_time
        outcomes[name] = {
            "wall_time": outcome.wall_time,
            "history": outcome.history,
            "info": outcome.info,
            "config": configs[name].to_dict(),
        }
    evaluation = evaluate_models(
        models, data, device=device, config=eval_cfg, wall_times=wall, show_progress=show_progress
    )
    config = {
        "split": split_cfg.to_dict(),
        "model": model_cfg.to_dict(),
        "train": train_cfg.to_dict(),
        "run": run_cfg.to_dict(),
        "eval": eval_cfg.to_dict(),
        "methods": {k: v.to_dict() for k, v in configs.items()},
        "device": str(device),
        "torch": torch.__version__,
    }
    return ExperimentResult(
        evaluation=evaluation,
        outcomes=outcomes,
        config=config,
        split=split,
        wall_time=time.perf_counter() - t0,
        models=models if (keep_models or run_cfg.save_models) else {},
        input_shape=data.input_shape,
        num_classes=data.num_classes,
    )
