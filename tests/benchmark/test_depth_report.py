"""Depth profiles in the benchmark report: the figure and tables appear exactly when the rows
carry layer-wise metrics, with the aggregated numbers."""

from __future__ import annotations

from unlearnkit.benchmark import ResultsFile, aggregate_results, build_report
from unlearnkit.benchmark.depth import depth_table, has_layers, setting_layers
from unlearnkit.evaluation import LAYER_METRICS, layer_key

from .test_report import make_row

LAYERS = ("stem", "layer1", "pool")  # not alphabetical: the order comes from layer.<L>.index
#: method -> CKA to retrain per layer (seed 0; seed 1 adds 0.02)
CKA = {
    "original": (0.95, 0.90, 0.60),
    "retrain": (1.0, 1.0, 1.0),
    "finetune": (0.95, 0.91, 0.70),
    "sure": (0.90, 0.85, 0.93),
}


def _rows() -> list[dict]:
    rows = []
    for seed in (0, 1):
        for method, values in CKA.items():
            row = make_row(seed, method)
            for i, (name, v) in enumerate(zip(LAYERS, values)):
                row["metrics"][layer_key(name, "index")] = i
                for metric in LAYER_METRICS:
                    row["metrics"][layer_key(name, metric)] = min(v + 0.02 * seed, 1.0)
            rows.append(row)
    return rows


def test_depth_profile_in_report(tmp_path) -> None:
    out = tmp_path / "bench"
    out.mkdir()
    rf = ResultsFile(out / "results.jsonl")
    for row in _rows():
        rf.append(row)
    setting = aggregate_results(_rows())["settings"][0]
    assert setting_layers(setting) == list(LAYERS)
    table = depth_table(setting)
    assert "| method | `stem` | `layer1` | `pool` |" in table
    assert "| sure | 0.910 ± 0.014 | 0.860 ± 0.014 | 0.940 ± 0.014 |" in table
    paths = build_report(out)
    assert paths["depth"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["markdown"].read_text()
    assert "## Depth profiles" in md and "(figures/depth.png)" in md
    assert "| original | 0.960 ± 0.014 | 0.910 ± 0.014 | 0.610 ± 0.014 |" in md


def test_no_depth_section_without_layer_metrics(tmp_path) -> None:
    out = tmp_path / "bench"
    out.mkdir()
    rf = ResultsFile(out / "results.jsonl")
    rows = [make_row(s, m) for s in (0, 1) for m in CKA]
    for row in rows:
        rf.append(row)
    assert not has_layers(aggregate_results(rows)["settings"])
    paths = build_report(out)
    assert "depth" not in paths
    assert "Depth profiles" not in paths["markdown"].read_text()
