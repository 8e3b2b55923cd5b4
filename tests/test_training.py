from __future__ import annotations

import pytest
import torch

from tests.conftest import CPU, TINY_MODEL, TINY_RECIPE
from unlearnkit.errors import ConfigError, DivergenceError
from unlearnkit.training import TrainConfig, accuracy, lr_factor, train_fresh


def test_same_seed_bit_identical(tiny_data):
    runs = [
        train_fresh(
            TINY_MODEL,
            TINY_RECIPE.replace(epochs=1),
            tiny_data.train,
            input_shape=tiny_data.input_shape,
            num_classes=10,
            device=CPU,
            show_progress=False,
        )[0]
        for _ in range(2)
    ]
    a, b = (r.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train_fresh(
        TINY_MODEL,
        TINY_RECIPE.replace(epochs=1, seed=1),
        tiny_data.train,
        input_shape=tiny_data.input_shape,
        num_classes=10,
        device=CPU,
        show_progress=False,
    )[0].state_dict()
    assert not all(torch.equal(a[k], other[k]) for k in a)


def test_learns_and_history(tiny_data):
    model, res = train_fresh(
        TINY_MODEL,
        TINY_RECIPE,
        tiny_data.train,
        input_shape=tiny_data.input_shape,
        num_classes=10,
        device=CPU,
        eval_sets={"test": tiny_data.test},
        show_progress=False,
    )
    assert len(res.history) == TINY_RECIPE.epochs
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.history[-1]["test_acc"] == pytest.approx(accuracy(model, tiny_data.test, CPU))
    assert accuracy(model, tiny_data.test, CPU) > 0.8
    assert res.wall_time > 0


def test_lr_schedules():
    cos = TrainConfig(schedule="cosine")
    assert lr_factor(cos, 0.0, 10, 0) == 1.0
    assert lr_factor(cos, 1.0, 10, 100) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(cos, 0.5, 10, 50) == pytest.approx(0.5)
    step = TrainConfig(schedule="step", step_milestones=(0.5, 0.75), step_gamma=0.1)
    assert lr_factor(step, 0.6, 10, 60) == pytest.approx(0.1)
    assert lr_factor(step, 0.8, 10, 80) == pytest.approx(0.01)
    warm = TrainConfig(schedule="constant", warmup_epochs=1)
    assert lr_factor(warm, 0.0, 10, 4) == pytest.approx(0.5)


def test_divergence_is_reported(tiny_data):
    with pytest.raises(DivergenceError, match="training diverged"):
        train_fresh(
            TINY_MODEL,
            TINY_RECIPE.replace(epochs=1, lr=1e12, momentum=0.0),
            tiny_data.train,
            input_shape=tiny_data.input_shape,
            num_classes=10,
            device=CPU,
            show_progress=False,
        )


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"epochs": -1}, "epochs must be >= 1"),
        ({"epochs": 0}, "epochs must be >= 1, got 0: with no training"),
        ({"lr": 0}, "'lr' must be > 0"),
        ({"lr": float("nan")}, "'lr' must be a finite number"),
        ({"momentum": 1.0}, "'momentum' must be >= 0 and < 1"),
        ({"step_milestones": (0.5, 2.0)}, "'step_milestones' must be >= 0 and <= 1"),
        ({"batch_size": 0}, "'batch_size' must be >= 1"),
        ({"schedule": "poly"}, "must be one of"),
    ],
)
def test_bad_recipe(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        TrainConfig(**kw)
