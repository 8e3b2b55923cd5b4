"""The model interface every method relies on: ``features(x) -> z`` and ``head(z) -> logits``.

``z`` is the penultimate embedding (what SURE erases and what embedding attacks read). A model
also exposes named intermediate layers (``layer_names``) so SURE can act on an earlier
representation, pooled to a vector.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from unlearnkit.config import Config, option
from unlearnkit.errors import ConfigError


class FeatureClassifier(nn.Module):
    """A classifier split into a feature extractor ``body`` and a linear ``classifier``.

    Subclasses build ``self.body`` as an ``nn.Sequential`` of *named* blocks whose last output
    is the ``embed_dim``-dimensional embedding, and ``self.classifier`` mapping it to logits.
    """

    body: nn.Sequential
    classifier: nn.Module
    embed_dim: int

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate embedding ``z = G_f(x)``."""
        return self.body(x)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        """Logits ``G_y(z)``."""
        return self.classifier(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def layer_names(self) -> list[str]:
        """Names of the blocks of ``body``, usable as SURE's representation layer."""
        return [name for name, _ in self.body.named_children()]

    def features_at(self, x: torch.Tensor, layer: str | None) -> torch.Tensor:
        """The representation after block ``layer`` (global-average-pooled to ``N×C`` if it is
        a feature map); ``None`` means the penultimate embedding."""
        if layer is None:
            return self.features(x)
        if layer not in self.layer_names():
            raise ConfigError(
                f"unknown layer '{layer}'; this model's layers are: {', '.join(self.layer_names())}"
            )
        h = x
        for name, block in self.body.named_children():
            h = block(h)
            if name == layer:
                break
        return pool_to_vector(h)

    def layer_dim(self, layer: str | None, input_shape: tuple[int, ...]) -> int:
        """Width of the representation at ``layer`` for inputs of ``input_shape``."""
        if layer is None:
            return self.embed_dim
        param = next(self.parameters())
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = self.features_at(torch.zeros((2, *input_shape), device=param.device), layer)
        self.train(was_training)
        return int(out.shape[1])


def pool_to_vector(h: torch.Tensor) -> torch.Tensor:
    """Global-average-pool an ``N×C×H×W`` map to ``N×C``; flatten anything else to ``N×D``."""
    if h.ndim == 4:
        return h.mean(dim=(2, 3))
    return h.flatten(1)


@dataclass(frozen=True)
class ModelConfig(Config):
    """Which architecture to build (input shape and class count come from the dataset)."""

    section = "model"

    name: str = option("cnn", "architecture: mlp, cnn or resnet18 (see `unlearnkit list models`)")
    width: int = option(
        32,
        "base width (cnn: channels of the first conv; mlp: hidden units / 4; resnet18: 64 is "
        "the standard width)",
    )
    embed_dim: int = option(128, "size of the penultimate embedding (cnn, mlp)")

    def validate(self) -> None:
        if self.width < 1:
            raise ConfigError(f"model width must be >= 1, got {self.width}")
        if self.embed_dim < 1:
            raise ConfigError(f"embed_dim must be >= 1, got {self.embed_dim}")


Builder = Callable[[ModelConfig, tuple[int, ...], int], FeatureClassifier]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    builder: Builder


_MODELS: OrderedDict[str, ModelSpec] = OrderedDict()


def register_model(name: str, description: str) -> Callable[[Builder], Builder]:
    """Decorator: register a builder ``(config, input_shape, num_classes) -> FeatureClassifier``."""

    def deco(fn: Builder) -> Builder:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is already registered")
        _MODELS[name] = ModelSpec(name, description, fn)
        return fn

    return deco


def model_specs() -> list[ModelSpec]:
    return list(_MODELS.values())


def build_model(
    config: ModelConfig, input_shape: tuple[int, ...], num_classes: int
) -> FeatureClassifier:
    """Build a registered model for inputs of ``input_shape`` and ``num_classes`` classes."""
    if config.name not in _MODELS:
        raise ConfigError(f"unknown model '{config.name}'; known models: {', '.join(_MODELS)}")
    if num_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {num_classes}")
    return _MODELS[config.name].builder(config, tuple(input_shape), num_classes)
