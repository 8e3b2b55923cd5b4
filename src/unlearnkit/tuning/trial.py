"""One tuning group (split, original, retrain at one tuning seed) and one trial's evaluation.

:func:`evaluate_trial` is a pure function of (group, method, params): it unlearns a copy of the
group's original with the method at ``params`` and returns one JSON-able row. It is the unit
of work the tuner hands to its executor (inline today; an engine task once the experiment
engine runs tasks).

**Val split in two** (issue 12, item 5). The tuner's non-members must be disjoint from the
data a method trains on and from test. Val is therefore split, per class, seeded, into

* the *methods' half*: what a method receives as ``val`` (SCRUB's reference set) and, within
  it, as ``val_domain`` (SURE's domain-0 data);
* the *evaluation half*: the non-members of every tuning attack and the "test" accuracy.

Methods get an empty test part: the tuner never reads test. Consequence (documented in
docs/tuning.md): during tuning SURE sees about ``1 − eval_fraction`` of its validation domain.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unlearnkit.data import load_dataset
from unlearnkit.data.batching import TensorSet, UnlearningData, unlearning_data
from unlearnkit.data.splits import make_split
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig
from unlearnkit.evaluation.collect import ModelOutputs, collect_outputs
from unlearnkit.evaluation.suite import evaluate_outputs
from unlearnkit.methods import get_method_class, unlearn_copy
from unlearnkit.methods.retrain import retrain_recipe
from unlearnkit.models import FeatureClassifier, ModelConfig
from unlearnkit.pipeline import obtain_model
from unlearnkit.training import TrainConfig
from unlearnkit.tuning.objective import TUNER_ATTACKERS, output_change

__all__ = ["TuneGroup", "evaluate_trial", "partition_val", "prepare_group", "tuning_eval_config"]

#: parts the tuner collects outputs on (``val`` = the evaluation half); never ``test``
EVAL_PARTS = ("retain", "forget", "val")


def tuning_eval_config(base: EvalConfig, *, mia: bool) -> EvalConfig:
    """The benchmark's caps and seed with the cheap attack set of the objectives (the
    logistic-regression embedding attacker; MIA-efficacy only when the objective needs it)."""
    return base.replace(attackers=TUNER_ATTACKERS, mia=mia, transfer=False, relearn=False)


def partition_val(val: TensorSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``val`` for (methods, evaluation): per class, a seeded ``fraction`` (rounded,
    at least one when the class has two or more rows) goes to evaluation. Sorted, disjoint,
    covering every row."""
    if not 0 < fraction < 1:
        raise ConfigError(f"tune eval_fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    labels = val.y.cpu().numpy()
    eval_rows = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = int(round(fraction * rows.size))
        k = min(max(k, 1), rows.size - 1) if rows.size >= 2 else 0
        eval_rows.append(rng.permutation(rows)[:k])
    ev = np.sort(np.concatenate(eval_rows)) if eval_rows else np.zeros(0, dtype=np.int64)
    methods = np.setdiff1d(np.arange(len(val)), ev)
    return methods, ev


def _empty(ts: TensorSet) -> TensorSet:
    return TensorSet(ts.x[:0], ts.y[:0], ts.indices[:0])


@dataclass
class TuneGroup:
    """What every trial of one (grid entry, tuning seed) shares."""

    entry: int
    seed: int
    model_config: ModelConfig
    train_config: TrainConfig
    scenario: str
    forget_classes: tuple[int, ...]
    split_sha256: str
    #: what methods receive: val = the methods' half, val_domain within it, test empty
    method_data: UnlearningData
    #: what the tuner evaluates on: val = the evaluation half
    eval_data: UnlearningData
    original: FeatureClassifier
    original_outputs: ModelOutputs
    retrain_metrics: dict[str, float]
    eval_config: EvalConfig

    def describe(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "seed": self.seed,
            "split_sha256": self.split_sha256,
            "val_methods": len(self.method_data.val),
            "val_domain": len(self.method_data.val_domain),
            "val_eval": len(self.eval_data.val),
        }


def _split_data(
    data: UnlearningData, fraction: float, seed: int
) -> tuple[UnlearningData, UnlearningData]:
    m_rows, e_rows = partition_val(data.val, fraction, seed)
    val_m = data.val.subset(m_rows)
    keep = np.isin(data.val_domain.indices, val_m.indices)
    methods = replace(
        data,
        val=val_m,
        val_domain=data.val_domain.subset(np.flatnonzero(keep)),
        test=_empty(data.test),
    )
    evaluation = replace(data, val=data.val.subset(e_rows), val_domain=_empty(data.val_domain))
    evaluation = replace(evaluation, test=_empty(data.test))
    return methods, evaluation


def prepare_group(
    *,
    entry_index: int,
    split_config: Any,
    model_config: ModelConfig,
    train_config: TrainConfig,
    seed: int,
    eval_config: EvalConfig,
    eval_fraction: float,
    data_dir: str | None,
    cache_dir: Path | None,
    device: torch.device,
    datasets: dict[str, Any],
    show_progress: bool = False,
) -> TuneGroup:
    """Split, original and retrain (trained or from the cache) at tuning seed ``seed``, the
    val partition, and the outputs and metrics that every trial of the group compares with."""
    split_cfg = split_config.replace(seed=seed)
    train_cfg = train_config.replace(seed=seed)
    name = split_cfg.dataset
    if name not in datasets:
        datasets.clear()  # one dataset in memory at a time
        datasets[name] = load_dataset(name, data_dir)
    ds = datasets[name]
    if model_config.name == "cnn" and not ds.is_image:
        raise ConfigError(f"dataset '{ds.name}' is tabular; set [model] name = \"mlp\"")
    split = make_split(ds, split_cfg)
    data = unlearning_data(ds, split, augment=train_cfg.augment)
    kw: dict[str, Any] = {"device": device, "cache_dir": cache_dir, "show_progress": show_progress}
    original, _ = obtain_model("original", split, data, model_config, train_cfg, **kw)
    retrain_cfg = retrain_recipe(train_cfg)  # retrain's own seed, derived from the original's
    retrained, _ = obtain_model("retrain", split, data, model_config, retrain_cfg, **kw)
    part_seed = int(split.sha256[:8], 16) ^ seed
    method_data, eval_data = _split_data(data, eval_fraction, part_seed)
    classes = tuple(split_cfg.forget_classes) if split_cfg.scenario != "random" else ()
    group = TuneGroup(
        entry=entry_index,
        seed=seed,
        model_config=model_config,
        train_config=train_cfg,
        scenario=split_cfg.scenario,
        forget_classes=classes,
        split_sha256=split.sha256,
        method_data=method_data,
        eval_data=eval_data,
        original=original,
        original_outputs=ModelOutputs({}),
        retrain_metrics={},
        eval_config=eval_config,
    )
    group.original_outputs = _outputs(group, original)
    group.retrain_metrics = _metrics(group, _outputs(group, retrained))
    return group


def _outputs(group: TuneGroup, model: FeatureClassifier) -> ModelOutputs:
    cfg = group.eval_config
    return collect_outputs(
        model,
        group.eval_data,
        next(group.original.parameters()).device,
        batch_size=cfg.batch_size,
        parts=EVAL_PARTS,
        max_retain=cfg.max_retain,
        seed=cfg.seed,
    )


def _metrics(group: TuneGroup, out: ModelOutputs) -> dict[str, float]:
    """The suite's metrics with the evaluation half of val in the place of test."""
    as_test = ModelOutputs(
        {"retain": out["retain"], "forget": out["forget"], "test": out["val"]},
        dict(out.subsampled),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_outputs(
            as_test,
            scenario=group.scenario,
            forget_classes=group.forget_classes,
            num_classes=group.eval_data.num_classes,
            config=group.eval_config,
        )


def _scalars(info: Mapping[str, Any]) -> dict[str, Any]:
    """The method's scalar info (bools, numbers, strings) for the trial row."""
    out: dict[str, Any] = {}
    for k, v in info.items():
        if isinstance(v, (bool, int, str)) or (isinstance(v, float) and math.isfinite(v)):
            out[k] = v
    return out


def evaluate_trial(
    group: TuneGroup, method: str, params: Mapping[str, Any], device: torch.device
) -> dict[str, Any]:
    """Unlearn with ``method`` at ``params`` (seeded with the group's tuning seed) and
    evaluate on the group's val evaluation half. Returns ``{"status": "ok", "metrics",
    "change", "info", "wall_time"}`` or ``{"status": "failed", "error"}`` (a diverging trial is
    a result, not a crash of the search)."""
    t0 = time.perf_counter()
    try:
        config = get_method_class(method).config_cls.from_dict({**params, "seed": group.seed})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = unlearn_copy(
                method,
                config,
                group.original,
                group.method_data,
                device=device,
                model_config=group.model_config,
                train_config=group.train_config,
            )
        out = _outputs(group, outcome.model)
        change = {
            part: output_change(group.original_outputs[part].logits, out[part].logits)
            for part in EVAL_PARTS
        }
        return {
            "status": "ok",
            "metrics": _metrics(group, out),
            "change": change,
            "info": _scalars(outcome.info),
            "wall_time": float(outcome.wall_time),
            "elapsed": time.perf_counter() - t0,
        }
    except Exception as exc:
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "elapsed": time.perf_counter() - t0,
        }
