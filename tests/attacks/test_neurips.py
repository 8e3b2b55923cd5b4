"""NeurIPS 2023 unlearning-challenge score: ε by definition, buckets, final score, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unlearnkit.attacks import (
    bucket_scores,
    epsilon_table,
    forgetting_quality,
    n_buckets,
    neurips_score,
    per_example_epsilon,
)
from unlearnkit.errors import UnlearnkitError

DELTA = 1e-5

# --------------------------------------------------------------------------------------------
# A slow, literal reference: rules enumerated on an explicit grid, ε by the scalar formula.
# --------------------------------------------------------------------------------------------


def _rule_eps(fpr: float, fnr: float, delta: float) -> float | None:
    """ε of one rule; None = rule discarded."""
    if fpr == 0 and fnr == 0:
        return math.inf
    if fpr == 0 or fnr == 0:
        return None
    terms = []
    if 1 - delta - fpr > 0:
        terms.append(math.log(1 - delta - fpr) - math.log(fnr))
    if 1 - delta - fnr > 0:
        terms.append(math.log(1 - delta - fnr) - math.log(fpr))
    return max(terms) if terms else None


def _reference_eps(
    u: np.ndarray,
    r: np.ndarray,
    *,
    interval_rules: bool,
    directions: str,
    peaky_ratio: float | None,
    interval_buffer: float | None,
    cap: float = 50.0,
    delta: float = DELTA,
) -> float:
    """Values must be multiples of 1/8: then a 1/16 grid of thresholds/endpoints realises
    every partition that any real-valued threshold or interval (with the window) can."""
    big_n = len(u)
    ru, rr = u.max() - u.min(), r.max() - r.min()
    if max(ru, rr) == 0:
        return 0.0 if u[0] == r[0] else cap
    if peaky_ratio and min(ru, rr) / max(ru, rr) < peaky_ratio:
        return cap
    mu, mr = float(np.median(u)), float(np.median(r))
    lo, hi = min(u.min(), r.min()), max(u.max(), r.max())
    if interval_buffer is None:
        grid = np.arange(lo - 1, hi + 1 + 1e-9, 1 / 16)
    else:  # l may need to reach (peak max − buffer) − (range + buffer)
        buf = interval_buffer
        grid = np.arange(lo - (hi - lo) - 2 * buf - 1, hi + buf + 1 + 1e-9, 1 / 16)

    best = 0.0
    cache: dict[tuple[int, int], float | None] = {}

    def consider(pred_u_on_u: np.ndarray, pred_u_on_r: np.ndarray) -> None:
        """Boolean predictions, shape (..., N): one rule per leading index."""
        nonlocal best
        fp = pred_u_on_r.reshape(-1, big_n).sum(axis=1)
        fn = (~pred_u_on_u).reshape(-1, big_n).sum(axis=1)
        for a, b in set(zip(fp.tolist(), fn.tolist())):
            if (a, b) not in cache:
                cache[(a, b)] = _rule_eps(a / big_n, b / big_n, delta)
            e = cache[(a, b)]
            if e is not None:
                best = max(best, e)

    up = directions == "both" or mu >= mr
    down = directions == "both" or not mu >= mr
    t = grid[:, None]
    if up:
        consider(u >= t, r >= t)
    if down:
        consider(u < t, r < t)
    if interval_rules:
        inside_u = ru < rr or (ru == rr and mu < mr)
        peak_max = u.max() if inside_u else r.max()
        w = min(ru, rr)
        for right in grid:
            if interval_buffer is not None and abs(right - peak_max) > interval_buffer:
                continue
            left = grid[grid <= right]
            if interval_buffer is not None:
                left = left[np.abs((right - left) - w) <= interval_buffer]
            if left.size == 0:
                continue
            lc = left[:, None]
            in_u = (u >= lc) & (u <= right)
            in_r = (r >= lc) & (r <= right)
            if directions == "both" or inside_u:
                consider(in_u, in_r)
            if directions == "both" or not inside_u:
                consider(~in_u, ~in_r)
    return min(best, cap)


CONFIGS = [
    {"interval_rules": False, "directions": "median", "interval_buffer": 2.0},
    {"interval_rules": False, "directions": "both", "interval_buffer": 2.0},
    {"interval_rules": True, "directions": "median", "interval_buffer": 2.0},
    {"interval_rules": True, "directions": "both", "interval_buffer": 2.0},
    {"interval_rules": True, "directions": "median", "interval_buffer": None},
    {"interval_rules": True, "directions": "median", "interval_buffer": 0.5},
]


@pytest.mark.parametrize("big_n", [4, 6])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_vectorised_matches_reference_loop(cfg: dict, big_n: int) -> None:
    rng = np.random.default_rng(big_n)
    n = 40
    # multiples of 1/8 with frequent ties; a few constant rows
    u = rng.integers(-20, 21, size=(n, big_n)) / 8
    r = rng.integers(-24, 25, size=(n, big_n)) / 8 + rng.integers(0, 3, size=(n, 1)) / 2
    u[0] = 0.5
    r[1] = 0.25
    u[2], r[2] = 1.0, 1.0
    u[3], r[3] = 1.0, -1.0
    u[4] = r[4, ::-1]  # same values, swapped order
    for peaky in (None, 0.01, 0.4):
        got = per_example_epsilon(u, r, peaky_ratio=peaky, **cfg)
        want = [
            _reference_eps(
                u[i],
                r[i],
                peaky_ratio=peaky,
                **cfg,
            )
            for i in range(n)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_epsilon_table_matches_scalar_formula() -> None:
    big_n = 6
    t = epsilon_table(big_n, DELTA)
    assert t.shape == (7, 7)
    np.testing.assert_array_equal(t, t.T)
    for a in range(7):
        for b in range(7):
            e = _rule_eps(a / big_n, b / big_n, DELTA)
            assert t[a, b] == (-math.inf if e is None else pytest.approx(e, abs=1e-15))


# --------------------------------------------------------------------------------------------
# Hand computations
# --------------------------------------------------------------------------------------------


def test_hand_example_interleaved_n4() -> None:
    # Sorted pooled values: 1U 2R 5U 6R 9U 10R 13U 14R. med_U = 7 < med_R = 8, so the
    # official direction predicts "retrained" for large values (= "unlearned" iff value < t).
    # Cut after 3 values: below = {1U, 2R, 5U}: FPR = 1/4, FNR = 2/4
    #   → log(1 − δ − 1/2) − log(1/4) = log((0.5 − δ) / 0.25)
    # Cut after 5 values: FPR = 2/4, FNR = 1/4 → the same value; every other cut is lower
    # or discarded (a rate of 0). Intervals (inside = U: equal ranges, smaller median; window
    # r ∈ [11, 15], r − l ∈ [10, 14]) reach the same value with {5U, 6R, 9U, 10R, 13U}.
    u = np.array([[1.0, 5.0, 9.0, 13.0]])
    r = np.array([[2.0, 6.0, 10.0, 14.0]])
    want = math.log((0.5 - DELTA) / 0.25)
    for interval_rules in (False, True):
        for directions in ("median", "both"):
            got = per_example_epsilon(u, r, interval_rules=interval_rules, directions=directions)
            assert got[0] == pytest.approx(want, abs=1e-14)
    # ε is small but positive, though both samples come from "the same" distribution
    assert 0 < want < 0.7


def test_hand_example_peaky_interval() -> None:
    # U = {4, 5, 6, 7} sits inside R = {0, 3, 8, 11}. Medians tie (5.5): "unlearned iff ≥ t".
    # Best threshold: above {5, 6, 7, 8, 11}: FPR = 2/4, FNR = 1/4 → log((0.5 − δ)/0.25).
    # The interval [4, 7] holds all of U and none of R: perfect separation → ε = ∞ → cap.
    u = np.array([[4.0, 5.0, 6.0, 7.0]])
    r = np.array([[0.0, 3.0, 8.0, 11.0]])
    thr = per_example_epsilon(u, r, interval_rules=False)
    assert thr[0] == pytest.approx(math.log((0.5 - DELTA) / 0.25), abs=1e-14)
    assert per_example_epsilon(u, r, interval_rules=True)[0] == 50.0
    assert per_example_epsilon(u, r, interval_rules=True, eps_cap=20.0)[0] == 20.0


# --------------------------------------------------------------------------------------------
# Behaviour on synthetic distributions
# --------------------------------------------------------------------------------------------


def test_same_distribution_small_eps_and_high_f_vs_separated() -> None:
    rng = np.random.default_rng(1)
    n, big_n = 400, 32
    same = per_example_epsilon(rng.normal(size=(n, big_n)), rng.normal(size=(n, big_n)))
    sep = per_example_epsilon(rng.normal(10.0, 1.0, size=(n, big_n)), rng.normal(size=(n, big_n)))
    assert np.all(same > 0) and np.all(same < 4.0)
    assert 1.0 < same.mean() < 2.5
    # well separated: perfect separation, ε = cap ≥ end of the last bucket, F = 0
    assert np.all(sep == 50.0)
    assert np.all(sep >= n_buckets(big_n) * 0.5)
    f_same = forgetting_quality(same, big_n)
    assert forgetting_quality(sep, big_n) == 0.0
    assert f_same > 0.1


def test_noise_floor_does_not_shrink_with_n() -> None:
    # On identical distributions the estimate is driven by runs in the tails (e.g. the top
    # three pooled values all "unlearned", then one "retrained": ε = log(3 − Nδ)), whose
    # probability does not depend on N. So ε does NOT shrink as N grows: compare methods at
    # equal N and report a retrain-vs-retrain reference (docs/per-example-attacks.md).
    rng = np.random.default_rng(2)
    medians = []
    for big_n in (8, 64):
        e = per_example_epsilon(
            rng.normal(size=(2000, big_n)), rng.normal(size=(2000, big_n)), interval_rules=False
        )
        medians.append(float(np.median(e)))
    np.testing.assert_allclose(medians, math.log(3.0), atol=0.01)


def test_chance_separation_shrinks_with_n() -> None:
    # What does shrink as N grows: the chance that N unlearned and N retrained draws from the
    # same distribution are perfectly separated, which the threshold rules score as the cap
    # (ε = 50). For iid continuous draws that probability is exactly 2 / C(2N, N).
    rng = np.random.default_rng(7)
    n = 20000
    fracs = []
    for big_n in (3, 4, 5):
        e = per_example_epsilon(
            rng.normal(size=(n, big_n)), rng.normal(size=(n, big_n)), interval_rules=False
        )
        p = 2.0 / math.comb(2 * big_n, big_n)
        frac = float(np.mean(e == 50.0))
        assert abs(frac - p) < 4.0 * math.sqrt(p * (1 - p) / n), (big_n, frac, p)
        fracs.append(frac)
    assert fracs[0] > fracs[1] > fracs[2]
    # and so the mean ε (which the cap dominates at small N) falls from N = 4 to N = 8
    means = [
        per_example_epsilon(
            rng.normal(size=(4000, k)), rng.normal(size=(4000, k)), interval_rules=False
        ).mean()
        for k in (4, 8)
    ]
    assert means[0] > means[1] + 0.5


def test_peaky_unlearned_distribution_is_caught() -> None:
    rng = np.random.default_rng(3)
    u = rng.normal(0.0, 0.3, size=(300, 32))
    r = rng.normal(0.0, 1.0, size=(300, 32))
    same = per_example_epsilon(rng.normal(size=(300, 32)), r)
    peaky = per_example_epsilon(u, r)
    assert peaky.mean() > same.mean() + 1.0
    assert forgetting_quality(peaky, 32) < forgetting_quality(same, 32) / 3


def test_deterministic_method_gets_cap() -> None:
    rng = np.random.default_rng(4)
    r = rng.normal(size=(20, 16))
    u = np.full((20, 16), 0.1)  # identical models: the same value N times
    assert np.all(per_example_epsilon(u, r) == 50.0)
    # without the range guard, the interval [0.1, 0.1] still separates perfectly
    assert np.all(per_example_epsilon(u, r, peaky_ratio=None) == 50.0)
    # thresholds alone cannot isolate a point inside R's range (documented limitation)
    inside = (r.min(axis=1) < 0.1) & (r.max(axis=1) > 0.1)
    thr_only = per_example_epsilon(u, r, peaky_ratio=None, interval_rules=False)
    assert inside.any() and np.all(thr_only[inside] < 50.0)
    # deterministic retrain too: equal constants ⇒ 0, different constants ⇒ cap
    both = per_example_epsilon(np.full((2, 4), 1.5), np.array([[1.5] * 4, [2.0] * 4]))
    np.testing.assert_array_equal(both, [0.0, 50.0])


def test_invariances() -> None:
    rng = np.random.default_rng(5)
    u = rng.normal(size=(100, 16))
    r = rng.normal(0.3, 1.2, size=(100, 16))
    base = per_example_epsilon(u, r, interval_rules=False)
    # thresholds are rank rules: an increasing affine map changes nothing
    np.testing.assert_array_equal(
        base, per_example_epsilon(3 * u + 7, 3 * r + 7, interval_rules=False)
    )
    both = per_example_epsilon(u, r, interval_rules=False, directions="both", peaky_ratio=None)
    np.testing.assert_array_equal(
        both,
        per_example_epsilon(
            np.exp(u), np.exp(r), interval_rules=False, directions="both", peaky_ratio=None
        ),
    )
    # swapping the roles of unlearned and retrained (symmetric formula, both directions)
    np.testing.assert_array_equal(
        both, per_example_epsilon(r, u, interval_rules=False, directions="both", peaky_ratio=None)
    )
    assert np.all(both >= base)  # a larger rule family never lowers ε


def test_deterministic_across_runs_and_chunk_sizes() -> None:
    rng = np.random.default_rng(6)
    u = rng.normal(size=(300, 24))
    r = rng.normal(0.2, 1.0, size=(300, 24))
    a = per_example_epsilon(u, r)
    b = per_example_epsilon(u.copy(), r.copy())
    c = per_example_epsilon(u, r, chunk_size=7)
    assert a.tobytes() == b.tobytes() == c.tobytes()


# --------------------------------------------------------------------------------------------
# Buckets and the final score
# --------------------------------------------------------------------------------------------


def test_bucket_counts() -> None:
    # ceil(ln(N − 1)) / 0.5
    assert n_buckets(512) == 14
    assert n_buckets(64) == 10
    assert n_buckets(16) == 6
    assert n_buckets(3) == 2
    assert n_buckets(64, bucket_width=1.0) == 5
    assert n_buckets(64, max_epsilon=3.0) == 6
    # the largest finite ε that N samples can give lies inside the last bucket
    for big_n in (3, 8, 64, 512):
        finite = epsilon_table(big_n)[np.isfinite(epsilon_table(big_n))]
        assert finite.max() < n_buckets(big_n) * 0.5
    with pytest.raises(UnlearnkitError, match="N ≥ 3"):
        n_buckets(2)


def test_forgetting_quality_by_hand() -> None:
    eps = np.array([0.0, 0.49, 0.5, 1.2, 4.9, 5.0, 50.0])
    # N = 64: 10 buckets; points 1, 1, 1/2, 1/4, 2^-9, 0 (k = 10), 0
    want = (1 + 1 + 0.5 + 0.25 + 2.0**-9) / 7
    assert forgetting_quality(eps, 64) == pytest.approx(want, abs=1e-15)
    np.testing.assert_allclose(bucket_scores(eps, 64), [1, 1, 0.5, 0.25, 2.0**-9, 0, 0], atol=0)
    assert forgetting_quality(np.array([np.inf, 0.0]), 64) == 0.5


def test_neurips_score_arithmetic() -> None:
    rng = np.random.default_rng(7)
    big_n = 16
    u = np.vstack([np.full((2, big_n), 0.7), rng.normal(10.0, 1.0, size=(2, big_n))])
    r = np.vstack([np.full((2, big_n), 0.7), rng.normal(0.0, 1.0, size=(2, big_n))])
    ra_u = np.full(big_n, 0.9)
    out = neurips_score(u, r, ra_u, 0.95, 0.8, np.full(big_n, 0.85))
    # rows 0-1: both deterministic and equal ⇒ ε = 0 ⇒ 1 point; rows 2-3: separated ⇒ 0
    np.testing.assert_array_equal(out["epsilon"], [0.0, 0.0, 50.0, 50.0])
    assert out["forgetting_quality"] == 0.5
    assert out["ra_ratio"] == pytest.approx(0.9 / 0.95)
    assert out["ta_ratio"] == pytest.approx(0.8 / 0.85)
    assert out["score"] == pytest.approx(0.5 * (0.9 / 0.95) * (0.8 / 0.85))
    assert out["n_models"] == 16 and out["n_examples"] == 4
    assert out["n_buckets"] == 6 and out["max_epsilon"] == 3.0
    assert out["frac_capped"] == 0.5
    assert out["epsilon_mean"] == 25.0
    assert {"ra_unlearned", "ra_retrain", "ta_unlearned", "ta_retrain", "delta"} <= set(out)


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------


def test_bad_inputs() -> None:
    ok = np.zeros((3, 4)) + np.arange(4)
    with pytest.raises(UnlearnkitError, match="same shape"):
        per_example_epsilon(ok, ok[:, :3])
    with pytest.raises(UnlearnkitError, match="2-D"):
        per_example_epsilon(ok[0], ok[0])
    with pytest.raises(UnlearnkitError, match="N ≥ 2"):
        per_example_epsilon(ok[:, :1], ok[:, :1])
    bad = ok.copy()
    bad[1, 2] = np.nan
    with pytest.raises(UnlearnkitError, match=r"NaN.*\[1, 2\]"):
        per_example_epsilon(ok, bad)
    with pytest.raises(UnlearnkitError, match="0 rows"):
        per_example_epsilon(ok[:0], ok[:0])
    with pytest.raises(UnlearnkitError, match="delta"):
        per_example_epsilon(ok, ok, delta=0.0)
    with pytest.raises(UnlearnkitError, match="directions"):
        per_example_epsilon(ok, ok, directions="up")  # type: ignore[arg-type]
    with pytest.raises(UnlearnkitError, match="non-negative"):
        forgetting_quality(np.array([-1.0]), 8)
    with pytest.raises(UnlearnkitError, match="percent"):
        neurips_score(ok, ok + 1, 95.0, 0.9, 0.9, 0.9)
    with pytest.raises(UnlearnkitError, match="one accuracy per model"):
        neurips_score(ok, ok + 1, [0.9, 0.9], 0.9, 0.9, 0.9)
    with pytest.raises(UnlearnkitError, match="positive"):
        neurips_score(ok, ok + 1, 0.9, 0.0, 0.9, 0.9)
