"""``unlearnkit tune``: random search of every method's hyperparameters on the val split.

Protocol (the same for every method, so the comparison stays fair):

1. The benchmark file's grid is run at one or more **tuning seeds** (default 1000; they must
   differ from the benchmark's seeds): splits, originals and retrain models are new draws, so
   the configs are not picked for the seeds they are later reported on.
2. Each method gets the same budget of ``trials`` configurations: trial 0 is its config from
   the benchmark file (paper defaults overlaid with the file's ``[methods.<name>]``), trials
   1… are drawn from the method's ``search_space`` by a seeded random search. Every trial runs
   on every split of the grid.
3. Each trial is scored on **val, never test**: the suite's metrics are computed with the val
   examples in the place of test (class-matched for the class scenarios), with the cheap attack
   set (loss attack, logistic-regression embedding attack, linear probe) and compared with
   retrain's. The objective is the mean ``|method − retrain|`` in percentage points over
   :data:`OBJECTIVE_KEYS`, averaged over the splits and tuning seeds (the benchmark's Avg.
   Gap, computed on val).
   A diverged or failed trial scores +inf.
4. The best trial per method (lowest objective, ties to the earlier trial) is written as
   ``[methods.<name>]`` tables into ``OUT/tuned.toml``: the benchmark file with its method
   tables replaced, ready for ``unlearnkit benchmark --config OUT/tuned.toml``.

Reconstruction note: SURE trains its domain classifier on ``val_domain`` ⊆ val, so the
val-based attacks are optimistic for SURE (it has seen those embeddings, never their labels).
The benchmark's test-set numbers are not affected; see ``docs/tuning.md``.

Every finished trial is one row of ``OUT/trials.jsonl`` (appended atomically): rerunning the
same command resumes, a larger ``--trials`` or more ``--methods`` reuse every finished trial,
and a changed benchmark file, tuning seeds or sampler seed is refused.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import unlearnkit
from unlearnkit.benchmark.grid import BenchmarkPlan, GridEntry, stable_hash
from unlearnkit.benchmark.runner import ResultsFile, clean_json
from unlearnkit.config import Config, option
from unlearnkit.data import load_dataset
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import atomic_write_text, make_split
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig
from unlearnkit.evaluation.collect import ModelOutputs, collect_outputs
from unlearnkit.evaluation.suite import evaluate_outputs
from unlearnkit.methods import get_method_class, unlearn_copy
from unlearnkit.methods.retrain import retrain_recipe
from unlearnkit.pipeline import REFERENCE_METHODS, obtain_model
from unlearnkit.tuning.space import sample_space
from unlearnkit.utils import log, resolve_device

__all__ = [
    "OBJECTIVE_KEYS",
    "TuneConfig",
    "TuneOutcome",
    "objective",
    "run_tuning",
    "to_toml",
    "trial_configs",
]

#: metrics of the tuning objective; ``test_acc`` is the accuracy on val here (val stands in
#: for test), the attacks compare forget with val examples
OBJECTIVE_KEYS = (
    "retain_acc",
    "forget_acc",
    "test_acc",
    "loss_auc",
    "emb_logreg_auc",
    "probe_forget_acc",
)
TRIALS_FILE = "trials.jsonl"
CONFIG_FILE = "tune_config.json"


@dataclass(frozen=True)
class TuneConfig(Config):
    """How unlearnkit tune searches (the budget is the same for every method)."""

    section = "tune"

    trials: int = option(
        8, "configurations per method, its benchmark-file config included (the same for all)"
    )
    seeds: tuple[int, ...] = option(
        (1000,),
        "split, training and method seeds of the tuning runs, each a new draw of the grid; the "
        "objective is averaged over them (must differ from the benchmark's seeds, so configs "
        "are not chosen on the seeds they are reported on; 2-3 give more robust picks)",
    )
    sampler_seed: int = option(0, "seed of the random search")
    methods: tuple[str, ...] = option(
        (), "methods to tune (default: every method of the benchmark file with a search space)"
    )

    def validate(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"tune trials must be >= 1, got {self.trials}")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"tune methods has duplicates: {list(self.methods)}")
        if not self.seeds:
            raise ConfigError("tune seeds is empty: give at least one tuning seed, e.g. 1000")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"tune seeds has duplicates: {list(self.seeds)}")


def trial_configs(
    method: str, base: Mapping[str, Any], trials: int, sampler_seed: int
) -> list[dict[str, Any]]:
    """The ``trials`` configs (as dicts, without seed) tried for ``method``.

    Trial 0 is ``base`` (the benchmark file's table); trial i ≥ 1 is ``base`` overlaid with a
    draw from the method's search space. The draws depend only on (method, sampler_seed, i),
    so a larger budget extends a smaller one.
    """
    cls = get_method_class(method)
    if not cls.search_space:
        raise ConfigError(
            f"method '{method}' has no hyperparameters to tune (empty search_space); "
            "leave it out of the tuned methods"
        )
    out = [dict(base)]
    for i in range(1, trials):
        key = int(stable_hash({"method": method, "sampler_seed": sampler_seed, "trial": i}), 16)
        rng = np.random.default_rng(key)
        out.append({**base, **sample_space(cls.search_space, rng)})
    for cfg in out:
        cls.config_cls.from_dict(cfg)  # every draw must be a valid config
    return out


def objective(metrics: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """Mean ``|metrics[k] − reference[k]|`` in percentage points over :data:`OBJECTIVE_KEYS`
    present in both (+inf when a value is not finite)."""
    gaps = []
    for k in OBJECTIVE_KEYS:
        if k in metrics and k in reference:
            a, b = float(metrics[k]), float(reference[k])
            if not (math.isfinite(a) and math.isfinite(b)):
                return math.inf
            gaps.append(100.0 * abs(a - b))
    if not gaps:
        raise ConfigError("no objective metric was computed; check the tuning evaluation")
    return float(np.mean(gaps))


def _val_as_test(out: ModelOutputs) -> ModelOutputs:
    """The outputs with val in the place of test (tuning never reads test)."""
    return ModelOutputs(
        {"retain": out["retain"], "forget": out["forget"], "test": out["val"]},
        dict(out.subsampled),
    )


def _eval_config(base: EvalConfig) -> EvalConfig:
    """The cheap attack set of the objective, with the benchmark's caps and seed."""
    return base.replace(attackers=("logreg",), mia=False, transfer=False, relearn=False)


@dataclass
class TuneOutcome:
    """What :func:`run_tuning` produced."""

    out_dir: Path
    summary: dict[str, Any]
    tuned_path: Path
    n_new: int

    def table(self) -> str:
        lines = [
            f"{'method':>16}  {'default':>8}  {'best':>8}  {'trial':>5}  best config",
        ]
        for name, s in self.summary["methods"].items():
            params = ", ".join(f"{k}={v}" for k, v in s["best_changes"].items()) or "(default)"
            lines.append(
                f"{name:>16}  {s['objectives'][0]:8.2f}  {s['best_objective']:8.2f}  "
                f"{s['best_trial']:5d}  {params}"
            )
        return "\n".join(lines)


class _Tuner:
    def __init__(
        self, plan: BenchmarkPlan, cfg: TuneConfig, out: Path, show_progress: bool
    ) -> None:
        self.plan, self.cfg, self.out, self.show = plan, cfg, out, show_progress
        self.device = resolve_device(plan.config.device)
        self.eval_cfg = _eval_config(plan.eval)
        self.cache = (
            None if plan.config.no_cache else Path(plan.config.cache_dir or user_cache_dir())
        )
        names = cfg.methods or tuple(
            m
            for m in plan.config.methods
            if m not in REFERENCE_METHODS and get_method_class(m).search_space
        )
        if not names:
            raise ConfigError("nothing to tune: no method of the benchmark file has a search space")
        overlap = sorted(set(cfg.seeds) & set(plan.config.seeds))
        if overlap:
            raise ConfigError(
                f"tuning seed(s) {overlap} are also benchmark seeds; tune on other seeds (e.g. "
                "--tune-seeds 1000 1001) so configs are not chosen on the seeds they are "
                "reported on"
            )
        self.methods = names
        self.trials = {
            m: trial_configs(m, plan.method_configs.get(m, {}), cfg.trials, cfg.sampler_seed)
            for m in names
        }

    def say(self, msg: str) -> None:
        if self.show:
            log(msg)

    def experiment(self) -> dict[str, Any]:
        """What the stored trials depend on. The budget and the method list are left out: a
        trial's row is keyed by its own config, so a larger budget reuses every finished
        trial (draws extend, see :func:`trial_configs`)."""
        tune = self.cfg.to_dict()
        tune.pop("trials")
        tune.pop("methods")
        return {"benchmark": self.plan.experiment_dict(), "tune": tune}

    def check_folder(self) -> None:
        path = self.out / CONFIG_FILE
        current = clean_json(self.experiment())
        if path.is_file():
            try:
                stored = json.loads(path.read_text())["experiment"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ConfigError(
                    f"{path} was not written by unlearnkit tune; use a new --out folder"
                ) from None
            if stored != current:
                raise ConfigError(
                    f"the benchmark file, tuning seeds or sampler seed changed since the tuning "
                    f"in {self.out} was started; use a new --out folder or restore them"
                )
            return
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            path,
            json.dumps(
                {"experiment": current, "version": unlearnkit.__version__}, indent=2, sort_keys=True
            ),
        )

    def groups(self) -> list[tuple[int, int]]:
        """(grid entry, tuning seed) pairs, seed-major: every split of one seed, then the next."""
        return [(e, seed) for seed in self.cfg.seeds for e in range(len(self.plan.entries))]

    def trial_id(self, entry: int, seed: int, method: str, trial: int) -> str:
        e = self.plan.entries[entry].to_dict()
        return stable_hash(
            {
                "entry": e,
                "seed": seed,
                "method": method,
                "config": self.trials[method][trial],
                "eval": self.eval_cfg.to_dict(),
            }
        )

    def run(self) -> int:
        results = ResultsFile(self.out / TRIALS_FILE)
        results.repair()
        done = {r["trial_id"] for r in results.load() if r.get("status") == "ok"}
        groups = self.groups()
        all_ids = [
            self.trial_id(e, seed, m, t)
            for e, seed in groups
            for m in self.methods
            for t in range(len(self.trials[m]))
        ]
        total = len(all_ids)
        finished = sum(1 for i in all_ids if i in done)
        n_new = 0
        datasets: dict[str, Any] = {}
        t_start = time.perf_counter()
        for e, seed in groups:
            todo = [
                (m, t)
                for m in self.methods
                for t in range(len(self.trials[m]))
                if self.trial_id(e, seed, m, t) not in done
            ]
            if not todo:
                continue
            state = self.prepare(self.plan.entries[e], seed, datasets)
            for m, t in todo:
                row = self.run_trial(state, e, seed, m, t)
                results.append(row)
                n_new += 1
                finished += 1
                elapsed = time.perf_counter() - t_start
                eta = elapsed / n_new * (total - finished)
                self.say(
                    f"[tune] {finished}/{total} split {e + 1} seed {seed} {m} trial {t}: "
                    f"objective {row.get('objective', math.inf):.2f} "
                    f"({row['status']}; eta {eta / 60:.1f} min)"
                )
        return n_new

    def prepare(self, entry: GridEntry, seed: int, datasets: dict[str, Any]) -> dict[str, Any]:
        split_cfg = entry.split.replace(seed=seed)
        train_cfg = entry.train.replace(seed=seed)
        name = split_cfg.dataset
        if name not in datasets:
            datasets.clear()
            datasets[name] = load_dataset(name, self.plan.config.data_dir)
        ds = datasets[name]
        if entry.model.name == "cnn" and not ds.is_image:
            raise ConfigError(f"dataset '{ds.name}' is tabular; set [model] name = \"mlp\"")
        split = make_split(ds, split_cfg)
        data = unlearning_data(ds, split, augment=train_cfg.augment)
        kw: dict[str, Any] = {
            "device": self.device,
            "cache_dir": self.cache,
            "show_progress": self.show,
        }
        original, _ = obtain_model("original", split, data, entry.model, train_cfg, **kw)
        retrained, _ = obtain_model(
            "retrain", split, data, entry.model, retrain_recipe(train_cfg), **kw
        )
        state = {
            "split_cfg": split_cfg,
            "train_cfg": train_cfg,
            "model_cfg": entry.model,
            "data": data,
            "original": original,
            "split_sha256": split.sha256,
        }
        state["retrain_metrics"] = self.metrics(state, retrained)
        return state

    def metrics(self, state: dict[str, Any], model: Any) -> dict[str, float]:
        split_cfg = state["split_cfg"]
        out = collect_outputs(
            model,
            state["data"],
            self.device,
            batch_size=self.eval_cfg.batch_size,
            parts=("retain", "forget", "val"),
            max_retain=self.eval_cfg.max_retain,
            seed=self.eval_cfg.seed,
        )
        classes = tuple(split_cfg.forget_classes) if split_cfg.scenario != "random" else ()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return evaluate_outputs(
                _val_as_test(out),
                scenario=split_cfg.scenario,
                forget_classes=classes,
                num_classes=state["data"].num_classes,
                config=self.eval_cfg,
            )

    def run_trial(
        self, state: dict[str, Any], entry: int, seed: int, method: str, trial: int
    ) -> dict:
        params = self.trials[method][trial]
        row: dict[str, Any] = {
            "trial_id": self.trial_id(entry, seed, method, trial),
            "entry": entry,
            "method": method,
            "trial": trial,
            "params": params,
            "split_sha256": state["split_sha256"],
            "seed": seed,
        }
        t0 = time.perf_counter()
        try:
            cls = get_method_class(method).config_cls
            config = cls.from_dict({**params, "seed": seed})
            outcome = unlearn_copy(
                method,
                config,
                state["original"],
                state["data"],
                device=self.device,
                model_config=state["model_cfg"],
                train_config=state["train_cfg"],
            )
            metrics = self.metrics(state, outcome.model)
            row.update(
                status="ok",
                metrics=metrics,
                retrain_metrics=state["retrain_metrics"],
                objective=objective(metrics, state["retrain_metrics"]),
                wall_time=float(outcome.wall_time),
            )
        except Exception as exc:  # a diverging trial is a result, not a crash of the search
            if isinstance(exc, KeyboardInterrupt):  # pragma: no cover
                raise
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}", objective=math.inf)
        row["elapsed"] = time.perf_counter() - t0
        return row

    def summarise(self) -> dict[str, Any]:
        rows = ResultsFile(self.out / TRIALS_FILE).load()
        by_id = {r["trial_id"]: r for r in rows}
        methods: dict[str, Any] = {}
        for m in self.methods:
            objectives, walls = [], []
            for t in range(len(self.trials[m])):
                vals, wall = [], 0.0
                for e, seed in self.groups():
                    r = by_id.get(self.trial_id(e, seed, m, t))
                    if r is None or r.get("status") != "ok":
                        vals.append(math.inf)
                    else:
                        vals.append(float(r["objective"]))
                        wall += float(r.get("wall_time", 0.0))
                objectives.append(float(np.mean(vals)))
                walls.append(wall)
            best = int(np.argmin(objectives))  # first minimum: ties go to the earlier trial
            base = self.trials[m][0]
            changes = {k: v for k, v in self.trials[m][best].items() if base.get(k, _MISSING) != v}
            methods[m] = {
                "trials": self.trials[m],
                "objectives": objectives,
                "wall_times": walls,
                "best_trial": best,
                "best_objective": objectives[best],
                "best": self.trials[m][best],
                "best_changes": changes,
                "search_space": {
                    k: d.describe() for k, d in get_method_class(m).search_space.items()
                },
            }
        return {
            "objective_keys": list(OBJECTIVE_KEYS),
            "tune": self.cfg.to_dict(),
            "splits": [e.to_dict()["split"] for e in self.plan.entries],
            "methods": methods,
            "device": str(self.device),
            "version": unlearnkit.__version__,
        }


