"""The resumable grid runner: every (split, seed, method) of a plan as engine tasks, one JSON
line per run.

The plan's runs are :class:`~unlearnkit.engine.spec.UnlearnTask` s; :class:`~unlearnkit.engine.
Engine` builds each group (dataset, split, original and retrain from the model cache, trained
as tasks when missing) and runs the tasks inline or on Ray (``[engine]`` /
``--workers`` / ``--ray-address``). This module only chooses the pending tasks and writes what
comes back — the engine's driver is the one writer of the folder.

Output folder:

* ``results.jsonl`` — one row per finished run (``status`` ``ok`` or ``failed``), appended
  with a single ``os.write`` on an ``O_APPEND`` descriptor and fsynced, so a crash leaves at
  most a trailing partial line, which readers ignore and the next run cuts off;
* ``benchmark-config.json`` — the resolved config of the first run; a rerun with a different
  config is refused (:class:`ConfigChangedError`); a second process on the same folder too
  (:class:`BenchmarkLockedError`);
* ``scores/<run_id>.npz`` — per-example losses of forget and of the attack's test negatives
  (ROC curves in the report); ``embeddings/<group>_<model>.npz`` — a small embedding subsample
  (PCA figure). Both written atomically (temp file + rename);
* with ``[attacks]``: ``attacks.jsonl`` — one row per finished per-example attack (group,
  attack, method), keyed by ``attack_id``, written like ``results.jsonl``; and
  ``attacks/<attack_id>.npz`` — its per-example arrays.

Per-example attacks (:func:`~unlearnkit.attacks.runner.run_neurips`,
:func:`~unlearnkit.attacks.runner.run_ulira`) run after the method runs, with one
:class:`~unlearnkit.attacks.runner.AttackSetup` per group that reuses the group's original and
keeps the model pools in the benchmark's cache folder, so every method shares them.

Resume: rerunning skips every run whose ``run_id`` (and every attack whose ``attack_id``)
already has an ``ok`` row; failed ones are retried. A group whose runs and attacks are all done
is skipped without loading anything. Rows carry the dataset's content hash; a resume that
would add rows on data whose content changed since is refused (:func:`check_data_unchanged`).
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.attacks.runner import AttackSetup, run_neurips, run_ulira
from unlearnkit.benchmark.grid import BenchmarkPlan, Group, Run
from unlearnkit.data.batching import UnlearningData
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.engine import Engine, EngineConfig, TaskResult, UnlearnTask
from unlearnkit.engine.group import build_group, data_source, dataset_sha256, group_models
from unlearnkit.engine.tasks import base_row, finish_row
from unlearnkit.models import FeatureClassifier
from unlearnkit.records import (
    ConfigChangedError,
    ResultsFile,
    atomic_savez,
    clean_json,
    exclusive_folder,
    latest_rows,
    stable_hash,
    store_or_check,
)
from unlearnkit.records import FolderLockedError as BenchmarkLockedError
from unlearnkit.utils import log, resolve_device

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


def check_config(out_dir: str | Path, plan: BenchmarkPlan) -> Path:
    """Store the resolved config in a new output folder, or check it against the stored one.

    Only what determines the results is compared (not the device, the cache folder or the
    executor). Raises :class:`ConfigChangedError` when it differs.
    """
    import unlearnkit

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extra = {"runtime": plan.runtime_dict(), "version": unlearnkit.__version__}
    return store_or_check(out / CONFIG_FILE, plan.experiment_dict(), what="benchmark", extra=extra)


def check_data_unchanged(out_dir: Path, rows: list[dict[str, Any]], groups: list[Group]) -> None:
    """Refuse to resume onto rows computed on other data: every ``ok`` row of a dataset must
    carry the content hash (``data_sha256``) that dataset has now.

    Raises :class:`ConfigChangedError` naming the dataset, both hashes and the fix.
    """
    stored: dict[str, set[str]] = {}
    for row in rows:
        if row.get("status") == "ok" and row.get("data_sha256"):
            stored.setdefault(str(row.get("dataset")), set()).add(str(row["data_sha256"]))
    checked: set[str] = set()
    for g in groups:
        spec = g.spec
        if spec.dataset not in stored or spec.dataset in checked:
            continue
        checked.add(spec.dataset)
        now = dataset_sha256(spec)
        before = stored[spec.dataset] - {now}
        if before:
            was = ", ".join(sorted(h[:12] + "…" for h in before))
            raise ConfigChangedError(
                f"the data of dataset '{spec.dataset}' changed since the benchmark in {out_dir} "
                f"was started (its rows have content sha256 {was}, the data now {now[:12]}…); "
                "resuming would mix results on different data. Use a new --out folder, or "
                "restore the data files it was started with"
            )


@dataclass
class _AttackGroup:
    """What a group's per-example attacks share: its data and original, one setup."""

    group: Group
    data: UnlearningData
    original: FeatureClassifier
    setup: AttackSetup | None = None


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
    def __init__(
        self, plan: BenchmarkPlan, out: Path, show_progress: bool, engine: EngineConfig
    ) -> None:
        self.plan = plan
        self.out = out
        self.show = show_progress
        self.cfg = plan.config
        self.engine_cfg = engine
        self.device = resolve_device(self.cfg.device)
        self.cache = None if self.cfg.no_cache else Path(self.cfg.cache_dir or user_cache_dir())
        self.results = ResultsFile(out / RESULTS_FILE)
        self.attack_results = ResultsFile(out / ATTACKS_FILE)
        # model pools are always kept on disk (no_cache concerns the groups' own models)
        self.pool_cache = Path(self.cfg.cache_dir or user_cache_dir())
        self.bar: Any = None
        self.outcome = BenchmarkOutcome(out, 0, 0, 0, 0, 0.0)
        self.labels: dict[str, str] = {}

    # -- helpers ----------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        if not self.show:
            return
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            log(msg)

    def write_side_files(self, task: UnlearnTask, result: TaskResult) -> dict[str, str]:
        """The task's per-example arrays as ``.npz`` files (atomic); their paths for the row."""
        files: dict[str, str] = {}
        where = {
            "scores": Path("scores") / f"{task.key}.npz",
            "embeddings": Path("embeddings") / f"{task.group.key}_{task.method}.npz",
        }
        for name, arrays in result.arrays.items():
            atomic_savez(self.out / where[name], **arrays)
            files[name] = str(where[name])
        return files

    def on_result(self, task: UnlearnTask, result: TaskResult) -> None:
        """Record one finished run (the driver's only write path for runs)."""
        row = result.row
        if result.ok:
            row["files"] = self.write_side_files(task, result)
        self.results.append(row)
        self.bar.update(1)
        label = self.labels.get(task.group.key, task.group.key)
        if result.ok:
            self.outcome.ok += 1
            self.say(
                f"[benchmark] {label}: {task.method} ok "
                f"(unlearning {row['wall_time']:.1f} s, eval {row['eval_time']:.1f} s)"
            )
        else:
            self.outcome.failed += 1
            self.outcome.failures.append(row)
            self.say(f"[benchmark] {label}: {task.method} FAILED: {row['error']}")

    def run_methods(self, engine: Engine, groups: list[Group], done: set[str]) -> None:
        """Every pending run of every group, through the engine."""
        tasks = [r.task for g in groups for r in g.runs if r.run_id not in done]
        for g in groups:
            self.labels[g.group_id] = (
                f"{g.split.dataset} {g.split.scenario} #{g.entry + 1} seed {g.seed}"
            )
        if tasks:
            engine.run(tasks, self.on_result)

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

    def attack_base_row(self, job: _AttackJob) -> dict[str, Any]:
        row = base_row(job.run.task)
        del row["run_id"]  # an attack row is keyed by its attack_id
        return {
            "attack_id": job.attack_id,
            **row,
            "attack": job.attack,
            "size": job.size,
            "options": self.plan.attacks.options(job.attack),
        }

    def attack_group(self, engine: Engine, group: Group) -> _AttackGroup:
        """The group's data and original (from the engine's cache), one shared setup; pool
        trainings and unlearning runs go to the engine as tasks."""
        models = group_models(group.spec, self.cache, device=str(self.device))
        built = build_group(group.spec, models, self.device)
        st = _AttackGroup(group, built.data, built.models["original"])
        st.setup = AttackSetup(
            st.data,
            group.model,
            group.train,
            self.device,
            split=built.split,
            cache_dir=self.pool_cache,
            show_progress=self.show,
            retain_fraction=self.plan.attacks.retain_fraction,
            original=st.original,
            mapper=None if engine.inline else engine,
            data_source=data_source(group.spec),
        )
        return st

    def run_attack(self, st: _AttackGroup, job: _AttackJob) -> dict[str, Any]:
        group, run = st.group, job.run
        assert st.setup is not None
        t0 = time.perf_counter()
        args = (run.method, run.config, st.data, st.data.split, group.model, group.train)
        if job.attack == "neurips":
            res = run_neurips(*args, job.size, self.device, setup=st.setup)
        else:
            res = run_ulira(
                *args, job.size, self.device, setup=st.setup, n_perm=self.plan.attacks.n_perm
            )
        wall = time.perf_counter() - t0
        arrays = {k: np.asarray(v) for k, v in res.pop("arrays", {}).items()}
        path = Path(ATTACKS_DIR) / f"{job.attack_id}.npz"
        atomic_savez(self.out / path, **arrays)
        scalars = {
            k: v
            for k, v in res.items()
            if v is None or isinstance(v, (bool, int, float, str, np.generic))
        }
        return {
            **self.attack_base_row(job),
            "status": "ok",
            "results": scalars,
            "files": {"arrays": str(path)},
            "wall_time": wall,
        }

    def record_attack(self, job: _AttackJob, row: dict[str, Any], label: str) -> None:
        row = finish_row(row, self.device)
        self.attack_results.append(row)
        what = f"{job.attack} {'N' if job.attack == 'neurips' else 'K'}={job.size}"
        if row["status"] == "ok":
            self.outcome.attacks_ok += 1
            self.say(
                f"[benchmark] {label}: {what} {job.run.method}: "
                f"{_attack_headline(job.attack, row['results'])} ({row['wall_time']:.1f} s)"
            )
        else:
            self.outcome.attacks_failed += 1
            self.outcome.attack_failures.append(row)
            self.say(f"[benchmark] {label}: {what} {job.run.method} FAILED: {row['error']}")

    def run_attacks(self, engine: Engine, group: Group, jobs: list[_AttackJob]) -> None:
        """Run the group's pending attacks; record their rows (ok or failed)."""
        label = self.labels.get(group.group_id, group.group_id)
        self.say(f"[benchmark] {label}: {len(jobs)} attack(s)")
        try:
            st = self.attack_group(engine, group)
        except Exception as exc:  # the group's attacks fail; the grid goes on
            for job in jobs:
                error = f"original/retrain failed: {type(exc).__name__}: {exc}"
                row = {**self.attack_base_row(job), "status": "failed", "error": error}
                self.record_attack(job, row, label)
            return
        for job in jobs:
            try:
                row = self.run_attack(st, job)
            except Exception as exc:  # recorded; retried on resume
                row = {
                    **self.attack_base_row(job),
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=-8),
                }
            self.record_attack(job, row, label)

    # -- the whole plan ---------------------------------------------------------------------
    def run(self) -> BenchmarkOutcome:
        t0 = time.perf_counter()
        self.results.repair()
        done = self.results.done("run_id")
        groups = list(self.plan.groups())
        all_ids = [run.run_id for g in groups for run in g.runs]
        o = self.outcome
        o.total, o.skipped = len(all_ids), sum(1 for i in all_ids if i in done)
        jobs = {g.group_id: self.attack_jobs(g) for g in groups}
        o.attacks_total = sum(len(j) for j in jobs.values())
        attacks_done: set[str] = set()
        if o.attacks_total:
            self.attack_results.repair()
            attacks_done = self.attack_results.done("attack_id")
        o.attacks_skipped = sum(
            1 for js in jobs.values() for j in js if j.attack_id in attacks_done
        )
        to_add = [
            g
            for g in groups
            if any(r.run_id not in done for r in g.runs)
            or any(j.attack_id not in attacks_done for j in jobs[g.group_id])
        ]
        if o.skipped and to_add:  # rows to add to: they must be on the same data
            check_data_unchanged(self.out, self.results.load(), to_add)
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=o.total,
            initial=o.skipped,
            desc=self.cfg.name,
            unit="run",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not self.show,
        )
        if o.skipped:
            self.say(f"[benchmark] resuming: {o.skipped} of {o.total} runs already done")
        if o.attacks_skipped:
            self.say(
                f"[benchmark] resuming: {o.attacks_skipped} of {o.attacks_total} attacks "
                "already done"
            )
        try:
            with Engine(
                self.engine_cfg,
                device=self.cfg.device,
                cache_dir=self.cache,
                show_progress=self.show,
            ) as engine:
                self.run_methods(engine, groups, done)
                for group in groups:
                    pending = [j for j in jobs[group.group_id] if j.attack_id not in attacks_done]
                    if pending:
                        self.run_attacks(engine, group, pending)
        finally:
            self.bar.close()
            self.bar = None
        o.wall_time = time.perf_counter() - t0
        return o


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
    plan: BenchmarkPlan,
    out_dir: str | Path,
    *,
    show_progress: bool = True,
    engine: EngineConfig | None = None,
) -> BenchmarkOutcome:
    """Run (or resume) every run of ``plan``, appending rows to ``out_dir/results.jsonl``,
    and, with ``[attacks]``, every per-example attack, one row each in ``out_dir/attacks.jsonl``.

    ``engine`` says where the runs go: inline (default) or Ray; the rows are the same.
    Refuses an output folder started with a different config (:class:`ConfigChangedError`) or
    in use by another process (:class:`BenchmarkLockedError`). A run that raises is recorded
    with ``status: failed`` and its error, and the grid goes on; rerunning retries it. The
    same holds for attacks.
    """
    out = Path(out_dir)
    with exclusive_folder(out, "benchmark"):
        check_config(out, plan)
        return _Runner(plan, out, show_progress, engine or EngineConfig()).run()
