"""A benchmark's grid: which splits, seeds and methods it runs, resolved from a TOML file.

A benchmark file has the sections of ``unlearnkit run --config`` (``[model]``, ``[train]``,
``[eval]``, ``[methods.<name>]``, with the same meaning) plus:

* ``[benchmark]`` — :class:`BenchmarkConfig` (name, seeds, methods, device, caches, what the
  report needs stored);
* ``[[grid.split]]`` — one table per dataset/scenario, each a
  :class:`~unlearnkit.data.splits.SplitConfig` without ``seed``; a table may carry its own
  ``model = {...}`` and ``train = {...}`` overrides (e.g. a ResNet for CIFAR next to a CNN);
* ``[attacks]`` (optional) — :class:`AttacksConfig`: per-example attacks (NeurIPS 2023 score,
  U-LiRA) run on every group after its method runs; off by default;
* ``[tune]`` (optional) — read by ``unlearnkit tune`` only (docs/tuning.md).

A ``[[grid.split]]`` table may also carry ``methods = {<name> = {...}}`` (or
``[grid.split.methods.<name>]`` sub-tables): method options for that split only, overlaid on
``[methods.<name>]`` (``unlearnkit tune`` writes its per-setting winners this way).

Seeds: for each seed ``s`` of ``[benchmark] seeds`` the split seed, the training-recipe seed
(original and retrain) and every method's seed are set to ``s``, so a file must not set any of
them itself. The model and recipe of a split are the dataset's defaults, overridden by the
shared ``[model]`` / ``[train]`` sections, overridden by the split's own tables.

One *group* = (split, seed): the original and retrain are obtained once per group and shared by
every method of the group. One *run* = (group, method), identified by :attr:`Run.run_id`, a hash
of everything that determines its result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from unlearnkit.attacks.config import ATTACK_NAMES, AttacksConfig
from unlearnkit.config import Config, option
from unlearnkit.data import get_dataset_spec
from unlearnkit.data.splits import SplitConfig
from unlearnkit.engine.spec import (
    DEFAULT_METHODS,
    REFERENCE_METHODS,
    GroupSpec,
    SideOutputs,
    UnlearnTask,
    recipe_defaults,
)
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig
from unlearnkit.methods import MethodConfig, get_method_class
from unlearnkit.models import ModelConfig
from unlearnkit.records import stable_hash
from unlearnkit.training import TrainConfig

__all__ = [
    "ATTACK_NAMES",
    "BENCHMARK_SECTIONS",
    "RUNTIME_KEYS",
    "AttacksConfig",
    "BenchmarkConfig",
    "BenchmarkPlan",
    "GridEntry",
    "Group",
    "Run",
    "load_plan",
    "stable_hash",
]

#: sections a benchmark file may have
BENCHMARK_SECTIONS = ("benchmark", "grid", "model", "train", "eval", "methods", "attacks", "tune")

#: ``[benchmark]`` options that say *where/how* to run, not *what*: they may change on resume
RUNTIME_KEYS = ("device", "data_dir", "cache_dir", "no_cache")


@dataclass(frozen=True)
class BenchmarkConfig(Config):
    """The ``[benchmark]`` section: what the grid runs besides its splits."""

    section = "benchmark"

    name: str = option("benchmark", "name of the benchmark (report title)")
    seeds: tuple[int, ...] = option(
        (0, 1, 2),
        "seeds; each sets the split seed, the training-recipe seed (original and retrain) and "
        "every method's seed of one group of runs",
    )
    methods: tuple[str, ...] = option(
        DEFAULT_METHODS,
        "unlearning methods of every group (original and retrain are always included); see "
        "`unlearnkit list methods`",
    )
    device: str = option("auto", "device: auto (CUDA if available), cpu, cuda, cuda:N")
    data_dir: str | None = option(None, "folder with dataset files")
    cache_dir: str | None = option(
        None, "where trained original/retrain models are cached (default: ~/.cache/unlearnkit)"
    )
    no_cache: bool = option(False, "always train the original and retrain models afresh")
    embedding_models: tuple[str, ...] = option(
        ("original", "retrain", "sure"),
        "models whose embeddings (a small subsample) are stored for the report's PCA figure",
    )
    embedding_sample: int = option(
        300, "examples per part (forget, val, test) in each stored embedding subsample"
    )
    save_scores: bool = option(
        True, "store per-example loss-attack scores (OUT/scores/<run_id>.npz) for ROC curves"
    )

    def validate(self) -> None:
        if not self.seeds:
            raise ConfigError("[benchmark] seeds is empty: give at least one seed, e.g. [0]")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"[benchmark] seeds has duplicates: {list(self.seeds)}")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"[benchmark] methods has duplicates: {list(self.methods)}")
        if self.embedding_sample < 0:
            raise ConfigError(f"embedding_sample must be >= 0, got {self.embedding_sample}")


@dataclass(frozen=True)
class GridEntry:
    """One ``[[grid.split]]`` table, resolved (its split's seed is a placeholder)."""

    split: SplitConfig
    model: ModelConfig
    train: TrainConfig
    #: per-split method options, overlaid on ``[methods.<name>]``
    methods: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        split = self.split.to_dict()
        split.pop("seed")
        train = self.train.to_dict()
        train.pop("seed")
        out = {"split": split, "model": self.model.to_dict(), "train": train}
        if self.methods:  # only when set: grids without them keep their hashes
            out["methods"] = {k: dict(v) for k, v in self.methods.items()}
        return out

    def method_table(self, name: str, shared: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The options of method ``name`` on this split: ``shared[name]`` overlaid with the
        split's own table."""
        return {**shared.get(name, {}), **self.methods.get(name, {})}


@dataclass(frozen=True)
class Run:
    """One method on one group: an engine task; ``run_id`` (its key) names its row in
    ``results.jsonl``."""

    task: UnlearnTask

    @property
    def run_id(self) -> str:
        return self.task.key

    @property
    def method(self) -> str:
        return self.task.method

    @property
    def config(self) -> MethodConfig:
        return self.task.config


@dataclass(frozen=True)
class Group:
    """A (split, seed) pair with its runs: original, retrain, then the methods."""

    spec: GroupSpec
    entry: int
    seed: int
    runs: tuple[Run, ...]

    @property
    def group_id(self) -> str:
        return self.spec.key

    @property
    def split(self) -> SplitConfig:
        return self.spec.split

    @property
    def model(self) -> ModelConfig:
        return self.spec.model

    @property
    def train(self) -> TrainConfig:
        return self.spec.train


@dataclass(frozen=True)
class BenchmarkPlan:
    """A resolved benchmark file: every group and run it implies."""

    config: BenchmarkConfig
    entries: tuple[GridEntry, ...]
    eval: EvalConfig
    method_configs: Mapping[str, Mapping[str, Any]]
    attacks: AttacksConfig = field(default_factory=AttacksConfig)

    def __post_init__(self) -> None:
        _check_attacked_methods(self.attacks, self.config)

    @property
    def methods(self) -> tuple[str, ...]:
        """original, retrain, then the configured methods (in their order)."""
        return (*REFERENCE_METHODS, *(m for m in self.config.methods if m not in REFERENCE_METHODS))

    @property
    def attacked_methods(self) -> tuple[str, ...]:
        """The methods the per-example attacks run on (none when no attack is enabled):
        ``[attacks] methods``, or by default every method except original."""
        if not self.attacks.enabled:
            return ()
        if self.attacks.methods:
            return self.attacks.methods
        return tuple(m for m in self.methods if m != "original")

    def n_attacks(self) -> int:
        """Attack rows the plan implies: groups × enabled attacks × attacked methods."""
        per_group = len(self.attacks.enabled) * len(self.attacked_methods)
        return len(self.entries) * len(self.config.seeds) * per_group

    def group_spec(self, entry: GridEntry, seed: int) -> GroupSpec:
        """The engine group of one grid entry at one seed (split and recipe seeded)."""
        return GroupSpec(
            entry.split.replace(seed=seed),
            entry.model,
            entry.train.replace(seed=seed),
            data_dir=self.config.data_dir,
        )

    def task(
        self,
        spec: GroupSpec,
        name: str,
        seed: int,
        *,
        entry: GridEntry | None = None,
        params: Mapping[str, Any] | None = None,
        eval_cfg: EvalConfig | None = None,
        target: str = "test",
    ) -> UnlearnTask:
        """The engine task of method ``name`` on ``spec``: its config from the file (the grid
        ``entry``'s own table over the shared one; ``params`` over both, e.g. a tuning trial)
        seeded with ``seed``, evaluated with ``eval_cfg`` (default: the file's) on ``target``
        (``"val"`` for tuning)."""
        cls = get_method_class(name).config_cls
        shared = self.method_configs.get(name, {})
        base = entry.method_table(name, self.method_configs) if entry is not None else shared
        table = {**base, **dict(params or {}), "seed": seed}
        bench = self.config
        side = SideOutputs()  # the report's arrays are test-set arrays
        if target == "test":
            sample = bench.embedding_sample if name in bench.embedding_models else 0
            side = SideOutputs(scores=bench.save_scores, embedding_sample=sample)
        cfg = cls.from_dict(table)
        return UnlearnTask(spec, name, cfg, eval_cfg or self.eval, target=target, side=side)

    def groups(self) -> Iterator[Group]:
        for i, entry in enumerate(self.entries):
            for seed in self.config.seeds:
                spec = self.group_spec(entry, seed)
                runs = tuple(Run(self.task(spec, name, seed, entry=entry)) for name in self.methods)
                yield Group(spec, i, seed, runs)

    def n_runs(self) -> int:
        return len(self.entries) * len(self.config.seeds) * len(self.methods)

    def experiment_dict(self) -> dict[str, Any]:
        """Everything that determines the results (compared on resume)."""
        bench = self.config.to_dict()
        for k in RUNTIME_KEYS:
            bench.pop(k)
        # [attacks] only when an attack is on (so it differs from the default): folders
        # started without attacks, or before the section existed, keep resuming
        extra = {"attacks": self.attacks.to_dict()} if self.attacks.enabled else {}
        return {
            "benchmark": bench,
            "grid": [e.to_dict() for e in self.entries],
            "eval": self.eval.to_dict(),
            "methods": {
                name: {
                    k: v
                    for k, v in get_method_class(name)
                    .config_cls.from_dict(dict(self.method_configs.get(name, {})))
                    .to_dict()
                    .items()
                    if k != "seed"
                }
                for name in self.methods
            },
            **extra,
        }

    def runtime_dict(self) -> dict[str, Any]:
        return {k: getattr(self.config, k) for k in RUNTIME_KEYS}


def _no_seed(table: Mapping[str, Any], where: str) -> None:
    if "seed" in table:
        raise ConfigError(
            f"{where} sets 'seed', but a benchmark sets every seed from [benchmark] seeds "
            "(split, training recipe and methods alike); remove it"
        )


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table, got {value!r}")
    return dict(value)


def load_plan(
    sections: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> BenchmarkPlan:
    """Resolve a benchmark file (its parsed TOML sections) into a :class:`BenchmarkPlan`.

    ``overrides`` replace ``[benchmark]`` options (the command line's ``--device`` etc.).
    Every name, key and value is checked here, before anything is trained.
    """
    unknown = sorted(set(sections) - set(BENCHMARK_SECTIONS))
    if unknown:
        hint = ""
        if "split" in unknown:
            hint = "; a benchmark lists its splits as [[grid.split]] tables"
        elif "run" in unknown:
            hint = "; a benchmark takes device, data_dir and cache_dir in [benchmark]"
        raise ConfigError(
            f"unknown section(s) {unknown} in the benchmark file; known sections: "
            f"{', '.join(BENCHMARK_SECTIONS)}{hint}"
        )
    bench_data = _table(sections, "benchmark", "[benchmark]")
    bench_data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    bench = BenchmarkConfig.from_dict(bench_data)
    for name in bench.methods:
        get_method_class(name)

    grid = _table(sections, "grid", "[grid]")
    extra = sorted(set(grid) - {"split"})
    if extra:
        raise ConfigError(f"unknown key(s) {extra} in [grid]; known: split ([[grid.split]])")
    splits = grid.get("split", [])
    if isinstance(splits, Mapping):
        splits = [splits]
    if not splits:
        raise ConfigError(
            "the benchmark file has no [[grid.split]] table: add at least one, e.g.\n"
            '[[grid.split]]\ndataset = "digits"\nscenario = "partial-class"\n'
            "forget_size = 0.5\nforget_classes = [3]"
        )
    shared_model = _table(sections, "model", "[model]")
    shared_train = _table(sections, "train", "[train]")
    _no_seed(shared_train, "[train]")
    entries = []
    for i, raw in enumerate(splits, 1):
        where = f"[[grid.split]] #{i}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where} must be a table, got {raw!r}")
        table = dict(raw)
        own_model = _table(table, "model", f"{where} model")
        own_train = _table(table, "train", f"{where} train")
        own_methods = _method_tables(_table(table, "methods", f"{where} methods"), where)
        table.pop("model", None)
        table.pop("train", None)
        table.pop("methods", None)
        _no_seed(table, where)
        _no_seed(own_train, f"{where} train")
        if "dataset" not in table:
            raise ConfigError(f"{where} needs a dataset (see `unlearnkit list datasets`)")
        get_dataset_spec(str(table["dataset"]))  # unknown dataset: clear error now
        split = SplitConfig.from_dict(table)
        defaults = recipe_defaults(split.dataset)
        model = ModelConfig.from_dict({**defaults.get("model", {}), **shared_model, **own_model})
        train = TrainConfig.from_dict({**defaults.get("train", {}), **shared_train, **own_train})
        entries.append(GridEntry(split, model, train, own_methods))

    eval_cfg = EvalConfig.from_dict(_table(sections, "eval", "[eval]"))
    method_configs = _method_tables(_table(sections, "methods", "[methods]"), "")
    for entry in entries:
        for name in entry.methods:  # the merged table must be valid too
            get_method_class(name).config_cls.from_dict(entry.method_table(name, method_configs))
    attacks = AttacksConfig.from_dict(_table(sections, "attacks", "[attacks]"))
    return BenchmarkPlan(bench, tuple(entries), eval_cfg, method_configs, attacks)


def _method_tables(section: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Check ``[methods.<name>]`` tables (or a split's ``methods``): known method names, strict
    keys and values, no seed."""
    out: dict[str, dict[str, Any]] = {}
    for name, table in section.items():
        label = f"{where} methods.{name}" if where else f"[methods.{name}]"
        cls = get_method_class(name).config_cls
        if not isinstance(table, Mapping):
            raise ConfigError(f"{label} must be a table, got {table!r}")
        _no_seed(table, label)
        cls.from_dict(dict(table))  # strict keys and values, checked now
        out[name] = dict(table)
    return out


def _check_attacked_methods(attacks: AttacksConfig, bench: BenchmarkConfig) -> None:
    allowed = list(dict.fromkeys((*REFERENCE_METHODS, *bench.methods)))
    unknown = [m for m in attacks.methods if m not in allowed]
    if unknown:
        raise ConfigError(
            f"[attacks] methods {unknown} are not methods of this benchmark; choose among "
            f"{', '.join(allowed)} (the attacks reuse the benchmark's method configs), or add "
            "them to [benchmark] methods"
        )
