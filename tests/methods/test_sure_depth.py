"""SURE extensions beyond the paper: the domain-0 source (unmatched-validation ablation)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from tests.conftest import CPU
from unlearnkit.errors import ConfigError
from unlearnkit.methods import create_method

FAST = {"epochs": 1, "batch_size": 32, "warmup_epochs": 2, "seed": 0}


def _run(tiny_original, tiny_data, tiny_context, **cfg):
    method = create_method("sure", {**FAST, **cfg})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = method.unlearn(
            copy.deepcopy(tiny_original), tiny_data, device=CPU, context=tiny_context
        )
    return method, out


@pytest.mark.parametrize("source", ["other-classes", "augmented-retain"])
def test_domain0_source_feeds_the_discriminator(tiny_original, tiny_data, tiny_context, source):
    method, out = _run(tiny_original, tiny_data, tiny_context, domain0=source)
    used = set(method.val_steps.indices) | set(method.val_held.indices)
    assert len(used) == len(tiny_data.val_domain)
    assert not used & set(tiny_data.val_domain.indices)  # not the matched set
    pool = tiny_data.val if source == "other-classes" else tiny_data.retain
    assert used <= set(pool.indices)
    if source == "other-classes":
        assert not torch.isin(method.val_steps.y, torch.tensor([3])).any()
    assert out.history and "disc_heldout_acc" in out.history[-1]


def test_domain0_default_is_matched(tiny_original, tiny_data, tiny_context):
    method, _ = _run(tiny_original, tiny_data, tiny_context)
    used = set(method.val_steps.indices) | set(method.val_held.indices)
    assert used == set(tiny_data.val_domain.indices)
    with pytest.raises(ConfigError, match="domain0"):
        create_method("sure", {"domain0": "nope"})
