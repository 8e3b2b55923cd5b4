"""``retrain``: train from scratch on the retain set with the original's recipe — the gold
standard every metric is compared with. It never sees a forget example.

The fresh model is the user's own architecture when the context has ``model_fn`` (trained by
``train_fn`` if given, else by unlearnkit's recipe ``train_config``), else the built-in
``model_config`` trained with ``train_config``.

Its seed (initialisation and batch order) is *not* the original's: sharing it would start
retrain from the original's initial weights, which biases CKA and the embedding gaps towards
the original. :func:`retrain_seed` derives it from the original's seed (one documented
function, used by every caller through :func:`retrain_recipe`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
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
from unlearnkit.training import TrainConfig, train_fresh, train_model
from unlearnkit.utils import seed_all

# the spawn key that separates retrain's seed stream from the original's ("retrain")
RETRAIN_SEED_KEY = 0x7E7


def retrain_seed(original_seed: int) -> int:
    """Retrain's seed, derived from the original recipe's seed ``s``:
    ``numpy.random.SeedSequence(s, spawn_key=(0x7E7,)).generate_state(1)[0] mod 2³¹`` — a
    fixed, platform-independent function (reproducible), distinct from ``s`` and from the
    seeds of neighbouring originals (a hash, not an offset)."""
    state = np.random.SeedSequence(original_seed, spawn_key=(RETRAIN_SEED_KEY,)).generate_state(1)
    derived = int(state[0]) % (2**31)
    return derived if derived != original_seed else derived + 1


def retrain_recipe(train_config: TrainConfig, seed: int | None = None) -> TrainConfig:
    """The recipe retrain trains with: the original's, with ``seed`` (an explicit override,
    e.g. ``RetrainConfig.seed``) or else :func:`retrain_seed` of the original's seed."""
    return train_config.replace(seed=seed if seed is not None else retrain_seed(train_config.seed))


@dataclass(frozen=True)
class RetrainConfig(MethodConfig):
    """Retrain uses the original's recipe with its own seed."""

    seed: int | None = option(
        None,
        "seed of initialisation and batch order (default: derived from the original recipe's "
        "seed by retrain_seed, never equal to it)",
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
            raise ConfigError(
                "method 'retrain' needs to know how to build and train a fresh model: pass a "
                "MethodContext(model_fn=..., train_fn=...) or (model_config=..., train_config=...)"
            )
        if context.model_fn is None and context.train_fn is None:
            return self._retrain_builtin(data, device, context)
        # the user's own architecture (and training function): seeded init, trained in place
        seed = self.config.seed
        if seed is None:
            seed = retrain_seed(context.train_config.seed if context.train_config else 0)
        seed_all(seed)
        fresh = context.fresh_model(self.name, data.input_shape, data.num_classes).to(device)
        t0 = time.perf_counter()
        if context.train_fn is not None:
            context.train_fn(fresh, data.retain, device)
            history: list[dict[str, float]] = []
        else:
            recipe = context.train_config or TrainConfig()
            recipe = recipe.replace(seed=seed)
            history = train_model(
                fresh,
                data.retain,
                recipe,
                device=device,
                augment=data.augment,
                show_progress=context.show_progress,
                desc="retrain",
            ).history
        fresh.eval()
        return UnlearnOutcome(model=fresh, history=history, wall_time=time.perf_counter() - t0)

    def _retrain_builtin(
        self, data: UnlearningData, device: torch.device, context: MethodContext
    ) -> UnlearnOutcome:
        if context.model_config is None or context.train_config is None:
            raise ConfigError(
                "method 'retrain' needs the original's architecture and recipe: give "
                "MethodContext(model_fn=<constructor of your model>, train_fn=<your training "
                "function>) (unlearnkit.unlearn(..., model_fn=..., train_fn=...)), or "
                "model_config + train_config for a built-in architecture"
            )
        recipe = retrain_recipe(context.train_config, self.config.seed)
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
