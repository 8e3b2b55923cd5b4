"""The report's answer and its statistics section, from an aggregated setting.

The answer to "which method unlearns best here?" is given only as far as the seeds support it
(:mod:`unlearnkit.evaluation.stats`): the best method is named where its Avg. Gap is
significantly smaller than every other method's (paired t-tests over seeds, Holm-corrected),
otherwise the ranking is given with its seed spread and its groups of indistinguishable ranks;
and the metrics whose signal check found no signal (the original within two pooled seed stds
of retrain) are named, because they cannot rank methods at this scale.

Blocks are ``("h", level, text)``, ``("p", text)``, ``("ul", items)`` and ``("table", md)``,
the document model of :mod:`unlearnkit.benchmark.report`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from unlearnkit.benchmark.aggregate import (
    NO_SIGNAL,
    PAIRED_KEYS,
    no_signal_keys,
    paired_table,
    ranking_table,
    signal_table,
)
from unlearnkit.evaluation import GAP_DEFINITIONS, METRICS
from unlearnkit.evaluation.stats import ALPHA, SIGNAL_THRESHOLD

__all__ = ["answer_lines", "statistics_blocks"]

Block = tuple[Any, ...]

#: the Avg. Gap keys a setting can carry, and their names in the text
AVG_GAPS: dict[str, str] = {g: d.label for g, d in GAP_DEFINITIONS.items()}


def _name(key: str) -> str:
    return AVG_GAPS.get(key) or (METRICS[key].label if key in METRICS else key)


def _fmt(v: float) -> str:
    return f"{v:.2f}" if math.isfinite(v) else "—"


def _ranking_text(r: Mapping[str, Any]) -> str:
    items = []
    for m in r["order"]:
        spread = f" ± {_fmt(r['std'][m])}" if math.isfinite(r["std"][m]) else ""
        items.append(f"{r['rank'][m]}. {m} {_fmt(r['mean'][m])}{spread} ({r['groups'][m]})")
    return "; ".join(items)


def _avg_gap_sentence(key: str, r: Mapping[str, Any], n_seeds: int) -> str:
    name = _name(key)
    if r["best"] is not None:
        b = r["best"]
        return (
            f"**Best by {name}: {b}** ({_fmt(r['mean'][b])} ± {_fmt(r['std'][b])} pp over "
            f"{n_seeds} seeds), significantly closer to retrain than every other method "
            f"(paired t-tests on the per-seed {name}, Holm-corrected, α = {ALPHA:g}). "
            f"Ranking: {_ranking_text(r)}."
        )
    return (
        f"**No method is significantly best by {name}** at {n_seeds} seeds. Ranking by mean "
        f"{name} in pp ± std over seeds (methods that share a letter are not significantly "
        f"different, Holm-corrected paired t-tests, α = {ALPHA:g}): {_ranking_text(r)}."
    )


def answer_lines(setting: Mapping[str, Any]) -> list[str]:
    """The answer for one setting: the best method or the ranking, per Avg. Gap, and which of
    the ranking metrics (both Avg. Gaps' and :data:`PAIRED_KEYS`) carry signal at this scale
    (every metric's check is in :func:`statistics_blocks`)."""
    n_seeds = len(setting.get("seeds", []))
    if n_seeds < 2:
        return [
            f"One seed: no seed spread, so neither the signal check nor paired tests; the "
            f"ranking below is one draw. Run ≥ 2 seeds (5 or more to tell methods apart; the "
            f"Wilcoxon test cannot reach p < {ALPHA:g} below 6)."
        ]
    paired = setting.get("paired", {})
    lines = [_avg_gap_sentence(k, paired[k], n_seeds) for k in AVG_GAPS if k in paired]
    if not lines:
        lines.append("Fewer than two methods with an Avg. Gap: nothing to rank.")
    ranking_keys = {k for g in GAP_DEFINITIONS.values() for k in g.keys} | set(PAIRED_KEYS)
    sig = {k: v for k, v in setting.get("signal", {}).items() if k in ranking_keys}
    with_signal = [METRICS[k].label for k, v in sig.items() if v.get("has_signal") is True]
    quiet = [METRICS[k].label for k in no_signal_keys(setting) if k in ranking_keys]
    if sig:
        lines.append(
            f"Signal check (original vs retrain, |d| ≥ {SIGNAL_THRESHOLD:g} pooled seed stds): "
            f"the ranking is carried by {', '.join(with_signal) or 'no metric'}; "
            f"{NO_SIGNAL}: {', '.join(quiet) or 'none'}"
            + (" — these cannot tell methods apart here." if quiet else ".")
        )
    return lines


def statistics_blocks(settings: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The "Statistics" section: per setting, the signal check, the ranking with its groups
    over the summary keys, and the paired comparisons of every Avg. Gap."""
    blocks: list[Block] = [
        ("h", 2, "Statistics"),
        (
            "p",
            "**Signal check:** d = (original's mean − retrain's) / pooled seed std; a metric "
            f"with |d| < {SIGNAL_THRESHOLD:g} is marked '{NO_SIGNAL}' — there it cannot tell "
            "'did nothing' from 'retrained', so it cannot rank methods. **Ranking:** per "
            "summary key, the mean per-seed gap to retrain ± std (#rank, group); methods that "
            "share a group letter are not significantly different (paired t-tests on the "
            f"per-seed gaps, Holm-corrected across pairs, α = {ALPHA:g}); 'best' marks a method "
            "significantly better than every other. **Paired comparisons:** mean of the "
            "per-seed differences A − B (negative: A closer to retrain), a 95% percentile "
            "bootstrap CI over seeds, paired t and Wilcoxon signed-rank p-values, Holm-adjusted "
            "p. Definitions: docs/metrics.md, 'Statistics'.",
        ),
    ]
    for s in settings:
        blocks.append(("h", 3, s["label"]))
        if len(s.get("seeds", [])) < 2:
            blocks.append(("p", "One seed: no statistics."))
            continue
        if s.get("signal"):
            blocks.append(("table", signal_table(s)))
        if ranking := ranking_table(s):
            blocks.append(("table", ranking))
        for key in (k for k in PAIRED_KEYS if k in AVG_GAPS and k in s.get("paired", {})):
            blocks.append(("p", f"Paired comparisons of the {_name(key)} (pp):"))
            blocks.append(("table", paired_table(s, key)))
    return blocks
