"""``retrain``: train from scratch on the retain set with the original's recipe — the gold
standard every metric is compared with. It never sees a forget example."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearnkit.config import option
from unlearnkit.data.batching import UnlearningData
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import (
    Batch,
    MethodConfig,
    MethodContext,
    UnlearningMethod,
    UnlearnOutcome,
    register_method,
)
from unlearnkit.models import FeatureClassifier
from unlearnkit.training import train_fresh


@dataclass(frozen=True)
class RetrainConfig(MethodConfig):
    """Retrain uses the original's recipe; only its seed may differ."""

    seed: int | None = option(
        None, "seed of initialisation and batch order (default: the original recipe's seed)"
    )


@register_method
class Retrain(UnlearningMethod):
    """Discards the given model and trains a fresh one on retain only."""

    name = "retrain"
    config_cls = RetrainConfig
    description = "train from scratch on retain with the original recipe (gold standard)"
    paper = "—"

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError("retrain uses the training recipe, not the unlearning loop")

    def unlearn(
        self,
        model: FeatureClassifier,
        data: UnlearningData,
        *,
        device: torch.device,
        context: MethodContext | None = None,
    ) -> UnlearnOutcome:
        if context is None:
            raise ConfigError("method 'retrain' needs the original recipe (a MethodContext)")
        recipe = context.train_config
        if self.config.seed is not None:
            recipe = recipe.replace(seed=self.config.seed)
        fresh, result = train_fresh(
            context.model_config,
            recipe,
            data.retain,
            input_shape=data.input_shape,
            num_classes=data.num_classes,
            device=device,
            augment=data.augment,
            show_progress=context.show_progress,
            desc="retrain",
        )
        fresh.eval()
        return UnlearnOutcome(model=fresh, history=result.history, wall_time=result.wall_time)
