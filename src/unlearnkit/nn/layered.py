"""Multi-layer SURE (an extension beyond the paper): one domain discriminator per erased layer.

The representation is the concatenation ``[z_1 | … | z_K]`` of the pooled representations at
the ``K`` erased layers (read in one forward pass, :func:`layer_representations`); a
:class:`LayeredDiscriminator` splits it by width and applies discriminator ``G_d^k`` to ``z_k``.
The domain loss is the weighted sum of the per-layer losses (:func:`layered_domain_loss`)::

    L_d = Σ_k w_k · BCEWithLogits(G_d^k(R(z_k)), 1[x ∈ D_f])

With one layer the discriminator's output is ``G_d^1(z_1)`` itself, shape ``(N,)``, and the
loss ``w_1 · BCE`` — with ``w_1 = 1`` exactly the single-layer SURE's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.errors import ConfigError
from unlearnkit.models import FeatureClassifier, ModuleAdapter, pool_to_vector
from unlearnkit.nn.discriminator import DomainDiscriminator

__all__ = [
    "LayeredDiscriminator",
    "layer_representations",
    "layered_accuracy",
    "layered_domain_loss",
]


class LayeredDiscriminator(nn.Module):
    """One :class:`DomainDiscriminator` per layer on the column blocks of its input.

    ``forward(z)`` returns ``(N,)`` logits for one layer (the inner discriminator's output) and
    ``(N, K)`` for ``K > 1`` layers (column ``k`` = ``G_d^k`` on ``z[:, block k]``).
    """

    def __init__(
        self, dims: Sequence[int], hidden: tuple[int, ...] = (256, 256), dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not dims:
            raise ConfigError("a layered discriminator needs at least one layer")
        self.dims = [int(d) for d in dims]
        self.discs = nn.ModuleList(DomainDiscriminator(d, hidden, dropout) for d in self.dims)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if len(self.discs) == 1:
            return self.discs[0](z)
        parts = torch.split(z, self.dims, dim=1)
        return torch.stack([d(p) for d, p in zip(self.discs, parts)], dim=1)


def layered_domain_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: Sequence[float]
) -> torch.Tensor:
    """``Σ_k w_k · BCEWithLogits(logits[:, k], target)``; for ``(N,)`` logits (one layer)
    ``w_1 · BCEWithLogits(logits, target)``."""
    if logits.ndim == 1:
        return weights[0] * F.binary_cross_entropy_with_logits(logits, target)
    losses = [
        w * F.binary_cross_entropy_with_logits(logits[:, k], target) for k, w in enumerate(weights)
    ]
    return torch.stack(losses).sum()


def layered_accuracy(logits_f: torch.Tensor, logits_v: torch.Tensor) -> list[float]:
    """Balanced accuracy per layer on forget (1) and validation (0) logits."""
    if logits_f.ndim == 1:
        logits_f, logits_v = logits_f[:, None], logits_v[:, None]
    k = logits_f.shape[1] if logits_f.numel() else logits_v.shape[1]
    out = []
    for j in range(k):
        af = float((logits_f[:, j] > 0).float().mean()) if len(logits_f) else 0.5
        av = float((logits_v[:, j] <= 0).float().mean()) if len(logits_v) else 0.5
        out.append(0.5 * (af + av))
    return out


def _module(model: FeatureClassifier, name: str) -> nn.Module:
    if isinstance(model, ModuleAdapter):
        return model.module.get_submodule(name)
    return model.body.get_submodule(name)


def layer_representations(
    model: FeatureClassifier, x: torch.Tensor, layers: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``([z_1 | … | z_K], z)``: the pooled representations at ``layers`` (concatenated in that
    order; one layer: its representation itself) and the penultimate embedding ``z``, all from
    ONE ``model.features(x)`` pass (forward hooks, removed afterwards), differentiable."""
    captured: dict[str, torch.Tensor] = {}

    def hook(name: str):  # type: ignore[no-untyped-def]
        def fn(_m: nn.Module, _inp: object, out: torch.Tensor) -> None:
            captured[name] = out

        return fn

    handles = [_module(model, n).register_forward_hook(hook(n)) for n in layers]
    try:
        z = model.features(x)
    finally:
        for h in handles:
            h.remove()
    missing = [n for n in layers if n not in captured]
    if missing:
        raise ConfigError(
            f"SURE layers {missing} did not run while computing the embedding: erase layers "
            "up to the penultimate one"
        )
    reps = [pool_to_vector(captured[n]) for n in layers]
    return (reps[0] if len(reps) == 1 else torch.cat(reps, dim=1)), z
