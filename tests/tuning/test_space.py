"""Search spaces: Optuna distributions, TOML overrides, every method's default space."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from unlearnkit.errors import ConfigError
from unlearnkit.methods import get_method_class, method_names
from unlearnkit.methods.space import (
    Choice,
    IntUniform,
    LogUniform,
    Uniform,
    parse_distribution,
    resolve_space,
)
from unlearnkit.tuning.config import method_space
from unlearnkit.tuning.study import optuna_space


def test_distributions_map_to_optuna() -> None:
    assert LogUniform(1e-4, 1e-2).to_optuna() == FloatDistribution(1e-4, 1e-2, log=True)
    assert Uniform(0.1, 1.0).to_optuna() == FloatDistribution(0.1, 1.0)
    assert IntUniform(1, 5).to_optuna() == IntDistribution(1, 5)
    assert Choice((10, 30, 60)).to_optuna() == CategoricalDistribution((10, 30, 60))
    assert Choice((1, 2)).describe() == "one of {1, 2}"
    assert LogUniform(0.001, 0.1).describe() == "log-uniform [0.001, 0.1]"
    assert Choice((1, 2)).contains(2) and not Choice((1, 2)).contains(3)
    assert LogUniform(1.0, 2.0).contains(1.5) and not LogUniform(1.0, 2.0).contains(3.0)


def test_toml_forms_parse() -> None:
    assert parse_distribution("x", {"choice": [10, 30, 60]}) == Choice((10, 30, 60))
    assert parse_distribution("x", {"log_uniform": [1e-4, 1e-2]}) == LogUniform(1e-4, 1e-2)
    assert parse_distribution("x", {"uniform": [0.0, 0.5]}) == Uniform(0.0, 0.5)
    assert parse_distribution("x", {"int_uniform": [1, 5]}) == IntUniform(1, 5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"choice": []}, "x: choice needs at least one value, got an empty list"),
        ({"log_uniform": [0.0, 1.0]}, "x: log_uniform needs 0 < low < high (a log range"),
        ({"log_uniform": [-1.0, 1.0]}, "x: log_uniform needs 0 < low < high"),
        ({"uniform": [1.0, 1.0]}, "x: uniform needs low < high, got [1.0, 1.0]"),
        ({"uniform": [1.0]}, "x: uniform takes [low, high], got [1.0]"),
        ({"int_uniform": [1.5, 3]}, "x: int_uniform needs two integers low < high"),
        ({"normal": [0, 1]}, "x: unknown distribution 'normal'; use one of {choice = [...]}"),
        ([1, 2], "x must be one of {choice = [...]}, {log_uniform = [...]}"),
        ({"choice": [1, 1]}, "x: choice has duplicate values: [1, 1]"),
    ],
)
def test_bad_distribution_messages(spec, message) -> None:
    with pytest.raises(ConfigError) as info:
        parse_distribution("x", spec)
    assert message in str(info.value)


def test_override_replaces_and_extends_the_default_space() -> None:
    cls = get_method_class("sure")
    space = resolve_space(
        "sure",
        cls.search_space,
        cls.config_cls.field_names(),
        {"warmup_epochs": {"choice": [5, 15]}, "disc_dropout": {"uniform": [0.0, 0.5]}},
    )
    assert space["warmup_epochs"] == Choice((5, 15))  # replaced
    assert space["disc_dropout"] == Uniform(0.0, 0.5)  # added
    assert space["lr"] == cls.search_space["lr"]  # kept
    with pytest.raises(
        ConfigError,
        match=r"\[tune.space.sure\] warmup: 'warmup' is not a "
        r"parameter of sure; its parameters are: .*warmup_epochs",
    ):
        resolve_space(
            "sure", cls.search_space, cls.config_cls.field_names(), {"warmup": {"choice": [1]}}
        )
    with pytest.raises(ConfigError, match="'seed' is not a parameter of sure"):
        resolve_space("sure", {}, cls.config_cls.field_names(), {"seed": {"choice": [1]}})


def test_space_values_must_fit_the_config_field() -> None:
    with pytest.raises(ConfigError, match=r"epochs is an integer; use \{int_uniform"):
        method_space("finetune", {"epochs": {"uniform": [1.0, 5.0]}})
    with pytest.raises(ConfigError, match="the value 'nope' is not valid"):
        method_space("sure", {"lambda_schedule": {"choice": ["constant", "nope"]}})


def test_sure_space_covers_the_knobs_of_its_noop_warning() -> None:
    space = get_method_class("sure").search_space
    src = (Path(__file__).parents[2] / "src/unlearnkit/methods/sure.py").read_text()
    warning = re.search(r"Increase (\w+) or (\w+)", src)
    assert warning is not None
    for knob in warning.groups():
        assert knob in space, knob


TUNABLE = [m for m in method_names() if m not in ("original", "retrain")]


@pytest.mark.parametrize("name", TUNABLE)
def test_every_method_space_is_valid_and_contains_trial_0(name: str) -> None:
    space = method_space(name, None)
    cls = get_method_class(name).config_cls
    defaults = cls().to_dict()
    wide, dists = optuna_space(space, {k: defaults[k] for k in space})
    assert set(dists) == set(space)
    for k, d in wide.items():
        assert d.contains(defaults[k]), (name, k)  # trial 0 (the defaults) lies in the space


def test_trial_0_outside_the_space_widens_it() -> None:
    wide, _dists = optuna_space(
        {"epochs": Choice((3, 5)), "lr": LogUniform(0.01, 0.1)}, {"epochs": 7, "lr": 0.5}
    )
    assert wide["epochs"] == Choice((3, 5, 7)) and wide["lr"] == LogUniform(0.01, 0.5)
    with pytest.raises(ConfigError, match="cannot be added to it"):
        optuna_space({"lr": LogUniform(0.01, 0.1)}, {"lr": 0.0})


@pytest.mark.parametrize("name", ["original", "retrain"])
def test_reference_methods_have_nothing_to_tune(name: str) -> None:
    with pytest.raises(ConfigError, match=f"method '{name}' has no hyperparameters to tune"):
        method_space(name, None)


def test_methods_never_import_from_tuning() -> None:
    root = Path(__file__).parents[2] / "src/unlearnkit/methods"
    offenders = [p.name for p in root.glob("*.py") if "unlearnkit.tuning" in p.read_text()]
    assert offenders == []
