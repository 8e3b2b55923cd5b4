"""Per-example membership attacks on model *pools* (pure NumPy, no models).

* :mod:`unlearnkit.attacks.lira`: LiRA (Carlini et al. 2022) and U-LiRA (Hayes et al. 2024):
  per-example Gaussian fits of the logit-scaled confidence over shadow models, likelihood-ratio
  scores, and an ROC summary (AUC, TPR at low FPR, balanced accuracy).
* :mod:`unlearnkit.attacks.neurips`: the NeurIPS 2023 Machine Unlearning challenge forgetting
  score (Triantafillou et al. 2024): per-example ε from N unlearned vs N retrained models,
  bucketed into the forgetting quality F, times accuracy ratios to retrain.

The caller collects the per-model statistics; ``docs/per-example-attacks.md`` gives the maths
and how many model trainings each attack needs.
"""

from __future__ import annotations

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

__all__ = [
    "attack_summary",
    "bucket_scores",
    "epsilon_table",
    "forgetting_quality",
    "lira_from_pool",
    "lira_scores",
    "logit_scaled_confidence",
    "logit_scaled_confidence_from_probs",
    "n_buckets",
    "neurips_score",
    "per_example_epsilon",
    "ulira_from_pool",
    "ulira_scores",
]