_MISSING = object()


def run_tuning(
    plan: BenchmarkPlan,
    sections: Mapping[str, Any],
    cfg: TuneConfig,
    out_dir: str | Path,
    *,
    show_progress: bool = True,
) -> TuneOutcome:
    """Tune every method of ``plan`` (see the module docstring) and write ``OUT/``:
    ``trials.jsonl`` (one row per trial and split), ``tuning.json`` (objectives and the best
    config per method), ``tuning.md`` (a table) and ``tuned.toml`` (``sections`` with the
    best ``[methods.<name>]`` tables)."""
    for m in cfg.methods:
        if m in REFERENCE_METHODS:
            raise ConfigError(f"'{m}' has nothing to tune; leave it out of --methods")
        get_method_class(m)
    out = Path(out_dir)
    tuner = _Tuner(plan, cfg, out, show_progress)
    tuner.check_folder()
    n_new = tuner.run()
    summary = tuner.summarise()
    atomic_write_text(out / "tuning.json", json.dumps(clean_json(summary), indent=2))
    atomic_write_text(out / "tuning.md", _markdown(summary))
    tuned = {k: copy.deepcopy(v) for k, v in sections.items() if k != "methods"}
    methods_table = {k: dict(v) for k, v in (sections.get("methods") or {}).items()}
    for m, s in summary["methods"].items():
        if math.isfinite(s["best_objective"]):
            methods_table[m] = dict(s["best"])
    tuned["methods"] = methods_table
    header = (
        f"# Written by `unlearnkit tune` (unlearnkit {unlearnkit.__version__}): the benchmark "
        f"file with each method's best of {cfg.trials} configurations\n# on the val split at "
        f"tuning seed(s) {', '.join(str(x) for x in cfg.seeds)} (objective: mean "
        f"|method - retrain| in pp over "
        f"{', '.join(OBJECTIVE_KEYS)}; see tuning.md).\n\n"
    )
    tuned_path = out / "tuned.toml"
    atomic_write_text(tuned_path, header + to_toml(tuned))
    return TuneOutcome(out, summary, tuned_path, n_new)


