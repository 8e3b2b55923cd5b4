"""The resumable grid runner: every (split, seed, method) of a plan, one JSON line per run.

Composition (the library calls a user would make): per group (split, seed) —
:func:`~unlearnkit.data.load_dataset` → :func:`~unlearnkit.data.splits.make_split` →
:func:`~unlearnkit.data.batching.unlearning_data` → :func:`~unlearnkit.pipeline.obtain_model` for
the original and the retrain (on-disk model cache) → their outputs collected once
(:func:`~unlearnkit.evaluation.collect_outputs`) and kept in memory; then per method
:func:`~unlearnkit.methods.create_method` → ``unlearn`` on a copy of the original → its outputs →
:func:`~unlearnkit.evaluation.evaluate_outputs` with retrain's outputs as the reference (plus
:func:`~unlearnkit.evaluation.relearn_time` when ``[eval] relearn`` is on).

Output folder:

* ``results.jsonl`` — one row per finished run (``status`` ``ok`` or ``failed``), appended
  with a single ``os.write`` on an ``O_APPEND`` descriptor and fsynced, so a crash leaves at
  most a trailing partial line, which readers ignore and the next run cuts off;
* ``benchmark-config.json`` — the resolved config of the first run; a rerun with a different
  config is refused (:class:`ConfigChangedError`);
* ``scores/<run_id>.npz`` — per-example losses of forget and of the attack's test negatives
  (ROC curves in the report); ``embeddings/<group>_<model>.npz`` — a small embedding subsample
  (PCA figure). Both written atomically (temp file + rename);
* with ``[attacks]``: ``attacks.jsonl`` — one row per finished per-example attack (group,
  attack, method), keyed by ``attack_id``, written like ``results.jsonl``; and
  ``attacks/<attack_id>.npz`` — its per-example arrays.

Per-example attacks (:func:`~unlearnkit.attacks.runner.run_neurips`,
:func:`~unlearnkit.attacks.runner.run_ulira`) run after a group's method runs, with one
:class:`~unlearnkit.attacks.runner.AttackSetup` per group that reuses the group's original and
keeps the model pools in the benchmark's cache folder, so every method shares them.

Resume: rerunning skips every run whose ``run_id`` (and every attack whose ``attack_id``)
already has an ``ok`` row; failed ones are retried. A group whose runs and attacks are all done
is skipped without loading anything; one with missing attacks only is loaded for them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import unlearnkit
from unlearnkit.attacks.runner import AttackSetup, run_neurips, run_ulira
from unlearnkit.benchmark.grid import BenchmarkPlan, Group, Run, stable_hash
from unlearnkit.data import load_dataset
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.batching import UnlearningData, unlearning_data
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import atomic_write_text, make_split
from unlearnkit.errors import ConfigError, UnlearnkitError
from unlearnkit.evaluation import (
    EvalConfig,
    ModelOutputs,
    collect_for_eval,
    evaluate_outputs,
    relearn_eval_rows,
    relearn_time,
)
from unlearnkit.methods import unlearn_copy
from unlearnkit.methods.retrain import retrain_recipe
from unlearnkit.models import FeatureClassifier
from unlearnkit.pipeline import obtain_model
from unlearnkit.utils import atomic_write, log, resolve_device

__all__ = [
    "ATTACKS_DIR",
    "ATTACKS_FILE",
    "CONFIG_FILE",
    "RESULTS_FILE",
    "BenchmarkLockedError",
    "BenchmarkOutcome",
    "ConfigChangedError",
    "ResultsFile",
    "check_config",
    "clean_json",
    "latest_rows",
    "run_benchmark",
]

RESULTS_FILE = "results.jsonl"
ATTACKS_FILE = "attacks.jsonl"
ATTACKS_DIR = "attacks"
CONFIG_FILE = "benchmark-config.json"
LOCK_FILE = ".benchmark.lock"


class ConfigChangedError(UnlearnkitError):
    """The benchmark file differs from the one the output folder was started with."""


class BenchmarkLockedError(UnlearnkitError):
    """Another benchmark process is writing to the same output folder."""


# --------------------------------------------------------------------------- JSON lines


def clean_json(obj: Any) -> Any:
    """A JSON-safe copy: NumPy/torch scalars and arrays to Python, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


