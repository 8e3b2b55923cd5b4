"""The engine without Ray: task keys, run == benchmark, one driver per folder, failures."""

from __future__ import annotations

import json

import pytest

from unlearnkit.benchmark import BenchmarkLockedError, load_plan, run_benchmark
from unlearnkit.cli import load_sections, main
from unlearnkit.data.splits import SplitConfig
from unlearnkit.engine import Engine, GroupSpec, UnlearnTask
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig
from unlearnkit.methods import get_method_class
from unlearnkit.models import ModelConfig
from unlearnkit.records import ResultsFile, exclusive_folder
from unlearnkit.training import TrainConfig

from .conftest import TIMING_KEYS, comparable, write_config

pytestmark = pytest.mark.filterwarnings("ignore:the validation-domain set")  # tiny digits split


def _task(**changes):
    split = SplitConfig(dataset="digits", scenario="partial-class", forget_classes=(3,), seed=0)
    parts = {
        "split": split,
        "model": ModelConfig(name="cnn", width=4),
        "train": TrainConfig(epochs=2),
        "retrain_train": None,
        "method": "finetune",
        "config": {"epochs": 1, "seed": 0},
        "eval": EvalConfig(),
        "target": "test",
    }
    parts.update(changes)
    group = GroupSpec(parts["split"], parts["model"], parts["train"], parts["retrain_train"])
    cfg = get_method_class(parts["method"]).config_cls.from_dict(parts["config"])
    return UnlearnTask(group, parts["method"], cfg, parts["eval"], target=parts["target"])


def test_task_key_changes_with_every_input_and_only_then():
    base = _task()
    assert _task().key == base.key  # deterministic
    # not part of the result: labels, side arrays, weights, where the data lives
    same = UnlearnTask(
        GroupSpec(base.group.split, base.group.model, base.group.train, data_dir="/elsewhere"),
        base.method,
        base.config,
        base.eval,
        labels={"entry": 3},
        keep_model=True,
    )
    assert same.key == base.key
    split = base.group.split
    changed = [
        _task(split=split.replace(seed=1)),
        _task(split=split.replace(forget_size=0.3)),
        _task(model=ModelConfig(name="cnn", width=8)),
        _task(train=TrainConfig(epochs=3)),
        _task(retrain_train=TrainConfig(epochs=2, seed=7)),
        _task(config={"epochs": 2, "seed": 0}),
        _task(config={"epochs": 1, "seed": 1}),
        _task(method="gradient_ascent", config={"epochs": 1, "seed": 0}),
        _task(eval=EvalConfig(max_retain=100)),
        _task(target="val"),
    ]
    keys = [t.key for t in changed]
    assert base.key not in keys and len(set(keys)) == len(keys)
    # the retrain recipe given explicitly as its default (the derived seed): the same group
    from unlearnkit.methods.retrain import retrain_recipe

    assert _task(retrain_train=retrain_recipe(TrainConfig(epochs=2))).key == base.key
    assert _task(retrain_train=TrainConfig(epochs=2)).key != base.key  # retrain seed = original's


def test_bad_task_is_one_clear_error():
    with pytest.raises(ConfigError, match="evaluation target must be one of test, val"):
        _task(target="train")


