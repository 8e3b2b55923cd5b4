"""``neggrad_plus`` (NegGrad+): descend the retain cross-entropy while ascending the forget
cross-entropy.

Paper: Kurmanji et al. 2023, "Towards Unbounded Machine Unlearning" (NeurIPS), which
introduced NegGrad+ as a strong baseline next to SCRUB. Their form (code: ``negative_grad``
in the SCRUB repository) is

    L_β = β · CE(f(x_r), y_r) − (1 − β) · CE(f(x_f), y_f)           (β = 0.95 there)

This implementation uses the equivalent weighted form

    L = CE(f(x_r), y_r) + (μ/2)·‖θ − θ_o‖² − α · min(CE(f(x_f), y_f), c)   (c = loss_cap)

with ``α = (1 − β)/β`` (β = 0.95 ↔ α ≈ 0.053): the reference's
``β·(CE_r + (wd/2)·‖θ − θ_o‖²) − (1 − β)·CE_f`` is ``β·L`` with ``μ = wd``, the same
objective up to a learning-rate factor β. Checked against the SCRUB repository's
``small_scale_unlearning.ipynb`` (``negative_grad`` / ``run_neggrad_epoch``): plain SGD
(momentum 0, optimiser weight decay 0), the proximal term towards the original weights θ_o
with ``wd = 0.1`` (``--weight-decay 0.1`` there; ``prox_weight`` μ here), lr 0.01, 10 epochs,
retain batches of 32 zipped with cycled forget batches of 64 (``args.retain_bs`` /
``args.forget_bs``); an epoch is one pass over the retain set.

Deviations (options): (1) the forget term is capped per example at ``loss_cap`` and the
gradient norm is clipped by default (gradient ascent is unbounded; see ``gradient_ascent``);
``loss_cap=0, grad_clip=0`` is the reference; (2) the reference runs the model in eval mode
(BatchNorm statistics frozen); here train mode, like every method of the shared loop.

Determinism detail: forget batches come from a *separate* generator seeded from the config
seed, so the retain batch order is exactly that of ``finetune``; with ``α = 0`` and ``μ = 0``
the forget term is skipped (no forward pass, so BatchNorm statistics are untouched) and the
method reproduces ``finetune`` bit for bit under the same hyperparameters and seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.data.batching import CyclingSampler, UnlearningData, batch_indices
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.methods.gradient_ascent import capped_cross_entropy
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier
from unlearnkit.utils import generator

# the forget sampler's generator is seeded with (seed + this), independent of batch order
FORGET_SEED_OFFSET = 7919


@dataclass(frozen=True)
class NegGradPlusConfig(LoopConfig):
    """NegGrad+. The SCRUB code's small-scale setting: β = 0.95 (α ≈ 0.053), plain SGD (no
    momentum, no optimiser weight decay) with lr 0.01, proximal weight 0.1, 10 epochs, retain
    batch 32, forget batch 64."""

    epochs: int = option(10, "epochs over the retain set (Kurmanji et al. 2023: 10)")
    batch_size: int = option(32, "retain batch size (SCRUB code, small scale: retain_bs 32)")
    forget_batch_size: int = option(
        64, "forget batch size, cycled (SCRUB code, small scale: forget_bs 64)"
    )
    lr: float = option(0.01, "learning rate (Kurmanji et al. 2023: 0.01, SGD)")
    momentum: float = option(0.0, "SGD momentum (SCRUB code: plain SGD, 0)")
    weight_decay: float = option(
        0.0, "optimiser weight decay (SCRUB code: 0; it regularises with prox_weight instead)"
    )
    prox_weight: float = option(
        0.1,
        "μ in (μ/2)·‖θ − θ_original‖², the proximal term of the SCRUB code (its "
        "--weight-decay, 0.1 in the small-scale setting); 0 = off",
    )
    alpha: float = option(
        0.05,
        "α in L = CE_retain − α·CE_forget; the paper's β·CE_r − (1−β)·CE_f has α = (1−β)/β "
        "(β = 0.95 ↔ α ≈ 0.053)",
    )
    loss_cap: float = option(
        5.0, "cap (nats) on each forget example's CE in the ascent term; 0 = no cap"
    )
    grad_clip: float = option(
        5.0, "clip the gradient norm (0 = off; deviation from the paper: a divergence guard)"
    )

    def validate(self) -> None:
        super().validate()
        if not self.alpha >= 0:
            raise ConfigError(f"alpha must be >= 0, got {self.alpha}")
        if not self.loss_cap >= 0:
            raise ConfigError(f"loss_cap must be >= 0 (0 = no cap), got {self.loss_cap}")
        if not self.prox_weight >= 0:
            raise ConfigError(f"prox_weight must be >= 0 (0 = off), got {self.prox_weight}")
        if self.forget_batch_size < 1:
            raise ConfigError(f"forget_batch_size must be >= 1, got {self.forget_batch_size}")


@register_method
class NegGradPlus(UnlearningMethod):
    """NegGrad+ (see the module docstring)."""

    name = "neggrad_plus"
    config_cls = NegGradPlusConfig
    description = "NegGrad+: retain cross-entropy minus α × (capped) forget cross-entropy"
    paper = "Kurmanji et al. 2023 (NeurIPS, SCRUB paper)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-3, 5e-2),
        "alpha": LogUniform(0.01, 0.5),
        "epochs": Choice((5, 10)),
    }
    primary = "retain"
    cycled = ("forget",)
    config: NegGradPlusConfig

    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        cfg = self.config
        self.forget_sampler = CyclingSampler(
            data.forget,
            cfg.forget_batch_size,
            generator((cfg.seed or 0) + FORGET_SEED_OFFSET),
            data.augment,
        )
        #: the original weights θ_o of the proximal term
        self.anchor = [p.detach().clone() for p in self.trainable_parameters(model)]

    def proximal(self, model: FeatureClassifier) -> torch.Tensor:
        """``(μ/2)·Σ ‖θ − θ_o‖²`` over the trainable parameters."""
        params = self.trainable_parameters(model)
        sq = sum(((p - p0) ** 2).sum() for p, p0 in zip(params, self.anchor))
        return 0.5 * self.config.prox_weight * torch.as_tensor(sq)

    def batches(self, data: UnlearningData) -> Iterator[Batch]:
        # same consumption of self.generator as the base loop with no cycled set (finetune)
        cfg = self.config
        for idx in batch_indices(len(data.retain), cfg.batch_size, generator=self.generator):
            batch: Batch = {
                "retain": data.retain.take(idx, generator=self.generator, augment=data.augment)
            }
            if cfg.alpha > 0:
                batch["forget"] = self.forget_sampler.next()
            yield batch

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        xr, yr = batch["retain"]
        ce_r = F.cross_entropy(model(xr), yr)
        parts = {"retain_ce": float(ce_r.detach())}
        if self.config.prox_weight > 0:
            prox = self.proximal(model)
            parts["proximal"] = float(prox.detach())
            ce_r = ce_r + prox
        if "forget" not in batch:
            return ce_r, parts
        xf, yf = batch["forget"]
        logits_f = model(xf)
        capped = capped_cross_entropy(logits_f, yf, self.config.loss_cap)
        with torch.no_grad():
            parts["forget_ce"] = float(F.cross_entropy(logits_f, yf))
        return ce_r - self.config.alpha * capped, parts

    def divergence_hint(self) -> str:
        return "Lower lr or alpha, keep grad_clip > 0 and a loss_cap."
