"""The signal check and paired statistics in the benchmark aggregate and report."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy import stats as sps

from unlearnkit.benchmark import ResultsFile, aggregate_results, build_report
from unlearnkit.benchmark.aggregate import (
    NO_SIGNAL,
    metric_table,
    paired_table,
    ranking_table,
    rows_from_seeds,
    signal_table,
    summary_table,
)
from unlearnkit.benchmark.answer import answer_lines
from unlearnkit.evaluation.stats import holm

from .test_report import make_row, rows_with_retry, write_results


def test_signal_in_the_aggregate_matches_a_hand_computation():
    (s,) = aggregate_results(rows_with_retry())["settings"]
    # forget accuracy: original 1.00, 0.99; retrain 0.80, 0.82 (two seeds each)
    sig = s["signal"]["forget_acc"]
    pooled = math.sqrt((np.var([1.0, 0.99], ddof=1) + np.var([0.80, 0.82], ddof=1)) / 2)
    assert sig["separation"] == pytest.approx((0.995 - 0.81) / pooled)
    assert sig["has_signal"] is True and sig["seed_auc"] == 1.0
    # test accuracy: original 0.91, 0.90 vs retrain 0.90, 0.92 → no signal
    assert s["signal"]["test_acc"]["has_signal"] is False
    assert list(s["signal"]) == ["forget_acc", "test_acc", "emb_logreg_auc"]  # registry order
    assert "wall_time" not in s["signal"]  # runtime is not compared with retrain
    assert "Test acc. % †" in summary_table(s) and "Forget acc. % †" not in summary_table(s)
    table = signal_table(s)
    assert "+16.55" in table and NO_SIGNAL in table
    assert f"d = -0.4: {NO_SIGNAL}" in metric_table(s)


def test_paired_avg_gap_in_the_aggregate_matches_scipy_and_holm():
    (s,) = aggregate_results(rows_with_retry())["settings"]
    r = s["paired"]["avg_gap"]
    assert r["order"] == ["sure", "finetune", "original"]  # retrain is the reference
    per_seed = {m: s["avg_gap"][m]["per_seed"] for m in r["order"]}
    comps = {(c["a"], c["b"]): c for c in r["comparisons"]}
    sure_ft = comps[("sure", "finetune")]
    a, b = [per_seed["sure"][x] for x in (0, 1)], [per_seed["finetune"][x] for x in (0, 1)]
    assert sure_ft["mean_diff"] == pytest.approx(np.mean(np.subtract(a, b)))  # −3.0 pp
    assert sure_ft["p_t"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    raw = [c["p"] for c in r["comparisons"]]
    np.testing.assert_allclose([c["p_holm"] for c in r["comparisons"]], holm(raw))
    assert r["best"] is None and set(r["groups"].values()) == {"a"}  # 2 seeds: nothing sure
    assert {"forget_acc", "test_acc", "emb_logreg_auc"} <= set(s["paired"])
    assert "mia_efficacy_confidence" not in s["paired"]  # not measured in these rows
    # SalUn's Avg. Gap over forget and test accuracy: sure 1, 1; finetune 6, 2 → −3.00
    assert "-3.00" in paired_table(s, "avg_gap")
    # Avg. Gap (repr.) over forget acc. and emb. logreg AUC: sure 1.5, 1.5; finetune 10, 3.5
    assert "-5.25" in paired_table(s, "avg_gap_repr")
    assert "(#1, a)" in ranking_table(s) and f"Test acc. gap (pp) ({NO_SIGNAL})" in ranking_table(s)
    (line, repr_line, signal_line) = answer_lines(s)
    assert line.startswith("**No method is significantly best by Avg. Gap** at 2 seeds")
    assert "1. sure 1.00 ± 0.00 (a)" in line
    assert repr_line.startswith("**No method is significantly best by Avg. Gap (repr.)**")
    assert "1. sure 1.50 ± 0.00 (a)" in repr_line
    assert "carried by Forget acc., Emb. logreg AUC" in signal_line and "Test acc." in signal_line


def five_seed_rows(gap_sure: float = 0.01) -> list[dict]:
    """Five seeds in which SURE is clearly closest to retrain and fine-tune beats the original."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(5):
        retrain = 0.80 + 0.01 * rng.standard_normal()
        forget = {
            "original": 0.99 + 0.002 * rng.standard_normal(),
            "retrain": retrain,
            "finetune": retrain + 0.08 + 0.01 * rng.standard_normal(),
            "sure": retrain + gap_sure + 0.002 * rng.standard_normal(),
        }
        for m, f in forget.items():
            row = make_row(0 if seed == 0 else 1, m) | {"seed": seed, "run_id": f"{m}-{seed}"}
            row["split"] = {**row["split"], "seed": seed}
            row["train"] = {**row["train"], "seed": seed}
            row["metrics"] = {"forget_acc": f, "test_acc": 0.9, "wall_time": 1.0}
            rows.append(row)
    return rows


