"""The compact run table and the per-method verdicts, on hand-made rows."""

from __future__ import annotations

import pytest

from unlearnkit.evaluation import EvaluationResult
from unlearnkit.evaluation.summary import compact_table, verdicts


def row(retain, forget, test, mia=0.5, loss=0.5, emb=0.5, wall=1.0):
    return {
        "retain_acc": retain,
        "forget_acc": forget,
        "test_acc": test,
        "mia_efficacy_confidence": mia,
        "loss_auc": loss,
        "emb_logreg_auc": emb,
        "wall_time": wall,
    }


@pytest.fixture
def result():
    return EvaluationResult(
        rows={
            "original": row(0.99, 0.95, 0.85, mia=0.1, loss=0.70),
            "retrain": row(0.98, 0.45, 0.85, mia=0.7, loss=0.50, wall=30.0),
            "close": row(0.97, 0.50, 0.84, mia=0.6, loss=0.52),
            "lazy": row(0.99, 0.948, 0.85, mia=0.1, loss=0.70),
            "wrecker": row(0.90, 0.00, 0.70, mia=1.0, loss=0.55),
            "partial": row(0.98, 0.75, 0.85, mia=0.4, loss=0.60),
            "a_method_name_16": row(0.98, 0.75, 0.85, mia=0.4, loss=0.60),
        }
    )


def test_the_gap_column_is_salun_avg_gap_of_four_metrics(result):
    # |0.97-0.98|, |0.50-0.45|, |0.84-0.85|, |0.6-0.7| in points: 1, 5, 1, 10
    assert result.avg_gap("close") == pytest.approx((1 + 5 + 1 + 10) / 4)
    assert result.avg_gap("retrain") == 0.0


def test_compact_table_has_methods_as_rows_and_fits_100_columns(result):
    text = compact_table(result)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[0].split()[:4] == ["method", "retain", "forget", "test"]
    assert lines[0].split()[-4:] == ["Gap", "Gap(repr)", "time", "s"]
    names = [line.split()[0] for line in lines[2:9]]
    assert names == ["original", "retrain", "close", "lazy", "wrecker", "partial",
                     "a_method_name_16"]  # fmt: skip
    close = lines[4].split()
    assert close[1:4] == ["97.0", "50.0", "84.0"]
    assert close[7] == f"{(1 + 5 + 1 + 10) / 4:.2f}"


def joined(lines: list[str]) -> dict[str, str]:
    """Verdicts by method, wrapped continuation lines re-joined."""
    out: dict[str, str] = {}
    last = ""
    for line in lines:
        if line.startswith(" "):
            out[last] += " " + line.strip()
        else:
            last = line.split()[0]
            out[last] = line
    return out


def test_verdict_lines_fit_100_columns(result):
    assert max(len(line) for line in verdicts(result, {"wrecker": ["diverged"]})) <= 100


def test_verdicts(result):
    lines = joined(verdicts(result, {"partial": ["diverged"]}))
    assert "closest to retrain" in lines["close"] and "forget 50.0 ≈ retrain 45.0" in lines["close"]
    assert "no-op: forget 94.8 vs original 95.0" in lines["lazy"]
    assert "over-forgot: forget 0.0 < retrain 45.0" in lines["wrecker"]
    assert "collateral damage: test 70.0 vs 85.0, retain 90.0 vs 98.0" in lines["wrecker"]
    # 0.95 → 0.75 of a 50-point gap: 40 % closed
    assert "under-forgot: forget 75.0 > retrain 45.0 (closed 40% of the gap)" in lines["partial"]
    assert lines["partial"].endswith("[flags: diverged]")
    assert "closest" not in lines["wrecker"] + lines["lazy"]


def test_a_flagged_no_op_is_never_closest(result):
    lines = joined(verdicts(result, {"close": ["no-op"]}))
    assert "no-op" in lines["close"] and "closest" not in lines["close"]
    assert sum("closest to retrain" in line for line in lines.values()) == 1


def test_nothing_to_unlearn_is_said_first(result):
    result.rows["retrain"]["forget_acc"] = 0.945
    lines = verdicts(result)
    assert lines[0].startswith("(original and retrain differ by 0.5 points of forget accuracy")
