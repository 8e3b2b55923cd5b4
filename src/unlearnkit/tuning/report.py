"""The tuner's outputs: the winner of every study, ``tuning.json``, ``tuning.md`` with figures
(optimisation history, parameter importances, Pareto front) and ``tuned.toml``.

Winner of a study: among its finished trials (the first ``trials`` of them), the trial with
the lowest objective that is not a no-op (ties go to the earlier trial); with
``multi_objective``, the same rule restricted to the Pareto front of (forgetting gap, utility
gap). When every trial is a no-op, the best no-op wins and is flagged as one in every output.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import unlearnkit
from unlearnkit.benchmark.runner import clean_json
from unlearnkit.data.splits import atomic_write_text
from unlearnkit.errors import ConfigError
from unlearnkit.tuning.objective import OBJECTIVES
from unlearnkit.tuning.study import counted_trials

__all__ = ["pareto_front", "summarise_study", "to_toml", "write_outputs"]

FIGURES = "figures"


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (both coordinates minimised)."""
    front = []
    for i, (a, b) in enumerate(points):
        dominated = any(
            (c <= a and d <= b) and (c < a or d < b) for j, (c, d) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return front


def _trial_row(spec: Any, t: Any) -> dict[str, Any]:
    a = t.user_attrs
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "params": dict(t.params),
        "config": spec.config(t.params),
        "objective": a.get("objective"),
        "forget_gap": a.get("forget_gap"),
        "utility_gap": a.get("utility_gap"),
        "objective_per_seed": a.get("objective_per_seed"),
        "noop": bool(a.get("noop", False)),
        "forget_output_tv": a.get("forget_output_tv"),
        "forget_pred_flip": a.get("forget_pred_flip"),
        "disc_noop_warning": a.get("disc_noop_warning"),
        "wall_time": a.get("wall_time"),
        "error": a.get("error"),
    }


def _pick(rows: list[dict[str, Any]], multi: bool, allow_noop: bool) -> tuple[Any, list[int]]:
    ok = [r for r in rows if r["state"] == "complete" and math.isfinite(r["objective"] or math.inf)]
    front = []
    if multi and ok:
        idx = pareto_front([(r["forget_gap"], r["utility_gap"]) for r in ok])
        front = [ok[i]["number"] for i in idx]
    pool = [r for r in ok if r["number"] in front] if multi else ok
    eligible = [r for r in pool if allow_noop or not r["noop"]]
    candidates = eligible or pool
    if not candidates:
        return None, front
    best = min(candidates, key=lambda r: (r["objective"], r["number"]))
    return best, front


def _better_noop(rows: list[dict[str, Any]], best: Any) -> float | None:
    if best is None or best["noop"]:
        return None
    noops = [r["objective"] for r in rows if r["noop"] and r["state"] == "complete"]
    low = min(noops, default=None)
    return low if low is not None and low < best["objective"] else None


def _importances(study: Any) -> dict[str, float]:
    """Optuna's fANOVA importances of the parameters for the scalar objective (empty when
    fewer than two finished trials or no variation)."""
    import optuna

    complete = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == optuna.trial.TrialState.COMPLETE
        and math.isfinite(t.user_attrs.get("objective", math.inf))
    ]
    if len(complete) < 2:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(
                study,
                evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                target=lambda t: float(t.user_attrs.get("objective", math.inf)),
            )
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
    return {k: float(v) for k, v in imp.items()}


def summarise_study(spec: Any, study: Any, cfg: Any) -> dict[str, Any]:
    """Trials, winner, Pareto front and importances of one study (JSON-able)."""
    rows = [_trial_row(spec, t) for t in counted_trials(study)[: cfg.trials]]
    best, front = _pick(rows, cfg.multi_objective, cfg.allow_noop_winner)
    trial0 = rows[0] if rows else None
    changes = {}
    if best is not None and trial0 is not None:  # what the winner changes from trial 0
        t0 = trial0["config"]
        changes = {k: v for k, v in best["config"].items() if t0.get(k, _MISSING) != v}
    return {
        "method": spec.method,
        "entry": spec.entry,
        "trials": rows,
        "trial0_objective": trial0["objective"] if trial0 else None,
        "best_trial": best["number"] if best else None,
        "best_objective": best["objective"] if best else None,
        "best": best["config"] if best else None,
        "best_changes": changes,
        "best_is_noop": bool(best and best["noop"]),
        # a no-op that scored better than the winner: doing nothing beat every trial that moved
        # the model, which the reader must see
        "better_noop_objective": _better_noop(rows, best),
        "n_noop": sum(1 for r in rows if r["noop"]),
        "n_failed": sum(1 for r in rows if r["state"] == "fail"),
        "pareto_front": front,
        "importances": _importances(study),
        "search_space": {k: d.describe() for k, d in spec.space.items()},
    }


_MISSING = object()


# --------------------------------------------------------------------------- figures