def _markdown(summary: Mapping[str, Any]) -> str:
    t = summary["tune"]
    lines = [
        "# Hyperparameter search on the val split",
        "",
        f"{t['trials']} configurations per method (trial 0 = the benchmark file's config), "
        f"tuning seed(s) {', '.join(str(x) for x in t['seeds'])}, sampler seed "
        f"{t['sampler_seed']}. Objective: mean "
        f"|method − retrain| in percentage points over {', '.join(summary['objective_keys'])}, "
        "computed with val in the place of test, averaged over the splits and tuning seeds "
        "(lower is better).",
        "",
        "| method | trial-0 objective | best objective | best trial | best config (changes) "
        "| search space |",
        "|---|---|---|---|---|---|",
    ]
    for m, s in summary["methods"].items():
        changes = ", ".join(f"{k} = {v}" for k, v in s["best_changes"].items()) or "(trial 0)"
        space = "; ".join(f"{k}: {d}" for k, d in s["search_space"].items())
        lines.append(
            f"| {m} | {s['objectives'][0]:.2f} | {s['best_objective']:.2f} | {s['best_trial']} "
            f"| {changes} | {space} |"
        )
    lines += ["", "## Every trial", "", "| method | trial | objective | method wall (s) | config |"]
    lines.append("|---|---|---|---|---|")
    for m, s in summary["methods"].items():
        for i, (cfg, obj, wall) in enumerate(
            zip(s["trials"], s["objectives"], s["wall_times"], strict=True)
        ):
            c = ", ".join(f"{k} = {v}" for k, v in cfg.items()) or "(defaults)"
            lines.append(f"| {m} | {i} | {obj:.2f} | {wall:.1f} | {c} |")
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
