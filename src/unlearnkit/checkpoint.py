"""Checkpoints: weights in safetensors plus a JSON sidecar with everything needed to rebuild
and to check the model (model config, input shape, classes, dataset, split hash, training
config, final metrics, library version). No pickle anywhere.

``model.safetensors`` + ``model.json`` (same stem). Loading checks that the model, dataset and
split match what the caller expects and refuses a mismatch with a clear message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

import unlearnkit
from unlearnkit.errors import UnlearnkitError
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.records import atomic_write, atomic_write_text


class CheckpointError(UnlearnkitError):
    """A missing, corrupt or mismatching checkpoint."""


@dataclass
class CheckpointMeta:
    """The JSON sidecar of a checkpoint."""

    model: dict[str, Any]
    input_shape: list[int]
    num_classes: int
    dataset: str
    split_sha256: str
    role: str = "original"
    train_config: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    version: str = unlearnkit.__version__

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(path: str | Path, model: FeatureClassifier, meta: CheckpointMeta) -> Path:
    """Save weights (safetensors) and metadata (JSON), each written atomically."""
    weights, sidecar = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": "unlearnkit", "version": unlearnkit.__version__}
    atomic_write(weights, save(state, metadata=metadata))
    atomic_write_text(sidecar, json.dumps(meta.to_dict(), indent=2, sort_keys=True))
    return weights


def read_meta(path: str | Path) -> CheckpointMeta:
    weights, sidecar = _paths(path)
    if not sidecar.is_file() or not weights.is_file():
        raise CheckpointError(
            f"checkpoint {weights} (with its sidecar {sidecar.name}) not found; train one with "
            "`unlearnkit train --out ...`"
        )
    try:
        data = json.loads(sidecar.read_text())
        return CheckpointMeta(**data)
    except (json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint sidecar {sidecar} is corrupt or not ours: {exc}"
        ) from None


def load_checkpoint(
    path: str | Path,
    *,
    expect_dataset: str | None = None,
    expect_split_sha256: str | None = None,
    expect_model: ModelConfig | None = None,
    device: torch.device | str = "cpu",
) -> tuple[FeatureClassifier, CheckpointMeta]:
    """Rebuild the model from the sidecar, load the weights, and check expectations."""
    meta = read_meta(path)
    weights, _ = _paths(path)
    if expect_dataset is not None and meta.dataset != expect_dataset:
        raise CheckpointError(
            f"checkpoint {weights} was trained on dataset '{meta.dataset}', not "
            f"'{expect_dataset}'; use a checkpoint of this dataset"
        )
    if expect_split_sha256 is not None and meta.split_sha256 != expect_split_sha256:
        raise CheckpointError(
            f"checkpoint {weights} belongs to split {meta.split_sha256[:12]}…, but the split in "
            f"use is {expect_split_sha256[:12]}…; pass the split it was trained with"
        )
    model_cfg = ModelConfig.from_dict(meta.model)
    if expect_model is not None and expect_model != model_cfg:
        raise CheckpointError(
            f"checkpoint {weights} holds model {model_cfg.to_dict()}, expected "
            f"{expect_model.to_dict()}"
        )
    model = build_model(model_cfg, tuple(meta.input_shape), meta.num_classes)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {weights} is corrupt: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"checkpoint {weights} does not fit model {model_cfg.name}: {first}"
        ) from None
    return model.to(device), meta
