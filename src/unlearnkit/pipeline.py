"""The main job, as library calls: dataset → split → original → retrain → methods → evaluation.

:func:`run_experiment` (``unlearnkit run``) expresses the job as engine tasks — one
:class:`~unlearnkit.engine.UnlearnTask` per method on one group — exactly as the benchmark
does for each of its groups, so the two give the same metrics for the same seed. The original
and retrain are cached on disk (safetensors + JSON), keyed by dataset, split hash, model and
training recipe, so repeated runs only pay for the unlearning methods and the evaluation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import unlearnkit
from unlearnkit.config import Config, option
from unlearnkit.data.batching import UnlearningData
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import Split, SplitConfig
from unlearnkit.engine import (
    DEFAULT_METHODS,
    REFERENCE_METHODS,
    Engine,
    EngineConfig,
    GroupSpec,
    TaskResult,
    UnlearnTask,
    recipe_defaults,
)
from unlearnkit.engine.group import (
    load_cached,
    model_cache_key,
    prepared_data,
    save_trained,
    store_trained,
    train_role,
)
from unlearnkit.evaluation import EvalConfig, EvaluationResult
from unlearnkit.methods import get_method_class
from unlearnkit.methods.retrain import retrain_recipe
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.records import atomic_write_text
from unlearnkit.training import TrainConfig
from unlearnkit.utils import resolve_device

__all__ = [
    "DEFAULT_METHODS",
    "REFERENCE_METHODS",
    "ExperimentResult",
    "RunConfig",
    "model_cache_key",
    "obtain_model",
    "recipe_defaults",
    "run_experiment",
    "save_trained",
]


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
    """Load the ``original`` / ``retrain`` model (trained with ``train_cfg``) from the cache
    or train (and cache) it, on these tensors. The engine's own path is
    :func:`unlearnkit.engine.group.obtain_model`; this form takes the split and data."""
    spec = GroupSpec(split.config, model_cfg, train_cfg, retrain_train=train_cfg)
    trained = load_cached(cache_dir, role, spec, split, show_progress) if cache_dir else None
    if trained is None:
        trained = train_role(spec, role, str(device), show_progress, data=data)
        if cache_dir is not None:
            store_trained(cache_dir, role, spec, trained, (split, data))
    model = build_model(model_cfg, data.input_shape, data.num_classes)
    model.load_state_dict(trained.state)
    return model.to(device).eval(), trained.record


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


def _outcomes(results: Mapping[str, TaskResult]) -> dict[str, dict[str, Any]]:
    """What each model's run produced (training records for original and retrain)."""
    out: dict[str, dict[str, Any]] = {}
    for result in results.values():
        row = result.row
        name = row["method"]
        if name in REFERENCE_METHODS:
            wall = row["info"].get("train_wall_time") if name == "original" else row["wall_time"]
            out[name] = {
                "wall_time": wall,
                "train_acc": row.get(f"{name}_train_acc"),
                "history": row["history"],
                "cached": row["info"].get("cached"),
            }
        else:
            out[name] = {"wall_time": row["wall_time"], "history": row["history"]}
            out[name]["info"] = row["info"]
        out[name]["config"] = row["method_config"]
    return out


def _evaluation(results: Mapping[str, TaskResult], split: Split, cfg: EvalConfig) -> Any:
    rows = {r.row["method"]: r.row["metrics"] for r in results.values()}
    notes = {r.row["method"]: list(r.row["notes"]) for r in results.values() if r.row["notes"]}
    scenario = split.config.scenario
    classes = tuple(split.config.forget_classes) if scenario != "random" else ()
    return EvaluationResult(
        rows=rows, scenario=scenario, forget_classes=classes, config=cfg.to_dict(), notes=notes
    )


def run_experiment(
    split_cfg: SplitConfig,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    run_cfg: RunConfig,
    eval_cfg: EvalConfig,
    method_cfgs: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    show_progress: bool = True,
    keep_models: bool = False,
    engine: EngineConfig | None = None,
) -> ExperimentResult:
    """Run the whole job once (as engine tasks, inline unless ``engine`` says otherwise) and
    return (not save) its result. A method that fails raises its error."""
    t0 = time.perf_counter()
    method_cfgs = dict(method_cfgs or {})
    for name in list(run_cfg.methods) + list(method_cfgs):
        get_method_class(name)  # unknown names fail before any training
    names = [*REFERENCE_METHODS, *(m for m in run_cfg.methods if m not in REFERENCE_METHODS)]
    configs = {
        name: get_method_class(name).config_cls.from_dict(method_cfgs.get(name, {}))
        for name in names
    }
    retrain = retrain_recipe(train_cfg, configs["retrain"].seed)
    spec = GroupSpec(split_cfg, model_cfg, train_cfg, retrain, data_dir=run_cfg.data_dir)
    keep = keep_models or run_cfg.save_models
    tasks = [UnlearnTask(spec, n, configs[n], eval_cfg, keep_model=keep) for n in names]
    cache = None if run_cfg.no_cache else Path(run_cfg.cache_dir or user_cache_dir())
    with Engine(engine, device=run_cfg.device, cache_dir=cache, show_progress=show_progress) as e:
        results = e.results(tasks)
    for result in results.values():
        if not result.ok:
            if result.error is not None:
                raise result.error
            raise RuntimeError(result.row["error"])
    split, data = prepared_data(spec)
    models = {}
    for result in results.values():
        if result.state is not None:
            models[result.row["method"]] = build_model(
                model_cfg, data.input_shape, data.num_classes
            )
            models[result.row["method"]].load_state_dict(result.state)
    config = {
        "split": split_cfg.to_dict(),
        "model": model_cfg.to_dict(),
        "train": train_cfg.to_dict(),
        "run": run_cfg.to_dict(),
        "eval": eval_cfg.to_dict(),
        "methods": {k: v.to_dict() for k, v in configs.items()},
        "device": str(resolve_device(run_cfg.device)),
        "torch": torch.__version__,
    }
    return ExperimentResult(
        evaluation=_evaluation(results, split, eval_cfg),
        outcomes=_outcomes(results),
        config=config,
        split=split,
        wall_time=time.perf_counter() - t0,
        models=models,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
    )
