"""Attacks and probes on a model's penultimate embeddings (the representation-level claim).

SURE (Sepahvand et al., ICLR 2025) argues that output-level metrics can look unlearned while the
representations still separate forget examples from unseen ones. These functions test that
directly on ``(n, d)`` embedding matrices:

* :func:`embedding_attack` — forget (members, 1) vs test (non-members, 0), out-of-fold scores
  of a ``Pipeline(StandardScaler(), clf)`` with clf a logistic regression, kNN or small MLP.
* :func:`transfer_attack` — an attacker trained on retain-vs-test, applied to forget-vs-test.
* :func:`linear_probe_accuracy`, :func:`cross_fitted_probe_accuracy`,
  :func:`knn_label_accuracy` — how much class information the embeddings still carry.
* :func:`linear_cka` — similarity of two models' embeddings of the same examples.

For non-random forget sets the target of every number is the retrained model's value, not 0.5.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from unlearnkit.evaluation.checks import (
    EvaluationError,
    as_2d,
    as_labels,
    check_choice,
    check_min_count,
    check_same_length,
    check_two_classes,
)
from unlearnkit.evaluation.metrics import roc_summary

__all__ = [
    "ATTACKERS",
    "cross_fitted_probe_accuracy",
    "embedding_attack",
    "knn_label_accuracy",
    "linear_cka",
    "linear_probe_accuracy",
    "make_attacker",
    "transfer_attack",
]

#: Attacker names accepted by :func:`embedding_attack` and :func:`transfer_attack`.
ATTACKERS: tuple[str, ...] = ("logreg", "knn", "mlp")

_ATTACK_FPR = 0.01


_MLP_EARLY_STOP_MIN_ROWS = 100


def make_attacker(attacker: str, *, n_fit: int, seed: int = 0) -> Pipeline:
    """``Pipeline(StandardScaler(), clf)`` for an attacker name.

    * ``"logreg"``: ``LogisticRegression(max_iter=1000)``
    * ``"knn"``: ``KNeighborsClassifier(n_neighbors=min(15, n_fit))``
    * ``"mlp"``: ``MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, early_stopping=True,
      validation_fraction=0.1, n_iter_no_change=10, random_state=seed)``. Early stopping on a
      seeded 10% validation slice of the fold's training rows (a reconstruction: the SURE paper
      does not give its attacker's settings). It stops the attacker from memorising its own
      training rows and makes it about 5x cheaper than running all 300 epochs (measured:
      ``docs/results/evaluate-timing.md``). Below 100 fitting rows the validation slice would
      be too small for a stratified split, so early stopping is off there.

    ``n_fit`` is the number of rows the pipeline will be fitted on (bounds kNN's k).
    """
    check_choice(attacker, ATTACKERS, "attacker")
    clf: ClassifierMixin
    if attacker == "logreg":
        clf = LogisticRegression(max_iter=1000)
    elif attacker == "knn":
        clf = KNeighborsClassifier(n_neighbors=max(1, min(15, int(n_fit))))
    else:
        clf = MLPClassifier(
            hidden_layer_sizes=(64,),
            max_iter=300,
            early_stopping=n_fit >= _MLP_EARLY_STOP_MIN_ROWS,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=seed,
        )
    return make_pipeline(StandardScaler(), clf)


def _subsample_rows(rng: np.random.Generator, x: NDArray[Any], n: int | None) -> NDArray[Any]:
    """Seeded subsample of ``n`` rows without replacement (``x`` unchanged if not larger)."""
    if n is None or x.shape[0] <= n:
        return x
    return x[np.sort(rng.choice(x.shape[0], size=int(n), replace=False))]


def _same_width(*named: tuple[str, NDArray[Any]]) -> None:
    widths = {a.shape[1] for _, a in named}
    if len(widths) > 1:
        desc = ", ".join(f"'{n}' has {a.shape[1]}" for n, a in named)
        raise EvaluationError(f"embeddings must have the same dimension, but {desc}")


@contextmanager
def _quiet_convergence() -> Iterator[None]:
    """Silence sklearn's ConvergenceWarning: the MLP's fixed 300-iteration budget is part of the
    attack's definition, and its AUC is reported whatever it converged to."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def embedding_attack(
    forget_emb: ArrayLike,
    test_emb: ArrayLike,
    *,
    attacker: str = "logreg",
    n_folds: int = 5,
    max_per_class: int | None = 5000,
    seed: int = 0,
) -> dict[str, Any]:
    """Membership attack on embeddings: forget (1) vs test (0), out-of-fold scores.

    A :func:`make_attacker` pipeline is evaluated with ``StratifiedKFold(n_folds, shuffle=True,
    random_state=seed)`` and ``cross_val_predict(method="predict_proba")``, so every example is
    scored by an attacker that never saw it (the scaler is fitted inside each fold). Classes are
    *not* balanced; AUC and balanced accuracy are insensitive to imbalance. Sets larger than
    ``max_per_class`` rows are subsampled (seeded) to bound the cost.

    Returns ``{"auc", "tpr_at_1pct_fpr", "tpr_at_1pct_fpr_reliable", "balanced_accuracy"
    (threshold 0.5 on the out-of-fold member probability, ``p > 0.5`` ⇒ member), "scores"
    (out-of-fold member probabilities), "labels" (1 = forget, 0 = test; same order as
    "scores": forget rows first), "n_forget", "n_test"}``.
    """
    f = as_2d(forget_emb, "forget_emb")
    t = as_2d(test_emb, "test_emb")
    _same_width(("forget_emb", f), ("test_emb", t))
    check_choice(attacker, ATTACKERS, "attacker")
    n_folds = int(n_folds)
    if n_folds < 2:
        raise EvaluationError(f"'n_folds' must be ≥ 2, got {n_folds}")
    rng = np.random.default_rng(seed)
    f = _subsample_rows(rng, f, max_per_class)
    t = _subsample_rows(rng, t, max_per_class)
    why = f"stratified {n_folds}-fold CV needs {n_folds} examples of each class"
    check_min_count(f.shape[0], n_folds, "forget_emb", why)
    check_min_count(t.shape[0], n_folds, "test_emb", why)

    x = np.concatenate([f, t])
    y = np.concatenate([np.ones(f.shape[0], np.int64), np.zeros(t.shape[0], np.int64)])
    n_fit = x.shape[0] - int(np.ceil(x.shape[0] / n_folds))  # smallest training fold
    model = make_attacker(attacker, n_fit=n_fit, seed=seed)
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with _quiet_convergence():
        proba = cross_val_predict(model, x, y, cv=cv, method="predict_proba")
    scores = proba[:, 1]
    return _attack_result(scores, y, f"embedding_attack[{attacker}]") | {
        "n_forget": int(f.shape[0]),
        "n_test": int(t.shape[0]),
    }


