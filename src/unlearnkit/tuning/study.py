"""Optuna plumbing: samplers, the SQLite study file, search spaces as Optuna distributions.

One study per (method, setting) lives in ``OUT/study.db`` (Optuna's RDB storage on SQLite;
``optuna-dashboard sqlite:///OUT/study.db`` opens it). Each study carries the fingerprint of
the experiment it belongs to; opening it from a different config is refused.

Reproducibility: the sampler is re-created before every ``ask`` with a seed derived from
(``sampler_seed``, study, trial number), so a trial's parameters depend only on the sampler
seed, the study's history at the time of the ask and the number of trials asked per round
(``workers``) — not on whether the tuning was interrupted and resumed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unlearnkit.benchmark.grid import stable_hash
from unlearnkit.errors import ConfigError
from unlearnkit.methods.space import Choice, Distribution, IntUniform, LogUniform, Uniform

__all__ = [
    "STORAGE_FILE",
    "check_storage",
    "counted_trials",
    "make_sampler",
    "open_storage",
    "open_study",
    "optuna_space",
    "trial_seed",
]

STORAGE_FILE = "study.db"
FINGERPRINT_ATTR = "unlearnkit_experiment"
SPACE_ATTR = "unlearnkit_space"


def _quiet_optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def trial_seed(sampler_seed: int, study: str, number: int) -> int:
    """The sampler seed used to draw trial ``number`` of ``study`` (a stable hash)."""
    h = stable_hash({"sampler_seed": sampler_seed, "study": study, "trial": number})
    return int(h, 16) % (2**31)


def make_sampler(name: str, seed: int, *, startup: int, parallel: bool) -> Any:
    """A seeded Optuna sampler: ``tpe`` (constant liar when trials run in parallel), ``gp``
    or ``random``."""
    optuna = _quiet_optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=startup, constant_liar=parallel
            )
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"unknown sampler '{name}'; choose one of tpe, gp, random")


def open_storage(out: Path, *, create: bool) -> Any:
    """Optuna's RDB storage on ``OUT/study.db`` (None when it does not exist and not
    ``create``); a file that is not an Optuna study file is refused."""
    path = out / STORAGE_FILE
    if not path.exists() and not create:
        return None
    optuna = _quiet_optuna()
    try:
        return optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
    except Exception as exc:  # sqlalchemy / alembic errors on a foreign file
        raise ConfigError(
            f"{path} is not an Optuna study file ({type(exc).__name__}); use a new --out folder"
        ) from None


def check_storage(storage: Any, fingerprint: str, spaces: Mapping[str, str], out: Path) -> None:
    """Refuse a study file whose studies belong to another experiment (benchmark file,
    seeds, sampler, objective) or, for the studies run now, another search space."""
    optuna = _quiet_optuna()
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        name = summary.study_name
        if attrs.get(FINGERPRINT_ATTR) != fingerprint:
            raise ConfigError(
                f"{out / STORAGE_FILE} holds study '{name}' of a different experiment "
                "(benchmark file, tuning seeds, sampler or objective changed); use a new --out "
                "folder or restore the config it was started with"
            )
        if name in spaces and attrs.get(SPACE_ATTR) != spaces[name]:
            raise ConfigError(
                f"{out / STORAGE_FILE}: the search space of study '{name}' changed since it was "
                "started; use a new --out folder or restore the [tune.space] table"
            )


def open_study(storage: Any, name: str, fingerprint: str, space: str, directions: list[str]) -> Any:
    """Load study ``name`` or create it (tagged with the experiment's and the space's
    fingerprints, checked by :func:`check_storage` on later runs)."""
    optuna = _quiet_optuna()
    study = optuna.create_study(
        storage=storage, study_name=name, directions=directions, load_if_exists=True
    )
    if FINGERPRINT_ATTR not in study.user_attrs:
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
        study.set_user_attr(SPACE_ATTR, space)
    return study


def _widen(dist: Distribution, value: Any) -> Distribution:
    """``dist`` extended so that it contains ``value`` (trial 0's value)."""
    if dist.contains(value):
        return dist
    if isinstance(dist, Choice):
        return Choice((*dist.values, value))
    if isinstance(dist, IntUniform) and isinstance(value, int):
        return IntUniform(min(dist.low, value), max(dist.high, value))
    if isinstance(dist, (LogUniform, Uniform)) and isinstance(value, (int, float)):
        if isinstance(dist, LogUniform) and value <= 0:
            raise ConfigError(
                f"the config value {value} lies outside the log range {dist.describe()} and "
                "cannot be added to it (log ranges need values > 0); change the value or use "
                "{uniform = [...]}"
            )
        if math.isfinite(value):
            return type(dist)(min(dist.low, float(value)), max(dist.high, float(value)))
    raise ConfigError(
        f"the config value {value!r} does not fit the distribution {dist.describe()}; give a "
        "[tune.space] entry of the value's type"
    )


def optuna_space(
    space: Mapping[str, Distribution], base: Mapping[str, Any]
) -> tuple[dict[str, Distribution], dict[str, Any]]:
    """The space widened to contain trial 0 (``base``: the full config's values of the space's
    keys), and Optuna's distributions for it."""
    wide = {k: _widen(d, base[k]) for k, d in space.items()}
    for k, d in wide.items():
        if d != space[k]:
            warnings.warn(
                f"trial 0's {k} = {base[k]!r} (the benchmark file's config) lies outside the "
                f"search space {space[k].describe()}; the space is widened to {d.describe()} "
                f"so that trial 0 is one of its points (set {k} inside the range to avoid it)",
                stacklevel=2,
            )
    return wide, {k: d.to_optuna() for k, d in wide.items()}


def counted_trials(study: Any) -> list[Any]:
    """Trials that count against the budget: finished (complete or failed) and not
    interrupted before their parameters were drawn; in the order they were asked."""
    from optuna.trial import TrialState

    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state in (TrialState.COMPLETE, TrialState.FAIL) and not t.user_attrs.get("interrupted")
    ]
