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

__all__ = [
    "ArrayDataset",
    "DatasetSpec",
    "dataset_names",
    "get_dataset_spec",
    "load_dataset",
    "register_dataset",
    "search_dirs",
]
