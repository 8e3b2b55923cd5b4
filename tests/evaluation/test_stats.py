"""The statistics module against hand computations and scipy / sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from unlearnkit.evaluation import EvaluationError
from unlearnkit.evaluation.stats import (
    SIGNAL_AUC_THRESHOLD,
    SIGNAL_THRESHOLD,
    bootstrap_mean_ci,
    compare_methods,
    holm,
    paired_comparison,
    pooled_std,
    rank_methods,
    separation,
    separation_auc,
    signal_check,
)

# --------------------------------------------------------------------------- signal check


def test_pooled_std_and_separation_by_hand() -> None:
    # var([1,2,3]) = 1, var([2,4]) = 2 → ss = 2·1 + 1·2 = 4 over 3 degrees of freedom
    assert pooled_std([1, 2, 3], [2, 4]) == pytest.approx(math.sqrt(4 / 3))
    assert separation([1, 2, 3], [2, 4]) == pytest.approx((2 - 3) / math.sqrt(4 / 3))
    # equal sizes: the pooled variance is the mean of the two variances
    a, b = np.array([56.0, 58.5, 53.9]), np.array([52.0, 52.9, 51.7])
    s = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    assert separation(a, b) == pytest.approx((a.mean() - b.mean()) / s)


def test_separation_edge_cases() -> None:
    assert separation([1.0, 1.0], [1.0, 1.0]) == 0.0  # no difference, no spread
    assert separation([2.0, 2.0], [1.0, 1.0]) == math.inf  # repeatable and different
    assert separation([0.0, 0.0], [1.0, 1.0]) == -math.inf
    assert math.isnan(separation([1.0], [1.0, 2.0]))  # one seed: no spread estimate
    assert math.isnan(separation([1.0, math.nan], [1.0, 2.0]))  # NaNs are dropped first
    assert separation([1.0, 3.0, math.nan], [0.0, 2.0]) == pytest.approx(1 / math.sqrt(2))


def test_separation_auc_by_hand_and_against_sklearn() -> None:
    # pairs of [1,2,3] vs [2,4]: only 3 > 2, one tie (2 = 2) → (1 + 0.5) / 6
    assert separation_auc([1, 2, 3], [2, 4]) == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    x, y = rng.normal(1, 1, 40).round(1), rng.normal(0, 1, 30).round(1)
    labels = np.r_[np.ones(40), np.zeros(30)]
    assert separation_auc(x, y) == pytest.approx(roc_auc_score(labels, np.r_[x, y]))
    assert math.isnan(separation_auc([], [1.0]))


def test_auc_threshold_matches_the_separation_threshold() -> None:
    # two unit-variance normals SIGNAL_THRESHOLD apart have AUC = Φ(d/√2)
    assert pytest.approx(sps.norm.cdf(2 / math.sqrt(2))) == SIGNAL_AUC_THRESHOLD
    rng = np.random.default_rng(1)
    empirical = separation_auc(rng.normal(SIGNAL_THRESHOLD, 1, 4000), rng.normal(0, 1, 4000))
    assert empirical == pytest.approx(SIGNAL_AUC_THRESHOLD, abs=0.01)


def test_signal_check_decisions() -> None:
    strong = signal_check([0.9, 0.92, 0.91], [0.5, 0.52, 0.49])
    assert strong.has_signal is True and strong.basis == "seeds"
    assert strong.seed_auc == 1.0
    weak = signal_check([0.50, 0.55, 0.47], [0.51, 0.49, 0.53])
    assert weak.has_signal is False
    assert abs(weak.separation) < SIGNAL_THRESHOLD
    unknown = signal_check([0.9], [0.5, 0.6])
    assert unknown.has_signal is None and math.isnan(unknown.separation)
    assert unknown.n_original == 1 and unknown.n_retrain == 2
    # a pool decides when it has ≥ 2 models a side: here it overrules the seeds
    pooled = signal_check([0.9, 0.92], [0.5, 0.52], pool=([0.6, 0.4, 0.5], [0.5, 0.55, 0.45]))
    assert pooled.basis == "pool" and pooled.has_signal is False
    assert pooled.n_pool == (3, 3)
    assert pooled.to_dict()["n_pool"] == [3, 3]
    # reversed direction counts as signal too (AUC near 0)
    rev = signal_check([0.1, 0.1], [0.9, 0.9], pool=([0.1, 0.2], [0.8, 0.9]))
    assert rev.pool_auc == 0.0 and rev.has_signal is True


# --------------------------------------------------------------------------- paired tests


def test_paired_comparison_against_scipy() -> None:
    a = np.array([3.77, 3.10, 4.20, 3.95, 3.60])
    b = np.array([3.68, 3.40, 3.90, 3.50, 3.20])
    c = paired_comparison(a, b, names=("sure", "finetune"))
    assert (c.a, c.b, c.n) == ("sure", "finetune", 5)
    assert c.mean_diff == pytest.approx(np.mean(a - b))
    assert c.p_t == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert c.p_wilcoxon == pytest.approx(sps.wilcoxon(a, b).pvalue)
    assert c.p == c.p_t
    assert paired_comparison(a, b, test="wilcoxon").p == c.p_wilcoxon
    assert c.ci_low <= c.mean_diff <= c.ci_high


def test_wilcoxon_exact_value_by_hand() -> None:
    # d = [1, −2, 3, 4, 5]: W− = 2; P(W ≤ 2) = |{∅, {1}, {2}}| / 2^5 → two-sided 6/32
    c = paired_comparison([1, -2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert c.p_wilcoxon == pytest.approx(6 / 32)


def test_paired_comparison_edge_cases() -> None:
    zero = paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert zero.mean_diff == 0.0 and zero.p == 1.0 and zero.p_t == 1.0 and zero.p_wilcoxon == 1.0
    assert (zero.ci_low, zero.ci_high) == (0.0, 0.0)
    # constant non-zero differences: t undefined → the exact Wilcoxon p = 2 / 2^n
    const = paired_comparison([2.0, 3.0], [1.0, 2.0])
    assert math.isnan(const.p_t) and const.p == pytest.approx(0.5)
    const3 = paired_comparison([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert const3.p == pytest.approx(0.25)
    two = paired_comparison([1.0, 3.0], [0.0, 0.0])  # n = 2: one degree of freedom
    assert two.n == 2 and two.p_t == pytest.approx(sps.ttest_rel([1, 3], [0, 0]).pvalue)
    one = paired_comparison([1.0], [0.0])
    assert one.n == 1 and math.isnan(one.p) and math.isnan(one.ci_low)
    # a NaN on either side drops that seed from the pair
    nan = paired_comparison([1.0, math.nan, 3.0, 2.0], [0.0, 5.0, math.nan, 1.5])
    assert nan.n == 2 and nan.mean_diff == pytest.approx(0.75)
    with pytest.raises(EvaluationError, match="one value per seed on both sides"):
        paired_comparison([1.0, 2.0], [1.0])
    with pytest.raises(EvaluationError, match="test must be 't' or 'wilcoxon'"):
        paired_comparison([1.0, 2.0], [1.0, 3.0], test="z")  # type: ignore[arg-type]


def test_bootstrap_mean_ci_by_hand_and_seeded() -> None:
    # two values 0 and 1: resampled means are 0, ½, 1 with probabilities ¼, ½, ¼
    lo, hi = bootstrap_mean_ci([0.0, 1.0], n_resamples=20_000, seed=3)
    assert (lo, hi) == (0.0, 1.0)
    lo50, hi50 = bootstrap_mean_ci([0.0, 1.0], n_resamples=20_000, confidence=0.4, seed=3)
    assert (lo50, hi50) == (0.5, 0.5)
    v = np.random.default_rng(0).normal(size=8)
    assert bootstrap_mean_ci(v, seed=1) == bootstrap_mean_ci(v, seed=1)
    assert bootstrap_mean_ci(v, seed=1) != bootstrap_mean_ci(v, seed=2)
    with pytest.raises(EvaluationError, match="confidence in"):
        bootstrap_mean_ci(v, confidence=1.5)


def test_holm_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max
    out = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(out, [0.03, 0.06, 0.06, 0.02])
    # NaNs are not tests: m = 2 here
    out = holm([0.02, math.nan, 0.04])
    np.testing.assert_allclose(out, [0.04, math.nan, 0.04])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    assert np.isnan(holm([math.nan])).all()
    with pytest.raises(EvaluationError, match=r"\[0, 1\]"):
        holm([1.2])


def test_holm_matches_a_reference_loop() -> None:
    """Holm's procedure written as the textbook loop (Holm 1979) on random p-values."""
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 0.2, 12)
    order = np.argsort(p)
    ref = np.empty_like(p)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (len(p) - i) * p[j]))
        ref[j] = running
    np.testing.assert_allclose(holm(p), ref)


