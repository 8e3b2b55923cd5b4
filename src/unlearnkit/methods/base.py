"""The method framework: one interface, one registry, one shared training loop.

A method is a subclass of :class:`UnlearningMethod` with a ``name`` (lowercase snake_case
registry key), a config dataclass, a one-line description and its paper. Most methods only
implement :meth:`UnlearningMethod.loss` (and maybe :meth:`setup` / :meth:`after_step`); the
shared loop in :meth:`UnlearningMethod.unlearn` does the rest: explicit device, seeded batch
order, optimiser and lr schedule from the config, a progress bar, a per-epoch log (losses,
forget/retain accuracy on fixed subsets, method-specific values), NaN/inf detection, wall time.

Adding a method = one file with a subclass decorated by :func:`register_method` + one import
line in ``methods/__init__.py`` + one row in the shared parametrised test.
"""

from __future__ import annotations

import contextlib
import copy
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from unlearnkit.config import Config, option
from unlearnkit.data.batching import CyclingSampler, TensorSet, UnlearningData, batch_indices
from unlearnkit.errors import ConfigError
from unlearnkit.methods.space import SearchSpace
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.training import TrainConfig, accuracy, autocast, set_memory_format
from unlearnkit.utils import FiniteCheck, generator, log, progress, seed_all

Batch = dict[str, tuple[torch.Tensor, torch.Tensor]]

# how many examples of forget / retain the per-epoch log evaluates (fixed, first rows)
MONITOR_SIZE = 1000


@dataclass(frozen=True)
class MethodConfig(Config):
    """Base config of every method."""

    seed: int | None = option(
        0, "seed of the method's randomness (batch order, random labels, ...)"
    )


