"""Input validation shared by the evaluation functions.

Every public evaluation function converts its inputs with these helpers, so a bad input (an empty
array, mismatched lengths, a NaN coming out of a diverged model, labels outside the probability
columns, a single class where an attack needs two) ends in one :class:`EvaluationError` that names
the offending array, says what was expected and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from unlearnkit.errors import UnlearnkitError

__all__ = [
    "EvaluationError",
    "as_1d",
    "as_2d",
    "as_labels",
    "as_probs",
    "check_choice",
    "check_fraction",
    "check_min_count",
    "check_same_length",
    "check_two_classes",
]


class EvaluationError(UnlearnkitError):
    """Invalid input to an evaluation function (shape, length, NaN, range, class count)."""


def _to_numpy(x: ArrayLike, name: str) -> NDArray[Any]:
    """Convert ``x`` (NumPy array, list, or a CPU/GPU torch tensor) to a NumPy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu().numpy()  # type: ignore[union-attr]
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(f"'{name}' could not be converted to an array: {exc}") from exc
    if arr.dtype == object:
        raise EvaluationError(
            f"'{name}' must be a numeric array, got an object array (ragged or mixed rows?)"
        )
    return arr


def _check_finite(arr: NDArray[Any], name: str) -> None:
    if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise EvaluationError(
            f"'{name}' contains non-finite values ({n_nan} NaN, {n_inf} inf): the model's "
            "outputs are invalid (diverged training?); fix or retrain the model before evaluating"
        )


def as_1d(x: ArrayLike, name: str, *, dtype: type = np.float64) -> NDArray[Any]:
    """Return ``x`` as a non-empty, finite 1-D array of ``dtype``.

    A column vector of shape ``(n, 1)`` is accepted and flattened.
    """
    arr = _to_numpy(x, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise EvaluationError(
            f"'{name}' must be 1-D (one value per example), got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise EvaluationError(f"'{name}' is empty: expected at least one example")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise EvaluationError(f"'{name}' must be numeric, got dtype {arr.dtype}")
    _check_finite(arr, name)
    return arr.astype(dtype, copy=False)


def as_2d(x: ArrayLike, name: str, *, dtype: type = np.float64) -> NDArray[Any]:
    """Return ``x`` as a non-empty, finite 2-D ``(n, d)`` array of ``dtype`` (d ≥ 1)."""
    arr = _to_numpy(x, name)
    if arr.ndim != 2:
        hint = " (use x.reshape(-1, 1) for a single feature)" if arr.ndim == 1 else ""
        raise EvaluationError(
            f"'{name}' must be 2-D (examples × features), got shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0:
        raise EvaluationError(f"'{name}' is empty: expected at least one example")
    if arr.shape[1] == 0:
        raise EvaluationError(f"'{name}' has zero columns: expected at least one feature")
    if not np.issubdtype(arr.dtype, np.number):
        raise EvaluationError(f"'{name}' must be numeric, got dtype {arr.dtype}")
    _check_finite(arr, name)
    return arr.astype(dtype, copy=False)


def as_labels(x: ArrayLike, name: str, *, n_classes: int | None = None) -> NDArray[np.int64]:
    """Return integer class labels as a non-empty 1-D ``int64`` array.

    Float labels are accepted only when they hold whole numbers. Labels must be ≥ 0 and, when
    ``n_classes`` is given (the number of probability/logit columns), ``< n_classes``.
    """
    arr = _to_numpy(x, name)
    if np.issubdtype(arr.dtype, np.floating):
        arr = as_1d(arr, name)  # also rejects NaN / inf
        if not np.all(arr == np.round(arr)):
            raise EvaluationError(f"'{name}' must hold integer class labels, got fractions")
        arr = arr.astype(np.int64)
    arr = as_1d(arr, name, dtype=np.int64)
    if arr.min() < 0:
        raise EvaluationError(f"'{name}' must be ≥ 0, found {int(arr.min())}")
    if n_classes is not None and arr.max() >= n_classes:
        raise EvaluationError(
            f"'{name}' must lie in [0, {n_classes}) to index the {n_classes} probability/logit "
            f"columns, found {int(arr.max())}: do the labels and the model outputs match?"
        )
    return arr


def as_probs(x: ArrayLike, name: str, *, atol: float = 1e-3) -> NDArray[np.float64]:
    """Return a 2-D ``(n, k)`` float64 matrix of probabilities (rows in [0, 1] summing to 1).

    Pass softmax outputs, not logits: a row that does not sum to 1 within ``atol`` is an error.
    """
    arr = as_2d(x, name)
    if arr.shape[1] < 2:
        raise EvaluationError(
            f"'{name}' must have one column per class (≥ 2), got shape {arr.shape}"
        )
    if arr.min() < -atol or arr.max() > 1 + atol:
        raise EvaluationError(
            f"'{name}' must hold probabilities in [0, 1], found range "
            f"[{arr.min():.4g}, {arr.max():.4g}]: pass softmax(logits), not logits"
        )
    sums = arr.sum(axis=1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > atol:
        raise EvaluationError(
            f"'{name}' rows must sum to 1 (probabilities), worst row sums to "
            f"{sums[np.argmax(np.abs(sums - 1.0))]:.4g}: pass softmax(logits), not logits"
        )
    return np.clip(arr, 0.0, 1.0)


def check_same_length(*arrays: tuple[str, Sequence[Any] | NDArray[Any]]) -> int:
    """Check that all ``(name, array)`` pairs have the same first dimension; return it."""
    lengths = [(name, len(a)) for name, a in arrays]
    if len({n for _, n in lengths}) > 1:
        desc = ", ".join(f"'{name}' has {n}" for name, n in lengths)
        raise EvaluationError(f"expected one row per example in each array, but {desc}")
    return lengths[0][1]


def check_two_classes(y: NDArray[Any], name: str) -> None:
    """Check that ``y`` holds at least two distinct classes (a classifier needs both)."""
    classes = np.unique(y)
    if classes.size < 2:
        raise EvaluationError(
            f"'{name}' holds a single class ({classes.tolist()}): an attack or probe needs "
            "examples of at least two classes"
        )


def check_min_count(n: int, minimum: int, name: str, why: str) -> None:
    """Check ``n >= minimum``; ``why`` explains the requirement in the message."""
    if n < minimum:
        raise EvaluationError(f"'{name}' has {n} examples, at least {minimum} needed ({why})")


def check_fraction(x: float, name: str) -> float:
    """Check ``0 < x <= 1`` (an FPR level, a confidence level)."""
    x = float(x)
    if not (0.0 < x <= 1.0):
        raise EvaluationError(f"'{name}' must be in (0, 1], got {x}")
    return x


def check_choice(value: str, choices: Iterable[str], name: str) -> str:
    """Check that ``value`` is one of ``choices``."""
    options = tuple(choices)
    if value not in options:
        raise EvaluationError(f"unknown {name} '{value}': choose one of {', '.join(options)}")
    return value