def test_compare_methods_pairs_are_holm_corrected() -> None:
    per_seed = {
        "a": {0: 1.0, 1: 1.1, 2: 0.9, 3: 1.05},
        "b": {0: 2.0, 1: 2.2, 2: 1.9, 3: 2.1},
        "c": {0: 2.1, 1: 2.0, 2: 2.05, 3: 1.95},
    }
    comps = compare_methods(per_seed)
    assert [(c.a, c.b) for c in comps] == [("a", "b"), ("a", "c"), ("b", "c")]
    np.testing.assert_allclose([c.p_holm for c in comps], holm([c.p for c in comps]))
    raw = [
        sps.ttest_rel(list(per_seed[x].values()), list(per_seed[y].values())).pvalue
        for x, y in (("a", "b"), ("a", "c"), ("b", "c"))
    ]
    np.testing.assert_allclose([c.p for c in comps], raw)
    assert comps[0].significant and comps[1].significant and not comps[2].significant
    # a missing seed is a NaN for that method only
    comps = compare_methods({"a": {0: 1.0, 1: 2.0, 2: 3.0}, "b": {0: 1.5, 2: 3.5}})
    assert comps[0].n == 2


# --------------------------------------------------------------------------- ranking


def _seeds(*values: float) -> dict[int, float]:
    return dict(enumerate(values))


