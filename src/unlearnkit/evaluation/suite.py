"""The evaluation suite: every metric of DESIGN §4 for a set of models, with gaps to retrain.

* :func:`evaluate_outputs` — all metrics of one model from its collected outputs
  (:class:`~unlearnkit.evaluation.collect.ModelOutputs`); pure NumPy/scikit-learn.
* :func:`evaluate_models` — collects each model's outputs once, evaluates them, optionally adds
  relearn time and wall time, and returns an :class:`EvaluationResult` (rows, gaps to retrain,
  Avg. Gap, text/markdown table, JSON-ready dict).
* :func:`aggregate` — mean ± std and a bootstrap interval per (model, metric) across seeds.

Every key is described in :mod:`unlearnkit.evaluation.registry` and ``docs/metrics.md``.

Negatives of the attacks: for the ``partial-class`` and ``class`` scenarios the membership
attacks on losses and embeddings compare forget with the test examples *of the forgotten
classes* (``EvalConfig.match_classes``, default on): the held-out data from the same
distribution, as SURE's domain-0 set. Against all of test an attacker would mostly detect the
class, for the retrained model as much as for any other. MIA-efficacy keeps the reference
protocol of Jia et al. (all of retain vs all of test).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from unlearnkit.config import Config, option
from unlearnkit.data.batching import UnlearningData
from unlearnkit.data.splits import SCENARIOS
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.collect import ModelOutputs, PartOutputs, collect_outputs
from unlearnkit.evaluation.embedding_attacks import (
    ATTACKERS,
    cross_fitted_probe_accuracy,
    embedding_attack,
    knn_label_accuracy,
    linear_cka,
    linear_probe_accuracy,
    transfer_attack,
)
from unlearnkit.evaluation.layer_hooks import default_layers
from unlearnkit.evaluation.layerwise import layerwise_metrics
from unlearnkit.evaluation.metrics import (
    UnreliableMetricWarning,
    accuracy,
    bootstrap_ci,
    mean_std,
    tpr_key,
)
from unlearnkit.evaluation.output_attacks import (
    MIA_FEATURES,
    loss_attack,
    loss_threshold_attack,
    mia_efficacy,
)
from unlearnkit.evaluation.registry import (
    GAP_DEFINITIONS,
    LOSS_FPRS,
    METRICS,
    format_gap,
    format_value,
    gap_definition,
)
from unlearnkit.evaluation.relearn import relearn_eval_rows, relearn_time
from unlearnkit.models import FeatureClassifier
from unlearnkit.utils import log, progress

__all__ = [
    "EvalConfig",
    "EvaluationResult",
    "aggregate",
    "collect_for_eval",
    "evaluate_models",
    "evaluate_outputs",
]


@dataclass(frozen=True)
class EvalConfig(Config):
    """What the evaluation suite computes and how much it may cost."""

    section = "eval"

    attackers: tuple[str, ...] = option(
        ATTACKERS, "embedding attackers (forget vs test, 5-fold out-of-fold)", choices=ATTACKERS
    )
    mia: bool = option(True, "compute MIA-efficacy (Jia et al. 2023; RBF SVCs on 5 features)")
    transfer: bool = option(
        True, "compute the transfer embedding attack (fitted on retain vs test, applied to forget)"
    )
    transfer_attacker: str = option("logreg", "attacker of the transfer attack", choices=ATTACKERS)
    match_classes: bool = option(
        True,
        "partial-class/class scenarios: attacks compare forget with test examples of the "
        "forgotten classes only (same distribution); off = all of test",
    )
    relearn: bool = option(
        False, "measure relearn time (fine-tunes a copy of every model on forget: costs training)"
    )
    relearn_lr: float = option(0.01, "relearn time: SGD learning rate (no momentum)")
    relearn_batch_size: int = option(32, "relearn time: mini-batch size")
    relearn_max_steps: int = option(
        500, "relearn time: step cap (reported as the value when not reached)"
    )
    max_per_class: int | None = option(
        5000,
        "cap on the forget / test (member / non-member) rows of each attack (seeded subsample; "
        "bounds the SVC and attacker cost); empty = no cap",
    )
    max_retain: int | None = option(
        10000, "evaluate retain on a fixed seeded subsample of this many rows; empty = all"
    )
    fprs: tuple[float, ...] = option(
        (0.01, 0.001), "FPR levels of the loss attack's TPR", choices=LOSS_FPRS
    )
    n_folds: int = option(5, "folds of the out-of-fold embedding attacks and cross-fitted probe")
    batch_size: int = option(1024, "batch size of the forward passes that collect outputs")
    seed: int = option(0, "seed of every subsample, CV split and attacker")
    layerwise: bool = option(
        False,
        "layer-wise metrics (CKA to retrain on forget and test, linear probe, logistic "
        "embedding attack) at every recorded layer, from forward hooks in the collection pass",
    )
    layers: tuple[str, ...] = option(
        (),
        "layers of the layer-wise metrics: empty = every named block of the model; or block "
        "names / dotted module paths (model.named_modules())",
    )
    layer_max_rows: int | None = option(
        2000,
        "layer-wise metrics: cap on the retain, forget and test rows (seeded; the same rows "
        "for every model); empty = no cap",
    )

    def validate(self) -> None:
        if self.n_folds < 2:
            raise ConfigError(f"n_folds must be >= 2, got {self.n_folds}")
        if self.max_per_class is not None and self.max_per_class < self.n_folds:
            raise ConfigError(
                f"max_per_class must be >= n_folds ({self.n_folds}) or empty, got "
                f"{self.max_per_class}"
            )
        if self.max_retain is not None and self.max_retain < 2:
            raise ConfigError(f"max_retain must be >= 2 or empty, got {self.max_retain}")
        if self.batch_size < 1 or self.relearn_batch_size < 1:
            raise ConfigError("batch_size and relearn_batch_size must be >= 1")
        if not self.relearn_lr > 0:
            raise ConfigError(f"relearn_lr must be > 0, got {self.relearn_lr}")
        if self.relearn_max_steps < 0:
            raise ConfigError(f"relearn_max_steps must be >= 0, got {self.relearn_max_steps}")
        if self.layer_max_rows is not None and self.layer_max_rows < self.n_folds:
            raise ConfigError(
                f"layer_max_rows must be >= n_folds ({self.n_folds}) or empty, got "
                f"{self.layer_max_rows}"
            )
        if len(set(self.attackers)) != len(self.attackers):
            raise ConfigError(f"attackers has duplicates: {list(self.attackers)}")


def collect_for_eval(
    model: FeatureClassifier,
    data: UnlearningData,
    device: torch.device | str,
    config: EvalConfig,
    name: str = "model",
) -> ModelOutputs:
    """:func:`collect_outputs` as the suite needs it under ``config``: retain, forget, val and
    test, retain capped at ``max_retain``, and — with ``layerwise`` — the activations of
    ``layers`` (default: every named block) recorded in the same pass."""
    layers: tuple[str, ...] = ()
    if config.layerwise:
        layers = config.layers or tuple(default_layers(model))
    return collect_outputs(
        model,
        data,
        device,
        batch_size=config.batch_size,
        parts=("retain", "forget", "val", "test"),
        max_retain=config.max_retain,
        seed=config.seed,
        name=name,
        layers=layers,
        layer_max_rows=config.layer_max_rows,
    )


# --------------------------------------------------------------------------- one model


def _check_inputs(
    out: ModelOutputs, scenario: str, forget_classes: Sequence[int], num_classes: int
) -> tuple[int, ...]:
    if scenario not in SCENARIOS:
        raise EvaluationError(
            f"unknown scenario '{scenario}': choose one of {', '.join(SCENARIOS)}"
        )
    classes = tuple(int(c) for c in forget_classes)
    if scenario != "random" and not classes:
        raise EvaluationError(f"scenario '{scenario}' needs the forget classes (none given)")
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise EvaluationError(f"forget classes {bad} out of range [0, {num_classes})")
    for part in ("retain", "forget", "test"):
        p = out[part]
        if len(p) == 0:
            raise EvaluationError(f"part '{part}' is empty: every metric needs it")
    for part, p in out.parts.items():
        if p.num_classes != num_classes:
            raise EvaluationError(
                f"part '{part}' has {p.num_classes} logit columns but the dataset has "
                f"{num_classes} classes: does the model match the dataset?"
            )
    widths = {p.embeddings.shape[1] for p in out.parts.values()}
    if len(widths) > 1:
        raise EvaluationError(f"the parts' embeddings have different widths {sorted(widths)}")
    return classes


def _attack_negatives(
    test: PartOutputs, scenario: str, classes: tuple[int, ...], match: bool
) -> PartOutputs:
    if scenario == "random" or not match:
        return test
    mask = np.isin(test.labels, classes)
    if not mask.any():
        raise EvaluationError(
            f"test holds no example of the forget classes {list(classes)}: the attacks cannot "
            "compare forget with same-class held-out data; enlarge test or set "
            "match_classes=False"
        )
    return test.subset(mask)


def confusion_metrics(
    forget: PartOutputs, test: PartOutputs, classes: Sequence[int]
) -> dict[str, float]:
    """The confusion scenario's metrics (Kurmanji et al. 2023), for swapped classes ``(a, b)``.

    ``forget_acc_true``: accuracy on the forget set against the true labels — the given
    (swapped) label ``a`` means true ``b`` and vice versa; ``test_confusion``: the fraction of
    test examples of ``a`` or ``b`` predicted as the other one of the two (NaN without any).
    """
    if len(classes) != 2:
        raise EvaluationError(
            f"the confusion scenario swaps exactly two classes, got forget classes {list(classes)}"
        )
    a, b = (int(c) for c in classes)
    given = forget.labels
    if not np.isin(given, (a, b)).all():
        raise EvaluationError(
            f"confusion: forget labels must all be {a} or {b} (the swapped classes)"
        )
    true = np.where(given == a, b, a)
    pred = np.argmax(forget.logits, axis=1)
    t_pred = np.argmax(test.logits, axis=1)
    of_ab = np.isin(test.labels, (a, b))
    swapped = np.where(test.labels == a, b, a)
    return {
        "forget_acc_true": float(np.mean(pred == true)),
        "test_confusion": float(np.mean(t_pred[of_ab] == swapped[of_ab]))
        if of_ab.any()
        else math.nan,
    }


def _evaluate(
    out: ModelOutputs,
    *,
    scenario: str,
    forget_classes: Sequence[int],
    num_classes: int,
    reference: ModelOutputs | None,
    config: EvalConfig,
) -> tuple[dict[str, float], list[str], list[str]]:
    """Metrics, keys whose TPR is unreliable (too few negatives), and notes."""
    cfg = config
    classes = _check_inputs(out, scenario, forget_classes, num_classes)
    retain, forget, test = out["retain"], out["forget"], out["test"]
    ref_forget = None if reference is None else reference["forget"]
    if ref_forget is not None and not (
        len(ref_forget) == len(forget)
        and (
            ref_forget.indices is None
            or forget.indices is None
            or np.array_equal(ref_forget.indices, forget.indices)
        )
    ):
        raise EvaluationError(
            "cka_to_reference needs the reference's embeddings of the same forget examples, got "
            f"{len(ref_forget)} reference rows for {len(forget)} forget rows (or other examples)"
        )
    row: dict[str, float] = {}
    unreliable: list[str] = []
    notes: list[str] = []

    # accuracies
    row["retain_acc"] = accuracy(retain.logits, retain.labels)
    row["forget_acc"] = accuracy(forget.logits, forget.labels)
    row["test_acc"] = accuracy(test.logits, test.labels)
    if "val" in out and len(out["val"]) > 0:
        row["val_acc"] = accuracy(out["val"].logits, out["val"].labels)
    if scenario != "random":
        mask = np.isin(test.labels, classes)
        if mask.any():
            row["test_acc_forgotten_classes"] = float(test.correct[mask].mean())
        if (~mask).any():
            row["test_acc_other_classes"] = float(test.correct[~mask].mean())
    if scenario == "confusion":
        row.update(confusion_metrics(forget, test, classes))

    neg = _attack_negatives(test, scenario, classes, cfg.match_classes)
    seed = cfg.seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableMetricWarning)  # reported once, below

        # output attacks
        if cfg.mia:
            eff = mia_efficacy(
                retain.probs,
                retain.labels,
                test.probs,
                test.labels,
                forget.probs,
                forget.labels,
                seed=seed,
                max_per_class=cfg.max_per_class,
            )
            for f in MIA_FEATURES:
                row[f"mia_efficacy_{f}"] = eff[f]
        row["loss_attack"] = loss_attack(forget.losses, neg.losses, seed=seed)
        lt = loss_threshold_attack(forget.losses, neg.losses, fprs=cfg.fprs)
        row["loss_auc"] = float(lt["auc"])
        for x in cfg.fprs:
            key = tpr_key(x)
            row[f"loss_{key}"] = float(lt[key])
            if not lt[key + "_reliable"]:
                unreliable.append(f"loss_{key}")

        # embedding attacks
        for a in cfg.attackers:
            r = embedding_attack(
                forget.embeddings,
                neg.embeddings,
                attacker=a,
                n_folds=cfg.n_folds,
                max_per_class=cfg.max_per_class,
                seed=seed,
            )
            row[f"emb_{a}_auc"] = float(r["auc"])
            row[f"emb_{a}_tpr_at_1pct_fpr"] = float(r["tpr_at_1pct_fpr"])
            row[f"emb_{a}_balanced_acc"] = float(r["balanced_accuracy"])
            if not r["tpr_at_1pct_fpr_reliable"]:
                unreliable.append(f"emb_{a}_tpr_at_1pct_fpr")
        if cfg.transfer:
            members = retain
            if scenario in ("partial-class", "confusion") and cfg.match_classes:
                members = retain.subset(np.isin(retain.labels, classes))
            if scenario == "class":
                notes.append("emb_transfer_auc not defined for the class scenario")
            elif len(members) < 2 or len(neg) < 4:
                notes.append(
                    f"emb_transfer_auc skipped: {len(members)} retain and {len(neg)} test "
                    "examples of the forget classes (need ≥ 2 and ≥ 4)"
                )
            else:
                r = transfer_attack(
                    members.embeddings,
                    neg.embeddings,
                    forget.embeddings,
                    attacker=cfg.transfer_attacker,
                    max_per_class=cfg.max_per_class,
                    seed=seed,
                )
                row["emb_transfer_auc"] = float(r["auc"])

    # probes: does the representation still carry the forget set's labels?
    if scenario == "class":
        row["probe_forget_acc"] = cross_fitted_probe_accuracy(
            forget.embeddings,
            forget.labels,
            test.embeddings,
            test.labels,
            n_folds=cfg.n_folds,
            seed=seed,
        )
        row["knn_forget_acc"] = knn_label_accuracy(
            test.embeddings, test.labels, forget.embeddings, forget.labels
        )
    else:
        row["probe_forget_acc"] = linear_probe_accuracy(
            retain.embeddings, retain.labels, forget.embeddings, forget.labels, seed=seed
        )
        row["knn_forget_acc"] = knn_label_accuracy(
            retain.embeddings, retain.labels, forget.embeddings, forget.labels
        )

    if ref_forget is not None:
        row["cka_to_reference"] = linear_cka(forget.embeddings, ref_forget.embeddings)
    if cfg.layerwise and not out.layers:
        notes.append("layer-wise metrics skipped: the outputs were collected without layers")
    elif cfg.layerwise:
        row.update(
            layerwise_metrics(
                out,
                reference if reference is not None and reference.layers else None,
                scenario=scenario,
                forget_classes=classes,
                match_classes=cfg.match_classes,
                max_rows=cfg.layer_max_rows,
                n_folds=cfg.n_folds,
                seed=seed,
            )
        )
    if out.subsampled:
        for part, (used, total) in out.subsampled.items():
            notes.append(f"{part} evaluated on a fixed subsample of {used} of {total} examples")
    return row, unreliable, notes


def evaluate_outputs(
    out: ModelOutputs,
    *,
    scenario: str,
    forget_classes: tuple[int, ...],
    num_classes: int,
    reference: ModelOutputs | None = None,
    config: EvalConfig | None = None,
) -> dict[str, float]:
    """Every metric of one model from its collected outputs (keys: see ``docs/metrics.md``).

    Accuracies (retain, forget, test, val; per-class test accuracies for the class scenarios),
    MIA-efficacy per feature, the loss attack (CV accuracy, AUC, TPR at ``config.fprs``), the
    embedding attacks per attacker (AUC, TPR@1%FPR, balanced accuracy), the transfer attack,
    the linear-probe and kNN forget accuracies, and — when ``reference`` (retrain's outputs) is
    given — the linear CKA to the reference's forget embeddings.

    TPRs computed from fewer than ``1/x`` negatives are returned but flagged by one
    :class:`~unlearnkit.evaluation.metrics.UnreliableMetricWarning`.
    """
    cfg = config if config is not None else EvalConfig()
    row, unreliable, _ = _evaluate(
        out,
        scenario=scenario,
        forget_classes=forget_classes,
        num_classes=num_classes,
        reference=reference,
        config=cfg,
    )
    if unreliable:
        warnings.warn(
            f"{', '.join(unreliable)}: TPR at low FPR from too few test examples is not "
            "meaningful; pool across seeds and report a bootstrap interval",
            UnreliableMetricWarning,
            stacklevel=2,
        )
    return row


# --------------------------------------------------------------------------- results


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


@dataclass
class EvaluationResult:
    """Metrics per model (``rows[model][metric]``) with gaps to the reference (retrain).

    ``unreliable[model]`` lists TPR keys computed from too few negatives; ``notes[model]``
    lists anything else worth a footnote (subsamples, skipped metrics, relearn caps).
    """

    rows: dict[str, dict[str, float]]
    reference: str = "retrain"
    original: str = "original"
    scenario: str = ""
    forget_classes: tuple[int, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    unreliable: dict[str, list[str]] = field(default_factory=dict)

    def _ref_row(self, reference: str | None) -> tuple[str, dict[str, float]]:
        ref = reference or self.reference
        if ref not in self.rows:
            raise EvaluationError(
                f"no '{ref}' row to compare with (models: {', '.join(self.rows)}); evaluate the "
                "retrained model too, or pass reference=<another model>"
            )
        return ref, self.rows[ref]

    def gaps(self, reference: str | None = None) -> dict[str, dict[str, float]]:
        """``|model − reference|`` per model and metric, for metrics whose target is retrain's
        value (raw units: fractions for percentages)."""
        _, ref_row = self._ref_row(reference)
        out: dict[str, dict[str, float]] = {}
        for name, row in self.rows.items():
            out[name] = {
                k: abs(float(v) - float(ref_row[k]))
                for k, v in row.items()
                if k in METRICS
                and METRICS[k].compared_to_reference
                and k in ref_row
                and _finite(v)
                and _finite(ref_row[k])
            }
        return out

    def avg_gap_keys(
        self, name: str, reference: str | None = None, kind: str = "avg_gap"
    ) -> list[str]:
        """The metrics of gap average ``kind`` (:data:`GAP_DEFINITIONS`) available for
        ``name`` and the reference (scenario-dependent)."""
        _, ref_row = self._ref_row(reference)
        row = self.rows[name]
        return [
            k
            for k in gap_definition(kind).keys
            if _finite(row.get(k, math.nan)) and _finite(ref_row.get(k))
        ]

    def avg_gap(self, name: str, reference: str | None = None, kind: str = "avg_gap") -> float:
        """Mean ``|name − reference|`` in percentage points over the metrics of ``kind``:
        ``avg_gap`` = SalUn's Avg. Gap (Fan et al. 2024; :data:`AVG_GAP_KEYS`: forget, retain,
        test accuracy, MIA-efficacy), ``avg_gap_repr`` = the representation-level average
        (:data:`~unlearnkit.evaluation.registry.AVG_GAP_REPR_KEYS`). Metrics missing for this
        scenario or configuration are skipped."""
        if name not in self.rows:
            raise EvaluationError(f"no model '{name}' (models: {', '.join(self.rows)})")
        _, ref_row = self._ref_row(reference)
        keys = self.avg_gap_keys(name, reference, kind)
        if not keys:
            raise EvaluationError(f"no {gap_definition(kind).label} metric available for '{name}'")
        row = self.rows[name]
        return float(np.mean([abs(row[k] - ref_row[k]) * 100.0 for k in keys]))

    def avg_gap_repr(self, name: str, reference: str | None = None) -> float:
        """The representation-level average gap (``avg_gap(..., kind="avg_gap_repr")``)."""
        return self.avg_gap(name, reference, "avg_gap_repr")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rows, gaps and Avg. Gaps (when the reference is present), metadata."""
        out: dict[str, Any] = {
            "rows": {m: dict(r) for m, r in self.rows.items()},
            "reference": self.reference,
            "original": self.original,
            "scenario": self.scenario,
            "forget_classes": list(self.forget_classes),
            "config": dict(self.config),
            "notes": {m: list(v) for m, v in self.notes.items()},
            "unreliable": {m: list(v) for m, v in self.unreliable.items()},
            **{f"{g}_keys": list(d.keys) for g, d in GAP_DEFINITIONS.items()},
        }
        if self.reference in self.rows:
            out["gaps"] = self.gaps()
            for g in GAP_DEFINITIONS:
                out[g] = {m: self._gap_or_nan(m, g) for m in self.rows}
        return out

    def _gap_or_nan(self, name: str, kind: str) -> float:
        try:
            return self.avg_gap(name, kind=kind)
        except EvaluationError:
            return math.nan

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationResult:
        """Inverse of :meth:`to_dict` (derived entries are recomputed, not read)."""
        return cls(
            rows={m: {k: float(v) for k, v in r.items()} for m, r in data["rows"].items()},
            reference=data.get("reference", "retrain"),
            original=data.get("original", "original"),
            scenario=data.get("scenario", ""),
            forget_classes=tuple(int(c) for c in data.get("forget_classes", ())),
            config=dict(data.get("config", {})),
            notes={m: list(v) for m, v in data.get("notes", {}).items()},
            unreliable={m: list(v) for m, v in data.get("unreliable", {}).items()},
        )

    def metric_keys(self) -> list[str]:
        """Keys present in any row, in registry order (unknown keys last)."""
        present: dict[str, None] = {}
        for row in self.rows.values():
            present.update(dict.fromkeys(row))
        return [k for k in METRICS if k in present] + sorted(k for k in present if k not in METRICS)

    def table(self, markdown: bool = False, *, metrics: Iterable[str] | None = None) -> str:
        """Metrics as rows, models as columns (original, reference, then the others):
        ``value (Δgap)`` with the gap to the reference (percentages × 100), plus an Avg. Gap
        row and footnotes. Plain aligned text for a terminal, or markdown."""
        keys = list(metrics) if metrics is not None else self.metric_keys()
        has_ref = self.reference in self.rows
        gaps = self.gaps() if has_ref else {}
        first = [m for m in (self.original, self.reference) if m in self.rows]
        models = first + [m for m in self.rows if m not in first]
        header = ["metric"] + [f"{m} (ref.)" if m == self.reference else m for m in models]
        body: list[list[str]] = []
        any_unreliable = False
        for k in keys:
            info = METRICS.get(k)
            label = info.label if info is not None else k
            if info is not None and info.unit == "%":
                label += " %"
            cells = [label]
            for m in models:
                v = self.rows[m].get(k)
                if v is None:
                    cells.append("")
                    continue
                cell = format_value(k, v)
                if k in self.unreliable.get(m, []):
                    cell += "*"
                    any_unreliable = True
                if m != self.reference and k in gaps.get(m, {}):
                    cell += f" (Δ{format_gap(k, gaps[m][k])})"
                cells.append(cell)
            body.append(cells)
        if has_ref:
            for g, d in GAP_DEFINITIONS.items():
                gap = [f"{d.label} (pp)"]
                for m in models:
                    v = self._gap_or_nan(m, g)
                    gap.append("—" if math.isnan(v) else f"{v:.2f}")
                body.append(gap)
        footnotes = []
        if has_ref:
            footnotes.append(
                f"Δ = |model − {self.reference}| (percentage points for % metrics). "
                + " ".join(
                    f"{d.label} = mean Δ over {', '.join(d.keys)}."
                    for d in GAP_DEFINITIONS.values()
                )
                + " (Avg. Gap is SalUn's, Fan et al. 2024.)"
            )
        if any_unreliable:
            footnotes.append(
                "* TPR at FPR x from fewer than 1/x test examples: not meaningful (pool seeds)."
            )
        for m in models:
            footnotes.extend(f"{m}: {n}" for n in self.notes.get(m, []))
        if markdown:
            lines = [
                "| " + " | ".join(header) + " |",
                "|" + "|".join(["---"] + ["---:"] * len(models)) + "|",
            ]
            lines += ["| " + " | ".join(r) + " |" for r in body]
            if footnotes:
                lines += [""] + [f"- {f}" for f in footnotes]
            return "\n".join(lines) + "\n"
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

        def fmt(r: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
            ).rstrip()

        sep = "  ".join("-" * w for w in widths)
        lines = [fmt(header), sep] + [fmt(r) for r in body[:-1]]
        if has_ref:
            lines += [sep, fmt(body[-1])]
        elif body:
            lines.append(fmt(body[-1]))
        lines += footnotes
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- many models