class ResultsFile:
    """An append-only JSON-lines file whose rows are never seen half-written.

    :meth:`append` writes one complete line with a single ``os.write`` on a descriptor opened
    with ``O_APPEND`` and fsyncs it; :meth:`load` ignores a trailing line without its newline
    (a write cut short by a crash) and :meth:`repair` cuts such a tail off before appending.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n")
        rows = []
        for lineno, line in enumerate(data[: end + 1].splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(
                    f"{self.path}:{lineno} is not valid JSON; the row is ignored", stacklevel=2
                )
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def repair(self) -> None:
        """Cut off a trailing partial line (left by a crash mid-write)."""
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())

    def append(self, row: Mapping[str, Any]) -> None:
        line = (json.dumps(clean_json(row), sort_keys=True, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover (disk full)
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
            os.fsync(fd)
        finally:
            os.close(fd)


def latest_rows(rows: list[dict[str, Any]], key: str = "run_id") -> list[dict[str, Any]]:
    """The last row of every ``key`` (``run_id``; ``attack_id`` for ``attacks.jsonl``): a
    retried run's new row replaces its failed one. In the order of first appearance."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        last[str(row.get(key))] = row
    return list(last.values())


# --------------------------------------------------------------------------- output folder


def check_config(out_dir: str | Path, plan: BenchmarkPlan) -> Path:
    """Store the resolved config in a new output folder, or check it against the stored one.

    Only what determines the results is compared (not the device or the cache folder).
    Raises :class:`ConfigChangedError` when it differs.
    """
    out = Path(out_dir)
    path = out / CONFIG_FILE
    current = plan.experiment_dict()
    if path.is_file():
        try:
            stored = json.loads(path.read_text())["experiment"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(
                f"{path} is not a benchmark config written by unlearnkit; use a new --out folder"
            ) from None
        if stored != current:
            keys = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
            raise ConfigChangedError(
                f"config changed since the benchmark in {out} was started (different: "
                f"{', '.join(keys)}); its results would mix settings. Use a new --out folder, or "
                f"restore the config stored in {path} to resume"
            )
        return path
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        path,
        json.dumps(
            {
                "experiment": current,
                "runtime": plan.runtime_dict(),
                "version": unlearnkit.__version__,
            },
            indent=2,
            sort_keys=True,
        ),
    )
    return path


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows: no lock)
        yield
        return
    fh = (out / LOCK_FILE).open("w")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BenchmarkLockedError(
                f"another benchmark is writing to {out}; wait for it to finish or use another "
                "--out folder"
            ) from None
        yield
    finally:
        fh.close()


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.savez(fh, **arrays), fsync=True)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- evaluation


def attack_negatives_mask(labels: np.ndarray, scenario: str, classes: tuple[int, ...]) -> Any:
    """Which test rows the attacks use as non-members (same rule as the evaluation suite)."""
    if scenario == "random" or not classes:
        return np.ones(len(labels), dtype=bool)
    return np.isin(labels, classes)


@dataclass
class _GroupState:
    group: Group
    data: UnlearningData
    models: dict[str, FeatureClassifier]
    orig_rec: dict[str, Any]
    re_rec: dict[str, Any]
    outputs: dict[str, ModelOutputs]
    relearn_target: float | None
    common: dict[str, Any] = field(default_factory=dict)
    attack_setup: AttackSetup | None = None


@dataclass(frozen=True)
class _AttackJob:
    """One per-example attack of a group on one method; ``attack_id`` names its row."""

    attack_id: str
    attack: str
    size: int
    run: Run


@dataclass
class BenchmarkOutcome:
    """What a call of :func:`run_benchmark` did."""

    out_dir: Path
    total: int
    skipped: int
    ok: int
    failed: int
    wall_time: float
    failures: list[dict[str, Any]] = field(default_factory=list)
    attacks_total: int = 0
    attacks_skipped: int = 0
    attacks_ok: int = 0
    attacks_failed: int = 0
    attack_failures: list[dict[str, Any]] = field(default_factory=list)


