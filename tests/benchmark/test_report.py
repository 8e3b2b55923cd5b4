"""Aggregation against a hand computation, and the report built from a stored results file."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from unlearnkit.benchmark import ResultsFile, aggregate_results, build_report, summary_table
from unlearnkit.benchmark.aggregate import metric_table
from unlearnkit.benchmark.report import FIGURES
from unlearnkit.cli import main

SPLIT = {
    "dataset": "digits",
    "scenario": "partial-class",
    "forget_size": 0.5,
    "forget_classes": [3],
    "val_size": None,
    "test_size": None,
    "train_size": None,
}
MODEL = {"name": "cnn", "width": 4, "embed_dim": 16}
TRAIN = {"epochs": 2, "lr": 0.1}

#: (seed, method) -> (forget_acc, test_acc, emb_logreg_auc, wall_time)
VALUES = {
    (0, "original"): (1.00, 0.91, 0.70, 0.0),
    (0, "retrain"): (0.80, 0.90, 0.50, 10.0),
    (0, "finetune"): (0.90, 0.88, 0.60, 2.0),
    (0, "sure"): (0.81, 0.89, 0.52, 4.0),
    (1, "original"): (0.99, 0.90, 0.66, 0.0),
    (1, "retrain"): (0.82, 0.92, 0.52, 12.0),
    (1, "finetune"): (0.86, 0.92, 0.55, 3.0),
    (1, "sure"): (0.83, 0.91, 0.50, 6.0),
}


def make_row(seed: int, method: str, status: str = "ok", train_acc: float = 0.999) -> dict:
    f, t, e, w = VALUES[(seed, method)]
    row = {
        "run_id": f"{method}-{seed}",
        "group": f"g{seed}",
        "dataset": "digits",
        "scenario": "partial-class",
        "split": {**SPLIT, "seed": seed},
        "model": MODEL,
        "train": {**TRAIN, "seed": seed},
        "seed": seed,
        "method": method,
        "method_config": {"seed": seed},
        "status": status,
        "wall_time": w,
        "original_train_acc": train_acc,
        "version": "0.1.0",
        "device": "cpu",
    }
    if status == "ok":
        row["metrics"] = {"forget_acc": f, "test_acc": t, "emb_logreg_auc": e, "wall_time": w}
    else:
        row["error"] = "RuntimeError: boom"
    return row


def rows_with_retry() -> list[dict]:
    rows = [make_row(s, m) for s in (0, 1) for m in ("original", "retrain", "finetune")]
    rows.append(make_row(0, "sure", status="failed"))  # failed, then retried: the last row counts
    rows += [make_row(0, "sure"), make_row(1, "sure")]
    return rows


def test_aggregate_matches_hand_computation():
    agg = aggregate_results(rows_with_retry())
    assert (agg["n_rows"], agg["n_ok"], agg["n_failed"]) == (8, 8, 0)
    (s,) = agg["settings"]
    assert s["methods"] == ["original", "retrain", "finetune", "sure"]
    assert s["seeds"] == [0, 1]
    ft = s["metrics"]["finetune"]
    # forget accuracy 0.90, 0.86: mean 0.88, sample std 0.02·√2
    assert ft["forget_acc"]["mean"] == pytest.approx(0.88)
    assert ft["forget_acc"]["std"] == pytest.approx(0.02 * math.sqrt(2))
    # per-seed gaps to retrain 0.10, 0.04 -> 0.07 ± 0.03·√2
    assert ft["forget_acc"]["gap_mean"] == pytest.approx(0.07)
    assert ft["forget_acc"]["gap_std"] == pytest.approx(0.03 * math.sqrt(2))
    assert ft["test_acc"]["gap_mean"] == pytest.approx((0.02 + 0.0) / 2)
    assert "gap_mean" not in ft["wall_time"]  # runtime is not compared with retrain
    # SalUn's Avg. Gap over its metrics present (forget, test acc.), in pp
    ft_avg = [(10 + 2) / 2, (4 + 0) / 2]
    orig_avg = [(20 + 1) / 2, (17 + 2) / 2]
    sure_avg = [(1 + 1) / 2, (1 + 1) / 2]
    # Avg. Gap (repr.) over its metrics present (forget acc., emb. logreg AUC)
    ft_repr = [(10 + 10) / 2, (4 + 3) / 2]
    assert s["avg_gap_repr"]["finetune"]["per_seed"] == pytest.approx(dict(enumerate(ft_repr)))
    assert s["avg_gap_repr"]["sure"]["mean"] == pytest.approx((1 + 2) / 2)
    assert s["avg_gap_repr"]["sure"]["rank"] == 1
    assert s["avg_gap"]["finetune"]["per_seed"] == pytest.approx(dict(enumerate(ft_avg)))
    assert s["avg_gap"]["finetune"]["mean"] == pytest.approx(np.mean(ft_avg))
    assert s["avg_gap"]["finetune"]["std"] == pytest.approx(np.std(ft_avg, ddof=1))
    assert s["avg_gap"]["original"]["mean"] == pytest.approx(np.mean(orig_avg))
    assert s["avg_gap"]["retrain"]["mean"] == 0.0
    assert s["avg_gap"]["sure"]["mean"] == pytest.approx(np.mean(sure_avg))
    # ranks by mean gap (1 = closest to retrain); retrain itself is not ranked
    assert {m: s["avg_gap"][m]["rank"] for m in ("sure", "finetune", "original")} == {
        "sure": 1,
        "finetune": 2,
        "original": 3,
    }
    assert "rank" not in s["avg_gap"]["retrain"]
    # forget gaps: sure 0.01, finetune 0.07, original 0.185
    assert [s["metrics"][m]["forget_acc"]["rank"] for m in ("sure", "finetune", "original")] == [
        1,
        2,
        3,
    ]
    # test-acc gaps: original (0.01 + 0.02) / 2 = sure (0.01 + 0.01) / 2 ... ties share a rank
    assert s["metrics"]["original"]["test_acc"]["gap_mean"] == pytest.approx(0.015)
    assert s["metrics"]["sure"]["test_acc"]["gap_mean"] == pytest.approx(0.01)
    assert s["metrics"]["finetune"]["test_acc"]["gap_mean"] == pytest.approx(0.01)
    assert s["metrics"]["sure"]["test_acc"]["rank"] == s["metrics"]["finetune"]["test_acc"]["rank"]
    assert s["metrics"]["original"]["test_acc"]["rank"] == 3
    # runtime relative to retrain of the same seed: 2/10, 3/12
    rt = s["runtime_rel"]["finetune"]
    assert rt["mean"] == pytest.approx((0.2 + 0.25) / 2)
    assert rt["std"] == pytest.approx(np.std([0.2, 0.25], ddof=1))
    assert s["runtime_rel"]["retrain"]["mean"] == 1.0
    assert s["original_train_acc"]["min"] == pytest.approx(0.999)
    # tables render every method and the Avg. Gap
    text = summary_table(s)
    # finetune: Avg. Gap 6, 2 -> 4.00 ± 2.83; Avg. Gap (repr.) 10, 3.5 -> 6.75 ± 4.60
    assert "finetune" in text and "4.00 ± 2.83" in text and "6.75 ± 4.60" in text
    assert "Avg. Gap (repr.) (pp)" in text
    md = metric_table(s)
    assert md.startswith("| metric |") and "Avg. Gap (pp)" in md and "88.0 ± 2.8 (Δ7.0 ± 4.2)" in md
    assert "| Avg. Gap (repr.) (pp) |" in md


def test_failed_rows_are_counted():
    rows = [make_row(0, "original"), make_row(0, "retrain"), make_row(0, "sure", "failed")]
    agg = aggregate_results(rows)
    (s,) = agg["settings"]
    assert agg["n_failed"] == 1 and s["failed"][0]["method"] == "sure"
    assert s["methods"] == ["original", "retrain"]


def write_results(out, train_acc=0.95):
    rng = np.random.default_rng(0)
    out.mkdir()
    (out / "scores").mkdir()
    (out / "embeddings").mkdir()
    rf = ResultsFile(out / "results.jsonl")
    for seed in (0, 1):
        for method in ("original", "retrain", "finetune", "sure"):
            row = make_row(seed, method, train_acc=train_acc if seed else 0.999)
            shift = {"original": 1.0, "retrain": 0.1, "finetune": 0.6, "sure": 0.2}[method]
            scores = out / "scores" / f"{row['run_id']}.npz"
            np.savez(
                scores,
                forget_loss=rng.exponential(1.0, 60) / (1 + shift),
                test_loss=rng.exponential(1.0, 80),
            )
            row["files"] = {"scores": f"scores/{row['run_id']}.npz"}
            if method in ("original", "retrain", "sure"):
                emb = out / "embeddings" / f"g{seed}_{method}.npz"
                np.savez(
                    emb,
                    **{
                        f"{p}_emb": rng.normal(size=(30, 8)) + (p == "forget") * shift
                        for p in ("forget", "val", "test")
                    },
                    **{f"{p}_labels": np.full(30, 3) for p in ("forget", "val", "test")},
                )
                row["files"]["embeddings"] = f"embeddings/g{seed}_{method}.npz"
            if method == "sure":
                row["history"] = [
                    {
                        "epoch": e,
                        "disc_heldout_acc": 0.8 - 0.1 * e,
                        "disc_train_acc": 0.85 - 0.1 * e,
                        "forget_acc": 1.0 - 0.05 * e,
                        "retain_acc": 0.99,
                    }
                    for e in (1, 2, 3)
                ]
                # seed 0's adversary learnt; seed 1's was at chance (flagged as a no-op)
                row["info"] = {
                    "disc_warmup_heldout_acc": 0.71 if seed == 0 else 0.52,
                    "sure_noop": seed == 1,
                    "sure_noop_reason": "held-out accuracy 0.520 < 0.5 + 0.05" if seed else "",
                    "forget_repr_shift": 0.3,
                }
            rf.append(row)
    rf.append(make_row(0, "finetune", status="failed") | {"run_id": "other"})
    with open(rf.path, "ab") as fh:
        fh.write(b'{"run_id": "half-writ')  # a crash mid-write: ignored


def test_report_from_stored_results(tmp_path, capsys):
    out = tmp_path / "bench"
    write_results(out, train_acc=0.95)
    assert main(["report", str(out)]) == 0
    assert "report.html" in capsys.readouterr().out
    for key in FIGURES:
        png = out / "figures" / f"{key}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', html)) == 5
    md = (out / "report.md").read_text()
    for key in FIGURES:
        assert f"(figures/{key}.png)" in md
    assert md.count("*Figure ") == 5 and "Good:" in md
    assert "below 99%" in md and "95.00%" in md  # the memorisation regime is flagged
    assert "| method | Avg. Gap (pp) |" in md and "| metric |" in md
    assert "Avg. Gap (repr.) (pp)" in md and "SalUn's" in md
    # SURE's adversary per run: accuracy after warm-up, the no-op flag in the text and table
    assert "**SURE flagged as a no-op in 1 of 2 run(s)**" in md
    assert "seed 0: 0.710; seed 1: 0.520 (no-op: held-out accuracy 0.520 < 0.5 + 0.05)" in md
    assert "| sure (no-op 1/2) |" in md
    assert "Failed runs" in md and "boom" in md
    assert (out / "summary.json").is_file()


def test_report_without_warning_and_missing_side_files(tmp_path):
    out = tmp_path / "bench"
    write_results(out, train_acc=0.995)
    for f in (out / "embeddings").iterdir():
        f.unlink()
    paths = build_report(out)
    md = paths["markdown"].read_text()
    assert "below 99%" not in md
    assert paths["pca"].is_file()  # drawn with "no stored embeddings" panels
