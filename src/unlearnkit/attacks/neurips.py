"""The NeurIPS 2023 Machine Unlearning challenge forgetting score (pure NumPy).

Reference: Triantafillou et al. "Are we making progress in unlearning? Findings from the first
NeurIPS unlearning competition", 2024. https://arxiv.org/abs/2406.09073 (official scoring code:
github.com/google-deepmind/unlearning_evaluation, ``metric.py``).

Setting: one original model; N runs of the unlearning method from it (seeds varied) and N
models retrained from scratch on the retain set. For every forget example ``x`` we have one
scalar statistic per model (the challenge used the logit-scaled confidence, see
:func:`unlearnkit.attacks.lira.logit_scaled_confidence`): ``U`` (N values, unlearned) and
``R`` (N values, retrained).

1. Per-example ε. Each decision rule of a family predicts "unlearned" or "retrained" from one
   value. For a rule with false-positive rate FPR and false-negative rate FNR (estimated on the
   2N samples), with δ = 1e-5,

       ε_rule = max( log(1 − δ − FPR) − log FNR,  log(1 − δ − FNR) − log FPR )

   (the (ε, δ)-DP hypothesis-testing bound; a term whose log argument is ≤ 0 is dropped,
   and a rule whose two terms are both dropped is dropped). Rules with FPR = FNR = 0 (perfect
   separation) give ε = ∞; rules with exactly one of FPR, FNR equal to 0 are **discarded**, as
   in the official code: with N samples a rate of 0 only says "below 1/N", and keeping such
   rules would give ε = ∞ for any two samples of continuous values. Then

       ε(x) = clip( max(0, max over rules ε_rule), 0, eps_cap = 50 ).

2. Buckets. ``max_epsilon = ceil(ln(N − 1))`` (the largest ε that N samples can resolve is about
   ``ln(N − 1)``: both rates at 1/N). Bucket ``k`` covers ``[k·w, (k+1)·w)`` with ``w = 0.5``
   for ``k = 0 … K − 1``, ``K = floor(max_epsilon / w)``, and is worth ``2^−k``; ε ≥ K·w
   (in practice only perfect separation, ε = 50) is worth 0.

3. Forgetting quality ``F = mean over forget examples of 2^−k(ε)`` (1 is perfect).

4. Final score ``F × (RA_unlearned / RA_retrain) × (TA_unlearned / TA_retrain)`` with retain and
   test accuracies averaged over the N models of each kind.

The rule family is computed exactly (every partition of the pooled sorted values), not on a
grid of thresholds as in the official code; see :func:`per_example_epsilon`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from unlearnkit.errors import UnlearnkitError

__all__ = [
    "DEFAULT_DELTA",
    "EPSILON_CAP",
    "bucket_scores",
    "epsilon_table",
    "forgetting_quality",
    "n_buckets",
    "neurips_score",
    "per_example_epsilon",
]

DEFAULT_DELTA = 1e-5
EPSILON_CAP = 50.0
DEFAULT_PEAKY_RATIO = 0.01
DEFAULT_INTERVAL_BUFFER = 2.0

Directions = Literal["median", "both"]


def epsilon_table(n_models: int, delta: float = DEFAULT_DELTA) -> np.ndarray:
    """``ε_rule`` for every pair of counts: ``T[a, b]`` with ``FPR = a/N``, ``FNR = b/N``.

    ``T[0, 0] = +inf`` (perfect separation); ``−inf`` marks a discarded rule (exactly one rate
    is 0, or both terms undefined); otherwise the larger defined term of
    ``log(1 − δ − FPR) − log FNR`` and ``log(1 − δ − FNR) − log FPR`` (may be negative; the
    per-example maximum is floored at 0). The table is symmetric.
    """
    n = int(n_models)
    rate = np.arange(n + 1, dtype=np.float64) / n
    fpr = rate[:, None]
    fnr = rate[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1.0 - delta - fpr
        b = 1.0 - delta - fnr
        e1 = np.where(a > 0, np.log(np.where(a > 0, a, 1.0)) - np.log(fnr), np.nan)
        e2 = np.where(b > 0, np.log(np.where(b > 0, b, 1.0)) - np.log(fpr), np.nan)
    both_nan = np.isnan(e1) & np.isnan(e2)
    t = np.fmax(e1, e2)  # the defined one when only one is NaN
    t = np.where(both_nan, -np.inf, t)
    one_zero = (fpr == 0) ^ (fnr == 0)
    t = np.where(one_zero, -np.inf, t)
    t[0, 0] = np.inf
    return t


def _check_stats(unlearned: Any, retrained: Any) -> tuple[np.ndarray, np.ndarray]:
    u = np.asarray(unlearned, dtype=np.float64)
    r = np.asarray(retrained, dtype=np.float64)
    if u.ndim != 2 or r.ndim != 2:
        raise UnlearnkitError(
            "unlearned and retrained must be 2-D arrays (n_examples, N_models), got shapes "
            f"{u.shape} and {r.shape}"
        )
    if u.shape != r.shape:
        raise UnlearnkitError(
            f"unlearned and retrained must have the same shape (n_examples, N_models); got "
            f"{u.shape} and {r.shape} (use the same number N of unlearned and retrained models)"
        )
    if u.shape[0] == 0:
        raise UnlearnkitError("no forget examples: unlearned/retrained have 0 rows")
    if u.shape[1] < 2:
        raise UnlearnkitError(
            f"need N ≥ 2 unlearned and retrained models per example, got N = {u.shape[1]} "
            "(the challenge used N = 512; use tens at least, varying the seed)"
        )
    for name, a in (("unlearned", u), ("retrained", r)):
        if not np.all(np.isfinite(a)):
            bad = np.argwhere(~np.isfinite(a))[0].tolist()
            raise UnlearnkitError(f"{name} contains NaN or infinite values (first at {bad})")
    return u, r


def per_example_epsilon(
    unlearned: Any,
    retrained: Any,
    delta: float = DEFAULT_DELTA,
    interval_rules: bool = True,
    eps_cap: float = EPSILON_CAP,
    *,
    directions: Directions = "median",
    peaky_ratio: float | None = DEFAULT_PEAKY_RATIO,
    interval_buffer: float | None = DEFAULT_INTERVAL_BUFFER,
    chunk_size: int = 32,
) -> np.ndarray:
    """Per-example ε of the NeurIPS 2023 unlearning challenge (see the module docstring).

    Rule family, computed exactly over all partitions of each example's 2N pooled sorted
    values (ties never split):

    * single thresholds: "unlearned" iff ``value ≥ t``, or iff ``value < t``. With
      ``directions="median"`` (official) only the direction that predicts the side with the
      larger median for large values is used (ties of the medians: unlearned); with
      ``"both"`` both directions are.
    * ``interval_rules`` (official: on): "side S" iff ``l ≤ value ≤ r``, where S is the
      *peakier* side (smaller range max − min; equal ranges: the side with the smaller
      median), over every real ``l ≤ r`` in the official window: ``r`` within
      ``± interval_buffer`` of S's maximum and ``r − l`` within ``± interval_buffer`` of S's
      range (the buffer, 2.0, is in units of the statistic; the official value, set for the
      logit-scaled confidence). ``interval_buffer=None`` allows every interval (a much larger
      family, hence larger ε on noise). With ``directions="both"`` either side may be
      predicted inside.

    Cost: O(n·N) for thresholds, O(n·N²) for intervals (n = 5000, N = 64: about 2 s).

    Degenerate examples (decided before any rule):

    * ``min(range_U, range_R) / max(range_U, range_R) < peaky_ratio`` (official: 0.01) ⇒
      ε = ``eps_cap``. This catches a deterministic method (all N unlearned values identical,
      i.e. identical models: vary the seed) and a near-deterministic one, which a rich enough
      rule family would separate perfectly. ``peaky_ratio=None`` (or 0) disables the guard;
      the rules then still separate a constant side from a continuous one (via intervals, or
      thresholds when it lies outside the other side's range).
    * Both sides constant: the same value ⇒ ε = 0 (no rule can tell them apart); different
      values ⇒ ε = ``eps_cap``. Not affected by ``peaky_ratio``.
    * No usable rule (every rule discarded) ⇒ ε = 0.

    Args:
        unlearned: ``(n, N)`` statistic of each forget example under N unlearned models.
        retrained: ``(n, N)`` the same under N retrained models.
        delta: δ of the (ε, δ) bound (challenge: 1e-5).
        interval_rules: include the two-threshold (interval) rules.
        eps_cap: upper bound for ε (perfect separation gives ∞, reported as ``eps_cap``).
        directions: ``"median"`` (official rule family) or ``"both"`` (adds the reversed
            rules; never lowers ε).
        peaky_ratio: range-ratio guard (see above).
        interval_buffer: half-width of the interval window (see above); ``None``: no window.
        chunk_size: rows processed at once by the vectorised interval search (memory only;
            the result does not depend on it).

    Returns:
        ``(n,)`` float64 ε in ``[0, eps_cap]``.
    """
    u, r = _check_stats(unlearned, retrained)
    if not 0 < delta < 1:
        raise UnlearnkitError(f"delta must lie in (0, 1), got {delta}")
    if not eps_cap > 0:
        raise UnlearnkitError(f"eps_cap must be positive, got {eps_cap}")
    if directions not in ("median", "both"):
        raise UnlearnkitError(f"directions must be 'median' or 'both', got {directions!r}")
    if peaky_ratio is not None and not 0 <= peaky_ratio < 1:
        raise UnlearnkitError(f"peaky_ratio must lie in [0, 1) or be None, got {peaky_ratio}")
    if interval_buffer is not None and not interval_buffer >= 0:
        raise UnlearnkitError(f"interval_buffer must be ≥ 0 or None, got {interval_buffer}")
    if chunk_size < 1:
        raise UnlearnkitError(f"chunk_size must be ≥ 1, got {chunk_size}")

    n, big_n = u.shape
    table = epsilon_table(big_n, delta)
    flat_table = table.ravel()
    width = big_n + 1

    # Pool and sort each row once; cu[b] = number of unlearned values among the b smallest.
    vals = np.concatenate([u, r], axis=1)
    order = np.argsort(vals, axis=1, kind="stable")
    sv = np.take_along_axis(vals, order, axis=1)
    is_u = order < big_n
    cu = np.zeros((n, 2 * big_n + 1), dtype=np.int32)
    np.cumsum(is_u, axis=1, out=cu[:, 1:])
    cr = np.arange(2 * big_n + 1, dtype=np.int32)[None, :] - cu
    # A cut after the b smallest values is a valid partition iff it does not split ties.
    boundary = np.ones((n, 2 * big_n + 1), dtype=bool)
    boundary[:, 1:-1] = sv[:, 1:] != sv[:, :-1]

    med_u = np.median(u, axis=1)
    med_r = np.median(r, axis=1)
    u_upper = med_u >= med_r  # larger-median side is "unlearned" ⇒ predict it for large values
    range_u = u.max(axis=1) - u.min(axis=1)
    range_r = r.max(axis=1) - r.min(axis=1)
    u_inside = (range_u < range_r) | ((range_u == range_r) & (med_u < med_r))

    def lookup(fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        return flat_table[fp * width + fn]

    # Single thresholds. Upper set = values above the cut.
    eps_up = lookup(big_n - cr, cu)  # "unlearned" iff above the cut
    eps_down = lookup(cr, big_n - cu)  # "unlearned" iff below the cut
    neg_inf = -np.inf
    eps_up = np.where(boundary, eps_up, neg_inf)
    eps_down = np.where(boundary, eps_down, neg_inf)
    if directions == "both":
        best = np.maximum(eps_up.max(axis=1), eps_down.max(axis=1))
    else:
        best = np.where(u_upper, eps_up.max(axis=1), eps_down.max(axis=1))

    if interval_rules:
        m = 2 * big_n + 1
        upper_tri = np.triu(np.ones((m, m), dtype=bool), k=1)  # s < e
        pad = np.full((n, 1), np.inf)
        # The partition (s, e] (inside = sorted positions s … e−1) is produced by every interval
        # [l, r] with l in (l_lo[s], l_hi[s]] and r in [r_lo[e], r_hi[e]).
        l_lo = np.concatenate([-pad, sv], axis=1)
        l_hi = np.concatenate([sv, pad], axis=1)
        if interval_buffer is not None:
            # Official window: r within ±buffer of the peaky side's max (closed), r − l within
            # ±buffer of the peaky side's range (closed). With r in [r_lo, r_hi) ∩ [A, B] =
            # [rl, rh) or [rl, rh] and l in (l_lo, l_hi], the differences r − l fill
            # [rl − l_hi, rh − l_lo) (open at the top since l_lo is open).
            peak_max = np.where(u_inside, u.max(axis=1), r.max(axis=1))
            peak_w = np.minimum(range_u, range_r)
            a_lo = (peak_max - interval_buffer)[:, None]
            b_hi = (peak_max + interval_buffer)[:, None]
            r_rl = np.maximum(l_lo, a_lo)  # r_lo[e] = l_lo[e] = sv[e−1]
            r_rh = np.minimum(l_hi, b_hi)  # r_hi[e] = l_hi[e] = sv[e]
            r_ok = (r_rl < l_hi) & (r_rl <= b_hi)
        for lo in range(0, n, chunk_size):
            hi = min(n, lo + chunk_size)
            cu_c = cu[lo:hi]
            cr_c = cr[lo:hi]
            # [row, s, e] = number of unlearned / retrained values in (s, e]. abs() keeps the
            # (masked-out) s > e half inside the table's index range.
            iu = np.abs(cu_c[:, None, :] - cu_c[:, :, None])
            ir = np.abs(cr_c[:, None, :] - cr_c[:, :, None])
            ok = boundary[lo:hi, :, None] & boundary[lo:hi, None, :] & upper_tri
            if interval_buffer is not None:
                rl = r_rl[lo:hi, None, :]
                rh = r_rh[lo:hi, None, :]
                w = peak_w[lo:hi, None, None]
                ok &= r_ok[lo:hi, None, :]
                with np.errstate(invalid="ignore"):
                    ok &= rl - l_hi[lo:hi, :, None] <= w + interval_buffer
                    ok &= rh - l_lo[lo:hi, :, None] > w - interval_buffer
            # "unlearned" inside: FP = ir, FN = N − iu; "retrained" inside: FP = N − ir, FN = iu.
            if directions == "both":
                e_uin = np.where(ok, lookup(ir, big_n - iu), neg_inf).max(axis=(1, 2))
                e_rin = np.where(ok, lookup(big_n - ir, iu), neg_inf).max(axis=(1, 2))
                e_int = np.maximum(e_uin, e_rin)
            else:
                ui = u_inside[lo:hi, None, None]
                fp = np.where(ui, ir, big_n - ir)
                fn = np.where(ui, big_n - iu, iu)
                e_int = np.where(ok, lookup(fp, fn), neg_inf).max(axis=(1, 2))
            best[lo:hi] = np.maximum(best[lo:hi], e_int)

    eps = np.clip(np.maximum(best, 0.0), 0.0, eps_cap)

    # Degenerate examples.
    largest = np.maximum(range_u, range_r)
    smallest = np.minimum(range_u, range_r)
    both_const = largest == 0
    if peaky_ratio:
        with np.errstate(divide="ignore", invalid="ignore"):
            peaky = ~both_const & (smallest / np.where(both_const, 1.0, largest) < peaky_ratio)
        eps = np.where(peaky, eps_cap, eps)
    same_const = both_const & (u[:, 0] == r[:, 0])
    eps = np.where(both_const, np.where(same_const, 0.0, eps_cap), eps)
    return eps.astype(np.float64, copy=False)


def _default_max_epsilon(n_models: int) -> float:
    if n_models < 2:
        raise UnlearnkitError(f"need N ≥ 2 models, got {n_models}")
    return float(math.ceil(math.log(n_models - 1)))


def n_buckets(n_models: int, bucket_width: float = 0.5, max_epsilon: float | None = None) -> int:
    """Number of scoring buckets: ``floor(max_epsilon / bucket_width)``.

    ``max_epsilon`` defaults to ``ceil(ln(N − 1))`` as in the official scoring (N = 512 ⇒ 7 ⇒
    14 buckets; N = 64 ⇒ 5 ⇒ 10 buckets). The largest finite ε that N samples can produce is
    ``ln(N(1 − δ) − 1) < ln(N − 1) ≤ max_epsilon``, so only perfect separation falls beyond
    the last bucket (for the default ``max_epsilon``).
    """
    if not bucket_width > 0:
        raise UnlearnkitError(f"bucket_width must be positive, got {bucket_width}")
    max_eps = _default_max_epsilon(n_models) if max_epsilon is None else float(max_epsilon)
    if not max_eps > 0:
        raise UnlearnkitError(
            f"max_epsilon = {max_eps} leaves no bucket: with N = {n_models} models ln(N − 1) "
            "= 0, so N = 2 cannot score forgetting; use N ≥ 3 (tens in practice)"
            if max_epsilon is None
            else f"max_epsilon must be positive, got {max_eps}"
        )
    k = int(math.floor(max_eps / bucket_width + 1e-9))
    if k < 1:
        raise UnlearnkitError(
            f"bucket_width {bucket_width} is wider than max_epsilon {max_eps}: no bucket"
        )
    return k


def bucket_scores(
    eps: Any, n_models: int, *, bucket_width: float = 0.5, max_epsilon: float | None = None
) -> np.ndarray:
    """Points per example: ``2^−k`` for ε in bucket ``k = floor(ε / w) < K``, else 0."""
    e = np.asarray(eps, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise UnlearnkitError(f"eps must be a non-empty 1-D array, got shape {e.shape}")
    if np.any(np.isnan(e)) or np.any(e < 0):
        raise UnlearnkitError("eps must be non-negative and not NaN")
    k_max = n_buckets(n_models, bucket_width, max_epsilon)
    with np.errstate(invalid="ignore", over="ignore"):
        k = np.floor(e / bucket_width)
    return np.where(k < k_max, np.exp2(-np.minimum(k, k_max)), 0.0)


def forgetting_quality(
    eps: Any, N: int, *, bucket_width: float = 0.5, max_epsilon: float | None = None
) -> float:
    """Forgetting quality ``F = mean_x 2^−k(ε_x)`` (1 = indistinguishable from retrain).

    Args:
        eps: ``(n,)`` per-example ε from :func:`per_example_epsilon`.
        N: number of unlearned (= retrained) models the ε were estimated from.
        bucket_width: width of a bucket (challenge: 0.5).
        max_epsilon: end of the last bucket; default ``ceil(ln(N − 1))`` (see
            :func:`n_buckets`).
    """
    return float(np.mean(bucket_scores(eps, N, bucket_width=bucket_width, max_epsilon=max_epsilon)))


def _mean_accuracy(x: Any, name: str, n_models: int) -> float:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise UnlearnkitError(f"{name} is empty")
    if a.size not in (1, n_models):
        raise UnlearnkitError(
            f"{name} must be a scalar or one accuracy per model ({n_models}), got {a.size} values"
        )
    if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
        raise UnlearnkitError(f"{name} must be accuracies in [0, 1] (fractions, not percent)")
    return float(a.mean())


def neurips_score(
    unlearned_stats: Any,
    retrained_stats: Any,
    ra_unlearned: Any,
    ra_retrain: Any,
    ta_unlearned: Any,
    ta_retrain: Any,
    *,
    delta: float = DEFAULT_DELTA,
    interval_rules: bool = True,
    directions: Directions = "median",
    peaky_ratio: float | None = DEFAULT_PEAKY_RATIO,
    eps_cap: float = EPSILON_CAP,
    bucket_width: float = 0.5,
    max_epsilon: float | None = None,
) -> dict[str, Any]:
    """Final NeurIPS 2023 unlearning score ``F × RA_U/RA_R × TA_U/TA_R``.

    Args:
        unlearned_stats, retrained_stats: ``(n, N)`` per-example statistics (forget set).
        ra_unlearned, ra_retrain: retain accuracy, a scalar or one value per model (averaged).
        ta_unlearned, ta_retrain: test accuracy, likewise.
        Other arguments: see :func:`per_example_epsilon` and :func:`forgetting_quality`.

    Returns:
        dict with ``score``, ``forgetting_quality``, ``ra_ratio``, ``ta_ratio``,
        ``ra_unlearned``, ``ra_retrain``, ``ta_unlearned``, ``ta_retrain`` (means),
        ``n_models`` (N), ``n_examples``, ``epsilon`` (``(n,)`` array), ``epsilon_mean``,
        ``epsilon_median``, ``frac_capped`` (fraction of ε = ``eps_cap``), ``n_buckets``,
        ``bucket_width``, ``max_epsilon``, ``delta``, ``eps_cap``. The ratios are not clipped
        (a method more accurate than retrain gets a ratio above 1).
    """
    u, r = _check_stats(unlearned_stats, retrained_stats)
    n, big_n = u.shape
    ra_u = _mean_accuracy(ra_unlearned, "ra_unlearned", big_n)
    ra_r = _mean_accuracy(ra_retrain, "ra_retrain", big_n)
    ta_u = _mean_accuracy(ta_unlearned, "ta_unlearned", big_n)
    ta_r = _mean_accuracy(ta_retrain, "ta_retrain", big_n)
    if ra_r == 0 or ta_r == 0:
        raise UnlearnkitError("retrain accuracies must be positive (they are denominators)")
    k_max = n_buckets(big_n, bucket_width, max_epsilon)
    eps = per_example_epsilon(
        u,
        r,
        delta,
        interval_rules,
        eps_cap,
        directions=directions,
        peaky_ratio=peaky_ratio,
    )
    f = forgetting_quality(eps, big_n, bucket_width=bucket_width, max_epsilon=max_epsilon)
    ra_ratio = ra_u / ra_r
    ta_ratio = ta_u / ta_r
    return {
        "score": f * ra_ratio * ta_ratio,
        "forgetting_quality": f,
        "ra_ratio": ra_ratio,
        "ta_ratio": ta_ratio,
        "ra_unlearned": ra_u,
        "ra_retrain": ra_r,
        "ta_unlearned": ta_u,
        "ta_retrain": ta_r,
        "n_models": big_n,
        "n_examples": n,
        "epsilon": eps,
        "epsilon_mean": float(eps.mean()),
        "epsilon_median": float(np.median(eps)),
        "frac_capped": float(np.mean(eps >= eps_cap)),
        "n_buckets": k_max,
        "bucket_width": float(bucket_width),
        "max_epsilon": float(k_max * bucket_width),
        "delta": float(delta),
        "eps_cap": float(eps_cap),
    }
