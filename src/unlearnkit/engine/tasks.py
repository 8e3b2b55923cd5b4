"""Task bodies: what runs on a worker (or inline). Each returns a result, never writes a file.

* :func:`run_unlearn` — an :class:`~unlearnkit.engine.spec.UnlearnTask`: unlearn on a copy of
  the group's original, collect the outputs, evaluate them against the retrain's on the
  task's target, and return one row (plus the per-example arrays it was asked for);
* :func:`~unlearnkit.engine.group.train_role` — the original or the retrain of a group;
* :func:`run_pool_model` — one model of an attack pool.

A task that raises inside its body returns a ``failed`` :class:`TaskResult` with the error and
the traceback, so the driver records it and the rest goes on.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import unlearnkit
from unlearnkit.engine.group import Group, GroupModels, build_group, content_sha256
from unlearnkit.engine.spec import SideOutputs, UnlearnTask
from unlearnkit.evaluation import ModelOutputs, collect_for_eval, evaluate_outputs, relearn_time
from unlearnkit.methods import unlearn_copy
from unlearnkit.models import FeatureClassifier
from unlearnkit.utils import resolve_device

__all__ = ["TaskResult", "attack_negatives_mask", "run_unlearn"]


@dataclass
class TaskResult:
    """A task's row (``status`` ``ok`` or ``failed``), its per-example arrays (name → arrays,
    written by the driver) and, when asked, the model's weights."""

    row: dict[str, Any]
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    state: dict[str, torch.Tensor] | None = None
    #: the exception of a failed task, when it could be kept (library callers re-raise it)
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.row.get("status") == "ok"


def attack_negatives_mask(labels: np.ndarray, scenario: str, classes: tuple[int, ...]) -> Any:
    """Which test rows the attacks use as non-members (same rule as the evaluation suite)."""
    if scenario == "random" or not classes:
        return np.ones(len(labels), dtype=bool)
    return np.isin(labels, classes)


def _val_as_test(out: ModelOutputs) -> ModelOutputs:
    """The outputs with val in the place of test (tuning never reads test)."""
    return ModelOutputs(
        {"retain": out["retain"], "forget": out["forget"], "test": out["val"]},
        dict(out.subsampled),
    )


def _classes(group: Group) -> tuple[int, ...]:
    cfg = group.split.config
    return tuple(cfg.forget_classes) if cfg.scenario != "random" else ()


def base_row(task: UnlearnTask) -> dict[str, Any]:
    """What identifies a task's row (also of a failed one)."""
    spec = task.group
    row = {
        "run_id": task.key,
        "group": spec.key,
        "dataset": spec.dataset,
        "scenario": spec.split.scenario,
        "split": spec.split.to_dict(),
        "model": spec.model.to_dict(),
        "train": spec.train.to_dict(),
        "seed": spec.split.seed,
        "method": task.method,
        "method_config": task.config.to_dict(),
    }
    if task.target != "test":
        row["target"] = task.target
    return {**row, **dict(task.labels)}


def failed_row(task: UnlearnTask, error: str, tb: str = "") -> dict[str, Any]:
    return {**base_row(task), "status": "failed", "error": error, "traceback": tb}


