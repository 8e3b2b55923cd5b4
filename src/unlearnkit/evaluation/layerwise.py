"""Layer-wise evaluation: how deep does forgetting go?

Representation-level re-examinations of unlearning (Kim et al. 2025, "Are we truly forgetting?
A critical re-examination of machine unlearning evaluation protocols") find that many methods
leave every layer but the last nearly as the original had it. The suite's embedding metrics
read only the penultimate embedding; these read every recorded layer (activations from
:class:`~unlearnkit.evaluation.layer_hooks.LayerRecorder`, pooled to vectors, collected in the
same pass as the outputs). Per layer ``L`` (row keys ``layer.<L>.<metric>``):

* ``cka_forget`` — linear CKA (Kornblith et al. 2019) between this model's and retrain's
  activations of the same forget examples (retrain: 1 by definition);
* ``cka_test`` — the same on the test examples the attacks use as negatives: the control (a
  method that changes a layer everywhere lowers both; one that erases the forget set
  specifically lowers ``cka_forget`` more);
* ``probe_forget_acc`` — forget accuracy of a linear probe fitted on retain activations with
  labels (class scenario: out-of-fold probe on forget ∪ test, as the suite's
  ``probe_forget_acc``);
* ``emb_logreg_auc`` — the logistic embedding attack (forget vs the matched test negatives,
  5-fold out-of-fold AUC, as the suite's ``emb_logreg_auc``).

Every side is capped at ``max_rows`` rows (seeded, identical for every model), like the other
attacks. The target of every number is retrain's value at the same layer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.collect import ModelOutputs, retain_rows
from unlearnkit.evaluation.embedding_attacks import (
    cross_fitted_probe_accuracy,
    embedding_attack,
    linear_cka,
    linear_probe_accuracy,
)
from unlearnkit.evaluation.metrics import UnreliableMetricWarning

__all__ = [
    "LAYER_INDEX",
    "LAYER_METRICS",
    "LAYER_PREFIX",
    "LayerMetric",
    "depth_profile",
    "layer_key",
    "layer_order",
    "layerwise_metrics",
    "parse_layer_key",
]

LAYER_PREFIX = "layer."

#: Suffix of the key ``layer.<name>.index`` = the layer's position in recording order (0 =
#: shallowest): results files sort their keys, so the depth order is stored with the numbers.
LAYER_INDEX = "index"


@dataclass(frozen=True)
class LayerMetric:
    """What one per-layer metric means (the suffix of ``layer.<name>.<suffix>``)."""

    suffix: str
    label: str
    description: str
    target: str


#: Per-layer metrics in row order.
LAYER_METRICS: dict[str, LayerMetric] = {
    m.suffix: m
    for m in (
        LayerMetric(
            "cka_forget",
            "CKA to retrain (forget)",
            "linear CKA between this model's and retrain's activations of the forget examples",
            "retrain (= 1)",
        ),
        LayerMetric(
            "cka_test",
            "CKA to retrain (test, control)",
            "linear CKA between this model's and retrain's activations of the attack's test "
            "negatives",
            "retrain (= 1)",
        ),
        LayerMetric(
            "probe_forget_acc",
            "Linear probe forget acc.",
            "forget accuracy of a linear probe fitted on retain activations (class scenario: "
            "out-of-fold on forget ∪ test)",
            "retrain",
        ),
        LayerMetric(
            "emb_logreg_auc",
            "Emb. logreg AUC",
            "AUC of the logistic embedding attack, forget vs matched test, out-of-fold",
            "retrain (≈ 0.5 for random forgetting)",
        ),
    )
}


def layer_key(layer: str, metric: str) -> str:
    """Row key ``layer.<layer>.<metric>``."""
    return f"{LAYER_PREFIX}{layer}.{metric}"


def parse_layer_key(key: str) -> tuple[str, str] | None:
    """``(layer, metric)`` of a ``layer.<layer>.<metric>`` key (layer names may contain dots);
    None for any other key."""
    if not key.startswith(LAYER_PREFIX):
        return None
    layer, _, metric = key[len(LAYER_PREFIX) :].rpartition(".")
    if not layer or (metric not in LAYER_METRICS and metric != LAYER_INDEX):
        return None
    return layer, metric


def _check_layers(out: ModelOutputs, what: str) -> None:
    missing = [p for p in ("retain", "forget", "test") if p not in out.layers]
    if missing:
        raise EvaluationError(
            f"{what} has no recorded layer activations for {', '.join(missing)}: collect with "
            "collect_outputs(..., layers=[...]) (EvalConfig.layerwise)"
        )


def _same_examples(out: ModelOutputs, ref: ModelOutputs, part: str) -> None:
    a, b = out.layers[part], ref.layers[part]
    pa, pb = out[part], ref[part]
    same = np.array_equal(a.rows, b.rows) and (
        pa.indices is None or pb.indices is None or np.array_equal(pa.indices, pb.indices)
    )
    if not same or list(a.acts) != list(b.acts):
        raise EvaluationError(
            f"layer-wise CKA needs the reference's activations of the same {part} examples at "
            f"the same layers; got {len(b)} reference rows at {list(b.acts)} for {len(a)} rows "
            f"at {list(a.acts)} (collect both with the same data, layers, cap and seed)"
        )


def _negatives(
    out: ModelOutputs,
    scenario: str,
    classes: Sequence[int],
    match: bool,
    cap: int | None,
    seed: int,
) -> np.ndarray:
    """Positions (within the recorded test rows) of the capped attack negatives."""
    labels = out["test"].labels[out.layers["test"].rows]
    pos = np.arange(labels.shape[0])
    if scenario != "random" and match:
        pos = pos[np.isin(labels, list(classes))]
        if pos.size == 0:
            raise EvaluationError(
                f"test holds no example of the forget classes {list(classes)}: the layer-wise "
                "attack cannot compare forget with same-class held-out data"
            )
    return pos[retain_rows(pos.size, cap, seed)]


def layerwise_metrics(
    out: ModelOutputs,
    reference: ModelOutputs | None,
    *,
    scenario: str,
    forget_classes: Sequence[int] = (),
    match_classes: bool = True,
    max_rows: int | None = 2000,
    n_folds: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Per-layer metrics (module docstring) of a model from its recorded activations.

    ``reference`` is retrain's outputs (collected with the same layers, data, cap and seed);
    without it the CKA keys are left out. Keys are ``layer.<name>.<metric>``, layers in
    recording order (shallow to deep for the zoo's blocks), plus ``layer.<name>.index`` (that
    order).
    """
    _check_layers(out, "the model's outputs")
    if reference is not None:
        _check_layers(reference, "the reference's outputs")
        for part in ("forget", "test"):
            _same_examples(out, reference, part)
    retain_l, forget_l, test_l = out.layers["retain"], out.layers["forget"], out.layers["test"]
    y_retain = out["retain"].labels[retain_l.rows]
    y_forget = out["forget"].labels[forget_l.rows]
    neg = _negatives(out, scenario, forget_classes, match_classes, max_rows, seed)
    y_neg = out["test"].labels[test_l.rows][neg]
    row: dict[str, float] = {}
    for depth, (name, f_acts) in enumerate(forget_l.acts.items()):
        row[layer_key(name, LAYER_INDEX)] = float(depth)
        t_acts = test_l.acts[name][neg]
        if reference is not None:
            row[layer_key(name, "cka_forget")] = linear_cka(
                f_acts, reference.layers["forget"].acts[name]
            )
            row[layer_key(name, "cka_test")] = linear_cka(
                t_acts, reference.layers["test"].acts[name][neg]
            )
        if scenario == "class":
            probe = cross_fitted_probe_accuracy(
                f_acts, y_forget, t_acts, y_neg, n_folds=n_folds, seed=seed
            )
        else:
            probe = linear_probe_accuracy(
                retain_l.acts[name], y_retain, f_acts, y_forget, seed=seed
            )
        row[layer_key(name, "probe_forget_acc")] = probe
        with warnings.catch_warnings():  # only the AUC is reported, not the TPR it warns about
            warnings.simplefilter("ignore", UnreliableMetricWarning)
            r = embedding_attack(
                f_acts,
                t_acts,
                attacker="logreg",
                n_folds=n_folds,
                max_per_class=max_rows,
                seed=seed,
            )
        row[layer_key(name, "emb_logreg_auc")] = float(r["auc"])
    return row


