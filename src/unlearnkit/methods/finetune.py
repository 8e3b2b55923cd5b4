"""``finetune``: continue training on the retain set only, so that the forget set is
forgotten through catastrophic forgetting (Warnecke et al. 2023, "Machine Unlearning of
Features and Labels", NDSS; the FT baseline of Jia et al. 2023, "Model Sparsity Can Simplify
Machine Unlearning", NeurIPS).

Loss: ``L = CE(f(x_r), y_r)`` over retain batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier


@dataclass(frozen=True)
class FinetuneConfig(LoopConfig):
    """Fine-tuning on retain. Jia et al. (2023) use 10 epochs with lr in [0.01, 0.1] on
    CIFAR-10; defaults here are for the small CPU models."""

    epochs: int = option(5, "epochs over the retain set")
    lr: float = option(0.01, "learning rate (SGD)")


@register_method
class Finetune(UnlearningMethod):
    name = "finetune"
    config_cls = FinetuneConfig
    description = "fine-tune on retain only (catastrophic forgetting)"
    paper = "Warnecke et al. 2023 (NDSS); Jia et al. 2023 (NeurIPS)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-3, 1e-1),
        "epochs": Choice((3, 5, 10)),
    }
    primary = "retain"

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch["retain"]
        ce = F.cross_entropy(model(x), y)
        return ce, {"ce": float(ce.detach())}
