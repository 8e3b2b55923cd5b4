"""Training of the original model and of the retrain reference with one recipe.

The recipe is SGD with momentum and weight decay, a cosine / step / constant learning-rate
schedule (stepped per iteration), a number of epochs and a batch size. Given the same seed,
CPU runs repeat bit for bit: the seed drives model initialisation (torch's global RNG, seeded
right before the model is built) and a dedicated generator drives batch order and augmentation.

The fast path (for CUDA; docs/gpu.md) is a set of explicit recipe options, all off by default
so that CPU results stay bit-identical: ``amp = "bf16"`` (autocast of the forward pass),
``channels_last``, ``compile`` (``torch.compile`` of the training forward) and ``check_every``
(the NaN/inf check every k steps; loss and accuracy are always accumulated on the device, so
with k > 1 a step needs no host synchronisation). On a non-CPU device the training set is also
moved to the device once and batches are indexed there (numerically identical).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.config import Config, option
from unlearnkit.data.batching import TensorSet, batch_indices, resident
from unlearnkit.errors import ConfigError
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.utils import FiniteCheck, eval_mode, generator, log, progress, seed_all

SCHEDULES = ("cosine", "step", "constant")
AMP = ("off", "bf16")
#: the fast-path options; left out of ``to_dict`` at their defaults, so that the cache and task
#: keys of every recipe that does not use them are the same as before they existed
FAST_PATH = ("amp", "channels_last", "compile", "check_every")


@dataclass(frozen=True)
class TrainConfig(Config):
    """The training recipe shared by the original model and the retrain reference."""

    section = "train"

    epochs: int = option(30, "training epochs (at least 1: an untrained model is no reference)")
    batch_size: int = option(64, "mini-batch size", ge=1)
    lr: float = option(0.05, "initial learning rate (SGD)", gt=0)
    momentum: float = option(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay: float = option(5e-4, "weight decay (L2)", ge=0)
    schedule: str = option("cosine", "learning-rate schedule over the run", choices=SCHEDULES)
    step_milestones: tuple[float, ...] = option(
        (0.5, 0.75),
        "step schedule: fractions of the run where the lr is multiplied by step_gamma",
        ge=0,
        le=1,
    )
    step_gamma: float = option(0.1, "step schedule: lr multiplier at each milestone", gt=0)
    warmup_epochs: float = option(0.0, "linear lr warm-up over this many epochs", ge=0)
    augment: bool | None = option(
        None, "random crop + flip (default: on for 32×32 colour images, off otherwise)"
    )
    seed: int = option(0, "seed of initialisation and batch order")
    amp: str = option(
        "off",
        "fast path: autocast of forward passes to bf16 (off = fp32); also used by the methods' "
        "shared loop; evaluation always runs in fp32",
        choices=AMP,
    )
    channels_last: bool = option(
        False, "fast path: train (and unlearn) in channels_last memory format"
    )
    compile: bool = option(False, "fast path: torch.compile the model's training forward")
    check_every: int = option(
        1,
        "fast path: check the loss for NaN/inf every k steps and at each epoch's end "
        "(1 = every step, with a host synchronisation per step)",
        ge=1,
    )

    def to_dict(self) -> dict[str, Any]:
        """All fields, except fast-path options left at their defaults (stable keys)."""
        out = super().to_dict()
        for name in FAST_PATH:
            if out[name] == type(self).__dataclass_fields__[name].default:
                del out[name]
        return out

    def validate(self) -> None:
        if self.epochs < 1:
            raise ConfigError(
                f"epochs must be >= 1, got {self.epochs}: with no training the original and "
                "retrain models are untrained and every comparison with them is meaningless",
                field="epochs",
            )
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")


def lr_factor(config: TrainConfig, progress_frac: float, steps_per_epoch: int, step: int) -> float:
    """Multiplier of the base lr at a point of the run (a pure function of progress)."""
    warm_steps = config.warmup_epochs * steps_per_epoch
    if warm_steps > 0 and step < warm_steps:
        return (step + 1) / warm_steps
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress_frac, 1.0)))
    if config.schedule == "step":
        return config.step_gamma ** sum(progress_frac >= m for m in config.step_milestones)
    return 1.0


@dataclass
class TrainResult:
    """A trained model's per-epoch history and wall time."""

    history: list[dict[str, float]] = field(default_factory=list)
    wall_time: float = 0.0
    #: training examples processed (over all epochs): ``examples / wall_time`` is images/s
    examples: int = 0
    #: wall time of each epoch's steps (the epoch's metrics are read at its end, so the device
    #: has finished its work): the loop's throughput once compilation and warm-up are done
    epoch_times: list[float] = field(default_factory=list)

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def accuracy(
    model: nn.Module, data: TensorSet, device: torch.device, batch_size: int = 1024
) -> float:
    """Top-1 accuracy of ``model`` on ``data`` (eval mode, no_grad, mode restored)."""
    if len(data) == 0:
        return float("nan")
    correct = torch.zeros((), dtype=torch.long, device=device)
    with eval_mode(model):
        for start in range(0, len(data), batch_size):
            xb = data.x[start : start + batch_size].to(device)
            yb = data.y[start : start + batch_size].to(device)
            correct += (model(xb).argmax(1) == yb).sum()
    return int(correct) / len(data)  # one host synchronisation per call


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[Any]:
    """Autocast to bf16 on ``device`` when ``amp == "bf16"``, else a no-op context."""
    if amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_memory_format(model: nn.Module, channels_last: bool) -> None:
    """Put the 4-D parameters and buffers of ``model`` in channels_last (True) or the standard
    contiguous format (False), in place."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    # memory_format is missing from the type stubs of Module.to
    model.to(memory_format=fmt)  # type: ignore[call-overload]


@contextlib.contextmanager
def memory_format(model: nn.Module, channels_last: bool) -> Iterator[None]:
    """Run the block with ``model`` in channels_last format (when asked); the model comes back
    in the standard contiguous format (checkpoints need contiguous tensors)."""
    if not channels_last:
        yield
        return
    set_memory_format(model, True)
    try:
        yield
    finally:
        set_memory_format(model, False)


def train_model(
    model: FeatureClassifier,
    train: TensorSet,
    config: TrainConfig,
    *,
    device: torch.device,
    augment: bool = False,
    eval_sets: dict[str, TensorSet] | None = None,
    show_progress: bool = True,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in place on ``train`` with the recipe ``config``.

    Logs one line per epoch (loss, running train accuracy, lr, accuracy on ``eval_sets``)
    and raises :class:`DivergenceError` on a NaN/inf loss (within ``config.check_every``
    steps). On a non-CPU device the set is moved there once and batches are indexed there.
    """
    if len(train) == 0:
        raise ConfigError("cannot train on an empty set")
    model.to(device)
    train = resident(train, device)
    gen = generator(config.seed + 1)
    use_aug = augment if config.augment is None else config.augment
    result = TrainResult()
    t0 = time.perf_counter()
    with memory_format(model, config.channels_last):
        opt = torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        forward = torch.compile(model) if config.compile else model
        check = FiniteCheck(config.check_every, "training loss")
        bar = progress(range(config.epochs), enabled=show_progress, desc=desc, unit="epoch")
        for epoch in bar:
            t_epoch = time.perf_counter()
            row = _train_epoch(model, forward, opt, train, config, epoch, gen, use_aug, check)
            result.epoch_times.append(time.perf_counter() - t_epoch)
            result.examples += len(train)
            for name, data in (eval_sets or {}).items():
                row[f"{name}_acc"] = accuracy(model, data, device)
            result.history.append(row)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['train_acc']:.3f}")
    result.wall_time = time.perf_counter() - t0
    if result.history:
        parts = ", ".join(
            f"{k}={v:.4f}" for k, v in result.history[-1].items() if k not in ("epoch", "lr")
        )
        log(
            f"[{desc}] {config.epochs} epochs in {result.wall_time:.1f}s: {parts}",
            enabled=show_progress,
        )
    return result