def _attack_result(scores: NDArray[np.float64], y: NDArray[np.int64], what: str) -> dict:
    summary = roc_summary(scores[y == 1], scores[y == 0], fprs=(_ATTACK_FPR,), what=what)
    pred = (scores > 0.5).astype(np.int64)
    recall_1 = float(np.mean(pred[y == 1] == 1))
    recall_0 = float(np.mean(pred[y == 0] == 0))
    return {
        "auc": summary["auc"],
        "tpr_at_1pct_fpr": summary["tpr_at_1pct_fpr"],
        "tpr_at_1pct_fpr_reliable": summary["tpr_at_1pct_fpr_reliable"],
        "balanced_accuracy": (recall_0 + recall_1) / 2.0,
        "scores": scores,
        "labels": y,
    }


def transfer_attack(
    retain_emb: ArrayLike,
    test_emb: ArrayLike,
    forget_emb: ArrayLike,
    *,
    attacker: str = "logreg",
    max_per_class: int | None = 5000,
    seed: int = 0,
) -> dict[str, Any]:
    """Transfer attack: learn "member" from retain vs test, then apply it to forget.

    Test is split in two seeded halves A and B. The attacker (:func:`make_attacker`) is fitted
    on retain (1; a seeded subsample of ``|A|`` rows) vs A (0), then scores forget vs B, which
    it never saw. After good unlearning forget looks like B (AUC ≈ retrain's value).

    Returns ``{"auc", "tpr_at_1pct_fpr", "tpr_at_1pct_fpr_reliable", "balanced_accuracy"
    (forget vs B at threshold 0.5), "mean_member_prob_forget", "mean_member_prob_test"
    (on B), "scores", "labels" (forget rows first, 1 = forget, 0 = B), "n_forget", "n_test"
    (= |B|)}``.
    """
    r = as_2d(retain_emb, "retain_emb")
    t = as_2d(test_emb, "test_emb")
    f = as_2d(forget_emb, "forget_emb")
    _same_width(("retain_emb", r), ("test_emb", t), ("forget_emb", f))
    check_choice(attacker, ATTACKERS, "attacker")
    check_min_count(t.shape[0], 4, "test_emb", "split into a fitting half and a scoring half")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(t.shape[0])
    half = t.shape[0] // 2
    t_fit, t_score = t[np.sort(perm[:half])], t[np.sort(perm[half:])]
    if max_per_class is not None:
        t_fit = _subsample_rows(rng, t_fit, max_per_class)
        t_score = _subsample_rows(rng, t_score, max_per_class)
        f = _subsample_rows(rng, f, max_per_class)
    r = _subsample_rows(rng, r, t_fit.shape[0])

    x_fit = np.concatenate([r, t_fit])
    y_fit = np.concatenate([np.ones(r.shape[0], np.int64), np.zeros(t_fit.shape[0], np.int64)])
    model = make_attacker(attacker, n_fit=x_fit.shape[0], seed=seed)
    with _quiet_convergence():
        model.fit(x_fit, y_fit)
    x_score = np.concatenate([f, t_score])
    y_score = np.concatenate([np.ones(f.shape[0], np.int64), np.zeros(t_score.shape[0], np.int64)])
    scores = model.predict_proba(x_score)[:, 1]
    out = _attack_result(scores, y_score, f"transfer_attack[{attacker}]")
    out["mean_member_prob_forget"] = float(scores[: f.shape[0]].mean())
    out["mean_member_prob_test"] = float(scores[f.shape[0] :].mean())
    out["n_forget"] = int(f.shape[0])
    out["n_test"] = int(t_score.shape[0])
    return out


