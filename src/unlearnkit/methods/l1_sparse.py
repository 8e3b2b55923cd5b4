"""``l1_sparse``: fine-tune on the retain set with an ℓ1 penalty whose weight decays linearly
to zero ("sparsity-aware unlearning").

Paper: Jia et al. 2023, "Model Sparsity Can Simplify Machine Unlearning" (NeurIPS), Eq. (3):

    L_t = CE(f(x_r), y_r) + γ_t · ‖θ‖₁,        γ_t = γ · (1 − t/T)

over retain batches; ‖θ‖₁ is taken over *all* parameters (as in their code's
``l1_regularization``, BatchNorm affine parameters and biases included). The linearly decaying
γ_t promotes sparsity early and lets the model recover accuracy late.

Deviation: their code updates γ once per epoch (γ·(1 − e/E), so the last epoch still has
γ/E); here γ_t is a pure function of the run's step progress p = step/total ∈ [0, 1), so it
decays per step and reaches ~0 at the end of the run.
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
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier


def l1_norm(model: torch.nn.Module) -> torch.Tensor:
    """‖θ‖₁ over all parameters of ``model``."""
    return torch.stack([p.abs().sum() for p in model.parameters()]).sum()


def l1_weight_at(gamma: float, progress_frac: float) -> float:
    """γ_t = γ·(1 − p), the linear decay to 0 over the run (pure function of progress)."""
    return gamma * (1.0 - min(max(progress_frac, 0.0), 1.0))


@dataclass(frozen=True)
class L1SparseConfig(LoopConfig):
    """ℓ1-sparse unlearning. Jia et al. (2023), CIFAR-10 / ResNet-18: 10 epochs, SGD lr 0.01,
    batch 256, γ ≈ 5e-4 (their scripts tune γ around 1e-4 – 5e-4)."""

    epochs: int = option(10, "epochs over the retain set (Jia et al. 2023: 10)")
    batch_size: int = option(256, "mini-batch size (Jia et al. code: 256)")
    lr: float = option(0.01, "learning rate (SGD; Jia et al. 2023: 0.01)")
    l1_weight: float = option(
        5e-4, "γ: initial weight of the ℓ1 penalty γ_t·‖θ‖₁, decayed linearly to 0"
    )

    def validate(self) -> None:
        super().validate()
        if not self.l1_weight >= 0:
            raise ConfigError(f"l1_weight (γ) must be >= 0, got {self.l1_weight}")


@register_method
class L1Sparse(UnlearningMethod):
    """ℓ1-sparse unlearning (see the module docstring)."""

    name = "l1_sparse"
    config_cls = L1SparseConfig
    description = "fine-tune on retain with an ℓ1 penalty decaying linearly to 0"
    paper = "Jia et al. 2023 (NeurIPS)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(3e-3, 3e-2),
        "l1_weight": LogUniform(5e-5, 5e-3),
        "epochs": Choice((5, 10)),
    }
    primary = "retain"
    config: L1SparseConfig

    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        self.progress = 0.0

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch["retain"]
        ce = F.cross_entropy(model(x), y)
        gamma_t = l1_weight_at(self.config.l1_weight, self.progress)
        l1 = l1_norm(model)
        total = ce + gamma_t * l1
        return total, {"ce": float(ce.detach()), "l1": float(l1.detach()), "gamma": gamma_t}

    def after_step(self, model: FeatureClassifier, progress_frac: float) -> None:
        self.progress = progress_frac