@dataclass(frozen=True)
class LoopConfig(MethodConfig):
    """Config of methods that train with the shared loop."""

    epochs: int = option(5, "epochs over the method's primary set")
    batch_size: int = option(64, "mini-batch size")
    lr: float = option(0.01, "learning rate")
    optimizer: str = option("sgd", "optimiser of the model's parameters", choices=("sgd", "adam"))
    momentum: float = option(0.9, "SGD momentum")
    weight_decay: float = option(5e-4, "weight decay")
    schedule: str = option(
        "constant", "lr schedule over the run", choices=("constant", "cosine", "linear")
    )
    grad_clip: float = option(0.0, "clip the gradient norm of the model to this (0 = off)")

    def validate(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.grad_clip < 0:
            raise ConfigError(f"grad_clip must be >= 0 (0 = off), got {self.grad_clip}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


def schedule_factor(kind: str, p: float) -> float:
    """lr multiplier at progress ``p`` ∈ [0, 1] (pure function)."""
    p = min(max(p, 0.0), 1.0)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "linear":
        return 1.0 - p
    return 1.0


#: ``train_fn(model, retain, device)``: the user's own training of a fresh model, in place
TrainFn = Callable[[FeatureClassifier, TensorSet, torch.device], None]


@dataclass
class MethodContext:
    """What a method may need besides the model and the data. Every field is optional; a
    method that needs one it lacks says so.

    - ``original``: a frozen copy of the original model (teachers, references);
    - how to build a fresh model of the same architecture (``retrain``, ``bad_teacher``'s
      incompetent teacher): ``model_fn()`` (the user's own constructor) if given, else
      ``build_model(model_config, ...)`` of the built-in zoo;
    - how to train it from scratch (``retrain``): ``train_fn(model, retain, device)`` if given,
      else unlearnkit's recipe ``train_config``.
    """

    model_config: ModelConfig | None = None
    train_config: TrainConfig | None = None
    original: FeatureClassifier | None = None
    show_progress: bool = True
    model_fn: Callable[[], FeatureClassifier] | None = None
    train_fn: TrainFn | None = None

    def fresh_model(
        self, method: str, input_shape: tuple[int, ...], num_classes: int
    ) -> FeatureClassifier:
        """A freshly initialised model of the original's architecture (torch's global RNG)."""
        if self.model_fn is not None:
            return self.model_fn()
        if self.model_config is not None:
            return build_model(self.model_config, input_shape, num_classes)
        raise ConfigError(
            f"method '{method}' needs a fresh model of your architecture: give "
            "MethodContext(model_fn=<zero-argument constructor>) (unlearnkit.unlearn(..., "
            "model_fn=...)), or model_config=ModelConfig(...) for a built-in architecture"
        )


@dataclass
class UnlearnOutcome:
    """The unlearned model, its per-epoch history, wall time and method-specific info."""

    model: FeatureClassifier
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


class UnlearningMethod(ABC):
    """Base of every unlearning method (see the module docstring)."""

    name: ClassVar[str]
    config_cls: ClassVar[type[MethodConfig]] = LoopConfig
    description: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    #: the set an epoch iterates over; the sets in ``cycled`` are drawn alongside it
    primary: ClassVar[str] = "retain"
    cycled: ClassVar[tuple[str, ...]] = ()
    #: hyperparameters ``unlearnkit tune`` searches (config key → distribution); empty = the
    #: method has nothing to tune (``original``, ``retrain``)
    search_space: ClassVar[SearchSpace] = {}

    def __init__(self, config: MethodConfig | None = None) -> None:
        self.config = config if config is not None else self.config_cls()
        if not isinstance(self.config, self.config_cls):
            raise ConfigError(
                f"method '{self.name}' needs a {self.config_cls.__name__}, got "
                f"{type(self.config).__name__}"
            )
        self.device = torch.device("cpu")
        self.generator = generator(self.config.seed or 0)
        self.context: MethodContext | None = None
        self._check = FiniteCheck(1, f"{self.name} loss")

    # -- hooks ------------------------------------------------------------------------------
    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        """Prepare state before the loop (masks, discriminators, teachers ...)."""

    def trainable_parameters(self, model: FeatureClassifier) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def primary_set(self, data: UnlearningData) -> TensorSet:
        return getattr(data, self.primary)

    def batches(self, data: UnlearningData) -> Iterator[Batch]:
        """One epoch: batches of the primary set, each with a batch of every cycled set."""
        cfg = self._loop_config()
        prim = self.primary_set(data)
        samplers = {
            name: CyclingSampler(getattr(data, name), cfg.batch_size, self.generator, data.augment)
            for name in self.cycled
        }
        for idx in batch_indices(len(prim), cfg.batch_size, generator=self.generator):
            batch: Batch = {
                self.primary: prim.take(idx, generator=self.generator, augment=data.augment)
            }
            for name, sampler in samplers.items():
                batch[name] = sampler.next()
            yield batch

    def steps_per_epoch(self, data: UnlearningData) -> int:
        return math.ceil(len(self.primary_set(data)) / self._loop_config().batch_size)

    @abstractmethod
    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss of one step and its logged parts."""

    def step(
        self, model: FeatureClassifier, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> dict[str, Any]:
        """One optimisation step (override for alternating schemes); returns the logged values:
        floats, or detached scalar tensors (summed on the device, read once per epoch:
        :meth:`scalar`)."""
        with self.autocast():
            loss, parts = self.loss(model, batch)
        self.check_loss(loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.clip(model)
        optimizer.step()
        return {"loss": self.scalar(loss), **parts}

    def after_step(self, model: FeatureClassifier, progress_frac: float) -> None:
        """Called after every step with the run's progress in [0, 1] (schedules, projections)."""

    def end_epoch(
        self, model: FeatureClassifier, data: UnlearningData, epoch: int
    ) -> dict[str, float]:
        """Method-specific values to log at the end of an epoch."""
        return {}

    def finish(self, model: FeatureClassifier, data: UnlearningData) -> dict[str, Any]:
        """Called after the loop; returns extra info for the outcome."""
        return {}

    def should_stop(self, history: list[dict[str, float]]) -> bool:
        """Early stopping decision after each epoch."""
        return False

    def divergence_hint(self) -> str:
        return "Lower the learning rate, enable grad_clip, or shorten the run."

    # -- helpers ----------------------------------------------------------------------------
    def _loop_config(self) -> LoopConfig:
        if not isinstance(self.config, LoopConfig):
            raise TypeError(f"method '{self.name}' does not use the shared loop")
        return self.config

    def clip(self, model: FeatureClassifier) -> None:
        cfg = self.config
        if isinstance(cfg, LoopConfig) and cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.trainable_parameters(model), cfg.grad_clip)

    def build_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        cfg = self._loop_config()
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )

    def to_device(self, batch: Batch) -> Batch:
        return {k: (x.to(self.device), y.to(self.device)) for k, (x, y) in batch.items()}

    # -- fast-path helpers (the run's recipe options amp / check_every; docs/gpu.md) --------
    def _recipe(self) -> TrainConfig:
        """The run's recipe (its fast-path options apply to the loop); defaults without one."""
        recipe = self.context.train_config if self.context is not None else None
        return recipe if recipe is not None else TrainConfig()

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast for the forward pass when the run's recipe sets ``amp = "bf16"``."""
        return autocast(self.device, self._recipe().amp)

    def check_loss(self, loss: torch.Tensor) -> None:
        """NaN/inf check of a step's loss: at once, or every ``check_every`` steps (deferred,
        no host synchronisation in between) when the run's recipe says so."""
        self._check(loss)

    def scalar(self, value: torch.Tensor) -> float | torch.Tensor:
        """A logged value: a float (host sync) when checking every step, else a detached
        float64 tensor that the loop sums on the device (the same sum as of floats)."""
        if self._check.every == 1:
            return float(value.detach())
        return value.detach().double()

    # -- the shared loop ----------------------------------------------------------------------
    def unlearn(
        self,
        model: FeatureClassifier,
        data: UnlearningData,
        *,
        device: torch.device,
        context: MethodContext | None = None,
    ) -> UnlearnOutcome:
        """Run the method on ``model`` (modified in place) and return the outcome."""
        self.context = context
        show = context.show_progress if context is not None else True
        self.device = device
        seed_all(self.config.seed or 0)
        self.generator = generator(self.config.seed or 0)
        self._check = FiniteCheck(
            self._recipe().check_every, f"{self.name} loss", self.divergence_hint()
        )
        model.to(device)
        check_data(data, self.name)
        t0 = time.perf_counter()
        if device.type != "cpu":  # device-resident batches: every part moved once
            data = data.to(device)
        channels_last = self._recipe().channels_last
        if channels_last:
            set_memory_format(model, True)
        self.setup(model, data)
        cfg = self._loop_config()
        params = self.trainable_parameters(model)
        opt = self.build_optimizer(params)
        monitor = {
            "forget": data.forget.subset(np.arange(min(len(data.forget), MONITOR_SIZE))),
            "retain": data.retain.subset(np.arange(min(len(data.retain), MONITOR_SIZE))),
        }
        spe = max(1, self.steps_per_epoch(data))
        total = max(1, cfg.epochs * spe)
        history: list[dict[str, float]] = []
        step = 0
        bar = progress(range(cfg.epochs), enabled=show, desc=self.name, unit="epoch")
        for epoch in bar:
            model.train()
            # each logged part is averaged over the steps that reported it (epochs that mix
            # step kinds, e.g. a forget pass then a retain pass, log different parts per step)
            sums: dict[str, float | torch.Tensor] = {}
            counts: dict[str, int] = {}
            for batch in self.batches(data):
                for g in opt.param_groups:
                    g["lr"] = g.setdefault("base_lr", g["lr"]) * schedule_factor(
                        cfg.schedule, step / total
                    )
                parts = self.step(model, self.to_device(batch), opt)
                step += 1
                self.after_step(model, step / total)
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
            self._check.flush()
            row: dict[str, float] = {"epoch": float(epoch + 1)}
            row.update({k: float(v) / counts[k] for k, v in sums.items()})
            row.update(self.end_epoch(model, data, epoch))
            row["forget_acc"] = accuracy(model, monitor["forget"], device)
            row["retain_acc"] = accuracy(model, monitor["retain"], device)
            history.append(row)
            log(
                f"[{self.name}] epoch {epoch + 1}/{cfg.epochs} " + format_row(row),
                enabled=show,
                detail=True,
            )
            if self.should_stop(history):
                log(f"[{self.name}] early stop after epoch {epoch + 1}", enabled=show)
                break
        if channels_last:  # the standard format again (checkpoints need contiguous tensors)
            set_memory_format(model, False)
        info = self.finish(model, data)
        model.eval()
        return UnlearnOutcome(
            model=model, history=history, wall_time=time.perf_counter() - t0, info=info
        )


