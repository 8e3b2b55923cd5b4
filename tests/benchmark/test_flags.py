"""No-op and divergence flags in the report's answer."""

from __future__ import annotations

from tests.benchmark.test_report import make_row
from unlearnkit.benchmark import ResultsFile, build_report
from unlearnkit.benchmark.flags import flag_line, run_flags


def test_run_flags_from_rows():
    assert run_flags({"status": "ok", "info": {"disc_noop_warning": True}}) == ["no-op"]
    assert run_flags({"status": "ok", "info": {"disc_noop_warning": False}}) == []
    failed = {"status": "failed", "error": "DivergenceError: gradient_ascent loss became nan"}
    assert run_flags(failed) == ["diverged"]
    assert run_flags({"status": "failed", "error": "RuntimeError: boom"}) == []
    assert run_flags({"status": "ok", "flags": ["no-op"], "info": {"disc_noop_warning": True}}) == [
        "no-op"
    ]


def test_flag_line_counts_seeds():
    rows = [
        {"method": "sure", "seed": 0, "status": "ok", "info": {"disc_noop_warning": True}},
        {"method": "sure", "seed": 1, "status": "ok", "info": {"disc_noop_warning": False}},
        {"method": "ga", "seed": 0, "status": "failed", "error": "DivergenceError: nan"},
    ]
    line = flag_line(rows)
    assert "ga diverged (NaN/inf loss; the run failed) in 1 of 1 seed(s)" in line
    assert "sure a no-op (its discriminator never beat chance" in line and "in 1 of 2 seed" in line
    assert flag_line(rows[1:2]) == "**Flags:** none (no run was a no-op or diverged)."


def test_report_answer_shows_the_flags(tmp_path):
    out = tmp_path / "bench"
    out.mkdir()
    rf = ResultsFile(out / "results.jsonl")
    for seed in (0, 1):
        for method in ("original", "retrain", "finetune", "sure"):
            row = make_row(seed, method)
            if method == "sure" and seed == 1:
                row["info"] = {"disc_noop_warning": True}
            rf.append(row)
    md = build_report(out)["markdown"].read_text()
    answer = md.split("## Answer")[1].split("## Settings")[0]
    assert "**Flags:** sure a no-op" in answer and "in 1 of 2 seed(s)" in answer