def layer_order(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The layers named in rows of metrics, shallow to deep: by their ``layer.<name>.index``
    value (its mean, for aggregated rows ``{key: {"mean": …}}``), else in first-seen order."""
    seen: dict[str, float] = {}
    for r in rows:
        for k, v in r.items():
            parsed = parse_layer_key(k)
            if parsed is None:
                continue
            name, metric = parsed
            seen.setdefault(name, math.inf)
            if metric == LAYER_INDEX:
                idx = v.get("mean", math.inf) if isinstance(v, Mapping) else v
                seen[name] = float(idx) if idx is not None else math.inf
    first = {n: i for i, n in enumerate(seen)}
    return sorted(seen, key=lambda n: (seen[n], first[n]))


def depth_profile(
    rows: Mapping[str, Mapping[str, float]], metric: str
) -> tuple[list[str], dict[str, list[float]]]:
    """Layers (shallow to deep, :func:`layer_order`) and, per model, its ``metric`` value at
    each layer (NaN where missing) — the data of a depth-profile plot."""
    if metric not in LAYER_METRICS:
        raise EvaluationError(
            f"unknown layer metric '{metric}'; choose from {', '.join(LAYER_METRICS)}"
        )
    names = layer_order(rows.values())
    return names, {
        m: [float(r.get(layer_key(n, metric), np.nan)) for n in names] for m, r in rows.items()
    }
