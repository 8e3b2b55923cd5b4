"""The engine on Ray (one local runtime for the module, 2 CPUs on 127.0.0.1): the same rows as
inline; SIGKILL of a Ray driver, then resume, loses and repeats nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unlearnkit.benchmark import load_plan, run_benchmark
from unlearnkit.cli import load_sections
from unlearnkit.engine import EngineConfig
from unlearnkit.records import ResultsFile

from .conftest import comparable, write_config

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:the validation-domain set"),  # tiny digits split
]


@pytest.fixture(scope="module")
def ray_runtime():
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def rows_by_id(out):
    return {r["run_id"]: comparable(r) for r in ResultsFile(out / "results.jsonl").load()}


def test_inline_and_ray_rows_are_identical(tmp_path, ray_runtime, one_thread):
    # separate model caches: the Ray run trains its originals and retrains on the workers
    plans = [
        load_plan(
            load_sections(str(write_config(tmp_path / f"{n}.toml", tmp_path / n, seeds=(0, 1))))
        )
        for n in ("inline-cache", "ray-cache")
    ]
    inline = run_benchmark(plans[0], tmp_path / "inline", show_progress=False)
    on_ray = run_benchmark(
        plans[1], tmp_path / "ray", show_progress=False, engine=EngineConfig(workers=2)
    )
    assert (inline.ok, on_ray.ok, on_ray.failed) == (8, 8, 0)
    a, b = rows_by_id(tmp_path / "inline"), rows_by_id(tmp_path / "ray")
    assert set(a) == set(b) and len(a) == 8
    for key in a:
        assert a[key] == b[key], a[key]["method"]
    # the side files are the same bytes
    for row in a.values():
        for rel in row["files"].values():
            assert (tmp_path / "inline" / rel).read_bytes() == (tmp_path / "ray" / rel).read_bytes()


def _start_driver(cfg, out):
    """``unlearnkit benchmark --workers 2`` in its own session (its own local Ray runtime)."""
    entry = "import sys; from unlearnkit.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", entry, "benchmark", "--config", str(cfg), "--out", str(out)]
    cmd += ["--quiet", "--workers", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    results = out / "results.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if results.is_file() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    return proc


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: Ray's raylet, workers and agents)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    """The ``pids`` still running (zombies count as gone)."""
    out = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out.add(pid)
    return out


def test_ctrl_c_stops_the_workers_and_leaves_no_process(tmp_path, one_thread):
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache", seeds=(0, 1))
    proc = _start_driver(cfg, tmp_path / "out")
    started = _descendants(proc.pid)
    try:
        assert len(started) >= 3  # a local Ray runtime: GCS, raylet, workers ...
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)
        assert rc == 130, proc.stderr.read().decode()[-3000:] if proc.stderr else rc
        deadline = time.monotonic() + 30
        while _alive(started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(started)  # raylet, workers, agents: all gone
    finally:
        for pid in _alive(started):  # (only when the test failed)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if proc.stderr:
            proc.stderr.close()


def test_sigkill_of_a_ray_driver_then_resume_loses_and_repeats_nothing(
    tmp_path, ray_runtime, one_thread
):
    cfg = write_config(tmp_path / "b.toml", tmp_path / "cache", seeds=(0, 1))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    proc = _start_driver(cfg, out)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        # Ray's agents of the killed driver's runtime share its process group: end them too
        time.sleep(1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.stderr:
            proc.stderr.close()
    before = ResultsFile(results).load()
    assert 1 <= len(before) < 8
    first = results.read_bytes().split(b"\n")[: len(before)]

    plan = load_plan(load_sections(str(cfg)))
    outcome = run_benchmark(plan, out, show_progress=False, engine=EngineConfig(workers=2))
    assert (outcome.skipped, outcome.ok, outcome.failed) == (len(before), 8 - len(before), 0)
    rows = ResultsFile(results).load()
    ids = [r["run_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 8  # nothing lost, nothing repeated
    assert results.read_bytes().split(b"\n")[: len(before)] == first
    assert all(r["status"] == "ok" for r in rows)


ATTACK = ["attack", "neurips", "--method", "finetune", "--n", "3", "--train-size", "300",
          "--forget-classes", "3", "--model", "cnn", "--model-width", "4", "--model-embed-dim",
          "16", "--epochs", "2", "--lr", "0.1", "--finetune-epochs", "1", "--seed", "0",
          "--device", "cpu", "--quiet"]  # fmt: skip


def test_attack_pool_and_runs_on_ray_match_inline(tmp_path, ray_runtime, one_thread):
    import json

    import numpy as np

    from unlearnkit.cli import main

    for name, extra in (("inline", []), ("ray", ["--workers", "2"])):
        argv = [*ATTACK, "--cache-dir", str(tmp_path / f"cache-{name}")]
        assert main([*argv, "--out", str(tmp_path / name), *extra]) == 0
    got = {}
    for name in ("inline", "ray"):
        payload = json.loads((tmp_path / name / "neurips.json").read_text())
        res = payload["results"]["finetune"]
        assert res["pool_trainings"] == 3 and res["unlearning_runs"] == 3  # all trained here
        with np.load(tmp_path / name / "neurips_scores.npz") as z:
            got[name] = (res, {k: z[k] for k in z.files})
    timing = {"wall_time", "wall_time_pool", "wall_time_method", "method_wall_time", "pool"}
    a, b = ({k: v for k, v in r.items() if k not in timing} for r, _ in got.values())
    assert a == b
    arrays_a, arrays_b = got["inline"][1], got["ray"][1]
    assert set(arrays_a) == set(arrays_b)
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
