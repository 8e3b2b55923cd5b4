"""Objectives (hand computations) and the no-op measure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unlearnkit.errors import ConfigError
from unlearnkit.tuning.objective import OBJECTIVES, gap, gaps, output_change
from unlearnkit.tuning.report import _better_noop, _pick, pareto_front


def test_avg_gap_is_salun_s_four_metrics() -> None:
    assert set(OBJECTIVES["avg_gap"]) == {
        "forget_acc",
        "retain_acc",
        "test_acc",
        "mia_efficacy_confidence",
    }
    assert OBJECTIVES["avg_gap_repr"] == (
        "forget_acc",
        "loss_auc",
        "probe_forget_acc",
        "emb_logreg_auc",
    )  # the benchmark's definition, with the one embedding attacker the tuner runs
    ref = {k: 0.5 for k in OBJECTIVES["avg_gap_repr"] + OBJECTIVES["avg_gap"]}
    m = dict(ref, forget_acc=0.8, retain_acc=0.4, mia_efficacy_confidence=0.56)
    # |0.8−0.5| = 30, |0.4−0.5| = 10, |0.5−0.5| = 0, |0.56−0.5| = 6 → mean 11.5
    g = gaps(m, ref, "avg_gap")
    assert g["objective"] == pytest.approx(11.5)
    assert g["forget_gap"] == pytest.approx((30 + 6) / 2)  # forget acc, MIA-efficacy
    assert g["utility_gap"] == pytest.approx((10 + 0) / 2)  # retain, val accuracy
    # the representation-level one: only forget accuracy moved → 30 / 4; its utility gap is
    # still retain and val accuracy
    g = gaps(m, ref, "avg_gap_repr")
    assert g["objective"] == g["forget_gap"] == pytest.approx(30 / 4)
    assert g["utility_gap"] == pytest.approx(5.0)


def test_gap_is_inf_when_a_metric_is_missing_or_not_finite() -> None:
    assert gap({"a": math.nan}, {"a": 0.0}, ("a",)) == math.inf
    assert gap({}, {"a": 0.0}, ("a",)) == math.inf
    with pytest.raises(ConfigError, match="unknown objective 'nope'; choose one of avg_gap"):
        gaps({}, {}, "nope")


def test_output_change_by_hand() -> None:
    before = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]))
    after = np.log(np.array([[0.4, 0.5, 0.1], [0.1, 0.8, 0.1]]))
    c = output_change(before, after)
    # TV of row 0: ½(0.3 + 0.3 + 0) = 0.3; row 1: 0 → mean 0.15; row 0's argmax flips
    assert c["output_tv"] == pytest.approx(0.15)
    assert c["pred_flip"] == pytest.approx(0.5)
    assert output_change(before, before) == {"output_tv": 0.0, "pred_flip": 0.0}


def test_pareto_front_by_hand() -> None:
    pts = [(1.0, 5.0), (2.0, 2.0), (3.0, 3.0), (5.0, 1.0), (2.0, 2.0)]
    # (3, 3) is dominated by (2, 2); the duplicate (2, 2) points do not dominate each other
    assert pareto_front(pts) == [0, 1, 3, 4]


def _row(n, obj, noop=False, state="complete", fg=None, ug=None):
    return {
        "number": n,
        "objective": obj,
        "noop": noop,
        "state": state,
        "forget_gap": obj if fg is None else fg,
        "utility_gap": 0.0 if ug is None else ug,
    }


def test_a_noop_never_wins_silently() -> None:
    rows = [_row(0, 5.0), _row(1, 1.0, noop=True), _row(2, 3.0), _row(3, 3.0)]
    best, _ = _pick(rows, multi=False, allow_noop=False)
    assert best["number"] == 2  # the no-op's 1.0 is lower, but it changed nothing; tie → earlier
    assert _better_noop(rows, best) == 1.0  # reported: doing nothing scored better
    assert _pick(rows, multi=False, allow_noop=True)[0]["number"] == 1
    only_noops = [_row(0, 2.0, noop=True), _row(1, 1.0, noop=True), _row(2, 0.5, state="fail")]
    best, _ = _pick(only_noops, multi=False, allow_noop=False)
    assert best["number"] == 1 and best["noop"]  # flagged by the caller as a no-op winner


def test_multi_objective_winner_is_on_the_front() -> None:
    rows = [_row(0, 4.0, fg=6, ug=2), _row(1, 3.0, fg=1, ug=5), _row(2, 3.5, fg=7, ug=7)]
    best, front = _pick(rows, multi=True, allow_noop=False)
    assert front == [0, 1] and best["number"] == 1
