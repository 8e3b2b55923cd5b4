"""The per-example attacks' options: the benchmark's ``[attacks]`` section and the
``unlearnkit attack`` command (its flags are generated from :class:`AttackConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearnkit.config import Config, option
from unlearnkit.errors import ConfigError

__all__ = ["ATTACK_NAMES", "MIN_K", "MIN_N", "AttackConfig", "AttacksConfig"]

#: N = 2 gives the NeurIPS score no bucket (ln(N − 1) = 0).
MIN_N = 3
#: leave-one-out U-LiRA needs ≥ 2 models per side after leaving the target out.
MIN_K = 6
#: the per-example attacks a benchmark can run, in the order it runs them
ATTACK_NAMES = ("neurips", "ulira")
DEFAULT_POOL = 16


def _check_common(retain_fraction: float, n_perm: int, names: tuple[str, str]) -> None:
    if not 0 < retain_fraction <= 1:
        raise ConfigError(f"{names[0]} must be in (0, 1], got {retain_fraction}")
    if n_perm < 0:
        raise ConfigError(f"{names[1]} must be >= 0 (0 skips the null distribution), got {n_perm}")


@dataclass(frozen=True)
class AttacksConfig(Config):
    """The optional ``[attacks]`` section: per-example attacks on every group of the grid.

    Each enabled attack runs once per group (split, seed) and attacked method, after the
    group's method runs, reusing the group's original; the model pools are cached in the
    benchmark's cache folder and shared by all methods (docs/per-example-attacks.md gives the
    designs, docs/benchmark.md the cost). Both attacks are off by default.
    """

    section = "attacks"

    neurips_n: int = option(
        0,
        f"N of the NeurIPS 2023 forgetting score (0 = off; >= {MIN_N}, tens for stable "
        "numbers). Costs per group: N retrains shared by all methods (cached pool), then N "
        "runs of each attacked method from the group's original; retrain as a method costs N "
        "more retrains (its retrain-vs-retrain reference)",
    )
    ulira_k: int = option(
        0,
        f"K shadow models of U-LiRA (0 = off; >= {MIN_K}, tens for stable numbers). Costs per "
        "group: K shadow trainings on retain_fraction of retain (half of them plus the forget "
        "set) and 1 reference retrain, shared by all methods (cached pool); then ceil(K/2) + 1 "
        "runs of each attacked method; retrain as a method costs ceil(K/2) + 1 trainings",
    )
    methods: tuple[str, ...] = option(
        (),
        "methods to attack (default: every method of [benchmark] methods plus retrain, "
        "not original); each must be one of the benchmark's methods or 'retrain'",
    )
    retain_fraction: float = option(
        0.5,
        "U-LiRA: share of retain each shadow model trains on (0.5: Hayes et al.; 1: the real "
        "original's regime, about twice the pool cost, recommended for partial-class forget "
        "sets)",
    )
    n_perm: int = option(
        200,
        "U-LiRA: model relabellings for the AUC's null distribution and p-value (0 = skip; "
        "cheap next to the trainings)",
    )

    def validate(self) -> None:
        if self.neurips_n != 0 and self.neurips_n < MIN_N:
            raise ConfigError(
                f"[attacks] neurips_n must be 0 (off) or >= {MIN_N} models per side (N = 2 "
                f"leaves the NeurIPS score no bucket; use tens), got {self.neurips_n}"
            )
        if self.ulira_k != 0 and self.ulira_k < MIN_K:
            raise ConfigError(
                f"[attacks] ulira_k must be 0 (off) or >= {MIN_K} shadow models (leave-one-out "
                f"keeps >= 2 per side; use tens), got {self.ulira_k}"
            )
        _check_common(
            self.retain_fraction, self.n_perm, ("[attacks] retain_fraction", "[attacks] n_perm")
        )
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"[attacks] methods has duplicates: {list(self.methods)}")

    @property
    def enabled(self) -> tuple[tuple[str, int], ...]:
        """The attacks to run with their size: ``(("neurips", N), ("ulira", K))``, those > 0."""
        sizes = {"neurips": self.neurips_n, "ulira": self.ulira_k}
        return tuple((a, sizes[a]) for a in ATTACK_NAMES if sizes[a] > 0)

    def options(self, attack: str) -> dict[str, Any]:
        """The options besides the size that determine ``attack``'s result."""
        if attack == "ulira":
            return {"retain_fraction": self.retain_fraction, "n_perm": self.n_perm}
        return {}


@dataclass(frozen=True)
class AttackConfig(Config):
    """``unlearnkit attack ulira|neurips``: which methods, how many models, the options."""

    section = "attack"

    methods: tuple[str, ...] = option(
        (), "unlearning method(s) to attack (`unlearnkit list methods`)"
    )
    k: int = option(DEFAULT_POOL, f"ulira: shadow models K (≥ {MIN_K})")
    n: int = option(DEFAULT_POOL, f"neurips: models per side N (≥ {MIN_N})")
    retain_fraction: float = option(
        0.5,
        "ulira: share of retain each shadow model trains on (0.5, Hayes et al.; 1 = the real "
        "original's regime, recommended for partial-class forget sets)",
    )
    n_perm: int = option(
        200, "ulira: model relabellings for the AUC's null distribution and p-value (0 = skip)"
    )
    max_retain: int = option(
        10_000, "cap on the retain rows used for accuracies and class prototypes"
    )
    device: str = option("auto", "device: auto, cpu, cuda, cuda:N")
    data_dir: str | None = option(None, "folder with dataset files")
    cache_dir: str | None = option(
        None, "where model pools and the original are cached (default: ~/.cache/unlearnkit)"
    )

    def validate(self) -> None:
        _check_common(self.retain_fraction, self.n_perm, ("--retain-fraction", "--n-perm"))

    def size(self, attack: str) -> int:
        """K (ulira) or N (neurips), checked against its minimum."""
        size, minimum = (self.k, MIN_K) if attack == "ulira" else (self.n, MIN_N)
        if size < minimum:
            flag = "--k" if attack == "ulira" else "--n"
            raise ConfigError(
                f"{attack} needs {flag} ≥ {minimum} models, got {size}; use tens (16 or more) "
                "for stable numbers"
            )
        return size
