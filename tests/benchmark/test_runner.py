"""The grid runner: resume after SIGKILL, refused config changes, failures recorded, atomic rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unlearnkit.benchmark import ConfigChangedError, ResultsFile, load_plan, run_benchmark
from unlearnkit.benchmark.runner import check_config
from unlearnkit.cli import load_sections, main
from unlearnkit.config import load_toml
from unlearnkit.errors import ConfigError
from unlearnkit.methods import get_method_class

TINY = """
[benchmark]
name = "tiny"
seeds = [0]
methods = {methods}
cache_dir = "{cache}"
embedding_models = ["original", "retrain", "finetune"]
embedding_sample = 20

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
attackers = ["logreg"]
mia = false
transfer = false

[methods.finetune]
epochs = {ft_epochs}

[methods.gradient_ascent]
epochs = 1
"""


@pytest.fixture()
def one_thread():
    """One BLAS/torch thread: small models on a shared CPU are much faster without contention."""
    import torch
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


def write_config(path: Path, cache: Path, methods=("finetune", "gradient_ascent"), ft_epochs=1):
    path.write_text(
        TINY.format(methods=json.dumps(list(methods)), cache=cache, ft_epochs=ft_epochs)
    )
    return path


def read_rows(out: Path) -> list[dict]:
    return ResultsFile(out / "results.jsonl").load()


@pytest.mark.filterwarnings("ignore:the validation-domain set")  # tiny digits split
def test_resume_after_kill(tmp_path, capsys, one_thread):
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache", ft_epochs=3)
    out = tmp_path / "out"
    # (not ``-m unlearnkit.cli``: run as __main__, the module would not see the extensions'
    # handlers, which register themselves in the imported ``unlearnkit.cli``)
    entry = "import sys; from unlearnkit.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", entry, "benchmark", "--config", str(cfg)]
    cmd += ["--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if results.is_file() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()  # still running: kill mid-grid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    before = read_rows(out)
    assert 1 <= len(before) < 4
    first_line = results.read_bytes().split(b"\n")[0]

    # rerun the same command (in-process, to save an interpreter start) until completion
    assert main(cmd[3:]) == 0
    stdout = capsys.readouterr().out
    rows = read_rows(out)
    ids = [r["run_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 4  # every run exactly once
    assert {r["method"] for r in rows} == {"original", "retrain", "finetune", "gradient_ascent"}
    assert all(r["status"] == "ok" for r in rows)
    assert results.read_bytes().split(b"\n")[0] == first_line  # finished rows are not redone
    assert f"{4 - len(before)} run(s) done, {len(before)} already done" in stdout
    assert "- One seed: no seed spread" in stdout  # the answer under the summary table
    # the side files the report needs
    for r in rows:
        assert (out / r["files"]["scores"]).is_file()
    assert (out / "embeddings" / f"{rows[0]['group']}_finetune.npz").is_file()
    assert json.loads((out / "benchmark-config.json").read_text())["experiment"]


@pytest.mark.filterwarnings("ignore:the validation-domain set")  # tiny digits split
def test_failed_run_is_recorded_and_retried(tmp_path, monkeypatch, one_thread):
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache")
    plan = load_plan(load_sections(str(cfg)))
    out = tmp_path / "out"

    def boom(self, *args, **kwargs):
        raise RuntimeError("simulated crash inside the method")

    monkeypatch.setattr(get_method_class("finetune"), "unlearn", boom)
    outcome = run_benchmark(plan, out, show_progress=False)
    assert (outcome.ok, outcome.failed) == (3, 1)
    rows = {r["method"]: r for r in read_rows(out)}
    assert rows["finetune"]["status"] == "failed"
    assert "simulated crash" in rows["finetune"]["error"]
    assert rows["gradient_ascent"]["status"] == "ok"  # the grid went on after the failure
    assert set(rows["gradient_ascent"]["metrics"]) >= {"forget_acc", "loss_auc", "wall_time"}

    monkeypatch.undo()
    again = run_benchmark(plan, out, show_progress=False)
    assert (again.skipped, again.ok, again.failed) == (3, 1, 0)  # only the failed run reran
    lines = read_rows(out)
    assert len(lines) == 5 and lines[-1]["method"] == "finetune" and lines[-1]["status"] == "ok"


def test_config_change_is_refused(tmp_path, capsys):
    cache = tmp_path / "cache"
    cfg = write_config(tmp_path / "a.toml", cache)
    out = tmp_path / "out"
    check_config(out, load_plan(load_sections(str(cfg))))
    check_config(out, load_plan(load_sections(str(cfg)), {"device": "cpu"}))  # runtime only: ok
    changed = write_config(tmp_path / "b.toml", cache, ft_epochs=2)
    with pytest.raises(ConfigChangedError, match=r"config changed .*methods.*new --out folder"):
        check_config(out, load_plan(load_sections(str(changed))))
    assert main(["benchmark", "--config", str(changed), "--out", str(out), "--quiet"]) == 2
    assert "config changed" in capsys.readouterr().err
    assert not (out / "results.jsonl").exists()


def test_plan_seeds_and_validation(tmp_path):
    cfg = write_config(tmp_path / "a.toml", tmp_path / "cache")
    sections = load_toml(cfg)
    sections["benchmark"]["seeds"] = [3, 4]
    plan = load_plan(sections)
    groups = list(plan.groups())
    assert [g.seed for g in groups] == [3, 4]
    for g in groups:
        assert g.split.seed == g.train.seed == g.seed
        assert [r.method for r in g.runs] == ["original", "retrain", "finetune", "gradient_ascent"]
        assert all(r.config.seed == g.seed for r in g.runs)
    assert len({r.run_id for g in groups for r in g.runs}) == plan.n_runs() == 8
    assert groups[0].model.width == 4 and groups[0].train.epochs == 2

    bad = dict(sections, methods={"finetune": {"seed": 1}})
    with pytest.raises(ConfigError, match="sets 'seed'"):
        load_plan(bad)
    with pytest.raises(ConfigError, match="unknown method"):
        load_plan(dict(sections, benchmark={**sections["benchmark"], "methods": ["nope"]}))
    with pytest.raises(ConfigError, match=r"\[\[grid.split\]\]"):
        load_plan(dict(sections, split={"dataset": "digits"}))


def test_results_file_ignores_and_repairs_partial_line(tmp_path):
    rf = ResultsFile(tmp_path / "results.jsonl")
    rf.append({"run_id": "a", "status": "ok", "x": float("nan")})
    rf.append({"run_id": "b", "status": "ok"})
    with open(rf.path, "ab") as fh:
        fh.write(b'{"run_id": "c", "sta')  # a write cut short by a crash
    assert [r["run_id"] for r in rf.load()] == ["a", "b"]
    assert rf.load()[0]["x"] is None  # NaN stored as null (strict JSON)
    rf.repair()
    rf.append({"run_id": "c", "status": "ok"})
    assert [r["run_id"] for r in rf.load()] == ["a", "b", "c"]
    assert rf.path.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("name", ["digits-smoke", "fashion-mnist", "cifar10-resnet18"])
def test_shipped_configs_resolve(name):
    root = Path(__file__).resolve().parents[2]
    plan = load_plan(load_sections(str(root / "configs" / f"{name}.toml")))
    from unlearnkit.methods import method_names

    assert set(plan.methods) == set(method_names())  # every registered method, listed explicitly
    assert plan.n_runs() == len(plan.entries) * len(plan.config.seeds) * len(method_names())


def test_shipped_attacks_config_resolves():
    root = Path(__file__).resolve().parents[2]
    plan = load_plan(load_sections(str(root / "configs" / "digits-attacks.toml")))
    assert plan.attacks.neurips_n == 16 and plan.attacks.ulira_k == 16
    assert set(plan.attacked_methods) == {"retrain", "finetune", "neggrad_plus", "sure"}
