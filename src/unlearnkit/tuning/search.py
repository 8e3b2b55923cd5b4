"""``unlearnkit tune``: Bayesian optimisation (Optuna) of every method's hyperparameters on val.

Protocol (the same for every method, so the comparison stays fair; docs/tuning.md):

1. The benchmark file's grid is run at one or more **tuning seeds** (default 1000; they must
   differ from the benchmark's seeds): splits, originals and retrain models are new draws.
2. **One study per (method, setting)** (setting = one ``[[grid.split]]`` table), each with the
   same budget of ``trials``. Trial 0 is the method's config from the benchmark file; the
   sampler (seeded TPE by default, GP or random) draws the others from the method's search
   space (``methods/<name>.py``, overridable by ``[tune.space.<name>]``).
3. Each trial runs at every tuning seed and is scored on **val, never test** — on the
   evaluation half of val, disjoint from what the methods see (:mod:`.trial`). The objective
   (``avg_gap`` or ``avg_gap_repr``, :mod:`.objective`) is averaged over the tuning seeds;
   ``multi_objective`` minimises (forgetting gap, utility gap) instead. A trial that leaves
   the model's forget outputs unchanged is recorded as a **no-op** and does not win.
4. Trials are asked and told through Optuna's ask-and-tell interface, ``workers`` per round;
   each (trial, tuning seed) evaluation is one call of :func:`.trial.evaluate_trial`, run by
   the executor (inline).
5. Outputs: ``study.db`` (the Optuna studies), ``trials.jsonl`` (one row per evaluation),
   ``tuning.json``, ``tuning.md`` with figures, ``tuned.toml`` (the benchmark file with the
   winners).

Resume: rerunning the same command continues every study; a trial that was running when the
process died is evaluated again with the parameters it was asked with (finished evaluations
are read back from ``trials.jsonl``) and then told, so no trial is lost or repeated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import unlearnkit
from unlearnkit.benchmark.grid import BenchmarkPlan, GridEntry, stable_hash
from unlearnkit.benchmark.runner import ResultsFile, clean_json
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import atomic_write_text
from unlearnkit.errors import ConfigError
from unlearnkit.methods import get_method_class
from unlearnkit.methods.space import Distribution
from unlearnkit.pipeline import REFERENCE_METHODS
from unlearnkit.tuning.config import TuneConfig, method_space, split_tune_section
from unlearnkit.tuning.objective import gaps
from unlearnkit.tuning.study import (
    check_storage,
    counted_trials,
    make_sampler,
    open_storage,
    open_study,
    optuna_space,
    trial_seed,
)
from unlearnkit.tuning.trial import TuneGroup, evaluate_trial, prepare_group, tuning_eval_config
from unlearnkit.utils import log, progress, resolve_device

__all__ = ["StudySpec", "TuneOutcome", "run_tuning", "study_name"]

TRIALS_FILE = "trials.jsonl"
CONFIG_FILE = "tune_config.json"

#: a task: (group, method, params) -> evaluation row; inline today, the engine's later
Executor = Callable[[Sequence[tuple[TuneGroup, str, dict[str, Any]]]], list[dict[str, Any]]]


def inline_executor(device: Any) -> Executor:
    """Evaluate the tasks one after the other in this process."""

    def run(tasks: Sequence[tuple[TuneGroup, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [evaluate_trial(g, m, p, device) for g, m, p in tasks]

    return run


def study_name(method: str, entry_index: int, entry: GridEntry) -> str:
    """``<method>/<setting>``, e.g. ``sure/0-fashion-mnist-partial-class``."""
    return f"{method}/{entry_index}-{entry.split.dataset}-{entry.split.scenario}"


@dataclass(frozen=True)
class StudySpec:
    """One (method, setting) study: its file config (trial 0) and its search space."""

    method: str
    entry: int
    name: str
    base: dict[str, Any]
    space: dict[str, Distribution]
    distributions: dict[str, Any]

    def config(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The full method table of a trial: the file config overlaid with ``params``."""
        return {**self.base, **params}


def _study_specs(
    plan: BenchmarkPlan, methods: Sequence[str], spaces: Mapping[str, Any]
) -> list[StudySpec]:
    specs = []
    for i, entry in enumerate(plan.entries):
        for m in methods:
            space = method_space(m, spaces.get(m))
            cls = get_method_class(m).config_cls
            base = entry.method_table(m, plan.method_configs)
            full = cls.from_dict(base).to_dict()
            wide, dists = optuna_space(space, {k: full[k] for k in space})
            specs.append(StudySpec(m, i, study_name(m, i, entry), base, wide, dists))
    return specs


