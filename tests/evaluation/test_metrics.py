"""Metrics against references: sklearn, analytic Gaussian ROC, hand-made ROC curves."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from unlearnkit.errors import UnlearnkitError
from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.metrics import (
    ConfidenceInterval,
    UnreliableMetricWarning,
    accuracy,
    auc,
    balanced_accuracy,
    bootstrap_ci,
    mean_std,
    roc_points,
    roc_summary,
    tpr_at_fpr,
    tpr_at_fpr_ci,
    tpr_at_fpr_reliable,
    tpr_key,
)


def test_accuracy_from_logits_and_predictions() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    labels = np.array([0, 1, 1, 2])
    assert accuracy(logits, labels) == pytest.approx(0.5)
    assert accuracy(np.array([0, 1, 2, 2]), labels) == pytest.approx(0.75)


def test_balanced_accuracy_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, size=200))
    assert balanced_accuracy(pred, y) == pytest.approx(balanced_accuracy_score(y, pred))


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    members = np.round(rng.normal(0.5, 1, 300), 1)  # rounding creates ties
    nonmembers = np.round(rng.normal(0.0, 1, 400), 1)
    y = np.r_[np.ones(300), np.zeros(400)]
    assert auc(members, nonmembers) == pytest.approx(roc_auc_score(y, np.r_[members, nonmembers]))


@pytest.mark.parametrize("d", [1.0, 2.0])
def test_gaussian_roc_matches_analytic(d: float) -> None:
    """Members ~ N(d, 1), non-members ~ N(0, 1): AUC = Φ(d/√2), TPR@α = Φ(d + Φ⁻¹(α))."""
    rng = np.random.default_rng(2)
    n = 200_000
    members, nonmembers = rng.normal(d, 1.0, n), rng.normal(0.0, 1.0, n)
    assert auc(members, nonmembers) == pytest.approx(norm.cdf(d / np.sqrt(2)), abs=0.005)
    fpr, tpr, _ = roc_points(members, nonmembers)
    for alpha in (0.01, 0.001):
        expected = norm.cdf(d + norm.ppf(alpha))
        assert tpr_at_fpr(fpr, tpr, alpha) == pytest.approx(expected, abs=0.01)


def test_tpr_at_fpr_convention_on_hand_made_roc() -> None:
    fpr = np.array([0.0, 0.0, 0.5, 1.0])
    tpr = np.array([0.0, 0.4, 0.8, 1.0])
    assert tpr_at_fpr(fpr, tpr, 0.49) == 0.4  # last point with fpr <= x
    assert tpr_at_fpr(fpr, tpr, 0.5) == 0.8  # fpr == x counts
    assert tpr_at_fpr(fpr, tpr, 1.0) == 1.0


def test_roc_points_keeps_every_threshold() -> None:
    # members 0.9 0.8 0.4; non-members 0.85 0.3 0.2 0.1. Sorted descending:
    # 0.9(m) 0.85(n) 0.8(m) 0.4(m) 0.3(n) 0.2(n) 0.1(n)
    fpr, tpr, thr = roc_points([0.9, 0.8, 0.4], [0.85, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(fpr, [0, 0, 0.25, 0.25, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1 / 3, 2 / 3, 1, 1, 1, 1])
    np.testing.assert_allclose(thr[1:], [0.9, 0.85, 0.8, 0.4, 0.3, 0.2, 0.1])
    assert tpr_at_fpr(fpr, tpr, 0.1) == pytest.approx(1 / 3)
    assert tpr_at_fpr(fpr, tpr, 0.25) == pytest.approx(1.0)


def test_roc_points_reports_max_tpr_where_sklearn_default_would_drop_points() -> None:
    # Three member/non-member ties: collinear points (1/3, 1/3), (2/3, 2/3), (1, 1). sklearn's
    # default drop_intermediate=True drops (2/3, 2/3) and would understate TPR at FPR 0.7.
    members, nonmembers = [0.8, 0.6, 0.4], [0.8, 0.6, 0.4]
    fpr, tpr, _ = roc_points(members, nonmembers)
    assert tpr_at_fpr(fpr, tpr, 0.7) == pytest.approx(2 / 3)
    fpr_d, tpr_d, _ = roc_points(members, nonmembers, drop_intermediate=True)
    assert tpr_at_fpr(fpr_d, tpr_d, 0.7) == pytest.approx(1 / 3)


def test_tpr_reliability_needs_one_over_x_negatives() -> None:
    assert tpr_at_fpr_reliable(100, 0.01)
    assert not tpr_at_fpr_reliable(99, 0.01)
    assert tpr_at_fpr_reliable(1000, 0.001)
    assert not tpr_at_fpr_reliable(999, 0.001)


def test_tpr_key_names() -> None:
    assert tpr_key(0.01) == "tpr_at_1pct_fpr"
    assert tpr_key(0.001) == "tpr_at_0p1pct_fpr"


def test_roc_summary_flags_and_warns_once_when_too_few_negatives() -> None:
    rng = np.random.default_rng(3)
    with pytest.warns(UnreliableMetricWarning, match="only 50 non-members") as record:
        out = roc_summary(rng.normal(1, 1, 80), rng.normal(0, 1, 50))
    assert len(record) == 1
    assert out["tpr_at_1pct_fpr_reliable"] is False
    assert out["tpr_at_0p1pct_fpr_reliable"] is False
    assert out["n_nonmembers"] == 50


def test_roc_summary_silent_when_enough_negatives() -> None:
    rng = np.random.default_rng(4)
    members, nonmembers = rng.normal(1, 1, 500), rng.normal(0, 1, 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = roc_summary(members, nonmembers)
    fpr, tpr, _ = roc_points(members, nonmembers)
    assert out["auc"] == pytest.approx(auc(members, nonmembers))
    assert out["tpr_at_1pct_fpr"] == tpr_at_fpr(fpr, tpr, 0.01)
    assert out["tpr_at_1pct_fpr_reliable"] is True
    assert out["tpr_at_0p1pct_fpr_reliable"] is True


def test_bootstrap_ci_of_mean_matches_normal_theory() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(3.0, 2.0, 400)
    ci = bootstrap_ci(values, n_resamples=2000, seed=0)
    assert isinstance(ci, ConfidenceInterval)
    assert ci.estimate == pytest.approx(values.mean())
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert ci.low == pytest.approx(values.mean() - half_width, abs=0.05)
    assert ci.high == pytest.approx(values.mean() + half_width, abs=0.05)
    assert bootstrap_ci(values, n_resamples=200, seed=7) == bootstrap_ci(
        values, n_resamples=200, seed=7
    )


def test_bootstrap_ci_resamples_each_sample_separately() -> None:
    ci = bootstrap_ci(lambda a, b: len(a) - 10 * len(b), np.arange(7.0), np.arange(3.0))
    assert ci == (7 - 30, 7 - 30, 7 - 30)


def test_tpr_at_fpr_ci_covers_analytic_value() -> None:
    rng = np.random.default_rng(6)
    members, nonmembers = rng.normal(1, 1, 2000), rng.normal(0, 1, 2000)
    ci = tpr_at_fpr_ci(members, nonmembers, 0.01, n_resamples=300, seed=0)
    assert ci.low <= ci.estimate <= ci.high
    assert ci.low <= norm.cdf(1 + norm.ppf(0.01)) <= ci.high


def test_mean_std_uses_sample_std() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    mean, std = mean_std([0.7])
    assert mean == 0.7
    assert np.isnan(std)


def test_errors_are_unlearnkit_errors() -> None:
    assert issubclass(EvaluationError, UnlearnkitError)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: auc([], [0.1, 0.2]), "'scores_member' is empty"),
        (lambda: auc([0.3, np.nan], [0.1]), "'scores_member' contains non-finite.*1 NaN"),
        (lambda: auc([0.3], [[0.1, 0.2], [0.3, 0.4]]), "'scores_nonmember' must be 1-D"),
        (lambda: accuracy(np.zeros((3, 2)), [0, 1]), "'logits_or_pred' has 3, 'labels' has 2"),
        (lambda: accuracy([0, 1], [0.5, 1.0]), "integer class labels"),
        (lambda: tpr_at_fpr([0.0, 1.0], [0.0, 1.0], 0.0), "'x' must be in"),
        (lambda: mean_std([]), "'values' is empty"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match: str) -> None:
    with pytest.raises(EvaluationError, match=match):
        call()
