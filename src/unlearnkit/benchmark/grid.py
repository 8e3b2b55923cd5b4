"""A benchmark's grid: which splits, seeds and methods it runs, resolved from a TOML file.

A benchmark file has the sections of ``unlearnkit run --config`` (``[model]``, ``[train]``,
``[eval]``, ``[methods.<name>]``, with the same meaning) plus:

* ``[benchmark]`` — :class:`BenchmarkConfig` (name, seeds, methods, device, caches, what the
  report needs stored);
* ``[[grid.split]]`` — one table per dataset/scenario, each a
  :class:`~unlearnkit.data.splits.SplitConfig` without ``seed``; a table may carry its own
  ``model = {...}`` and ``train = {...}`` overrides (e.g. a ResNet for CIFAR next to a CNN).

Seeds: for each seed ``s`` of ``[benchmark] seeds`` the split seed, the training-recipe seed
(original and retrain) and every method's seed are set to ``s``, so a file must not set any of
them itself. The model and recipe of a split are the dataset's defaults, overridden by the
shared ``[model]`` / ``[train]`` sections, overridden by the split's own tables.

One *group* = (split, seed): the original and retrain are obtained once per group and shared by
every method of the group. One *run* = (group, method), identified by :attr:`Run.run_id`, a hash
of everything that determines its result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from unlearnkit.config import Config, option
from unlearnkit.data import get_dataset_spec
from unlearnkit.data.splits import SplitConfig
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig
from unlearnkit.methods import MethodConfig, get_method_class
from unlearnkit.models import ModelConfig
from unlearnkit.pipeline import DEFAULT_METHODS, REFERENCE_METHODS, recipe_defaults
from unlearnkit.training import TrainConfig

__all__ = [
    "BENCHMARK_SECTIONS",
    "RUNTIME_KEYS",
    "BenchmarkConfig",
    "BenchmarkPlan",
    "GridEntry",
    "Group",
    "Run",
    "load_plan",
    "stable_hash",
]

#: sections a benchmark file may have
BENCHMARK_SECTIONS = ("benchmark", "grid", "model", "train", "eval", "methods")

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


def stable_hash(payload: Any, length: int = 16) -> str:
    """SHA-256 (hex, truncated) of a JSON-serialisable payload with sorted keys."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class GridEntry:
    """One ``[[grid.split]]`` table, resolved (its split's seed is a placeholder)."""

    split: SplitConfig
    model: ModelConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        split = self.split.to_dict()
        split.pop("seed")
        train = self.train.to_dict()
        train.pop("seed")
        return {"split": split, "model": self.model.to_dict(), "train": train}


@dataclass(frozen=True)
class Run:
    """One method on one group; ``run_id`` names its row in ``results.jsonl``."""

    run_id: str
    method: str
    config: MethodConfig


@dataclass(frozen=True)
class Group:
    """A (split, seed) pair with its runs: original, retrain, then the methods."""

    group_id: str
    entry: int
    seed: int
    split: SplitConfig
    model: ModelConfig
    train: TrainConfig
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class BenchmarkPlan:
    """A resolved benchmark file: every group and run it implies."""

    config: BenchmarkConfig
    entries: tuple[GridEntry, ...]
    eval: EvalConfig
    method_configs: Mapping[str, Mapping[str, Any]]

    @property
    def methods(self) -> tuple[str, ...]:
        """original, retrain, then the configured methods (in their order)."""
        return (*REFERENCE_METHODS, *(m for m in self.config.methods if m not in REFERENCE_METHODS))

    def groups(self) -> Iterator[Group]:
        for i, entry in enumerate(self.entries):
            for seed in self.config.seeds:
                split = entry.split.replace(seed=seed)
                train = entry.train.replace(seed=seed)
                group_payload = {
                    "split": split.to_dict(),
                    "model": entry.model.to_dict(),
                    "train": train.to_dict(),
                }
                group_id = stable_hash(group_payload, 12)
                runs = []
                for name in self.methods:
                    cls = get_method_class(name).config_cls
                    cfg = cls.from_dict({**self.method_configs.get(name, {}), "seed": seed})
                    run_id = stable_hash(
                        {
                            **group_payload,
                            "dataset": split.dataset,
                            "seed": seed,
                            "method": name,
                            "method_config": cfg.to_dict(),
                            "eval": self.eval.to_dict(),
                        }
                    )
                    runs.append(Run(run_id, name, cfg))
                yield Group(group_id, i, seed, split, entry.model, train, tuple(runs))

    def n_runs(self) -> int:
        return len(self.entries) * len(self.config.seeds) * len(self.methods)

    def experiment_dict(self) -> dict[str, Any]:
        """Everything that determines the results (compared on resume)."""
        bench = self.config.to_dict()
        for k in RUNTIME_KEYS:
            bench.pop(k)
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
        table.pop("model", None)
        table.pop("train", None)
        _no_seed(table, where)
        _no_seed(own_train, f"{where} train")
        if "dataset" not in table:
            raise ConfigError(f"{where} needs a dataset (see `unlearnkit list datasets`)")
        get_dataset_spec(str(table["dataset"]))  # unknown dataset: clear error now
        split = SplitConfig.from_dict(table)
        defaults = recipe_defaults(split.dataset)
        model = ModelConfig.from_dict({**defaults.get("model", {}), **shared_model, **own_model})
        train = TrainConfig.from_dict({**defaults.get("train", {}), **shared_train, **own_train})
        entries.append(GridEntry(split, model, train))

    eval_cfg = EvalConfig.from_dict(_table(sections, "eval", "[eval]"))
    methods_section = _table(sections, "methods", "[methods]")
    method_configs: dict[str, dict[str, Any]] = {}
    for name, table in methods_section.items():
        cls = get_method_class(name).config_cls
        if not isinstance(table, Mapping):
            raise ConfigError(f"[methods.{name}] must be a table, got {table!r}")
        _no_seed(table, f"[methods.{name}]")
        cls.from_dict(dict(table))  # strict keys and values, checked now
        method_configs[name] = dict(table)
    return BenchmarkPlan(bench, tuple(entries), eval_cfg, method_configs)
