"""Per-example attacks as a benchmark section: config checks, rows in attacks.jsonl, resume,
failures, backward compatibility, aggregation against a hand computation, the report section.

The benchmark is tiny (300-example digits split, cnn width 4, 2 epochs; N = MIN_N, K = MIN_K,
20 relabellings), so these runs check the plumbing and bookkeeping, not attack strength.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import unlearnkit.benchmark.runner as bench_runner
from unlearnkit.attacks.runner import MIN_K, MIN_N
from unlearnkit.benchmark import ConfigChangedError, ResultsFile, build_report, load_plan
from unlearnkit.benchmark.aggregate import aggregate_attacks, attack_table
from unlearnkit.benchmark.grid import AttacksConfig
from unlearnkit.benchmark.runner import ATTACKS_FILE, check_config, run_benchmark
from unlearnkit.cli import load_sections, main
from unlearnkit.config import load_toml
from unlearnkit.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore:the validation-domain set")  # tiny digits split

TINY = """
[benchmark]
name = "tiny-attacks"
seeds = [0]
methods = ["finetune"]
cache_dir = "{cache}"
embedding_models = []
embedding_sample = 0
save_scores = false

[[grid.split]]
dataset = "digits"
scenario = "partial-class"
forget_size = 0.5
forget_classes = [3]
train_size = 300

[model]
name = "cnn"
width = 4
embed_dim = 16

[train]
epochs = 2
lr = 0.1

[eval]
attackers = ["logreg"]
mia = false
transfer = false

