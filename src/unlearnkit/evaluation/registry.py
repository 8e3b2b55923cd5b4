"""Metadata of every metric the evaluation suite reports (one source of truth for reports).

Each key produced by :func:`unlearnkit.evaluation.suite.evaluate_outputs` (and the relearn and
runtime rows added by :func:`~unlearnkit.evaluation.suite.evaluate_models`) has a
:class:`MetricInfo` here: a label, what it measures, its target, its unit, whether it enters the
**Avg. Gap**, and the paper it comes from. Reports, tables and docs read this registry instead of
hard-coding metric lists; ``docs/metrics.md`` explains every entry.

Conventions:

* Values are stored as computed: accuracies, AUCs, TPRs and MIA-efficacy as fractions in
  [0, 1] (``unit="%"`` means "display × 100"), times in seconds, relearn time in steps.
* ``target="retrain"`` (possibly followed by a note) means the goal is the retrained model's
  value and the gap ``|method − retrain|`` is meaningful; anything else (runtime) is not
  compared with retrain.
* ``higher_is_better`` is True/False only where "more" is better whatever retrain does
  (utility, runtime); None where closeness to retrain is the goal.
* **Avg. Gap** (``avg_gap``) is SalUn's (Fan et al. 2024): the mean over
  :data:`AVG_GAP_KEYS` (forget, retain and test accuracy, MIA-efficacy on the confidence) of
  ``|method − retrain|`` in percentage points — the ``in_avg_gap`` metrics. The wider
  representation-level average has its own name, **Avg. Gap (repr.)** (``avg_gap_repr``, over
  :data:`AVG_GAP_REPR_KEYS`); :data:`GAP_DEFINITIONS` holds both (for tables and the tuner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.embedding_attacks import ATTACKERS
from unlearnkit.evaluation.metrics import tpr_key
from unlearnkit.evaluation.output_attacks import MIA_FEATURES

__all__ = [
    "AVG_GAP_KEYS",
    "AVG_GAP_REPR_KEYS",
    "GAP_DEFINITIONS",
    "GROUPS",
    "LOSS_FPRS",
    "METRICS",
    "GapDefinition",
    "MetricInfo",
    "format_gap",
    "format_value",
    "gap_definition",
    "metric_info",
]

GROUPS: tuple[str, ...] = ("utility", "output-attack", "embedding-attack", "relearn", "runtime")
UNITS: tuple[str, ...] = ("%", "", "s")

#: FPR levels for which the loss attack's TPR can be reported (``EvalConfig.fprs`` choices).
LOSS_FPRS: tuple[float, ...] = (0.1, 0.05, 0.01, 0.001)


@dataclass(frozen=True)
class MetricInfo:
    """What a metric key means and how to read it."""

    key: str
    label: str
    description: str
    higher_is_better: bool | None
    target: str
    in_avg_gap: bool
    unit: str
    group: str
    paper: str

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"metric '{self.key}': group must be one of {GROUPS}")
        if self.unit not in UNITS:
            raise ValueError(f"metric '{self.key}': unit must be one of {UNITS}")
        if self.in_avg_gap and (self.unit != "%" or not self.compared_to_reference):
            raise ValueError(f"metric '{self.key}': Avg. Gap metrics must be '%' vs retrain")

    @property
    def compared_to_reference(self) -> bool:
        """Whether ``|method − retrain|`` is meaningful (the target is retrain's value)."""
        return self.target.startswith("retrain")

    @property
    def scale(self) -> float:
        """Factor from the stored value to the displayed one (100 for percentages)."""
        return 100.0 if self.unit == "%" else 1.0


_JIA = "Jia et al., Model Sparsity Can Simplify Machine Unlearning, NeurIPS 2023"
_KIT = "NeurIPS 2023 Machine Unlearning challenge starting kit (Triantafillou et al. 2024)"
_CARLINI = "Carlini et al., Membership Inference Attacks From First Principles, S&P 2022"
_SURE = "Sepahvand et al., SURE, ICLR 2025 (representation-level attacks)"
_KURMANJI = "Kurmanji et al., Towards Unbounded Machine Unlearning (SCRUB), NeurIPS 2023"
_RETRAIN = "retrain"
_RANDOM_HALF = "retrain (≈ 0.5 for random forgetting)"

_ENTRIES: list[MetricInfo] = [
    # -- utility ----------------------------------------------------------------------------
    MetricInfo(
        "retain_acc",
        "Retain acc.",
        "top-1 accuracy on retain (fixed subsample if max_retain is set)",
        True,
        _RETRAIN,
        True,
        "%",
        "utility",
        "standard (e.g. Jia et al. 2023 RA)",
    ),
    MetricInfo(
        "forget_acc",
        "Forget acc.",
        "top-1 accuracy on the forget set",
        None,
        "retrain (≈ test acc. for random forgetting, ≈ 0 for a whole class)",
        True,
        "%",
        "utility",
        "standard (e.g. Jia et al. 2023 UA = 1 − forget acc.)",
    ),
    MetricInfo(
        "test_acc",
        "Test acc.",
        "top-1 accuracy on test",
        True,
        _RETRAIN,
        True,
        "%",
        "utility",
        "standard (e.g. Jia et al. 2023 TA)",
    ),
    MetricInfo(
        "val_acc",
        "Val acc.",
        "top-1 accuracy on the held-out val pool",
        True,
        _RETRAIN,
        False,
        "%",
        "utility",
        "standard",
    ),
    MetricInfo(
        "test_acc_forgotten_classes",
        "Test acc. (forgotten classes)",
        "top-1 accuracy on test examples of the forget classes (class scenarios)",
        None,
        "retrain (≈ 0 for a whole forgotten class)",
        False,
        "%",
        "utility",
        "standard (class unlearning)",
    ),
    MetricInfo(
        "test_acc_other_classes",
        "Test acc. (other classes)",
        "top-1 accuracy on test examples of the other classes (class scenarios)",
        True,
        _RETRAIN,
        False,
        "%",
        "utility",
        "standard (class unlearning)",
    ),
    MetricInfo(
        "forget_acc_true",
        "Forget acc. (true labels)",
        "confusion scenario: top-1 accuracy on the forget set against the true labels (the "
        "forget examples' given labels are swapped between the two classes; forget_acc is "
        "against the given ones)",
        None,
        "retrain (which never saw the swap: ≈ its test accuracy on the two classes)",
        False,
        "%",
        "utility",
        _KURMANJI,
    ),
    MetricInfo(
        "test_confusion",
        "Test confusion a↔b",
        "confusion scenario: fraction of test examples of the two swapped classes predicted as "
        "the other of the two (SCRUB's interclass confusion)",
        None,
        _RETRAIN,
        False,
        "%",
        "utility",
        _KURMANJI,
    ),
    # -- output attacks --------------------------------------------------------------------
    *[
        MetricInfo(
            f"mia_efficacy_{f}",
            f"MIA-efficacy ({f})",
            f"fraction of forget predicted non-member by an RBF SVC (C=3, gamma='auto') on the "
            f"'{f}' feature, fitted on retain (members) vs test (non-members)",
            None,
            "retrain (Jia et al. read higher as better)",
            f == "confidence",
            "%",
            "output-attack",
            _JIA,
        )
        for f in MIA_FEATURES
    ],
    MetricInfo(
        "loss_attack",
        "Loss attack acc.",
        "mean 10-split CV accuracy of a logistic regression on the per-example loss, forget "
        "vs test, balanced by subsampling",
        None,
        _RANDOM_HALF,
        False,
        "%",
        "output-attack",
        _KIT,
    ),
    MetricInfo(
        "loss_auc",
        "Loss attack AUC",
        "ROC AUC of the score −loss, forget (members) vs test (non-members)",
        None,
        _RANDOM_HALF,
        False,
        "%",
        "output-attack",
        _CARLINI,
    ),
    *[
        MetricInfo(
            f"loss_{tpr_key(x)}",
            f"Loss TPR@{x * 100:g}%FPR",
            f"TPR at FPR {x * 100:g}% of the score −loss, forget vs test "
            f"(meaningless below {math.ceil(1 / x - 1e-9)} test examples)",
            None,
            f"retrain (≈ {x:g} for random forgetting)",
            False,
            "%",
            "output-attack",
            _CARLINI,
        )
        for x in LOSS_FPRS
    ],
    # -- embedding attacks -----------------------------------------------------------------
    *[
        m
        for a in ATTACKERS
        for m in (
            MetricInfo(
                f"emb_{a}_auc",
                f"Emb. {a} AUC",
                f"ROC AUC of a {a} attacker on penultimate embeddings, forget vs test, "
                "out-of-fold scores (stratified 5-fold CV)",
                None,
                _RANDOM_HALF,
                False,
                "%",
                "embedding-attack",
                _SURE,
            ),
            MetricInfo(
                f"emb_{a}_tpr_at_1pct_fpr",
                f"Emb. {a} TPR@1%FPR",
                f"TPR at FPR 1% of the {a} embedding attacker's out-of-fold scores",
                None,
                "retrain (≈ 0.01 for random forgetting)",
                False,
                "%",
                "embedding-attack",
                _CARLINI,
            ),
            MetricInfo(
                f"emb_{a}_balanced_acc",
                f"Emb. {a} bal. acc.",
                f"balanced accuracy of the {a} embedding attacker (threshold 0.5)",
                None,
                _RANDOM_HALF,
                False,
                "%",
                "embedding-attack",
                _SURE,
            ),
        )
    ],
    MetricInfo(
        "emb_transfer_auc",
        "Emb. transfer AUC",
        "AUC on forget vs test of an attacker fitted on retain vs test embeddings (not "
        "defined for the class scenario)",
        None,
        _RANDOM_HALF,
        False,
        "%",
        "embedding-attack",
        _SURE,
    ),
    MetricInfo(
        "probe_forget_acc",
        "Linear probe forget acc.",
        "accuracy on forget of a linear probe fitted on retain embeddings with labels (class "
        "scenario: out-of-fold probe on forget ∪ test)",
        None,
        _RETRAIN,
        False,
        "%",
        "embedding-attack",
        _SURE,
    ),
    MetricInfo(
        "knn_forget_acc",
        "kNN forget acc.",
        "accuracy on forget of a 10-NN label vote over retain embeddings (class scenario: "
        "over test embeddings)",
        None,
        _RETRAIN,
        False,
        "%",
        "embedding-attack",
        _SURE,
    ),
    MetricInfo(
        "cka_to_reference",
        "CKA to retrain",
        "linear CKA between this model's and retrain's embeddings of the forget set",
        True,
        "retrain (= 1)",
        False,
        "",
        "embedding-attack",
        "Kornblith et al., Similarity of Neural Network Representations Revisited, ICML 2019",
    ),
    # -- relearn, runtime ------------------------------------------------------------------
    MetricInfo(
        "relearn_steps",
        "Relearn steps",
        "SGD steps of fine-tuning on forget until forget accuracy reaches the original's "
        "(the cap when not reached)",
        None,
        "retrain (more steps = harder to relearn)",
        False,
        "",
        "relearn",
        "Golatkar et al., Eternal Sunshine of the Spotless Net, CVPR 2020",
    ),
    MetricInfo(
        "relearn_reached",
        "Relearn reached",
        "1 if the relearn target was reached within the cap, else 0",
        None,
        "retrain",
        False,
        "",
        "relearn",
        "Golatkar et al., Eternal Sunshine of the Spotless Net, CVPR 2020",
    ),
    MetricInfo(
        "wall_time",
        "Wall time (s)",
        "wall-clock time of the method (retrain: of retraining), measured in the same run",
        False,
        "lower (retrain's time is the budget to beat)",
        False,
        "s",
        "runtime",
        "—",
    ),
]

#: Every metric key → its :class:`MetricInfo`, in report order.
METRICS: dict[str, MetricInfo] = {m.key: m for m in _ENTRIES}

#: Metrics of SalUn's Avg. Gap (Fan et al. 2024; percentage points), in registry order:
#: retain, forget (SalUn's UA = 1 − forget acc., the same gap) and test accuracy, and
#: MIA-efficacy on the confidence feature.
AVG_GAP_KEYS: tuple[str, ...] = tuple(k for k, m in METRICS.items() if m.in_avg_gap)

#: Metrics of the representation-level average (``avg_gap_repr``): forgetting at the output
#: (forget accuracy, loss-attack AUC) and in the representation (linear probe, the three
#: embedding-attack AUCs) — what SURE optimises, so it is never called "Avg. Gap".
AVG_GAP_REPR_KEYS: tuple[str, ...] = (
    "forget_acc",
    "loss_auc",
    "probe_forget_acc",
    *(f"emb_{a}_auc" for a in ATTACKERS),
)


@dataclass(frozen=True)
class GapDefinition:
    """A named average of ``|method − retrain|`` (percentage points) over ``keys``."""

    name: str
    label: str
    keys: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        for k in self.keys:
            info = METRICS[k]
            if info.unit != "%" or not info.compared_to_reference:
                raise ValueError(f"gap '{self.name}': metric '{k}' must be '%' vs retrain")


#: Every gap average, by name: ``avg_gap`` (SalUn's Avg. Gap, the default everywhere) and
#: ``avg_gap_repr``. Tables, reports and the tuner's objective pick one by this name.
GAP_DEFINITIONS: dict[str, GapDefinition] = {
    g.name: g
    for g in (
        GapDefinition(
            "avg_gap",
            "Avg. Gap",
            AVG_GAP_KEYS,
            "SalUn's Avg. Gap (Fan et al. 2024): forget, retain, test accuracy, MIA-efficacy",
        ),
        GapDefinition(
            "avg_gap_repr",
            "Avg. Gap (repr.)",
            AVG_GAP_REPR_KEYS,
            "representation-level average: forget accuracy, loss-attack AUC, linear probe, "
            "embedding-attack AUCs",
        ),
    )
}


def gap_definition(name: str) -> GapDefinition:
    """The :class:`GapDefinition` called ``name`` (clear error for an unknown name)."""
    try:
        return GAP_DEFINITIONS[name]
    except KeyError:
        raise EvaluationError(
            f"unknown gap average '{name}'; known: {', '.join(GAP_DEFINITIONS)} (avg_gap = "
            "SalUn's Avg. Gap, avg_gap_repr = the representation-level average)"
        ) from None


def metric_info(key: str) -> MetricInfo:
    """The :class:`MetricInfo` of ``key`` (clear error for an unknown key)."""
    try:
        return METRICS[key]
    except KeyError:
        raise EvaluationError(
            f"unknown metric '{key}'; known metrics: {', '.join(METRICS)}"
        ) from None


def format_value(key: str, value: float) -> str:
    """A metric value for display: percentages × 100 with 1 decimal, steps as integers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    info = METRICS.get(key)
    if info is None:
        return f"{value:.4g}"
    if info.unit == "%":
        return f"{value * 100:.1f}"
    if info.group == "relearn":
        return f"{value:.0f}"
    if info.unit == "s":
        return f"{value:.1f}"
    return f"{value:.3f}"


def format_gap(key: str, gap: float) -> str:
    """A gap ``|method − retrain|`` for display, in the metric's displayed unit."""
    if gap is None or (isinstance(gap, float) and math.isnan(gap)):
        return "—"
    info = METRICS.get(key)
    if info is not None and info.unit == "%":
        return f"{gap * 100:.1f}"
    if info is not None and info.group == "relearn":
        return f"{gap:.0f}"
    return f"{gap:.3f}"
