"""Output-based attacks against hand computations and synthetic member/non-member outputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax
from sklearn.metrics import roc_auc_score

from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.metrics import UnreliableMetricWarning
from unlearnkit.evaluation.output_attacks import (
    MIA_FEATURES,
    entropy,
    loss_attack,
    loss_threshold_attack,
    mia_efficacy,
    mia_features,
    modified_entropy,
    per_example_loss,
    softmax,
)


def test_softmax_is_stable_and_matches_scipy() -> None:
    logits = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    p = softmax(logits)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(p, scipy_softmax(logits, axis=1), rtol=1e-12)


def test_per_example_loss_hand_values() -> None:
    # row 0: −log softmax([2, 1, 0])_0 = log(1 + e^−1 + e^−2) = 0.40760596444
    # row 1: −log softmax([1000, 0])_1 = 1000 (exactly, up to e^−1000)
    losses = per_example_loss(np.array([[2.0, 1.0, 0.0], [1000.0, 0.0, 0.0]]), [0, 1])
    np.testing.assert_allclose(losses, [0.40760596444, 1000.0], rtol=1e-10)


def test_entropy_extremes() -> None:
    h = entropy(np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(h, [np.log(4), 0.0], atol=1e-12)


def test_modified_entropy_hand_computation() -> None:
    """Mentr(p, y) = −(1−p_y)·log p_y − Σ_{i≠y} p_i·log(1−p_i), each row with its own label.

    Logs (natural): ln 0.5 = −0.693147181, ln 0.7 = −0.356674944, ln 0.8 = −0.223143551,
    ln 0.3 = −1.203972804, ln 0.9 = −0.105360516.
    row 0, p = (0.5, 0.3, 0.2), y = 0:
        0.5·0.693147181 + 0.3·0.356674944 + 0.2·0.223143551
        = 0.346573590 + 0.107002483 + 0.044628710 = 0.498204784
    row 1, p = (0.5, 0.3, 0.2), y = 1:
        0.7·1.203972804 + 0.5·0.693147181 + 0.2·0.223143551
        = 0.842780963 + 0.346573590 + 0.044628710 = 1.233983264
    row 2, p = (0.1, 0.2, 0.7), y = 2:
        0.3·0.356674944 + 0.1·0.105360516 + 0.2·0.223143551
        = 0.107002483 + 0.010536052 + 0.044628710 = 0.162167245
    (Indexing probs[:, labels] for the whole batch, as one widely copied implementation does,
    gives different numbers for these rows.)
    """
    p = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    got = modified_entropy(p, np.array([0, 1, 2]))
    np.testing.assert_allclose(got, [0.498204784, 1.233983264, 0.162167245], atol=1e-8)


def test_modified_entropy_extremes_are_finite() -> None:
    p = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    got = modified_entropy(p, [0, 1])
    assert got[0] == pytest.approx(0.0, abs=1e-12)  # confident and correct
    assert np.isfinite(got[1])
    assert got[1] > 100  # confident and wrong: −log(1e-30) twice ≈ 138


def test_mia_features_shapes() -> None:
    p = np.array([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])
    y = np.array([0, 0, 1])
    np.testing.assert_array_equal(mia_features(p, y, "correctness")[:, 0], [1, 0, 0])
    np.testing.assert_allclose(mia_features(p, y, "confidence")[:, 0], [0.6, 0.3, 0.1])
    assert mia_features(p, y, "prob").shape == (3, 2)
    assert mia_features(p, y, "m_entropy").shape == (3, 1)


def _fake_probs(
    rng: np.random.Generator, n: int, margin: float, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs of a model whose true-class logit is raised by ``margin`` (large = memorised)."""
    y = rng.integers(0, k, n)
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), y] += margin
    return softmax(logits), y


