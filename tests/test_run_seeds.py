"""``unlearnkit run --seeds``: each seed equals a single-seed run; the statistics are the
benchmark's aggregation of those rows (signal check, paired statistics, answer)."""

from __future__ import annotations

import json

import pytest

from unlearnkit.benchmark.aggregate import aggregate_results, rows_from_seeds
from unlearnkit.benchmark.answer import answer_lines
from unlearnkit.cli import main
from unlearnkit.records import clean_json

TINY = ["--model", "cnn", "--model-width", "4", "--model-embed-dim", "16", "--epochs", "1"]
#: the cheap methods and evaluation of these runs
FLAGS = [*TINY, "--methods", "finetune", "--finetune-epochs", "1", "--eval-attackers", "logreg"]


def _run(capsys, tmp_path, name, *seed_flags):
    argv = ["run", "--quiet", "--cache-dir", tmp_path / "cache", "--out", tmp_path / name]
    rc = main([str(a) for a in [*argv, *FLAGS, *seed_flags]])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out, json.loads((tmp_path / name / "results.json").read_text())


def _metrics(results):
    """Per model, every metric but the timing (which differs between runs)."""
    rows = results["evaluation"]["rows"]
    return {m: {k: v for k, v in r.items() if k != "wall_time"} for m, r in rows.items()}


@pytest.mark.slow
def test_run_seeds_equals_single_seed_runs_and_carries_the_statistics(tmp_path, capsys):
    out, multi = _run(capsys, tmp_path, "multi", "--seeds", "0", "1")
    singles = {s: _run(capsys, tmp_path, f"single{s}", "--seed", str(s))[1] for s in (0, 1)}
    assert multi["seeds"] == [0, 1]
    for s, single in singles.items():
        per_seed = multi["per_seed"][str(s)]
        assert per_seed["config"] == single["config"]  # exactly the configs --seed S makes
        assert per_seed["split_sha256"] == single["split_sha256"]
        assert _metrics(per_seed) == _metrics(single)
        on_disk = json.loads((tmp_path / "multi" / f"seed-{s}" / "results.json").read_text())
        assert _metrics(on_disk) == _metrics(single)

    # the statistics are aggregate_results on the single runs' rows
    first = singles[0]["config"]
    rows = rows_from_seeds(
        {s: single["evaluation"]["rows"] for s, single in singles.items()},
        split=first["split"],
        model=first["model"],
        train=first["train"],
    )
    (setting,) = aggregate_results(rows)["settings"]
    assert set(setting["paired"]) >= {"avg_gap", "forget_acc", "test_acc"}
    assert multi["signal"] == clean_json(setting["signal"]) and multi["signal"]
    assert multi["paired"] == clean_json(setting["paired"])
    assert multi["aggregate"]["metrics"]["finetune"]["forget_acc"] == clean_json(
        setting["metrics"]["finetune"]["forget_acc"]
    )
    assert multi["answer"] == answer_lines(setting)

    # printed and in results.md: mean ± std table, the signal check, the answer
    md = (tmp_path / "multi" / "results.md").read_text()
    for text in (out, md):
        assert "d (pooled seed std)" in text and " ± " in text
        assert "Signal check (original vs retrain" in text
        assert "significantly best by Avg. Gap" in text
    assert "Paired comparisons of the Avg. Gap (pp)" in md
    assert json.loads((tmp_path / "multi" / "config.json").read_text())["seeds"] == [0, 1]


@pytest.mark.slow
def test_run_with_one_of_seeds_is_the_single_seed_run(tmp_path, capsys):
    out_one, one = _run(capsys, tmp_path, "one", "--seeds", "3")
    out_single, single = _run(capsys, tmp_path, "single", "--seed", "3")
    assert one["config"] == single["config"] and _metrics(one) == _metrics(single)
    assert "seeds" not in one and not (tmp_path / "one" / "seed-3").exists()
    strip = lambda text: [ln for ln in text.splitlines() if not ln.startswith("results:")]  # noqa: E731
    assert strip(out_one)[:3] == strip(out_single)[:3]