def _evaluate(
    task: UnlearnTask, group: Group, model: FeatureClassifier, out: ModelOutputs, dev: Any
) -> tuple[dict[str, float], list[str]]:
    """The task's metrics against the retrain (on its target), relearn time, notes."""
    cfg = task.eval
    reference = group.outputs("retrain", cfg, dev)
    if task.target == "val":
        out, reference = _val_as_test(out), _val_as_test(reference)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = evaluate_outputs(
            out,
            scenario=group.split.config.scenario,
            forget_classes=_classes(group),
            num_classes=group.data.num_classes,
            reference=reference,
            config=cfg,
        )
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    notes += [f"{p} evaluated on {u} of {t} examples" for p, (u, t) in out.subsampled.items()]
    if cfg.relearn:
        r = relearn_time(
            model,
            group.data.forget,
            group.relearn_target(cfg, dev),
            device=dev,
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


def _side_arrays(
    side: SideOutputs, group: Group, out: ModelOutputs, seed: int, match: bool
) -> dict[str, dict[str, np.ndarray]]:
    """Per-example loss scores (ROC curves) and an embedding subsample (PCA figure)."""
    arrays: dict[str, dict[str, np.ndarray]] = {}
    scenario, classes = group.split.config.scenario, _classes(group)
    test = out["test"]
    if side.scores:
        neg = attack_negatives_mask(test.labels, scenario, classes if match else ())
        arrays["scores"] = {
            "forget_loss": out["forget"].losses.astype(np.float32),
            "test_loss": test.losses[neg].astype(np.float32),
        }
    if side.embedding_sample > 0:
        emb: dict[str, np.ndarray] = {}
        rng = np.random.default_rng(seed)
        for part in ("forget", "val", "test"):
            p = out[part]
            rows = np.arange(len(p))
            if part != "forget":  # held-out data of the forget set's distribution
                rows = rows[attack_negatives_mask(p.labels, scenario, classes)]
            k = min(len(rows), side.embedding_sample)
            rows = np.sort(rng.choice(rows, size=k, replace=False)) if k else rows[:0]
            emb[f"{part}_emb"] = p.embeddings[rows]
            emb[f"{part}_labels"] = p.labels[rows]
        arrays["embeddings"] = emb
    return arrays


def _unlearned(task: UnlearnTask, group: Group, dev: torch.device) -> tuple[Any, ...]:
    """(model, outputs, wall time, history, info) of the task's method on the group."""
    if task.method in ("original", "retrain"):
        rec = group.records[task.method]
        wall = 0.0 if task.method == "original" else float(rec.get("wall_time", math.nan))
        info: dict[str, Any] = {"cached": rec.get("cached")}
        if task.method == "original":
            info["train_wall_time"] = rec.get("wall_time")
        model = group.models[task.method]
        out = group.outputs(task.method, task.eval, dev)
        return model, out, wall, rec.get("history", []), info
    outcome = unlearn_copy(
        task.method,
        task.config,
        group.models["original"],
        group.data,
        device=dev,
        model_config=task.group.model,
        train_config=task.group.train,
    )
    out = collect_for_eval(outcome.model, group.data, dev, task.eval, task.method)
    return outcome.model, out, outcome.wall_time, outcome.history, dict(outcome.info)


def _row(task: UnlearnTask, group: Group, dev: torch.device) -> TaskResult:
    t0 = time.perf_counter()
    model, out, wall, history, info = _unlearned(task, group, dev)
    t_eval = time.perf_counter()
    metrics, notes = _evaluate(task, group, model, out, dev)
    metrics["wall_time"] = float(wall)
    arrays = _side_arrays(task.side, group, out, task.group.split.seed, task.eval.match_classes)
    row = {
        **base_row(task),
        "split_sha256": group.split.sha256,
        "data_sha256": content_sha256(task.group),
        "split_sizes": group.split.summary(),
        "original_train_acc": group.records["original"].get("train_acc"),
        "retrain_train_acc": group.records["retrain"].get("train_acc"),
        "status": "ok",
        "metrics": metrics,
        "history": history,
        "info": info,
        "notes": notes,
        "wall_time": float(wall),
        "eval_time": time.perf_counter() - t_eval,
        "elapsed": time.perf_counter() - t0,
    }
    state = None
    if task.keep_model:
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return TaskResult(row, arrays, state)


def finish_row(row: dict[str, Any], device: Any) -> dict[str, Any]:
    """Stamp a row with the versions, the device and the time it finished."""
    row.update(
        {
            "version": unlearnkit.__version__,
            "torch": torch.__version__,
            "device": str(device),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    return row


def run_unlearn(task: UnlearnTask, models: GroupModels, device: str = "auto") -> TaskResult:
    """Run one unlearn task on the group built from ``models`` (built once per process)."""
    dev = resolve_device(device)
    try:
        group = build_group(task.group, models, dev)
        result = _row(task, group, dev)
    except Exception as exc:  # recorded by the driver; retried on resume
        row = failed_row(task, f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=-8))
        result = TaskResult(row, error=exc)
    finish_row(result.row, dev)
    return result
