"""A two-node Ray cluster on this machine runs a benchmark file; its rows are compared with an
inline run's (timings left out). Prints the wall times and whether the rows are identical.

    python benchmarks/engine_cluster.py configs/digits-smoke.toml OUT

The two nodes come from ``ray.cluster_utils.Cluster`` (a head plus one added node, 1 CPU each)
on 127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``); the inline run goes first with its own
model cache, the cluster run with another, so both train their originals and retrains.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only, before ray is imported

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from unlearnkit.benchmark import load_plan, run_benchmark  # noqa: E402
from unlearnkit.cli import load_sections  # noqa: E402
from unlearnkit.engine import EngineConfig  # noqa: E402
from unlearnkit.records import ResultsFile  # noqa: E402

TIMING = {"wall_time", "eval_time", "elapsed", "finished_at", "train_wall_time"}


def comparable(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k not in TIMING and k != "history"}
    out["metrics"] = {k: v for k, v in row.get("metrics", {}).items() if k not in TIMING}
    out["info"] = {k: v for k, v in row.get("info", {}).items() if k not in TIMING}
    return out


def main(config: str, out: str) -> int:
    root = Path(out)
    sections = load_sections(config)
    runs = {}
    for name in ("inline", "cluster"):
        overrides = {"cache_dir": str(root / f"cache-{name}"), "device": "cpu"}
        plan = load_plan(sections, overrides)
        t0 = time.perf_counter()
        if name == "inline":
            outcome = run_benchmark(plan, root / name, show_progress=False)
        else:
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
            try:
                cluster.add_node(num_cpus=1)
                ray.init(address=cluster.address, log_to_driver=False)
                nodes = len([n for n in ray.nodes() if n["Alive"]])
                engine = EngineConfig(workers=2)
                outcome = run_benchmark(plan, root / name, show_progress=False, engine=engine)
            finally:
                ray.shutdown()
                cluster.shutdown()
        wall = time.perf_counter() - t0
        print(f"{name}: {outcome.ok} ok, {outcome.failed} failed in {wall:.1f} s")
        runs[name] = {r["run_id"]: comparable(r) for r in ResultsFile(root / name / "results.jsonl").load()}
    same = runs["inline"] == runs["cluster"]
    print(f"two-node cluster ({nodes} nodes): {len(runs['cluster'])} rows; identical to inline: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
