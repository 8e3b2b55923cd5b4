"""`unlearnkit tune`: objective, TOML output, an end-to-end search that resumes and never
reads test."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import unlearnkit.tuning.search as search
from unlearnkit.benchmark import load_plan
from unlearnkit.cli import load_sections, main
from unlearnkit.errors import ConfigError
from unlearnkit.tuning.search import OBJECTIVE_KEYS, TuneConfig, objective, run_tuning, to_toml

TINY = """
[benchmark]
name = "tiny-tune"
seeds = [0]
methods = ["finetune", "ssd"]
cache_dir = "{cache}"

[[grid.split]]
dataset = "digits"
scenario = "partial-class"
forget_size = 0.5
forget_classes = [3]

[model]
name = "cnn"
width = 4
embed_dim = 16

[train]
epochs = 2
lr = 0.1

[eval]
max_per_class = 200

[methods.finetune]
epochs = 1
"""


def test_objective_is_the_mean_gap_in_points() -> None:
    ref = {k: 0.5 for k in OBJECTIVE_KEYS}
    m = dict(ref, forget_acc=0.8, loss_auc=0.44, extra=0.0)
    # |0.8 − 0.5| = 30 pp, |0.44 − 0.5| = 6 pp, four zero gaps: mean 36 / 6
    assert objective(m, ref) == pytest.approx(6.0)
    assert objective(dict(m, forget_acc=math.nan), ref) == math.inf
    with pytest.raises(ConfigError, match="no objective metric"):
        objective({"x": 1.0}, {"x": 1.0})


def test_to_toml_round_trips_nested_tables() -> None:
    data = {
        "benchmark": {"name": "x", "seeds": [0, 1], "flag": True, "cache_dir": None},
        "grid": {
            "split": [
                {"dataset": "digits", "forget_size": 0.5, "model": {"name": "mlp", "width": 8}},
                {"dataset": "digits", "scenario": "random"},
            ]
        },
        "methods": {"sure": {"lr": 0.00286, "epochs": 10}, "ssd": {}},
    }
    back = tomllib.loads(to_toml(data))
    assert back["benchmark"] == {"name": "x", "seeds": [0, 1], "flag": True}  # None left out
    assert back["grid"]["split"] == data["grid"]["split"]
    assert back["methods"] == {"sure": {"lr": 0.00286, "epochs": 10}, "ssd": {}}
    with pytest.raises(ConfigError, match="cannot write the non-finite value"):
        to_toml({"a": {"x": math.inf}})


@pytest.fixture()
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(cache=tmp_path / "cache"))
    return path


def test_tuning_end_to_end_resumes_and_never_reads_test(tiny_file, tmp_path, monkeypatch):
    parts_seen: list[tuple[str, ...]] = []
    real_collect = search.collect_outputs

    def spy(*args, **kwargs):
        parts_seen.append(tuple(kwargs["parts"]))
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(search, "collect_outputs", spy)
    sections = load_sections(str(tiny_file))
    plan = load_plan(sections)
    out = tmp_path / "tune"
    cfg = TuneConfig(trials=3)
    outcome = run_tuning(plan, sections, cfg, out, show_progress=False)

    assert outcome.n_new == 6  # 2 methods × 3 trials × 1 split: the same budget for each
    assert all("test" not in p for p in parts_seen) and len(parts_seen) == 7  # + retrain
    summary = json.loads((out / "tuning.json").read_text())
    for name in ("finetune", "ssd"):
        s = summary["methods"][name]
        assert len(s["objectives"]) == 3 and all(math.isfinite(o) for o in s["objectives"])
        assert s["best_objective"] == min(s["objectives"])
        assert s["objectives"].index(min(s["objectives"])) == s["best_trial"]
    assert summary["methods"]["finetune"]["trials"][0] == {"epochs": 1}

    # the tuned file is a benchmark file whose method tables are the best trials
    tuned = load_sections(str(outcome.tuned_path))
    tuned_plan = load_plan(tuned)
    for name in ("finetune", "ssd"):
        assert dict(tuned_plan.method_configs[name]) == summary["methods"][name]["best"]
    assert tuned_plan.entries == plan.entries and tuned_plan.eval == plan.eval
    md = (out / "tuning.md").read_text()
    assert "| finetune | 0 |" in md and "selection_weighting: log-uniform" in md

    # resume: nothing is run again
    real_create = search.unlearn_copy
    s_objectives = summary["methods"]["ssd"]["objectives"]
    calls = []
    monkeypatch.setattr(search, "unlearn_copy", lambda *a, **k: calls.append(a))
    again = run_tuning(plan, sections, cfg, out, show_progress=False)
    assert again.n_new == 0 and not calls
    assert again.summary["methods"] == outcome.summary["methods"]

    # a larger budget reuses the finished trials and runs only the new ones
    monkeypatch.setattr(search, "unlearn_copy", real_create)
    more = run_tuning(plan, sections, TuneConfig(trials=4), out, show_progress=False)
    assert more.n_new == 2
    assert more.summary["methods"]["ssd"]["objectives"][:3] == s_objectives

    # a changed tuning seed is refused rather than mixed into the same folder
    with pytest.raises(ConfigError, match="tuning seeds or sampler seed changed"):
        run_tuning(plan, sections, TuneConfig(trials=4, seeds=(7,)), out, show_progress=False)


def test_failed_trial_scores_inf_and_search_goes_on(tiny_file, tmp_path, monkeypatch):
    sections = load_sections(str(tiny_file))
    plan = load_plan(sections)
    real = search.unlearn_copy

    def flaky(name, config, *args, **kwargs):
        if name == "finetune" and config.lr != 0.01:  # every sampled finetune trial fails
            raise FloatingPointError("loss is NaN")
        return real(name, config, *args, **kwargs)

    monkeypatch.setattr(search, "unlearn_copy", flaky)
    cfg = TuneConfig(trials=2, methods=("finetune",))
    outcome = run_tuning(plan, sections, cfg, tmp_path / "t", show_progress=False)
    s = outcome.summary["methods"]["finetune"]
    assert s["objectives"][1] == math.inf and s["best_trial"] == 0
    rows = [json.loads(x) for x in (tmp_path / "t" / "trials.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "FloatingPointError: loss is NaN" in rows[1]["error"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trials", "0"], "tune trials must be >= 1, got 0"),
        (["--methods", "retrain"], "'retrain' has nothing to tune"),
        (["--methods", "nope"], "unknown method 'nope'"),
        (["--tune-seeds", "0"], "tuning seed(s) [0] are also benchmark seeds"),
        (["--tune-seeds", "5", "5"], "tune seeds has duplicates: [5, 5]"),
    ],
)
def test_cli_bad_inputs(tiny_file, tmp_path, capsys, argv, message) -> None:
    rc = main(["tune", "--config", str(tiny_file), "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_cli_tune_prints_table(tiny_file, tmp_path, capsys) -> None:
    out = tmp_path / "o"
    rc = main(
        [
            "tune",
            "--config",
            str(tiny_file),
            "--out",
            str(out),
            "--trials",
            "2",
            "--quiet",
            "--methods",
            "ssd",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0 and "ssd" in text and str(out / "tuned.toml") in text
    assert (out / "tuned.toml").is_file()


def test_shipped_fashion_mnist_config_carries_the_recorded_tuning() -> None:
    root = Path(__file__).resolve().parents[2]
    plan = load_plan(load_sections(str(root / "configs" / "fashion-mnist.toml")))
    record = json.loads((root / "docs/results/fashion-mnist/tuning.json").read_text())
    assert record["tune"]["trials"] >= 8
    for name, s in record["methods"].items():
        assert dict(plan.method_configs[name]) == s["best"], name
        assert len(s["objectives"]) == record["tune"]["trials"]  # the same budget for each
        assert s["best_objective"] == min(s["objectives"])
    tuned = set(record["methods"])
    assert tuned == set(plan.config.methods)  # every method of the benchmark was tuned


def test_objective_is_averaged_over_tuning_seeds(tiny_file, tmp_path) -> None:
    sections = load_sections(str(tiny_file))
    plan = load_plan(sections)
    cfg = TuneConfig(trials=2, methods=("ssd",), seeds=(1000, 1001))
    out = tmp_path / "two"
    outcome = run_tuning(plan, sections, cfg, out, show_progress=False)
    assert outcome.n_new == 4  # 2 trials × 2 seeds × 1 split
    rows = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    assert sorted({r["seed"] for r in rows}) == [1000, 1001]
    assert len({r["split_sha256"] for r in rows}) == 2  # each seed draws its own split
    for t in range(2):
        per_seed = [r["objective"] for r in rows if r["trial"] == t]
        got = outcome.summary["methods"]["ssd"]["objectives"][t]
        assert got == pytest.approx(sum(per_seed) / 2)
