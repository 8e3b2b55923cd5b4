"""Search spaces of method hyperparameters: a few distributions and a seeded sampler.

Each method declares its space as the class attribute ``search_space`` (a mapping from a config
key to a distribution below), next to its config in its own file. ``unlearnkit tune`` draws the
same number of configurations from every method's space (random search, Bergstra & Bengio 2012),
so every method gets the same budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from unlearnkit.errors import ConfigError

__all__ = ["Choice", "Distribution", "LogUniform", "SearchSpace", "Uniform", "sample_space"]


class Distribution(Protocol):
    """A one-dimensional distribution over a config value."""

    def sample(self, rng: np.random.Generator) -> Any: ...

    def describe(self) -> str: ...


def _round(x: float) -> float:
    """Three significant digits: readable configs, and the same value on every platform."""
    return float(f"{x:.3g}")


@dataclass(frozen=True)
class LogUniform:
    """``exp(U(ln low, ln high))``, rounded to 3 significant digits (learning rates, weights)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (0 < self.low < self.high):
            raise ConfigError(f"LogUniform needs 0 < low < high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return _round(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def describe(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform:
    """``U(low, high)``, rounded to 3 significant digits."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"Uniform needs low < high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return _round(rng.uniform(self.low, self.high))

    def describe(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Choice:
    """One of ``values``, uniformly (epochs, discrete switches)."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError("Choice needs at least one value")

    def sample(self, rng: np.random.Generator) -> Any:
        v = self.values[int(rng.integers(len(self.values)))]
        return v.item() if isinstance(v, np.generic) else v

    def describe(self) -> str:
        return "one of {" + ", ".join(str(v) for v in self.values) + "}"


SearchSpace = Mapping[str, Distribution]


def sample_space(space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    """One configuration: a value per key, drawn in sorted key order (stable under reordering)."""
    return {key: space[key].sample(rng) for key in sorted(space)}
