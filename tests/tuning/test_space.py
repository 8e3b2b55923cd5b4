"""Search spaces: distributions, seeded draws, every method's space yields valid configs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unlearnkit.errors import ConfigError
from unlearnkit.methods import get_method_class, method_names
from unlearnkit.tuning.search import trial_configs
from unlearnkit.tuning.space import Choice, LogUniform, Uniform, sample_space


def test_log_uniform_is_uniform_in_log_space() -> None:
    rng = np.random.default_rng(0)
    d = LogUniform(1e-4, 1e-1)
    x = np.array([d.sample(rng) for _ in range(4000)])
    assert x.min() >= 1e-4 * 0.999 and x.max() <= 1e-1 * 1.001
    # median of a log-uniform on [a, b] is sqrt(ab); a third of the mass per decade
    assert math.isclose(np.median(x), math.sqrt(1e-4 * 1e-1), rel_tol=0.15)
    assert abs(np.mean(x < 1e-3) - 1 / 3) < 0.03
    assert d.sample(np.random.default_rng(5)) == d.sample(np.random.default_rng(5))


def test_uniform_and_choice() -> None:
    rng = np.random.default_rng(1)
    u = np.array([Uniform(0.1, 1.0).sample(rng) for _ in range(2000)])
    assert u.min() >= 0.1 and u.max() <= 1.0 and abs(u.mean() - 0.55) < 0.02
    c = [Choice((3, 5, 10)).sample(rng) for _ in range(300)]
    assert set(c) == {3, 5, 10} and all(type(v) is int for v in c)
    assert Choice((1, 2)).describe() == "one of {1, 2}"
    assert LogUniform(0.001, 0.1).describe() == "log-uniform [0.001, 0.1]"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LogUniform(0.0, 1.0), "LogUniform needs 0 < low < high"),
        (lambda: LogUniform(1.0, 0.5), "LogUniform needs 0 < low < high"),
        (lambda: Uniform(1.0, 1.0), "Uniform needs low < high"),
        (lambda: Choice(()), "Choice needs at least one value"),
    ],
)
def test_bad_distributions(make, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_sample_space_is_seeded_and_key_ordered() -> None:
    space = {"lr": LogUniform(1e-3, 1e-1), "epochs": Choice((1, 2, 3))}
    a = sample_space(space, np.random.default_rng(3))
    b = sample_space(dict(reversed(list(space.items()))), np.random.default_rng(3))
    assert a == b and set(a) == {"lr", "epochs"}


TUNABLE = [m for m in method_names() if m not in ("original", "retrain")]


@pytest.mark.parametrize("name", TUNABLE)
def test_every_method_space_yields_valid_configs(name: str) -> None:
    cls = get_method_class(name)
    assert cls.search_space, f"{name} has no search space"
    for key in cls.search_space:
        assert key in cls.config_cls.__dataclass_fields__, (name, key)
    trials = trial_configs(name, {}, 20, sampler_seed=0)
    assert len(trials) == 20 and trials[0] == {}
    for t in trials[1:]:
        cls.config_cls.from_dict(t)
        assert set(t) == set(cls.search_space)
    assert len({tuple(sorted(t.items())) for t in trials[1:]}) > 10  # draws differ


def test_trial_configs_overlay_base_and_extend_with_budget() -> None:
    base = {"epochs": 2, "batch_size": 32}
    small = trial_configs("finetune", base, 3, sampler_seed=7)
    large = trial_configs("finetune", base, 6, sampler_seed=7)
    assert large[:3] == small  # a larger budget extends a smaller one
    assert small[0] == base
    assert all(t["batch_size"] == 32 for t in large)  # untuned keys keep the file's value
    assert trial_configs("finetune", base, 3, sampler_seed=8)[1] != small[1]


@pytest.mark.parametrize("name", ["original", "retrain"])
def test_reference_methods_have_nothing_to_tune(name: str) -> None:
    with pytest.raises(ConfigError, match=f"method '{name}' has no hyperparameters to tune"):
        trial_configs(name, {}, 2, sampler_seed=0)
