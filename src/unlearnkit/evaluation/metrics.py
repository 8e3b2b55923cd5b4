"""Scalar metrics on NumPy arrays: accuracy, ROC/AUC, TPR at low FPR, bootstrap intervals.

Membership convention everywhere: members (e.g. forget examples) are the positive class ``1``,
non-members (test examples) the negative class ``0``; a *higher* score means "more likely a
member".

TPR at a fixed low FPR follows Carlini et al., "Membership Inference Attacks From First
Principles" (IEEE S&P 2022): ``tpr[np.where(fpr <= x)[0][-1]]`` on scikit-learn's ``roc_curve``.
With fewer than ``1/x`` non-members the FPR grid is coarser than ``x`` and the number is
meaningless; the functions here flag it and warn (pool scores across seeds and report
:func:`tpr_at_fpr_ci` instead).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn import metrics as skm

from unlearnkit.evaluation.checks import (
    EvaluationError,
    as_1d,
    as_2d,
    as_labels,
    check_fraction,
    check_same_length,
)

__all__ = [
    "DEFAULT_FPRS",
    "ConfidenceInterval",
    "UnreliableMetricWarning",
    "accuracy",
    "auc",
    "balanced_accuracy",
    "bootstrap_ci",
    "mean_std",
    "roc_points",
    "roc_summary",
    "tpr_at_fpr",
    "tpr_at_fpr_ci",
    "tpr_at_fpr_reliable",
    "tpr_key",
]

#: FPR levels reported by default (1% and 0.1%).
DEFAULT_FPRS: tuple[float, ...] = (0.01, 0.001)


class UnreliableMetricWarning(UserWarning):
    """A TPR at FPR ``x`` was computed from fewer than ``1/x`` non-members."""


class ConfidenceInterval(NamedTuple):
    """A point estimate with a percentile-bootstrap interval ``[low, high]``."""

    estimate: float
    low: float
    high: float


# --------------------------------------------------------------------------- accuracies


def accuracy(logits_or_pred: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of examples whose prediction equals the label.

    ``logits_or_pred`` is either an ``(n, k)`` matrix of logits/probabilities (prediction =
    ``argmax`` over columns) or a length-``n`` vector of predicted class indices.
    """
    pred = _predictions(logits_or_pred)
    y = as_labels(labels, "labels")
    check_same_length(("logits_or_pred", pred), ("labels", y))
    return float(np.mean(pred == y))


def balanced_accuracy(logits_or_pred: ArrayLike, labels: ArrayLike) -> float:
    """Mean per-class recall (``sklearn.metrics.balanced_accuracy_score``).

    Insensitive to class imbalance: 0.5 is chance for two classes whatever their sizes.
    """
    pred = _predictions(logits_or_pred)
    y = as_labels(labels, "labels")
    check_same_length(("logits_or_pred", pred), ("labels", y))
    with warnings.catch_warnings():
        # sklearn warns when a predicted class is absent from y_true; the value is still defined.
        warnings.simplefilter("ignore", UserWarning)
        return float(skm.balanced_accuracy_score(y, pred))


def _predictions(logits_or_pred: ArrayLike) -> NDArray[np.int64]:
    arr = np.asarray(
        logits_or_pred.detach().cpu().numpy()  # type: ignore[union-attr]
        if hasattr(logits_or_pred, "detach")
        else logits_or_pred
    )
    if arr.ndim == 2:
        return np.argmax(as_2d(arr, "logits_or_pred"), axis=1).astype(np.int64)
    return as_labels(arr, "logits_or_pred")


# --------------------------------------------------------------------------- ROC


def _scores(scores_member: ArrayLike, scores_nonmember: ArrayLike) -> tuple[NDArray, NDArray]:
    return as_1d(scores_member, "scores_member"), as_1d(scores_nonmember, "scores_nonmember")


