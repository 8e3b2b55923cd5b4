"""Record a model's intermediate representations with forward hooks, in the pass that collects
its outputs.

:func:`resolve_layers` turns layer names into modules: for a
:class:`~unlearnkit.models.FeatureClassifier` the default is every named block of its ``body``
(the zoo's stages: ``block1 … fc`` for ``cnn``, ``stem, layer1 … layer4, pool`` for
``resnet18``); any other module of any ``nn.Module`` can be named by its dotted path from
``model.named_modules()`` (e.g. ``body.layer3.1``). :class:`LayerRecorder` registers one forward
hook per layer that copies the layer's output — global-average-pooled to ``N×C`` if it is a
feature map, flattened otherwise (:func:`~unlearnkit.models.pool_to_vector`, the representation
SURE reads at a named layer) — of the selected rows of each batch to CPU float32 arrays. The
hooks return ``None`` (outputs unchanged), never touch parameters, and are removed when the
recorder's ``with`` block ends, also on error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.models import FeatureClassifier, ModuleAdapter, pool_to_vector
from unlearnkit.models.adapter import _first_tensor as first_tensor

__all__ = ["LayerActivations", "LayerRecorder", "default_layers", "resolve_layers"]


def default_layers(model: nn.Module) -> list[str]:
    """The layers recorded when none are named: every named block of a zoo model's body, in
    forward order; for a :class:`~unlearnkit.models.ModuleAdapter` the wrapped module's
    top-level children up to the one holding its ``feature_layer`` (later ones do not run when
    the embedding is read); for any other module its top-level children."""
    if isinstance(model, ModuleAdapter):
        names = [n for n, _ in model.module.named_children()]
        top = (model.feature_layer or "").split(".")[0]
        return names[: names.index(top) + 1] if top in names else names
    if isinstance(model, FeatureClassifier):
        return model.layer_names()
    return [name for name, _ in model.named_children()]


def _root(model: nn.Module) -> nn.Module:
    """The module whose ``named_modules()`` paths name layers (the wrapped one for an adapter)."""
    return model.module if isinstance(model, ModuleAdapter) else model


def _valid_names(model: nn.Module) -> str:
    blocks = ", ".join(default_layers(model)) or "none"
    paths = [n for n, _ in _root(model).named_modules() if n]
    shown = ", ".join(paths[:40]) + (f", … ({len(paths)} in all)" if len(paths) > 40 else "")
    return f"blocks: {blocks}; or any module path of model.named_modules(): {shown}"


def resolve_layers(model: nn.Module, names: Sequence[str] = ()) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` per requested layer; ``names`` empty = :func:`default_layers`.

    A name is a block of a zoo model's body (``block1``) or a dotted module path (``body.block1.0``;
    for a :class:`~unlearnkit.models.ModuleAdapter`, a path in the wrapped module, as its
    ``layer_names()``). An unknown name raises :class:`~unlearnkit.errors.ConfigError` listing the
    valid ones.
    """
    wanted = list(names) or default_layers(model)
    if not wanted:
        raise ConfigError("the model has no named layers to evaluate; name them explicitly")
    if len(set(wanted)) != len(wanted):
        raise ConfigError(f"layer names must be unique, got {wanted}")
    modules = dict(_root(model).named_modules())
    body = getattr(model, "body", None)
    blocks = dict(body.named_children()) if isinstance(body, nn.Module) else {}
    out: list[tuple[str, nn.Module]] = []
    for name in wanted:
        module = blocks.get(name)
        if module is None and name:
            module = modules.get(name)
        if module is None:
            raise ConfigError(f"unknown layer '{name}'; valid layers: {_valid_names(model)}")
        out.append((name, module))
    return out


@dataclass
class LayerActivations:
    """Pooled activations of one split part at each recorded layer.

    ``rows`` are the positions (within the part as collected) of the recorded examples;
    ``acts[layer]`` is an ``(len(rows), d_layer)`` float32 array in that order.
    """

    rows: np.ndarray
    acts: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.rows.shape[0])


class LayerRecorder:
    """Forward hooks that copy the selected rows of each batch at each layer.

    Use :meth:`record` around a part's batched pass, and call :meth:`select` before each batch
    with the positions of that batch's rows to keep (positions within the batch).
    """

    def __init__(self, model: nn.Module, names: Sequence[str] = ()) -> None:
        self.layers = resolve_layers(model, names)
        self.names = [n for n, _ in self.layers]
        self._keep: torch.Tensor | None = None
        self._chunks: dict[str, list[np.ndarray]] = {}

    def select(self, keep: np.ndarray) -> None:
        """Rows of the next batch to record (positions within the batch)."""
        self._keep = torch.as_tensor(np.asarray(keep, dtype=np.int64))

    def _hook(self, name: str) -> Any:
        def hook(_module: nn.Module, _inp: Any, out: Any) -> None:
            if self._keep is None or len(self._keep) == 0:
                return None
            h = first_tensor(out).detach()
            v = pool_to_vector(h[self._keep.to(h.device)])
            self._chunks[name].append(v.float().cpu().numpy())
            return None

        return hook

    @contextmanager
    def record(self, rows: np.ndarray) -> Iterator[LayerActivations]:
        """Hooks registered inside, removed on exit; the yielded :class:`LayerActivations`
        (for the part's ``rows``) is filled when the block ends."""
        acts = LayerActivations(np.asarray(rows, dtype=np.int64))
        self._chunks = {n: [] for n in self.names}
        handles = [m.register_forward_hook(self._hook(n)) for n, m in self.layers]
        try:
            yield acts
        finally:
            for h in handles:
                h.remove()
            self._keep = None
        for n in self.names:
            chunks = self._chunks[n]
            acts.acts[n] = np.concatenate(chunks) if chunks else np.empty((0, 0), dtype=np.float32)
            if acts.acts[n].shape[0] != len(acts):
                raise ConfigError(
                    f"layer '{n}' ran {acts.acts[n].shape[0]} times for {len(acts)} examples: "
                    "name a module that runs once per forward pass"
                )
        self._chunks = {}
