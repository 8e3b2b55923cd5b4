"""Gradient reversal layer (Ganin & Lempitsky 2015; Ganin et al. 2016, "Domain-Adversarial
Training of Neural Networks", JMLR 17).

Forward: identity, ``R(x) = x``. Backward: ``∂R/∂x = −λ·I``, so the layers *before* it
ascend the loss computed *after* it. λ is explicit state with a setter; it never changes
inside ``forward`` (schedules live in :mod:`unlearnkit.nn.schedules`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unlearnkit.errors import ConfigError


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lambd: float) -> torch.Tensor:
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad.neg() * ctx.lambd, None


def reverse_gradient(x: torch.Tensor, lambd: float) -> torch.Tensor:
    """Functional form: identity forward, gradient × −λ backward."""
    return _ReverseGrad.apply(x, float(lambd))


class GradientReversal(nn.Module):
    """Identity forward, gradient × −λ backward; λ ≥ 0 set with :meth:`set_lambda`."""

    def __init__(self, lambd: float = 1.0) -> None:
        super().__init__()
        self.lambd = 0.0
        self.set_lambda(lambd)

    def set_lambda(self, lambd: float) -> None:
        if not lambd >= 0:
            raise ConfigError(f"gradient-reversal λ must be >= 0, got {lambd}")
        self.lambd = float(lambd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(x, self.lambd)

    def extra_repr(self) -> str:
        return f"lambda={self.lambd}"
