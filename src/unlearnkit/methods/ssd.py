"""``ssd``: Selective Synaptic Dampening — no training; shrink the parameters that matter far
more to the forget set than to the training data.

Paper: Foster, Schoepf & Brintrup 2024, "Fast Machine Unlearning Without Retraining Through
Selective Synaptic Dampening" (AAAI). Importances are diagonals of the Fisher information,
``[I]_i = E[(∂L/∂θ_i)²]``, over the forget set (I_f) and over the full training data D (I_d).
For every parameter element θ_i:

    if I_f,i > α · I_d,i:   θ_i ← β_i · θ_i,   β_i = min(λ · I_d,i / I_f,i, 1)
    else:                   θ_i unchanged

with α = ``selection_weighting`` (10) and λ = ``dampening_constant`` (1), their defaults for
ResNet-18 on CIFAR. Elements with I_f = 0 are never selected; elements with I_d = 0 < I_f are
set to 0 (β = 0).

As in their code (``ParameterPerturber.calc_importance``), the expectation is estimated per
mini-batch: I = mean over batches of the squared gradient of the batch-mean cross-entropy,
model in eval mode, batch size 128. Batches are a seeded shuffle of each set. Every parameter
tensor (BatchNorm affine parameters and biases included) is treated alike.

Deviation (optional, for speed): ``max_train_examples`` computes I_d on a seeded random subset
of D instead of all of it (default 0 = all of D, as in the paper).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.config import option
from unlearnkit.data.batching import TensorSet, UnlearningData, batch_indices
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import (
    Batch,
    MethodConfig,
    MethodContext,
    UnlearningMethod,
    UnlearnOutcome,
    check_data,
    register_method,
)
from unlearnkit.methods.space import LogUniform, SearchSpace, Uniform
from unlearnkit.models import FeatureClassifier
from unlearnkit.training import accuracy
from unlearnkit.utils import check_finite, generator, seed_all


def fisher_importance(
    model: nn.Module,
    params: list[nn.Parameter],
    data: TensorSet,
    batch_size: int,
    device: torch.device,
    gen: torch.Generator,
) -> list[torch.Tensor]:
    """Mean over seeded-shuffled mini-batches of ``(∇ CE_batch)²`` for each of ``params``
    (model in eval mode; the previous mode is restored)."""
    was_training = model.training
    model.eval()
    imps = [torch.zeros_like(p) for p in params]
    n_batches = 0
    try:
        for idx in batch_indices(len(data), batch_size, generator=gen):
            x, y = data.take(idx)
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            check_finite(loss, "SSD importance loss")
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for imp, g in zip(imps, grads):
                if g is not None:
                    imp.add_(g.pow(2))
            n_batches += 1
    finally:
        model.train(was_training)
    return [imp / max(n_batches, 1) for imp in imps]


@torch.no_grad()
def dampen_(
    params: Sequence[torch.Tensor],
    imp_train: Sequence[torch.Tensor],
    imp_forget: Sequence[torch.Tensor],
    selection_weighting: float,
    dampening_constant: float,
) -> int:
    """Apply SSD's rule in place; return how many elements were selected (dampened)."""
    selected = 0
    for p, i_d, i_f in zip(params, imp_train, imp_forget):
        sel = i_f > selection_weighting * i_d
        beta = torch.where(
            sel, torch.clamp(dampening_constant * i_d / torch.where(sel, i_f, 1.0), max=1.0), 1.0
        )
        p.copy_(torch.where(sel, p * beta, p))
        selected += int(sel.sum())
    return selected


@dataclass(frozen=True)
class SsdConfig(MethodConfig):
    """SSD. Defaults from Foster et al. (2024): α = 10, λ = 1, batch 128."""

    selection_weighting: float = option(
        10.0, "α: dampen θ_i when I_forget,i > α·I_train,i (Foster et al.: 10)"
    )
    dampening_constant: float = option(
        1.0, "λ: selected θ_i are multiplied by min(λ·I_train,i / I_forget,i, 1) (1)"
    )
    batch_size: int = option(128, "mini-batch size of the importance estimates (128)")
    max_train_examples: int = option(
        0,
        "estimate I_train on at most this many random training examples (0 = all of train, "
        "as in the paper); a speed option",
    )

    def validate(self) -> None:
        if not self.selection_weighting >= 0:
            raise ConfigError(
                f"selection_weighting (α) must be >= 0, got {self.selection_weighting}"
            )
        if not self.dampening_constant >= 0:
            raise ConfigError(f"dampening_constant (λ) must be >= 0, got {self.dampening_constant}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_train_examples < 0:
            raise ConfigError(
                f"max_train_examples must be >= 0 (0 = all), got {self.max_train_examples}"
            )


@register_method
class Ssd(UnlearningMethod):
    """SSD (see the module docstring)."""

    name = "ssd"
    config_cls = SsdConfig
    description = "Selective Synaptic Dampening: shrink forget-specific weights (no training)"
    paper = "Foster et al. 2024 (AAAI)"
    search_space: ClassVar[SearchSpace] = {
        "selection_weighting": LogUniform(3.0, 3000.0),
        "dampening_constant": Uniform(0.1, 1.0),
    }
    config: SsdConfig

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError("ssd does not train")

    def unlearn(
        self,
        model: FeatureClassifier,
        data: UnlearningData,
        *,
        device: torch.device,
        context: MethodContext | None = None,
    ) -> UnlearnOutcome:
        cfg = self.config
        self.context, self.device = context, device
        seed_all(cfg.seed or 0)
        self.generator = generator(cfg.seed or 0)
        model.to(device)
        check_data(data, self.name)
        t0 = time.perf_counter()
        train = data.train
        if 0 < cfg.max_train_examples < len(train):
            rows = torch.randperm(len(train), generator=self.generator)[: cfg.max_train_examples]
            train = train.subset(np.sort(rows.numpy()))
        params = [p for p in model.parameters() if p.requires_grad]
        imp_f = fisher_importance(
            model, params, data.forget, cfg.batch_size, device, self.generator
        )
        imp_d = fisher_importance(model, params, train, cfg.batch_size, device, self.generator)
        n_sel = dampen_(params, imp_d, imp_f, cfg.selection_weighting, cfg.dampening_constant)
        model.eval()
        total = sum(p.numel() for p in params)
        info = {
            "dampened": n_sel,
            "total": total,
            "dampened_fraction": n_sel / max(total, 1),
            "train_examples": len(train),
            "forget_acc": accuracy(model, data.forget, device),
        }
        return UnlearnOutcome(model=model, wall_time=time.perf_counter() - t0, info=info)
