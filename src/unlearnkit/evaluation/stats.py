"""Statistics that tell methods apart: the signal check and paired comparisons over seeds.

Two questions, answered with the seeds a benchmark already has (DESIGN §4):

1. **Does a metric carry signal at this scale?** (:func:`signal_check`) If a metric cannot tell
   the original ("did nothing") from retrain ("the gold standard") beyond seed noise, it cannot
   rank unlearning methods either — every method's gap to retrain is then noise.
2. **Are two methods' differences real?** (:func:`paired_comparison`, :func:`compare_methods`,
   :func:`rank_methods`) Methods of one setting share the split, the original and retrain of
   each seed, so they are compared *paired by seed*; p-values are Holm-corrected across the
   pairs of one metric; ranks that cannot be told apart share a group, and a "best method" is
   named only where it is significantly better than every other.

Signal check, exactly. For a metric with per-seed values ``o_1..o_n`` (original) and
``r_1..r_m`` (retrain), sample means ``ō, r̄`` and sample variances ``s_o², s_r²`` (ddof = 1)::

    s_pooled = sqrt(((n − 1)·s_o² + (m − 1)·s_r²) / (n + m − 2))
    separation = (ō − r̄) / s_pooled                       (Cohen's d with the pooled std)

with ``separation = 0`` when both the difference and ``s_pooled`` are 0 and ``±inf`` when only
``s_pooled`` is 0 (perfectly repeatable and different); NaN when either side has fewer than 2
finite values (no spread can be estimated from one seed). The metric has **signal** when
``|separation| ≥`` :data:`SIGNAL_THRESHOLD` (= 2: the original sits two seed standard deviations
away from retrain). Where model pools exist (many original-like and retrain-like models, e.g.
the U-LiRA shadow models with and without the forget set), the AUC of telling them apart by the
metric, ``AUC = P(X_orig > X_retrain) + ½·P(X_orig = X_retrain)`` (Mann–Whitney), is the
finer check; it has signal when ``max(AUC, 1 − AUC) ≥`` :data:`SIGNAL_AUC_THRESHOLD`
``= Φ(2/√2) ≈ 0.921``, the AUC of two equal-variance normals two standard deviations apart, so
both checks draw the line at the same separation.

Paired comparison, exactly. For methods A and B with per-seed values ``a_s, b_s`` on the seeds
where both are finite (``n`` of them), ``d_s = a_s − b_s``:

* ``mean_diff = mean(d)``; a percentile-bootstrap CI of it (seeds resampled with replacement,
  ``n_resamples`` draws from ``numpy.random.default_rng(seed)``);
* the paired t-test ``t = mean(d) / (sd(d)/√n)`` with ``n − 1`` degrees of freedom
  (:func:`scipy.stats.ttest_rel`) and the Wilcoxon signed-rank test
  (:func:`scipy.stats.wilcoxon`, two-sided);
* the decision p-value ``p`` is the t-test's by default (``test="t"``): with ``n`` seeds the
  two-sided Wilcoxon p-value is never below ``2/2^n`` (0.0625 at 5 seeds), so it cannot reach
  0.05 below 6 seeds. When all differences are equal the t statistic is undefined: ``p = 1``
  if they are all 0, else the Wilcoxon p-value (exact: ``2/2^n``).
* ``p_holm``: Holm's step-down adjustment across all pairs of one metric in one setting
  (:func:`holm`); ``significant = p_holm < alpha``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from unlearnkit.evaluation.checks import EvaluationError

__all__ = [
    "ALPHA",
    "SIGNAL_AUC_THRESHOLD",
    "SIGNAL_THRESHOLD",
    "PairedComparison",
    "Ranking",
    "Signal",
    "compare_methods",
    "holm",
    "paired_comparison",
    "pooled_std",
    "rank_methods",
    "separation",
    "separation_auc",
    "signal_check",
]

#: |separation| (original − retrain, in pooled seed standard deviations) needed for "signal"
SIGNAL_THRESHOLD: float = 2.0
#: direction-free AUC needed for "signal" over model pools: Φ(SIGNAL_THRESHOLD / √2) ≈ 0.921
SIGNAL_AUC_THRESHOLD: float = float(sps.norm.cdf(SIGNAL_THRESHOLD / math.sqrt(2.0)))
#: family-wise error rate of the Holm-corrected paired tests
ALPHA: float = 0.05

Test = Literal["t", "wilcoxon"]


def _finite_values(x: ArrayLike | Sequence[float]) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    return arr[np.isfinite(arr)]


# --------------------------------------------------------------------------- signal check


def pooled_std(a: ArrayLike, b: ArrayLike) -> float:
    """Pooled sample standard deviation of two samples (NaNs dropped)::

        s_pooled = sqrt(((n_a − 1)·s_a² + (n_b − 1)·s_b²) / (n_a + n_b − 2))

    NaN unless both samples have at least 2 finite values.
    """
    x, y = _finite_values(a), _finite_values(b)
    if x.size < 2 or y.size < 2:
        return math.nan
    ss = (x.size - 1) * np.var(x, ddof=1) + (y.size - 1) * np.var(y, ddof=1)
    return float(math.sqrt(ss / (x.size + y.size - 2)))


def separation(original: ArrayLike, retrain: ArrayLike) -> float:
    """``(mean(original) − mean(retrain)) / pooled_std`` (see the module doc for the cases).

    0 when both the difference and the spread are 0; ``±inf`` when only the spread is 0; NaN
    when either side has fewer than 2 finite values.
    """
    s = pooled_std(original, retrain)
    if math.isnan(s):
        return math.nan
    diff = float(np.mean(_finite_values(original)) - np.mean(_finite_values(retrain)))
    if s == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return diff / s


def separation_auc(original_like: ArrayLike, retrain_like: ArrayLike) -> float:
    """AUC of telling original-like from retrain-like values apart by the value itself.

    ``AUC = P(X_o > X_r) + ½·P(X_o = X_r)`` over all pairs (Mann–Whitney ``U / (n_o·n_r)``);
    1 or 0 = perfectly separable (in either direction), 0.5 = indistinguishable. NaN when a
    side has no finite value.
    """
    x, y = _finite_values(original_like), _finite_values(retrain_like)
    if x.size == 0 or y.size == 0:
        return math.nan
    greater = (x[:, None] > y[None, :]).sum()
    ties = (x[:, None] == y[None, :]).sum()
    return float((greater + 0.5 * ties) / (x.size * y.size))


@dataclass(frozen=True)
class Signal:
    """How well one metric separates the original from retrain in one setting.

    ``has_signal`` is None when it cannot be decided (fewer than 2 values on a side). The
    decision uses the pool AUC when one is given (more models than seeds), else the separation.
    """

    separation: float
    original_mean: float
    retrain_mean: float
    pooled_std: float
    n_original: int
    n_retrain: int
    seed_auc: float
    pool_auc: float = math.nan
    n_pool: tuple[int, int] = (0, 0)
    has_signal: bool | None = None
    basis: str = "seeds"
    threshold: float = SIGNAL_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["n_pool"] = list(self.n_pool)
        return d


def signal_check(
    original: ArrayLike,
    retrain: ArrayLike,
    *,
    pool: tuple[ArrayLike, ArrayLike] | None = None,
    threshold: float = SIGNAL_THRESHOLD,
    auc_threshold: float = SIGNAL_AUC_THRESHOLD,
) -> Signal:
    """The signal check of one metric: per-seed values of the original and of retrain, and
    optionally ``pool = (original-like values, retrain-like values)`` from model pools.

    ``has_signal = |separation| ≥ threshold`` over seeds, or, with a pool of at least 2 models
    a side, ``max(AUC, 1 − AUC) ≥ auc_threshold`` over the pool (formulas: module doc).
    """
    o, r = _finite_values(original), _finite_values(retrain)
    d = separation(o, r)
    has: bool | None = None if math.isnan(d) else bool(abs(d) >= threshold)
    pool_auc, n_pool, basis = math.nan, (0, 0), "seeds"
    if pool is not None:
        po, pr = _finite_values(pool[0]), _finite_values(pool[1])
        n_pool = (int(po.size), int(pr.size))
        pool_auc = separation_auc(po, pr)
        if po.size >= 2 and pr.size >= 2:
            has, basis = bool(max(pool_auc, 1.0 - pool_auc) >= auc_threshold), "pool"
    return Signal(
        separation=d,
        original_mean=float(np.mean(o)) if o.size else math.nan,
        retrain_mean=float(np.mean(r)) if r.size else math.nan,
        pooled_std=pooled_std(o, r),
        n_original=int(o.size),
        n_retrain=int(r.size),
        seed_auc=separation_auc(o, r),
        pool_auc=pool_auc,
        n_pool=n_pool,
        has_signal=has,
        basis=basis,
        threshold=threshold,
    )


# --------------------------------------------------------------------------- paired tests


@dataclass(frozen=True)
class PairedComparison:
    """Method ``a`` against method ``b`` on one metric, paired by seed (``d = a − b``)."""

    a: str
    b: str
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_t: float
    p_wilcoxon: float
    p: float
    p_holm: float = math.nan
    significant: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap_mean_ci(
    values: ArrayLike, *, n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean (vectorised; deterministic for ``seed``).

    Resamples ``n`` values with replacement ``n_resamples`` times; the interval is the
    ``(1 − c)/2`` and ``(1 + c)/2`` quantiles of the resampled means. NaN for fewer than 2
    values (one seed has no spread to resample).
    """
    v = _finite_values(values)
    if v.size < 2:
        return math.nan, math.nan
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise EvaluationError(
            f"bootstrap needs n_resamples ≥ 1 and confidence in (0, 1), got {n_resamples}, "
            f"{confidence}"
        )
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_resamples, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return float(lo), float(hi)


