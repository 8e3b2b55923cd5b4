"""``random_labels`` (RL): fine-tune on the forget set with random labels, plus cross-entropy
on the retain set.

Papers: Golatkar et al. 2020, "Eternal Sunshine of the Spotless Net: Selective Forgetting in
Deep Networks" (CVPR), which introduced random relabelling as a forgetting baseline; the "RL"
baseline of Fan et al. 2024, "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency" (ICLR), whose objective (SalUn without the mask) is

    L = E_{(x,y)∈D_f, y'} CE(f(x), y') + α · E_{(x,y)∈D_r} CE(f(x), y)

Epoch structure (``epoch_structure``), checked against the SalUn code (``unlearn/RL.py``):

- ``sequential`` (default; their CIFAR-10 / SVHN path): a full pass of optimiser steps over
  the relabelled forget set (each forget batch one step on ``CE(f(x_f), y')``), then a full
  pass of steps over the retain set (each retain batch one step on ``α·CE(f(x_r), y_r)``);
- ``union`` (their CIFAR-100 / TinyImageNet path): the forget set is relabelled once per
  epoch, concatenated with retain and shuffled; each mixed batch is one step on its mean CE
  (``retain_weight`` does not apply);
- ``joint`` (the paper's formula as one sum; unlearnkit's earlier loop): one step per forget
  batch on ``CE(forget, y') + α·CE(retain batch)``, retain batches cycled — an epoch then
  sees only ``|D_f|`` retain examples.

Label rule (``label_rule``): ``any`` (default, their code: ``y'`` uniform over all ``C``
classes, so ``y' = y`` with probability 1/C) or ``wrong`` (``y'`` uniform over the ``C − 1``
other classes, Golatkar et al.'s "random wrong labels").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.data.batching import UnlearningData, batch_indices
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier

EPOCH_STRUCTURES = ("sequential", "union", "joint")
LABEL_RULES = ("any", "wrong")


def random_wrong_labels(
    y: torch.Tensor, num_classes: int, generator: torch.Generator
) -> torch.Tensor:
    """For each label, a label drawn uniformly among the ``num_classes − 1`` *other* classes
    (``(y + U{1..C−1}) mod C``), from ``generator``."""
    if num_classes < 2:
        raise ConfigError(f"random relabelling needs at least 2 classes, got {num_classes}")
    offset = torch.randint(1, num_classes, tuple(y.shape), generator=generator)
    return (y + offset.to(y.device)) % num_classes


def random_labels(
    y: torch.Tensor, num_classes: int, generator: torch.Generator, rule: str = "any"
) -> torch.Tensor:
    """Random labels for ``y``: ``any`` = uniform over all ``num_classes`` classes (SalUn's
    code, ``y' = y`` with probability 1/C); ``wrong`` = :func:`random_wrong_labels`."""
    if rule == "wrong":
        return random_wrong_labels(y, num_classes, generator)
    if rule != "any":
        raise ConfigError(f"label_rule must be one of {', '.join(LABEL_RULES)}, got '{rule}'")
    return torch.randint(0, num_classes, tuple(y.shape), generator=generator).to(y.device)


@dataclass(frozen=True)
class RandomLabelsConfig(LoopConfig):
    """Random-label fine-tuning. Defaults follow Fan et al.'s (2024) code for CIFAR-10 with
    ResNet-18: 10 epochs of a forget pass then a retain pass, labels uniform over all classes,
    SGD lr 0.013, momentum 0.9, weight decay 5e-4, batch 256 (forget and retain loaders)."""

    epochs: int = option(10, "epochs (Fan et al. 2024: 10)")
    batch_size: int = option(256, "batch size of the forget and of the retain batches")
    lr: float = option(0.013, "learning rate (SGD; Fan et al. 2024 code: 0.013)")
    retain_weight: float = option(
        1.0, "α: weight of the retain cross-entropy (sequential and joint structures)"
    )
    epoch_structure: str = option(
        "sequential",
        "sequential: a pass of steps over relabelled forget, then a pass over retain (SalUn "
        "code, CIFAR-10); union: steps over shuffled relabelled forget ∪ retain (SalUn code, "
        "CIFAR-100); joint: one step per forget batch + one cycled retain batch (deviation)",
        choices=EPOCH_STRUCTURES,
    )
    label_rule: str = option(
        "any",
        "any: y' uniform over all C classes (SalUn code); wrong: y' uniform over the C−1 "
        "other classes (deviation)",
        choices=LABEL_RULES,
    )

    def validate(self) -> None:
        super().validate()
        if not self.retain_weight >= 0:
            raise ConfigError(f"retain_weight must be >= 0, got {self.retain_weight}")


@register_method
class RandomLabels(UnlearningMethod):
    """Random-label fine-tuning (see the module docstring)."""

    name = "random_labels"
    config_cls = RandomLabelsConfig
    description = "fine-tune forget with random labels, then retain with its labels"
    paper = "Golatkar et al. 2020 (CVPR); Fan et al. 2024 (ICLR, RL baseline)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-3, 3e-2),
        "epochs": Choice((3, 5, 10)),
    }
    primary = "forget"
    cycled = ("retain",)
    config: RandomLabelsConfig

    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        self.num_classes = data.num_classes
        if self.num_classes < 2:
            raise ConfigError(f"random relabelling needs >= 2 classes, got {data.num_classes}")
        #: optimiser steps taken on forget-only, retain-only and mixed batches
        self.step_counts = {"forget": 0, "retain": 0, "union": 0, "joint": 0}

    def relabel(self, y: torch.Tensor) -> torch.Tensor:
        return random_labels(y, self.num_classes, self.generator, self.config.label_rule)

    def batches(self, data: UnlearningData) -> Iterator[Batch]:
        cfg = self.config
        if cfg.epoch_structure == "joint":
            yield from super().batches(data)
            return
        gen, aug = self.generator, data.augment
        if cfg.epoch_structure == "sequential":
            for idx in batch_indices(len(data.forget), cfg.batch_size, generator=gen):
                yield {"forget": data.forget.take(idx, generator=gen, augment=aug)}
            for idx in batch_indices(len(data.retain), cfg.batch_size, generator=gen):
                yield {"retain": data.retain.take(idx, generator=gen, augment=aug)}
            return
        # union: relabel the forget set once per epoch, shuffle it into retain
        n_f = len(data.forget)
        y_rand = self.relabel(data.forget.y)
        for idx in batch_indices(n_f + len(data.retain), cfg.batch_size, generator=gen):
            fi, ri = idx[idx < n_f], idx[idx >= n_f] - n_f
            xf, _ = data.forget.take(fi, generator=gen, augment=aug)
            xr, yr = data.retain.take(ri, generator=gen, augment=aug)
            yf = y_rand[fi.to(y_rand.device)].to(yr.device)
            yield {"union": (torch.cat([xf, xr]), torch.cat([yf, yr]))}

    def steps_per_epoch(self, data: UnlearningData) -> int:
        cfg, n_f, n_r = self.config, len(data.forget), len(data.retain)
        if cfg.epoch_structure == "sequential":
            return math.ceil(n_f / cfg.batch_size) + math.ceil(n_r / cfg.batch_size)
        if cfg.epoch_structure == "union":
            return math.ceil((n_f + n_r) / cfg.batch_size)
        return math.ceil(n_f / cfg.batch_size)

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        if "union" in batch:
            x, y = batch["union"]
            ce = F.cross_entropy(model(x), y)
            self.step_counts["union"] += 1
            return ce, {"union_ce": float(ce.detach())}
        total = torch.zeros((), device=self.device)
        parts: dict[str, float] = {}
        if "forget" in batch:
            xf, yf = batch["forget"]
            ce_f = F.cross_entropy(model(xf), self.relabel(yf))
            total = total + ce_f
            parts["forget_rl_ce"] = float(ce_f.detach())
        if "retain" in batch:
            xr, yr = batch["retain"]
            ce_r = F.cross_entropy(model(xr), yr)
            total = total + self.config.retain_weight * ce_r
            parts["retain_ce"] = float(ce_r.detach())
        # sequential: a forget-only or a retain-only step; joint: both terms in one step
        self.step_counts[next(iter(batch)) if len(batch) == 1 else "joint"] += 1
        return total, parts

    def finish(self, model: FeatureClassifier, data: UnlearningData) -> dict[str, Any]:
        return {"steps": dict(self.step_counts)}
