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


# -- multi-layer SURE (nn.layered) -----------------------------------------------------------


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_one_listed_layer_equals_todays_sure_bit_for_bit(tiny_original, tiny_data, tiny_context):
    cfg = {"epochs": 2, "stop_band": 0.0}
    _, single = _run(tiny_original, tiny_data, tiny_context, **cfg)
    # "fc" is the cnn's last block: its output is the penultimate embedding SURE erases today
    _, layered = _run(tiny_original, tiny_data, tiny_context, layers=("fc",), **cfg)
    a, b = _state(single.model), _state(layered.model)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "multi-layer SURE with ['fc'] moved"
    assert single.history == layered.history
    assert single.info["disc_warmup_heldout_acc"] == layered.info["disc_warmup_heldout_acc"]
    with pytest.raises(AssertionError):  # the comparison can fail: a real change shows
        _, other = _run(tiny_original, tiny_data, tiny_context, layers=("block3",), **cfg)
        c = _state(other.model)
        assert all(torch.equal(a[k], c[k]) for k in a)


def test_layer_representations_one_pass(tiny_original, tiny_data):
    from unlearnkit.nn.layered import layer_representations

    model = copy.deepcopy(tiny_original).eval()
    x = tiny_data.forget.x[:9]
    with torch.no_grad():
        z_cat, emb = layer_representations(model, x, ["block2", "fc"])
        parts = [model.features_at(x, n) for n in ("block2", "fc")]
    torch.testing.assert_close(z_cat, torch.cat(parts, 1))
    torch.testing.assert_close(emb, model.features(x))
    assert all(not m._forward_hooks for m in model.modules())


def test_layered_loss_and_accuracy_by_hand():
    import torch.nn.functional as F

    from unlearnkit.nn.layered import LayeredDiscriminator, layered_accuracy, layered_domain_loss

    torch.manual_seed(0)
    disc = LayeredDiscriminator([3, 5])
    z = torch.randn(8, 8)
    target = torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0])
    logits = disc(z)
    assert logits.shape == (8, 2)
    torch.testing.assert_close(logits[:, 1], disc.discs[1](z[:, 3:]))
    hand = 0.5 * F.binary_cross_entropy_with_logits(
        disc.discs[0](z[:, :3]), target
    ) + 2.0 * F.binary_cross_entropy_with_logits(disc.discs[1](z[:, 3:]), target)
    torch.testing.assert_close(layered_domain_loss(logits, target, [0.5, 2.0]), hand)
    lf = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    lv = torch.tensor([[-1.0, -1.0], [1.0, -1.0]])
    assert layered_accuracy(lf, lv) == [0.75, 0.75]  # layer 0: f 2/2, v 1/2; layer 1: 1/2, 2/2


def test_multi_layer_sure_runs_with_a_discriminator_per_layer(
    tiny_original, tiny_data, tiny_context
):
    method, out = _run(
        tiny_original, tiny_data, tiny_context, layers=("block2", "fc"), layer_weights=(0.5, 1.0)
    )
    assert len(method.disc.discs) == 2 and method.disc.dims == [16, 32]
    acc = out.history[-1]["disc_heldout_acc"]
    assert 0.0 <= acc <= 1.0


def test_multi_layer_config_errors(tiny_original, tiny_data, tiny_context):
    with pytest.raises(ConfigError, match="either layer"):
        create_method("sure", {"layer": "block2", "layers": ["fc"]})
    with pytest.raises(ConfigError, match="one weight per layer"):
        create_method("sure", {"layers": ["block2", "fc"], "layer_weights": [1.0]})
    with pytest.raises(ConfigError, match="duplicates"):
        create_method("sure", {"layers": ["fc", "fc"]})
    with pytest.raises(ConfigError, match=r"unknown layer 'block9'.*block1, block2"):
        _run(tiny_original, tiny_data, tiny_context, layers=("block9",))
