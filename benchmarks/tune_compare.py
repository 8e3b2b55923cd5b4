"""Helpers of benchmarks/tune_optuna.sh (no timing here, only files and tables).

python benchmarks/tune_compare.py config SRC.toml OUT.toml
    the benchmark file SRC with only its partial-class setting and no method tables (every
    method starts from its paper defaults, so no sampler starts from an earlier search's
    winners)
python benchmarks/tune_compare.py table RUNS_DIR
    the best val objective per method for every tune folder RUNS_DIR/<sampler>-s<seed>,
    mean ± std over the sampler seeds, as a markdown table (for docs/tuning.md)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from unlearnkit.cli import load_sections
from unlearnkit.tuning.report import to_toml


def make_config(src: str, dst: str) -> None:
    sections = load_sections(src)
    splits = [s for s in sections["grid"]["split"] if s.get("scenario") == "partial-class"]
    if not splits:
        raise SystemExit(f"{src} has no partial-class [[grid.split]]")
    sections["grid"]["split"] = splits
    sections.pop("methods", None)
    sections["benchmark"]["name"] = sections["benchmark"]["name"] + "-partial-class"
    Path(dst).write_text(to_toml(sections))


def table(runs: str) -> None:
    best: dict[str, dict[str, list[float]]] = {}
    for folder in sorted(Path(runs).glob("*-s*")):
        sampler = folder.name.rsplit("-s", 1)[0]
        summary = json.loads((folder / "tuning.json").read_text())
        for s in summary["studies"].values():
            if s["best_objective"] is not None:
                best.setdefault(s["method"], {}).setdefault(sampler, []).append(s["best_objective"])
    samplers = sorted({k for v in best.values() for k in v})
    print("| method | " + " | ".join(f"best val objective, {s}" for s in samplers) + " |")
    print("|---|" + "---|" * len(samplers))
    for method, per in best.items():
        cells = []
        for s in samplers:
            v = per.get(s, [])
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):.2f} ± {sd:.2f} (n = {len(v)})" if v else "—")
        print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "config":
        make_config(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        raise SystemExit(__doc__)
