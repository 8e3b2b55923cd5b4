"""``gradient_ascent`` (NegGrad, GA): ascend the cross-entropy of the forget set.

Papers: Thudi et al. 2022, "Unrolling SGD: Understanding Factors Influencing Machine
Unlearning" (EuroS&P); the GA baseline of Jia et al. 2023, "Model Sparsity Can Simplify
Machine Unlearning" (NeurIPS) and of Fan et al. 2024 (SalUn, ICLR).

Loss over forget batches (the paper's form is ``L = −CE(f(x_f), y_f)``):

    L = −(1/B) Σ_i min(CE_i, c)        CE_i = −log p(y_i | x_i),  c = loss_cap

Deviation (documented divergence guard): the paper ascends the plain CE, which is unbounded:
once the model is wrong on a forget example its loss keeps growing and the weights run off
(DESIGN §1: gradient-ascent terms diverge without a cap or clipping). Here each example's CE
is clamped at ``loss_cap`` (``min`` has zero gradient above the cap, so an example stops
pushing once its true-class probability is below ``exp(−cap)``), and the gradient norm is
clipped by default. ``loss_cap = 0`` and ``grad_clip = 0`` give the paper's plain GA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier


def capped_cross_entropy(logits: torch.Tensor, y: torch.Tensor, cap: float) -> torch.Tensor:
    """Mean over the batch of ``min(CE_i, cap)`` (``cap <= 0``: no cap).

    Examples whose CE is above the cap contribute a constant (zero gradient), so ascending
    this loss stops pushing on examples that are already forgotten."""
    ce = F.cross_entropy(logits, y, reduction="none")
    if cap > 0:
        ce = torch.clamp(ce, max=cap)
    return ce.mean()


@dataclass(frozen=True)
class GradientAscentConfig(LoopConfig):
    """NegGrad / GA. Jia et al. (2023) and Fan et al. (2024) run GA for 5 epochs on CIFAR-10
    with ResNet-18 (SGD, momentum 0.9, weight decay 5e-4, batch 256) and tune the learning
    rate in a small range around 1e-5–1e-3; it is very sensitive to it."""

    epochs: int = option(5, "epochs over the forget set (Jia et al. 2023: 5)")
    batch_size: int = option(256, "mini-batch size (Jia et al. / Fan et al. code: 256)")
    lr: float = option(1e-4, "learning rate (SGD); papers tune it in ~[1e-5, 1e-3]; very sensitive")
    grad_clip: float = option(
        5.0, "clip the gradient norm (0 = off; deviation from the paper: a divergence guard)"
    )
    loss_cap: float = option(
        5.0,
        "stop ascending an example's CE above this many nats (p_y < e^-cap); 0 = no cap "
        "(the paper's plain GA, which diverges)",
    )

    def validate(self) -> None:
        super().validate()
        if not self.loss_cap >= 0:
            raise ConfigError(f"loss_cap must be >= 0 (0 = no cap), got {self.loss_cap}")


@register_method
class GradientAscent(UnlearningMethod):
    """NegGrad (see the module docstring)."""

    name = "gradient_ascent"
    config_cls = GradientAscentConfig
    description = "NegGrad: gradient ascent on the forget-set cross-entropy (capped, clipped)"
    paper = "Thudi et al. 2022 (EuroS&P); Jia et al. 2023 (NeurIPS)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-5, 1e-3),
        "epochs": Choice((3, 5, 10)),
    }
    primary = "forget"
    config: GradientAscentConfig

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch["forget"]
        logits = model(x)
        capped = capped_cross_entropy(logits, y, self.config.loss_cap)
        with torch.no_grad():
            ce = F.cross_entropy(logits, y)
        return -capped, {"forget_ce": float(ce)}

    def divergence_hint(self) -> str:
        return "Lower lr, keep grad_clip > 0 and a loss_cap (gradient ascent is unbounded)."