def _methods(plan: BenchmarkPlan, cfg: TuneConfig, spaces: Mapping[str, Any]) -> tuple[str, ...]:
    for m in cfg.methods:
        if m in REFERENCE_METHODS:
            raise ConfigError(f"'{m}' has nothing to tune; leave it out of --methods")
        get_method_class(m)
    names = cfg.methods or tuple(
        m
        for m in plan.config.methods
        if m not in REFERENCE_METHODS and (get_method_class(m).search_space or m in spaces)
    )
    if not names:
        raise ConfigError("nothing to tune: no method of the benchmark file has a search space")
    unused = sorted(set(spaces) - set(names))
    if unused:
        raise ConfigError(
            f"[tune.space] has tables for {unused}, which are not tuned here; tune them "
            f"(--methods) or remove the tables"
        )
    return names


class _Tuner:
    def __init__(
        self,
        plan: BenchmarkPlan,
        sections: Mapping[str, Any],
        cfg: TuneConfig,
        out: Path,
        show_progress: bool,
    ) -> None:
        self.plan, self.cfg, self.out, self.show = plan, cfg, out, show_progress
        _, spaces = split_tune_section(sections)
        overlap = sorted(set(cfg.seeds) & set(plan.config.seeds))
        if overlap:
            raise ConfigError(
                f"tuning seed(s) {overlap} are also benchmark seeds; tune on other seeds (e.g. "
                "--tune-seeds 1000 1001) so configs are not chosen on the seeds they are "
                "reported on"
            )
        self.methods = _methods(plan, cfg, spaces)
        self.specs = _study_specs(plan, self.methods, spaces)
        self.device = resolve_device(plan.config.device)
        needs_mia = cfg.objective == "avg_gap"
        self.eval_cfg = tuning_eval_config(plan.eval, mia=needs_mia)
        self.cache = (
            None if plan.config.no_cache else Path(plan.config.cache_dir or user_cache_dir())
        )
        self.directions = ["minimize", "minimize"] if cfg.multi_objective else ["minimize"]
        self.executor: Executor = inline_executor(self.device)
        self.fingerprint = stable_hash(clean_json(self.experiment()))

    def experiment(self) -> dict[str, Any]:
        """What every study depends on (its search space aside). The budget, the method list,
        the number of workers and the winner's rules are left out: a larger budget extends
        the studies, more methods add studies."""
        tune = self.cfg.to_dict()
        for k in ("trials", "methods", "workers", "allow_noop_winner", "noop_tolerance"):
            tune.pop(k)
        return {
            "benchmark": self.plan.experiment_dict(),
            "tune": tune,
            "eval": self.eval_cfg.to_dict(),
        }

    def spaces(self) -> dict[str, dict[str, str]]:
        return {s.name: {k: d.describe() for k, d in s.space.items()} for s in self.specs}

    # -- the folder ---------------------------------------------------------------------
    def check_folder(self) -> Any:
        """Refuse a folder of another experiment (before anything is written), then record
        this one. Returns the study storage."""
        path = self.out / CONFIG_FILE
        current, spaces = clean_json(self.experiment()), self.spaces()
        stored_spaces: dict[str, Any] = {}
        if path.is_file():
            try:
                record = json.loads(path.read_text())
                stored, stored_spaces = record["experiment"], dict(record.get("spaces", {}))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise ConfigError(
                    f"{path} was not written by unlearnkit tune; use a new --out folder"
                ) from None
            changed = [n for n, sp in spaces.items() if stored_spaces.get(n, sp) != sp]
            if stored != current or changed:
                what = (
                    f"the search space of {changed[0]}"
                    if changed
                    else ("the benchmark file, tuning seeds, sampler or objective")
                )
                raise ConfigError(
                    f"{what} changed since the tuning in {self.out} was started; use a new "
                    "--out folder or restore it"
                )
        storage = open_storage(self.out, create=False)
        if storage is not None:
            check_storage(storage, self.fingerprint, self.space_fingerprints(), self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        record = {
            "experiment": current,
            "spaces": {**stored_spaces, **spaces},
            "version": unlearnkit.__version__,
        }
        atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True))
        return storage or open_storage(self.out, create=True)

    def space_fingerprints(self) -> dict[str, str]:
        return {name: stable_hash(sp) for name, sp in self.spaces().items()}

    # -- the search ---------------------------------------------------------------------
    def groups(self, entry: int, datasets: dict[str, Any]) -> list[TuneGroup]:
        e = self.plan.entries[entry]
        return [
            prepare_group(
                entry_index=entry,
                split_config=e.split,
                model_config=e.model,
                train_config=e.train,
                seed=seed,
                eval_config=self.eval_cfg,
                eval_fraction=self.cfg.eval_fraction,
                data_dir=self.plan.config.data_dir,
                cache_dir=self.cache,
                device=self.device,
                datasets=datasets,
                show_progress=self.show,
            )
            for seed in self.cfg.seeds
        ]

    def run(self, storage: Any) -> int:
        results = ResultsFile(self.out / TRIALS_FILE)
        results.repair()
        cache = {r["eval_id"]: r for r in results.load() if "eval_id" in r}
        fps = self.space_fingerprints()
        studies = {
            s.name: open_study(storage, s.name, self.fingerprint, fps[s.name], self.directions)
            for s in self.specs
        }
        done = sum(min(len(counted_trials(studies[s.name])), self.cfg.trials) for s in self.specs)
        bar = progress(
            range(len(self.specs) * self.cfg.trials),
            enabled=self.show,
            initial=done,
            desc="tune",
            unit="trial",
        )
        n_new = 0
        datasets: dict[str, Any] = {}
        for entry in range(len(self.plan.entries)):
            specs = [s for s in self.specs if s.entry == entry]
            if all(len(counted_trials(studies[s.name])) >= self.cfg.trials for s in specs):
                continue
            groups = self.groups(entry, datasets)
            for spec in specs:
                n = _StudyRun(self, spec, studies[spec.name], groups, results, cache).run()
                n_new += n
                if hasattr(bar, "update"):
                    bar.update(n)
        if hasattr(bar, "close"):
            bar.close()
        return n_new