[methods.finetune]
epochs = 1
"""

ATTACKS = f"""
[attacks]
neurips_n = {MIN_N}
ulira_k = {MIN_K}
n_perm = 20
"""

METHODS = ("retrain", "finetune")


def write_config(path: Path, cache: Path, attacks: str = ATTACKS) -> Path:
    path.write_text(TINY.format(cache=cache) + attacks)
    return path


def attack_rows(out: Path) -> list[dict[str, Any]]:
    return ResultsFile(out / ATTACKS_FILE).load()


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models train much faster single-threaded on a busy CPU; restored afterwards."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


class Counter:
    """Wraps the runner's run_neurips / run_ulira and records every call."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        for attack in ("neurips", "ulira"):
            real = getattr(bench_runner, f"run_{attack}")
            mp.setattr(bench_runner, f"run_{attack}", self._wrap(attack, real))

    def _wrap(self, attack: str, real: Any) -> Any:
        def counted(method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            self.calls.append((attack, method, kwargs.get("setup")))
            return real(method, *args, **kwargs)

        return counted


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One tiny benchmark with both attacks, run to completion (attack calls counted)."""
    root = tmp_path_factory.mktemp("bench-attacks")
    cache = root / "cache"
    cfg = write_config(root / "b.toml", cache)
    plan = load_plan(load_sections(str(cfg)))
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        counter = Counter(mp)
        outcome = run_benchmark(plan, out, show_progress=False)
    return {
        "cfg": cfg,
        "cache": cache,
        "plan": plan,
        "out": out,
        "outcome": outcome,
        "calls": counter.calls,
    }


# --------------------------------------------------------------------------- config


def test_attacks_config_validation(tmp_path):
    sections = load_toml(write_config(tmp_path / "b.toml", tmp_path / "cache"))

    def plan_with(**attacks: Any):
        return load_plan({**sections, "attacks": {**sections["attacks"], **attacks}})

    with pytest.raises(ConfigError, match=rf"neurips_n must be 0 \(off\) or >= {MIN_N}.*got 2"):
        plan_with(neurips_n=2)
    with pytest.raises(ConfigError, match=rf"ulira_k must be 0 \(off\) or >= {MIN_K}.*got 5"):
        plan_with(ulira_k=5)
    for bad in (0, 1.5):
        with pytest.raises(ConfigError, match=r"retain_fraction must be in \(0, 1\]"):
            plan_with(retain_fraction=bad)
    with pytest.raises(ConfigError, match="n_perm must be >= 0"):
        plan_with(n_perm=-1)
    with pytest.raises(ConfigError, match=r"\['scrub'\] are not methods of this benchmark.*"):
        plan_with(methods=["finetune", "scrub"])
    with pytest.raises(ConfigError, match="duplicates"):
        plan_with(methods=["finetune", "finetune"])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['neurips'\] for AttacksConfig"):
        plan_with(neurips=16)
    with pytest.raises(ConfigError, match=r"\[attacks\] must be a table"):
        load_plan({**sections, "attacks": 3})

    plan = plan_with()
    assert plan.attacks.enabled == (("neurips", MIN_N), ("ulira", MIN_K))
    assert plan.attacked_methods == METHODS  # default: every method but original
    assert plan.n_attacks() == 4
    assert plan_with(methods=["finetune"], ulira_k=0).n_attacks() == 1
    assert plan_with(neurips_n=0, ulira_k=0).attacked_methods == ()
    # the help texts state the cost in trainings
    from dataclasses import fields

    helps = {f.name: f.metadata["help"] for f in fields(AttacksConfig)}
    assert "N retrains" in helps["neurips_n"] and "K shadow trainings" in helps["ulira_k"]


def test_experiment_dict_without_attacks_is_unchanged(tmp_path):
    cache = tmp_path / "cache"
    plain = load_plan(load_sections(str(write_config(tmp_path / "a.toml", cache, attacks=""))))
    assert set(plain.experiment_dict()) == {"benchmark", "grid", "eval", "methods"}
    # attacks off (explicit defaults, or options without an attack): the same stored config
    for off in ("[attacks]\n", "[attacks]\nneurips_n = 0\nretain_fraction = 1.0\n"):
        plan = load_plan(load_sections(str(write_config(tmp_path / "b.toml", cache, off))))
        assert plan.experiment_dict() == plain.experiment_dict()
    out = tmp_path / "out"
    check_config(out, plain)  # a folder started without attacks ...
    check_config(out, plan)  # ... resumes with attacks off
    with_attacks = load_plan(load_sections(str(write_config(tmp_path / "c.toml", cache))))
    assert with_attacks.experiment_dict()["attacks"]["neurips_n"] == MIN_N
    # attacks do not change the method runs' identities
    ids = lambda p: [r.run_id for g in p.groups() for r in g.runs]  # noqa: E731
    assert ids(with_attacks) == ids(plain)
    with pytest.raises(ConfigChangedError, match="attacks"):
        check_config(out, with_attacks)


# --------------------------------------------------------------------------- runner


def test_attack_rows_once_per_method_and_attack(done):
    out, outcome = done["out"], done["outcome"]
    assert (outcome.ok, outcome.failed) == (3, 0)
    assert (outcome.attacks_total, outcome.attacks_ok, outcome.attacks_failed) == (4, 4, 0)
    rows = attack_rows(out)
    assert sorted((r["attack"], r["method"]) for r in rows) == sorted(
        (a, m) for a in ("neurips", "ulira") for m in METHODS
    )
    assert len({r["attack_id"] for r in rows}) == 4
    group = ResultsFile(out / "results.jsonl").load()[0]["group"]
    for r in rows:
        assert r["status"] == "ok" and r["group"] == group and r["seed"] == 0
        assert r["dataset"] == "digits" and r["scenario"] == "partial-class"
        assert r["size"] == (MIN_N if r["attack"] == "neurips" else MIN_K)
        assert r["method_config"]["seed"] == 0  # the group's run config (same seed handling)
        if r["method"] == "finetune":
            assert r["method_config"]["epochs"] == 1
        assert r["wall_time"] > 0
        # only JSON scalars from the attack's result
        assert all(not isinstance(v, (dict, list)) for v in r["results"].values())
        assert "arrays" not in r["results"] and "config" not in r["results"]
        with np.load(out / r["files"]["arrays"]) as z:
            key = "epsilon" if r["attack"] == "neurips" else "loo_member_scores"
            assert z[key].shape[0] == r["results"]["n_examples"]
    neurips = {r["method"]: r["results"] for r in rows if r["attack"] == "neurips"}
    assert set(neurips["finetune"]) >= {"score", "forgetting_quality", "epsilon_median"}
    ulira = {r["method"]: r["results"] for r in rows if r["attack"] == "ulira"}
    assert ulira["finetune"]["K"] == MIN_K and ulira["finetune"]["n_perm"] == 20
    assert 0 < ulira["finetune"]["auc_p_value"] <= 1

    # one shared setup per group: the group's original, pools in the benchmark's cache
    calls = done["calls"]
    assert sorted((a, m) for a, m, _ in calls) == sorted(
        (a, m) for a in ("neurips", "ulira") for m in METHODS
    )
    setups = {id(s) for *_, s in calls}
    assert len(setups) == 1
    setup = calls[0][2]
    assert setup.original is not None and setup.root == done["cache"]
    assert setup.retain_fraction == 0.5
    assert sorted(p.name.split("-")[1] for p in (done["cache"] / "pools").iterdir()) == [
        "retrain",
        "shadow",
    ]


def test_resume_does_not_rerun_attacks(done, monkeypatch):
    out = done["out"]
    before = (out / ATTACKS_FILE).read_bytes()
    counter = Counter(monkeypatch)
    outcome = run_benchmark(done["plan"], out, show_progress=False)
    assert counter.calls == []
    assert (outcome.skipped, outcome.ok) == (3, 0)
    assert (outcome.attacks_skipped, outcome.attacks_ok, outcome.attacks_failed) == (4, 0, 0)
    assert (out / ATTACKS_FILE).read_bytes() == before


def test_failed_attack_is_recorded_and_retried(done, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    cfg = str(done["cfg"])  # same cache: the models and pools are reused

    def boom(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("simulated attack crash")

    monkeypatch.setattr(bench_runner, "run_ulira", boom)
    assert main(["benchmark", "--config", cfg, "--out", str(out), "--quiet"]) == 1
    stdout = capsys.readouterr().out
    assert "3 run(s) done, 0 already done, 0 failed of 3" in stdout  # the benchmark completed
    assert "2 attack(s) done, 0 already done, 2 failed of 4" in stdout
    assert "failed attacks" in stdout and "simulated attack crash" in stdout
    rows = {(r["attack"], r["method"]): r for r in attack_rows(out)}
    assert len(rows) == 4
    for m in METHODS:
        assert rows[("neurips", m)]["status"] == "ok"
        assert rows[("ulira", m)]["status"] == "failed"
        assert "RuntimeError: simulated attack crash" in rows[("ulira", m)]["error"]
    assert all(r["status"] == "ok" for r in ResultsFile(out / "results.jsonl").load())

    # rerun: every method run is done, yet the group is loaded again for the failed attacks
    monkeypatch.undo()
    counter = Counter(monkeypatch)
    outcome = run_benchmark(load_plan(load_sections(cfg)), out, show_progress=False)
    assert (outcome.skipped, outcome.ok) == (3, 0)
    assert (outcome.attacks_skipped, outcome.attacks_ok, outcome.attacks_failed) == (2, 2, 0)
    assert sorted((a, m) for a, m, _ in counter.calls) == [
        ("ulira", "finetune"),
        ("ulira", "retrain"),
    ]
    latest = {r["attack_id"]: r for r in attack_rows(out)}
    assert len(latest) == 4 and all(r["status"] == "ok" for r in latest.values())
    # the same attack has the same id as in the other folder (same group, config, options)
    assert set(latest) == {r["attack_id"] for r in attack_rows(done["out"])}


# --------------------------------------------------------------------------- report


def test_report_has_attack_section(done, tmp_path):
    out = done["out"]
    paths = build_report(out)
    md = paths["markdown"].read_text()
    assert "## Per-example attacks" in md
    section = md.split("## Per-example attacks", 1)[1]
    assert f"N = {MIN_N}" in section and f"K = {MIN_K} shadow models" in section
    assert "| retrain (retrain vs retrain) |" in section and "| retrain (ref.) |" in section
    assert section.count("| finetune |") == 2
    assert "close to retrain's" in section and "near 0.5" in section
    assert "Per-example attacks" in paths["html"].read_text()
    summary = json.loads(paths["summary"].read_text())
    assert summary["attacks"]["n_ok"] == 4

    # no attacks.jsonl: the report builds without the section
    bare = tmp_path / "bare"
    shutil.copytree(out, bare, ignore=shutil.ignore_patterns(ATTACKS_FILE, "figures"))
    md = build_report(bare)["markdown"].read_text()
    assert "Per-example attacks" not in md and "## Summary" in md


# --------------------------------------------------------------------------- aggregation

SPLIT = {"dataset": "digits", "scenario": "random", "forget_size": 0.1, "forget_classes": []}


def synthetic(seed: int, attack: str, method: str, status: str = "ok", **results: Any) -> dict:
    return {
        "attack_id": f"{attack}-{method}-{seed}",
        "group": f"g{seed}",
        "dataset": "digits",
        "scenario": "random",
        "split": {**SPLIT, "seed": seed},
        "model": {"name": "cnn"},
        "train": {"epochs": 2, "seed": seed},
        "seed": seed,
        "method": method,
        "attack": attack,
        "size": 16,
        "options": {"retain_fraction": 0.5, "n_perm": 20} if attack == "ulira" else {},
        "status": status,
        "results": results,
        **({"error": "RuntimeError: boom"} if status != "ok" else {}),
    }


def test_aggregate_attacks_matches_hand_computation():
    rows = [
        synthetic(0, "neurips", "finetune", score=0.1, forgetting_quality=0.2, frac_capped=0.5),
        synthetic(1, "neurips", "finetune", score=0.3, forgetting_quality=0.4, frac_capped=None),
        synthetic(0, "neurips", "retrain", score=0.15, forgetting_quality=0.15),
        synthetic(1, "neurips", "retrain", score=0.17, forgetting_quality=0.17),
        synthetic(0, "ulira", "finetune", "failed"),  # failed, then retried: the last row counts
        synthetic(0, "ulira", "finetune", auc=0.9, auc_p_value=0.01, emb_auc=0.8),
        synthetic(1, "ulira", "finetune", auc=0.7, auc_p_value=0.05, emb_auc=0.6),
        synthetic(1, "ulira", "retrain", "failed"),
    ]
    agg = aggregate_attacks(rows)
    assert (agg["n_rows"], agg["n_ok"], agg["n_failed"]) == (7, 6, 1)
    (s,) = agg["settings"]
    assert s["label"] == "digits random (10% of train)"
    assert s["failed"] == [
        {
            "attack": "ulira",
            "size": 16,
            "method": "retrain",
            "seed": 1,
            "error": "RuntimeError: boom",
        }
    ]
    neurips, ulira = s["attacks"]
    assert (neurips["attack"], neurips["size"], neurips["size_name"]) == ("neurips", 16, "N")
    assert neurips["methods"] == ["retrain", "finetune"] and neurips["seeds"] == [0, 1]
    ft = neurips["metrics"]["finetune"]
    assert ft["score"]["mean"] == pytest.approx(0.2)
    assert ft["score"]["std"] == pytest.approx(math.sqrt(0.1**2 + 0.1**2))  # ddof = 1
    assert ft["forgetting_quality"]["mean"] == pytest.approx(0.3)
    assert ft["frac_capped"] == {"mean": 0.5, "std": pytest.approx(math.nan, nan_ok=True), "n": 1}
    assert ft["epsilon_median"]["n"] == 0  # absent key: no value
    assert neurips["metrics"]["retrain"]["score"]["std"] == pytest.approx(0.02 / math.sqrt(2))
    assert (ulira["size_name"], ulira["methods"], ulira["options"]["n_perm"]) == (
        "K",
        ["finetune"],
        20,
    )
    u = ulira["metrics"]["finetune"]
    assert u["auc"]["mean"] == pytest.approx(0.8) and u["auc"]["n"] == 2
    assert u["auc_p_value"]["mean"] == pytest.approx(0.03)
    assert u["emb_auc"]["std"] == pytest.approx(math.sqrt(0.02))

    table = attack_table(neurips, markdown=True)
    assert "| retrain (retrain vs retrain) | 0.1600 ± 0.0141 |" in table
    assert "| finetune | 0.2000 ± 0.1414 | 0.3000 ± 0.1414 | — | — | 0.500 | 2 |" in table
