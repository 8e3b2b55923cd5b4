"""``random_labels`` (RL): fine-tune on the forget set with random *wrong* labels, plus
cross-entropy on the retain set.

Papers: Golatkar et al. 2020, "Eternal Sunshine of the Spotless Net: Selective Forgetting in
Deep Networks" (CVPR), which introduced random relabelling as a forgetting baseline; the "RL"
baseline of Fan et al. 2024, "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency" (ICLR), whose objective (SalUn without the mask) is

    L = E_{(x,y)∈D_f, y'≠y} CE(f(x), y') + α · E_{(x,y)∈D_r} CE(f(x), y)

Each step pairs a forget batch (relabelled afresh with ``self.generator``: y' uniform over the
C − 1 classes other than y) with a retain batch (cycled); an epoch is one pass over the forget
set; ``α`` is ``retain_weight``.

Deviation: the SalUn code (``unlearn/RL.py``, CIFAR-10) does not sum the two terms in one step
but runs, each epoch, a full pass of steps on relabelled forget batches and then a full pass
on retain batches, and draws y' uniformly over *all* C classes (so y' = y with probability 1/C).
Here: the paper's formula (y' ≠ y, one joint step), which keeps the two terms balanced when
the forget set is small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.data.batching import UnlearningData
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.models import FeatureClassifier
from unlearnkit.tuning.space import Choice, LogUniform, SearchSpace


def random_wrong_labels(
    y: torch.Tensor, num_classes: int, generator: torch.Generator
) -> torch.Tensor:
    """For each label, a label drawn uniformly among the ``num_classes − 1`` *other* classes
    (``(y + U{1..C−1}) mod C``), from ``generator``."""
    if num_classes < 2:
        raise ConfigError(f"random relabelling needs at least 2 classes, got {num_classes}")
    offset = torch.randint(1, num_classes, tuple(y.shape), generator=generator)
    return (y + offset.to(y.device)) % num_classes


@dataclass(frozen=True)
class RandomLabelsConfig(LoopConfig):
    """Random-label fine-tuning. Defaults follow Fan et al.'s (2024) code for CIFAR-10 with
    ResNet-18: 10 epochs, SGD lr 0.013, momentum 0.9, weight decay 5e-4, batch 256."""

    epochs: int = option(10, "epochs over the forget set (Fan et al. 2024: 10)")
    batch_size: int = option(256, "batch size of both the forget and the retain batch")
    lr: float = option(0.013, "learning rate (SGD; Fan et al. 2024 code: 0.013)")
    retain_weight: float = option(1.0, "α in L = CE(forget, random wrong labels) + α·CE(retain)")

    def validate(self) -> None:
        super().validate()
        if not self.retain_weight >= 0:
            raise ConfigError(f"retain_weight must be >= 0, got {self.retain_weight}")


@register_method
class RandomLabels(UnlearningMethod):
    """Random-label fine-tuning (see the module docstring)."""

    name = "random_labels"
    config_cls = RandomLabelsConfig
    description = "fine-tune forget with random wrong labels + retain cross-entropy"
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

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        xf, yf = batch["forget"]
        y_rand = random_wrong_labels(yf, self.num_classes, self.generator)
        ce_f = F.cross_entropy(model(xf), y_rand)
        xr, yr = batch["retain"]
        ce_r = F.cross_entropy(model(xr), yr)
        total = ce_f + self.config.retain_weight * ce_r
        return total, {"forget_rl_ce": float(ce_f.detach()), "retain_ce": float(ce_r.detach())}