def roc_points(
    scores_member: ArrayLike,
    scores_nonmember: ArrayLike,
    *,
    drop_intermediate: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """ROC curve of a membership score: ``(fpr, tpr, thresholds)``.

    ``sklearn.metrics.roc_curve`` with members labelled 1 and non-members 0. Every distinct
    threshold is kept by default (``drop_intermediate=False``) so that :func:`tpr_at_fpr` returns
    the highest TPR any threshold reaches at FPR ≤ x; sklearn's default drops collinear points,
    which can understate that TPR between two kept points. ``fpr[0] == tpr[0] == 0``.
    """
    sm, sn = _scores(scores_member, scores_nonmember)
    y = np.concatenate([np.ones(sm.size), np.zeros(sn.size)])
    fpr, tpr, thr = skm.roc_curve(y, np.concatenate([sm, sn]), drop_intermediate=drop_intermediate)
    return fpr, tpr, thr


def auc(scores_member: ArrayLike, scores_nonmember: ArrayLike) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``), members = 1.

    Equals P(score of a random member > score of a random non-member) + ½·P(tie); 0.5 is chance.
    """
    sm, sn = _scores(scores_member, scores_nonmember)
    y = np.concatenate([np.ones(sm.size), np.zeros(sn.size)])
    return float(skm.roc_auc_score(y, np.concatenate([sm, sn])))


def tpr_at_fpr(fpr: ArrayLike, tpr: ArrayLike, x: float) -> float:
    """TPR at FPR ``x``: ``tpr[np.where(fpr <= x)[0][-1]]`` (Carlini et al. 2022).

    ``fpr``/``tpr`` come from :func:`roc_points` (or ``sklearn.metrics.roc_curve``), sorted by
    increasing FPR and starting at FPR 0, so the index always exists.
    """
    x = check_fraction(x, "x")
    f = as_1d(fpr, "fpr")
    t = as_1d(tpr, "tpr")
    check_same_length(("fpr", f), ("tpr", t))
    idx = np.where(f <= x)[0]
    if idx.size == 0:
        raise EvaluationError("'fpr' has no point at or below x; pass the output of roc_points")
    return float(t[idx[-1]])


def tpr_at_fpr_reliable(n_negatives: int, x: float) -> bool:
    """Whether a TPR at FPR ``x`` can be resolved from ``n_negatives`` non-members.

    The empirical FPR moves in steps of ``1/n_negatives``; below ``1/x`` non-members the only
    achievable FPR ≤ x is 0 and "TPR at x" is really "TPR at FPR 0" (meaningless noise).
    """
    x = check_fraction(x, "x")
    return bool(n_negatives * x >= 1.0 - 1e-9)


def tpr_key(x: float) -> str:
    """Result key for the TPR at FPR ``x``: 0.01 → ``"tpr_at_1pct_fpr"``, 0.001 →
    ``"tpr_at_0p1pct_fpr"``."""
    pct = f"{check_fraction(x, 'x') * 100:g}".replace(".", "p")
    return f"tpr_at_{pct}pct_fpr"


def _warn_unreliable(n_negatives: int, xs: Sequence[float], what: str) -> None:
    bad = [x for x in xs if not tpr_at_fpr_reliable(n_negatives, x)]
    if bad:
        levels = ", ".join(f"{x:g} (needs ≥ {int(np.ceil(1 / x - 1e-9))})" for x in bad)
        warnings.warn(
            f"{what}: TPR at FPR {levels} computed from only {n_negatives} non-members is not "
            "meaningful; pool scores across seeds and report a bootstrap interval "
            "(metrics.tpr_at_fpr_ci)",
            UnreliableMetricWarning,
            stacklevel=3,
        )


def roc_summary(
    scores_member: ArrayLike,
    scores_nonmember: ArrayLike,
    *,
    fprs: Sequence[float] = DEFAULT_FPRS,
    what: str = "membership attack",
) -> dict[str, float | bool]:
    """AUC and TPR at each FPR in ``fprs`` of a membership score (higher = member).

    Returns ``{"auc", tpr_key(x), tpr_key(x) + "_reliable" for x in fprs, "n_members",
    "n_nonmembers"}``. Emits one :class:`UnreliableMetricWarning` listing every FPR level that
    has fewer than ``1/x`` non-members (the value is still returned, flagged False).
    """
    sm, sn = _scores(scores_member, scores_nonmember)
    fpr, tpr, _ = roc_points(sm, sn)
    out: dict[str, float | bool] = {"auc": auc(sm, sn)}
    for x in fprs:
        out[tpr_key(x)] = tpr_at_fpr(fpr, tpr, x)
        out[tpr_key(x) + "_reliable"] = tpr_at_fpr_reliable(sn.size, x)
    out["n_members"] = int(sm.size)
    out["n_nonmembers"] = int(sn.size)
    _warn_unreliable(sn.size, fprs, what)
    return out


# --------------------------------------------------------------------------- uncertainty


def bootstrap_ci(
    values_or_fn: ArrayLike | Callable[..., float],
    *samples: ArrayLike,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap interval (Efron & Tibshirani 1993, ch. 13).

    Two forms:

    * ``bootstrap_ci(values)`` — interval for the mean of a 1-D sample.
    * ``bootstrap_ci(statistic, sample_1, sample_2, ...)`` — interval for
      ``statistic(sample_1, sample_2, ...)``; each sample is resampled with replacement
      *separately* (keeps the member/non-member sizes fixed, as needed for ROC metrics), along
      the first axis (rows of 2-D samples stay intact).

    The interval is the ``(1−c)/2`` and ``(1+c)/2`` quantiles of the ``n_resamples`` bootstrap
    statistics; ``estimate`` is the statistic on the original data. Deterministic for ``seed``.
    """
    if callable(values_or_fn):
        statistic: Callable[..., float] = values_or_fn
        if not samples:
            raise EvaluationError("bootstrap_ci(statistic, ...) needs at least one sample")
        arrays = [_as_sample(s, f"samples[{i}]") for i, s in enumerate(samples)]
    else:
        if samples:
            raise EvaluationError(
                "bootstrap_ci(values) takes one sample; pass a statistic first for several"
            )
        statistic = _mean
        arrays = [as_1d(values_or_fn, "values")]
    if int(n_resamples) < 1:
        raise EvaluationError(f"'n_resamples' must be ≥ 1, got {n_resamples}")
    confidence = check_fraction(confidence, "confidence")
    rng = np.random.default_rng(seed)
    estimate = float(statistic(*arrays))
    stats = np.empty(int(n_resamples), dtype=np.float64)
    for b in range(int(n_resamples)):
        resampled = [a[rng.integers(0, len(a), size=len(a))] for a in arrays]
        stats[b] = float(statistic(*resampled))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return ConfidenceInterval(estimate, float(low), float(high))