def test_mia_efficacy_separates_forgotten_from_memorised() -> None:
    rng = np.random.default_rng(0)
    retain = _fake_probs(rng, 600, margin=7.0)
    test = _fake_probs(rng, 300, margin=2.0)
    forget_like_test = _fake_probs(rng, 200, margin=2.0)
    forget_like_retain = _fake_probs(rng, 200, margin=7.0)

    forgotten = mia_efficacy(*retain, *test, *forget_like_test, seed=0)
    memorised = mia_efficacy(*retain, *test, *forget_like_retain, seed=0)
    assert tuple(forgotten) == MIA_FEATURES
    for feature in ("confidence", "entropy", "m_entropy", "prob"):
        assert forgotten[feature] > 0.7, feature
        assert memorised[feature] < 0.2, feature
    # correctness: only misclassified forget examples look like non-members
    assert forgotten["correctness"] > memorised["correctness"]
    assert mia_efficacy(*retain, *test, *forget_like_test, seed=0) == forgotten


def test_mia_efficacy_bad_inputs() -> None:
    rng = np.random.default_rng(1)
    retain, test, forget = (_fake_probs(rng, 50, 3.0) for _ in range(3))
    with pytest.raises(EvaluationError, match="'forget_labels' must lie in \\[0, 10\\)"):
        mia_efficacy(*retain, *test, forget[0], np.full(50, 10))
    with pytest.raises(EvaluationError, match="'test_probs' rows must sum to 1"):
        mia_efficacy(*retain, 0.5 * test[0], test[1], *forget)
    with pytest.raises(EvaluationError, match="same number of classes"):
        mia_efficacy(
            *retain, *test, forget[0][:, :5] / forget[0][:, :5].sum(1, keepdims=True), forget[1] % 5
        )
    nan_probs = retain[0].copy()
    nan_probs[3, 2] = np.nan
    with pytest.raises(EvaluationError, match="'retain_probs' contains non-finite"):
        mia_efficacy(nan_probs, retain[1], *test, *forget)
    with pytest.raises(EvaluationError, match="'retain_probs' has 50, 'retain_labels' has 49"):
        mia_efficacy(retain[0], retain[1][:-1], *test, *forget)
    with pytest.raises(EvaluationError, match="unknown MIA feature 'loss'"):
        mia_efficacy(*retain, *test, *forget, features=("loss",))


def test_loss_attack_chance_for_identical_and_one_for_separated() -> None:
    rng = np.random.default_rng(2)
    same = loss_attack(rng.exponential(1.0, 500), rng.exponential(1.0, 500), seed=0)
    assert abs(same - 0.5) < 0.08
    apart = loss_attack(rng.uniform(0.0, 0.1, 500), rng.uniform(2.0, 5.0, 500), seed=0)
    assert apart > 0.98
    # unbalanced sets are balanced by subsampling: still chance level
    unbalanced = loss_attack(rng.exponential(1.0, 2000), rng.exponential(1.0, 300), seed=0)
    assert abs(unbalanced - 0.5) < 0.1


def test_loss_attack_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(4)
    f, t = rng.exponential(0.5, 300), rng.exponential(1.0, 200)
    assert loss_attack(f, t, seed=1) == loss_attack(f, t, seed=1)


def test_loss_attack_bad_inputs() -> None:
    with pytest.raises(EvaluationError, match="'forget_losses' has 3 examples, at least 6"):
        loss_attack([0.1, 0.2, 0.3], np.ones(100))
    with pytest.raises(EvaluationError, match="'test_losses' is empty"):
        loss_attack(np.ones(10), [])
    with pytest.raises(EvaluationError, match="'forget_losses' contains non-finite"):
        loss_attack([0.1, np.nan] * 10, np.ones(100))


def test_loss_threshold_attack_lower_loss_is_member() -> None:
    rng = np.random.default_rng(5)
    forget, test = rng.exponential(0.2, 300), rng.exponential(1.0, 500)
    with pytest.warns(UnreliableMetricWarning, match=r"0\.001"):
        out = loss_threshold_attack(forget, test)
    y = np.r_[np.ones(300), np.zeros(500)]
    assert out["auc"] == pytest.approx(roc_auc_score(y, -np.r_[forget, test]))
    assert out["auc"] > 0.7
    assert out["tpr_at_1pct_fpr_reliable"] is True  # 500 ≥ 100 non-members
    assert out["tpr_at_0p1pct_fpr_reliable"] is False  # 500 < 1000
    assert 0.0 <= out["tpr_at_1pct_fpr"] <= 1.0
