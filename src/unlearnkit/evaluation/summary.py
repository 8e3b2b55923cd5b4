"""The compact terminal summary of one run: methods as rows, headline metrics, both Avg. Gaps,
wall time (fits 100 columns), then one verdict line per method with its flags.

Verdict rules (single run, in percentage points; ``G0 = |forget(original) − forget(retrain)|``,
the forget-accuracy gap there is to close):

* **no-op**: the method flagged itself (e.g. SURE's discriminator never beat chance), or its
  forget accuracy moved at most ``max(1, 0.1·G0)`` from the original's and its Avg. Gap is
  at least 90 % of the original's;
* **over-forgot**: forget accuracy more than ``max(5, 0.25·G0)`` *below* retrain's;
* **under-forgot**: more than that *above* retrain's (the share of ``G0`` it closed is shown);
* **collateral damage**: test or retain accuracy more than 2 below ``min(retrain, original)``;
* **closest to retrain**: the smallest representation-level Avg. Gap among the methods (not
  given to a no-op).

When ``G0`` is under :data:`NOTHING_TO_UNLEARN` points, a first line says that there is little
to unlearn, so the verdicts say little.

One seed cannot separate methods whose gaps differ by less than the seed spread; the
benchmark's paired statistics can (docs/benchmark.md).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.suite import EvaluationResult

#: below this forget-accuracy gap (points) between original and retrain, verdicts say little
NOTHING_TO_UNLEARN = 2.0

__all__ = [
    "COLUMNS",
    "NOTHING_TO_UNLEARN",
    "compact_table",
    "verdicts",
]

#: the headline columns: (metric key, header); values × 100 (all are fractions)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("retain_acc", "retain"),
    ("forget_acc", "forget"),
    ("test_acc", "test"),
    ("mia_efficacy_confidence", "MIA-eff"),
    ("loss_auc", "loss AUC"),
    ("emb_logreg_auc", "emb AUC"),
)


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _gap(result: EvaluationResult, name: str, kind: str) -> float:
    """``kind`` = ``avg_gap`` (SalUn's) or ``avg_gap_repr`` (representation level); NaN when
    undefined (no retrain row, no metric of that average)."""
    try:
        return result.avg_gap(name, kind=kind)
    except EvaluationError:
        return math.nan


def _wide_gap(result: EvaluationResult, name: str) -> float:
    return _gap(result, name, "avg_gap_repr")


def _order(result: EvaluationResult) -> list[str]:
    first = [m for m in (result.original, result.reference) if m in result.rows]
    return first + [m for m in result.rows if m not in first]


def _cell(v: object, digits: int = 1) -> str:
    return f"{v:.{digits}f}" if _finite(v) else "—"


def compact_table(result: EvaluationResult) -> str:
    """Methods as rows; headline metrics (%), SalUn's Avg. Gap (4 metrics), the wide Avg. Gap,
    wall time. Plain aligned text, under 100 columns for method names up to 16 characters."""
    header = ["method", *(h for _, h in COLUMNS), "Gap", "Gap(repr)", "time s"]
    body = []
    for m in _order(result):
        row = result.rows[m]
        name = f"{m} (ref.)" if m == result.reference else m
        cells = [name, *(_cell(100 * row[k] if _finite(row.get(k)) else None) for k, _ in COLUMNS)]
        cells += [
            _cell(_gap(result, m, "avg_gap"), 2),
            _cell(_wide_gap(result, m), 2),
            _cell(row.get("wall_time"), 1),
        ]
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def fmt(r: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()

    lines = [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in body)]
    lines.append(
        "accuracies, MIA-efficacy (confidence), loss-attack and logistic embedding-attack AUC "
        "in %; Gap = SalUn's Avg. Gap (retain, forget, test acc., MIA-eff.), Gap(repr) = the "
        "representation-level Avg. Gap (docs/metrics.md); both in points vs retrain, lower is "
        "better."
    )
    return _wrap(lines, 100)


def _wrap(lines: Iterable[str], width: int) -> str:
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(line, width) if len(line) > width else [line])
    return "\n".join(out) + "\n"


def _verdict(
    result: EvaluationResult, m: str, best: str | None, flagged_noop: bool
) -> tuple[str, list[str]]:
    row, ref, orig = (
        result.rows[m],
        result.rows[result.reference],
        result.rows.get(result.original, {}),
    )
    f, fr = 100 * row["forget_acc"], 100 * ref["forget_acc"]
    fo = 100 * orig.get("forget_acc", math.nan)
    g0 = abs(fo - fr) if math.isfinite(fo) else 0.0
    band = max(5.0, 0.25 * g0)
    parts: list[str] = []
    wide, wide_orig = _wide_gap(result, m), _wide_gap(result, result.original)
    moved = abs(f - fo) if math.isfinite(fo) else math.inf
    noop = flagged_noop or (
        moved <= max(1.0, 0.1 * g0) and _finite(wide_orig) and wide >= 0.9 * wide_orig
    )
    if noop:
        parts.append(f"no-op: forget {f:.1f} vs original {fo:.1f}")
    elif f < fr - band:
        parts.append(f"over-forgot: forget {f:.1f} < retrain {fr:.1f}")
    elif f > fr + band:
        closed = 100 * (fo - f) / (fo - fr) if fo != fr else 0.0
        parts.append(
            f"under-forgot: forget {f:.1f} > retrain {fr:.1f} (closed {closed:.0f}% of the gap)"
        )
    else:
        parts.append(f"forget {f:.1f} ≈ retrain {fr:.1f}")
    damage = []
    for key, label in (("test_acc", "test"), ("retain_acc", "retain")):
        floor = min(ref.get(key, math.nan), orig.get(key, math.inf)) * 100
        if _finite(row.get(key)) and math.isfinite(floor) and 100 * row[key] < floor - 2.0:
            damage.append(f"{label} {100 * row[key]:.1f} vs {floor:.1f}")
    if damage:
        parts.append("collateral damage: " + ", ".join(damage))
    verdict = "; ".join(parts)
    if m == best and not noop:
        verdict = f"closest to retrain (Gap(repr) {wide:.2f}); " + verdict
    return verdict, parts


def verdicts(
    result: EvaluationResult,
    flags: Mapping[str, Sequence[str]] | None = None,
    *,
    width: int = 100,
) -> list[str]:
    """One line per method (not original / retrain): its verdict (module docstring) and its
    flags (``flags[method]``: e.g. ``"no-op"`` from SURE's discriminator check, ``"diverged"``).
    A method whose flags contain ``"no-op"`` is a no-op whatever its numbers."""
    flags = flags or {}
    if result.reference not in result.rows:
        return []
    methods = [m for m in _order(result) if m not in (result.original, result.reference)]
    candidates = {
        m: _wide_gap(result, m)
        for m in methods
        if "no-op" not in flags.get(m, ()) and _finite(_wide_gap(result, m))
    }
    best = min(candidates, key=lambda m: candidates[m]) if candidates else None
    name_w = max((len(m) for m in methods), default=0)
    lines = []
    orig, ref = result.rows.get(result.original, {}), result.rows[result.reference]
    g0 = 100 * abs(orig.get("forget_acc", math.nan) - ref["forget_acc"])
    if math.isfinite(g0) and g0 < NOTHING_TO_UNLEARN:
        lines += textwrap.wrap(
            f"(original and retrain differ by {g0:.1f} points of forget accuracy: there is "
            "little to unlearn here, so these verdicts say little)",
            width,
        )
    for m in methods:
        verdict, _ = _verdict(result, m, best, "no-op" in flags.get(m, ()))
        extra = [f for f in flags.get(m, ()) if f]
        tail = f"  [flags: {', '.join(extra)}]" if extra else ""
        lines.extend(
            textwrap.wrap(
                f"{m.ljust(name_w)}  {verdict}{tail}", width, subsequent_indent=" " * (name_w + 2)
            )
        )
    return lines
