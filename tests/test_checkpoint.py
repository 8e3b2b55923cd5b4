from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY_MODEL
from unlearnkit.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from unlearnkit.models import ModelConfig


def meta(**kw):
    base = dict(
        model=TINY_MODEL.to_dict(),
        input_shape=[1, 8, 8],
        num_classes=10,
        dataset="digits",
        split_sha256="a" * 64,
        metrics={"test_acc": 0.9},
    )
    return CheckpointMeta(**{**base, **kw})


def test_roundtrip(tmp_path, tiny_original):
    path = save_checkpoint(tmp_path / "orig", tiny_original, meta())
    assert path.suffix == ".safetensors" and (tmp_path / "orig.json").is_file()
    model, m = load_checkpoint(
        tmp_path / "orig.safetensors",
        expect_dataset="digits",
        expect_split_sha256="a" * 64,
        expect_model=TINY_MODEL,
    )
    a, b = tiny_original.state_dict(), model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert m.metrics == {"test_acc": 0.9}
    assert m.version


def test_mismatches_refused(tmp_path, tiny_original):
    save_checkpoint(tmp_path / "m", tiny_original, meta())
    with pytest.raises(CheckpointError, match="trained on dataset 'digits', not 'cifar10'"):
        load_checkpoint(tmp_path / "m", expect_dataset="cifar10")
    with pytest.raises(CheckpointError, match="belongs to split aaaaaaaaaaaa"):
        load_checkpoint(tmp_path / "m", expect_split_sha256="b" * 64)
    with pytest.raises(CheckpointError, match="holds model"):
        load_checkpoint(tmp_path / "m", expect_model=ModelConfig(name="mlp"))


def test_missing_and_corrupt(tmp_path, tiny_original):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none")
    save_checkpoint(tmp_path / "c", tiny_original, meta())
    (tmp_path / "c.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "c")
    save_checkpoint(
        tmp_path / "d", tiny_original, meta(model={"name": "cnn", "width": 4, "embed_dim": 32})
    )
    with pytest.raises(CheckpointError, match="does not fit model cnn"):
        load_checkpoint(tmp_path / "d")
    (tmp_path / "d.json").write_text("{broken")
    with pytest.raises(CheckpointError, match=r"sidecar .* is corrupt"):
        load_checkpoint(tmp_path / "d")