def _mean(values: NDArray[np.float64]) -> float:
    return float(np.mean(values))


def _as_sample(x: ArrayLike, name: str) -> NDArray[Any]:
    arr = np.asarray(x)
    return as_2d(arr, name) if arr.ndim == 2 else as_1d(arr, name)


def tpr_at_fpr_ci(
    scores_member: ArrayLike,
    scores_nonmember: ArrayLike,
    x: float = 0.01,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """TPR at FPR ``x`` with a percentile-bootstrap interval, members and non-members resampled
    separately. Pool scores from several seeds first when one run has fewer than ``1/x``
    non-members (warns with :class:`UnreliableMetricWarning` if the pool is still too small)."""
    sm, sn = _scores(scores_member, scores_nonmember)
    x = check_fraction(x, "x")
    _warn_unreliable(sn.size, [x], "tpr_at_fpr_ci")

    def stat(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
        fpr, tpr, _ = roc_points(a, b)
        return tpr_at_fpr(fpr, tpr, x)

    return bootstrap_ci(stat, sm, sn, n_resamples=n_resamples, confidence=confidence, seed=seed)


def mean_std(values: ArrayLike) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``) of a metric across seeds.

    The std is NaN for a single value (one seed says nothing about the spread).
    """
    v = as_1d(values, "values")
    std = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    return float(np.mean(v)), std
