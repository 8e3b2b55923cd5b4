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
from collections.abc import Callable, Mapping
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
from unlearnkit.errors import UnlearnkitError
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
    #: methods that failed (diverged, raised): name → error message
    failed: dict[str, str] = field(default_factory=dict)

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

    def save(self, out_dir: str | Path, *, with_models: bool = True) -> Path:
        """Write results.json, results.md, config.json and split.json (each atomically), and
        the kept models unless ``with_models`` is False (partial saves during a run)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            out / "results.json", json.dumps(self.to_dict(), indent=2, default=_jsonable)
        )
        atomic_write_text(out / "results.md", self.markdown())
        atomic_write_text(out / "config.json", json.dumps(self.config, indent=2, sort_keys=True))
        self.split.save(out / "split.json")
        for name, model in (self.models if with_models else {}).items():
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
        if self.failed:
            lines += ["## Failed methods", ""]
            lines += [f"- `{name}` failed: {error}" for name, error in self.failed.items()]
            lines.append("")
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
    on_progress: Callable[[ExperimentResult], object] | None = None,
) -> ExperimentResult:
    """Run the whole job once (as engine tasks, inline unless ``engine`` says otherwise) and
    return (not save) its result.

    A method that fails (diverges, raises) is recorded in ``result.failed`` and in its
    outcome (``status`` ``failed``, ``error``) while the others complete. ``on_progress``
    receives the result so far after every finished method once original and retrain are
    there (``unlearnkit run`` saves it, so a late error keeps what was done). When the
    original or the retrain cannot be obtained there is nothing to compare with: that error
    is raised.
    """
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
    results: dict[str, TaskResult] = {}

    def assemble() -> ExperimentResult:
        return _assemble(results, spec, config, eval_cfg, time.perf_counter() - t0)

    def finished(task: UnlearnTask, result: TaskResult) -> None:
        results[task.method] = result
        if not result.ok and task.method in REFERENCE_METHODS:
            return
        if on_progress is not None and all(
            r in results and results[r].ok for r in REFERENCE_METHODS
        ):
            on_progress(assemble())

    with Engine(engine, device=run_cfg.device, cache_dir=cache, show_progress=show_progress) as e:
        e.run(tasks, finished)
    for role in REFERENCE_METHODS:
        if role in results and not results[role].ok:
            error = results[role].error
            if isinstance(error, UnlearnkitError):
                raise error
            raise UnlearnkitError(
                f"the {role} model could not be obtained: {results[role].row['error']}"
            )
    return assemble()


def _assemble(
    results: Mapping[str, TaskResult],
    spec: GroupSpec,
    config: dict[str, Any],
    eval_cfg: EvalConfig,
    wall_time: float,
) -> ExperimentResult:
    """The result of the methods finished so far (failed ones in ``failed``)."""
    split, data = prepared_data(spec)
    ok = {name: r for name, r in results.items() if r.ok}
    failed = {name: str(r.row.get("error", "failed")) for name, r in results.items() if not r.ok}
    models = {}
    for name, result in ok.items():
        if result.state is not None:
            models[name] = build_model(spec.model, data.input_shape, data.num_classes)
            models[name].load_state_dict(result.state)
    outcomes = {name: {"status": "ok", **o} for name, o in _outcomes(ok).items()}
    for name, error in failed.items():
        outcomes[name] = {"status": "failed", "error": error, "config": config["methods"][name]}
    return ExperimentResult(
        evaluation=_evaluation(ok, split, eval_cfg),
        outcomes=outcomes,
        config=config,
        split=split,
        wall_time=wall_time,
        models=models,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        failed=failed,
    )