def _emb_labels(emb: ArrayLike, labels: ArrayLike, name: str) -> tuple[NDArray, NDArray]:
    x = as_2d(emb, f"{name}_emb")
    y = as_labels(labels, f"{name}_labels")
    check_same_length((f"{name}_emb", x), (f"{name}_labels", y))
    return x, y


def linear_probe_accuracy(
    train_emb: ArrayLike,
    train_labels: ArrayLike,
    eval_emb: ArrayLike,
    eval_labels: ArrayLike,
    *,
    seed: int = 0,
) -> float:
    """Accuracy on eval of a linear probe fitted on train embeddings with class labels.

    ``Pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))``. With
    train = retain and eval = forget this asks whether a linear read-out of the retained
    representation still classifies the forget set (for a forgotten class that is absent from
    retain, the probe cannot predict it and the accuracy is 0 by construction — use
    :func:`cross_fitted_probe_accuracy` instead).
    """
    xtr, ytr = _emb_labels(train_emb, train_labels, "train")
    xev, yev = _emb_labels(eval_emb, eval_labels, "eval")
    _same_width(("train_emb", xtr), ("eval_emb", xev))
    check_two_classes(ytr, "train_labels")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    with _quiet_convergence():
        probe.fit(xtr, ytr)
    return float(np.mean(probe.predict(xev) == yev))