def _train_epoch(
    model: nn.Module,
    forward: Any,
    opt: torch.optim.Optimizer,
    train: TensorSet,
    config: TrainConfig,
    epoch: int,
    gen: torch.Generator,
    use_aug: bool,
    check: FiniteCheck,
) -> dict[str, Any]:
    """One epoch of :func:`train_model`; loss and accuracy are summed on the device (float64
    and int64: the same values as summing Python floats) and read once at the end."""
    device = train.x.device
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    step = epoch * steps_per_epoch
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    for idx in batch_indices(len(train), config.batch_size, generator=gen, device=device):
        xb, yb = train.take(idx, generator=gen, augment=use_aug)
        for g in opt.param_groups:
            g["lr"] = config.lr * lr_factor(config, step / total, steps_per_epoch, step)
        with autocast(device, config.amp):
            logits = forward(xb)
            loss = F.cross_entropy(logits, yb)
        check(loss, f"training loss (epoch {epoch + 1}, step {step})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_sum += loss.detach().double() * len(yb)
        correct += (logits.detach().argmax(1) == yb).sum()
    check.flush()
    return {
        "epoch": epoch + 1,
        "loss": float(loss_sum) / len(train),
        "train_acc": int(correct) / len(train),
        "lr": opt.param_groups[0]["lr"],
    }


def new_model(
    model_config: ModelConfig, input_shape: tuple[int, ...], num_classes: int, seed: int
) -> FeatureClassifier:
    """Build a freshly initialised model; initialisation is a function of ``seed`` only."""
    seed_all(seed)
    return build_model(model_config, input_shape, num_classes)


def train_fresh(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train: TensorSet,
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    device: torch.device,
    augment: bool = False,
    eval_sets: dict[str, TensorSet] | None = None,
    show_progress: bool = True,
    desc: str = "train",
) -> tuple[FeatureClassifier, TrainResult]:
    """Initialise a model from the recipe's seed and train it: the original (on train) and
    the retrain reference (on retain) both come from here, so they share one recipe."""
    model = new_model(model_config, input_shape, num_classes, train_config.seed)
    result = train_model(
        model,
        train,
        train_config,
        device=device,
        augment=augment,
        eval_sets=eval_sets,
        show_progress=show_progress,
        desc=desc,
    )
    return model, result