class _Runner:
    def __init__(self, plan: BenchmarkPlan, out: Path, show_progress: bool) -> None:
        self.plan = plan
        self.out = out
        self.show = show_progress
        self.cfg = plan.config
        self.eval_cfg: EvalConfig = plan.eval
        self.device = resolve_device(self.cfg.device)
        self.cache = None if self.cfg.no_cache else Path(self.cfg.cache_dir or user_cache_dir())
        self.results = ResultsFile(out / RESULTS_FILE)
        self.attack_results = ResultsFile(out / ATTACKS_FILE)
        # model pools are always kept on disk (no_cache concerns the groups' own models)
        self.pool_cache = Path(self.cfg.cache_dir or user_cache_dir())
        self.datasets: dict[str, ArrayDataset] = {}
        self.bar: Any = None

    # -- helpers ----------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        if not self.show:
            return
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            log(msg)

    def collect(self, model: FeatureClassifier, data: UnlearningData, name: str) -> ModelOutputs:
        return collect_for_eval(model, data, self.device, self.eval_cfg, name)

    def evaluate(
        self, st: _GroupState, name: str, model: FeatureClassifier, out: ModelOutputs
    ) -> tuple[dict[str, float], list[str]]:
        split = st.group.split
        classes = tuple(split.forget_classes) if split.scenario != "random" else ()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics = evaluate_outputs(
                out,
                scenario=split.scenario,
                forget_classes=classes,
                num_classes=st.data.num_classes,
                reference=st.outputs["retrain"],
                config=self.eval_cfg,
            )
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        if out.subsampled:
            notes += [
                f"{p} evaluated on {u} of {t} examples" for p, (u, t) in out.subsampled.items()
            ]
        cfg = self.eval_cfg
        if cfg.relearn and st.relearn_target is not None:
            r = relearn_time(
                model,
                st.data.forget,
                st.relearn_target,
                device=self.device,
                lr=cfg.relearn_lr,
                batch_size=cfg.relearn_batch_size,
                max_steps=cfg.relearn_max_steps,
                seed=cfg.seed,
            )
            metrics["relearn_steps"] = float(r["steps"])
            metrics["relearn_reached"] = float(bool(r["reached"]))
            if not r["reached"]:
                notes.append(f"relearn target not reached within {r['cap']} steps (value = cap)")
        return metrics, notes

    def save_side_files(self, st: _GroupState, run: Run, out: ModelOutputs) -> dict[str, str]:
        files: dict[str, str] = {}
        split = st.group.split
        classes = tuple(split.forget_classes) if split.scenario != "random" else ()
        match = self.eval_cfg.match_classes
        test = out["test"]
        neg = attack_negatives_mask(test.labels, split.scenario, classes if match else ())
        if self.cfg.save_scores:
            path = self.out / "scores" / f"{run.run_id}.npz"
            _atomic_savez(
                path,
                forget_loss=out["forget"].losses.astype(np.float32),
                test_loss=test.losses[neg].astype(np.float32),
            )
            files["scores"] = str(path.relative_to(self.out))
        if run.method in self.cfg.embedding_models and self.cfg.embedding_sample > 0:
            path = self.out / "embeddings" / f"{st.group.group_id}_{run.method}.npz"
            arrays: dict[str, np.ndarray] = {}
            rng = np.random.default_rng(st.group.seed)
            for part in ("forget", "val", "test"):
                p = out[part]
                rows = np.arange(len(p))
                if part != "forget":  # held-out data of the forget set's distribution
                    rows = rows[attack_negatives_mask(p.labels, split.scenario, classes)]
                k = min(len(rows), self.cfg.embedding_sample)
                rows = np.sort(rng.choice(rows, size=k, replace=False)) if k else rows[:0]
                arrays[f"{part}_emb"] = p.embeddings[rows]
                arrays[f"{part}_labels"] = p.labels[rows]
            _atomic_savez(path, **arrays)
            files["embeddings"] = str(path.relative_to(self.out))
        return files

    # -- groups -----------------------------------------------------------------------------
    def prepare(self, group: Group) -> _GroupState:
        name = group.split.dataset
        if name not in self.datasets:
            self.datasets = {name: load_dataset(name, self.cfg.data_dir)}  # keep one in memory
        ds = self.datasets[name]
        if group.model.name == "cnn" and not ds.is_image:
            raise ConfigError(f"dataset '{ds.name}' is tabular; set [model] name = \"mlp\"")
        split = make_split(ds, group.split)
        data = unlearning_data(ds, split, augment=group.train.augment)
        kw: dict[str, Any] = {
            "device": self.device,
            "cache_dir": self.cache,
            "show_progress": self.show,
        }
        original, orig_rec = obtain_model("original", split, data, group.model, group.train, **kw)
        recipe = retrain_recipe(group.train)
        retrained, re_rec = obtain_model("retrain", split, data, group.model, recipe, **kw)
        outputs = {
            "retrain": self.collect(retrained, data, "retrain"),
            "original": self.collect(original, data, "original"),
        }
        target = None
        if self.eval_cfg.relearn:
            rows = relearn_eval_rows(len(data.forget), self.eval_cfg.seed)
            target = float(outputs["original"]["forget"].correct[rows].mean())
        models = {"original": original, "retrain": retrained}
        st = _GroupState(group, data, models, orig_rec, re_rec, outputs, target)
        st.common = {
            "group": group.group_id,
            "dataset": group.split.dataset,
            "scenario": group.split.scenario,
            "split": group.split.to_dict(),
            "split_sha256": split.sha256,
            "split_sizes": split.summary(),
            "model": group.model.to_dict(),
            "train": group.train.to_dict(),
            "seed": group.seed,
            "original_train_acc": orig_rec.get("train_acc"),
            "retrain_train_acc": re_rec.get("train_acc"),
        }
        return st

    def run_one(self, st: _GroupState, run: Run) -> dict[str, Any]:
        t0 = time.perf_counter()
        info: dict[str, Any] = {}
        if run.method == "original":
            model = st.models["original"]
            out = st.outputs["original"]
            wall, history = 0.0, st.orig_rec.get("history", [])
            info = {
                "train_wall_time": st.orig_rec.get("wall_time"),
                "cached": st.orig_rec.get("cached"),
            }
        elif run.method == "retrain":
            model = st.models["retrain"]
            out = st.outputs["retrain"]
            wall, history = (
                float(st.re_rec.get("wall_time", math.nan)),
                st.re_rec.get("history", []),
            )
            info = {"cached": st.re_rec.get("cached")}
        else:
            outcome = unlearn_copy(
                run.method,
                run.config,
                st.models["original"],
                st.data,
                device=self.device,
                model_config=st.group.model,
                train_config=st.group.train,
                show_progress=self.show,
            )
            model, wall, history, info = (
                outcome.model,
                outcome.wall_time,
                outcome.history,
                dict(outcome.info),
            )
            out = self.collect(model, st.data, run.method)
        t_eval = time.perf_counter()
        metrics, notes = self.evaluate(st, run.method, model, out)
        metrics["wall_time"] = float(wall)
        files = self.save_side_files(st, run, out)
        return {
            "run_id": run.run_id,
            **st.common,
            "method": run.method,
            "method_config": run.config.to_dict(),
            "status": "ok",
            "metrics": metrics,
            "history": history,
            "info": info,
            "notes": notes,
            "files": files,
            "wall_time": float(wall),
            "eval_time": time.perf_counter() - t_eval,
            "elapsed": time.perf_counter() - t0,
        }

    def base_row(self, group: Group, run: Run) -> dict[str, Any]:
        return {
            "run_id": run.run_id,
            "group": group.group_id,
            "dataset": group.split.dataset,
            "scenario": group.split.scenario,
            "split": group.split.to_dict(),
            "model": group.model.to_dict(),
            "train": group.train.to_dict(),
            "seed": group.seed,
            "method": run.method,
            "method_config": run.config.to_dict(),
        }

    def finish_row(self, row: dict[str, Any]) -> dict[str, Any]:
        row.update(
            {
                "version": unlearnkit.__version__,
                "torch": torch.__version__,
                "device": str(self.device),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )
        return row

    def failed_row(self, group: Group, run: Run, exc: BaseException, where: str = "") -> dict:
        return {
            **self.base_row(group, run),
            "status": "failed",
            "error": f"{where}{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=-8),
        }

    # -- per-example attacks ----------------------------------------------------------------
    def attack_jobs(self, group: Group) -> list[_AttackJob]:
        """The group's attacks: every enabled attack × attacked method, in that order."""
        attacks = self.plan.attacks
        runs = {run.method: run for run in group.runs}
        jobs = []
        for attack, size in attacks.enabled:
            for method in self.plan.attacked_methods:
                run = runs[method]
                attack_id = stable_hash(
                    {
                        "group": group.group_id,
                        "attack": attack,
                        "size": size,
                        "method": method,
                        "method_config": run.config.to_dict(),
                        "options": attacks.options(attack),
                    }
                )
                jobs.append(_AttackJob(attack_id, attack, size, run))
        return jobs

    def attack_base_row(self, group: Group, job: _AttackJob) -> dict[str, Any]:
        row = self.base_row(group, job.run)
        del row["run_id"]  # an attack row is keyed by its attack_id
        return {
            "attack_id": job.attack_id,
            **row,
            "attack": job.attack,
            "size": job.size,
            "options": self.plan.attacks.options(job.attack),
        }

    def attack_setup(self, st: _GroupState) -> AttackSetup:
        """The group's shared attack resources (created on first use): its data, recipe and
        original; pools in the benchmark's cache folder."""
        if st.attack_setup is None:
            st.attack_setup = AttackSetup(
                st.data,
                st.group.model,
                st.group.train,
                self.device,
                split=st.data.split,
                cache_dir=self.pool_cache,
                show_progress=self.show,
                retain_fraction=self.plan.attacks.retain_fraction,
                original=st.models["original"],
            )
        return st.attack_setup

    def run_attack(self, st: _GroupState, job: _AttackJob) -> dict[str, Any]:
        group, run = st.group, job.run
        setup = self.attack_setup(st)
        t0 = time.perf_counter()
        args = (run.method, run.config, st.data, st.data.split, group.model, group.train)
        if job.attack == "neurips":
            res = run_neurips(*args, job.size, self.device, setup=setup)
        else:
            res = run_ulira(
                *args,
                job.size,
                self.device,
                setup=setup,
                n_perm=self.plan.attacks.n_perm,
            )
        wall = time.perf_counter() - t0
        arrays = {k: np.asarray(v) for k, v in res.pop("arrays", {}).items()}
        path = self.out / ATTACKS_DIR / f"{job.attack_id}.npz"
        _atomic_savez(path, **arrays)
        scalars = {
            k: v
            for k, v in res.items()
            if v is None or isinstance(v, (bool, int, float, str, np.generic))
        }
        return {
            **self.attack_base_row(group, job),
            "status": "ok",
            "results": scalars,
            "files": {"arrays": str(path.relative_to(self.out))},
            "wall_time": wall,
        }

    def run_attacks(
        self, st: _GroupState, jobs: list[_AttackJob], label: str
    ) -> list[dict[str, Any]]:
        """Run the group's pending attacks; append and return their rows (ok or failed)."""
        rows = []
        for job in jobs:
            try:
                row = self.run_attack(st, job)
            except Exception as exc:  # recorded; retried on resume
                row = {
                    **self.attack_base_row(st.group, job),
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=-8),
                }
            row = self.finish_row(row)
            self.attack_results.append(row)
            rows.append(row)
            what = f"{job.attack} {'N' if job.attack == 'neurips' else 'K'}={job.size}"
            if row["status"] == "ok":
                self.say(
                    f"[benchmark] {label}: {what} {job.run.method}: "
                    f"{_attack_headline(job.attack, row['results'])} ({row['wall_time']:.1f} s)"
                )
            else:
                self.say(f"[benchmark] {label}: {what} {job.run.method} FAILED: {row['error']}")
        return rows

    def run(self) -> BenchmarkOutcome:
        t0 = time.perf_counter()
        self.results.repair()
        done = {
            r["run_id"]
            for r in latest_rows(self.results.load())
            if r.get("status") == "ok" and "run_id" in r
        }
        groups = list(self.plan.groups())
        all_ids = [run.run_id for g in groups for run in g.runs]
        skipped = sum(1 for i in all_ids if i in done)
        ok = failed = 0
        failures: list[dict[str, Any]] = []
        jobs = {g.group_id: self.attack_jobs(g) for g in groups}
        n_attacks = sum(len(j) for j in jobs.values())
        attacks_done: set[str] = set()
        if n_attacks:
            self.attack_results.repair()
            attacks_done = {
                r["attack_id"]
                for r in latest_rows(self.attack_results.load(), "attack_id")
                if r.get("status") == "ok" and "attack_id" in r
            }
        a_skipped = sum(1 for js in jobs.values() for j in js if j.attack_id in attacks_done)
        a_ok = a_failed = 0
        a_failures: list[dict[str, Any]] = []
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=len(all_ids),
            initial=skipped,
            desc=self.cfg.name,
            unit="run",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not self.show,
        )
        if skipped:
            self.say(f"[benchmark] resuming: {skipped} of {len(all_ids)} runs already done")
        if a_skipped:
            self.say(f"[benchmark] resuming: {a_skipped} of {n_attacks} attacks already done")
        try:
            for group in groups:
                pending = [r for r in group.runs if r.run_id not in done]
                pending_attacks = [
                    j for j in jobs[group.group_id] if j.attack_id not in attacks_done
                ]
                if not pending and not pending_attacks:
                    continue
                label = (
                    f"{group.split.dataset} {group.split.scenario} #{group.entry + 1} "
                    f"seed {group.seed}"
                )
                todo = f"{len(pending)} run(s)"
                if pending_attacks:
                    todo += f", {len(pending_attacks)} attack(s)"
                self.say(f"[benchmark] {label}: {todo}")
                try:
                    st = self.prepare(group)
                except Exception as exc:  # the whole group fails; the grid goes on
                    for run in pending:
                        row = self.finish_row(
                            self.failed_row(group, run, exc, "original/retrain failed: ")
                        )
                        self.results.append(row)
                        failures.append(row)
                        failed += 1
                        self.bar.update(1)
                    for job in pending_attacks:
                        row = self.finish_row(
                            {
                                **self.attack_base_row(group, job),
                                "status": "failed",
                                "error": f"original/retrain failed: {type(exc).__name__}: {exc}",
                            }
                        )
                        self.attack_results.append(row)
                        a_failures.append(row)
                        a_failed += 1
                    self.say(f"[benchmark] {label}: FAILED ({type(exc).__name__}: {exc})")
                    continue
                for run in pending:
                    try:
                        row = self.run_one(st, run)
                    except Exception as exc:  # recorded; retried on resume
                        row = self.failed_row(group, run, exc)
                    row = self.finish_row(row)
                    self.results.append(row)
                    self.bar.update(1)
                    if row["status"] == "ok":
                        ok += 1
                        self.say(
                            f"[benchmark] {label}: {run.method} ok "
                            f"(unlearning {row['wall_time']:.1f} s, eval {row['eval_time']:.1f} s)"
                        )
                    else:
                        failed += 1
                        failures.append(row)
                        self.say(f"[benchmark] {label}: {run.method} FAILED: {row['error']}")
                for row in self.run_attacks(st, pending_attacks, label):
                    if row["status"] == "ok":
                        a_ok += 1
                    else:
                        a_failed += 1
                        a_failures.append(row)
                del st
        finally:
            self.bar.close()
            self.bar = None
        return BenchmarkOutcome(
            self.out,
            len(all_ids),
            skipped,
            ok,
            failed,
            time.perf_counter() - t0,
            failures,
            attacks_total=n_attacks,
            attacks_skipped=a_skipped,
            attacks_ok=a_ok,
            attacks_failed=a_failed,
            attack_failures=a_failures,
        )


