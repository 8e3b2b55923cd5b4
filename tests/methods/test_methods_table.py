"""One parametrised table that every registered method runs through (DESIGN §3: adding a
method = one file + one registration line + one row here).

Per method: finite losses, weights change (except ``original``), same seed → identical
weights, config JSON round trip, unknown keys rejected with the known ones listed, metadata
for ``unlearnkit list methods``; ``retrain`` never sees a forget example; every method runs
on every scenario (random, partial-class, class, confusion) and on every registered model.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch

import unlearnkit.methods.retrain as retrain_module
from tests.conftest import CPU, TINY_MODEL, TINY_RECIPE
from unlearnkit.data.batching import UnlearningData, unlearning_data
from unlearnkit.data.splits import SCENARIOS, SplitConfig, make_split
from unlearnkit.errors import ConfigError
from unlearnkit.methods import (
    MethodContext,
    UnlearnOutcome,
    create_method,
    get_method_class,
    method_names,
)
from unlearnkit.models import FeatureClassifier, ModelConfig, model_specs
from unlearnkit.training import train_fresh

torch.set_num_threads(1)

# small, fast configs: one row per method (methods without a row get epochs=1 if they have it)
TABLE: dict[str, dict[str, Any]] = {
    "original": {},
    "retrain": {},
    "finetune": {"epochs": 1},
    "sure": {"epochs": 1, "warmup_epochs": 2},
    "gradient_ascent": {"epochs": 1, "batch_size": 32, "lr": 1e-3},
    "neggrad_plus": {"epochs": 1, "batch_size": 64},
    "random_labels": {"epochs": 1, "batch_size": 32},
    "l1_sparse": {"epochs": 1, "batch_size": 64},
    "salun": {"epochs": 1, "batch_size": 32},
    "scrub": {"epochs": 2, "msteps": 1, "batch_size": 64, "forget_batch_size": 16},
    "bad_teacher": {"epochs": 1, "batch_size": 64, "lr": 1e-3},
    "ssd": {"batch_size": 64},
}
# retrain uses the recipe in the context: keep it short
RECIPE = TINY_RECIPE.replace(epochs=1)
METHODS = method_names()


def small_config(name: str) -> dict[str, Any]:
    if name in TABLE:
        return dict(TABLE[name])
    fields = get_method_class(name).config_cls.field_names()
    return {"epochs": 1} if "epochs" in fields else {}


def run(
    name: str,
    original: FeatureClassifier,
    data: UnlearningData,
    model_config: ModelConfig = TINY_MODEL,
    **overrides: Any,
) -> UnlearnOutcome:
    method = create_method(name, {**small_config(name), **overrides})
    frozen = copy.deepcopy(original).eval()
    ctx = MethodContext(model_config, RECIPE, original=frozen, show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SURE's small-val / no-op warnings on tiny data
        return method.unlearn(copy.deepcopy(original), data, device=CPU, context=ctx)


def assert_finite_history(out: UnlearnOutcome, name: str) -> None:
    for row in out.history:
        for key, value in row.items():
            assert isinstance(value, (int, float)), (name, key, value)
            assert math.isfinite(value), f"{name}: history value {key}={value} is not finite"


def weights_differ(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.fixture(scope="module")
def partial(tiny_data, tiny_original):
    return tiny_data, tiny_original


@pytest.fixture(scope="module")
def small_world(digits):
    """Tiny splits of every scenario (300 training examples) with 1-epoch originals, per
    registered model architecture; built lazily and cached."""
    cache: dict[tuple[str, str], tuple[UnlearningData, FeatureClassifier, ModelConfig]] = {}

    def get(scenario: str, arch: str = "cnn"):
        if (scenario, arch) not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                split = make_split(
                    digits,
                    SplitConfig(
                        dataset="digits",
                        scenario=scenario,
                        forget_size=0.1 if scenario == "random" else 0.5,
                        forget_classes=(3, 8) if scenario == "confusion" else (3,),
                        train_size=300,
                        seed=0,
                    ),
                )
            data = unlearning_data(digits, split)
            mc = ModelConfig(name=arch, width=2 if arch == "resnet18" else 8, embed_dim=16)
            model, _ = train_fresh(
                mc,
                RECIPE.replace(epochs=2),
                data.train,
                input_shape=data.input_shape,
                num_classes=data.num_classes,
                device=CPU,
                show_progress=False,
            )
            cache[(scenario, arch)] = (data, model.eval(), mc)
        return cache[(scenario, arch)]

    return get


# -- the table ---------------------------------------------------------------------------


def test_every_method_is_registered_with_metadata() -> None:
    expected = {
        "original",
        "retrain",
        "finetune",
        "sure",
        "gradient_ascent",
        "neggrad_plus",
        "random_labels",
        "l1_sparse",
        "salun",
        "scrub",
        "bad_teacher",
        "ssd",
    }
    assert expected <= set(METHODS)
    for name in METHODS:
        cls = get_method_class(name)
        assert cls.name == name
        assert cls.description and "\n" not in cls.description, name
        assert cls.paper, name


@pytest.mark.parametrize("name", METHODS)
def test_runs_finite_and_changes_weights(name, partial) -> None:
    data, original = partial
    out = run(name, original, data)
    assert_finite_history(out, name)
    assert out.wall_time >= 0
    assert not out.model.training, f"{name} must return the model in eval mode"
    if name == "original":
        assert not weights_differ(out.model, original)
    else:
        assert weights_differ(out.model, original), f"{name} left every weight unchanged"
    with torch.no_grad():
        logits = out.model(data.test.x[:16])
    assert logits.shape == (16, data.num_classes) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", METHODS)
def test_same_seed_same_weights(name, partial) -> None:
    data, original = partial
    a = run(name, original, data, seed=5).model.state_dict()
    b = run(name, original, data, seed=5).model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{name}: {key} differs between two seeded runs"


@pytest.mark.parametrize("name", METHODS)
def test_config_json_round_trip(name) -> None:
    cls = get_method_class(name).config_cls
    for cfg in (cls(), cls.from_dict(small_config(name))):
        assert cls.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("name", METHODS)
def test_unknown_config_key_lists_known_keys(name) -> None:
    with pytest.raises(ConfigError, match="known keys") as err:
        create_method(name, {"no_such_option": 1})
    assert "no_such_option" in str(err.value)
    for field in get_method_class(name).config_cls.field_names():
        assert field in str(err.value)


def test_retrain_never_sees_a_forget_example(partial, monkeypatch) -> None:
    data, original = partial
    seen: list[np.ndarray] = []
    real = retrain_module.train_fresh

    def spy(model_config, train_config, train, **kwargs):
        seen.append(np.asarray(train.indices).copy())
        return real(model_config, train_config, train, **kwargs)

    monkeypatch.setattr(retrain_module, "train_fresh", spy)
    run("retrain", original, data)
    assert len(seen) == 1
    assert data.split is not None
    assert not set(seen[0].tolist()) & set(np.asarray(data.split.forget).tolist())
    assert sorted(seen[0].tolist()) == sorted(np.asarray(data.split.retain).tolist())


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("name", METHODS)
def test_every_scenario(name, scenario, small_world) -> None:
    data, original, mc = small_world(scenario)
    out = run(name, original, data, model_config=mc)
    assert_finite_history(out, name)
    with torch.no_grad():
        assert torch.isfinite(out.model(data.forget.x)).all()


@pytest.mark.parametrize("arch", [s.name for s in model_specs() if s.name != "cnn"])
@pytest.mark.parametrize("name", METHODS)
def test_every_model(name, arch, small_world) -> None:
    data, original, mc = small_world("random", arch)
    out = run(name, original, data, model_config=mc)
    assert_finite_history(out, name)
    with torch.no_grad():
        assert torch.isfinite(out.model(data.forget.x)).all()
