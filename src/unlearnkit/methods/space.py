"""Search spaces of method hyperparameters, declared beside each method and overridable.

Each method declares its space as the class attribute ``search_space`` (config key →
distribution), next to its config in its own file. ``unlearnkit tune`` turns a space into
Optuna distributions (:meth:`Distribution.to_optuna`) and gives every method the same number
of trials. A benchmark file can replace or add dimensions in a ``[tune.space.<method>]``
table, one inline table per key (:func:`parse_distribution`)::

    [tune.space.sure]
    warmup_epochs = {choice = [10, 30, 60]}
    disc_lr = {log_uniform = [1e-4, 1e-2]}
    disc_dropout = {uniform = [0.0, 0.5]}
    disc_steps = {int_uniform = [1, 5]}

This module sits beside the methods (it imports nothing above ``errors``), so method files
never import from ``tuning/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from unlearnkit.errors import ConfigError

__all__ = [
    "DISTRIBUTION_KINDS",
    "Choice",
    "Distribution",
    "IntUniform",
    "LogUniform",
    "SearchSpace",
    "Uniform",
    "parse_distribution",
    "resolve_space",
]


class Distribution(Protocol):
    """A one-dimensional distribution over a config value."""

    def to_optuna(self) -> Any:
        """The equivalent ``optuna.distributions.BaseDistribution``."""
        ...

    def describe(self) -> str: ...

    def contains(self, value: Any) -> bool: ...


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class LogUniform:
    """``exp(U(ln low, ln high))`` (learning rates, loss weights)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (_number(self.low) and _number(self.high) and 0 < self.low < self.high):
            raise ConfigError(
                f"log_uniform needs 0 < low < high (a log range cannot reach 0), got "
                f"[{self.low}, {self.high}]"
            )

    def to_optuna(self) -> Any:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.low), float(self.high), log=True)

    def describe(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"

    def contains(self, value: Any) -> bool:
        return _number(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class Uniform:
    """``U(low, high)``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (_number(self.low) and _number(self.high) and self.low < self.high):
            raise ConfigError(f"uniform needs low < high, got [{self.low}, {self.high}]")

    def to_optuna(self) -> Any:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(float(self.low), float(self.high))

    def describe(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"

    def contains(self, value: Any) -> bool:
        return _number(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class IntUniform:
    """An integer uniformly in ``[low, high]`` (both included)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high))
        if not (ok and self.low < self.high):
            raise ConfigError(
                f"int_uniform needs two integers low < high, got [{self.low}, {self.high}]"
            )

    def to_optuna(self) -> Any:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high)

    def describe(self) -> str:
        return f"integer in [{self.low}, {self.high}]"

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (epochs, discrete switches); TPE treats them as categories."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError("choice needs at least one value, got an empty list")
        for v in self.values:
            if not isinstance(v, (bool, int, float, str)):
                raise ConfigError(f"choice values must be numbers, strings or booleans, got {v!r}")
        if len(set(self.values)) != len(self.values):
            raise ConfigError(f"choice has duplicate values: {list(self.values)}")

    def to_optuna(self) -> Any:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.values)

    def describe(self) -> str:
        return "one of {" + ", ".join(str(v) for v in self.values) + "}"

    def contains(self, value: Any) -> bool:
        return any(type(v) is type(value) and v == value for v in self.values)


SearchSpace = Mapping[str, Distribution]

#: the forms of a ``[tune.space.<method>]`` entry
DISTRIBUTION_KINDS = ("choice", "log_uniform", "uniform", "int_uniform")


def parse_distribution(where: str, spec: Any) -> Distribution:
    """One distribution from its TOML form: ``{choice = [..]}``, ``{log_uniform = [lo, hi]}``,
    ``{uniform = [lo, hi]}`` or ``{int_uniform = [lo, hi]}``; ``where`` names it in errors."""
    forms = ", ".join(f"{{{k} = [...]}}" for k in DISTRIBUTION_KINDS)
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConfigError(f"{where} must be one of {forms}, got {spec!r}")
    ((kind, value),) = spec.items()
    if kind not in DISTRIBUTION_KINDS:
        raise ConfigError(f"{where}: unknown distribution '{kind}'; use one of {forms}")
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: {kind} takes a list, got {value!r}")
    try:
        if kind == "choice":
            return Choice(tuple(value))
        if len(value) != 2:
            raise ConfigError(f"{kind} takes [low, high], got {list(value)}")
        low, high = value
        if kind == "log_uniform":
            return LogUniform(low, high)
        if kind == "uniform":
            return Uniform(low, high)
        return IntUniform(low, high)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def resolve_space(
    method: str,
    default: SearchSpace,
    fields: tuple[str, ...] | list[str],
    override: Mapping[str, Any] | None,
) -> dict[str, Distribution]:
    """``default`` with the entries of a ``[tune.space.<method>]`` table replacing or adding
    dimensions; each key must be a field of the method's config (``fields``), except ``seed``."""
    space = dict(default)
    for key, spec in (override or {}).items():
        where = f"[tune.space.{method}] {key}"
        if key not in fields or key == "seed":
            known = ", ".join(f for f in fields if f != "seed")
            raise ConfigError(
                f"{where}: '{key}' is not a parameter of {method}; its parameters are: {known}"
            )
        space[key] = parse_distribution(where, spec)
    return dict(sorted(space.items()))
