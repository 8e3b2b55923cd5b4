"""LiRA and U-LiRA: per-example likelihood-ratio membership attacks (pure NumPy).

References:
    * Carlini, Chien, Nasr, Song, Terzis, Tramèr. "Membership Inference Attacks From First
      Principles" (LiRA), IEEE S&P 2022. https://arxiv.org/abs/2112.03570
    * Hayes et al. "Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of
      Privacy" (U-LiRA), 2024.
      https://arxiv.org/abs/2403.01218

The statistic is the *logit-scaled confidence* of the true class,

    φ(p, y) = log p_y − log Σ_{j≠y} p_j = z_y − logsumexp_{j≠y}(z)     (z = logits),

which is close to Gaussian across models trained with different seeds/data. For each target
example the attack fits one Gaussian to φ over shadow models that *had* the example ("in") and
one to φ over shadow models that did not ("out"), and scores the target model's φ:

    online:  Λ = log N(φ; μ_in, σ_in²) − log N(φ; μ_out, σ_out²)
    offline: Λ = log Φ((φ − μ_out) / σ_out)            (one-sided test, needs "out" models only)

Larger Λ means "more likely a member". U-LiRA uses the same machinery with the two hypotheses
"trained on x, then unlearned x with method M" (in) and "never trained on x" (out).

Everything here is model-free: the caller collects the statistics (see
``docs/per-example-attacks.md`` for how many model trainings that takes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

from unlearnkit.errors import UnlearnkitError

__all__ = [
    "attack_summary",
    "lira_from_pool",
    "lira_scores",
    "logit_scaled_confidence",
    "logit_scaled_confidence_from_probs",
    "ulira_from_pool",
    "ulira_scores",
]

#: Default lower bound on every fitted standard deviation (avoids division by zero when a
#: model pool returns identical statistics for an example).
DEFAULT_MIN_STD = 1e-6


# --------------------------------------------------------------------------------------------
# The statistic
# --------------------------------------------------------------------------------------------


def _check_labels(labels: Any, n: int, k: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise UnlearnkitError(
            f"labels must be a 1-D array with one label per row ({n}), got shape {labels.shape}"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise UnlearnkitError("labels must be integer class indices")
        labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise UnlearnkitError(
            f"labels must lie in [0, {k}) for {k} classes; got range "
            f"[{labels.min()}, {labels.max()}]"
        )
    return labels.astype(np.int64, copy=False)


def logit_scaled_confidence(logits: Any, labels: Any) -> np.ndarray:
    """Logit-scaled confidence ``log p_y − log Σ_{j≠y} p_j`` computed stably from logits.

    With ``p = softmax(z)`` both log-probabilities share the normaliser ``logsumexp(z)``, which
    cancels:

        log p_y − log Σ_{j≠y} p_j = (z_y − lse(z)) − (lse(z_{j≠y}) − lse(z))
                                  = z_y − lse_{j≠y}(z).

    This never forms ``p`` and so stays exact for huge logits (e.g. ``z = [1000, 0]`` gives
    exactly ``1000``), where ``log(p + 1e-45)``-style code saturates at about ±103.

    Args:
        logits: ``(n, k)`` real logits, ``k ≥ 2``.
        labels: ``(n,)`` integer true labels in ``[0, k)``.

    Returns:
        ``(n,)`` float64 statistic (LiRA's ``φ``; Carlini et al. 2022, Eq. 4).
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise UnlearnkitError(f"logits must be a 2-D array (n, k), got shape {z.shape}")
    n, k = z.shape
    if k < 2:
        raise UnlearnkitError(f"logit-scaled confidence needs at least 2 classes, got {k}")
    if not np.all(np.isfinite(z)):
        raise UnlearnkitError("logits contain NaN or infinite values")
    y = _check_labels(labels, n, k)
    rows = np.arange(n)
    z_y = z[rows, y]
    others = z.copy()
    others[rows, y] = -np.inf
    return z_y - logsumexp(others, axis=1)


def logit_scaled_confidence_from_probs(probs: Any, labels: Any, eps: float = 1e-45) -> np.ndarray:
    """Logit-scaled confidence from probabilities: ``log(p_y + eps) − log(Σ_{j≠y} p_j + eps)``.

    Follows the LiRA reference code (Carlini et al. 2022), which adds ``eps = 1e-45`` inside
    both logs. The sum over wrong classes is formed directly (never as ``1 − p_y``) to avoid
    cancellation. Computation is in float64. Prefer :func:`logit_scaled_confidence` when logits
    are available: probabilities that underflow to 0 or round to 1 lose the information.

    Args:
        probs: ``(n, k)`` probabilities; each row must be in ``[0, 1]`` and sum to 1 (± 1e-3).
        labels: ``(n,)`` integer true labels.
        eps: small positive constant inside the logs.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise UnlearnkitError(f"probs must be a 2-D array (n, k), got shape {p.shape}")
    n, k = p.shape
    if k < 2:
        raise UnlearnkitError(f"logit-scaled confidence needs at least 2 classes, got {k}")
    if not np.all(np.isfinite(p)):
        raise UnlearnkitError("probs contain NaN or infinite values")
    if np.any(p < 0) or np.any(p > 1):
        raise UnlearnkitError("probs must lie in [0, 1]; pass logits to logit_scaled_confidence")
    if n and np.max(np.abs(p.sum(axis=1) - 1.0)) > 1e-3:
        raise UnlearnkitError(
            "each row of probs must sum to 1 (softmax outputs); pass raw logits to "
            "logit_scaled_confidence instead"
        )
    if not eps > 0:
        raise UnlearnkitError(f"eps must be positive, got {eps}")
    y = _check_labels(labels, n, k)
    rows = np.arange(n)
    p_y = p[rows, y]
    wrong = p.copy()
    wrong[rows, y] = 0.0
    return np.log(p_y + eps) - np.log(wrong.sum(axis=1) + eps)


# --------------------------------------------------------------------------------------------
# Gaussian fits
# --------------------------------------------------------------------------------------------


def _as_1d(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise UnlearnkitError(f"{name} must be a 1-D array (one value per example), got {a.shape}")
    if a.size == 0:
        raise UnlearnkitError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(a))[:5].tolist()
        raise UnlearnkitError(f"{name} contains NaN or infinite values (e.g. at {bad})")
    return a


def _as_samples(x: Any, n: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Shadow-model statistics as ``(values (n, K), valid mask (n, K))``.

    Accepts a 2-D array ``(n, K)`` (every entry used) or a sequence of ``n`` 1-D arrays of
    possibly different lengths (ragged).
    """
    if isinstance(x, np.ndarray) or not isinstance(x, Sequence):
        a = np.asarray(x, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != n:
            raise UnlearnkitError(
                f"{name} must have shape (n, K) with n = {n} examples (or be a list of n 1-D "
                f"arrays), got shape {a.shape}"
            )
        valid = np.ones(a.shape, dtype=bool)
    else:
        if len(x) != n:
            raise UnlearnkitError(f"{name} must hold one array per example ({n}), got {len(x)}")
        rows = [np.asarray(r, dtype=np.float64).reshape(-1) for r in x]
        width = max((r.size for r in rows), default=0)
        a = np.zeros((n, width))
        valid = np.zeros((n, width), dtype=bool)
        for i, r in enumerate(rows):
            a[i, : r.size] = r
            valid[i, : r.size] = True
    if not np.all(np.isfinite(a[valid])):
        raise UnlearnkitError(f"{name} contains NaN or infinite values")
    return a, valid


def _check_mask(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise UnlearnkitError(
            f"{name} must have the same shape as pool_stats {shape}, got {m.shape}"
        )
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.integer) and np.all((m == 0) | (m == 1))):
            raise UnlearnkitError(f"{name} must be boolean (True where the condition holds)")
        m = m.astype(bool)
    return m


def _gaussian_fit(
    values: np.ndarray, valid: np.ndarray, side: str, *, global_variance: bool, min_std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean and standard deviation over the valid entries of each row.

    Per-example σ uses ``ddof = 1``; rows with fewer than 2 samples (or all rows when
    ``global_variance``) use the pooled within-example σ:
    ``σ² = Σ_i Σ_k (x_ik − μ_i)² / Σ_i (K_i − 1)``.
    """
    counts = valid.sum(axis=1)
    if np.any(counts == 0):
        bad = np.flatnonzero(counts == 0)
        raise UnlearnkitError(
            f"{bad.size} example(s) have no '{side}' shadow model (e.g. index {bad[:5].tolist()}); "
            f"every example needs at least one '{side}' model: train more shadow models"
            + (
                " or use offline=True (online=False), which needs only 'out' models"
                if side == "in"
                else ""
            )
        )
    w = valid.astype(np.float64)
    mu = (values * w).sum(axis=1) / counts
    ss = (((values - mu[:, None]) * w) ** 2).sum(axis=1)
    dof = counts - 1
    small = counts < 2
    if global_variance or np.any(small):
        total_dof = dof.sum()
        if total_dof <= 0:
            raise UnlearnkitError(
                f"cannot estimate a variance for the '{side}' side: no example has 2 or more "
                f"'{side}' shadow models; train more shadow models"
            )
        pooled = np.sqrt(ss.sum() / total_dof)
    if global_variance:
        sd = np.full(mu.shape, pooled)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(ss / np.where(small, 1, dof))
        if np.any(small):
            sd = np.where(small, pooled, sd)
    return mu, np.maximum(sd, min_std)


def _lira_core(
    target: np.ndarray,
    in_vals: np.ndarray | None,
    in_valid: np.ndarray | None,
    out_vals: np.ndarray,
    out_valid: np.ndarray,
    *,
    online: bool,
    global_variance: bool,
    min_std: float,
) -> np.ndarray:
    if not min_std > 0:
        raise UnlearnkitError(f"min_std must be positive, got {min_std}")
    mu_out, sd_out = _gaussian_fit(
        out_vals, out_valid, "out", global_variance=global_variance, min_std=min_std
    )
    if not online:
        return norm.logcdf(target, loc=mu_out, scale=sd_out)
    assert in_vals is not None and in_valid is not None
    mu_in, sd_in = _gaussian_fit(
        in_vals, in_valid, "in", global_variance=global_variance, min_std=min_std
    )
    return norm.logpdf(target, loc=mu_in, scale=sd_in) - norm.logpdf(
        target, loc=mu_out, scale=sd_out
    )


def lira_scores(
    target_stats: Any,
    in_stats: Any,
    out_stats: Any,
    *,
    online: bool = True,
    global_variance: bool = False,
    min_std: float = DEFAULT_MIN_STD,
) -> np.ndarray:
    """LiRA membership scores (Carlini et al. 2022, Algorithm 1). Larger ⇒ more likely member.

    For example ``i`` with target statistic ``x_i`` (e.g. :func:`logit_scaled_confidence` of the
    attacked model), fit ``N(μ_in,i, σ_in,i²)`` to the shadow "in" statistics and
    ``N(μ_out,i, σ_out,i²)`` to the "out" ones, then

        online:  Λ_i = log N(x_i; μ_in,i, σ_in,i²) − log N(x_i; μ_out,i, σ_out,i²)
        offline: Λ_i = log Φ((x_i − μ_out,i) / σ_out,i)

    μ is the sample mean (the reference code uses the median; for Gaussian data both estimate
    the same thing). σ is the per-example sample standard deviation (``ddof = 1``); with
    ``global_variance=True`` one pooled within-example σ per side is shared by all examples
    (the paper's "global variance" variant, better with few shadow models). Examples with
    fewer than 2 samples on a side fall back to that side's pooled σ. Every σ is floored at
    ``min_std``.

    Args:
        target_stats: ``(n,)`` statistic of the attacked model on each example.
        in_stats: ``(n, K_in)`` array or list of ``n`` 1-D arrays (ragged) of statistics from
            shadow models trained *with* the example. Ignored (may be ``None``) when offline.
        out_stats: same for shadow models trained *without* the example.
        online: online (two-sided likelihood ratio) or offline (one-sided, out models only).
        global_variance: share one σ per side across examples.
        min_std: lower bound on every σ.

    Returns:
        ``(n,)`` float64 scores.
    """
    target = _as_1d(target_stats, "target_stats")
    n = target.size
    out_vals, out_valid = _as_samples(out_stats, n, "out_stats")
    in_vals = in_valid = None
    if online:
        if in_stats is None:
            raise UnlearnkitError("online LiRA needs in_stats; pass online=False for offline")
        in_vals, in_valid = _as_samples(in_stats, n, "in_stats")
    return _lira_core(
        target,
        in_vals,
        in_valid,
        out_vals,
        out_valid,
        online=online,
        global_variance=global_variance,
        min_std=min_std,
    )


def lira_from_pool(
    target_stats: Any,
    pool_stats: Any,
    pool_in_mask: Any,
    *,
    online: bool = True,
    global_variance: bool = False,
    min_std: float = DEFAULT_MIN_STD,
) -> np.ndarray:
    """LiRA scores from a shadow-model pool stored as ``stats (n, K)`` + ``in_mask (n, K)``.

    ``pool_stats[i, k]`` is the statistic of shadow model ``k`` on example ``i`` and
    ``pool_in_mask[i, k]`` is True iff model ``k`` was trained on example ``i`` (each model is
    typically trained on a random half of the data, so every example is "in" for about K/2
    models). See :func:`lira_scores` for the maths and the other arguments.
    """
    target = _as_1d(target_stats, "target_stats")
    stats = np.asarray(pool_stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != target.size:
        raise UnlearnkitError(
            f"pool_stats must have shape (n, K) with n = {target.size} (the length of "
            f"target_stats), got {stats.shape}"
        )
    if not np.all(np.isfinite(stats)):
        raise UnlearnkitError("pool_stats contains NaN or infinite values")
    mask = _check_mask(pool_in_mask, stats.shape, "pool_in_mask")
    return _lira_core(
        target,
        stats,
        mask,
        stats,
        ~mask,
        online=online,
        global_variance=global_variance,
        min_std=min_std,
    )


def ulira_scores(
    target_stats: Any,
    unlearned_stats: Any,
    retrained_stats: Any,
    *,
    online: bool = True,
    global_variance: bool = False,
    min_std: float = DEFAULT_MIN_STD,
) -> np.ndarray:
    """U-LiRA scores (Hayes et al. 2024). Larger ⇒ more likely "trained on x, then unlearned".

    The two hypotheses for a target model and example ``x``:

    * H_in: the model was trained on ``x`` and then ``x`` was unlearned with method M;
    * H_out: the model never saw ``x`` (retrained without it).

    ``unlearned_stats`` are statistics of shadow models under H_in (trained with ``x``, then
    unlearned with M with ``x`` in the forget set) and ``retrained_stats`` under H_out; the
    score is the LiRA likelihood ratio of :func:`lira_scores` with these as "in" and "out".
    A perfect unlearning method gives AUC 0.5 on the resulting attack.

    Args:
        target_stats: ``(n,)`` statistic of the attacked model on each example.
        unlearned_stats: ``(n, K_u)`` array or list of ``n`` 1-D arrays (H_in samples).
        retrained_stats: ``(n, K_r)`` array or list of ``n`` 1-D arrays (H_out samples).
        online, global_variance, min_std: as in :func:`lira_scores` (offline uses only the
            retrained side).
    """
    return lira_scores(
        target_stats,
        unlearned_stats,
        retrained_stats,
        online=online,
        global_variance=global_variance,
        min_std=min_std,
    )


def ulira_from_pool(
    target_stats: Any,
    pool_stats: Any,
    unlearned_mask: Any,
    never_mask: Any,
    *,
    online: bool = True,
    global_variance: bool = False,
    min_std: float = DEFAULT_MIN_STD,
) -> np.ndarray:
    """U-LiRA from a pool stored as ``stats (n, K)`` with two masks.

    ``unlearned_mask[i, k]``: model ``k`` was trained on example ``i`` and then unlearned it
    (H_in). ``never_mask[i, k]``: model ``k`` never trained on example ``i`` (H_out). Entries
    with neither flag (trained on ``i`` and kept it) are ignored; both flags at once is an
    error.
    """
    target = _as_1d(target_stats, "target_stats")
    stats = np.asarray(pool_stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[0] != target.size:
        raise UnlearnkitError(
            f"pool_stats must have shape (n, K) with n = {target.size} (the length of "
            f"target_stats), got {stats.shape}"
        )
    u = _check_mask(unlearned_mask, stats.shape, "unlearned_mask")
    r = _check_mask(never_mask, stats.shape, "never_mask")
    if np.any(u & r):
        raise UnlearnkitError(
            "unlearned_mask and never_mask overlap: a model cannot both have unlearned an "
            "example and never have trained on it"
        )
    if not np.all(np.isfinite(stats[u | r])):
        raise UnlearnkitError("pool_stats contains NaN or infinite values")
    return _lira_core(
        target,
        stats,
        u,
        stats,
        r,
        online=online,
        global_variance=global_variance,
        min_std=min_std,
    )


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def _tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, x: float) -> float:
    """``tpr[np.where(fpr <= x)[0][-1]]`` (sklearn's ROC starts at (0, 0), so it exists)."""
    return float(tpr[np.where(fpr <= x)[0][-1]])


def attack_summary(member_scores: Any, nonmember_scores: Any) -> dict[str, Any]:
    """Threshold-free and best-threshold summary of a membership attack.

    Members are the positive class (label 1); larger score ⇒ "member".

    Returns a dict with:

    * ``auc``: ``sklearn.metrics.roc_auc_score``.
    * ``balanced_accuracy``: ``max_t (TPR(t) + TNR(t)) / 2`` over all thresholds of sklearn's
      ``roc_curve`` (predict member iff ``score >= t``), i.e. the best single-threshold attack.
      It is chosen on the evaluated scores themselves, hence optimistic (≥ 0.5 always);
      ``balanced_accuracy_threshold`` is that ``t`` (``inf`` when no threshold beats 0.5).
    * ``tpr_at_1pct_fpr``, ``tpr_at_0_1pct_fpr``: ``tpr[np.where(fpr <= x)[0][-1]]`` on
      sklearn's ``roc_curve`` for ``x = 0.01, 0.001``.
    * ``n_members``, ``n_nonmembers``.
    * ``reliable_1pct``, ``reliable_0_1pct``: ``n_nonmembers ≥ 1/x``; below that, an FPR of
      ``x`` is not resolvable and the TPR at that FPR is meaningless (pool across seeds).
    """
    mem = np.asarray(member_scores, dtype=np.float64).reshape(-1)
    non = np.asarray(nonmember_scores, dtype=np.float64).reshape(-1)
    if mem.size == 0 or non.size == 0:
        raise UnlearnkitError(
            f"attack_summary needs at least one member and one non-member score, got "
            f"{mem.size} and {non.size}"
        )
    if not (np.all(np.isfinite(mem)) and np.all(np.isfinite(non))):
        raise UnlearnkitError("attack scores contain NaN or infinite values")
    y = np.concatenate([np.ones(mem.size), np.zeros(non.size)])
    s = np.concatenate([mem, non])
    fpr, tpr, thr = roc_curve(y, s)
    bal = (tpr + 1.0 - fpr) / 2.0
    best = int(np.argmax(bal))
    return {
        "auc": float(roc_auc_score(y, s)),
        "balanced_accuracy": float(bal[best]),
        "balanced_accuracy_threshold": float(thr[best]),
        "tpr_at_1pct_fpr": _tpr_at_fpr(fpr, tpr, 0.01),
        "tpr_at_0_1pct_fpr": _tpr_at_fpr(fpr, tpr, 0.001),
        "n_members": int(mem.size),
        "n_nonmembers": int(non.size),
        "reliable_1pct": bool(non.size >= 100),
        "reliable_0_1pct": bool(non.size >= 1000),
    }
