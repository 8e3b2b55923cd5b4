"""Any ``nn.Module`` as a :class:`FeatureClassifier`, split at a named layer by forward hooks.

SURE and the embedding attacks read the penultimate embedding ``z = G_f(x)`` and need the
head ``G_y(z)`` separately. A plain module only offers ``forward``; :class:`ModuleAdapter`
finds the two parts by name, without copying or rewriting the module:

* ``features(x)`` runs the module's own ``forward`` and stops it (a forward hook raises) as
  soon as ``feature_layer`` has produced its output; that output, flattened to ``N×D``, is
  ``z``. Nothing after the feature layer runs.
* ``head(z)`` is the module named ``head_layer`` applied to ``z`` (default: the module's last
  top-level child, e.g. a torchvision ResNet's ``fc``).
* ``forward(x)`` is the module's own forward, untouched.

The split is checked on an example batch (:meth:`ModuleAdapter.check`): ``head(features(x))``
must equal ``module(x)``; otherwise the forward does more between the two layers than a
flatten and the error says which names to pick instead. Intermediate layers
(``features_at``, SURE's ``layer`` option) are any name of ``module.named_modules()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.models.base import FeatureClassifier, pool_to_vector


class MissingFeatureLayer(ConfigError):
    """A step needs the embedding of a plain module whose feature layer was not named."""


class _Captured(Exception):
    """Raised by the capture hook to stop the forward once the wanted layer has run."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__("captured")
        self.output = output


def _names(module: nn.Module, limit: int = 12) -> str:
    names = [n for n, _ in module.named_children()]
    shown = ", ".join(names[:limit]) + (", …" if len(names) > limit else "")
    return shown or "(no named children)"


