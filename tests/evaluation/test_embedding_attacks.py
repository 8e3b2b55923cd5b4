"""Embedding attacks, probes and CKA on synthetic Gaussians with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.embedding_attacks import (
    ATTACKERS,
    cross_fitted_probe_accuracy,
    embedding_attack,
    knn_label_accuracy,
    linear_cka,
    linear_probe_accuracy,
    make_attacker,
    transfer_attack,
)
from unlearnkit.evaluation.metrics import UnreliableMetricWarning, auc


def _clusters(
    rng: np.random.Generator, n: int, centres: np.ndarray, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, len(centres), n) if labels is None else labels
    return centres[y] + rng.normal(0.0, 1.0, (n, centres.shape[1])), y


def test_identical_distributions_give_chance_auc() -> None:
    rng = np.random.default_rng(0)
    forget, test = rng.normal(0, 1, (1000, 16)), rng.normal(0, 1, (1000, 16))
    out = embedding_attack(forget, test, attacker="logreg", seed=0)
    assert abs(out["auc"] - 0.5) < 0.05
    assert abs(out["balanced_accuracy"] - 0.5) < 0.05
    assert out["tpr_at_1pct_fpr_reliable"] is True


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_separable_embeddings_give_auc_one(attacker: str) -> None:
    rng = np.random.default_rng(1)
    shift = np.full(8, 10.0 / np.sqrt(8))  # 10σ apart
    forget, test = rng.normal(0, 1, (200, 8)) + shift, rng.normal(0, 1, (300, 8))
    out = embedding_attack(forget, test, attacker=attacker, seed=0)
    assert out["auc"] > 0.99
    assert out["balanced_accuracy"] > 0.98
    assert out["tpr_at_1pct_fpr"] > 0.95
    assert out["n_forget"] == 200 and out["n_test"] == 300
    np.testing.assert_array_equal(out["labels"], np.r_[np.ones(200), np.zeros(300)])
    assert out["auc"] == pytest.approx(auc(out["scores"][:200], out["scores"][200:]))


def test_embedding_attack_deterministic_and_subsampled() -> None:
    rng = np.random.default_rng(2)
    forget, test = rng.normal(0.3, 1, (120, 4)), rng.normal(0, 1, (150, 4))
    a = embedding_attack(forget, test, attacker="mlp", max_per_class=100, seed=3)
    b = embedding_attack(forget, test, attacker="mlp", max_per_class=100, seed=3)
    assert a["n_forget"] == 100 and a["n_test"] == 100
    np.testing.assert_array_equal(a["scores"], b["scores"])


def test_embedding_attack_warns_when_tpr_unreliable() -> None:
    rng = np.random.default_rng(3)
    with pytest.warns(UnreliableMetricWarning, match="only 40 non-members"):
        out = embedding_attack(rng.normal(0, 1, (40, 3)), rng.normal(0, 1, (40, 3)))
    assert out["tpr_at_1pct_fpr_reliable"] is False


def test_transfer_attack_detects_retain_like_forget() -> None:
    rng = np.random.default_rng(4)
    shift = np.full(6, 1.5)
    retain, test = rng.normal(0, 1, (800, 6)) + shift, rng.normal(0, 1, (600, 6))
    memorised = transfer_attack(retain, test, rng.normal(0, 1, (200, 6)) + shift, seed=0)
    forgotten = transfer_attack(retain, test, rng.normal(0, 1, (200, 6)), seed=0)
    assert memorised["auc"] > 0.95
    assert memorised["mean_member_prob_forget"] > memorised["mean_member_prob_test"] + 0.5
    assert abs(forgotten["auc"] - 0.5) < 0.08
    assert forgotten["n_test"] == 300  # scored on the held-out half of test only
    assert abs(forgotten["mean_member_prob_forget"] - forgotten["mean_member_prob_test"]) < 0.1


def test_linear_probe_on_separable_clusters() -> None:
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 8, (4, 10))
    x_tr, y_tr = _clusters(rng, 400, centres)
    x_ev, y_ev = _clusters(rng, 200, centres)
    assert linear_probe_accuracy(x_tr, y_tr, x_ev, y_ev) > 0.99
    # labels carry no information about the embeddings: chance level (1/4)
    assert linear_probe_accuracy(x_tr, rng.permutation(y_tr), x_ev, y_ev) < 0.5


def test_cross_fitted_probe_sees_whether_forget_class_is_decodable() -> None:
    rng = np.random.default_rng(6)
    centres = rng.normal(0, 8, (3, 10))
    test, y_test = _clusters(rng, 300, centres)
    forget, y_forget = _clusters(rng, 100, centres, labels=np.zeros(100, dtype=int))
    assert cross_fitted_probe_accuracy(forget, y_forget, test, y_test, seed=0) > 0.99
    # class information erased: forget embeddings land in random classes' clusters, so out of
    # fold the probe can only be right where they land in class 0's cluster (about 1/3)
    erased, _ = _clusters(rng, 100, centres)
    assert cross_fitted_probe_accuracy(erased, y_forget, test, y_test, seed=0) < 0.5


def test_knn_label_accuracy_matches_manual_standardised_knn() -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1.0, (3, 5)) * np.array([1, 10, 0.1, 1, 1])
    x_tr, y_tr = _clusters(rng, 300, centres)
    x_ev, y_ev = _clusters(rng, 100, centres)
    mu, sd = x_tr.mean(0), x_tr.std(0)
    ref = KNeighborsClassifier(n_neighbors=10).fit((x_tr - mu) / sd, y_tr)
    expected = np.mean(ref.predict((x_ev - mu) / sd) == y_ev)
    assert knn_label_accuracy(x_tr, y_tr, x_ev, y_ev, k=10) == pytest.approx(expected)
    sep, y_sep = _clusters(rng, 300, centres * 20)
    assert knn_label_accuracy(sep[:200], y_sep[:200], sep[200:], y_sep[200:]) == 1.0


def _cka_reference(x: np.ndarray, y: np.ndarray) -> float:
    """HSIC form with the explicit centring matrix H = I − 11ᵀ/n (Kornblith et al. 2019)."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    return float(np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_)))


