"""SURE: the adversary is real (separable start → held-out domain accuracy pulled to 0.5),
retain accuracy holds, determinism, and bad configurations."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

from tests.conftest import CPU
from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.errors import ConfigError
from unlearnkit.methods import MethodContext, create_method
from unlearnkit.methods.sure import SureConfig
from unlearnkit.models import ModelConfig
from unlearnkit.training import TrainConfig, accuracy, train_fresh

MLP = ModelConfig(name="mlp", width=16, embed_dim=32)
RECIPE = TrainConfig(epochs=15, batch_size=64, lr=0.05)


@pytest.fixture(scope="module")
def marked():
    """A 2-class tabular task where every forget example carries a marker feature that no
    held-out example has: forget and validation embeddings start separable."""
    g = torch.Generator().manual_seed(0)
    n = 1600
    x = torch.randn(n, 12, generator=g)
    y = (x[:, 0] > 0).long()
    ds = ArrayDataset("marked", x, y, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = make_split(
            ds,
            SplitConfig(
                dataset="marked",
                scenario="partial-class",
                forget_size=150,
                forget_classes=(1,),
                val_size=0.3,
                test_size=0.2,
                seed=0,
            ),
        )
    x = x.clone()
    x[torch.as_tensor(split.forget), 11] = 4.0
    ds = ArrayDataset("marked", x, y, 2)
    data = unlearning_data(ds, split)
    model, _ = train_fresh(
        MLP,
        RECIPE,
        data.train,
        input_shape=data.input_shape,
        num_classes=2,
        device=CPU,
        show_progress=False,
    )
    ctx = MethodContext(MLP, RECIPE, original=copy.deepcopy(model).eval(), show_progress=False)
    return data, model.eval(), ctx


def run(marked, **cfg):
    data, model, ctx = marked
    method = create_method("sure", {"epochs": 12, "batch_size": 32, **cfg})
    out = method.unlearn(copy.deepcopy(model), data, device=CPU, context=ctx)
    return method, out


def test_sure_erases_a_separable_marker(marked):
    data, model, _ = marked
    _, out = run(marked, domain_weight=1.0, lr=0.005)
    warm = out.info["disc_warmup_heldout_acc"]
    assert max(warm) > 0.9, "the warmed-up discriminator must see the marker"
    final = out.history[-1]["disc_heldout_acc"]
    assert abs(final - 0.5) < 0.15, f"held-out domain accuracy {final} should approach 0.5"
    before = accuracy(model, data.retain, CPU)
    after = accuracy(out.model, data.retain, CPU)
    assert after > before - 0.05
    for row in out.history:
        for key in ("disc_train_acc", "disc_heldout_acc", "lambda", "ce", "domain_loss"):
            assert np.isfinite(row[key])
    assert not out.info["disc_noop_warning"]


def test_sure_joint_update_runs_and_logs(marked):
    _, out = run(marked, update="joint", epochs=2, lambda_schedule="dann")
    assert len(out.history) == 2
    assert 0 < out.history[-1]["lambda"] <= 1.0


def test_early_stop_band(marked):
    _, out = run(marked, epochs=30, stop_band=0.2, stop_patience=1)
    assert len(out.history) < 30
    assert abs(out.history[-1]["disc_heldout_acc"] - 0.5) <= 0.2


def test_same_seed_identical_weights(marked):
    a = run(marked, epochs=2)[1].model.state_dict()
    b = run(marked, epochs=2)[1].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_noop_warning_when_domains_inseparable(tiny_data, tiny_original, tiny_context):
    # with no warm-up and a frozen (lr≈0) discriminator the adversary never learns
    method = create_method(
        "sure", {"epochs": 1, "warmup_epochs": 0, "disc_lr": 1e-12, "min_disc_margin": 0.45}
    )
    with pytest.warns(UserWarning, match="SURE is close to a no-op"):
        method.unlearn(copy.deepcopy(tiny_original), tiny_data, device=CPU, context=tiny_context)


def test_intermediate_layer(tiny_data, tiny_original, tiny_context):
    method = create_method("sure", {"epochs": 1, "layer": "block2", "warmup_epochs": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = method.unlearn(
            copy.deepcopy(tiny_original), tiny_data, device=CPU, context=tiny_context
        )
    assert method.disc.net[0].in_features == 16  # block2 of a width-8 cnn has 2·8 channels
    assert np.isfinite(out.history[-1]["loss"])


@pytest.mark.parametrize(
    ("cfg", "msg"),
    [
        ({"lambda_max": -1.0}, "lambda_max .* must be >= 0"),
        ({"disc_hidden": (0,)}, "disc_hidden must list positive widths"),
        ({"disc_hidden": ()}, "disc_hidden must list positive widths"),
        ({"disc_steps": 0}, "disc_steps must be >= 1"),
        ({"holdout_fraction": 1.0}, "holdout_fraction must be in"),
        ({"update": "both"}, "must be one of"),
        ({"lr": 0}, "lr must be > 0"),
        ({"bogus": 1}, "unknown key.*known keys:"),
    ],
)
def test_bad_config(cfg, msg):
    with pytest.raises(ConfigError, match=msg):
        SureConfig.from_dict(cfg)


def test_bad_data(tiny_data, tiny_original, tiny_context):
    empty_val = copy.copy(tiny_data)
    empty_val.val_domain = tiny_data.val_domain.subset(np.arange(0))
    with pytest.raises(ConfigError, match="non-empty validation-domain set"):
        create_method("sure").unlearn(
            copy.deepcopy(tiny_original), empty_val, device=CPU, context=tiny_context
        )
    no_forget = copy.copy(tiny_data)
    no_forget.forget = tiny_data.forget.subset(np.arange(0))
    with pytest.raises(ConfigError, match="forget set is empty"):
        create_method("sure").unlearn(
            copy.deepcopy(tiny_original), no_forget, device=CPU, context=tiny_context
        )
    with pytest.raises(ConfigError, match="unknown layer 'fc9'"):
        create_method("sure", {"layer": "fc9"}).unlearn(
            copy.deepcopy(tiny_original), tiny_data, device=CPU, context=tiny_context
        )
