"""The benchmark report: ``report.md``, a self-contained ``report.html`` and ``figures/*.png``.

Built from a benchmark folder alone (``results.jsonl`` and the side files ``scores/`` and
``embeddings/``), so it can be rebuilt at any time, also while a benchmark still runs. Figures
(matplotlib, Agg canvas — no pyplot, no global backend change), one subplot row per setting:

1. ``tradeoff.png`` — test accuracy vs the forgetting gap ``|forget acc − retrain's|`` and vs the
   embedding-attack gap ``|emb. logreg AUC − retrain's|``, one point per method, error bars =
   std over seeds;
2. ``roc.png`` — ROC curves of the loss attack (forget = members vs test of the same
   distribution = non-members), first seed, one panel per method with retrain's and the
   original's curves;
3. ``pca.png`` — 2-D PCA of forget, val and test embeddings (stored subsamples) of original,
   retrain and SURE;
4. ``sure_curves.png`` — SURE's per-epoch discriminator accuracies and forget / retain accuracy;
5. ``runtime.png`` — wall time relative to retrain.

The report opens with the answer (:mod:`unlearnkit.benchmark.answer`): the best method where
it is significantly best by Avg. Gap (Holm-corrected paired tests over seeds), otherwise the
ranking with its seed spread and groups, and which metrics have no signal at this scale; a
"Statistics" section gives the signal check, the ranking and the paired comparisons.

Every figure has a caption saying what a good result looks like. The report states the
original's training accuracy and flags settings below 99% (no memorisation, so membership
signals may sit at noise level), and includes the aggregated tables. When the folder has
``attacks.jsonl`` with finished rows (a benchmark with ``[attacks]``), a section "Per-example
attacks" gives, per setting and attack, the NeurIPS 2023 score or U-LiRA numbers per method.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import unlearnkit
from unlearnkit.benchmark.aggregate import (
    ATTACK_SIZE,
    NO_SIGNAL,
    aggregate_attacks,
    aggregate_results,
    attack_table,
    metric_table,
    no_signal_keys,
    summary_table,
)
from unlearnkit.benchmark.answer import answer_lines, statistics_blocks
from unlearnkit.benchmark.depth import (
    DEPTH_CAPTION,
    DEPTH_METRICS,
    depth_table,
    has_layers,
    plot_depth_row,
)
from unlearnkit.benchmark.flags import flag_line
from unlearnkit.benchmark.runner import (
    ATTACKS_FILE,
    CONFIG_FILE,
    RESULTS_FILE,
    ResultsFile,
    clean_json,
    latest_rows,
)
from unlearnkit.data.splits import atomic_write_text
from unlearnkit.errors import UnlearnkitError
from unlearnkit.evaluation import AVG_GAP_KEYS, AVG_GAP_REPR_KEYS, METRICS, roc_points
from unlearnkit.evaluation import auc as roc_auc

__all__ = ["FIGURES", "MEMORISATION_THRESHOLD", "ReportError", "build_report"]

#: below this training accuracy of the original, the report warns (DESIGN §1)
MEMORISATION_THRESHOLD = 0.99

#: figure file stem → title
FIGURES: dict[str, str] = {
    "tradeoff": "Utility vs forgetting",
    "roc": "Loss-attack ROC curves",
    "pca": "Embeddings (PCA)",
    "sure_curves": "SURE training curves",
    "runtime": "Runtime",
}

CAPTIONS: dict[str, str] = {
    "tradeoff": (
        "Test accuracy (y) against the gap to retrain in forget accuracy (left) and in the "
        "embedding attack's AUC (right), one point per method, error bars = std over seeds. "
        "Good: top left — a gap near 0 (the model looks like retrain on the forget set, at "
        "the output and in its representation) at retrain's test accuracy (dotted line). "
        "The original sits to the right; methods that buy a small gap with utility sit low."
    ),
    "roc": (
        "ROC curves of the loss attack (score −loss; members = forget, non-members = test "
        "examples of the same distribution), first seed, one panel per method with retrain's "
        "(black) and the original's (red dashed) curves; legend: AUC. Good: the method's curve "
        "lies on retrain's, away from the original's. The target is retrain's curve, not the "
        "diagonal: for non-random forget sets retrain's own curve can differ from chance, and a "
        "curve below retrain's means over-forgetting, which is itself detectable."
    ),
    "pca": (
        "2-D PCA of embeddings (a stored subsample, first seed): forget (red), held-out val "
        "(blue) and test (grey) examples of the forget set's distribution (same classes for "
        "class scenarios). Good: as in retrain's panel, forget points mix with val/test points; "
        "in the original's they often sit apart (tighter, more confident clusters) — the "
        "membership signal the embedding attacks read."
    ),
    "sure_curves": (
        "SURE per epoch (all seeds): the discriminator's accuracy on held-out and on training "
        "embeddings (forget vs validation domain), forget and retain accuracy; dotted: "
        "retrain's forget accuracy; grey: chance (0.5). Good: held-out discriminator accuracy "
        "falls to ≈ 0.5 (forget embeddings no longer distinguishable from unseen data), forget "
        "accuracy approaches retrain's, retain accuracy stays high."
    ),
    "runtime": (
        "Wall time of each method relative to retraining from scratch (mean ± std over seeds; "
        "labels: mean seconds). Good: far below 1 — unlearning is only worth it when it is "
        "much cheaper than retraining."
    ),
}

_FIXED_COLORS = {"original": "tab:red", "retrain": "black", "sure": "tab:blue"}
REFERENCES = ("original", "retrain")
_PALETTE = [
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
    "gold",
    "navy",
    "lime",
    "darkred",
]
_MARKERS = ["o", "D", "v", "^", "P", "X", "<", ">", "h", "p", "d", "*"]


class ReportError(UnlearnkitError):
    """The folder holds no benchmark results to report on."""


def _markers(methods: Sequence[str]) -> dict[str, str]:
    others = [m for m in methods if m not in _FIXED_COLORS]
    return {
        **{m: "s" for m in _FIXED_COLORS},
        **{m: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(others)},
    }


def _colors(methods: Sequence[str]) -> dict[str, str]:
    out = dict(_FIXED_COLORS)
    others = [m for m in methods if m not in out]
    for i, m in enumerate(others):
        out[m] = _PALETTE[i % len(_PALETTE)]
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _new_figure(n_rows: int, n_cols: int, width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, axes


def _save(fig: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=110, format="png")
    tmp.replace(path)


def _no_data(ax: Any, text: str) -> None:
    ax.text(
        0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True
    )
    ax.set_xticks([])
    ax.set_yticks([])


# --------------------------------------------------------------------------- figures


def _emb_attack_key(settings: Sequence[Mapping[str, Any]]) -> str | None:
    present = {k for s in settings for m in s["methods"] for k in s["metrics"][m]}
    candidates = ["emb_logreg_auc"] + [
        k for k in METRICS if k.startswith("emb_") and k.endswith("_auc")
    ]
    return next((k for k in candidates if k in present), None)


#: where a point's name may go, in points from the point (first that overlaps nothing wins)
_LABEL_OFFSETS: tuple[tuple[float, float], ...] = (
    (6, -12), (6, 6), (-6, 6), (-6, -12), (6, 18), (6, -24), (-6, 18), (-6, -24),
    (14, -3), (-14, -3), (6, 30), (6, -36), (-6, 30), (-6, -36),
)  # fmt: skip


def _place_labels(fig: Any, named: Sequence[tuple[Any, str, tuple[float, float], str]]) -> list:
    """Name points in place without overlapping each other: each label takes the first offset
    of :data:`_LABEL_OFFSETS` whose box meets no label placed before it (in the same axes),
    else the one with the least overlap. Returns the annotations."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out, so that boxes are final
    renderer = canvas.get_renderer()
    placed: dict[int, list[Any]] = {}
    out = []
    for ax, text, xy, color in named:
        boxes = placed.setdefault(id(ax), [])
        best: tuple[float, Any] | None = None
        for dx, dy in _LABEL_OFFSETS:
            ann = ax.annotate(
                text,
                xy,
                textcoords="offset points",
                xytext=(dx, dy),
                ha="left" if dx >= 0 else "right",
                fontsize=8,
                fontweight="bold",
                color=color,
                annotation_clip=False,
            )
            ann.set_in_layout(False)
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            overlap = sum(_overlap_area(box, b) for b in boxes)
            if best is None or overlap < best[0]:
                if best is not None:
                    best[1].remove()
                best = (overlap, ann)
            else:
                ann.remove()
            if overlap == 0:
                break
        assert best is not None
        boxes.append(best[1].get_window_extent(renderer))
        out.append(best[1])
    return out