def test_rank_methods_best_only_where_significantly_best() -> None:
    per_seed = {
        "b": _seeds(2.0, 2.2, 1.9, 2.1, 2.0),
        "a": _seeds(1.0, 1.1, 0.9, 1.05, 1.0),
        "c": _seeds(2.1, 2.0, 2.05, 1.95, 2.1),
    }
    r = rank_methods(per_seed)
    assert r.order == ["a", "b", "c"] or r.order == ["a", "c", "b"]
    assert r.best == "a" and r.rank["a"] == 1
    assert r.groups["a"] == "a" and r.groups["b"] == r.groups["c"] == "b"
    # higher is better: the order flips, and nobody is significantly best
    r = rank_methods(per_seed, lower_is_better=False)
    assert r.order[-1] == "a" and r.best is None
    assert r.groups[r.order[0]] == r.groups[r.order[1]] == "a"


def test_rank_groups_overlap() -> None:
    # a ≈ b, b ≈ c, but a and c differ: groups a / ab / b, no best method
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.05, 6)
    per_seed = {
        "a": _seeds(*(1.0 + noise)),
        "b": _seeds(*(1.5 + noise + rng.normal(0, 0.6, 6))),
        "c": _seeds(*(2.0 + noise)),
    }
    r = rank_methods(per_seed)
    assert r.order == ["a", "b", "c"]
    assert (r.groups["a"], r.groups["b"], r.groups["c"]) == ("a", "ab", "b")
    assert r.best is None


def test_rank_ties_and_missing() -> None:
    r = rank_methods({"a": _seeds(1.0, 1.0), "b": _seeds(1.0, 1.0), "c": {0: math.nan}})
    assert r.rank == {"a": 1, "b": 1}
    assert r.best is None and r.groups == {"a": "a", "b": "a"}
    assert r.to_dict()["comparisons"][0]["p"] == 1.0
    single = rank_methods({"a": _seeds(1.0, 2.0)})
    assert single.best is None and single.order == ["a"]
