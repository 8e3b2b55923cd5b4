"""Depth profiles for the benchmark report: each layer-wise metric against depth, one line per
method, original and retrain as references (rows with ``layer.<name>.<metric>`` keys, from
``[eval] layerwise``; see :mod:`unlearnkit.evaluation.layerwise`).

The report (:mod:`unlearnkit.benchmark.report`) owns the figure and calls :func:`plot_depth_row`
for each setting's row of axes, and :func:`depth_table` for the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from unlearnkit.evaluation.layerwise import LAYER_METRICS, layer_key, layer_order

__all__ = ["DEPTH_CAPTION", "DEPTH_METRICS", "depth_table", "has_layers", "plot_depth_row"]

#: The layer-wise metrics drawn, one panel each, in order.
DEPTH_METRICS: tuple[str, ...] = tuple(LAYER_METRICS)

DEPTH_CAPTION = (
    "Layer-wise metrics against depth (shallow → deep; mean ± std over seeds), one line per "
    "method, original (red dashed) and retrain (black) as references. CKA to retrain on the "
    "forget examples and on test examples of the same distribution (the control), forget "
    "accuracy of a linear probe, and the logistic embedding attack's AUC (forget vs test). "
    "Good: the method's line follows retrain's at every depth, not only at the last layer; a "
    "line on the original's at the early layers means the representation there was left as it "
    "was (forgetting only in the head)."
)

_REFERENCES = ("original", "retrain")


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def setting_layers(setting: Mapping[str, Any]) -> list[str]:
    """The layers with layer-wise metrics in an aggregated setting, shallow to deep."""
    return layer_order(setting["metrics"].get(m, {}) for m in setting["methods"])


def has_layers(settings: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any setting carries layer-wise metrics."""
    return any(setting_layers(s) for s in settings)


def _series(setting: Mapping[str, Any], method: str, metric: str, layers: Sequence[str]) -> Any:
    stats = [setting["metrics"].get(method, {}).get(layer_key(n, metric), {}) for n in layers]
    mean = [float(s["mean"]) if _finite(s.get("mean")) else math.nan for s in stats]
    std = [float(s["std"]) if _finite(s.get("std")) else 0.0 for s in stats]
    return mean, std


def plot_depth_row(
    axes: Sequence[Any],
    setting: Mapping[str, Any],
    colors: Mapping[str, str],
    markers: Mapping[str, str],
) -> None:
    """Draw one setting's depth profiles on ``len(DEPTH_METRICS)`` matplotlib axes."""
    layers = setting_layers(setting)
    x = list(range(len(layers)))
    methods = [m for m in setting["methods"] if m not in _REFERENCES]
    order = [m for m in _REFERENCES if m in setting["methods"]] + methods
    for ax, metric in zip(axes, DEPTH_METRICS):
        info = LAYER_METRICS[metric]
        for m in order:
            mean, std = _series(setting, m, metric, layers)
            if not any(_finite(v) for v in mean):
                continue
            ref = m in _REFERENCES
            ax.errorbar(
                x,
                mean,
                yerr=std,
                color=colors.get(m, "0.5"),
                marker=markers.get(m, "o"),
                ls="--" if m == "original" else "-",
                lw=2.2 if ref else 1.1,
                ms=4,
                capsize=2,
                alpha=1.0 if ref else 0.8,
                label=m,
                zorder=3 if ref else 2,
            )
        ax.set_xticks(x, layers, rotation=30, fontsize=7)
        ax.set_title(f"{info.label} — {setting['label']}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))


def depth_table(setting: Mapping[str, Any], metric: str = "cka_forget") -> str:
    """Markdown table: methods × layers, ``mean ± std`` of one layer-wise metric."""
    layers = setting_layers(setting)
    lines = [
        "| method | " + " | ".join(f"`{n}`" for n in layers) + " |",
        "|---|" + "---:|" * len(layers),
    ]
    for m in setting["methods"]:
        mean, std = _series(setting, m, metric, layers)
        cells = [f"{a:.3f} ± {s:.3f}" if _finite(a) else "—" for a, s in zip(mean, std)]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
