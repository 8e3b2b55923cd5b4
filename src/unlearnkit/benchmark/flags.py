"""Flags a reader must see before any number: runs that did nothing or blew up.

From a setting's result rows (one per seed and method):

* **no-op** — the method reported that it could not act: SURE's discriminator never beat
  chance on held-out data (``info.disc_noop_warning``), so its reversed gradients carried no
  signal; or the row carries a ``"no-op"`` flag;
* **diverged** — the run failed with a NaN/inf loss (a ``DivergenceError``), or the row carries
  a ``"diverged"`` flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["flag_line", "run_flags"]


def run_flags(row: Mapping[str, Any]) -> list[str]:
    """The flags of one result row (see the module docstring)."""
    flags = [str(f) for f in row.get("flags") or []]
    info = row.get("info") or {}
    if info.get("disc_noop_warning") and "no-op" not in flags:
        flags.append("no-op")
    error = str(row.get("error") or "")
    failed = row.get("status") not in (None, "ok")
    if failed and ("DivergenceError" in error or "diverged" in error) and "diverged" not in flags:
        flags.append("diverged")
    return flags


def flag_line(rows: Sequence[Mapping[str, Any]]) -> str:
    """One sentence for the report's answer: which methods were a no-op or diverged, in how
    many of their seeds."""
    seeds: dict[str, set[Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        method = str(row.get("method"))
        seeds.setdefault(method, set()).add(row.get("seed"))
        for flag in run_flags(row):
            counts[(method, flag)] = counts.get((method, flag), 0) + 1
    if not counts:
        return "**Flags:** none (no run was a no-op or diverged)."
    what = {
        "no-op": "a no-op (its discriminator never beat chance, so it changed nothing that "
        "matters)",
        "diverged": "diverged (NaN/inf loss; the run failed)",
    }
    parts = [
        f"{method} {what.get(flag, flag)} in {n} of {len(seeds[method])} seed(s)"
        for (method, flag), n in sorted(counts.items())
    ]
    return "**Flags:** " + "; ".join(parts) + "."