@pytest.mark.parametrize(("n", "p", "q"), [(200, 8, 5), (20, 60, 40)])  # both code paths
def test_linear_cka_matches_hsic_reference(n: int, p: int, q: int) -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(0, 1, (n, p)) + 3.0
    y = x[:, :q] @ rng.normal(0, 1, (q, q)) + 0.5 * rng.normal(0, 1, (n, q))
    assert linear_cka(x, y) == pytest.approx(_cka_reference(x, y), rel=1e-10)


def test_linear_cka_invariances() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, (500, 12)) @ rng.normal(0, 1, (12, 12))
    q, _ = np.linalg.qr(rng.normal(0, 1, (12, 12)))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, x @ q) == pytest.approx(1.0, abs=1e-10)
    assert linear_cka(x, 7.5 * x + 2.0) == pytest.approx(1.0, abs=1e-12)
    y = rng.normal(0, 1, (500, 6))
    assert linear_cka(x @ q, 0.1 * y) == pytest.approx(linear_cka(x, y), rel=1e-10)
    noise = rng.normal(0, 1, (2000, 10))
    assert linear_cka(rng.normal(0, 1, (2000, 10)), noise) < 0.05


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: embedding_attack(x, np.empty((0, 4))), "'test_emb' is empty"),
        (lambda x: embedding_attack(x, x[:, :3]), "'forget_emb' has 4, 'test_emb' has 3"),
        (lambda x: embedding_attack(x, x[:3]), "'test_emb' has 3 examples, at least 5"),
        (lambda x: embedding_attack(x, x, attacker="svm"), "unknown attacker 'svm'"),
        (lambda x: embedding_attack(x[:, 0], x), "'forget_emb' must be 2-D"),
        (
            lambda x: embedding_attack(np.where(x > 1.5, np.nan, x), x),
            "'forget_emb' contains non-finite values \\(\\d+ NaN",
        ),
        (
            lambda x: linear_probe_accuracy(x, np.zeros(20), x, np.zeros(20)),
            "'train_labels' holds a single class",
        ),
        (
            lambda x: linear_probe_accuracy(x, np.zeros(19), x, np.zeros(20)),
            "'train_emb' has 20, 'train_labels' has 19",
        ),
        (
            lambda x: cross_fitted_probe_accuracy(x, np.zeros(20), x, np.zeros(20)),
            "holds a single class",
        ),
        (lambda x: linear_cka(x, x[:10]), "'x' has 20, 'y' has 10"),
        (lambda x: linear_cka(x, np.ones((20, 3))), "'y' is constant"),
        (lambda x: transfer_attack(x, x[:3], x), "'test_emb' has 3 examples, at least 4"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match: str) -> None:
    x = np.random.default_rng(10).normal(0, 1, (20, 4))
    with pytest.raises(EvaluationError, match=match):
        call(x)


def test_mlp_attacker_early_stops_only_with_enough_rows() -> None:
    small = make_attacker("mlp", n_fit=99, seed=0)[-1]
    large = make_attacker("mlp", n_fit=100, seed=0)[-1]
    assert small.early_stopping is False
    assert large.early_stopping is True and large.validation_fraction == 0.1
    rng = np.random.default_rng(4)  # a tiny attack still runs without a validation slice
    out = embedding_attack(rng.normal(0, 1, (12, 3)), rng.normal(0, 1, (12, 3)), attacker="mlp")
    assert out["n_forget"] == 12


def test_mlp_attacker_finds_a_signal_the_linear_attacker_cannot() -> None:
    # members on a shell of radius 3, non-members in the centre: no linear separation exists
    rng = np.random.default_rng(5)
    d = rng.normal(0, 1, (600, 2))
    shell = 3.0 * d / np.linalg.norm(d, axis=1, keepdims=True) + rng.normal(0, 0.2, (600, 2))
    centre = rng.normal(0, 0.7, (600, 2))
    lin = embedding_attack(shell, centre, attacker="logreg", seed=0)
    mlp = embedding_attack(shell, centre, attacker="mlp", seed=0)
    assert abs(lin["auc"] - 0.5) < 0.1
    assert mlp["auc"] > 0.95
