"""Evaluation suite: metrics, output-based and embedding-based membership attacks.

Layers (each usable on its own):

* a NumPy functional core — :mod:`~unlearnkit.evaluation.metrics` (accuracy, ROC/AUC, TPR at
  low FPR, bootstrap intervals), :mod:`~unlearnkit.evaluation.output_attacks` (MIA-efficacy,
  loss attacks), :mod:`~unlearnkit.evaluation.embedding_attacks` (attacks, probes, CKA);
* :mod:`~unlearnkit.evaluation.collect` — a model's logits and embeddings, collected once
  (with :mod:`~unlearnkit.evaluation.layer_hooks`: intermediate layers in the same pass);
* :mod:`~unlearnkit.evaluation.layerwise` — CKA, probe and attack per layer (depth profiles);
* :mod:`~unlearnkit.evaluation.relearn` — relearn time;
* :mod:`~unlearnkit.evaluation.suite` — every metric for a set of models, gaps to retrain,
  Avg. Gap, tables, aggregation over seeds;
* :mod:`~unlearnkit.evaluation.registry` — what each metric key means (``docs/metrics.md``);
* :mod:`~unlearnkit.evaluation.stats` — the signal check (does a metric separate the original
  from retrain at this scale?) and paired, Holm-corrected comparisons and ranks of methods.

The input-validation helpers of :mod:`~unlearnkit.evaluation.checks` stay in that module; only
its :class:`EvaluationError` is re-exported.
"""

from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.collect import (
    PARTS,
    ModelOutputs,
    PartOutputs,
    collect_outputs,
    retain_rows,
)
from unlearnkit.evaluation.embedding_attacks import (
    ATTACKERS,
    cross_fitted_probe_accuracy,
    embedding_attack,
    knn_label_accuracy,
    linear_cka,
    linear_probe_accuracy,
    make_attacker,
    transfer_attack,
)
from unlearnkit.evaluation.layer_hooks import (
    LayerActivations,
    LayerRecorder,
    default_layers,
    resolve_layers,
)
from unlearnkit.evaluation.layerwise import (
    LAYER_METRICS,
    depth_profile,
    layer_key,
    layer_order,
    layerwise_metrics,
    parse_layer_key,
)
from unlearnkit.evaluation.metrics import (
    DEFAULT_FPRS,
    ConfidenceInterval,
    UnreliableMetricWarning,
    accuracy,
    auc,
    balanced_accuracy,
    bootstrap_ci,
    mean_std,
    roc_points,
    roc_summary,
    tpr_at_fpr,
    tpr_at_fpr_ci,
    tpr_at_fpr_reliable,
    tpr_key,
)
from unlearnkit.evaluation.output_attacks import (
    MIA_FEATURES,
    entropy,
    loss_attack,
    loss_threshold_attack,
    mia_efficacy,
    mia_features,
    modified_entropy,
    per_example_loss,
    softmax,
)
from unlearnkit.evaluation.registry import (
    AVG_GAP_KEYS,
    AVG_GAP_REPR_KEYS,
    GAP_DEFINITIONS,
    GROUPS,
    LOSS_FPRS,
    METRICS,
    MetricInfo,
    format_gap,
    format_value,
    metric_info,
)
from unlearnkit.evaluation.relearn import RELEARN_EVAL_MAX, relearn_eval_rows, relearn_time
from unlearnkit.evaluation.stats import (
    SIGNAL_AUC_THRESHOLD,
    SIGNAL_THRESHOLD,
    PairedComparison,
    Ranking,
    Signal,
    compare_methods,
    holm,
    paired_comparison,
    rank_methods,
    signal_check,
)
from unlearnkit.evaluation.suite import (
    EvalConfig,
    EvaluationResult,
    aggregate,
    collect_for_eval,
    evaluate_models,
    evaluate_outputs,
)

__all__ = [
    "ATTACKERS",
    "AVG_GAP_KEYS",
    "AVG_GAP_REPR_KEYS",
    "DEFAULT_FPRS",
    "GAP_DEFINITIONS",
    "GROUPS",
    "LAYER_METRICS",
    "LOSS_FPRS",
    "METRICS",
    "MIA_FEATURES",
    "PARTS",
    "RELEARN_EVAL_MAX",
    "SIGNAL_AUC_THRESHOLD",
    "SIGNAL_THRESHOLD",
    "ConfidenceInterval",
    "EvalConfig",
    "EvaluationError",
    "EvaluationResult",
    "LayerActivations",
    "LayerRecorder",
    "MetricInfo",
    "ModelOutputs",
    "PairedComparison",
    "PartOutputs",
    "Ranking",
    "Signal",
    "UnreliableMetricWarning",
    "accuracy",
    "aggregate",
    "auc",
    "balanced_accuracy",
    "bootstrap_ci",
    "collect_for_eval",
    "collect_outputs",
    "compare_methods",
    "cross_fitted_probe_accuracy",
    "default_layers",
    "depth_profile",
    "embedding_attack",
    "entropy",
    "evaluate_models",
    "evaluate_outputs",
    "format_gap",
    "format_value",
    "holm",
    "knn_label_accuracy",
    "layer_key",
    "layer_order",
    "layerwise_metrics",
    "linear_cka",
    "linear_probe_accuracy",
    "loss_attack",
    "loss_threshold_attack",
    "make_attacker",
    "mean_std",
    "metric_info",
    "mia_efficacy",
    "mia_features",
    "modified_entropy",
    "paired_comparison",
    "parse_layer_key",
    "per_example_loss",
    "rank_methods",
    "relearn_eval_rows",
    "relearn_time",
    "resolve_layers",
    "retain_rows",
    "roc_points",
    "roc_summary",
    "signal_check",
    "softmax",
    "tpr_at_fpr",
    "tpr_at_fpr_ci",
    "tpr_at_fpr_reliable",
    "tpr_key",
    "transfer_attack",
]
