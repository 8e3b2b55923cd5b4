"""Model pools: layout, inclusion mask, growth without recomputation, resume after interruption.

Training is replaced by an injected function that only initialises a model (seeded), so these
tests check the pool's bookkeeping, not training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import TINY_MODEL
from unlearnkit.attacks.pools import ModelPool
from unlearnkit.errors import ConfigError
from unlearnkit.training import TrainConfig, new_model

RECIPE = TrainConfig(epochs=1, seed=0)


class CountingTrain:
    """A stand-in for train_fresh: builds the seeded model, records (seed, n_train)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.fail_at = fail_at

    def __call__(self, model_cfg, train_cfg, train_set, *, input_shape, num_classes, **_):
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise KeyboardInterrupt  # an interruption in the middle of building the pool
        self.calls.append((train_cfg.seed, len(train_set)))
        return new_model(model_cfg, input_shape, num_classes, train_cfg.seed), None


def _pool(tmp_path, data, kind="shadow", fn=None, **kw):
    return ModelPool(
        tmp_path, kind, data, TINY_MODEL, RECIPE, train_fn=fn, show_progress=False, **kw
    )


def test_extension_trains_only_missing_models(tmp_path, tiny_data):
    fn = CountingTrain()
    pool = _pool(tmp_path, tiny_data, fn=fn)
    assert pool.ensure(2) == 2
    assert pool.ensure(4) == 2  # K grows: models 0, 1 are reused
    assert pool.ensure(3) == 0
    assert pool.trained_count == 4 and len(pool) == 4
    assert [seed for seed, _ in fn.calls] == [0, 1, 2, 3]
    # a fresh object on the same folder sees all four and trains nothing
    again = _pool(tmp_path, tiny_data, fn=fn)
    assert again.path == pool.path and again.ensure(4) == 0 and again.trained_count == 0
    # models are the seeded ones and load back exactly
    m2 = again.load(2)
    ref = new_model(TINY_MODEL, tiny_data.input_shape, tiny_data.num_classes, 2)
    for a, b in zip(m2.state_dict().values(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_shadow_design_and_inclusion_mask(tmp_path, tiny_data):
    pool = _pool(tmp_path, tiny_data, fn=CountingTrain())
    pool.ensure(4)
    n_r, n_f = len(tiny_data.retain), len(tiny_data.forget)
    mask = np.load(pool.path / "inclusion.npy")
    assert mask.shape == (n_r + n_f, 4) and mask.dtype == bool
    np.testing.assert_array_equal(mask, pool.inclusion_mask(4))
    # the forget set is in exactly the even models, as a block
    np.testing.assert_array_equal(mask[n_r:].all(axis=0), [True, False, True, False])
    assert not mask[n_r:, 1::2].any()
    # each model has round(0.5 × |retain|) retain examples, and the subsets differ
    assert (mask[:n_r].sum(axis=0) == round(0.5 * n_r)).all()
    assert not np.array_equal(mask[:n_r, 0], mask[:n_r, 1])
    # the population is train = retain then forget, in dataset indices
    pop = np.load(pool.path / "population.npy")
    np.testing.assert_array_equal(pop, tiny_data.train.indices)
    # the rows a model trains on are a function of its seed only (stable as K grows)
    np.testing.assert_array_equal(pool.train_rows(3), _pool(tmp_path, tiny_data).train_rows(3))
    index = json.loads((pool.path / "index.json").read_text())
    assert index["kind"] == "shadow" and index["split_sha256"] == tiny_data.split.sha256
    assert [index["models"][str(i)]["includes_forget"] for i in range(4)] == [
        True,
        False,
        True,
        False,
    ]


def test_retrain_pool_trains_on_retain_with_consecutive_seeds(tmp_path, tiny_data):
    fn = CountingTrain()
    pool = _pool(tmp_path, tiny_data, kind="retrain", fn=fn, seed_base=5)
    pool.ensure(3)
    assert fn.calls == [(seed, len(tiny_data.retain)) for seed in (5, 6, 7)]
    assert not any(pool.includes_forget(i) for i in range(3))
    assert "retrain" in pool.path.name
    # a different recipe or kind is a different pool (different folder)
    other = ModelPool(tmp_path, "retrain", tiny_data, TINY_MODEL, RECIPE.replace(lr=0.01))
    assert other.path != pool.path and len(other) == 0


def test_interrupted_build_resumes(tmp_path, tiny_data):
    broken = CountingTrain(fail_at=2)
    pool = _pool(tmp_path, tiny_data, fn=broken)
    with pytest.raises(KeyboardInterrupt):
        pool.ensure(4)
    assert len(broken.calls) == 2  # models 0 and 1 were saved before the interruption
    fn = CountingTrain()
    assert _pool(tmp_path, tiny_data, fn=fn).ensure(4) == 2
    assert [seed for seed, _ in fn.calls] == [2, 3]


def test_lost_index_reuses_model_files_and_retrains_corrupt_ones(tmp_path, tiny_data):
    pool = _pool(tmp_path, tiny_data, fn=CountingTrain())
    pool.ensure(3)
    (pool.path / "index.json").unlink()
    (pool.path / "model-0001.safetensors").write_bytes(b"not a safetensors file")
    fn = CountingTrain()
    again = _pool(tmp_path, tiny_data, fn=fn)
    assert again.ensure(3) == 1  # 0 and 2 load and match: reused; 1 is corrupt: retrained
    assert [seed for seed, _ in fn.calls] == [1]
    index = json.loads((pool.path / "index.json").read_text())
    assert index["models"]["0"]["recovered"] and not index["models"]["1"]["recovered"]


def test_bad_arguments(tmp_path, tiny_data):
    with pytest.raises(ConfigError, match="unknown pool kind"):
        _pool(tmp_path, tiny_data, kind="ghost")
    with pytest.raises(ConfigError, match="retain_fraction"):
        _pool(tmp_path, tiny_data, retain_fraction=0.0)
    pool = _pool(tmp_path, tiny_data, fn=CountingTrain())
    with pytest.raises(ConfigError, match="at least 1"):
        pool.ensure(0)
    with pytest.raises(ConfigError, match="not built"):
        pool.load(0)


def test_changed_features_make_a_new_pool(tmp_path, digits, tiny_split):
    """Same split and labels, one feature value changed: the pool must not reuse old models."""
    from unlearnkit.data.base import ArrayDataset
    from unlearnkit.data.batching import unlearning_data

    fn = CountingTrain()
    data = unlearning_data(digits, tiny_split)
    assert _pool(tmp_path, data, fn=fn).ensure(1) == 1
    x = digits.x.clone()
    x[int(tiny_split.retain[0]), 0, 3, 3] += 1.0
    changed = ArrayDataset(digits.name, x, digits.y, digits.num_classes, source="changed")
    assert changed.content_sha256 != digits.content_sha256
    changed_data = unlearning_data(changed, tiny_split)
    pool = _pool(tmp_path, changed_data, fn=fn)
    assert pool.path != _pool(tmp_path, data, fn=fn).path
    assert pool.ensure(1) == 1 and len(fn.calls) == 2
    # an identical reload keeps the key (the hash is of content, not of the object)
    same = ArrayDataset(digits.name, digits.x.clone(), digits.y.clone(), digits.num_classes)
    assert _pool(tmp_path, unlearning_data(same, tiny_split), fn=fn).ensure(1) == 0