def _figures(out: Path, name: str, s: Mapping[str, Any], multi: bool) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = out / FIGURES
    folder.mkdir(exist_ok=True)
    stem = name.replace("/", "-")
    paths: dict[str, str] = {}
    rows = [r for r in s["trials"] if r["objective"] is not None]
    if rows:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        xs = [r["number"] for r in rows]
        ys = [r["objective"] for r in rows]
        colours = ["tab:grey" if r["noop"] else "tab:blue" for r in rows]
        ax.scatter(xs, ys, c=colours, s=18, zorder=3)
        best, run = [], math.inf
        for r in rows:
            if not r["noop"]:
                run = min(run, r["objective"])
            best.append(run)
        ax.step(xs, best, where="post", color="tab:red", label="best so far (no-ops excluded)")
        ax.set(xlabel="trial", ylabel="objective on val (pp, lower is better)", title=name)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths["history"] = f"{FIGURES}/{stem}-history.png"
        fig.savefig(out / paths["history"], dpi=110)
        plt.close(fig)
    if s["importances"]:
        fig, ax = plt.subplots(figsize=(5, 0.4 + 0.35 * len(s["importances"])))
        items = sorted(s["importances"].items(), key=lambda kv: kv[1])
        ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
        ax.set(xlabel="fANOVA importance (Optuna)", title=name)
        fig.tight_layout()
        paths["importances"] = f"{FIGURES}/{stem}-importances.png"
        fig.savefig(out / paths["importances"], dpi=110)
        plt.close(fig)
    if multi and rows:
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        front = set(s["pareto_front"])
        for r in rows:
            on = r["number"] in front
            ax.scatter(
                r["forget_gap"],
                r["utility_gap"],
                s=30 if on else 14,
                c="tab:red" if on else ("tab:grey" if r["noop"] else "tab:blue"),
                zorder=3,
            )
        fr = sorted((r["forget_gap"], r["utility_gap"]) for r in rows if r["number"] in front)
        if fr:
            ax.plot(*zip(*fr, strict=True), color="tab:red", lw=1, label="Pareto front")
            ax.legend(fontsize=7)
        ax.set(xlabel="forgetting gap (pp)", ylabel="utility gap (pp)", title=name)
        fig.tight_layout()
        paths["pareto"] = f"{FIGURES}/{stem}-pareto.png"
        fig.savefig(out / paths["pareto"], dpi=110)
        plt.close(fig)
    return paths


# --------------------------------------------------------------------------- files


def write_outputs(tuner: Any, storage: Any, sections: Mapping[str, Any]) -> tuple[dict, Path]:
    """Summarise every study and write ``tuning.json``, ``tuning.md``, the figures and
    ``tuned.toml``. Returns the summary and the path of ``tuned.toml``."""
    import optuna

    cfg, out = tuner.cfg, tuner.out
    studies: dict[str, Any] = {}
    for spec in tuner.specs:
        study = optuna.load_study(study_name=spec.name, storage=storage)
        s = summarise_study(spec, study, cfg)
        s["figures"] = _figures(out, spec.name, s, cfg.multi_objective)
        studies[spec.name] = s
    summary = {
        "objective": cfg.objective,
        "objective_keys": list(OBJECTIVES[cfg.objective]),
        "tune": cfg.to_dict(),
        "settings": [e.to_dict()["split"] for e in tuner.plan.entries],
        "studies": studies,
        "device": str(tuner.device),
        "version": unlearnkit.__version__,
    }
    atomic_write_text(out / "tuning.json", json.dumps(clean_json(summary), indent=2))
    atomic_write_text(out / "tuning.md", markdown(summary))
    tuned_path = out / "tuned.toml"
    atomic_write_text(tuned_path, _tuned_header(cfg) + to_toml(tuned_sections(summary, sections)))
    return summary, tuned_path