def format_row(row: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch")


def check_data(data: UnlearningData, method: str) -> None:
    if len(data.forget) == 0:
        raise ConfigError(f"method '{method}': the forget set is empty; nothing to unlearn")
    if len(data.retain) == 0:
        raise ConfigError(f"method '{method}': the retain set is empty")


# -- registry ---------------------------------------------------------------------------------

_METHODS: dict[str, type[UnlearningMethod]] = {}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def register_method(cls: type[UnlearningMethod]) -> type[UnlearningMethod]:
    """Class decorator: add a method to the registry (snake_case key, duplicates refused)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"method name {name!r} must be lowercase snake_case")
    if name in _METHODS:
        raise ValueError(f"method '{name}' is already registered")
    _METHODS[name] = cls
    return cls


def method_names() -> list[str]:
    return list(_METHODS)


def get_method_class(name: str) -> type[UnlearningMethod]:
    if name not in _METHODS:
        raise ConfigError(f"unknown method '{name}'; known methods: {', '.join(_METHODS)}")
    return _METHODS[name]


def create_method(
    name: str, config: dict[str, Any] | MethodConfig | None = None
) -> UnlearningMethod:
    """Instantiate a registered method from a config object or a (strict) dict."""
    cls = get_method_class(name)
    if config is None or isinstance(config, dict):
        config = cls.config_cls.from_dict(config or {})
    return cls(config)


def unlearn_copy(
    name: str,
    config: dict[str, Any] | MethodConfig | None,
    original: FeatureClassifier,
    data: UnlearningData,
    *,
    device: torch.device,
    model_config: ModelConfig,
    train_config: TrainConfig,
    show_progress: bool = False,
) -> UnlearnOutcome:
    """Run method ``name`` on a copy of ``original``, leaving ``original`` untouched.

    The method's context gets a frozen copy (eval mode, no gradients) as its teacher /
    reference, so methods that read the original (SCRUB, bad teacher, SalUn ...) see the
    model before unlearning. The common step of ``unlearnkit run``, the benchmark, the tuner
    and the per-example attacks.
    """
    frozen = copy.deepcopy(original).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    context = MethodContext(
        model_config, train_config, original=frozen, show_progress=show_progress
    )
    return create_method(name, config).unlearn(
        copy.deepcopy(original), data, device=device, context=context
    )