def _paired_pvalues(d: NDArray[np.float64]) -> tuple[float, float]:
    """(t-test p, Wilcoxon p) of paired differences ``d`` (two-sided)."""
    if d.size < 2:
        return math.nan, math.nan
    if np.all(d == 0.0):
        return 1.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on ties / small n
        w = float(sps.wilcoxon(d, alternative="two-sided").pvalue)
        p_t = math.nan if np.all(d == d[0]) else float(sps.ttest_1samp(d, 0.0).pvalue)
    return p_t, w


def paired_comparison(
    a: ArrayLike,
    b: ArrayLike,
    *,
    names: tuple[str, str] = ("a", "b"),
    test: Test = "t",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Compare two methods' per-seed values (same seed order; NaN pairs dropped).

    Returns the mean paired difference ``mean(a − b)``, its bootstrap CI, the paired t-test and
    Wilcoxon signed-rank p-values and the decision p-value ``p`` (``test``; see the module doc
    for all-equal differences). ``p_holm`` / ``significant`` are filled by
    :func:`compare_methods`.
    """
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise EvaluationError(
            f"paired comparison needs one value per seed on both sides, got {x.size} and "
            f"{y.size} values; align them by seed (NaN for a missing seed)"
        )
    if test not in ("t", "wilcoxon"):
        raise EvaluationError(f"test must be 't' or 'wilcoxon', got {test!r}")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    p_t, p_w = _paired_pvalues(d)
    p = p_w if test == "wilcoxon" or math.isnan(p_t) else p_t
    lo, hi = bootstrap_mean_ci(d, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return PairedComparison(
        a=names[0],
        b=names[1],
        n=int(d.size),
        mean_diff=float(np.mean(d)) if d.size else math.nan,
        ci_low=lo,
        ci_high=hi,
        p_t=p_t,
        p_wilcoxon=p_w,
        p=p,
    )


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (Holm 1979); NaNs stay NaN and do not count in m.

    With the ``m`` finite p-values sorted ascending, ``p_(1) ≤ … ≤ p_(m)``::

        p_holm_(i) = min(1, max_{j ≤ i} (m − j + 1) · p_(j))

    Rejecting where ``p_holm < α`` controls the family-wise error rate at ``α``.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    if idx.size == 0:
        return out
    if np.any((p[idx] < 0) | (p[idx] > 1)):
        raise EvaluationError("p-values must lie in [0, 1]")
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def _aligned(per_seed: Mapping[str, Mapping[Any, float]]) -> tuple[list[Any], dict[str, Any]]:
    seeds = sorted({s for v in per_seed.values() for s in v})
    table = {
        m: np.array([float(v.get(s, math.nan)) for s in seeds], dtype=np.float64)
        for m, v in per_seed.items()
    }
    return seeds, table


def compare_methods(
    per_seed: Mapping[str, Mapping[Any, float]],
    *,
    alpha: float = ALPHA,
    test: Test = "t",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PairedComparison]:
    """Every pair of methods (in the given order), paired by seed, Holm-corrected across pairs.

    ``per_seed[method][seed] = value``; a seed missing for a method counts as NaN and drops
    out of that method's pairs. Each pair's bootstrap draws use ``seed`` (reproducible).
    """
    _, table = _aligned(per_seed)
    pairs = [
        paired_comparison(
            table[a],
            table[b],
            names=(a, b),
            test=test,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        for a, b in combinations(list(per_seed), 2)
    ]
    adjusted = holm([c.p for c in pairs])
    return [
        PairedComparison(
            **{
                **c.to_dict(),
                "p_holm": float(q),
                "significant": bool(np.isfinite(q) and q < alpha),
            }
        )
        for c, q in zip(pairs, adjusted)
    ]


# --------------------------------------------------------------------------- ranking


@dataclass(frozen=True)
class Ranking:
    """Methods ordered by their mean over seeds with groups of indistinguishable ranks.

    ``groups[m]`` is a compact letter display: two methods that share a letter are not
    significantly different (Holm-corrected paired tests); ``best`` is the first method when it
    is significantly better than every other, else None.
    """

    order: list[str]
    mean: dict[str, float]
    std: dict[str, float]
    n: dict[str, int]
    rank: dict[str, int]
    groups: dict[str, str]
    best: str | None
    lower_is_better: bool
    comparisons: list[PairedComparison] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["comparisons"] = [c.to_dict() for c in self.comparisons]
        return d


def _letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def _groups(order: Sequence[str], differ: set[frozenset[str]]) -> dict[str, str]:
    """Compact letter display over a sorted order: each maximal run of consecutive methods with
    no significant pair inside gets a letter (the bars of a critical-difference diagram)."""
    runs: list[tuple[int, int]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(
            frozenset((order[k], order[j + 1])) not in differ for k in range(i, j + 1)
        ):
            j += 1
        if not runs or j > runs[-1][1]:
            runs.append((i, j))
    out = {m: "" for m in order}
    for n_run, (i, j) in enumerate(runs):
        for m in order[i : j + 1]:
            out[m] += _letters(n_run)
    return out


def rank_methods(
    per_seed: Mapping[str, Mapping[Any, float]],
    *,
    lower_is_better: bool = True,
    alpha: float = ALPHA,
    test: Test = "t",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Ranking:
    """Rank methods by the mean of their per-seed values (e.g. a gap: lower is better), with
    groups of ranks that the Holm-corrected paired tests cannot tell apart.

    ``rank`` = 1 + the number of methods with a strictly better mean (ties share a rank);
    methods without a finite value are left out. ``best`` is named only when the first method
    differs significantly — and in its favour — from every other method.
    """
    vals = {m: _finite_values(list(v.values())) for m, v in per_seed.items()}
    present = [m for m in per_seed if vals[m].size]
    mean = {m: float(np.mean(vals[m])) for m in present}
    std = {m: float(np.std(vals[m], ddof=1)) if vals[m].size > 1 else math.nan for m in present}
    sign = 1.0 if lower_is_better else -1.0
    order = sorted(present, key=lambda m: sign * mean[m])
    rank = {m: 1 + sum(sign * mean[o] < sign * mean[m] for o in present) for m in present}
    comps = compare_methods(
        {m: per_seed[m] for m in order}, alpha=alpha, test=test, n_resamples=n_resamples, seed=seed
    )
    differ = {frozenset((c.a, c.b)) for c in comps if c.significant}
    best = None
    if len(order) >= 2:
        top = order[0]
        wins = [
            c
            for c in comps
            if top in (c.a, c.b)
            and c.significant
            and sign * (c.mean_diff if c.a == top else -c.mean_diff) < 0
        ]
        best = top if len(wins) == len(order) - 1 else None
    return Ranking(
        order=order,
        mean=mean,
        std=std,
        n={m: int(vals[m].size) for m in present},
        rank=rank,
        groups=_groups(order, differ),
        best=best,
        lower_is_better=lower_is_better,
        comparisons=comps,
    )
