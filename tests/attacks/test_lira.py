"""LiRA / U-LiRA: statistic, Gaussian fits, scores against known likelihood ratios, summary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, spearmanr
from sklearn.metrics import roc_auc_score, roc_curve

from unlearnkit.attacks import (
    attack_summary,
    lira_from_pool,
    lira_scores,
    logit_scaled_confidence,
    logit_scaled_confidence_from_probs,
    ulira_from_pool,
    ulira_scores,
)
from unlearnkit.errors import UnlearnkitError

# --------------------------------------------------------------------------------------------
# Logit-scaled confidence
# --------------------------------------------------------------------------------------------


def _hand_lsc(z: list[float], y: int) -> float:
    """Direct definition with math.exp on small logits: log p_y − log Σ_{j≠y} p_j."""
    ez = [math.exp(v) for v in z]
    total = sum(ez)
    p = [v / total for v in ez]
    return math.log(p[y]) - math.log(sum(p[j] for j in range(len(z)) if j != y))


def test_lsc_matches_hand_computation_small_logits() -> None:
    rows = [[0.5, -1.0, 2.0], [3.0, 0.0, 0.1], [-0.2, -0.3, -0.4], [1.0, 1.0, 1.0]]
    labels = [2, 1, 0, 1]
    got = logit_scaled_confidence(np.array(rows), np.array(labels))
    want = [_hand_lsc(z, y) for z, y in zip(rows, labels)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # uniform over 3 classes: log(1/3) − log(2/3) = −log 2
    assert got[3] == pytest.approx(-math.log(2.0), abs=1e-14)


def test_lsc_two_classes_is_logit_difference() -> None:
    z = np.array([[2.5, -1.0], [0.0, 7.0]])
    got = logit_scaled_confidence(z, np.array([0, 0]))
    np.testing.assert_allclose(got, [3.5, -7.0], atol=1e-12)


def test_lsc_stable_for_huge_logits() -> None:
    z = np.array([[1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [1000.0, 999.0, -1000.0]])
    got = logit_scaled_confidence(z, np.array([0, 0, 0]))
    assert np.all(np.isfinite(got))
    # z_y − lse(others): 1000 − log 2; 0 − (1000 + log(1 + e^-1000));
    # 1000 − (999 + log(1 + e^-1999))
    np.testing.assert_allclose(got, [1000.0 - math.log(2.0), -1000.0, 1.0], rtol=1e-14)
    # shift invariance: adding a constant to all logits changes nothing
    z2 = np.array([[0.5, -1.0, 2.0]])
    np.testing.assert_allclose(
        logit_scaled_confidence(z2 + 5000.0, [2]), logit_scaled_confidence(z2, [2]), atol=1e-9
    )


def test_lsc_from_probs_agrees_with_logits() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(50, 10))
    y = rng.integers(0, 10, size=50)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        logit_scaled_confidence_from_probs(p, y), logit_scaled_confidence(z, y), atol=1e-9
    )
    # saturated probabilities stay finite thanks to eps
    sat = logit_scaled_confidence_from_probs(np.array([[1.0, 0.0], [0.0, 1.0]]), [0, 0])
    assert np.all(np.isfinite(sat)) and sat[0] > 100 and sat[1] < -100


@pytest.mark.parametrize(
    ("logits", "labels", "match"),
    [
        (np.zeros(3), [0], "2-D"),
        (np.zeros((2, 1)), [0, 0], "at least 2 classes"),
        (np.zeros((2, 3)), [0], "one label per row"),
        (np.zeros((2, 3)), [0, 3], r"\[0, 3\)"),
        (np.array([[0.0, np.nan]]), [0], "NaN"),
        (np.zeros((2, 3)), [0.5, 1.0], "integer"),
    ],
)
def test_lsc_bad_inputs(logits: np.ndarray, labels: list, match: str) -> None:
    with pytest.raises(UnlearnkitError, match=match):
        logit_scaled_confidence(logits, labels)


def test_lsc_from_probs_bad_inputs() -> None:
    with pytest.raises(UnlearnkitError, match="sum to 1"):
        logit_scaled_confidence_from_probs(np.array([[0.2, 0.2]]), [0])
    with pytest.raises(UnlearnkitError, match=r"\[0, 1\]"):
        logit_scaled_confidence_from_probs(np.array([[1.5, -0.5]]), [0])


# --------------------------------------------------------------------------------------------
# LiRA on synthetic Gaussian statistics with known parameters
# --------------------------------------------------------------------------------------------


def _pool(
    seed: int, n: int, k: int, gap: np.ndarray | float, sigma: float = 1.0
) -> tuple[np.ndarray, ...]:
    """Per-example means (difficulty varies a lot across examples), pool of K shadow models."""
    rng = np.random.default_rng(seed)
    mu_out = rng.normal(0.0, 2.0, n)
    mu_in = mu_out + gap
    in_mask = rng.random((n, k)) < 0.5
    pool = np.where(in_mask, mu_in[:, None], mu_out[:, None]) + sigma * rng.normal(size=(n, k))
    member = rng.random(n) < 0.5
    target = np.where(member, mu_in, mu_out) + sigma * rng.normal(size=n)
    true_lr = norm.logpdf(target, mu_in, sigma) - norm.logpdf(target, mu_out, sigma)
    return target, pool, in_mask, member, true_lr


@pytest.mark.parametrize("global_variance", [False, True])
def test_lira_orders_like_true_likelihood_ratio(global_variance: bool) -> None:
    target, pool, in_mask, member, true_lr = _pool(0, 2000, 128, gap=1.0)
    s = lira_from_pool(target, pool, in_mask, online=True, global_variance=global_variance)
    assert spearmanr(s, true_lr).statistic > 0.95
    # Analytic AUC of the optimal test with constant gap d and common σ: Φ(d / (σ√2)).
    analytic = norm.cdf(1.0 / math.sqrt(2.0))
    auc = roc_auc_score(member, s)
    assert abs(auc - analytic) < 0.04
    # Per-example calibration matters: thresholding the raw statistic is much worse.
    assert auc > roc_auc_score(member, target) + 0.08


def test_online_beats_or_matches_offline() -> None:
    # Constant gap: both are (nearly) monotone in the true LR, so they match.
    target, pool, in_mask, member, _ = _pool(1, 2000, 64, gap=1.0)
    on = roc_auc_score(member, lira_from_pool(target, pool, in_mask, online=True))
    off = roc_auc_score(member, lira_from_pool(target, pool, in_mask, online=False))
    assert on > off - 0.02
    # Gaps that vary per example: only the online test knows μ_in, and it wins.
    gaps = np.random.default_rng(2).uniform(0.0, 2.0, 2000)
    target, pool, in_mask, member, _ = _pool(3, 2000, 64, gap=gaps)
    on = roc_auc_score(member, lira_from_pool(target, pool, in_mask, online=True))
    off = roc_auc_score(member, lira_from_pool(target, pool, in_mask, online=False))
    assert on > off + 0.01


def test_identical_in_out_gives_chance_auc() -> None:
    target, pool, in_mask, member, _ = _pool(4, 4000, 32, gap=0.0)
    for online in (True, False):
        auc = roc_auc_score(member, lira_from_pool(target, pool, in_mask, online=online))
        assert abs(auc - 0.5) < 0.03


def test_lira_scores_formula_by_hand() -> None:
    in_stats = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    out_stats = np.array([[-1.0, 0.0, 1.0, 2.0], [5.0, 6.0, 7.0, 8.0]])
    target = np.array([1.5, 4.0])
    mu_in, sd_in = in_stats.mean(1), in_stats.std(1, ddof=1)
    mu_out, sd_out = out_stats.mean(1), out_stats.std(1, ddof=1)
    want = norm.logpdf(target, mu_in, sd_in) - norm.logpdf(target, mu_out, sd_out)
    np.testing.assert_allclose(lira_scores(target, in_stats, out_stats), want, rtol=1e-12)
    want_off = norm.logcdf((target - mu_out) / sd_out)
    np.testing.assert_allclose(
        lira_scores(target, None, out_stats, online=False), want_off, rtol=1e-12
    )
    # global variance = pooled within-example variance
    ss_in = ((in_stats - mu_in[:, None]) ** 2).sum()
    ss_out = ((out_stats - mu_out[:, None]) ** 2).sum()
    g_in, g_out = math.sqrt(ss_in / 4), math.sqrt(ss_out / 6)
    want_g = norm.logpdf(target, mu_in, g_in) - norm.logpdf(target, mu_out, g_out)
    np.testing.assert_allclose(
        lira_scores(target, in_stats, out_stats, global_variance=True), want_g, rtol=1e-12
    )


def test_pool_equals_explicit_split_and_ragged_lists() -> None:
    target, pool, in_mask, _, _ = _pool(5, 30, 10, gap=1.0)
    in_list = [pool[i][in_mask[i]] for i in range(30)]
    out_list = [pool[i][~in_mask[i]] for i in range(30)]
    a = lira_from_pool(target, pool, in_mask)
    b = lira_scores(target, in_list, out_list)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_fallback_to_global_variance_with_one_sample() -> None:
    in_list = [np.array([1.0]), np.array([0.0, 2.0]), np.array([4.0, 6.0, 8.0])]
    out_list = [np.array([0.0, 1.0]), np.array([-1.0, 1.0]), np.array([0.0, 2.0])]
    target = np.array([0.7, 0.3, 5.0])
    s = lira_scores(target, in_list, out_list)
    pooled_in = math.sqrt((2.0 + 8.0) / (0 + 1 + 2))  # example 0 contributes no dof
    want0 = norm.logpdf(0.7, 1.0, pooled_in) - norm.logpdf(0.7, 0.5, math.sqrt(0.5))
    assert s[0] == pytest.approx(want0, rel=1e-12)
    assert np.all(np.isfinite(s))


def test_min_std_floor_keeps_scores_finite() -> None:
    s = lira_scores([1.0, 2.0], [[1.0, 1.0], [3.0, 3.0]], [[0.0, 0.0], [2.0, 2.0]], min_std=1e-3)
    assert np.all(np.isfinite(s)) and s[0] > 0 > s[1]


def test_lira_bad_inputs() -> None:
    target, pool, in_mask, _, _ = _pool(6, 20, 8, gap=1.0)
    with pytest.raises(UnlearnkitError, match="shape"):
        lira_from_pool(target[:-1], pool, in_mask)
    with pytest.raises(UnlearnkitError, match="same shape"):
        lira_from_pool(target, pool, in_mask[:, :-1])
    bad = pool.copy()
    bad[3, 2] = np.nan
    with pytest.raises(UnlearnkitError, match="NaN"):
        lira_from_pool(target, bad, in_mask)
    t2 = target.copy()
    t2[0] = np.nan
    with pytest.raises(UnlearnkitError, match="NaN"):
        lira_from_pool(t2, pool, in_mask)
    no_in = in_mask.copy()
    no_in[7] = False
    with pytest.raises(UnlearnkitError, match=r"no 'in' shadow model.*\[7\].*offline"):
        lira_from_pool(target, pool, no_in)
    # offline needs only out models: fine
    assert np.all(np.isfinite(lira_from_pool(target, pool, no_in, online=False)))
    no_out = in_mask.copy()
    no_out[2] = True
    with pytest.raises(UnlearnkitError, match="no 'out' shadow model"):
        lira_from_pool(target, pool, no_out, online=False)
    with pytest.raises(UnlearnkitError, match="boolean"):
        lira_from_pool(target, pool, in_mask.astype(float) * 0.5)
    with pytest.raises(UnlearnkitError, match="variance"):
        lira_scores([0.0, 1.0], [[1.0], [2.0]], [[0.0, 1.0], [1.0, 2.0]])
    with pytest.raises(UnlearnkitError, match="in_stats"):
        lira_scores([0.0], None, [[0.0, 1.0]])
    with pytest.raises(UnlearnkitError, match="min_std"):
        lira_scores([0.0], [[0.0, 1.0]], [[0.0, 1.0]], min_std=0.0)


# --------------------------------------------------------------------------------------------
# U-LiRA
# --------------------------------------------------------------------------------------------


def test_ulira_separates_bad_unlearning_and_not_perfect_unlearning() -> None:
    rng = np.random.default_rng(7)
    n, k = 1500, 32
    mu_retrain = rng.normal(0.0, 2.0, n)
    retrained = mu_retrain[:, None] + rng.normal(size=(n, k))
    is_unlearned = rng.random(n) < 0.5
    for residual, expect_high in ((1.0, True), (0.0, False)):
        unlearned = (mu_retrain + residual)[:, None] + rng.normal(size=(n, k))
        target = np.where(is_unlearned, mu_retrain + residual, mu_retrain) + rng.normal(size=n)
        auc = roc_auc_score(is_unlearned, ulira_scores(target, unlearned, retrained))
        if expect_high:
            assert auc > 0.7
        else:
            assert abs(auc - 0.5) < 0.04


def test_ulira_from_pool_ignores_kept_entries() -> None:
    rng = np.random.default_rng(8)
    stats = rng.normal(size=(5, 12))
    u = np.zeros((5, 12), dtype=bool)
    r = np.zeros((5, 12), dtype=bool)
    u[:, :4] = True
    r[:, 4:8] = True
    stats[:, 8:] = 1e6  # "trained and kept": must not matter
    target = rng.normal(size=5)
    np.testing.assert_allclose(
        ulira_from_pool(target, stats, u, r), ulira_scores(target, stats[:, :4], stats[:, 4:8])
    )
    with pytest.raises(UnlearnkitError, match="overlap"):
        ulira_from_pool(target, stats, u, u)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def test_attack_summary_against_sklearn_and_conventions() -> None:
    rng = np.random.default_rng(9)
    mem = rng.normal(1.0, 1.0, 300)
    non = rng.normal(0.0, 1.0, 1200)
    out = attack_summary(mem, non)
    y = np.r_[np.ones(300), np.zeros(1200)]
    s = np.r_[mem, non]
    fpr, tpr, _ = roc_curve(y, s)
    assert out["auc"] == pytest.approx(roc_auc_score(y, s))
    assert out["tpr_at_1pct_fpr"] == tpr[np.where(fpr <= 0.01)[0][-1]]
    assert out["tpr_at_0_1pct_fpr"] == tpr[np.where(fpr <= 0.001)[0][-1]]
    # best-threshold balanced accuracy by brute force over thresholds
    best = max(((mem >= t).mean() + (non < t).mean()) / 2 for t in s)
    assert out["balanced_accuracy"] == pytest.approx(best)
    t = out["balanced_accuracy_threshold"]
    assert ((mem >= t).mean() + (non < t).mean()) / 2 == pytest.approx(best)
    assert (out["n_members"], out["n_nonmembers"]) == (300, 1200)
    assert out["reliable_1pct"] and out["reliable_0_1pct"]
    small = attack_summary(mem[:10], non[:99])
    assert not small["reliable_1pct"] and not small["reliable_0_1pct"]
    assert attack_summary(mem[:10], non[:100])["reliable_1pct"]


def test_attack_summary_perfect_and_chance() -> None:
    perfect = attack_summary([2.0, 3.0], [0.0, 1.0])
    assert perfect["auc"] == 1.0 and perfect["balanced_accuracy"] == 1.0
    assert perfect["tpr_at_1pct_fpr"] == 1.0
    same = attack_summary([1.0, 1.0], [1.0, 1.0])
    assert same["auc"] == 0.5 and same["balanced_accuracy"] == 0.5


def test_attack_summary_bad_inputs() -> None:
    with pytest.raises(UnlearnkitError, match="at least one"):
        attack_summary([], [0.0])
    with pytest.raises(UnlearnkitError, match="NaN"):
        attack_summary([np.nan], [0.0])
