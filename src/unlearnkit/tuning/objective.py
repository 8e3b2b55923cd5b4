"""The tuning objectives (computed on val, never test) and the no-op measure.

Every objective is a mean gap to retrain in percentage points, ``mean_k 100·|m_k − r_k|``,
named and defined as in the benchmark (:data:`unlearnkit.evaluation.registry.GAP_DEFINITIONS`)
and computed with the tuner's val evaluation pool in the place of test:

* ``avg_gap`` — SalUn's Avg. Gap (Fan et al. 2024): forget, retain and test (here: val)
  accuracy and MIA-efficacy (confidence feature; Jia et al. 2023);
* ``avg_gap_repr`` — the representation-level average: forget accuracy, the loss attack's
  AUC, the linear probe's forget accuracy and the embedding attacks' AUCs — of the embedding
  attackers only the logistic regression, which the tuner runs (the kNN and MLP attackers
  are left out for cost).

For ``--multi-objective`` the study minimises a *forgetting gap* (the objective's keys other
than retain and val accuracy) and a *utility gap* (retain and val accuracy, whatever the
objective).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from unlearnkit.errors import ConfigError
from unlearnkit.evaluation.embedding_attacks import ATTACKERS
from unlearnkit.evaluation.registry import GAP_DEFINITIONS

__all__ = [
    "OBJECTIVES",
    "TUNER_ATTACKERS",
    "UTILITY_KEYS",
    "gap",
    "gaps",
    "output_change",
]

#: embedding attackers the tuner runs (cheap); the gap keys of the others are left out
TUNER_ATTACKERS = ("logreg",)


def _tuner_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    skip = {f"emb_{a}_auc" for a in ATTACKERS if a not in TUNER_ATTACKERS}
    return tuple(k for k in keys if k not in skip)


#: metric keys of each objective; ``test_acc`` is the accuracy on the val evaluation pool
OBJECTIVES: dict[str, tuple[str, ...]] = {
    name: _tuner_keys(d.keys) for name, d in GAP_DEFINITIONS.items()
}

#: the utility side of the multi-objective split; the other keys measure forgetting
UTILITY_KEYS = ("retain_acc", "test_acc")


def gap(
    metrics: Mapping[str, float], reference: Mapping[str, float], keys: tuple[str, ...]
) -> float:
    """``mean_k 100·|metrics[k] − reference[k]|`` over ``keys`` (+inf when a value is missing
    or not finite: a trial that cannot be scored never wins)."""
    values = []
    for k in keys:
        a, b = metrics.get(k), reference.get(k)
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            return math.inf
        values.append(100.0 * abs(float(a) - float(b)))
    if not values:
        raise ConfigError("an objective needs at least one metric key")
    return float(np.mean(values))


def gaps(
    metrics: Mapping[str, float], reference: Mapping[str, float], objective: str
) -> dict[str, float]:
    """The scalar objective and its two halves: ``{"objective", "forget_gap", "utility_gap"}``."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}")
    keys = OBJECTIVES[objective]
    forget_keys = tuple(k for k in keys if k not in UTILITY_KEYS)
    return {
        "objective": gap(metrics, reference, keys),
        "forget_gap": gap(metrics, reference, forget_keys),
        "utility_gap": gap(metrics, reference, UTILITY_KEYS),
    }


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def output_change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """How much a model's outputs moved on the same examples (logits ``(n, classes)``).

    ``output_tv``: mean total-variation distance ``½·Σ_c |p_c − p′_c|`` between the softmax
    outputs (0 = identical, 1 = disjoint); ``pred_flip``: fraction of examples whose predicted
    class changed. A trial whose ``output_tv`` on the forget set stays below the tuner's
    ``noop_tolerance`` made no measurable change to the model.
    """
    if before.shape != after.shape:
        raise ValueError(f"output shapes differ: {before.shape} vs {after.shape}")
    p, q = _softmax(before.astype(np.float64)), _softmax(after.astype(np.float64))
    return {
        "output_tv": float(0.5 * np.abs(p - q).sum(axis=1).mean()),
        "pred_flip": float((before.argmax(1) != after.argmax(1)).mean()),
    }
