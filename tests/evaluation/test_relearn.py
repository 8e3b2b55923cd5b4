"""relearn_time: step counting, the cap, determinism, and the input model left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnkit.data import load_dataset
from unlearnkit.data.batching import TensorSet, unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.relearn import RELEARN_EVAL_MAX, relearn_eval_rows, relearn_time
from unlearnkit.models import FeatureClassifier, ModelConfig
from unlearnkit.training import accuracy, new_model

torch.set_num_threads(1)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def forget() -> TensorSet:
    ds = load_dataset("digits")
    split = make_split(ds, SplitConfig(dataset="digits", scenario="random", forget_size=60))
    return unlearning_data(ds, split).forget


def _fresh() -> FeatureClassifier:
    return new_model(ModelConfig(name="cnn", width=8, embed_dim=16), (1, 8, 8), 10, seed=0)


def test_cap_hit_reports_the_cap(forget: TensorSet) -> None:
    model = _fresh()  # untrained; a tiny lr cannot reach 100% in 4 steps
    r = relearn_time(model, forget, 1.0, device=CPU, lr=1e-6, max_steps=4)
    assert r["reached"] is False
    assert r["steps"] == r["cap"] == 4
    assert r["final_acc"] < 1.0


def test_model_already_at_target_takes_zero_steps(forget: TensorSet) -> None:
    model = _fresh()
    target = accuracy(model, forget, CPU)
    r = relearn_time(model, forget, target, device=CPU, max_steps=10)
    assert r == {"steps": 0, "reached": True, "cap": 10, "target": target, "final_acc": target}
    r0 = relearn_time(model, forget, 0.0, device=CPU, max_steps=0)
    assert r0["steps"] == 0 and r0["reached"] is True


def test_counts_first_step_reaching_target_deterministically(forget: TensorSet) -> None:
    model = _fresh()
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    start = accuracy(model, forget, CPU)
    target = 0.6  # 60 examples of 10 classes: learnable in tens of steps
    assert start < target
    kw = {"device": CPU, "lr": 0.3, "batch_size": 16, "seed": 1}
    r = relearn_time(model, forget, target, max_steps=300, **kw)
    assert r["reached"] is True and 1 <= r["steps"] < 300
    assert r["final_acc"] >= target
    # the same run capped one step earlier must fail: steps is the first step at the target
    again = relearn_time(model, forget, target, max_steps=r["steps"], **kw)
    assert again == {**r, "cap": r["steps"]}
    earlier = relearn_time(model, forget, target, max_steps=r["steps"] - 1, **kw)
    assert earlier["reached"] is False and earlier["final_acc"] < target
    # the input model is a copy's template: weights and mode untouched
    assert model.training is True
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_eval_every_checks_at_multiples(forget: TensorSet) -> None:
    model = _fresh()
    kw = {"device": CPU, "lr": 0.3, "batch_size": 16, "seed": 1, "max_steps": 300}
    every1 = relearn_time(model, forget, 0.6, **kw)
    every5 = relearn_time(model, forget, 0.6, eval_every=5, **kw)
    assert every5["steps"] % 5 == 0 and every5["steps"] >= every1["steps"]


def test_bad_inputs(forget: TensorSet) -> None:
    model = _fresh()
    empty = forget.subset(np.arange(0))
    with pytest.raises(EvaluationError, match="forget set is empty"):
        relearn_time(model, empty, 0.5, device=CPU)
    with pytest.raises(EvaluationError, match="target_acc"):
        relearn_time(model, forget, 1.5, device=CPU)
    with pytest.raises(EvaluationError, match="lr"):
        relearn_time(model, forget, 0.5, device=CPU, lr=0.0)


def test_eval_rows() -> None:
    np.testing.assert_array_equal(relearn_eval_rows(50), np.arange(50))
    rows = relearn_eval_rows(5000, seed=2)
    assert rows.size == RELEARN_EVAL_MAX == 2000
    assert np.all(np.diff(rows) > 0) and rows.max() < 5000
    np.testing.assert_array_equal(rows, relearn_eval_rows(5000, seed=2))