def _overlap_area(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _fig_tradeoff(settings: Sequence[Mapping[str, Any]], path: Path) -> None:
    fig, axes = _new_figure(len(settings), 2, 12, 3.9)
    emb_key = _emb_attack_key(settings)
    named: list[tuple[Any, str, tuple[float, float], str]] = []
    for row, s in enumerate(settings):
        colors, markers = _colors(s["methods"]), _markers(s["methods"])
        for col, key in enumerate(["forget_acc", emb_key]):
            ax = axes[row][col]
            ref = s["metrics"].get("retrain", {}).get("test_acc", {})
            points = [
                (m, s["metrics"][m].get(key or ""), s["metrics"][m].get("test_acc"))
                for m in s["methods"]
            ]
            points = [
                (m, g, t)
                for m, g, t in points
                if g and t and _finite(g.get("gap_mean")) and _finite(t.get("mean"))
            ]
            if key is None or not points:
                _no_data(ax, f"no {key or 'embedding-attack'} values")
                continue
            for m, g, t in points:
                xerr = g.get("gap_std") if _finite(g.get("gap_std")) else None
                yerr = t.get("std") if _finite(t.get("std")) else None
                x, y = 100 * g["gap_mean"], 100 * t["mean"]
                ax.errorbar(
                    x,
                    y,
                    # a gap is ≥ 0: the lower error bar stops at 0
                    xerr=None if xerr is None else [[min(100 * xerr, x)], [100 * xerr]],
                    yerr=None if yerr is None else 100 * yerr,
                    fmt=markers[m],
                    color=colors[m],
                    ms=8 if m in _FIXED_COLORS else 6,
                    capsize=3,
                    alpha=0.9,
                    label=m,
                    zorder=3 if m in _FIXED_COLORS else 2,
                )
                if m in _FIXED_COLORS:  # the three reference points are named in place
                    named.append((ax, m, (x, y), colors[m]))
            if _finite(ref.get("mean")):
                ax.axhline(100 * ref["mean"], color="0.5", ls=":", lw=1)
            ax.axvline(0, color="0.8", lw=1)
            label = METRICS[key].label if key in METRICS else key
            ax.set_xlabel(f"|{label} − retrain's| (pp)  ← better")
            ax.set_ylabel("test accuracy (%)  ↑ better")
            quiet = f" ({NO_SIGNAL})" if key in no_signal_keys(s) else ""
            ax.set_title(f"{s['label']}\nvs {label} gap{quiet}", fontsize=9)
            ax.grid(alpha=0.3)
            if col == 1:
                ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    _place_labels(fig, named)
    _save(fig, path)


def _first_seed_rows(rows: Sequence[Mapping[str, Any]], setting: Mapping[str, Any]) -> dict:
    seeds = setting["seeds"]
    if not seeds:
        return {}
    first = seeds[0]
    return {
        r["method"]: r
        for r in rows
        if r.get("status") == "ok" and r.get("seed") == first and _matches(r, setting)
    }


def _matches(row: Mapping[str, Any], setting: Mapping[str, Any]) -> bool:
    split = {k: v for k, v in (row.get("split") or {}).items() if k != "seed"}
    train = {k: v for k, v in (row.get("train") or {}).items() if k != "seed"}
    return (
        split == setting["split"]
        and row.get("model") == setting["model"]
        and train == setting["train"]
    )


def _load_npz(out: Path, row: Mapping[str, Any], kind: str) -> dict[str, np.ndarray] | None:
    rel = (row.get("files") or {}).get(kind)
    if not rel:
        return None
    path = out / rel
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None


ROC_COLS = 4


def _fig_roc(
    out: Path, rows: Sequence[Mapping[str, Any]], settings: Sequence[Mapping[str, Any]], path: Path
) -> None:
    """Small multiples: one panel per method, each with retrain's and the original's curves."""
    per_setting = []
    for s in settings:
        by_method = _first_seed_rows(rows, s)
        curves: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for m in s["methods"]:
            z = _load_npz(out, by_method[m], "scores") if m in by_method else None
            if z is None or len(z["forget_loss"]) == 0 or len(z["test_loss"]) == 0:
                continue
            fpr, tpr, _ = roc_points(-z["forget_loss"], -z["test_loss"])
            curves[m] = (fpr, tpr, roc_auc(-z["forget_loss"], -z["test_loss"]))
        panels = [m for m in s["methods"] if m in curves and m not in REFERENCES] or [None]
        per_setting.append((s, curves, panels))
    n_rows = sum(math.ceil(len(p) / ROC_COLS) for *_, p in per_setting)
    fig, axes = _new_figure(n_rows, ROC_COLS, 13, 3.2)
    r0 = 0
    for s, curves, panels in per_setting:
        colors = _colors(s["methods"])
        n = math.ceil(len(panels) / ROC_COLS)
        for i in range(n * ROC_COLS):
            ax = axes[r0 + i // ROC_COLS][i % ROC_COLS]
            if i >= len(panels):
                ax.set_axis_off()
                continue
            m = panels[i]
            if m is None:
                _no_data(ax, "no stored attack scores (save_scores = false?)")
                ax.set_title(s["label"], fontsize=8)
                continue
            ax.plot([0, 1], [0, 1], color="0.75", lw=1, ls=":")
            for name, style in (
                ("original", {"ls": "--", "lw": 1.4}),
                ("retrain", {"ls": "-", "lw": 1.6}),
                (m, {"ls": "-", "lw": 2.2}),
            ):
                if name in curves:
                    fpr, tpr, auc = curves[name]
                    ax.plot(
                        fpr,
                        tpr,
                        color=colors[name],
                        label=f"{name} ({auc:.3f})",
                        drawstyle="steps-post",
                        **style,
                    )
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.legend(fontsize=6.5, loc="lower right", title="AUC", title_fontsize=6.5)
            title = m if i else f"{s['label']}, seed {s['seeds'][0]}\n{m}"
            ax.set_title(title, fontsize=8)
            if i % ROC_COLS == 0:
                ax.set_ylabel("TPR (forget flagged)", fontsize=8)
            if i + ROC_COLS >= len(panels):
                ax.set_xlabel("FPR (test flagged)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        r0 += n
    _save(fig, path)


def _pca_models(methods: Sequence[str]) -> list[str]:
    cols = ["original", "retrain"]
    if "sure" in methods:
        cols.append("sure")
    else:
        cols += [m for m in methods if m not in cols][:1]
    return cols


def _fig_pca(
    out: Path, rows: Sequence[Mapping[str, Any]], settings: Sequence[Mapping], path: Path
) -> None:
    from sklearn.decomposition import PCA

    fig, axes = _new_figure(len(settings), 3, 13, 4.0)
    for r, s in enumerate(settings):
        by_method = _first_seed_rows(rows, s)
        models = _pca_models(s["methods"])
        for c in range(3):
            ax = axes[r][c]
            if c >= len(models):
                _no_data(ax, "no further model")
                continue
            m = models[c]
            z = _load_npz(out, by_method[m], "embeddings") if m in by_method else None
            if z is None or len(z.get("forget_emb", [])) == 0:
                _no_data(ax, f"{m}: no stored embeddings")
                ax.set_title(m, fontsize=9)
                continue
            parts = [
                ("test", "0.55", "x", 14),
                ("val", "tab:blue", "^", 14),
                ("forget", "tab:red", "o", 12),
            ]
            stacked = np.concatenate([z[f"{p}_emb"] for p, *_ in parts if len(z[f"{p}_emb"])])
            if stacked.shape[0] < 2 or stacked.shape[1] < 2:
                _no_data(ax, f"{m}: too few embeddings for PCA")
                continue
            pca = PCA(n_components=2).fit(stacked)
            for p, color, marker, size in parts:
                e = z[f"{p}_emb"]
                if len(e) == 0:
                    continue
                xy = pca.transform(e)
                ax.scatter(
                    xy[:, 0],
                    xy[:, 1],
                    s=size,
                    c=color,
                    marker=marker,
                    alpha=0.6,
                    linewidths=0.8,
                    label=f"{p} ({len(e)})",
                )
            ev = pca.explained_variance_ratio_
            ax.set_title(f"{m} — {s['label']}", fontsize=9)
            ax.set_xlabel(f"PC1 ({100 * ev[0]:.0f}% var.)")
            ax.set_ylabel(f"PC2 ({100 * ev[1]:.0f}% var.)")
            ax.legend(fontsize=7, markerscale=1.3)
            ax.grid(alpha=0.2)
    _save(fig, path)


def _sure_adversary_items(setting: Mapping[str, Any]) -> list[str]:
    """One line on SURE's adversary: the warmed-up discriminator's held-out accuracy per seed
    and how many runs were flagged as a no-op (docs/sure.md)."""
    adv = setting.get("sure_adversary") or {}
    if not adv:
        return []
    parts = []
    for seed, v in adv["per_seed"].items():
        acc = v.get("disc_warmup_heldout_acc")
        text = f"seed {seed}: {acc:.3f}" if _finite(acc) else f"seed {seed}: —"
        if v.get("sure_noop"):
            text += f" (no-op: {v.get('sure_noop_reason')})"
        parts.append(text)
    line = (
        "SURE's adversary, held-out discriminator accuracy after warm-up (chance 0.5): "
        + "; ".join(parts)
    )
    if adv["n_noop"]:
        line = (
            f"**SURE flagged as a no-op in {adv['n_noop']} of {adv['n']} run(s)**: its "
            "discriminator could not tell forget from held-out data, so its reversed gradients "
            "carry no signal. " + line
        )
    return [line]


def _fig_sure(rows: Sequence[Mapping[str, Any]], settings: Sequence[Mapping], path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    fig, axes = _new_figure(len(settings), 1, 8, 3.6)
    series = [
        ("disc_heldout_acc", "tab:purple", "-", "o"),
        ("disc_train_acc", "tab:purple", ":", "."),
        ("retain_acc", "tab:green", "-", "s"),
        ("forget_acc", "tab:red", "--", "^"),
    ]
    for r, s in enumerate(settings):
        ax = axes[r][0]
        sure_rows = [
            x
            for x in rows
            if x.get("status") == "ok" and x.get("method") == "sure" and _matches(x, s)
        ]
        hist = [x for x in sure_rows if x.get("history")]
        if not hist:
            _no_data(ax, "SURE is not part of this benchmark (or has no history)")
            ax.set_title(s["label"], fontsize=9)
            continue
        for i, x in enumerate(hist):
            h = x["history"]
            epochs = [e.get("epoch", j + 1) for j, e in enumerate(h)]
            for key, color, ls, marker in series:
                ys = [e.get(key) for e in h]
                if not any(_finite(y) for y in ys):
                    continue
                ys = [y if _finite(y) else np.nan for y in ys]
                ax.plot(
                    epochs,
                    ys,
                    color=color,
                    ls=ls,
                    marker=marker,
                    ms=4,
                    alpha=0.9 if i == 0 else 0.4,
                    label=key if i == 0 else None,
                )
        ref = s["metrics"].get("retrain", {}).get("forget_acc", {}).get("mean")
        if _finite(ref):
            ax.axhline(ref, color="tab:red", ls=":", lw=1.2, label="retrain forget_acc")
        ax.axhline(0.5, color="0.6", lw=1, label="chance")
        ax.set_ylim(-0.02, 1.04)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_title(f"SURE — {s['label']} ({len(hist)} seed(s))", fontsize=9)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        ax.grid(alpha=0.3)
    _save(fig, path)


def _fig_runtime(settings: Sequence[Mapping[str, Any]], path: Path) -> None:
    most = max(len(s["methods"]) for s in settings)
    fig, axes = _new_figure(len(settings), 1, 8, 1.0 + 0.28 * most)
    for r, s in enumerate(settings):
        ax = axes[r][0]
        colors = _colors(s["methods"])
        ms = [m for m in s["methods"] if m != "original" and _finite(s["runtime_rel"][m]["mean"])]
        if not ms:
            _no_data(ax, "no wall times")
            continue
        means = [s["runtime_rel"][m]["mean"] for m in ms]
        stds = [
            s["runtime_rel"][m]["std"] if _finite(s["runtime_rel"][m]["std"]) else 0 for m in ms
        ]
        y = np.arange(len(ms))
        ax.barh(
            y,
            means,
            xerr=stds if any(v > 0 for v in stds) else None,
            color=[colors[m] for m in ms],
            alpha=0.85,
            capsize=3,
        )
        ax.set_yticks(y, ms)
        ax.invert_yaxis()
        ax.axvline(1.0, color="black", ls=":", lw=1)
        positive = [v for v in means if v > 0]
        if positive and max(positive) / min(positive) > 50:
            ax.set_xscale("log")
            ax.set_xlim(min(positive) / 2, max(means) * 3)
        else:
            ax.set_xlim(0, max(max(means), 1.0) * 1.15)
        for yi, m, mean, std in zip(y, ms, means, stds):
            secs = s["metrics"][m].get("wall_time", {}).get("mean")
            if _finite(secs):
                ax.annotate(
                    f"{secs:.3g} s",
                    (mean + std, yi),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                )
        ax.set_xlabel("wall time / retrain's wall time  ← better")
        ax.set_title(s["label"], fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    _save(fig, path)


# --------------------------------------------------------------------------- document

Block = tuple[Any, ...]


def _depth_blocks(settings: Sequence[Mapping[str, Any]], path: Path) -> list[Block]:
    """Depth profiles (``figures/depth.png``) and per-layer CKA tables, for settings with
    layer-wise metrics (``[eval] layerwise``); nothing otherwise."""
    settings = [s for s in settings if has_layers([s])]
    if not settings:
        return []
    fig, axes = _new_figure(len(settings), len(DEPTH_METRICS), 15, 3.0)
    for r, s in enumerate(settings):
        plot_depth_row(axes[r], s, _colors(s["methods"]), _markers(s["methods"]))
    _save(fig, path)
    blocks: list[Block] = [
        ("h", 2, "Depth profiles"),
        ("fig", f"figures/{path.name}", "Forgetting across depth", DEPTH_CAPTION),
        ("p", "Linear CKA to retrain on the forget examples per layer (mean ± std over seeds):"),
    ]
    for s in settings:
        blocks += [("h", 3, s["label"]), ("table", depth_table(s, "cka_forget"))]
    return blocks


def _inline_html(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)
    return t


def _table_html(md: str) -> str:
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    if len(lines) < 2:
        return ""
    cells = [[c.strip() for c in ln.strip().strip("|").split(" | ")] for ln in lines]
    head, body = cells[0], cells[2:]
    out = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{_inline_html(c)}</th>" for c in head) + "</tr></thead>",
        "<tbody>",
    ]
    for row in body:
        out.append("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _render_md(blocks: Sequence[Block]) -> str:
    parts = []
    n_fig = 0
    for b in blocks:
        kind = b[0]
        if kind == "h":
            parts.append("#" * b[1] + " " + b[2])
        elif kind == "p":
            parts.append(b[1])
        elif kind == "ul":
            parts.append("\n".join(f"- {item}" for item in b[1]))
        elif kind == "table":
            parts.append(b[1].rstrip("\n"))
        elif kind == "fig":
            n_fig += 1
            _, rel, title, caption = b
            parts.append(f"![{title}]({rel})\n\n*Figure {n_fig}: {title}.* {caption}")
    return "\n\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:.85em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead{background:#f3f3f3} figure{margin:1.5em 0} img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444;max-width:900px} code{background:#f5f5f5;padding:0 .2em}
.warn{background:#fff3cd;border-left:4px solid #e0a800;padding:.4em .8em}
"""


def _render_html(blocks: Sequence[Block], title: str, out: Path) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    n_fig = 0
    for b in blocks:
        kind = b[0]
        if kind == "h":
            parts.append(f"<h{b[1]}>{_inline_html(b[2])}</h{b[1]}>")
        elif kind == "p":
            cls = ' class="warn"' if b[1].startswith("**Warning") else ""
            parts.append(f"<p{cls}>{_inline_html(b[1])}</p>")
        elif kind == "ul":
            items = "".join(
                f"<li{' class=warn' if 'below 99%' in i else ''}>{_inline_html(i)}</li>"
                for i in b[1]
            )
            parts.append(f"<ul>{items}</ul>")
        elif kind == "table":
            parts.append(_table_html(b[1]))
        elif kind == "fig":
            n_fig += 1
            _, rel, title_, caption = b
            data = base64.b64encode((out / rel).read_bytes()).decode("ascii")
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(title_)}">'
                f"<figcaption><strong>Figure {n_fig}: {html.escape(title_)}.</strong> "
                f"{_inline_html(caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _fmt_pct(v: Any) -> str:
    return f"{100 * v:.2f}%" if _finite(v) else "—"


def _attack_intro(entry: Mapping[str, Any]) -> str:
    """What an attack table shows, with its N or K, and what a good result looks like."""
    size = entry["size"]
    if entry["attack"] == "neurips":
        chance = (
            " Below N ≈ 8 examples are also perfectly separated by chance, so capped ε alone "
            "is weak evidence."
            if _finite(size) and size < 8
            else ""
        )
        return (
            f"**NeurIPS 2023 forgetting score, N = {size}**: per forget example, ε from N runs "
            "of the method on one original against N retrained models; F = mean of 2^−bucket(ε) "
            "(1 is best); score = F × retain- and test-accuracy ratios to retrain; ε capped = "
            "share of forget examples perfectly separated (ε = 50); emb. = the same on the "
            "embedding's cosine to its class prototype. **Good:** score and F close to retrain's "
            "row, the retrain-vs-retrain reference (the best attainable at this N, not 1), with "
            f"a low ε median and few capped examples.{chance}"
        )
    rf = (entry.get("options") or {}).get("retain_fraction")
    shadow = f", shadows on {rf:g} of retain" if _finite(rf) else ""
    return (
        f"**U-LiRA, K = {size} shadow models**{shadow}: the in-models (half of them, trained on "
        "the forget set) are unlearned with the method and attacked against the out-models, "
        "which never saw it; leave-one-out AUC pooled over models and forget examples, its "
        "p-value against relabelled pools (perfect unlearning), TPR at 1% FPR, and the AUC of "
        "the embedding statistic. **Good:** AUC near 0.5 (as for retrain) with a p-value that is "
        "not small (≥ 0.05: the attack cannot tell the unlearned models from models that never "
        "trained on the forget set), and TPR at 1% FPR near 0.01."
    )


def _attack_blocks(agg: Mapping[str, Any]) -> list[Block]:
    """The "Per-example attacks" section (empty without finished attack rows)."""
    blocks: list[Block] = []
    if agg["n_ok"]:
        blocks.append(("h", 2, "Per-example attacks"))
        blocks.append(
            (
                "p",
                f"From `{ATTACKS_FILE}` (per-example arrays in `attacks/`): mean ± std over "
                "seeds, one row per attacked method; seeds = how many seeds the row averages. "
                "Designs and cost: docs/per-example-attacks.md.",
            )
        )
        for s in agg["settings"]:
            if not s["attacks"]:
                continue
            blocks.append(("h", 3, s["label"]))
            for entry in s["attacks"]:
                blocks.append(("p", _attack_intro(entry)))
                blocks.append(("table", attack_table(entry, markdown=True)))
    failed = [(s["label"], f) for s in agg["settings"] for f in s["failed"]]
    if failed:
        blocks.append(("h", 2, "Failed attacks"))
        blocks.append(("p", "Rerun the same `unlearnkit benchmark` command to retry them."))
        lines = ["| setting | seed | attack | method | error |", "|---|---:|---|---|---|"]
        for label, f in failed:
            err = str(f["error"]).replace("|", "/").replace("\n", " ")
            what = f"{f['attack']} {ATTACK_SIZE.get(f['attack'], 'size')}={f['size']}"
            lines.append(f"| {label} | {f['seed']} | {what} | {f['method']} | {err[:300]} |")
        blocks.append(("table", "\n".join(lines)))
    return blocks


def build_report(out_dir: str | Path, *, title: str | None = None) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``summary.json`` and ``figures/*.png`` into
    ``out_dir`` (a benchmark folder) and return their paths."""
    out = Path(out_dir)
    results = out / RESULTS_FILE
    if not results.is_file():
        raise ReportError(f"{results} not found: pass the --out folder of `unlearnkit benchmark`")
    rows = latest_rows(ResultsFile(results).load())
    if not rows:
        raise ReportError(f"{results} has no complete rows yet; nothing to report")
    agg = aggregate_results(rows)
    settings = [s for s in agg["settings"] if s["methods"]]
    name = title
    cfg_path = out / CONFIG_FILE
    if name is None and cfg_path.is_file():
        try:
            name = json.loads(cfg_path.read_text())["experiment"]["benchmark"]["name"]
        except (json.JSONDecodeError, KeyError, TypeError):
            name = None
    name = name or out.name
    figures_dir = out / "figures"
    paths = {k: figures_dir / f"{k}.png" for k in FIGURES}
    if settings:
        draw: dict[str, Callable[[], None]] = {
            "tradeoff": lambda: _fig_tradeoff(settings, paths["tradeoff"]),
            "roc": lambda: _fig_roc(out, rows, settings, paths["roc"]),
            "pca": lambda: _fig_pca(out, rows, settings, paths["pca"]),
            "sure_curves": lambda: _fig_sure(rows, settings, paths["sure_curves"]),
            "runtime": lambda: _fig_runtime(settings, paths["runtime"]),
        }
        for fn in draw.values():
            fn()

    blocks: list[Block] = [("h", 1, f"{name} — unlearnkit benchmark report")]
    versions = sorted({str(r.get("version")) for r in rows if r.get("version")})
    devices = sorted({str(r.get("device")) for r in rows if r.get("device")})
    blocks.append(
        (
            "ul",
            [
                f"runs: {agg['n_ok']} ok, {agg['n_failed']} failed (from `{RESULTS_FILE}`)",
                f"unlearnkit {', '.join(versions) or unlearnkit.__version__}; device(s): "
                f"{', '.join(devices) or '—'}",
                f"report generated {time.strftime('%Y-%m-%d %H:%M')}",
            ],
        )
    )
    blocks.append(("h", 2, "Answer"))
    for s in settings:
        blocks.append(("h", 3, s["label"]))
        blocks.append(("ul", [*answer_lines(s), flag_line([r for r in rows if _matches(r, s)])]))
    blocks.append(("h", 2, "Settings"))
    for s in settings:
        acc = s["original_train_acc"]
        per_seed = ", ".join(f"seed {k}: {_fmt_pct(v)}" for k, v in sorted(acc["per_seed"].items()))
        items = [
            f"seeds: {', '.join(str(x) for x in s['seeds'])}; methods: {', '.join(s['methods'])}",
            f"model: `{json.dumps(s['model'])}`; recipe: `{json.dumps(s['train'])}`",
            f"original's training accuracy: {_fmt_pct(acc['mean'])} mean ({per_seed})",
        ]
        if _finite(acc["min"]) and acc["min"] < MEMORISATION_THRESHOLD:
            items.append(
                f"**Warning: the original's training accuracy is below 99% "
                f"({_fmt_pct(acc['min'])}).** Membership signals exist only where the original "
                "memorised its training set; below the memorisation regime every attack may sit "
                "at noise level and methods cannot be told apart. Train longer or on a smaller "
                "train subset."
            )
        items += _sure_adversary_items(s)
        blocks.append(("h", 3, s["label"]))
        blocks.append(("ul", items))
    blocks.append(("h", 2, "Summary"))
    blocks.append(
        (
            "p",
            "Mean ± std over seeds. Avg. Gap = SalUn's (Fan et al. 2024): mean |method − retrain| "
            f"in percentage points over {', '.join(f'`{k}`' for k in AVG_GAP_KEYS)} (per seed, "
            "then averaged); Avg. Gap (repr.) = the same over "
            f"{', '.join(f'`{k}`' for k in AVG_GAP_REPR_KEYS)}; rank 1 = "
            "smallest gap; mean rank = mean of the per-metric ranks over those metrics; time × "
            "retrain = wall time / retrain's wall time of the same seed (original: 0, no "
            f"unlearning). † = {NO_SIGNAL}: the original and retrain lie within two pooled seed "
            "standard deviations of each other on this metric (see Statistics).",
        )
    )
    for s in settings:
        blocks.append(("h", 3, s["label"]))
        blocks.append(("table", summary_table(s, markdown=True)))
    blocks += statistics_blocks(settings)
    if settings:
        blocks.append(("h", 2, "Figures"))
        for key, title_ in FIGURES.items():
            blocks.append(("fig", f"figures/{key}.png", title_, CAPTIONS[key]))
    depth = _depth_blocks(settings, figures_dir / "depth.png") if settings else []
    blocks += depth
    blocks.append(("h", 2, "All metrics"))
    blocks.append(
        (
            "p",
            "mean ± std over seeds (Δ mean per-seed gap to retrain ± its std) [#rank by that "
            "gap]. Metric definitions: docs/metrics.md.",
        )
    )
    for s in settings:
        blocks.append(("h", 3, s["label"]))
        blocks.append(("table", metric_table(s, markdown=True)))
    failed = [(s["label"], f) for s in agg["settings"] for f in s["failed"]]
    if failed:
        blocks.append(("h", 2, "Failed runs"))
        blocks.append(("p", "Rerun the same `unlearnkit benchmark` command to retry them."))
        lines = ["| setting | seed | method | error |", "|---|---:|---|---|"]
        for label, f in failed:
            err = str(f["error"]).replace("|", "/").replace("\n", " ")
            lines.append(f"| {label} | {f['seed']} | {f['method']} | {err[:300]} |")
        blocks.append(("table", "\n".join(lines)))
    attacks_path = out / ATTACKS_FILE
    attacks_agg = None
    if attacks_path.is_file():
        attacks_agg = aggregate_attacks(ResultsFile(attacks_path).load())
        blocks += _attack_blocks(attacks_agg)

    md_path, html_path, json_path = out / "report.md", out / "report.html", out / "summary.json"
    atomic_write_text(md_path, _render_md(blocks))
    atomic_write_text(html_path, _render_html(blocks, f"{name} — unlearnkit benchmark", out))
    summary = {**agg, "attacks": attacks_agg} if attacks_agg else agg
    atomic_write_text(
        json_path, json.dumps(clean_json(summary), indent=2, sort_keys=True, allow_nan=False)
    )
    return {
        "markdown": md_path,
        "html": html_path,
        "summary": json_path,
        **({k: p for k, p in paths.items()} if settings else {}),
        **({"depth": figures_dir / "depth.png"} if depth else {}),
    }
