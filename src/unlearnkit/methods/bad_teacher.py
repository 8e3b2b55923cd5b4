"""``bad_teacher``: distil from a competent teacher on retain data and from an incompetent
(randomly initialised) teacher on forget data.

Paper: Chundawat et al. 2023, "Can Bad Teaching Induce Forgetting? Unlearning in Deep
Networks using an Incompetent Teacher" (AAAI). The student (initialised from the original)
is trained on a shuffled mix of a random subset of the retain set and the whole forget set,
with labels l = 1 for forget rows and 0 for retain rows:

    q(x) = l · softmax(T_d(x)/τ) + (1 − l) · softmax(T_s(x)/τ)
    L    = KL( q(x) ‖ softmax(S(x)/τ) )

T_s = competent teacher (the frozen original), T_d = incompetent teacher (same architecture,
random initialisation), τ = KL temperature. Defaults from their code: 1 epoch, Adam lr 1e-4,
batch 256, τ = 1, 30 % of the retain set.

The incompetent teacher is a fresh model of the original's architecture (the context's
``model_fn`` when given, else ``build_model(model_config)``) built under the method's seed (without
touching the global RNG) and used in eval mode, like the competent one.

Deviation: their ``F.kl_div`` uses PyTorch's default ``reduction='mean'``, which also divides
by the number of classes; here the proper KL per example (``batchmean``). With Adam, which
is invariant to a constant loss scale (up to ε), the updates are practically the same.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.data.batching import TensorSet, UnlearningData, batch_indices
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier


def frozen_teacher(
    original: FeatureClassifier | None, method: str, device: torch.device
) -> FeatureClassifier:
    """A private, frozen, eval-mode copy of the original model on ``device``."""
    if original is None:
        raise ConfigError(
            f"method '{method}' needs the original model as its teacher: pass "
            "MethodContext(original=<frozen copy of the original>) to unlearn()"
        )
    teacher = copy.deepcopy(original).to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def bad_teacher_loss(
    student_logits: torch.Tensor,
    competent_logits: torch.Tensor,
    incompetent_logits: torch.Tensor,
    is_forget: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """``KL(q ‖ softmax(s/τ))`` per example, averaged; q mixes the teachers by row."""
    lab = is_forget.float().unsqueeze(1)
    q = lab * F.softmax(incompetent_logits / temperature, dim=1) + (1 - lab) * F.softmax(
        competent_logits / temperature, dim=1
    )
    log_s = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(log_s, q, reduction="batchmean")


@dataclass(frozen=True)
class BadTeacherConfig(LoopConfig):
    """Bad teaching. Defaults from Chundawat et al.'s (2023) code."""

    epochs: int = option(1, "epochs over the retain-subset ∪ forget mix (Chundawat et al.: 1)")
    batch_size: int = option(256, "mini-batch size (Chundawat et al.: 256)")
    optimizer: str = option("adam", "optimiser (Chundawat et al.: Adam)", choices=("sgd", "adam"))
    lr: float = option(1e-4, "learning rate (Chundawat et al.: 1e-4 with Adam)")
    weight_decay: float = option(0.0, "weight decay (Chundawat et al.: none)")
    retain_fraction: float = option(
        0.3, "fraction of the retain set (random, seeded) mixed with the forget set (0.3)"
    )
    kl_temperature: float = option(1.0, "τ: temperature of the KL distillation (1)")

    def validate(self) -> None:
        super().validate()
        if not 0 < self.retain_fraction <= 1:
            raise ConfigError(f"retain_fraction must be in (0, 1], got {self.retain_fraction}")
        if not self.kl_temperature > 0:
            raise ConfigError(f"kl_temperature must be > 0, got {self.kl_temperature}")


@register_method
class BadTeacher(UnlearningMethod):
    """Bad teaching (see the module docstring)."""

    name = "bad_teacher"
    config_cls = BadTeacherConfig
    description = "distil from the original on retain, from a random network on forget"
    paper = "Chundawat et al. 2023 (AAAI)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-5, 1e-3),
        "epochs": Choice((1, 2, 3)),
        "kl_temperature": Choice((1.0, 2.0, 4.0)),
    }
    config: BadTeacherConfig

    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        cfg = self.config
        ctx = self.context
        self.competent = frozen_teacher(ctx.original if ctx else None, self.name, self.device)
        assert ctx is not None  # frozen_teacher raised otherwise
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed or 0)
            bad = ctx.fresh_model(self.name, data.input_shape, data.num_classes)
        self.incompetent = bad.to(self.device).eval()
        for p in self.incompetent.parameters():
            p.requires_grad_(False)
        n_keep = max(1, int(round(cfg.retain_fraction * len(data.retain))))
        rows = torch.randperm(len(data.retain), generator=self.generator)[:n_keep]
        retain_part = data.retain.subset(np.sort(rows.numpy()))
        self.mix = TensorSet(
            torch.cat([retain_part.x, data.forget.x]),
            torch.cat(
                [
                    torch.zeros(len(retain_part), dtype=torch.long, device=data.forget.y.device),
                    torch.ones(len(data.forget), dtype=torch.long, device=data.forget.y.device),
                ]
            ),
            np.concatenate([retain_part.indices, data.forget.indices]),
        )

    def primary_set(self, data: UnlearningData) -> TensorSet:
        return self.mix

    def batches(self, data: UnlearningData) -> Iterator[Batch]:
        # the "label" of a mix row is its forget flag (the loss uses no class labels)
        for idx in batch_indices(len(self.mix), self.config.batch_size, generator=self.generator):
            yield {"mix": self.mix.take(idx, generator=self.generator, augment=data.augment)}

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        x, is_forget = batch["mix"]
        with torch.no_grad():
            good = self.competent(x)
            bad = self.incompetent(x)
        loss = bad_teacher_loss(model(x), good, bad, is_forget, self.config.kl_temperature)
        return loss, {"kl": float(loss.detach())}