def test_best_method_named_only_where_significantly_best():
    (s,) = aggregate_results(five_seed_rows())["settings"]
    r = s["paired"]["avg_gap"]
    assert r["best"] == "sure"
    assert [r["groups"][m] for m in r["order"]] == ["a", "b", "c"]
    assert answer_lines(s)[0].startswith("**Best by Avg. Gap: sure**")
    # test accuracy is equal everywhere: no signal, zero differences, p = 1
    assert s["signal"]["test_acc"]["has_signal"] is False
    assert all(c["p"] == 1.0 for c in s["paired"]["test_acc"]["comparisons"])


def test_one_seed_has_no_statistics():
    rows = [make_row(0, m) for m in ("original", "retrain", "finetune", "sure")]
    (s,) = aggregate_results(rows)["settings"]
    assert all(v["has_signal"] is None for v in s["signal"].values())
    assert s["paired"]["avg_gap"]["best"] is None
    assert answer_lines(s)[0].startswith("One seed")
    assert "†" not in summary_table(s)


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_report_opens_with_the_answer_and_has_the_statistics(tmp_path):
    out = tmp_path / "bench"
    write_results(out)
    paths = build_report(out)
    md = paths["markdown"].read_text()
    assert md.index("## Answer") < md.index("## Settings") < md.index("## Statistics")
    assert "No method is significantly best by Avg. Gap" in md
    assert "Paired comparisons of the Avg. Gap (pp):" in md and "| A | B | seeds |" in md
    assert NO_SIGNAL in md
    html = paths["html"].read_text()
    parser = _Balance()
    parser.feed(html)
    assert parser.errors == [] and parser.stack == []
    assert html.count("<table>") == md.count("\n|---")  # every markdown table is in the HTML


def test_report_names_the_best_method(tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    rf = ResultsFile(out / "results.jsonl")
    for row in five_seed_rows():
        rf.append(row)
    md = build_report(out)["markdown"].read_text()
    answer = md[md.index("## Answer") : md.index("## Settings")]
    assert "**Best by Avg. Gap: sure**" in answer


def test_rows_from_seeds_aggregate_like_benchmark_rows():
    rows = rows_with_retry()
    per_seed: dict[int, dict[str, dict[str, float]]] = {}
    for r in rows:
        if r["status"] == "ok":
            per_seed.setdefault(r["seed"], {})[r["method"]] = r["metrics"]
    split = {k: v for k, v in rows[0]["split"].items() if k != "seed"}
    train = {k: v for k, v in rows[0]["train"].items() if k != "seed"}
    again = rows_from_seeds(
        per_seed, split=split, model=rows[0]["model"], train=train, original_train_acc={0: 0.9}
    )
    (a,) = aggregate_results(rows)["settings"]
    (b,) = aggregate_results(again)["settings"]
    assert a["paired"] == b["paired"] and a["signal"] == b["signal"]
    assert a["avg_gap"] == b["avg_gap"] and b["original_train_acc"]["per_seed"] == {0: 0.9}