def evaluate_models(
    models: Mapping[str, FeatureClassifier],
    data: UnlearningData,
    *,
    device: torch.device | str,
    config: EvalConfig | None = None,
    reference: str = "retrain",
    original: str = "original",
    relearn_target_model: str = "original",
    wall_times: Mapping[str, float] | None = None,
    show_progress: bool = True,
) -> EvaluationResult:
    """Evaluate every model on ``data`` and compare it with ``reference`` (retrain).

    Each model's outputs are collected once (:func:`collect_outputs`, retain capped at
    ``config.max_retain`` rows, the same rows for every model); the reference's outputs are
    collected first and reused for every model's ``cka_to_reference``. With
    ``config.relearn``, every model's relearn time is measured against the forget accuracy of
    ``relearn_target_model`` (on the same forget rows the relearn check uses). ``wall_times``
    (seconds per model) become the ``wall_time`` metric. ``original`` names the model shown
    first in tables, before the reference (it is evaluated like any other).
    """
    cfg = config if config is not None else EvalConfig()
    device = torch.device(device)
    if not models:
        raise EvaluationError("no models to evaluate")
    if data.split is None:
        raise EvaluationError(
            "data.split is None: the suite needs the scenario and forget classes; build the "
            "data with unlearnkit.data.batching.unlearning_data(dataset, split)"
        )
    if cfg.relearn and relearn_target_model not in models:
        raise EvaluationError(
            f"relearn time needs the '{relearn_target_model}' model (its forget accuracy is the "
            f"target); models: {', '.join(models)}"
        )
    scenario = data.split.config.scenario
    classes = tuple(data.split.config.forget_classes) if scenario != "random" else ()
    order = ([reference] if reference in models else []) + [m for m in models if m != reference]
    ref_out: ModelOutputs | None = None
    rows: dict[str, dict[str, float]] = {}
    notes: dict[str, list[str]] = {}
    unreliable: dict[str, list[str]] = {}
    relearn_target: float | None = None
    check_rows = relearn_eval_rows(len(data.forget), cfg.seed)
    for name in progress(order, enabled=show_progress, desc="evaluate", unit="model"):
        t0 = time.perf_counter()
        out = collect_for_eval(models[name], data, device, cfg, name)
        if name == reference:
            ref_out = out
        if name == relearn_target_model:
            relearn_target = float(out["forget"].correct[check_rows].mean())
        rows[name], unreliable[name], notes[name] = _evaluate(
            out,
            scenario=scenario,
            forget_classes=classes,
            num_classes=data.num_classes,
            reference=ref_out,
            config=cfg,
        )
        del out
        log(
            f"[eval] {name}: {len(rows[name])} metrics in {time.perf_counter() - t0:.1f}s",
            enabled=show_progress,
            detail=True,
        )
    if cfg.relearn:
        assert relearn_target is not None
        if len(data.forget) > len(check_rows):
            note = f"relearn progress checked on {len(check_rows)} of {len(data.forget)} forget"
            for name in order:
                notes[name].append(note)
        for name in order:
            t0 = time.perf_counter()
            r = relearn_time(
                models[name],
                data.forget,
                relearn_target,
                device=device,
                lr=cfg.relearn_lr,
                batch_size=cfg.relearn_batch_size,
                max_steps=cfg.relearn_max_steps,
                seed=cfg.seed,
            )
            rows[name]["relearn_steps"] = float(r["steps"])
            rows[name]["relearn_reached"] = float(bool(r["reached"]))
            if not r["reached"]:
                notes[name].append(
                    f"relearn target {relearn_target:.3f} not reached within the cap of "
                    f"{r['cap']} steps (value = cap)"
                )
            log(
                f"[eval] {name}: relearn {r['steps']} steps in {time.perf_counter() - t0:.1f}s",
                enabled=show_progress,
                detail=True,
            )
    for name, seconds in (wall_times or {}).items():
        if name in rows:
            rows[name]["wall_time"] = float(seconds)
    return EvaluationResult(
        rows={m: rows[m] for m in models},
        reference=reference,
        original=original,
        scenario=scenario,
        forget_classes=classes,
        config=cfg.to_dict(),
        notes={m: notes[m] for m in models if notes[m]},
        unreliable={m: unreliable[m] for m in models if unreliable[m]},
    )


