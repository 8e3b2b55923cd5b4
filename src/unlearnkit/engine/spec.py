"""What the engine runs: groups, tasks and their content-addressed keys (no torch work here).

A :class:`GroupSpec` names one prepared *group*: a dataset, one split of it, the original's
recipe and the retrain's recipe. An :class:`UnlearnTask` is one method config on one group,
evaluated on one target (``test``, or ``val`` standing in for test when tuning) into one row.
A :class:`PoolTask` trains one model of a per-example-attack pool. Every key is a
:func:`~unlearnkit.records.stable_hash` of everything that determines the result, and of
nothing else (not the device, the executor, the cache folder or the output folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from unlearnkit.config import Config, option
from unlearnkit.data import get_dataset_spec
from unlearnkit.data.splits import SplitConfig
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.evaluation import EvalConfig
from unlearnkit.methods import MethodConfig, get_method_class, method_names
from unlearnkit.methods.retrain import retrain_recipe
from unlearnkit.models import ModelConfig
from unlearnkit.records import stable_hash
from unlearnkit.training import TrainConfig

__all__ = [
    "DEFAULT_METHODS",
    "EVAL_TARGETS",
    "REFERENCE_METHODS",
    "EngineConfig",
    "GroupSpec",
    "PoolTask",
    "SideOutputs",
    "UnlearnTask",
    "recipe_defaults",
]

#: the two models every group has; they are evaluated like methods
REFERENCE_METHODS = ("original", "retrain")
#: every registered unlearning method, in registry order (original and retrain always added)
DEFAULT_METHODS = tuple(m for m in method_names() if m not in REFERENCE_METHODS)
#: what an unlearn task is evaluated on: the test split, or val in its place (tuning)
EVAL_TARGETS = ("test", "val")


@dataclass(frozen=True)
class EngineConfig(Config):
    """Where the tasks run: inline (default) or on Ray. None of it changes a result."""

    section = "engine"

    workers: int = option(
        0,
        "run tasks on a local Ray runtime with this many workers (0 = inline in this "
        "process, the default; needs the ray extra: pip install 'unlearnkit[ray]')",
    )
    ray_address: str | None = option(
        None,
        "join an existing Ray cluster at this address (e.g. ray://head:10001 or auto); "
        "default: $RAY_ADDRESS when set and --workers is given",
    )
    cpus_per_task: float = option(1.0, "CPUs each task reserves on Ray (torch threads = this)")
    gpus_per_task: float = option(
        0.0,
        "GPUs each task reserves on Ray; fractions share one GPU between small models "
        "(e.g. 0.25 = four tasks per GPU). 0 on CPU-only clusters",
    )

    def validate(self) -> None:
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0 (0 = inline), got {self.workers}")
        if self.cpus_per_task <= 0:
            raise ConfigError(f"--cpus-per-task must be > 0, got {self.cpus_per_task}")
        if self.gpus_per_task < 0:
            raise ConfigError(f"--gpus-per-task must be >= 0, got {self.gpus_per_task}")

    @property
    def inline(self) -> bool:
        return self.workers == 0 and not self.ray_address


def recipe_defaults(dataset: str) -> dict[str, dict[str, Any]]:
    """The dataset's default model and training settings (overridden by files and flags)."""
    try:
        spec = get_dataset_spec(dataset)
    except DataError:
        return {}
    return {k: dict(v) for k, v in spec.recipe.items()}


@dataclass(frozen=True)
class GroupSpec:
    """One group: dataset + split, the original's recipe, the retrain's recipe.

    ``retrain_train`` defaults to the original's recipe with the retrain's own derived seed
    (:func:`~unlearnkit.methods.retrain.retrain_recipe`). ``data_dir`` says where the dataset
    files are and is not part of the key.
    """

    split: SplitConfig
    model: ModelConfig
    train: TrainConfig
    retrain_train: TrainConfig | None = None
    data_dir: str | None = field(default=None, compare=False)

    @property
    def retrain_recipe(self) -> TrainConfig:
        if self.retrain_train is not None:
            return self.retrain_train
        return retrain_recipe(self.train)

    def payload(self) -> dict[str, Any]:
        """Everything that determines the group's models (hashed into every key)."""
        out: dict[str, Any] = {
            "split": self.split.to_dict(),
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
        }
        if self.retrain_recipe != self.train:
            out["retrain_train"] = self.retrain_recipe.to_dict()
        return out

    @property
    def key(self) -> str:
        """The group's id (12 hex digits)."""
        return stable_hash(self.payload(), 12)

    @property
    def dataset(self) -> str:
        return self.split.dataset

    def recipe(self, role: str) -> TrainConfig:
        """The recipe of ``original`` or ``retrain``."""
        if role not in REFERENCE_METHODS:
            raise ConfigError(f"a group trains 'original' or 'retrain', not '{role}'")
        return self.train if role == "original" else self.retrain_recipe


@dataclass(frozen=True)
class SideOutputs:
    """Per-example arrays an unlearn task returns besides its row (they do not change it).

    ``scores``: forget losses and the attack's test negatives' losses (ROC curves);
    ``embedding_sample``: that many embeddings per part (forget, val, test) for a PCA figure.
    """

    scores: bool = False
    embedding_sample: int = 0


@dataclass(frozen=True)
class UnlearnTask:
    """Unlearn ``method`` (with ``config``) on ``group``'s original and evaluate it on
    ``target`` against the group's retrain: one row. ``original`` and ``retrain`` as methods
    evaluate the group's own models.

    ``labels`` are copied into the row (e.g. the benchmark's ``seed`` and grid ``entry``);
    ``side`` asks for per-example arrays; ``keep_model`` returns the model's weights. None of
    the three is part of :attr:`key`.
    """

    group: GroupSpec
    method: str
    config: MethodConfig
    eval: EvalConfig
    target: str = "test"
    labels: Mapping[str, Any] = field(default_factory=dict, compare=False)
    side: SideOutputs = field(default_factory=SideOutputs, compare=False)
    keep_model: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.target not in EVAL_TARGETS:
            raise ConfigError(
                f"evaluation target must be one of {', '.join(EVAL_TARGETS)}, got '{self.target}'"
            )
        cls = get_method_class(self.method).config_cls
        if not isinstance(self.config, cls):
            raise ConfigError(
                f"method '{self.method}' needs a {cls.__name__}, got {type(self.config).__name__}"
            )

    def payload(self) -> dict[str, Any]:
        out = {
            **self.group.payload(),
            "dataset": self.group.dataset,
            "seed": self.group.split.seed,
            "method": self.method,
            "method_config": self.config.to_dict(),
            "eval": self.eval.to_dict(),
        }
        if self.target != "test":
            out["target"] = self.target
        return out

    @property
    def key(self) -> str:
        """The task's id (16 hex digits): its row's ``run_id``."""
        return stable_hash(self.payload())


@dataclass(frozen=True)
class PoolTask:
    """Train model ``index`` of a per-example-attack pool (see
    :class:`~unlearnkit.attacks.pools.ModelPool`): ``kind`` ``"retrain"`` or ``"shadow"``."""

    group: GroupSpec
    kind: str
    index: int
    seed_base: int
    retain_fraction: float | None = None

    def payload(self) -> dict[str, Any]:
        return {
            **self.group.payload(),
            "pool": self.kind,
            "index": int(self.index),
            "seed_base": int(self.seed_base),
            "retain_fraction": self.retain_fraction,
        }

    @property
    def key(self) -> str:
        return stable_hash(self.payload())
