"""Hyperparameter search on the val split with the same budget for every method."""

from unlearnkit.tuning.space import (
    Choice,
    Distribution,
    LogUniform,
    SearchSpace,
    Uniform,
    sample_space,
)

__all__ = ["Choice", "Distribution", "LogUniform", "SearchSpace", "Uniform", "sample_space"]