# --------------------------------------------------------------------------- seeds


def _stats(values: list[float], n_resamples: int, confidence: float, seed: int) -> dict:
    v = [x for x in values if _finite(x)]
    if not v:
        nan = float("nan")
        return {"mean": nan, "std": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    mean, std = mean_std(v)
    ci = bootstrap_ci(v, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return {"mean": mean, "std": std, "ci_low": ci.low, "ci_high": ci.high, "n": len(v)}


def aggregate(
    results: Sequence[EvaluationResult],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean ± std (ddof=1) and a percentile-bootstrap interval of the mean across runs (seeds).

    Returns ``{"n_runs", "reference", "metrics": {model: {metric: {"mean", "std", "ci_low",
    "ci_high", "n", "gap_mean", "gap_std"}}}, "avg_gap": {model: {"mean", "std", "ci_low",
    "ci_high", "n"}}, "avg_gap_repr": {...}}`` (SalUn's Avg. Gap and the representation-level
    average, :data:`GAP_DEFINITIONS`). ``gap_*`` summarise the per-run gap
    ``|model − reference|`` (the gap of each seed, not the gap of the means); runs without a
    value are skipped (``n`` counts the runs used).
    """
    if not results:
        raise EvaluationError("aggregate needs at least one EvaluationResult")
    refs = {r.reference for r in results}
    if len(refs) > 1:
        raise EvaluationError(f"results use different references {sorted(refs)}")
    models: dict[str, None] = {}
    for r in results:
        models.update(dict.fromkeys(r.rows))
    out_metrics: dict[str, dict[str, Any]] = {}
    out_gap: dict[str, Any] = {}
    gaps = [r.gaps() if r.reference in r.rows else {} for r in results]
    for m in models:
        keys: dict[str, None] = {}
        for r in results:
            keys.update(dict.fromkeys(r.rows.get(m, {})))
        ordered = [k for k in METRICS if k in keys] + [k for k in keys if k not in METRICS]
        out_metrics[m] = {}
        for k in ordered:
            vals = [r.rows[m][k] for r in results if m in r.rows and k in r.rows[m]]
            s = _stats(vals, n_resamples, confidence, seed)
            gvals = [g[m][k] for g in gaps if m in g and k in g[m]]
            if gvals:
                s["gap_mean"], s["gap_std"] = mean_std(gvals)
            out_metrics[m][k] = s
        for g in GAP_DEFINITIONS:
            avg = [
                r.avg_gap(m, kind=g)
                for r in results
                if m in r.rows and r.reference in r.rows and r.avg_gap_keys(m, kind=g)
            ]
            out_gap.setdefault(g, {})[m] = _stats(avg, n_resamples, confidence, seed)
    return {
        "n_runs": len(results),
        "reference": results[0].reference,
        "metrics": out_metrics,
        **out_gap,
    }