def cross_fitted_probe_accuracy(
    forget_emb: ArrayLike,
    forget_labels: ArrayLike,
    test_emb: ArrayLike,
    test_labels: ArrayLike,
    *,
    n_folds: int = 5,
    seed: int = 0,
) -> float:
    """Out-of-fold linear-probe accuracy on the forget rows, probe fitted on forget ∪ test.

    For class scenarios: can the forgotten class still be linearly decoded from the
    embeddings? The labelled union of forget and test is split by ``StratifiedKFold(n_folds,
    shuffle=True, random_state=seed)`` stratified on (class, is-forget), a
    ``Pipeline(StandardScaler(), LogisticRegression(max_iter=1000))`` is fitted on each training
    fold, and the accuracy of the out-of-fold predictions is reported on forget rows only.

    Forget rows are part of the training folds, so a forget set whose embeddings collapse into
    a region of their own stays decodable even if that region is far from its class: as for
    every number here, compare with the retrained model's value.
    """
    xf, yf = _emb_labels(forget_emb, forget_labels, "forget")
    xt, yt = _emb_labels(test_emb, test_labels, "test")
    _same_width(("forget_emb", xf), ("test_emb", xt))
    n_folds = int(n_folds)
    if n_folds < 2:
        raise EvaluationError(f"'n_folds' must be ≥ 2, got {n_folds}")
    x = np.concatenate([xf, xt])
    y = np.concatenate([yf, yt])
    check_two_classes(y, "forget_labels ∪ test_labels")
    is_forget = np.concatenate([np.ones(xf.shape[0], np.int64), np.zeros(xt.shape[0], np.int64)])
    strata = y * 2 + is_forget
    _, counts = np.unique(strata, return_counts=True)
    if counts.min() < n_folds:
        strata = y  # too few rows per (class, set) cell: stratify by class only
        check_min_count(
            int(np.unique(y, return_counts=True)[1].min()),
            n_folds,
            "smallest class of forget ∪ test",
            f"stratified {n_folds}-fold CV",
        )
    splits = list(
        StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(x, strata)
    )
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    with _quiet_convergence():
        pred = cross_val_predict(probe, x, y, cv=splits, method="predict")
    return float(np.mean(pred[: xf.shape[0]] == yf))


def knn_label_accuracy(
    train_emb: ArrayLike,
    train_labels: ArrayLike,
    eval_emb: ArrayLike,
    eval_labels: ArrayLike,
    *,
    k: int = 10,
) -> float:
    """Accuracy on eval of a k-nearest-neighbour label vote over train embeddings.

    Euclidean distance after standardising each dimension with train's mean and std
    (``Pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=min(k, n_train)))``,
    uniform votes). Complements the linear probe: it measures local, non-linear label
    structure.
    """
    xtr, ytr = _emb_labels(train_emb, train_labels, "train")
    xev, yev = _emb_labels(eval_emb, eval_labels, "eval")
    _same_width(("train_emb", xtr), ("eval_emb", xev))
    if int(k) < 1:
        raise EvaluationError(f"'k' must be ≥ 1, got {k}")
    model = make_pipeline(
        StandardScaler(), KNeighborsClassifier(n_neighbors=min(int(k), xtr.shape[0]))
    )
    model.fit(xtr, ytr)
    return float(np.mean(model.predict(xev) == yev))


def linear_cka(x: ArrayLike, y: ArrayLike) -> float:
    """Linear centred kernel alignment (Kornblith et al., "Similarity of Neural Network
    Representations Revisited", ICML 2019, Eq. 5):

        CKA(X, Y) = ‖Y_cᵀ X_c‖_F² / (‖X_cᵀ X_c‖_F · ‖Y_cᵀ Y_c‖_F)

    with ``X_c``, ``Y_c`` column-centred ``(n, p)`` and ``(n, q)`` matrices whose rows are the
    *same* examples. In [0, 1]; 1 for identical representations; invariant to orthogonal
    transforms and isotropic scaling. Computed in float64, through the feature or the example
    Gram matrices, whichever is cheaper.
    """
    a = as_2d(x, "x")
    b = as_2d(y, "y")
    check_same_length(("x", a), ("y", b))
    check_min_count(a.shape[0], 2, "x", "centring needs at least two examples")
    a = a - a.mean(axis=0, keepdims=True)
    b = b - b.mean(axis=0, keepdims=True)
    n, p, q = a.shape[0], a.shape[1], b.shape[1]
    if n * p * q + n * (p * p + q * q) <= n * n * (p + q + 1):
        cross = np.linalg.norm(b.T @ a) ** 2
        norm_a = np.linalg.norm(a.T @ a)
        norm_b = np.linalg.norm(b.T @ b)
    else:  # n small: ‖YᵀX‖_F² = ⟨XXᵀ, YYᵀ⟩_F, ‖XᵀX‖_F = ‖XXᵀ‖_F
        ka, kb = a @ a.T, b @ b.T
        cross = float(np.sum(ka * kb))
        norm_a = np.linalg.norm(ka)
        norm_b = np.linalg.norm(kb)
    if norm_a == 0 or norm_b == 0:
        which = "x" if norm_a == 0 else "y"
        raise EvaluationError(
            f"'{which}' is constant across examples (zero variance): CKA is undefined"
        )
    return float(cross / (norm_a * norm_b))