def _first_tensor(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise ConfigError(f"the layer's output is a {type(out).__name__}, not a tensor")


class ModuleAdapter(FeatureClassifier):
    """A plain ``nn.Module`` seen as ``features`` + ``head`` (see the module docstring).

    Args:
        module: the user's model; it is wrapped, not copied (``adapter.module`` is it).
        feature_layer: name (as in ``module.named_modules()``) of the layer whose output is the
            penultimate embedding, e.g. ``"avgpool"`` for a torchvision-style ResNet; ``None``
            = the module has no declared feature layer (only ``forward`` works; reading the
            embedding raises an error that says how to declare it).
        head_layer: name of the module that maps the (flattened) embedding to logits; default
            the last top-level child of ``module``.
    """

    def __init__(
        self, module: nn.Module, feature_layer: str | None, head_layer: str | None = None
    ) -> None:
        super().__init__()
        if isinstance(module, FeatureClassifier):
            raise ConfigError("the model is already a FeatureClassifier; it needs no adapter")
        self.module = module
        self.feature_layer = feature_layer
        modules = dict(module.named_modules())
        if feature_layer is not None and (feature_layer not in modules or feature_layer == ""):
            raise ConfigError(
                f"feature_layer '{feature_layer}' is not a layer of {type(module).__name__}; "
                f"its top-level layers are: {_names(module)} (nested layers are named "
                "'block.sub', as in model.named_modules())"
            )
        children = [n for n, _ in module.named_children()]
        if head_layer is None and feature_layer is not None:
            if not children:
                raise ConfigError(f"{type(module).__name__} has no child modules to use as a head")
            head_layer = children[-1]
        if head_layer is not None and head_layer not in modules:
            raise ConfigError(
                f"head_layer '{head_layer}' is not a layer of {type(module).__name__}; its "
                f"top-level layers are: {_names(module)}"
            )
        if head_layer is not None and head_layer == feature_layer:
            raise ConfigError(
                f"feature_layer and head_layer are both '{head_layer}': the feature layer is "
                "the one *before* the head (e.g. feature_layer='avgpool', head_layer='fc')"
            )
        self.head_layer = head_layer
        self.embed_dim = 0  # set by check()

    # -- the FeatureClassifier contract ----------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (flattened) output of ``feature_layer``; the rest of the forward is skipped."""
        return self._run_until(self._require_feature_layer(), x).flatten(1)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        self._require_feature_layer()
        assert self.head_layer is not None
        return self.module.get_submodule(self.head_layer)(z)

    def layer_names(self) -> list[str]:
        return [n for n, _ in self.module.named_modules() if n]

    def features_at(self, x: torch.Tensor, layer: str | None) -> torch.Tensor:
        if layer is None:
            return self.features(x)
        if layer not in self.layer_names():
            raise ConfigError(
                f"unknown layer '{layer}' of {type(self.module).__name__}; its top-level layers "
                f"are: {_names(self.module)} (nested: 'block.sub')"
            )
        return pool_to_vector(self._run_until(layer, x))

    def layer_dim(self, layer: str | None, input_shape: tuple[int, ...]) -> int:
        param = next(self.module.parameters())
        with _eval(self), torch.no_grad():
            z = self.features_at(torch.zeros((2, *input_shape), device=param.device), layer)
        return int(z.shape[1])

    # -- helpers ---------------------------------------------------------------------------
    def _require_feature_layer(self) -> str:
        if self.feature_layer is None:
            raise MissingFeatureLayer(
                f"{type(self.module).__name__} is a plain nn.Module without a declared feature "
                "layer, but this step reads the penultimate embedding (SURE erases it, the "
                "embedding attacks read it). Name the layer whose output is the embedding: "
                f"feature_layer='<name>' (top-level layers: {_names(self.module)}; e.g. "
                "'avgpool' for a torchvision ResNet), or wrap the model yourself with "
                "unlearnkit.models.ModuleAdapter(model, feature_layer='<name>')"
            )
        return self.feature_layer

    def _run_until(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            raise _Captured(_first_tensor(out))

        handle = self.module.get_submodule(layer).register_forward_hook(hook)
        try:
            self.module(x)
        except _Captured as got:
            return got.output
        finally:
            handle.remove()
        raise ConfigError(
            f"layer '{layer}' of {type(self.module).__name__} never ran during forward(); pick a "
            "layer that the forward pass uses"
        )

    def check(self, example: torch.Tensor) -> ModuleAdapter:
        """Verify on ``example`` (a small batch) that ``head(features(x)) == module(x)`` and
        record ``embed_dim``; returns ``self``. A no-op without a feature layer."""
        if self.feature_layer is None:
            return self
        with _eval(self), torch.no_grad():
            full = self.module(example)
            z = self.features(example)
            try:
                split = self.head(z)
            except RuntimeError as exc:
                raise ConfigError(
                    f"head_layer '{self.head_layer}' cannot take the flattened output of "
                    f"feature_layer '{self.feature_layer}' (shape {tuple(z.shape)}): {exc}. "
                    "Choose the layer right before the head as feature_layer."
                ) from None
        if split.shape != full.shape or not torch.allclose(split, full, rtol=1e-4, atol=1e-5):
            raise ConfigError(
                f"splitting {type(self.module).__name__} at feature_layer '{self.feature_layer}' "
                f"and head_layer '{self.head_layer}' does not reproduce model(x): the forward "
                "does more between them than a flatten. Choose the layer whose flattened output "
                "goes straight into the head, or subclass unlearnkit.models.FeatureClassifier"
            )
        self.embed_dim = int(z.shape[1])
        return self


@contextmanager
def _eval(model: nn.Module) -> Iterator[None]:
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def as_feature_classifier(
    model: nn.Module,
    feature_layer: str | None = None,
    head_layer: str | None = None,
    *,
    example: torch.Tensor | None = None,
) -> FeatureClassifier:
    """``model`` itself if it already is a :class:`FeatureClassifier`, else a checked
    :class:`ModuleAdapter` around it (``example``: a small input batch for the check)."""
    if isinstance(model, FeatureClassifier):
        if feature_layer is not None:
            raise ConfigError(
                f"{type(model).__name__} is a FeatureClassifier with its own features(); "
                "feature_layer is only for plain nn.Modules"
            )
        return model
    if not isinstance(model, nn.Module):
        raise ConfigError(f"expected a torch.nn.Module, got {type(model).__name__}")
    adapter = ModuleAdapter(model, feature_layer, head_layer)
    return adapter.check(example) if example is not None else adapter


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside a :class:`ModuleAdapter` (anything else as it is)."""
    return model.module if isinstance(model, ModuleAdapter) else model


def require_feature_classifier(model: nn.Module, method: str) -> None:
    """Refuse a plain module where ``method`` needs ``features``/``head``, saying how to wrap it."""
    if isinstance(model, FeatureClassifier):
        return
    raise ConfigError(
        f"method '{method}' reads the model's penultimate embedding, but "
        f"{type(model).__name__} is a plain nn.Module (no features()/head()). Wrap it: "
        "unlearnkit.models.ModuleAdapter(model, feature_layer='<layer whose output is the "
        f"embedding>') (top-level layers: {_names(model)}), or call "
        "unlearnkit.unlearn(model, ..., feature_layer='<name>')"
    )
