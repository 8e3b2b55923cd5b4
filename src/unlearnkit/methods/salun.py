"""``salun``: random-label unlearning restricted to the most forget-salient weights.

Paper: Fan et al. 2024, "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency" (ICLR). Weight saliency is the magnitude of the forget loss's gradient at the
original weights θ_o, and the saliency mask keeps its largest entries:

    s = | ∇_θ ℓ_f(θ; D_f) |_{θ=θ_o},        m = 1[s ≥ γ]                      (paper, Eq. 6)

γ is a *global* threshold over all parameters (as in their ``generate_mask.py``: every
parameter tensor, BatchNorm and biases included, is ranked in one concatenated vector), set so
that ``mask_fraction`` of all entries are kept (their default mask: the top 50 %). ℓ_f is the
cross-entropy summed over the forget set's mini-batches (model in eval mode, as in their code).
Exactly ``floor(mask_fraction · N)`` entries are kept; ties at the threshold are broken by
position (stable sort), like their ``argsort`` ranking.

Unlearning is random-label fine-tuning (see ``random_labels``) on the masked weights only:

    θ_u = m ⊙ (θ_o + Δθ) + (1 − m) ⊙ θ_o,
    L = E_{D_f, y'} CE(f(x), y') + α · E_{D_r} CE(f(x), y)                     (paper, Eq. 7)

Implementation of the mask: gradients are multiplied by m before clipping and the optimiser
step, and after every step the masked-out weights are restored to θ_o, so neither weight
decay nor momentum can move them: they stay bit-identical. (The current SalUn code does the
same: ``_restore_masked_params``.) BatchNorm running statistics are buffers, not weights, and
still update in train mode.

The epoch structure and the label rule are those of ``random_labels`` (defaults: their
CIFAR-10 code's forget pass then retain pass, y' uniform over all classes; the union and joint
structures and y' ≠ y are options).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.config import option
from unlearnkit.data.batching import TensorSet, UnlearningData
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, register_method
from unlearnkit.methods.random_labels import RandomLabels, RandomLabelsConfig
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier
from unlearnkit.utils import check_finite


def forget_saliency(
    model: nn.Module,
    params: list[nn.Parameter],
    forget: TensorSet,
    batch_size: int,
    device: torch.device,
) -> list[torch.Tensor]:
    """``|Σ_batches ∇ CE_batch|`` for each of ``params`` (model in eval mode; mode restored).

    Batches are consecutive, unshuffled slices of ``forget``; each batch's CE is its mean."""
    was_training = model.training
    model.eval()
    grads = [torch.zeros_like(p) for p in params]
    try:
        for start in range(0, len(forget), batch_size):
            x = forget.x[start : start + batch_size].to(device)
            y = forget.y[start : start + batch_size].to(device)
            loss = F.cross_entropy(model(x), y)
            g = torch.autograd.grad(loss, params, allow_unused=True)
            for acc, gi in zip(grads, g):
                if gi is not None:
                    acc.add_(gi)
    finally:
        model.train(was_training)
    return [g.abs() for g in grads]


def top_fraction_mask(saliency: list[torch.Tensor], fraction: float) -> list[torch.Tensor]:
    """Boolean masks keeping exactly ``floor(fraction · N)`` of the ``N`` entries with the
    largest saliency, ranked globally over all tensors (ties: earlier position first)."""
    flat = torch.cat([s.detach().flatten().float().cpu() for s in saliency])
    k = int(len(flat) * fraction)
    order = torch.argsort(flat, descending=True, stable=True)
    keep = torch.zeros(len(flat), dtype=torch.bool)
    keep[order[:k]] = True
    masks, start = [], 0
    for s in saliency:
        n = s.numel()
        masks.append(keep[start : start + n].view(s.shape).to(s.device))
        start += n
    return masks


@dataclass(frozen=True)
class SalunConfig(RandomLabelsConfig):
    """SalUn. Defaults from Fan et al.'s (2024) CIFAR-10 / ResNet-18 example: mask of the top
    50 % weights, 10 epochs of random-label unlearning (forget pass then retain pass, labels
    uniform over all classes) with SGD lr 0.013, momentum 0.9, weight decay 5e-4, batch 256."""

    mask_fraction: float = option(
        0.5,
        "fraction of all weights (global threshold over every parameter tensor) that may "
        "change: those with the largest forget-gradient saliency (Fan et al. 2024: 0.5)",
    )

    def validate(self) -> None:
        super().validate()
        if not 0 < self.mask_fraction <= 1:
            raise ConfigError(f"mask_fraction must be in (0, 1], got {self.mask_fraction}")


@register_method
class Salun(RandomLabels):
    """SalUn (see the module docstring)."""

    name = "salun"
    config_cls = SalunConfig
    description = "random-label unlearning of only the most forget-salient weights (mask)"
    paper = "Fan et al. 2024 (ICLR)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-3, 3e-2),
        "epochs": Choice((3, 5, 10)),
        "mask_fraction": Choice((0.1, 0.3, 0.5, 0.7)),
    }
    config: SalunConfig

    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        super().setup(model, data)
        cfg = self.config
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        saliency = forget_saliency(model, params, data.forget, cfg.batch_size, self.device)
        masks = top_fraction_mask(saliency, cfg.mask_fraction)
        #: parameter name -> bool tensor (True = may change)
        self.mask: dict[str, torch.Tensor] = {n: m for (n, _), m in zip(named, masks)}
        self._masked = [(p, m, p.detach().clone()) for p, m in zip(params, masks)]

    def step(
        self, model: FeatureClassifier, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        loss, parts = self.loss(model, batch)
        check_finite(loss, f"{self.name} loss", self.divergence_hint())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for p, m, _ in self._masked:
            if p.grad is not None:
                p.grad.mul_(m)
        self.clip(model)
        optimizer.step()
        with torch.no_grad():
            for p, m, p0 in self._masked:
                p.copy_(torch.where(m, p, p0))
        return {"loss": float(loss.detach()), **parts}

    def finish(self, model: FeatureClassifier, data: UnlearningData) -> dict[str, Any]:
        kept = sum(int(m.sum()) for m in self.mask.values())
        total = sum(m.numel() for m in self.mask.values())
        return {**super().finish(model, data), "mask_kept": kept, "mask_total": total}
