"""benchmarks/gpu_tools.py: the smoke config of benchmarks/gpu.sh and its TOML writer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from unlearnkit.benchmark.grid import load_plan
from unlearnkit.config import load_toml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "fmnist60k-resnet18-gpu.toml"


def _tools():
    spec = importlib.util.spec_from_file_location("gpu_tools", ROOT / "benchmarks" / "gpu_tools.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_config_resolves_to_the_full_size_fast_path_plan():
    plan = load_plan(load_toml(CONFIG))
    assert [e.split.scenario for e in plan.entries] == ["partial-class", "random"]
    assert all(e.split.train_size is None and e.model.name == "resnet18" for e in plan.entries)
    train = plan.entries[0].train
    assert (train.amp, train.channels_last, train.compile, train.check_every) == (
        "bf16", True, True, 50,
    )  # fmt: skip


def test_toml_writer_round_trips_the_benchmark_config(tmp_path):
    tools = _tools()
    cfg = load_toml(CONFIG)
    out = tmp_path / "same.toml"
    out.write_text(tools._toml(cfg))
    assert load_toml(out) == cfg


def test_smoke_config_shrinks_everything_and_stays_valid(tmp_path):
    tools = _tools()
    out = tmp_path / "smoke.toml"
    tools.smoke_config(CONFIG, out)
    cfg = load_toml(out)
    plan = load_plan(cfg)
    assert len(plan.entries) == 2 and cfg["benchmark"]["seeds"] == [0]
    for e in plan.entries:
        assert (e.split.train_size, e.split.val_size, e.split.test_size) == (600, 300, 300)
        assert e.model.width == 4 and e.train.epochs == 1 and not e.train.compile
        assert e.train.amp == "bf16"  # the fast path's other options stay on
    methods = cfg["methods"]
    assert set(methods) == set(cfg["benchmark"]["methods"])
    assert methods["sure"]["epochs"] == 1 and "epochs" not in methods["ssd"]
