"""Per-example membership attacks on model *pools* (pure NumPy, no models).

* :mod:`unlearnkit.attacks.lira`: LiRA (Carlini et al. 2022) and U-LiRA (Hayes et al. 2024):
  per-example Gaussian fits of the logit-scaled confidence over shadow models, likelihood-ratio
  scores, and an ROC summary (AUC, TPR at low FPR, balanced accuracy).
* :mod:`unlearnkit.attacks.neurips`: the NeurIPS 2023 Machine Unlearning challenge forgetting
  score (Triantafillou et al. 2024): per-example ε from N unlearned vs N retrained models,
  bucketed into the forgetting quality F, times accuracy ratios to retrain.

The caller collects the per-model statistics; ``docs/per-example-attacks.md`` gives the maths
and how many model trainings each attack needs.

Running the attacks end to end (these import torch, so they load on first use):

* :class:`ModelPool` (:mod:`unlearnkit.attacks.pools`): resumable, growable pools of shadow
  or retrained models on disk.
* :func:`run_neurips`, :func:`run_ulira`, :class:`AttackSetup`
  (:mod:`unlearnkit.attacks.runner`): pools → unlearning runs → statistics → scores.
"""

from __future__ import annotations

from typing import Any

from unlearnkit.attacks.lira import (
    attack_summary,
    lira_from_pool,
    lira_scores,
    logit_scaled_confidence,
    logit_scaled_confidence_from_probs,
    ulira_from_pool,
    ulira_scores,
)
from unlearnkit.attacks.neurips import (
    bucket_scores,
    epsilon_table,
    forgetting_quality,
    n_buckets,
    neurips_score,
    per_example_epsilon,
)

_LAZY = {
    "ModelPool": "unlearnkit.attacks.pools",
    "AttackSetup": "unlearnkit.attacks.runner",
    "ModelStats": "unlearnkit.attacks.runner",
    "forget_statistics": "unlearnkit.attacks.runner",
    "run_neurips": "unlearnkit.attacks.runner",
    "run_ulira": "unlearnkit.attacks.runner",
}


def __getattr__(name: str) -> Any:
    """Load the torch-dependent runners on first use (the NumPy core stays light)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unlearnkit.attacks' has no attribute '{name}'")


__all__ = [
    "AttackSetup",
    "ModelPool",
    "ModelStats",
    "attack_summary",
    "bucket_scores",
    "epsilon_table",
    "forget_statistics",
    "forgetting_quality",
    "lira_from_pool",
    "lira_scores",
    "logit_scaled_confidence",
    "logit_scaled_confidence_from_probs",
    "n_buckets",
    "neurips_score",
    "per_example_epsilon",
    "run_neurips",
    "run_ulira",
    "ulira_from_pool",
    "ulira_scores",
]
