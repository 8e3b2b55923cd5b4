"""`unlearnkit tune` end to end: Optuna studies that resume, never read test, give the same
trials for the same sampler seed, take space overrides, record no-ops, refuse bad input."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import optuna
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import unlearnkit.tuning.search as search
import unlearnkit.tuning.trial as trial_mod
from unlearnkit.benchmark import load_plan
from unlearnkit.cli import load_sections, main
from unlearnkit.errors import ConfigError
from unlearnkit.tuning import TuneConfig, run_tuning
from unlearnkit.tuning.report import to_toml, tuned_sections

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _tune(path: Path, out: Path, **kw):
    sections = load_sections(str(path))
    return run_tuning(load_plan(sections), sections, TuneConfig(**kw), out, show_progress=False)


def _params(out: Path, name: str) -> list[dict]:
    storage = f"sqlite:///{out / 'study.db'}"
    study = optuna.load_study(study_name=name, storage=storage)
    return [t.params for t in study.trials]


def test_end_to_end_resumes_extends_and_never_reads_test(tiny_file, tmp_path, monkeypatch):
    parts_seen: list[tuple[str, ...]] = []
    real = trial_mod.collect_outputs

    def spy(*args, **kwargs):
        parts_seen.append(tuple(kwargs["parts"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(trial_mod, "collect_outputs", spy)
    out = tmp_path / "tune"
    outcome = _tune(tiny_file, out, trials=3)
    assert outcome.n_new == 6  # 2 methods × 3 trials × 1 setting: the same budget for each
    assert parts_seen and all("test" not in p for p in parts_seen)
    for f in ("study.db", "trials.jsonl", "tuning.json", "tuning.md", "tuned.toml"):
        assert (out / f).is_file(), f
    summary = json.loads((out / "tuning.json").read_text())
    for name in ("finetune/0-digits-partial-class", "ssd/0-digits-partial-class"):
        s = summary["studies"][name]
        objs = [r["objective"] for r in s["trials"]]
        assert len(objs) == 3 and all(math.isfinite(o) for o in objs)
        assert s["best_objective"] == min(objs) and objs.index(min(objs)) == s["best_trial"]
        assert (out / s["figures"]["history"]).is_file()
        assert (out / s["figures"]["importances"]).is_file()
    assert summary["studies"]["finetune/0-digits-partial-class"]["trials"][0]["config"] == {
        "epochs": 1,
        "lr": 0.01,
    }  # trial 0: the file's table (epochs 1) with the defaults of the other dimensions
    study = optuna.load_study(
        study_name="ssd/0-digits-partial-class", storage=f"sqlite:///{out / 'study.db'}"
    )
    assert study.trials[1].user_attrs["objective"] == pytest.approx(study.trials[1].value)

    # the tuned file is a benchmark file whose method tables are the winners
    tuned = load_plan(load_sections(str(outcome.tuned_path)))
    for name in ("finetune", "ssd"):
        assert (
            dict(tuned.method_configs[name])
            == summary["studies"][f"{name}/0-digits-partial-class"]["best"]
        )
    md = (out / "tuning.md").read_text()
    assert "| finetune/0-digits-partial-class |" in md and "history.png" in md

    # resume: nothing is evaluated again
    monkeypatch.setattr(search, "evaluate_trial", lambda *a, **k: pytest.fail("re-evaluated"))
    again = _tune(tiny_file, out, trials=3)
    assert again.n_new == 0
    assert again.summary["studies"] == outcome.summary["studies"]

    # a larger budget extends the studies with new trials only
    monkeypatch.setattr(search, "evaluate_trial", trial_mod.evaluate_trial)
    more = _tune(tiny_file, out, trials=4, methods=("ssd",))
    assert more.n_new == 1
    rows = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    assert len(rows) == 7 and len({r["eval_id"] for r in rows}) == 7


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["tpe", "gp", "random"])
def test_same_sampler_seed_gives_the_same_trials(tiny_file, tmp_path, sampler):
    # 4 trials with 2 at random: trials 2 and 3 come from the TPE / GP model of the history
    kw = dict(trials=4, methods=("finetune",), sampler=sampler, startup_trials=2)
    _tune(tiny_file, tmp_path / "a", **kw)
    _tune(tiny_file, tmp_path / "b", **kw)
    name = "finetune/0-digits-partial-class"
    a, b = (_params(tmp_path / x, name) for x in "ab")
    assert a == b and len(a) == 4
    if sampler == "tpe":
        _tune(tiny_file, tmp_path / "c", sampler_seed=1, **kw)
        c = _params(tmp_path / "c", name)
        assert a[0] == c[0] and a[1:] != c[1:]  # trial 0 is the file config; the draws differ


def test_space_override_reaches_the_sampler(make_file, tmp_path):
    path = make_file(
        "\n[tune.space.finetune]\nepochs = {choice = [1, 3]}\n"
        "lr = {log_uniform = [0.004, 0.02]}\nmomentum = {uniform = [0.5, 0.95]}\n"
    )
    out = tmp_path / "o"
    _tune(path, out, trials=4, methods=("finetune",))
    study = optuna.load_study(
        study_name="finetune/0-digits-partial-class", storage=f"sqlite:///{out / 'study.db'}"
    )
    for t in study.trials:
        assert t.distributions["epochs"] == optuna.distributions.CategoricalDistribution((1, 3))
        assert t.distributions["lr"] == optuna.distributions.FloatDistribution(
            0.004, 0.02, log=True
        )
        assert 0.5 <= t.params["momentum"] <= 0.95  # an added dimension
        assert t.params["epochs"] in (1, 3) and 0.004 <= t.params["lr"] <= 0.02
    summary = json.loads((out / "tuning.json").read_text())
    space = summary["studies"]["finetune/0-digits-partial-class"]["search_space"]
    assert space["momentum"] == "uniform [0.5, 0.95]"


def test_noop_trials_are_recorded_and_flagged(make_file, tmp_path):
    # SSD with a huge α dampens nothing: every trial leaves the model unchanged
    path = make_file(
        "\n[methods.ssd]\nselection_weighting = 1e9\n"
        "[tune.space.ssd]\nselection_weighting = {choice = [1e9, 2e9]}\n"
    )
    out = tmp_path / "o"
    outcome = _tune(path, out, trials=3, methods=("ssd",))
    s = outcome.summary["studies"]["ssd/0-digits-partial-class"]
    assert s["n_noop"] == 3 and all(r["noop"] for r in s["trials"])
    assert all(r["forget_output_tv"] == 0.0 for r in s["trials"])
    assert s["best_is_noop"]
    assert "NO-OP: no trial changed the model measurably" in (out / "tuning.md").read_text()
    study = optuna.load_study(
        study_name="ssd/0-digits-partial-class", storage=f"sqlite:///{out / 'study.db'}"
    )
    assert all(t.user_attrs["noop"] for t in study.trials)
    assert "(NO-OP)" in outcome.table()


def test_multi_objective_keeps_the_pareto_front(tiny_file, tmp_path):
    out = tmp_path / "mo"
    outcome = _tune(
        tiny_file,
        out,
        trials=4,
        methods=("finetune",),
        multi_objective=True,
        objective="avg_gap_repr",
    )
    s = outcome.summary["studies"]["finetune/0-digits-partial-class"]
    study = optuna.load_study(
        study_name="finetune/0-digits-partial-class", storage=f"sqlite:///{out / 'study.db'}"
    )
    assert len(study.directions) == 2
    assert sorted(s["pareto_front"]) == sorted(t.number for t in study.best_trials)
    assert s["best_trial"] in s["pareto_front"]
    assert (out / s["figures"]["pareto"]).is_file()
    t = study.trials[0]
    assert t.values == [t.user_attrs["forget_gap"], t.user_attrs["utility_gap"]]


def test_failed_trial_is_recorded_and_the_search_goes_on(tiny_file, tmp_path, monkeypatch):
    real = trial_mod.unlearn_copy

    def flaky(name, config, *args, **kwargs):
        if config.lr != 0.01:  # every sampled trial diverges
            raise FloatingPointError("loss is NaN")
        return real(name, config, *args, **kwargs)

    monkeypatch.setattr(trial_mod, "unlearn_copy", flaky)
    outcome = _tune(tiny_file, tmp_path / "t", trials=3, methods=("finetune",))
    s = outcome.summary["studies"]["finetune/0-digits-partial-class"]
    assert [r["state"] for r in s["trials"]] == ["complete", "fail", "fail"]
    assert "FloatingPointError: loss is NaN" in s["trials"][1]["error"] and s["best_trial"] == 0


def test_objective_is_averaged_over_tuning_seeds(tiny_file, tmp_path) -> None:
    out = tmp_path / "two"
    outcome = _tune(tiny_file, out, trials=2, methods=("ssd",), seeds=(1000, 1001))
    assert outcome.n_new == 2
    rows = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    assert sorted({r["seed"] for r in rows}) == [1000, 1000, 1001, 1001][::2]
    assert len({r["split_sha256"] for r in rows}) == 2  # each seed draws its own split
    for r in outcome.summary["studies"]["ssd/0-digits-partial-class"]["trials"]:
        assert r["objective"] == pytest.approx(sum(r["objective_per_seed"]) / 2)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("extra", "argv", "message"),
    [
        (
            "[tune.space.ssd]\nalpha = {choice = [1]}",
            [],
            "[tune.space.ssd] alpha: 'alpha' is not a parameter of ssd; its parameters are:",
        ),
        (
            "[tune.space.ssd]\nselection_weighting = {choice = []}",
            [],
            "[tune.space.ssd] selection_weighting: choice needs at least one value",
        ),
        (
            "[tune.space.ssd]\nselection_weighting = {log_uniform = [0, 100]}",
            [],
            "log_uniform needs 0 < low < high (a log range cannot reach 0), got [0, 100]",
        ),
        ("", ["--sampler", "nope"], "argument --sampler: invalid choice: 'nope'"),
        ('[tune]\nsampler = "nope"', [], "config field 'sampler' must be one of ['tpe', 'gp'"),
        ("[tune.space.nope]\nlr = {choice = [1]}", [], "unknown method 'nope'"),
        (
            "[tune.space.sure]\nlr = {choice = [0.1]}",
            [],
            "[tune.space] has tables for ['sure'], which are not tuned here",
        ),
        ("", ["--trials", "0"], "tune trials must be >= 1, got 0"),
        ("", ["--methods", "retrain"], "'retrain' has nothing to tune"),
        ("", ["--tune-seeds", "0"], "tuning seed(s) [0] are also benchmark seeds"),
        ("", ["--objective", "test_acc"], "argument --objective: invalid choice: 'test_acc'"),
    ],
)
def test_bad_input_one_clear_message_nothing_written(
    make_file, tmp_path, capsys, extra, argv, message
):
    path = make_file("\n" + extra + "\n")
    out = tmp_path / "o"
    try:
        rc = main(["tune", "--config", str(path), "--out", str(out), "--quiet", *argv])
    except SystemExit as exc:  # argparse's own check of a flag's choices
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_study_file_from_another_config_is_refused_untouched(tiny_file, tmp_path, capsys):
    out = tmp_path / "o"
    base = ["tune", "--config", str(tiny_file), "--quiet", "--methods", "ssd", "--trials", "2"]
    assert main([*base, "--out", str(out)]) == 0
    before = _digest(out)
    capsys.readouterr()
    assert main([*base, "--out", str(out), "--sampler", "random"]) == 2
    err = capsys.readouterr().err
    assert "the benchmark file, tuning seeds, sampler or objective changed since the tuning" in err
    assert _digest(out) == before
    # the study file alone (no tune_config.json) in another folder: still refused
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(out / "study.db", other / "study.db")
    assert main([*base, "--out", str(other), "--tune-seeds", "1001"]) == 2
    err = capsys.readouterr().err
    assert "holds study 'ssd/0-digits-partial-class' of a different experiment" in err
    assert sorted(p.name for p in other.iterdir()) == ["study.db"]
    # a file that is not a study file
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "study.db").write_text("not sqlite")
    assert main([*base, "--out", str(junk)]) == 2
    assert "is not an Optuna study file" in capsys.readouterr().err


def test_to_toml_round_trips_nested_tables() -> None:
    data = {
        "benchmark": {"name": "x", "seeds": [0, 1], "flag": True, "cache_dir": None},
        "grid": {
            "split": [
                {"dataset": "digits", "methods": {"sure": {"lr": 0.1}}},
                {"dataset": "digits", "scenario": "random"},
            ]
        },
        "methods": {"sure": {"lr": 0.00286, "epochs": 10}, "ssd": {}},
        "tune": {"trials": 4, "space": {"sure": {"lr": {"log_uniform": [1e-4, 1e-2]}}}},
    }
    back = tomllib.loads(to_toml(data))
    assert back["benchmark"] == {"name": "x", "seeds": [0, 1], "flag": True}  # None left out
    assert back["grid"]["split"] == data["grid"]["split"]
    assert back["methods"] == data["methods"] and back["tune"] == data["tune"]
    with pytest.raises(ConfigError, match="cannot write the non-finite value"):
        to_toml({"a": {"x": math.inf}})


def test_winners_of_several_settings_go_into_their_split_tables(tiny_file) -> None:
    sections = load_sections(str(tiny_file))
    sections["grid"]["split"].append(
        {"dataset": "digits", "scenario": "random", "forget_size": 0.1}
    )
    summary = {
        "settings": [{}, {}],
        "studies": {
            "finetune/0": {"method": "finetune", "entry": 0, "best": {"epochs": 1, "lr": 0.02}},
            "finetune/1": {"method": "finetune", "entry": 1, "best": {"epochs": 3, "lr": 0.01}},
        },
    }
    tuned = tomllib.loads(to_toml(tuned_sections(summary, sections)))
    plan = load_plan(tuned)
    runs = {g.entry: {r.method: r.config for r in g.runs} for g in plan.groups()}
    assert (runs[0]["finetune"].epochs, runs[0]["finetune"].lr) == (1, 0.02)
    assert (runs[1]["finetune"].epochs, runs[1]["finetune"].lr) == (3, 0.01)
    assert plan.method_configs["finetune"] == {"epochs": 1}  # the shared table is kept


def test_shipped_fashion_mnist_config_carries_the_recorded_tuning() -> None:
    root = Path(__file__).resolve().parents[2]
    plan = load_plan(load_sections(str(root / "configs" / "fashion-mnist.toml")))
    record = json.loads((root / "docs/results/fashion-mnist/tuning.json").read_text())
    assert record["tune"]["trials"] >= 8
    for name, s in record["methods"].items():
        assert dict(plan.method_configs[name]) == s["best"], name
        assert len(s["objectives"]) == record["tune"]["trials"]  # the same budget for each
        assert s["best_objective"] == min(s["objectives"])
    assert set(record["methods"]) == set(plan.config.methods)


@pytest.mark.slow
def test_workers_ask_rounds_of_trials_reproducibly(tiny_file, tmp_path):
    # 2 trials per ask-and-tell round: 5 trials = rounds of 2, 2 and 1 (never over budget)
    kw = dict(trials=5, methods=("finetune",), startup_trials=2, workers=2)
    _tune(tiny_file, tmp_path / "a", **kw)
    _tune(tiny_file, tmp_path / "b", **kw)
    name = "finetune/0-digits-partial-class"
    a, b = _params(tmp_path / "a", name), _params(tmp_path / "b", name)
    assert a == b and len(a) == 5
    _tune(tiny_file, tmp_path / "c", **{**kw, "workers": 1})
    c = _params(tmp_path / "c", name)
    assert a[:2] == c[:2]  # the random start does not depend on the rounds
