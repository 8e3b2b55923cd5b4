"""``original``: no change — the starting point every table reports alongside retrain."""

from __future__ import annotations

import time

import torch

from unlearnkit.data.batching import UnlearningData
from unlearnkit.methods.base import (
    Batch,
    MethodConfig,
    MethodContext,
    UnlearningMethod,
    UnlearnOutcome,
    register_method,
)
from unlearnkit.models import FeatureClassifier


@register_method
class Original(UnlearningMethod):
    """Returns the model unchanged."""

    name = "original"
    config_cls = MethodConfig
    description = "no change: the trained model before unlearning"
    paper = "—"

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError("original does not train")

    def unlearn(
        self,
        model: FeatureClassifier,
        data: UnlearningData,
        *,
        device: torch.device,
        context: MethodContext | None = None,
    ) -> UnlearnOutcome:
        t0 = time.perf_counter()
        model.to(device).eval()
        return UnlearnOutcome(model=model, wall_time=time.perf_counter() - t0)
