"""Datasets (registry, loaders), splits and scenarios, in-memory batching."""

from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.registry import (
    DatasetSpec,
    dataset_names,
    get_dataset_spec,
    load_dataset,
    register_dataset,
    search_dirs,
)

# the built-in loaders register themselves with the registry (they import it; it does not
# import them, so there is no cycle)
from unlearnkit.data import loaders  # noqa: F401  isort: skip

__all__ = [
    "ArrayDataset",
    "DatasetSpec",
    "dataset_names",
    "get_dataset_spec",
    "load_dataset",
    "register_dataset",
    "search_dirs",
]