class _StudyRun:
    """The ask-and-tell loop of one study."""

    def __init__(
        self,
        tuner: _Tuner,
        spec: StudySpec,
        study: Any,
        groups: list[TuneGroup],
        results: ResultsFile,
        cache: dict[str, dict[str, Any]],
    ) -> None:
        self.t, self.spec, self.study, self.groups = tuner, spec, study, groups
        self.results, self.cache = results, cache

    def run(self) -> int:
        from optuna.trial import Trial, TrialState

        if not self.study.get_trials(deepcopy=False):
            self.study.enqueue_trial(self._defaults())  # trial 0: the file config
        n_new = 0
        running = [
            t for t in self.study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING
        ]
        stale = [t for t in running if set(t.params) != set(self.spec.space)]
        for t in stale:  # died while its parameters were being drawn: not a trial
            self.study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            self.study.tell(t.number, state=TrialState.FAIL)
            if "fixed_params" in t.system_attrs:  # trial 0 (enqueued): ask it again
                self.study.enqueue_trial(t.system_attrs["fixed_params"])
        resumed = [Trial(self.study, t._trial_id) for t in running if t not in stale]
        if resumed:
            n_new += self.evaluate(resumed)
        while len(counted_trials(self.study)) < self.t.cfg.trials:
            todo = self.t.cfg.trials - len(counted_trials(self.study))
            batch = [self.ask() for _ in range(min(self.t.cfg.workers, todo))]
            n_new += self.evaluate(batch)
        return n_new

    def _defaults(self) -> dict[str, Any]:
        """Trial 0: the file config's value of every dimension (the config default where the
        file does not set it)."""
        cls = get_method_class(self.spec.method).config_cls
        full = cls.from_dict(self.spec.base).to_dict()
        return {k: full[k] for k in self.spec.space}

    def ask(self) -> Any:
        number = len(self.study.get_trials(deepcopy=False))
        seed = trial_seed(self.t.cfg.sampler_seed, self.spec.name, number)
        self.study.sampler = make_sampler(
            self.t.cfg.sampler,
            seed,
            startup=self.t.cfg.startup_trials,
            parallel=self.t.cfg.workers > 1,
        )
        return self.study.ask(self.spec.distributions)

    def eval_id(self, group: TuneGroup, params: Mapping[str, Any]) -> str:
        return stable_hash(
            {
                "method": self.spec.method,
                "entry": self.t.plan.entries[group.entry].to_dict(),
                "seed": group.seed,
                "config": clean_json(self.spec.config(params)),
                "eval": self.t.eval_cfg.to_dict(),
                "eval_fraction": self.t.cfg.eval_fraction,
            }
        )

    def evaluate(self, trials: list[Any]) -> int:
        """Evaluate ``trials`` at every tuning seed (reusing recorded evaluations), record
        every new evaluation, then tell the study."""
        tasks, keys = [], []
        for trial in trials:
            for g in self.groups:
                key = self.eval_id(g, trial.params)
                if key not in self.cache and key not in keys:
                    tasks.append((g, self.spec.method, self.spec.config(trial.params)))
                    keys.append(key)
        for key, (g, _, params), row in zip(keys, tasks, self.t.executor(tasks), strict=True):
            row = {
                "eval_id": key,
                "study": self.spec.name,
                "method": self.spec.method,
                "entry": g.entry,
                "seed": g.seed,
                "split_sha256": g.split_sha256,
                "params": params,
                "retrain_metrics": g.retrain_metrics,
                **row,
            }
            self.results.append(row)
            self.cache[key] = clean_json(row)
        for trial in trials:
            rows = [self.cache[self.eval_id(g, trial.params)] for g in self.groups]
            frozen = _tell(self.study, trial, rows, self.t.cfg)
            a = frozen.user_attrs
            outcome = a.get("error") or f"objective {a['objective']:.2f}" + (
                " (no-op)" if a.get("noop") else ""
            )
            log(f"[tune] {self.spec.name} trial {frozen.number}: {outcome}", enabled=self.t.show)
        return len(trials)


