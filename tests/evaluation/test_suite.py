"""The evaluation suite on a tiny digits split: metrics vs direct computations, gaps, Avg. Gap,
tables, the metric registry, scenarios, aggregation across seeds, and bad inputs."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from unlearnkit.data import load_dataset
from unlearnkit.data.batching import UnlearningData, unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import (
    ATTACKERS,
    AVG_GAP_KEYS,
    GAP_DEFINITIONS,
    LOSS_FPRS,
    METRICS,
    EvalConfig,
    EvaluationError,
    EvaluationResult,
    ModelOutputs,
    UnreliableMetricWarning,
    aggregate,
    auc,
    collect_outputs,
    cross_fitted_probe_accuracy,
    evaluate_models,
    evaluate_outputs,
    linear_probe_accuracy,
    tpr_key,
)
from unlearnkit.models import FeatureClassifier, ModelConfig
from unlearnkit.training import TrainConfig, accuracy, train_fresh

torch.set_num_threads(1)
CPU = torch.device("cpu")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

#: The documented Avg. Gap list (docs/metrics.md); changing it is a deliberate, visible act.
# SalUn's Avg. Gap (Fan et al. 2024) and the representation-level average, as documented
DOCUMENTED_AVG_GAP = ("retain_acc", "forget_acc", "test_acc", "mia_efficacy_confidence")
DOCUMENTED_AVG_GAP_REPR = (
    "forget_acc",
    "loss_auc",
    "probe_forget_acc",
    "emb_logreg_auc",
    "emb_knn_auc",
    "emb_mlp_auc",
)
FAST = EvalConfig(attackers=("logreg",), mia=False, n_folds=2)


def _data(scenario: str) -> UnlearningData:
    ds = load_dataset("digits")
    cfg = SplitConfig(dataset="digits", scenario=scenario, forget_size=0.5, forget_classes=(3,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # small val_domain: irrelevant here
        split = make_split(ds, cfg)
    return unlearning_data(ds, split)


def _train(data: UnlearningData, which: str) -> FeatureClassifier:
    model, _ = train_fresh(
        ModelConfig(name="cnn", width=8, embed_dim=32),
        TrainConfig(epochs=2),
        data.train if which == "original" else data.retain,
        input_shape=data.input_shape,
        num_classes=10,
        device=CPU,
        show_progress=False,
    )
    return model


@pytest.fixture(scope="module")
def setup() -> dict[str, Any]:
    data = _data("partial-class")
    models = {"original": _train(data, "original"), "retrain": _train(data, "retrain")}
    # every metric family, but without the slowest attacker (the MLP: see the registry test)
    config = EvalConfig(
        attackers=("logreg", "knn"), relearn=True, relearn_max_steps=3, relearn_lr=1e-4
    )
    result = evaluate_models(
        models,
        data,
        device=CPU,
        config=config,
        wall_times={"original": 3.0, "retrain": 2.0},
        show_progress=False,
    )
    return {"data": data, "models": models, "result": result, "config": config}


def test_accuracies_match_direct_computation(setup: dict[str, Any]) -> None:
    data, models, rows = setup["data"], setup["models"], setup["result"].rows
    for name, model in models.items():
        assert rows[name]["retain_acc"] == pytest.approx(accuracy(model, data.retain, CPU))
        assert rows[name]["forget_acc"] == pytest.approx(accuracy(model, data.forget, CPU))
        assert rows[name]["test_acc"] == pytest.approx(accuracy(model, data.test, CPU))
        assert rows[name]["val_acc"] == pytest.approx(accuracy(model, data.val, CPU))
        assert rows[name]["wall_time"] == {"original": 3.0, "retrain": 2.0}[name]


def test_per_class_accuracies_and_matched_negatives(setup: dict[str, Any]) -> None:
    data, model = setup["data"], setup["models"]["original"]
    out = collect_outputs(model, data, CPU)
    row = setup["result"].rows["original"]
    test = out["test"]
    is3 = test.labels == 3
    assert row["test_acc_forgotten_classes"] == pytest.approx(test.correct[is3].mean())
    assert row["test_acc_other_classes"] == pytest.approx(test.correct[~is3].mean())
    # partial-class: the loss attack's non-members are the test examples of the forget class
    forget_loss, test_loss = out["forget"].losses, test.losses[is3]
    assert row["loss_auc"] == pytest.approx(auc(-forget_loss, -test_loss))
    # linear probe fitted on retain embeddings, scored on forget
    expected = linear_probe_accuracy(
        out["retain"].embeddings,
        out["retain"].labels,
        out["forget"].embeddings,
        out["forget"].labels,
    )
    assert row["probe_forget_acc"] == pytest.approx(expected)


def test_gaps_are_absolute_differences(setup: dict[str, Any]) -> None:
    res: EvaluationResult = setup["result"]
    gaps = res.gaps()
    orig, ref = res.rows["original"], res.rows["retrain"]
    assert set(gaps["original"]) == {
        k for k in orig if METRICS[k].compared_to_reference and k in ref
    }
    assert "wall_time" not in gaps["original"]
    for k, g in gaps["original"].items():
        assert g == abs(orig[k] - ref[k])
    assert all(g == 0.0 for g in gaps["retrain"].values())
    assert res.gaps(reference="original")["retrain"]["forget_acc"] == gaps["original"]["forget_acc"]


def test_avg_gap_matches_hand_computation(setup: dict[str, Any]) -> None:
    res: EvaluationResult = setup["result"]
    assert AVG_GAP_KEYS == DOCUMENTED_AVG_GAP
    assert GAP_DEFINITIONS["avg_gap"].keys == DOCUMENTED_AVG_GAP
    assert GAP_DEFINITIONS["avg_gap_repr"].keys == DOCUMENTED_AVG_GAP_REPR
    orig, ref = res.rows["original"], res.rows["retrain"]
    # emb_mlp_auc is not computed in this configuration: skipped, not counted as zero
    for kind, documented, missing in (
        ("avg_gap", DOCUMENTED_AVG_GAP, None),
        ("avg_gap_repr", DOCUMENTED_AVG_GAP_REPR, "emb_mlp_auc"),
    ):
        used = [k for k in documented if k != missing]
        assert res.avg_gap_keys("original", kind=kind) == used
        hand = sum(abs(orig[k] - ref[k]) * 100 for k in used) / len(used)
        assert res.avg_gap("original", kind=kind) == pytest.approx(hand, rel=1e-12)
        assert res.avg_gap("retrain", kind=kind) == 0.0
    assert res.avg_gap_repr("original") == res.avg_gap("original", kind="avg_gap_repr")
    with pytest.raises(EvaluationError, match="unknown gap average 'nope'; known: avg_gap"):
        res.avg_gap("original", kind="nope")
    # metrics missing for a configuration are skipped, not counted as zero
    partial = EvaluationResult(
        rows={
            "m": {"forget_acc": 0.9, "test_acc": 0.8},
            "retrain": {"forget_acc": 0.7, "test_acc": 0.8, "emb_mlp_auc": 0.5},
        }
    )
    assert partial.avg_gap("m") == pytest.approx((20.0 + 0.0) / 2)


def test_cka_of_reference_to_itself_is_one(setup: dict[str, Any]) -> None:
    rows = setup["result"].rows
    assert rows["retrain"]["cka_to_reference"] == pytest.approx(1.0, abs=1e-9)
    assert 0.0 <= rows["original"]["cka_to_reference"] <= 1.0 + 1e-9


def test_relearn_rows(setup: dict[str, Any]) -> None:
    rows = setup["result"].rows
    assert rows["original"]["relearn_steps"] == 0.0  # the target is its own forget accuracy
    assert rows["original"]["relearn_reached"] == 1.0
    r = rows["retrain"]
    assert (r["relearn_reached"], r["relearn_steps"]) in {(1.0, r["relearn_steps"]), (0.0, 3.0)}
    assert 0 <= r["relearn_steps"] <= 3


def test_every_metric_key_is_registered_and_documented(setup: dict[str, Any]) -> None:
    res: EvaluationResult = setup["result"]
    keys = set().union(*(r.keys() for r in res.rows.values()))
    unknown = keys - set(METRICS)
    assert not unknown, f"metrics without a registry entry: {sorted(unknown)}"
    for k in ("emb_knn_auc", "emb_transfer_auc", "mia_efficacy_prob", "relearn_steps"):
        assert k in keys
    for a in ATTACKERS:  # every attacker's keys follow the same pattern as those produced
        assert {f"emb_{a}_auc", f"emb_{a}_tpr_at_1pct_fpr", f"emb_{a}_balanced_acc"} <= set(METRICS)
    for x in LOSS_FPRS:
        assert f"loss_{tpr_key(x)}" in METRICS
    doc = DOCS.read_text(encoding="utf-8")
    undocumented = [k for k in METRICS if f"`{k}`" not in doc]
    assert not undocumented, f"metrics missing from docs/metrics.md: {undocumented}"
    for info in METRICS.values():
        assert info.in_avg_gap is (info.key in DOCUMENTED_AVG_GAP)


def test_table_contains_every_model_and_avg_gap(setup: dict[str, Any]) -> None:
    res: EvaluationResult = setup["result"]
    n_metrics = len(res.metric_keys())
    text = res.table()
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "original", "retrain", "(ref.)"]
    assert any(line.startswith("Avg. Gap (pp)") for line in lines)
    avg_line = next(line for line in lines if line.startswith("Avg. Gap (pp)"))
    assert f"{res.avg_gap('original'):.2f}" in avg_line
    repr_line = next(line for line in lines if line.startswith("Avg. Gap (repr.) (pp)"))
    assert f"{res.avg_gap_repr('original'):.2f}" in repr_line
    assert "SalUn" in text
    forget_line = next(line for line in lines if line.startswith("Forget acc. %"))
    gap = res.gaps()["original"]["forget_acc"] * 100
    assert f"(Δ{gap:.1f})" in forget_line
    md = res.table(markdown=True)
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    assert table_lines[0] == "| metric | original | retrain (ref.) |"
    assert len(table_lines) == 2 + n_metrics + 2  # header, rule, metrics, the two gaps
    assert table_lines[-2].startswith("| Avg. Gap (pp) |")
    assert table_lines[-1].startswith("| Avg. Gap (repr.) (pp) |")
    assert all(line.count("|") == 4 for line in table_lines)
    # unreliable TPRs (40 same-class test examples < 1/0.001) are starred with a footnote
    assert "loss_tpr_at_0p1pct_fpr" in res.unreliable["original"]
    assert re.search(r"Loss TPR@0\.1%FPR %\s+\S+\*", text)
    assert "not meaningful" in text


def test_to_dict_round_trip(setup: dict[str, Any]) -> None:
    res: EvaluationResult = setup["result"]
    d = json.loads(json.dumps(res.to_dict()))
    assert d["avg_gap"]["original"] == pytest.approx(res.avg_gap("original"))
    assert d["avg_gap_repr"]["original"] == pytest.approx(res.avg_gap_repr("original"))
    assert d["avg_gap_repr_keys"] == list(DOCUMENTED_AVG_GAP_REPR)
    assert d["config"] == setup["config"].to_dict()
    back = EvaluationResult.from_dict(d)
    assert back.rows == res.rows
    assert back.scenario == "partial-class" and back.forget_classes == (3,)
    assert back.avg_gap("original") == res.avg_gap("original")


def test_class_and_random_scenarios(setup: dict[str, Any]) -> None:
    model = setup["models"]["original"]
    data = _data("class")
    out = collect_outputs(model, data, CPU)
    with pytest.warns(UnreliableMetricWarning) as rec:
        row = evaluate_outputs(
            out, scenario="class", forget_classes=(3,), num_classes=10, reference=out, config=FAST
        )
    # one warning per call listing every unreliable TPR (40 same-class test examples)
    msgs = [str(w.message) for w in rec if issubclass(w.category, UnreliableMetricWarning)]
    assert len(msgs) == 1
    for k in ("loss_tpr_at_1pct_fpr", "loss_tpr_at_0p1pct_fpr", "emb_logreg_tpr_at_1pct_fpr"):
        assert k in msgs[0]
    is3 = out["test"].labels == 3
    assert row["test_acc_forgotten_classes"] == pytest.approx(out["test"].correct[is3].mean())
    assert row["test_acc_other_classes"] == pytest.approx(out["test"].correct[~is3].mean())
    assert "emb_transfer_auc" not in row  # undefined: retain holds no forgotten class
    assert "mia_efficacy_confidence" not in row and "emb_knn_auc" not in row  # FAST config
    assert row["cka_to_reference"] == pytest.approx(1.0, abs=1e-9)
    f, t = out["forget"], out["test"]
    expected = cross_fitted_probe_accuracy(
        f.embeddings, f.labels, t.embeddings, t.labels, n_folds=2, seed=0
    )
    assert row["probe_forget_acc"] == pytest.approx(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableMetricWarning)
        rnd = evaluate_outputs(
            out,
            scenario="random",
            forget_classes=(),
            num_classes=10,
            config=FAST.replace(attackers=()),
        )
    assert "test_acc_forgotten_classes" not in rnd and "cka_to_reference" not in rnd
    assert "emb_transfer_auc" in rnd
    assert set(rnd) <= set(METRICS) and set(row) <= set(METRICS)


def _result(seed: int, orig: dict[str, float], ref: dict[str, float]) -> EvaluationResult:
    return EvaluationResult(rows={"original": orig, "retrain": ref}, config={"seed": seed})


def test_aggregate_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    keys = ["forget_acc", "test_acc", "loss_auc", "wall_time"]
    runs = [
        _result(
            s,
            {k: float(rng.uniform()) for k in keys},
            {k: float(rng.uniform()) for k in keys},
        )
        for s in range(4)
    ]
    agg = aggregate(runs, n_resamples=200)
    assert agg["n_runs"] == 4 and agg["reference"] == "retrain"
    for k in keys:
        vals = np.array([r.rows["original"][k] for r in runs])
        s = agg["metrics"]["original"][k]
        assert s["mean"] == pytest.approx(vals.mean())
        assert s["std"] == pytest.approx(vals.std(ddof=1))
        assert s["ci_low"] <= s["mean"] <= s["ci_high"] and s["n"] == 4
        if k != "wall_time":
            gaps = np.abs(vals - np.array([r.rows["retrain"][k] for r in runs]))
            assert s["gap_mean"] == pytest.approx(gaps.mean())
            assert s["gap_std"] == pytest.approx(gaps.std(ddof=1))
        else:
            assert "gap_mean" not in s
    avg = np.array([r.avg_gap("original") for r in runs])
    assert agg["avg_gap"]["original"]["mean"] == pytest.approx(avg.mean())
    assert agg["avg_gap"]["retrain"]["mean"] == 0.0
    rep = np.array([r.avg_gap_repr("original") for r in runs])
    assert agg["avg_gap_repr"]["original"]["mean"] == pytest.approx(rep.mean())
    one = aggregate(runs[:1])["metrics"]["original"]["forget_acc"]
    assert math.isnan(one["std"]) and one["ci_low"] == one["ci_high"] == one["mean"]


def test_bad_inputs_give_clear_errors(setup: dict[str, Any]) -> None:
    data, models = setup["data"], setup["models"]
    out = collect_outputs(models["original"], data, CPU, parts=("retain", "forget", "test"))
    kw: dict[str, Any] = {"forget_classes": (3,), "config": FAST}
    with pytest.raises(EvaluationError, match="logit columns but the dataset has 7"):
        evaluate_outputs(out, scenario="partial-class", num_classes=7, **kw)
    with pytest.raises(EvaluationError, match="unknown scenario"):
        evaluate_outputs(out, scenario="classes", num_classes=10, **kw)
    with pytest.raises(EvaluationError, match="out of range"):
        evaluate_outputs(out, scenario="class", num_classes=10, forget_classes=(12,), config=FAST)
    no_test = ModelOutputs(parts={k: v for k, v in out.parts.items() if k != "test"})
    with pytest.raises(EvaluationError, match="lack part 'test'"):
        evaluate_outputs(no_test, scenario="partial-class", num_classes=10, **kw)
    short_ref = ModelOutputs(parts={"forget": out["forget"].subset(np.arange(10))})
    with pytest.raises(EvaluationError, match="same forget examples"):
        evaluate_outputs(out, scenario="partial-class", num_classes=10, reference=short_ref, **kw)
    with pytest.raises(EvaluationError, match="no 'retrain' row"):
        EvaluationResult(rows={"original": {"forget_acc": 1.0}}).gaps()
    no_split = UnlearningData(
        data.retain, data.forget, data.val, data.val_domain, data.test, 10, data.input_shape
    )
    with pytest.raises(EvaluationError, match=r"data\.split is None"):
        evaluate_models(models, no_split, device=CPU, config=FAST, show_progress=False)
    with pytest.raises(EvaluationError, match="relearn time needs the 'original'"):
        evaluate_models(
            {"retrain": models["retrain"]},
            data,
            device=CPU,
            config=FAST.replace(relearn=True),
            show_progress=False,
        )
    with pytest.raises(EvaluationError, match="aggregate needs"):
        aggregate([])


def test_eval_config_validation_and_round_trip() -> None:
    cfg = EvalConfig(attackers=("knn", "mlp"), fprs=(0.05,), max_retain=None)
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="attackers"):
        EvalConfig(attackers=("svm",))
    with pytest.raises(ConfigError, match="n_folds"):
        EvalConfig(n_folds=1)
    with pytest.raises(ConfigError, match="fprs"):
        EvalConfig(fprs=(0.02,))
    with pytest.raises(ConfigError, match="unknown key"):
        EvalConfig.from_dict({"attacker": "knn"})


def test_confusion_metrics_by_hand():
    from unlearnkit.evaluation import PartOutputs
    from unlearnkit.evaluation.suite import confusion_metrics

    def part(pred, labels):
        logits = np.eye(10)[pred] * 5.0
        return PartOutputs(logits, np.asarray(labels), np.zeros((len(pred), 2)))

    # given labels 8, 8, 3, 3 (true 3, 3, 8, 8); predictions 3, 8, 8, 1
    forget = part([3, 8, 8, 1], [8, 8, 3, 3])
    # test: two 3s, two 8s, one 5; predicted 8, 3 | 8, 8 | 5 → only the first 3 is confused
    test = part([8, 3, 8, 8, 5], [3, 3, 8, 8, 5])
    m = confusion_metrics(forget, test, (3, 8))
    assert m["forget_acc_true"] == pytest.approx(2 / 4)  # the first 3 and the second 8
    assert m["test_confusion"] == pytest.approx(1 / 4)
    with pytest.raises(EvaluationError, match="exactly two classes"):
        confusion_metrics(forget, test, (3,))
    with pytest.raises(EvaluationError, match="must all be 3 or 8"):
        confusion_metrics(part([1], [5]), test, (3, 8))