def tuned_sections(summary: Mapping[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    """``sections`` with every study's winner written in: as ``[methods.<name>]`` when the grid
    has one setting, else as the setting's ``methods`` table inside its ``[[grid.split]]``."""
    tuned = {k: copy.deepcopy(v) for k, v in sections.items()}
    winners = [s for s in summary["studies"].values() if s["best"] is not None]
    grid = tuned.setdefault("grid", {})
    splits = grid.get("split", [])
    splits = [dict(x) for x in ([splits] if isinstance(splits, Mapping) else splits)]
    if len(summary["settings"]) == 1 and not any("methods" in x for x in splits):
        methods = {k: dict(v) for k, v in (tuned.get("methods") or {}).items()}
        for s in winners:
            methods[s["method"]] = dict(s["best"])
        tuned["methods"] = methods
        return tuned
    shared = tuned.get("methods") or {}
    for s in winners:
        table = dict(splits[s["entry"]].get("methods") or {})
        own = {k: v for k, v in s["best"].items() if shared.get(s["method"], {}).get(k) != v}
        table[s["method"]] = own
        splits[s["entry"]]["methods"] = table
    grid["split"] = splits
    return tuned


def _tuned_header(cfg: Any) -> str:
    return (
        f"# Written by `unlearnkit tune` (unlearnkit {unlearnkit.__version__}): the benchmark "
        f"file with each (method, setting)'s best of {cfg.trials} trials\n# ({cfg.sampler} "
        f"sampler, seed {cfg.sampler_seed}) on the val split at tuning seed(s) "
        f"{', '.join(str(x) for x in cfg.seeds)}; objective {cfg.objective}"
        f"{' (multi-objective)' if cfg.multi_objective else ''}; see tuning.md.\n\n"
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.3g}"
    return str(v)


def _params(d: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {_short(v)}" for k, v in d.items())


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def markdown(summary: Mapping[str, Any]) -> str:
    """``tuning.md``: the protocol, one row per study, figures, every trial."""
    t = summary["tune"]
    keys = ", ".join(summary["objective_keys"])
    lines = [
        "# Hyperparameter search on the val split (Optuna)",
        "",
        f"{t['trials']} trials per (method, setting) — trial 0 is the benchmark file's config — "
        f"drawn by the {t['sampler']} sampler (seed {t['sampler_seed']}, {t['workers']} "
        f"trial(s) per ask-and-tell round), tuning seed(s) "
        f"{', '.join(str(x) for x in t['seeds'])}. Objective `{summary['objective']}`: mean "
        f"|method − retrain| in percentage points over {keys}, computed on the evaluation half "
        "of val (disjoint from the data the methods see, never test), averaged over the tuning "
        "seeds (lower is better)"
        + (
            "; multi-objective: forgetting gap vs utility gap, winner = the Pareto front's "
            "trial with the lowest objective"
            if t["multi_objective"]
            else ""
        )
        + f". A **no-op** moved the forget outputs by less than {t['noop_tolerance']} in mean "
        "total-variation distance; no-ops are recorded but do not win"
        + (" (allowed to win here)" if t["allow_noop_winner"] else "")
        + ".",
        "",
        "| study | trial-0 objective | best objective | best trial | no-ops | failed "
        "| best config (changes) | search space |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["studies"].items():
        best = _params(s["best_changes"]) or "(trial 0)"
        if s["best_is_noop"]:
            best += " — **NO-OP: no trial changed the model measurably**"
        elif s.get("better_noop_objective") is not None:
            best += (
                f" — **a no-op scored better ({_fmt(s['better_noop_objective'])}): no trial "
                "that moved the model beat doing nothing**"
            )
        space = "; ".join(f"{k}: {d}" for k, d in s["search_space"].items())
        lines.append(
            f"| {name} | {_fmt(s['trial0_objective'])} | {_fmt(s['best_objective'])} | "
            f"{_fmt(s['best_trial'])} | {s['n_noop']} | {s['n_failed']} | {best} | {space} |"
        )
    for name, s in summary["studies"].items():
        lines += ["", f"## {name}", ""]
        for kind, path in s.get("figures", {}).items():
            lines.append(f"![{kind}]({path})")
        if s["importances"]:
            imp = ", ".join(f"{k} {v:.2f}" for k, v in s["importances"].items())
            lines += ["", f"Parameter importances (fANOVA): {imp}."]
        if s["pareto_front"]:
            lines += ["", f"Pareto front: trials {', '.join(map(str, s['pareto_front']))}."]
        lines += [
            "",
            "| trial | state | objective | forgetting gap | utility gap | forget TV | no-op "
            "| method wall (s) | parameters |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in s["trials"]:
            state = r["state"] + (f" ({r['error']})" if r["error"] else "")
            lines.append(
                f"| {r['number']} | {state} | {_fmt(r['objective'])} | {_fmt(r['forget_gap'])} "
                f"| {_fmt(r['utility_gap'])} | {_fmt(r['forget_output_tv'])} | "
                f"{'yes' if r['noop'] else ''} | {_fmt(r['wall_time'])} | {_params(r['params'])} |"
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- TOML writing


def _toml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"cannot write the non-finite value {v} to TOML")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_scalar(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_scalar(x)}" for k, x in v.items()) + "}"
    raise ConfigError(f"cannot write {v!r} ({type(v).__name__}) to TOML")


def _is_table_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, Mapping) for x in v)


def to_toml(data: Mapping[str, Any]) -> str:
    """Serialise nested dicts of scalars and lists as TOML (tables, sub-tables, arrays of
    tables; dicts inside an array of tables become inline tables). ``None`` values are left
    out (TOML has no null; a missing key takes the config default, which is what None means
    for the options that allow it)."""
    lines: list[str] = []

    def emit(table: Mapping[str, Any], path: Sequence[str]) -> None:
        scalars = {
            k: v
            for k, v in table.items()
            if v is not None and not isinstance(v, Mapping) and not _is_table_list(v)
        }
        subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        lists = {k: v for k, v in table.items() if _is_table_list(v)}
        if path and (scalars or not (subtables or lists)):
            lines.append(f"[{'.'.join(path)}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {_toml_scalar(v)}")
        if path and (scalars or not (subtables or lists)):
            lines.append("")
        for k, v in subtables.items():
            emit(v, [*path, k])
        for k, items in lists.items():
            for item in items:
                lines.append(f"[[{'.'.join([*path, k])}]]")
                for ik, iv in item.items():
                    if iv is not None:
                        lines.append(f"{ik} = {_toml_scalar(iv)}")
                lines.append("")

    emit(data, [])
    return "\n".join(lines).rstrip() + "\n"
