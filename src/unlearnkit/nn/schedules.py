"""λ schedules: pure functions of training progress ``p`` ∈ [0, 1]."""

from __future__ import annotations

import math

from unlearnkit.errors import ConfigError

LAMBDA_SCHEDULES = ("constant", "dann")


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    """DANN's schedule (Ganin et al. 2016, §5.2.2): ``λ_p = 2 / (1 + exp(−γ·p)) − 1``.

    Rises from 0 at ``p = 0`` to ≈1 at ``p = 1`` (0.99991 for γ = 10), damping the noisy
    reversed gradients of the early, still-untrained domain classifier.
    """
    p = min(max(float(p), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def lambda_at(kind: str, p: float, lambda_max: float = 1.0, gamma: float = 10.0) -> float:
    """λ at progress ``p``: ``lambda_max`` (constant) or ``lambda_max · dann_lambda(p, γ)``."""
    if kind == "constant":
        return float(lambda_max)
    if kind == "dann":
        return float(lambda_max) * dann_lambda(p, gamma)
    raise ConfigError(f"unknown λ schedule '{kind}'; choose one of {', '.join(LAMBDA_SCHEDULES)}")
