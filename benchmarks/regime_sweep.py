"""Regime sweep (issue 16, item 3): which Fashion-MNIST configurations give the signal check
signal, per scenario?

For every scenario (random, partial-class, class, confusion) the sweep varies one factor at a
time around a base configuration — training-subset size, CNN width, embedding size, epochs and
forget size — and runs, per configuration, a benchmark of the original and retrain only (the
signal check needs nothing else) over ``--seeds``. Each configuration is its own benchmark file
and output folder (``OUT/<name>/``), timed on its own, so its runtime can be shipped with it;
rerunning resumes (finished runs are skipped, originals and retrains are cached).

At the end (and with ``--summarise`` alone) it writes ``OUT/sweep.md`` and ``OUT/sweep.json``:
per configuration the original's training accuracy, the separation ``d`` (original − retrain in
pooled seed stds, :func:`unlearnkit.evaluation.stats.signal_check`) of forget accuracy, the
loss-attack AUC and the three embedding-attack AUCs, the wall time, and whether it has signal for
forget accuracy, the loss attack and at least one embedding attack (the issue's criterion).

    OMP_NUM_THREADS=2 python benchmarks/regime_sweep.py --out runs/regime-sweep \
        --data-dir /usr/share/datasets/fashion-mnist          # the whole sweep, 3 seeds
    python benchmarks/regime_sweep.py --out runs/regime-sweep --dry-run   # files + commands
    python benchmarks/regime_sweep.py --out runs/regime-sweep --summarise # tables only

Cost estimate (2-core CPU): the base (5,000 training examples, 30 epochs) trains a model in
about 60 s, so a configuration costs ~6 min for 3 seeds (original + retrain) and the 46
configurations about 4–5 hours; ``--scenarios`` and ``--factors`` select a part. Models are
trained afresh (``--no-cache``) so each wall time is honest; an interrupted invocation is not
counted (rerun into a fresh ``--out`` for a clean figure).
MIA-efficacy and the transfer attack are off (not part of the criterion; MIA's RBF SVC is the
slowest metric).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from unlearnkit.benchmark import ResultsFile, aggregate_results

#: the configuration every factor is varied around
BASE: dict[str, Any] = {"train_size": 5000, "width": 16, "embed_dim": 128, "epochs": 30}
#: the values each factor takes besides the base's (one factor varied at a time)
FACTORS: dict[str, list[Any]] = {
    "train_size": [1000, 2500, 10000],
    "width": [8, 32],
    "embed_dim": [32, 256],
    "epochs": [15, 60],
}
#: per scenario: (base forget size, other forget sizes, forget classes)
SCENARIOS: dict[str, tuple[float, list[float], list[int]]] = {
    "random": (0.1, [0.02, 0.3], []),
    "partial-class": (0.5, [0.2, 0.8], [0]),
    "class": (1.0, [], [0]),
    "confusion": (0.25, [0.1, 0.5], [2, 4]),
}
#: the metrics of the criterion: forget accuracy, the loss attack, the embedding attacks
KEYS = ("forget_acc", "loss_auc", "emb_logreg_auc", "emb_knn_auc", "emb_mlp_auc")
EMB_KEYS = KEYS[2:]


def configurations(scenarios: list[str], factors: list[str]) -> list[dict[str, Any]]:
    """Base + one-factor-at-a-time variants per scenario, each a flat dict with a name."""
    out = []
    for sc in scenarios:
        base_forget, forget_sizes, classes = SCENARIOS[sc]
        variants: list[tuple[str, dict[str, Any]]] = [("base", {})]
        for f in factors:
            if f == "forget_size":
                variants += [(f"forget_size={v:g}", {"forget_size": v}) for v in forget_sizes]
            else:
                variants += [(f"{f}={v}", {f: v}) for v in FACTORS[f]]
        for label, change in variants:
            cfg = {**BASE, "forget_size": base_forget, **change}
            name = f"{sc}-{label}".replace("=", "").replace(".", "p")
            out.append({"name": name, "scenario": sc, "varied": label, "classes": classes, **cfg})
    return out


def toml_text(c: dict[str, Any], seeds: list[int]) -> str:
    """The benchmark file of one configuration (original and retrain only)."""
    lines = [
        f"# regime sweep: {c['scenario']}, {c['varied']} (benchmarks/regime_sweep.py)",
        "[benchmark]",
        f'name = "sweep-{c["name"]}"',
        f"seeds = {json.dumps(seeds)}",
        "methods = []",
        "embedding_models = []",
        "save_scores = false",
        "",
        "[[grid.split]]",
        'dataset = "fashion-mnist"',
        f'scenario = "{c["scenario"]}"',
        f"forget_size = {float(c['forget_size'])!r}",
        "val_size = 5000",
        f"train_size = {int(c['train_size'])}",
    ]
    if c["classes"]:
        lines.append(f"forget_classes = {json.dumps(c['classes'])}")
    lines += [
        "",
        "[model]",
        'name = "cnn"',
        f"width = {int(c['width'])}",
        f"embed_dim = {int(c['embed_dim'])}",
        "",
        "[train]",
        f"epochs = {int(c['epochs'])}",
        "batch_size = 128",
        "lr = 0.05",
        'schedule = "cosine"',
        "",
        "[eval]",
        "mia = false",
        "transfer = false",
        "max_per_class = 2000",
        "max_retain = 10000",
    ]
    return "\n".join(lines) + "\n"


def summarise(out: Path, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Signal-check rows of every configuration that has results; writes sweep.md/.json."""
    rows = []
    for c in configs:
        path = out / c["name"] / "run" / "results.jsonl"
        if not path.is_file():
            continue
        (s, *_) = aggregate_results(ResultsFile(path).load())["settings"] or [None]
        if s is None:
            continue
        sig = s["signal"]
        has = {k: sig.get(k, {}).get("has_signal") for k in KEYS}
        timing = out / c["name"] / "sweep-time.json"
        wall = sum(json.loads(timing.read_text())) if timing.is_file() else None
        rows.append(
            {
                **c,
                "seeds": s["seeds"],
                "original_train_acc": s["original_train_acc"]["mean"],
                "d": {k: sig.get(k, {}).get("separation") for k in KEYS},
                "has_signal": has,
                "criterion": bool(
                    has["forget_acc"] and has["loss_auc"] and any(has[k] for k in EMB_KEYS)
                ),
                "wall_s": wall,
            }
        )
    head = "| configuration | seeds | orig. train acc. | d: " + " | ".join(KEYS)
    lines = [head + " | criterion | wall time |", "|---|" + "---:|" * (len(KEYS) + 4)]
    for r in rows:
        ds = [
            "—"
            if r["d"][k] is None
            else (f"**{r['d'][k]:+.1f}**" if r["has_signal"][k] else f"{r['d'][k]:+.1f}")
            for k in KEYS
        ]
        wall = "—" if r["wall_s"] is None else f"{r['wall_s'] / 60:.1f} min"
        lines.append(
            f"| {r['name']} | {len(r['seeds'])} | {100 * r['original_train_acc']:.1f}% | "
            + " | ".join(ds)
            + f" | {'**yes**' if r['criterion'] else 'no'} | {wall} |"
        )
    text = (
        "# Regime sweep: signal check per configuration\n\n"
        "d = (original − retrain) / pooled seed std; signal at |d| ≥ 2 (bold). Criterion: "
        "signal for forget accuracy, the loss-attack AUC and at least one embedding-attack AUC. "
        "Wall time: the completed invocations of the configuration's benchmark (original and "
        "retrain trained afresh, --no-cache, all seeds).\n\n" + "\n".join(lines) + "\n"
    )
    (out / "sweep.md").write_text(text)
    (out / "sweep.json").write_text(json.dumps(rows, indent=2))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/regime-sweep"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    p.add_argument(
        "--factors", nargs="+", default=[*FACTORS, "forget_size"], choices=[*FACTORS, "forget_size"]
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--dry-run", action="store_true", help="write the files, print the commands")
    p.add_argument("--summarise", action="store_true", help="only write sweep.md / sweep.json")
    args = p.parse_args(argv)
    configs = configurations(args.scenarios, args.factors)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summarise:
        for i, c in enumerate(configs, 1):
            folder = args.out / c["name"]
            folder.mkdir(exist_ok=True)
            toml = folder / "benchmark.toml"
            toml.write_text(toml_text(c, args.seeds))
            cmd = [sys.executable, "-m", "unlearnkit", "benchmark", "--config", str(toml)]
            cmd += ["--out", str(folder / "run"), "--device", args.device, "--quiet", "--no-cache"]
            if args.data_dir:
                cmd += ["--data-dir", args.data_dir]
            print(f"[{i}/{len(configs)}] {' '.join(cmd)}", flush=True)
            if args.dry_run:
                continue
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            timing = folder / "sweep-time.json"
            walls = json.loads(timing.read_text()) if timing.is_file() else []
            timing.write_text(json.dumps([*walls, time.perf_counter() - start]))
    rows = summarise(args.out, configs)
    print(f"{len(rows)} configurations summarised in {args.out / 'sweep.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
