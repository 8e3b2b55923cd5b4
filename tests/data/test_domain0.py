"""SURE's domain-0 sources: matched val (default), other classes, augmented retain."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from unlearnkit.data.augment import random_crop_flip
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.domain0 import domain0_set
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.errors import ConfigError


def test_matched_is_the_split_val_domain(tiny_data) -> None:
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert domain0_set(tiny_data, "matched", g) is tiny_data.val_domain
    assert torch.equal(g.get_state(), state)  # the default draws nothing: results do not move


def test_other_classes(tiny_data) -> None:
    out = domain0_set(tiny_data, "other-classes", torch.Generator().manual_seed(0))
    assert len(out) == len(tiny_data.val_domain)
    assert not torch.isin(out.y, torch.tensor([3])).any()
    assert set(out.indices) <= set(tiny_data.val.indices)  # held out, never trained on
    assert not set(out.indices) & set(tiny_data.val_domain.indices)
    again = domain0_set(tiny_data, "other-classes", torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(out.indices, again.indices)  # seeded


def test_augmented_retain(tiny_data) -> None:
    g = torch.Generator().manual_seed(1)
    out = domain0_set(tiny_data, "augmented-retain", g)
    assert len(out) == len(tiny_data.val_domain)
    pos = {int(i): k for k, i in enumerate(tiny_data.retain.indices)}
    rows = np.array([pos[int(i)] for i in out.indices])  # retain examples (members)
    torch.testing.assert_close(out.y, tiny_data.retain.y[rows])
    orig = tiny_data.retain.x[rows]
    assert out.x.shape == orig.shape and not torch.equal(out.x, orig)
    # exactly one crop+flip of each picked example, padding 1 at 8×8
    g2 = torch.Generator().manual_seed(1)
    perm = torch.randperm(len(tiny_data.retain), generator=g2)
    aug_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g2))
    np.testing.assert_array_equal(np.sort(perm[: len(out)].numpy()), rows)
    expect = random_crop_flip(orig, torch.Generator().manual_seed(aug_seed), 1)
    torch.testing.assert_close(out.x, expect)


def test_sources_that_do_not_apply_say_why() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g)
    ds = ArrayDataset("tab", x, (x[:, 0] > 0).long(), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = make_split(ds, SplitConfig(dataset="tab", scenario="random", forget_size=0.1))
    data = unlearning_data(ds, split)
    with pytest.raises(ConfigError, match="needs image inputs"):
        domain0_set(data, "augmented-retain", g)
    with pytest.raises(ConfigError, match=r"needs a class scenario.*augmented-retain"):
        domain0_set(data, "other-classes", g)  # random forgetting: every class is forgotten
    with pytest.raises(ConfigError, match="unknown domain0 'x'"):
        domain0_set(data, "x", g)