def test_run_and_benchmark_give_identical_metrics(tmp_path, capsys, one_thread):
    cache = tmp_path / "cache"
    cfg = write_config(tmp_path / "b.toml", cache, methods=("finetune",))
    assert main(["benchmark", "--config", str(cfg), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    bench = {r["method"]: r for r in ResultsFile(tmp_path / "b" / "results.jsonl").load()}
    sections = load_sections(str(cfg))
    run_file = tmp_path / "run.toml"
    run_file.write_text(
        "[split]\n"
        'dataset = "digits"\nscenario = "partial-class"\nforget_size = 0.5\n'
        "forget_classes = [3]\ntrain_size = 300\n"
        "[model]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sections["model"].items())
        + "[train]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sections["train"].items())
        + "[eval]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sections["eval"].items())
        + "[methods.finetune]\nepochs = 1\n"
    )
    argv = ["run", "--config", str(run_file), "--seed", "0", "--methods", "finetune"]
    argv += ["--cache-dir", str(cache), "--out", str(tmp_path / "r"), "--quiet"]
    assert main(argv) == 0
    run = json.loads((tmp_path / "r" / "results.json").read_text())["evaluation"]["rows"]
    assert set(run) == set(bench) == {"original", "retrain", "finetune"}
    for method, row in bench.items():
        metrics = {k: v for k, v in row["metrics"].items() if k not in TIMING_KEYS}
        assert {k: run[method][k] for k in metrics} == metrics, method


def test_second_driver_on_a_folder_is_refused(tmp_path):
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache")
    plan = load_plan(load_sections(str(cfg)))
    locked = pytest.raises(BenchmarkLockedError, match=r"another benchmark is writing to .*out")
    with exclusive_folder(tmp_path / "out", "benchmark"), locked:  # the first driver runs
        run_benchmark(plan, tmp_path / "out", show_progress=False)
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_failed_group_fails_its_tasks_and_the_rest_goes_on(tmp_path, monkeypatch, one_thread):
    import unlearnkit.engine.core as core

    real = core.train_role

    def boom(spec, role, *args):
        if spec.split.seed == 1 and role == "retrain":
            raise RuntimeError("simulated training crash")
        return real(spec, role, *args)

    monkeypatch.setattr(core, "train_role", boom)
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache", methods=("finetune",), seeds=(0, 1))
    plan = load_plan(load_sections(str(cfg)))
    outcome = run_benchmark(plan, tmp_path / "out", show_progress=False)
    assert (outcome.ok, outcome.failed) == (3, 3)
    rows = ResultsFile(tmp_path / "out" / "results.jsonl").load()
    assert {r["seed"] for r in rows if r["status"] == "ok"} == {0}
    failed = [r for r in rows if r["status"] == "failed"]
    assert all("original/retrain failed: RuntimeError: simulated" in r["error"] for r in failed)
    monkeypatch.undo()
    again = run_benchmark(plan, tmp_path / "out", show_progress=False)
    assert (again.skipped, again.ok, again.failed) == (3, 3, 0)


def test_results_by_key_and_kept_weights(tmp_path, one_thread):
    task = _task(train=TrainConfig(epochs=1))
    task = UnlearnTask(task.group, task.method, task.config, task.eval, keep_model=True)
    with Engine(device="cpu", cache_dir=None, show_progress=False) as engine:
        results = engine.results([task])
    result = results[task.key]
    assert result.ok and result.row["run_id"] == task.key
    assert result.state is not None and all(v.device.type == "cpu" for v in result.state.values())
    assert comparable(result.row)["method"] == "finetune"


def test_val_target_evaluates_val_in_the_place_of_test(tmp_path, one_thread):
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache", methods=("finetune",))
    plan = load_plan(load_sections(str(cfg)))
    spec = plan.group_spec(plan.entries[0], 0)
    on_test = plan.task(spec, "original", 0)
    on_val = plan.task(spec, "original", 0, target="val")
    trial = plan.task(spec, "finetune", 0, params={"epochs": 2}, target="val")
    assert len({on_test.key, on_val.key, trial.key}) == 3
    assert trial.config.epochs == 2 and trial.config.seed == 0
    with Engine(device="cpu", cache_dir=tmp_path / "cache", show_progress=False) as engine:
        got = engine.results([on_test, on_val])
    test_row, val_row = got[on_test.key].row, got[on_val.key].row
    assert val_row["target"] == "val" and "target" not in test_row
    assert val_row["metrics"]["test_acc"] == test_row["metrics"]["val_acc"]
    assert val_row["metrics"]["forget_acc"] == test_row["metrics"]["forget_acc"]
    assert got[on_val.key].arrays == {}  # no report arrays for tuning rows