def _tell(study: Any, trial: Any, rows: list[dict[str, Any]], cfg: TuneConfig) -> Any:
    """Aggregate a trial's evaluations over the tuning seeds and tell the study; returns the
    told (frozen) trial."""
    from optuna.trial import TrialState

    failed = [r for r in rows if r.get("status") != "ok"]
    if failed:
        trial.set_user_attr("error", failed[0].get("error", "failed"))
        return study.tell(trial, state=TrialState.FAIL)
    per_seed = [gaps(r["metrics"], r["retrain_metrics"], cfg.objective) for r in rows]
    agg = {k: float(np.mean([g[k] for g in per_seed])) for k in per_seed[0]}
    tv = float(np.mean([r["change"]["forget"]["output_tv"] for r in rows]))
    flip = float(np.mean([r["change"]["forget"]["pred_flip"] for r in rows]))
    attrs: dict[str, Any] = {
        **agg,
        "objective_per_seed": [g["objective"] for g in per_seed],
        "forget_output_tv": tv,
        "forget_pred_flip": flip,
        "noop": tv < cfg.noop_tolerance,
        "wall_time": float(sum(r.get("wall_time", 0.0) for r in rows)),
    }
    disc = [r["info"]["disc_noop_warning"] for r in rows if "disc_noop_warning" in r["info"]]
    if disc:
        attrs["disc_noop_warning"] = bool(any(disc))
    for k, v in attrs.items():
        trial.set_user_attr(k, v)
    values = [agg["forget_gap"], agg["utility_gap"]] if cfg.multi_objective else [agg["objective"]]
    if not all(math.isfinite(v) for v in values):
        trial.set_user_attr("error", "objective is not finite (a metric could not be computed)")
        return study.tell(trial, state=TrialState.FAIL)
    return study.tell(trial, values)


@dataclass
class TuneOutcome:
    """What :func:`run_tuning` produced."""

    out_dir: Path
    summary: dict[str, Any]
    tuned_path: Path
    n_new: int

    def table(self) -> str:
        lines = [
            f"{'study':>34}  {'trial 0':>8}  {'best':>8}  {'trial':>5}  {'no-ops':>6}  best config"
        ]
        for name, s in self.summary["studies"].items():
            params = ", ".join(f"{k}={_short(v)}" for k, v in s["best_changes"].items())
            flag = " (NO-OP)" if s["best_is_noop"] else ""
            if s.get("better_noop_objective") is not None:
                flag = f" (a no-op scored {s['better_noop_objective']:.2f})"
            lines.append(
                f"{name:>34}  {_num(s['trial0_objective']):>8}  {_num(s['best_objective']):>8}  "
                f"{_num(s['best_trial']):>5}  {s['n_noop']:>6}  {params or '(trial 0)'}{flag}"
            )
        return "\n".join(lines)


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _num(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def run_tuning(
    plan: BenchmarkPlan,
    sections: Mapping[str, Any],
    cfg: TuneConfig,
    out_dir: str | Path,
    *,
    show_progress: bool = True,
) -> TuneOutcome:
    """Tune every method of ``plan`` on every setting (see the module docstring) and write
    ``OUT/``: ``study.db``, ``trials.jsonl``, ``tuning.json``, ``tuning.md`` with figures and
    ``tuned.toml`` (``sections`` with the winners)."""
    from unlearnkit.tuning.report import write_outputs

    out = Path(out_dir)
    tuner = _Tuner(plan, sections, cfg, out, show_progress)
    storage = tuner.check_folder()
    n_new = tuner.run(storage)
    summary, tuned_path = write_outputs(tuner, storage, sections)
    return TuneOutcome(out, summary, tuned_path, n_new)
