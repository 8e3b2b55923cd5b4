"""A two-node Ray cluster on this machine (head + one node, 1 CPU each, 127.0.0.1) runs a tiny
digits grid to the same rows as inline."""

from __future__ import annotations

import os

import pytest

from unlearnkit.benchmark import load_plan, run_benchmark
from unlearnkit.cli import load_sections
from unlearnkit.engine import EngineConfig
from unlearnkit.records import ResultsFile

from .conftest import comparable, write_config

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:the validation-domain set"),  # tiny digits split
]


@pytest.fixture(scope="module")
def two_nodes():
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_two_node_cluster_gives_the_inline_rows(tmp_path, two_nodes, one_thread):
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    # separate model caches: on the cluster the originals and retrains train on the nodes
    plans = [
        load_plan(load_sections(str(write_config(tmp_path / f"{n}.toml", tmp_path / n))))
        for n in ("inline-cache", "cluster-cache")
    ]
    inline = run_benchmark(plans[0], tmp_path / "inline", show_progress=False)
    cluster = run_benchmark(
        plans[1], tmp_path / "cluster", show_progress=False, engine=EngineConfig(workers=2)
    )
    assert (inline.ok, cluster.ok, cluster.failed) == (4, 4, 0)
    rows = [
        {r["run_id"]: comparable(r) for r in ResultsFile(out / "results.jsonl").load()}
        for out in (tmp_path / "inline", tmp_path / "cluster")
    ]
    assert rows[0] == rows[1]
