"""``neggrad_plus`` (NegGrad+): descend the retain cross-entropy while ascending the forget
cross-entropy.

Paper: Kurmanji et al. 2023, "Towards Unbounded Machine Unlearning" (NeurIPS), which
introduced NegGrad+ as a strong baseline next to SCRUB. Their form (code: ``negative_grad``
in the SCRUB repository) is

    L_β = β · CE(f(x_r), y_r) − (1 − β) · CE(f(x_f), y_f)           (β = 0.95 there)

This implementation uses the equivalent weighted form

    L = CE(f(x_r), y_r) − α · min(CE(f(x_f), y_f), c)               (per example, c = loss_cap)

with ``α = (1 − β)/β`` (β = 0.95 ↔ α ≈ 0.053): ``L_β = β·L``, so the two are the same
objective up to a learning-rate factor β. Each step pairs one retain batch with one forget
batch (forget cycled, as in the SCRUB code's ``zip(retain_loader, cycle(forget_loader))``);
an epoch is one pass over the retain set.

Deviations: (1) the forget term is capped per example at ``loss_cap`` and the gradient norm
is clipped by default (gradient ascent is unbounded; see ``gradient_ascent``); (2) the SCRUB
code regularises with ``β·(wd/2)·‖θ − θ₀‖²`` towards the original weights and runs the model
in eval mode; here standard weight decay and train mode, like every method of the shared loop.

Determinism detail: forget batches come from a *separate* generator seeded from the config
seed, so the retain batch order is exactly that of ``finetune``; with ``α = 0`` the forget
term is skipped (no forward pass, so BatchNorm statistics are untouched) and the method
reproduces ``finetune`` bit for bit under the same hyperparameters and seed.
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
from unlearnkit.models import FeatureClassifier
from unlearnkit.tuning.space import Choice, LogUniform, SearchSpace
from unlearnkit.utils import generator

# the forget sampler's generator is seeded with (seed + this), independent of batch order
FORGET_SEED_OFFSET = 7919


@dataclass(frozen=True)
class NegGradPlusConfig(LoopConfig):
    """NegGrad+. Kurmanji et al. (2023) small-scale setting: β = 0.95 (α ≈ 0.053), SGD with
    lr 0.01, 10 epochs."""

    epochs: int = option(10, "epochs over the retain set (Kurmanji et al. 2023: 10)")
    batch_size: int = option(
        128, "batch size of both the retain and the forget batch (not fixed by the paper)"
    )
    lr: float = option(0.01, "learning rate (Kurmanji et al. 2023: 0.01, SGD)")
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
            cfg.batch_size,
            generator((cfg.seed or 0) + FORGET_SEED_OFFSET),
            data.augment,
        )

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