def _attack_headline(attack: str, results: Mapping[str, Any]) -> str:
    """The log line's numbers: the NeurIPS score and F, or U-LiRA's AUC and p-value."""

    def num(key: str, spec: str) -> str:
        v = results.get(key)
        return format(v, spec) if isinstance(v, (int, float)) and math.isfinite(v) else "—"

    if attack == "neurips":
        return (
            f"score {num('score', '.4f')}, F {num('forgetting_quality', '.4f')}, "
            f"emb F {num('emb_forgetting_quality', '.4f')}"
        )
    return (
        f"AUC {num('auc', '.3f')} (p {num('auc_p_value', '.3f')}), emb AUC {num('emb_auc', '.3f')}"
    )


def run_benchmark(
    plan: BenchmarkPlan, out_dir: str | Path, *, show_progress: bool = True
) -> BenchmarkOutcome:
    """Run (or resume) every run of ``plan``, appending rows to ``out_dir/results.jsonl``,
    and, with ``[attacks]``, every per-example attack, one row each in ``out_dir/attacks.jsonl``.

    Refuses an output folder started with a different config (:class:`ConfigChangedError`) or
    in use by another process (:class:`BenchmarkLockedError`). A run that raises is recorded
    with ``status: failed`` and its error, and the grid goes on; rerunning retries it. The
    same holds for attacks.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        check_config(out, plan)
        return _Runner(plan, out, show_progress).run()
