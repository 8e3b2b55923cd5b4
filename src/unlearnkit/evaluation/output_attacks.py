"""Membership-inference attacks that read a model's outputs (probabilities or losses).

* :func:`mia_efficacy` — Jia et al., "Model Sparsity Can Simplify Machine Unlearning"
  (NeurIPS 2023), the MIA-efficacy metric of the l1-sparse / SalUn code bases.
* :func:`loss_attack` — the NeurIPS 2023 Machine Unlearning challenge starting kit's logistic
  regression on per-example losses.
* :func:`loss_threshold_attack` — the threshold-free version: AUC and TPR at low FPR of the
  score ``−loss`` (Carlini et al. 2022).

Membership convention: members are labelled 1, non-members 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import entr, logsumexp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score
from sklearn.svm import SVC

from unlearnkit.evaluation.checks import (
    EvaluationError,
    as_1d,
    as_2d,
    as_labels,
    as_probs,
    check_choice,
    check_min_count,
    check_same_length,
)
from unlearnkit.evaluation.metrics import DEFAULT_FPRS, roc_summary

__all__ = [
    "MIA_FEATURES",
    "entropy",
    "loss_attack",
    "loss_threshold_attack",
    "mia_efficacy",
    "mia_features",
    "modified_entropy",
    "per_example_loss",
    "softmax",
]

#: Features of :func:`mia_efficacy`, in the order of Jia et al.'s code.
MIA_FEATURES: tuple[str, ...] = ("correctness", "confidence", "entropy", "m_entropy", "prob")

_EPS = 1e-30  # floor inside logs: log(1e-30) ≈ −69 is finite and far below any real value


def softmax(logits: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    """Numerically stable softmax ``exp(z − logsumexp(z))`` in float64."""
    z = as_2d(logits, "logits")
    return np.exp(z - logsumexp(z, axis=axis, keepdims=True))


def per_example_loss(logits: ArrayLike, labels: ArrayLike) -> NDArray[np.float64]:
    """Cross-entropy of each example: ``logsumexp(z) − z_y`` (stable for any logit scale)."""
    z = as_2d(logits, "logits")
    y = as_labels(labels, "labels", n_classes=z.shape[1])
    check_same_length(("logits", z), ("labels", y))
    return logsumexp(z, axis=1) - z[np.arange(z.shape[0]), y]


def entropy(probs: ArrayLike) -> NDArray[np.float64]:
    """Shannon entropy of each row, ``−Σ_i p_i log p_i`` (natural log, ``0·log 0 = 0``)."""
    p = as_probs(probs, "probs")
    return entr(p).sum(axis=1)


def modified_entropy(probs: ArrayLike, labels: ArrayLike) -> NDArray[np.float64]:
    """Modified prediction entropy of Song & Mittal, "Systematic Evaluation of Privacy Risks of
    Machine Learning Models" (USENIX Security 2021), Eq. 4:

        Mentr(p, y) = −(1 − p_y)·log p_y − Σ_{i≠y} p_i·log(1 − p_i)

    computed per row with *that row's* label (a widely copied implementation indexes
    ``probs[:, labels]`` and mixes up rows). Logs are floored at ``1e-30`` so p_y = 0 or
    p_i = 1 give large finite values. Low for confident correct predictions (members), high for
    confident wrong ones.
    """
    p = as_probs(probs, "probs")
    y = as_labels(labels, "labels", n_classes=p.shape[1])
    check_same_length(("probs", p), ("labels", y))
    rows = np.arange(p.shape[0])
    p_y = p[rows, y]
    others = -p * np.log(np.maximum(1.0 - p, _EPS))
    others[rows, y] = 0.0
    return -(1.0 - p_y) * np.log(np.maximum(p_y, _EPS)) + others.sum(axis=1)


def mia_features(probs: ArrayLike, labels: ArrayLike, feature: str) -> NDArray[np.float64]:
    """Attack features of :func:`mia_efficacy` as an ``(n, d)`` matrix.

    ``correctness`` = 1[argmax p = y]; ``confidence`` = p_y; ``entropy``; ``m_entropy``
    (:func:`modified_entropy`); ``prob`` = the whole probability vector (d = k).
    """
    check_choice(feature, MIA_FEATURES, "MIA feature")
    p = as_probs(probs, "probs")
    y = as_labels(labels, "labels", n_classes=p.shape[1])
    check_same_length(("probs", p), ("labels", y))
    if feature == "correctness":
        col = (np.argmax(p, axis=1) == y).astype(np.float64)
    elif feature == "confidence":
        col = p[np.arange(p.shape[0]), y]
    elif feature == "entropy":
        col = entropy(p)
    elif feature == "m_entropy":
        col = modified_entropy(p, y)
    else:  # "prob"
        return p
    return col.reshape(-1, 1)


def mia_efficacy(
    retain_probs: ArrayLike,
    retain_labels: ArrayLike,
    test_probs: ArrayLike,
    test_labels: ArrayLike,
    forget_probs: ArrayLike,
    forget_labels: ArrayLike,
    *,
    seed: int = 0,
    features: Sequence[str] = MIA_FEATURES,
    max_per_class: int | None = None,
) -> dict[str, float]:
    """MIA-efficacy of Jia et al. 2023 ("Model Sparsity Can Simplify Machine Unlearning").

    For each feature (see :func:`mia_features`) an RBF ``SVC(C=3, gamma="auto")`` is fitted on
    retain (members, 1; a seeded random subsample of ``|test|`` examples, or all of retain if it
    is smaller) against test (non-members, 0), then applied to forget. The value is the fraction
    of forget examples predicted **non-member**: higher means better forgetting; a retrained
    model is the reference (not 1.0). Features are used raw (no scaling), as in the reference.

    ``max_per_class`` optionally caps |test| (and so the retain sample) and |forget| by seeded
    subsampling to bound the SVC's O(n²) cost; ``None`` (default) is the reference behaviour.

    Returns ``{feature: fraction of forget predicted non-member}``.
    """
    rp, rl = _probs_labels(retain_probs, retain_labels, "retain")
    tp, tl = _probs_labels(test_probs, test_labels, "test")
    fp, fl = _probs_labels(forget_probs, forget_labels, "forget")
    if not (rp.shape[1] == tp.shape[1] == fp.shape[1]):
        raise EvaluationError(
            "retain_probs, test_probs and forget_probs must have the same number of classes, "
            f"got {rp.shape[1]}, {tp.shape[1]}, {fp.shape[1]}"
        )
    for f in features:
        check_choice(f, MIA_FEATURES, "MIA feature")
    rng = np.random.default_rng(seed)
    if max_per_class is not None:
        tp, tl = _subsample(rng, max_per_class, tp, tl)
        fp, fl = _subsample(rng, max_per_class, fp, fl)
    rp, rl = _subsample(rng, tp.shape[0], rp, rl)

    y_shadow = np.concatenate([np.ones(rp.shape[0]), np.zeros(tp.shape[0])])
    out: dict[str, float] = {}
    for f in features:
        x_shadow = np.concatenate([mia_features(rp, rl, f), mia_features(tp, tl, f)])
        clf = SVC(C=3, gamma="auto", kernel="rbf")
        clf.fit(x_shadow, y_shadow)
        pred = clf.predict(mia_features(fp, fl, f))
        out[f] = float(1.0 - pred.mean())
    return out


def _probs_labels(probs: ArrayLike, labels: ArrayLike, split: str) -> tuple[NDArray, NDArray]:
    p = as_probs(probs, f"{split}_probs")
    y = as_labels(labels, f"{split}_labels", n_classes=p.shape[1])
    check_same_length((f"{split}_probs", p), (f"{split}_labels", y))
    return p, y


def _subsample(rng: np.random.Generator, n: int, *arrays: NDArray[Any]) -> tuple[NDArray, ...]:
    """Seeded subsample without replacement of ``n`` rows (all rows, in order, if fewer)."""
    size = arrays[0].shape[0]
    if size <= n:
        return arrays
    idx = np.sort(rng.choice(size, size=n, replace=False))
    return tuple(a[idx] for a in arrays)


def loss_attack(
    forget_losses: ArrayLike,
    test_losses: ArrayLike,
    *,
    n_splits: int = 10,
    seed: int = 0,
) -> float:
    """Loss-based MIA of the NeurIPS 2023 Machine Unlearning challenge starting kit.

    The larger of forget (members, 1) / test (non-members, 0) is subsampled (seeded) to the
    size of the smaller; a ``LogisticRegression()`` on the single feature "loss" is scored by
    ``cross_val_score`` over ``StratifiedShuffleSplit(n_splits, random_state=seed)`` (default
    ``test_size=0.1``). Returns the mean held-out accuracy: 0.5 = forget indistinguishable from
    test; compare with retrain's value.
    """
    fl = as_1d(forget_losses, "forget_losses")
    tl = as_1d(test_losses, "test_losses")
    n = min(fl.size, tl.size)
    # StratifiedShuffleSplit(test_size=0.1) needs ceil(0.1·2n) ≥ 2 held-out examples.
    check_min_count(
        n,
        6,
        "forget_losses" if fl.size <= tl.size else "test_losses",
        "the smaller set sets the balanced size; 10% held out must cover 2 classes",
    )
    if int(n_splits) < 1:
        raise EvaluationError(f"'n_splits' must be ≥ 1, got {n_splits}")
    rng = np.random.default_rng(seed)
    (fl,) = _subsample(rng, n, fl)
    (tl,) = _subsample(rng, n, tl)
    x = np.concatenate([tl, fl]).reshape(-1, 1)
    y = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)])
    cv = StratifiedShuffleSplit(n_splits=int(n_splits), random_state=seed)
    scores = cross_val_score(LogisticRegression(), x, y, cv=cv, scoring="accuracy")
    return float(np.mean(scores))


def loss_threshold_attack(
    forget_losses: ArrayLike,
    test_losses: ArrayLike,
    *,
    fprs: Sequence[float] = DEFAULT_FPRS,
) -> dict[str, float | bool]:
    """Threshold-free loss attack: ROC of the score ``−loss`` (lower loss ⇒ member).

    Returns ``{"auc", "tpr_at_1pct_fpr", "tpr_at_1pct_fpr_reliable", "tpr_at_0p1pct_fpr",
    "tpr_at_0p1pct_fpr_reliable", "n_members", "n_nonmembers"}`` (keys from
    :func:`unlearnkit.evaluation.metrics.tpr_key` for other ``fprs``). Warns
    (:class:`~unlearnkit.evaluation.metrics.UnreliableMetricWarning`) when |test| < 1/x.
    """
    fl = as_1d(forget_losses, "forget_losses")
    tl = as_1d(test_losses, "test_losses")
    return roc_summary(-fl, -tl, fprs=fprs, what="loss_threshold_attack")
