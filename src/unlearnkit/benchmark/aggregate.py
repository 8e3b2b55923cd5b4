"""Aggregate benchmark rows: mean ± std over seeds, gaps and Avg. Gap to retrain, ranks, runtime.

Rows are grouped by *setting* — the split without its seed, the model and the recipe (so two
partial-class splits of one dataset with different sizes stay apart) — and, inside a setting,
by seed: the runs of one seed share their original and retrain. For every method and metric:

* ``mean``, ``std`` (ddof = 1; NaN for one seed) and ``n`` of the metric over seeds;
* ``gap_mean`` / ``gap_std``: the per-seed gap ``|method − retrain of the same seed|`` (for the
  metrics whose target is retrain's value, see :mod:`unlearnkit.evaluation.registry`), then
  mean ± std over seeds;
* ``rank``: 1 = the smallest ``gap_mean`` among the non-retrain models (ties share the lower
  rank).

Per method also: SalUn's Avg. Gap (``avg_gap``: per seed, the mean gap in percentage points over
the registry's ``in_avg_gap`` metrics — forget, retain, test accuracy, MIA-efficacy — via
:class:`~unlearnkit.evaluation.EvaluationResult`; then mean ± std and its rank), the same for the
representation-level ``avg_gap_repr``, the mean rank over the Avg. Gap metrics, and the runtime
relative to retrain
(``wall_time / retrain's wall_time`` per seed, then mean ± std).

Statistics (:mod:`unlearnkit.evaluation.stats`, from two seeds on):

* ``signal[metric]``: the signal check of every metric compared with retrain — the original's
  mean minus retrain's in units of their pooled seed std, ``has_signal`` at
  ``|separation| ≥ 2`` (:data:`~unlearnkit.evaluation.stats.SIGNAL_THRESHOLD`);
* ``paired[key]``: for the summary keys (:data:`PAIRED_KEYS`: the Avg. Gap, then forget and
  test accuracy and the attacks), a :class:`~unlearnkit.evaluation.stats.Ranking` of the
  non-retrain models by their per-seed gap to retrain — paired differences with bootstrap CIs,
  paired t and Wilcoxon p-values, Holm-corrected across the pairs, rank groups and the best
  method where it is significantly best.

Per-example attacks (``attacks.jsonl``, :func:`aggregate_attacks`): per setting, attack (with
its N or K) and method, mean ± std over seeds of the keys in :data:`ATTACK_METRICS`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from unlearnkit.benchmark.grid import stable_hash
from unlearnkit.benchmark.runner import latest_rows
from unlearnkit.evaluation import (
    AVG_GAP_KEYS,
    GAP_DEFINITIONS,
    METRICS,
    EvaluationError,
    EvaluationResult,
    format_gap,
    format_value,
)
from unlearnkit.evaluation.stats import ALPHA, rank_methods, signal_check
from unlearnkit.pipeline import REFERENCE_METHODS

__all__ = [
    "ATTACK_METRICS",
    "ATTACK_SIZE",
    "NO_SIGNAL",
    "PAIRED_KEYS",
    "aggregate_attacks",
    "aggregate_results",
    "attack_table",
    "metric_table",
    "no_signal_keys",
    "paired_table",
    "ranking_table",
    "rows_from_seeds",
    "setting_label",
    "signal_cell",
    "signal_table",
    "summary_table",
]


#: the summary keys compared pairwise between methods (on per-seed gaps to retrain), in order
PAIRED_KEYS: tuple[str, ...] = (
    "avg_gap",
    "avg_gap_repr",
    "forget_acc",
    "test_acc",
    "mia_efficacy_confidence",
    "loss_auc",
    "emb_logreg_auc",
    "emb_knn_auc",
    "emb_mlp_auc",
)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _stat(values: Sequence[float]) -> dict[str, float]:
    v = [float(x) for x in values if _finite(x)]
    if not v:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    std = float(np.std(v, ddof=1)) if len(v) > 1 else math.nan
    return {"mean": float(np.mean(v)), "std": std, "n": len(v)}


def _without_seed(d: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (d or {}).items() if k != "seed"}


def _setting_key(row: Mapping[str, Any]) -> str:
    """The setting of a row: its split without the seed, the model and the recipe."""
    return stable_hash(
        {
            "split": _without_seed(row.get("split")),
            "model": row.get("model"),
            "train": _without_seed(row.get("train")),
        },
        12,
    )


def _new_setting(key: str, row: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "label": setting_label(row.get("split") or {}),
        "dataset": row.get("dataset"),
        "scenario": row.get("scenario"),
        "split": _without_seed(row.get("split")),
        "model": row.get("model"),
        "train": _without_seed(row.get("train")),
        **extra,
    }


def _unique_labels(settings: Iterable[dict[str, Any]]) -> None:
    """Settings with the same label (they differ in model or recipe) get their key appended."""
    settings = list(settings)
    labels = [s["label"] for s in settings]
    for s in settings:
        if labels.count(s["label"]) > 1:
            s["label"] += f" [{s['key'][:6]}]"


def setting_label(split: Mapping[str, Any]) -> str:
    """A short human label of a split config, e.g. ``digits partial-class (50% of class 3)``."""
    ds, sc = split.get("dataset", "?"), split.get("scenario", "?")
    size = split.get("forget_size")
    classes = ", ".join(str(c) for c in split.get("forget_classes", []) or [])

    def amount() -> str:
        if size is None:
            return ""
        return f"{100 * size:g}%" if size < 1 else f"{int(size)} examples"

    if sc == "random":
        detail = f"{amount()} of train"
    elif sc == "partial-class":
        detail = f"{amount()} of class {classes}"
    elif sc == "confusion":
        detail = f"{amount()} of classes {classes} mislabelled as each other"
    else:
        detail = f"class {classes}"
    if split.get("train_size"):
        detail += f", train subset {split['train_size']}"
    return f"{ds} {sc} ({detail})"


def _order(methods: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(methods))
    return [m for m in REFERENCE_METHODS if m in seen] + [
        m for m in seen if m not in REFERENCE_METHODS
    ]


def _ranks(values: Mapping[str, float]) -> dict[str, int]:
    names = [m for m, v in values.items() if _finite(v)]
    if not names:
        return {}
    r = rankdata([values[m] for m in names], method="min")
    return {m: int(x) for m, x in zip(names, r)}


def rows_from_seeds(
    per_seed: Mapping[int, Mapping[str, Mapping[str, float]]],
    *,
    split: Mapping[str, Any],
    model: Mapping[str, Any],
    train: Mapping[str, Any],
    original_train_acc: Mapping[int, float] | None = None,
) -> list[dict[str, Any]]:
    """Benchmark-style rows from per-seed metric rows ``per_seed[seed][model][metric]`` of one
    setting (e.g. ``unlearnkit run`` over several seeds), for :func:`aggregate_results`.

    ``split``, ``model`` and ``train`` are the configs as dicts (their ``seed`` is replaced by
    each row's seed), so every row falls into one setting.
    """
    rows = []
    for seed, by_model in per_seed.items():
        for m, metrics in by_model.items():
            rows.append(
                {
                    "run_id": f"{m}-{seed}",
                    "seed": int(seed),
                    "method": m,
                    "status": "ok",
                    "metrics": dict(metrics),
                    "dataset": split.get("dataset"),
                    "scenario": split.get("scenario"),
                    "split": {**split, "seed": int(seed)},
                    "model": dict(model),
                    "train": {**train, "seed": int(seed)},
                    "original_train_acc": (original_train_acc or {}).get(seed, math.nan),
                }
            )
    return rows


def aggregate_results(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate ``results.jsonl`` rows (the last row of each run_id counts; see module doc).

    Returns ``{"n_rows", "n_ok", "n_failed", "settings": [setting, ...]}``; each setting has
    ``key, label, dataset, scenario, split, model, train, seeds, methods, original_train_acc,
    metrics[method][metric] = {mean, std, n, gap_mean, gap_std, rank}, avg_gap[method] =
    {mean, std, n, rank, per_seed}, mean_rank[method], runtime_rel[method] = {mean, std, n},
    failed = [{method, seed, error}]``.
    """
    rows = latest_rows([dict(r) for r in rows])
    settings: dict[str, dict[str, Any]] = {}
    n_ok = n_failed = 0
    for row in rows:
        key = _setting_key(row)
        if key not in settings:
            settings[key] = _new_setting(key, row, by_seed={}, failed=[])
        s = settings[key]
        seed = int(row.get("seed", 0))
        if row.get("status") == "ok":
            n_ok += 1
            s["by_seed"].setdefault(seed, {})[row["method"]] = row
        else:
            n_failed += 1
            s["failed"].append(
                {"method": row.get("method"), "seed": seed, "error": row.get("error", "")}
            )
    _unique_labels(settings.values())
    out = [_aggregate_setting(s) for s in settings.values()]
    return {"n_rows": len(rows), "n_ok": n_ok, "n_failed": n_failed, "settings": out}


def _aggregate_setting(s: dict[str, Any]) -> dict[str, Any]:
    by_seed: dict[int, dict[str, Mapping[str, Any]]] = s.pop("by_seed")
    seeds = sorted(by_seed)
    methods = _order(m for seed in seeds for m in by_seed[seed])
    values: dict[str, dict[str, dict[int, float]]] = {m: {} for m in methods}
    gaps: dict[str, dict[str, dict[int, float]]] = {m: {} for m in methods}
    # per gap average (avg_gap = SalUn's Avg. Gap, avg_gap_repr), per method, per seed
    avg: dict[str, dict[str, dict[int, float]]] = {
        g: {m: {} for m in methods} for g in GAP_DEFINITIONS
    }
    runtime: dict[str, list[float]] = {m: [] for m in methods}
    train_acc: dict[int, float] = {}
    for seed in seeds:
        group = by_seed[seed]
        metrics = {
            m: {k: float(v) for k, v in (r.get("metrics") or {}).items() if _finite(v)}
            for m, r in group.items()
        }
        for m, row in group.items():
            if _finite(row.get("original_train_acc")):
                train_acc[seed] = float(row["original_train_acc"])
            for k, v in metrics[m].items():
                values[m].setdefault(k, {})[seed] = v
        if "retrain" not in metrics:
            continue
        ev = EvaluationResult(rows=metrics, reference="retrain")
        for m, g in ev.gaps().items():
            for k, v in g.items():
                gaps[m].setdefault(k, {})[seed] = v
            for kind in GAP_DEFINITIONS:
                with contextlib.suppress(EvaluationError):  # no metric of it for this model
                    avg[kind][m][seed] = ev.avg_gap(m, kind=kind)
        ref_time = metrics["retrain"].get("wall_time")
        for m in metrics:
            t = metrics[m].get("wall_time")
            if t is None or ref_time is None or not (_finite(t) and _finite(ref_time)):
                continue
            if ref_time > 0:
                runtime[m].append(t / ref_time)

    out_metrics: dict[str, dict[str, dict[str, Any]]] = {}
    for m in methods:
        keys = [k for k in METRICS if k in values[m]] + [k for k in values[m] if k not in METRICS]
        out_metrics[m] = {}
        for k in keys:
            st: dict[str, Any] = _stat(list(values[m][k].values()))
            if k in gaps[m]:
                g = _stat(list(gaps[m][k].values()))
                st["gap_mean"], st["gap_std"] = g["mean"], g["std"]
            out_metrics[m][k] = st
    competitors = [m for m in methods if m != "retrain"]
    all_keys = dict.fromkeys(k for m in competitors for k in out_metrics[m])
    for k in all_keys:
        ranks = _ranks(
            {
                m: out_metrics[m][k].get("gap_mean", math.nan)
                for m in competitors
                if k in out_metrics[m]
            }
        )
        for m, r in ranks.items():
            out_metrics[m][k]["rank"] = r
    out_gaps: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, per_method in avg.items():
        out_avg: dict[str, dict[str, Any]] = {
            m: {**_stat(list(per_method[m].values())), "per_seed": dict(per_method[m])}
            for m in methods
        }
        for m, r in _ranks({m: float(out_avg[m]["mean"]) for m in competitors}).items():
            out_avg[m]["rank"] = r
        out_gaps[kind] = out_avg
    mean_rank = {}
    for m in competitors:
        rs = [
            out_metrics[m][k]["rank"] for k in AVG_GAP_KEYS if "rank" in out_metrics[m].get(k, {})
        ]
        mean_rank[m] = float(np.mean(rs)) if rs else math.nan
    acc = list(train_acc.values())
    return {
        **s,
        "seeds": seeds,
        "methods": methods,
        "original_train_acc": {
            "mean": float(np.mean(acc)) if acc else math.nan,
            "min": float(np.min(acc)) if acc else math.nan,
            "per_seed": train_acc,
        },
        "metrics": out_metrics,
        **out_gaps,
        "mean_rank": mean_rank,
        "runtime_rel": {m: _stat(runtime[m]) for m in methods},
        "signal": _signals(values),
        "sure_adversary": _sure_adversary(by_seed),
        "paired": _paired({**_gaps_by_key(gaps), **avg}, competitors),
    }


def _sure_adversary(by_seed: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """SURE's adversary per seed from the rows' ``info``: the warmed-up discriminator's
    held-out accuracy, the no-op flag (and why), the relative shift of the forget
    representations; ``n_noop`` of ``n`` runs flagged. Empty without SURE rows."""
    per_seed: dict[int, dict[str, Any]] = {}
    for seed, group in sorted(by_seed.items()):
        info = (group.get("sure") or {}).get("info") or {}
        if "sure_noop" in info:
            per_seed[seed] = {
                k: info.get(k)
                for k in (
                    "disc_warmup_heldout_acc",
                    "sure_noop",
                    "sure_noop_reason",
                    "forget_repr_shift",
                )
            }
    if not per_seed:
        return {}
    n_noop = sum(bool(v["sure_noop"]) for v in per_seed.values())
    return {"per_seed": per_seed, "n": len(per_seed), "n_noop": n_noop}


def _gaps_by_key(gaps: Mapping[str, Mapping[str, Mapping[int, float]]]) -> dict[str, Any]:
    """``gaps[method][key][seed]`` → ``{key: {method: {seed: gap}}}``."""
    out: dict[str, dict[str, Mapping[int, float]]] = {}
    for m, per_key in gaps.items():
        for k, per_seed in per_key.items():
            out.setdefault(k, {})[m] = per_seed
    return out


#: metrics whose retrain value is fixed by construction (CKA of retrain to itself is 1): a
#: separation from it says nothing about seed noise
_NO_SIGNAL_CHECK = frozenset({"cka_to_reference"})


def _signals(values: Mapping[str, Mapping[str, Mapping[int, float]]]) -> dict[str, dict[str, Any]]:
    """The signal check (original vs retrain over seeds) of every metric compared with retrain;
    values are aligned by seed (a seed one side lacks is dropped from both)."""
    out: dict[str, dict[str, Any]] = {}
    if "original" not in values or "retrain" not in values:
        return out
    for k in METRICS:  # registry order
        if k not in values["original"] or k not in values["retrain"]:
            continue
        if not METRICS[k].compared_to_reference or k in _NO_SIGNAL_CHECK:
            continue
        o, r = values["original"][k], values["retrain"][k]
        common = sorted(set(o) & set(r))
        out[k] = signal_check([o[x] for x in common], [r[x] for x in common]).to_dict()
    return out


def _paired(
    per_key: Mapping[str, Mapping[str, Mapping[int, float]]], competitors: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """A :func:`~unlearnkit.evaluation.stats.rank_methods` ranking (lower gap is better) per
    :data:`PAIRED_KEYS` entry present for at least two competitors."""
    out: dict[str, dict[str, Any]] = {}
    for k in PAIRED_KEYS:
        data = {m: per_key.get(k, {}).get(m, {}) for m in competitors}
        data = {m: v for m, v in data.items() if any(_finite(x) for x in v.values())}
        if len(data) >= 2:
            out[k] = rank_methods(data, lower_is_better=True).to_dict()
    return out


# --------------------------------------------------------------------------- tables


def _pm(key: str, st: Mapping[str, Any] | None, *, gap: bool = False) -> str:
    if not st or not _finite(st.get("gap_mean" if gap else "mean")):
        return "—"
    fmt = format_gap if gap else format_value
    mean = st["gap_mean" if gap else "mean"]
    std = st.get("gap_std" if gap else "std")
    text = fmt(key, mean)
    if std is not None and _finite(std):
        text += f" ± {format_gap(key, float(std))}"
    return text


def _num(v: Any, spec: str = ".2f") -> str:
    return format(v, spec) if _finite(v) else "—"


def _render(header: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()

    return (
        "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body]) + "\n"
    )


def _noop_mark(setting: Mapping[str, Any], method: str) -> str:
    """`` (no-op k/n)`` after SURE when its adversary was flagged as at chance in k runs."""
    adv = setting.get("sure_adversary") or {}
    if method != "sure" or not adv.get("n_noop"):
        return ""
    return f" (no-op {adv['n_noop']}/{adv['n']})"


def _gap_cells(a: Mapping[str, Any], method: str) -> list[str]:
    """``mean ± std`` and the rank of one gap average for one method."""
    mean = _num(a["mean"]) + (f" ± {_num(a['std'])}" if _finite(a["std"]) else "")
    return [mean, str(a.get("rank", "—")) if method != "retrain" else ""]


def summary_table(setting: Mapping[str, Any], *, markdown: bool = False) -> str:
    """Methods as rows: SalUn's Avg. Gap (mean ± std, rank), the Avg. Gap metrics (mean ±
    std), the mean rank over them, the representation-level Avg. Gap (repr.) (mean ± std,
    rank), and runtime relative to retrain. A metric whose signal check found no signal (the
    original and retrain within two pooled seed stds) is marked ``†``."""
    methods = setting["methods"]
    keys = [k for k in AVG_GAP_KEYS if any(k in setting["metrics"][m] for m in methods)]
    pct = lambda k: " %" if METRICS[k].unit == "%" else ""  # noqa: E731
    quiet = set(no_signal_keys(setting))
    gap_kinds = [g for g in GAP_DEFINITIONS if g in setting]
    header = ["method", "Avg. Gap (pp)", "rank"] + [
        METRICS[k].label + pct(k) + (" †" if k in quiet else "") for k in keys
    ]
    header += ["mean rank"]
    for g in gap_kinds[1:]:
        header += [f"{GAP_DEFINITIONS[g].label} (pp)", "rank"]
    header += ["time × retrain"]
    body = []
    for m in methods:
        cells = [m + (" (ref.)" if m == "retrain" else "") + _noop_mark(setting, m)]
        cells += _gap_cells(setting["avg_gap"][m], m)
        cells += [_pm(k, setting["metrics"][m].get(k)) for k in keys]
        cells.append(_num(setting["mean_rank"].get(m), ".1f") if m != "retrain" else "")
        for g in gap_kinds[1:]:
            cells += _gap_cells(setting[g][m], m)
        rt = setting["runtime_rel"][m]
        cells.append(
            _num(rt["mean"], ".3g") + (f" ± {_num(rt['std'], '.2g')}" if _finite(rt["std"]) else "")
        )
        body.append(cells)
    return _render(header, body, markdown)


def metric_table(setting: Mapping[str, Any], *, markdown: bool = True) -> str:
    """Metrics as rows, methods as columns: ``mean ± std`` over seeds, the mean per-seed gap
    to retrain ``(Δ …)`` and the rank by that gap ``[#r]``."""
    methods = setting["methods"]
    present: dict[str, None] = {}
    for m in methods:
        present.update(dict.fromkeys(setting["metrics"][m]))
    keys = [k for k in METRICS if k in present] + [k for k in present if k not in METRICS]
    header = ["metric"] + [m + (" (ref.)" if m == "retrain" else "") for m in methods]
    signals = setting.get("signal", {})
    if signals:
        header.append("signal (original vs retrain)")
    body = []
    for k in keys:
        info = METRICS.get(k)
        label = (info.label + (" %" if info.unit == "%" else "")) if info else k
        cells = [label]
        for m in methods:
            st = setting["metrics"][m].get(k)
            cell = _pm(k, st)
            if st and m != "retrain" and "gap_mean" in st:
                cell += f" (Δ{_pm(k, st, gap=True)})"
            if st and "rank" in st:
                cell += f" [#{st['rank']}]"
            cells.append(cell)
        if signals:
            cells.append(signal_cell(signals.get(k)))
        body.append(cells)
    for g, d in GAP_DEFINITIONS.items():
        if g not in setting:
            continue
        avg = [f"{d.label} (pp)"]
        for m in methods:
            a = setting[g][m]
            cell = _num(a["mean"]) + (f" ± {_num(a['std'])}" if _finite(a["std"]) else "")
            if "rank" in a:
                cell += f" [#{a['rank']}]"
            avg.append(cell)
        if signals:
            avg.append("")
        body.append(avg)
    return _render(header, body, markdown)


# --------------------------------------------------------------------------- statistics

#: what a table cell says for a metric whose signal check failed
NO_SIGNAL = "no signal at this scale"


def _label(key: str) -> str:
    if key in GAP_DEFINITIONS:
        return GAP_DEFINITIONS[key].label
    info = METRICS.get(key)
    return (info.label + (" %" if info.unit == "%" else "")) if info else key


def _fmt_gap(key: str, v: Any) -> str:
    """A gap or a difference of gaps in the key's displayed unit (pp for percentages)."""
    if not _finite(v):
        return "—"
    return _num(v) if key in GAP_DEFINITIONS else format_gap(key, v)


def no_signal_keys(setting: Mapping[str, Any]) -> list[str]:
    """Metrics whose signal check says no signal (decided: ≥ 2 seeds on both sides)."""
    return [k for k, sig in setting.get("signal", {}).items() if sig.get("has_signal") is False]


def signal_cell(sig: Mapping[str, Any] | None) -> str:
    """``d = +3.1`` for a metric with signal, ``d = +0.4: no signal at this scale`` without,
    ``—`` when it cannot be decided (fewer than two seeds)."""
    if not sig or sig.get("has_signal") is None:
        return "—"
    d = float(sig["separation"])
    text = f"d = {d:+.1f}" if math.isfinite(d) else f"d = {'+' if d > 0 else '−'}∞"
    return text if sig["has_signal"] else f"{text}: {NO_SIGNAL}"


def signal_table(setting: Mapping[str, Any], *, markdown: bool = True) -> str:
    """One row per metric compared with retrain: original and retrain (mean ± std over seeds),
    the separation ``d`` (difference of means in pooled seed stds), the AUC of telling the two
    apart over seeds, and the verdict."""
    header = ["metric", "original", "retrain", "d (pooled seed std)", "seed AUC", "signal"]
    body = []
    for k, sig in setting.get("signal", {}).items():
        o = setting["metrics"]["original"].get(k)
        r = setting["metrics"]["retrain"].get(k)
        verdict = {True: "yes", False: NO_SIGNAL, None: "undecided (< 2 seeds)"}[
            sig.get("has_signal")
        ]
        d = sig["separation"]
        body.append(
            [
                _label(k),
                _pm(k, o),
                _pm(k, r),
                "—" if math.isnan(d) else f"{d:+.2f}",
                _num(sig["seed_auc"]),
                verdict,
            ]
        )
    return _render(header, body, markdown)


def ranking_table(setting: Mapping[str, Any], *, markdown: bool = True) -> str:
    """Methods (in Avg. Gap order) × summary keys: mean per-seed gap to retrain ± std, its rank
    and its group ``(#rank, group)``; methods that share a group letter are not significantly
    different (Holm-corrected paired t-tests). Keys without signal are marked."""
    paired = setting.get("paired", {})
    keys = [k for k in PAIRED_KEYS if k in paired]
    if not keys:
        return ""
    quiet = set(no_signal_keys(setting))
    order = list(paired[keys[0]]["order"])
    order += [m for k in keys for m in paired[k]["order"] if m not in order]
    unit = lambda k: " (pp)" if k in GAP_DEFINITIONS or METRICS[k].unit == "%" else ""  # noqa: E731
    header = ["method"] + [
        (
            f"{_label(k)} (pp)"
            if k in GAP_DEFINITIONS
            else f"{_label(k).removesuffix(' %')} gap{unit(k)}"
        )
        + (f" ({NO_SIGNAL})" if k in quiet else "")
        for k in keys
    ]
    body = []
    for m in order:
        cells = [m]
        for k in keys:
            r = paired[k]
            if m not in r["mean"]:
                cells.append("—")
                continue
            text = _fmt_gap(k, r["mean"][m])
            if _finite(r["std"][m]):
                text += f" ± {_fmt_gap(k, r['std'][m])}"
            best = " best" if r["best"] == m else ""
            cells.append(f"{text} (#{r['rank'][m]}, {r['groups'][m]}{best})")
        body.append(cells)
    return _render(header, body, markdown)


def paired_table(setting: Mapping[str, Any], key: str, *, markdown: bool = True) -> str:
    """Every pair of methods on one summary key: the mean paired difference of their per-seed
    gaps (A − B; negative = A closer to retrain) with its 95% bootstrap CI, the paired t and
    Wilcoxon p-values, the Holm-corrected p-value and whether the difference is significant."""
    r = setting.get("paired", {}).get(key)
    if not r:
        return ""
    header = ["A", "B", "seeds", "mean A − B", "95% CI", "p (t)", "p (Wilcoxon)", "p (Holm)"]
    header.append(f"Holm p < {ALPHA:g}")
    body = []
    for c in r["comparisons"]:
        ci = f"[{_fmt_gap(key, c['ci_low'])}, {_fmt_gap(key, c['ci_high'])}]"
        mean = _fmt_gap(key, c["mean_diff"])
        body.append(
            [
                c["a"],
                c["b"],
                str(c["n"]),
                mean,
                ci if _finite(c["ci_low"]) else "—",
                _num(c["p_t"], ".3g"),
                _num(c["p_wilcoxon"], ".3g"),
                _num(c["p_holm"], ".3g"),
                "significant" if c["significant"] else "no",
            ]
        )
    return _render(header, body, markdown)


# --------------------------------------------------------------------------- attacks

#: the main keys of each per-example attack, aggregated and shown in the report
ATTACK_METRICS: dict[str, tuple[str, ...]] = {
    "neurips": (
        "score",
        "forgetting_quality",
        "emb_forgetting_quality",
        "epsilon_median",
        "frac_capped",
    ),
    "ulira": ("auc", "auc_p_value", "tpr_at_1pct_fpr", "emb_auc"),
}

#: the name of each attack's size: models per side (NeurIPS) or shadow models (U-LiRA)
ATTACK_SIZE: dict[str, str] = {"neurips": "N", "ulira": "K"}

#: column label and number format of each attack key
_ATTACK_COLUMNS: dict[str, tuple[str, str]] = {
    "score": ("score", ".4f"),
    "forgetting_quality": ("F", ".4f"),
    "emb_forgetting_quality": ("emb. F", ".4f"),
    "epsilon_median": ("ε median", ".2f"),
    "frac_capped": ("ε capped", ".3f"),
    "auc": ("AUC", ".3f"),
    "auc_p_value": ("p-value", ".3f"),
    "tpr_at_1pct_fpr": ("TPR@1% FPR", ".3f"),
    "emb_auc": ("emb. AUC", ".3f"),
}


def aggregate_attacks(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate ``attacks.jsonl`` rows (the last row of each ``attack_id`` counts).

    Rows are grouped by setting (as in :func:`aggregate_results`), then by attack and size.
    Returns ``{"n_rows", "n_ok", "n_failed", "settings": [setting, ...]}``; each setting has
    ``key, label, dataset, scenario, split, model, train, failed = [{attack, size, method, seed,
    error}]`` and ``attacks``: one entry per (attack, size) with ``attack``, ``size``,
    ``size_name`` (``N`` or ``K``), ``options``, ``keys`` (:data:`ATTACK_METRICS`), ``seeds``,
    ``methods`` (retrain first) and ``metrics[method][key] = {mean, std, n}`` over seeds.
    """
    rows = latest_rows([dict(r) for r in rows], "attack_id")
    settings: dict[str, dict[str, Any]] = {}
    n_ok = n_failed = 0
    for row in rows:
        key = _setting_key(row)
        if key not in settings:
            settings[key] = _new_setting(key, row, entries={}, failed=[])
        s = settings[key]
        attack, size = str(row.get("attack")), row.get("size")
        seed = int(row.get("seed", 0))
        if row.get("status") != "ok":
            n_failed += 1
            s["failed"].append(
                {
                    "attack": attack,
                    "size": size,
                    "method": row.get("method"),
                    "seed": seed,
                    "error": row.get("error", ""),
                }
            )
            continue
        n_ok += 1
        entry = s["entries"].setdefault(
            (attack, size),
            {
                "attack": attack,
                "size": size,
                "size_name": ATTACK_SIZE.get(attack, "size"),
                "options": dict(row.get("options") or {}),
                "keys": ATTACK_METRICS.get(attack, ()),
                "values": {},
                "seeds": set(),
            },
        )
        entry["seeds"].add(seed)
        results = row.get("results") or {}
        per_method = entry["values"].setdefault(str(row.get("method")), {})
        for k in entry["keys"]:
            per_method.setdefault(k, []).append(results.get(k))
    _unique_labels(settings.values())
    out = []
    for s in settings.values():
        entries = []
        order = {a: i for i, a in enumerate(ATTACK_METRICS)}
        by_attack = sorted(
            s.pop("entries").items(), key=lambda kv: (order.get(kv[0][0], 99), str(kv[0][1]))
        )
        for _, e in by_attack:
            values = e.pop("values")
            methods = _order(values)
            e["seeds"] = sorted(e["seeds"])
            e["methods"] = methods
            e["metrics"] = {m: {k: _stat(values[m].get(k, [])) for k in e["keys"]} for m in methods}
            entries.append(e)
        out.append({**s, "attacks": entries})
    return {"n_rows": len(rows), "n_ok": n_ok, "n_failed": n_failed, "settings": out}


def attack_table(entry: Mapping[str, Any], *, markdown: bool = True) -> str:
    """Methods as rows, the attack's main keys as columns: ``mean ± std`` over seeds (std
    shown from two seeds on). ``entry`` is one item of a setting's ``attacks``."""
    keys = list(entry["keys"])
    header = ["method"] + [_ATTACK_COLUMNS.get(k, (k, ""))[0] for k in keys] + ["seeds"]
    body = []
    for m in entry["methods"]:
        name = m
        if m == "retrain":
            name += " (retrain vs retrain)" if entry["attack"] == "neurips" else " (ref.)"
        cells = [name]
        n = 0
        for k in keys:
            st = entry["metrics"][m][k]
            spec = _ATTACK_COLUMNS.get(k, (k, ".4g"))[1]
            cell = _num(st["mean"], spec)
            if _finite(st["std"]):
                cell += f" ± {_num(st['std'], spec)}"
            cells.append(cell)
            n = max(n, int(st["n"]))
        cells.append(str(n))
        body.append(cells)
    return _render(header, body, markdown)
