"""``[tune]``: how ``unlearnkit tune`` searches, and the search spaces it searches.

The benchmark file may carry a ``[tune]`` table (the options of :class:`TuneConfig`) and
``[tune.space.<method>]`` tables that replace or add dimensions of a method's search space
(:func:`unlearnkit.methods.space.resolve_space`). Command-line flags override ``[tune]``.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from unlearnkit.config import Config, option
from unlearnkit.errors import ConfigError
from unlearnkit.methods import get_method_class
from unlearnkit.methods.space import Choice, Distribution, LogUniform, Uniform, resolve_space
from unlearnkit.tuning.objective import OBJECTIVES

__all__ = ["SAMPLERS", "TuneConfig", "method_space", "split_tune_section"]

#: Optuna samplers ``--sampler`` may name
SAMPLERS = ("tpe", "gp", "random")


@dataclass(frozen=True)
class TuneConfig(Config):
    """How unlearnkit tune searches (the budget is the same for every method)."""

    section = "tune"

    trials: int = option(
        16,
        "trials per (method, setting), the benchmark file's config (trial 0) included; the "
        "same for every method",
    )
    seeds: tuple[int, ...] = option(
        (1000,),
        "split, training and method seeds of the tuning runs, each a new draw of the grid; the "
        "objective is averaged over them (must differ from the benchmark's seeds, so configs "
        "are not chosen on the seeds they are reported on; 2-3 give more robust picks)",
    )
    sampler: str = option(
        "tpe",
        "Optuna sampler: tpe (Tree-structured Parzen Estimator), gp (Gaussian process), "
        "random (random search)",
        choices=SAMPLERS,
    )
    sampler_seed: int = option(0, "seed of the sampler (the same seed gives the same trials)")
    startup_trials: int = option(
        5,
        "tpe/gp: trials drawn at random (trial 0 included) before the sampler models the "
        "history (Optuna's default of 10 would leave TPE 6 of 16 trials)",
    )
    objective: str = option(
        "avg_gap",
        "what is minimised on val (gaps to retrain in points): avg_gap (SalUn's Avg. Gap: "
        "forget, retain, val accuracy, MIA-efficacy) or avg_gap_repr (forget accuracy, loss "
        "attack, linear probe, logistic-regression embedding attack)",
        choices=tuple(OBJECTIVES),
    )
    multi_objective: bool = option(
        False,
        "minimise (forgetting gap, utility gap) jointly and keep the Pareto front; the winner "
        "is the front's trial with the lowest objective",
    )
    workers: int = option(
        1,
        "trials asked from the sampler per round of ask-and-tell, evaluated together; the "
        "trial sequence depends on it (see docs/tuning.md), not on the executor",
    )
    methods: tuple[str, ...] = option(
        (), "methods to tune (default: every method of the benchmark file with a search space)"
    )
    eval_fraction: float = option(
        0.5,
        "share of val (per class) kept as the tuner's non-members; methods (SURE's domain-0 "
        "data, SCRUB's reference set) get the rest, so the two are disjoint",
    )
    noop_tolerance: float = option(
        0.005,
        "a trial is a no-op when the mean total-variation distance between its and the "
        "original's outputs on forget (averaged over tuning seeds) is below this",
    )
    allow_noop_winner: bool = option(
        False,
        "let a no-op trial win (default: no-ops are recorded but never chosen while another "
        "trial moved the model)",
    )

    def validate(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"tune trials must be >= 1, got {self.trials}")
        if self.workers < 1:
            raise ConfigError(f"tune workers must be >= 1, got {self.workers}")
        if self.startup_trials < 1:
            raise ConfigError(f"tune startup_trials must be >= 1, got {self.startup_trials}")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"tune methods has duplicates: {list(self.methods)}")
        if not self.seeds:
            raise ConfigError("tune seeds is empty: give at least one tuning seed, e.g. 1000")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"tune seeds has duplicates: {list(self.seeds)}")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError(f"tune eval_fraction must be in (0, 1), got {self.eval_fraction}")
        if not self.noop_tolerance >= 0:
            raise ConfigError(f"tune noop_tolerance must be >= 0, got {self.noop_tolerance}")


def split_tune_section(sections: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``[tune]`` as (options of :class:`TuneConfig`, ``{method: space override table}``)."""
    tune = sections.get("tune", {})
    if not isinstance(tune, Mapping):
        raise ConfigError(f"[tune] must be a table, got {tune!r}")
    options = {k: v for k, v in tune.items() if k != "space"}
    spaces = tune.get("space", {})
    if not isinstance(spaces, Mapping):
        raise ConfigError(f"[tune.space] must hold [tune.space.<method>] tables, got {spaces!r}")
    for name, table in spaces.items():
        get_method_class(name)  # unknown method: clear error
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"[tune.space.{name}] must be a table of parameter = {{distribution}}, "
                f"got {table!r}"
            )
    return options, {k: dict(v) for k, v in spaces.items()}


def method_space(name: str, override: Mapping[str, Any] | None) -> dict[str, Distribution]:
    """Method ``name``'s search space with its ``[tune.space.<name>]`` override applied."""
    cls = get_method_class(name)
    space = resolve_space(name, cls.search_space, cls.config_cls.field_names(), override)
    if not space:
        raise ConfigError(
            f"method '{name}' has no hyperparameters to tune (empty search_space); leave it "
            f"out of the tuned methods or give it a [tune.space.{name}] table"
        )
    hints = typing.get_type_hints(cls.config_cls)
    for key, dist in space.items():
        _check_dimension(name, cls.config_cls, key, dist, hints[key])
    return space


def _check_dimension(name: str, config_cls: Any, key: str, dist: Any, hint: Any) -> None:
    """Every value the dimension can take must be valid for the config field."""
    where = f"search space of {name}, {key} ({dist.describe()})"
    if isinstance(dist, (LogUniform, Uniform)) and hint in (int, int | None):
        raise ConfigError(
            f"{where}: {key} is an integer; use {{int_uniform = [low, high]}} or {{choice = [...]}}"
        )
    values = dist.values if isinstance(dist, Choice) else (dist.low, dist.high)
    for v in values:
        try:
            config_cls.from_dict({key: v})
        except ConfigError as exc:
            raise ConfigError(f"{where}: the value {v!r} is not valid: {exc}") from None
